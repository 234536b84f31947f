//! Diff and three-way merge of branches.
//!
//! A merge compares both sides with their common ancestor: the source's entries as of the last fork or merge
//! that joined the two branches. A key changed on one side only takes that side's value; a key changed on both
//! sides to different values is a conflict. Changes are compared by live value, so a key changed to the same
//! value on both sides, or merged before, is not a conflict and is not applied again.

use imbl::ordmap::DiffItem;

use crate::branch::{Branch, BranchId, Entries};
use crate::db::{Database, Inner, Write};
use crate::error::{fail, Result};
use crate::keyspace::{self, Namespace, StoreKey};
use crate::version::Bytes;

/// How a merge resolves keys changed on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Any conflict aborts the merge; nothing is written.
    Strict,
    /// Conflicts take the source's value.
    Theirs,
    /// Conflicts keep the target's value.
    Ours,
}

/// A key whose live value differs between two branches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub ns: Namespace,
    pub space: String,
    pub key: String,
    pub a: Option<Bytes>,
    pub b: Option<Bytes>,
}

/// The result of a merge. With `Strategy::Strict` and conflicts, `committed` is false and nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeReport {
    pub applied: usize,
    pub conflicts: Vec<String>,
    pub committed: bool,
}

/// Keys whose live values differ between two maps, with both sides' values, in key order.
fn changes<'a>(
    from: &'a Entries,
    to: &'a Entries,
) -> impl Iterator<Item = (&'a StoreKey, Option<Bytes>, Option<Bytes>)> {
    from.diff(to).filter_map(|item| {
        let (k, a, b) = match item {
            DiffItem::Add(k, v) => (k, None, v.value.clone()),
            DiffItem::Remove(k, v) => (k, v.value.clone(), None),
            DiffItem::Update {
                old: (k, o),
                new: (_, n),
            } => (k, o.value.clone(), n.value.clone()),
        };
        (a != b).then_some((k, a, b))
    })
}

/// The latest common ancestor of two branches' contents.
fn merge_base(inner: &Inner, source: &Branch, target: &Branch) -> Entries {
    let key = (source.id.min(target.id), source.id.max(target.id));
    if let Some(base) = inner.merge_bases.get(&key) {
        return base.clone();
    }
    // Walk both ancestries for the nearest branch they share. If one side is an ancestor of the other, the base
    // is the ancestor as of the fork that leads to the other; for siblings it is the earlier of the two forks.
    let line = |b: &Branch| -> Vec<(BranchId, u64, Entries)> {
        std::iter::once((b.id, u64::MAX, b.entries.clone()))
            .chain(b.ancestors().map(|f| (f.parent, f.at, f.base.clone())))
            .collect()
    };
    let (s, t) = (line(source), line(target));
    for (sid, sat, sbase) in &s {
        if let Some((_, tat, tbase)) = t.iter().find(|(tid, _, _)| tid == sid) {
            return if sat <= tat {
                sbase.clone()
            } else {
                tbase.clone()
            };
        }
    }
    Entries::new()
}

impl Database {
    /// Live differences from branch `a` to branch `b` across all namespaces and spaces.
    pub fn diff(&self, a: BranchId, b: BranchId) -> Result<Vec<Change>> {
        let inner = self.read();
        let (ea, eb) = (&inner.branch(a)?.entries, &inner.branch(b)?.entries);
        Ok(changes(ea, eb)
            .map(|(k, a, b)| {
                let d = keyspace::decode(k);
                Change {
                    ns: d.ns,
                    space: inner.spaces[d.space as usize].clone(),
                    key: d.key.to_string(),
                    a,
                    b,
                }
            })
            .collect())
    }

    /// Merges `source` into `target` as one commit.
    pub fn merge(
        &self,
        source: BranchId,
        target: BranchId,
        strategy: Strategy,
    ) -> Result<MergeReport> {
        if source == target {
            return fail!(InvalidName, "cannot merge a branch into itself");
        }
        let mut inner = self.write();
        let (s, t) = (inner.branch(source)?, inner.branch(target)?);
        let base = merge_base(&inner, s, t);
        let mut writes = Vec::new();
        let mut conflicts = Vec::new();
        for (k, before, theirs) in changes(&base, &s.entries) {
            let ours = t.entries.get(k).and_then(|h| h.value.clone());
            if ours == theirs {
                continue;
            }
            if ours != before {
                conflicts.push(keyspace::decode(k).key.to_string());
                if strategy != Strategy::Theirs {
                    continue;
                }
            }
            writes.push(Write {
                key: k.clone(),
                value: theirs,
            });
        }
        conflicts.sort();
        conflicts.dedup();
        if strategy == Strategy::Strict && !conflicts.is_empty() {
            return Ok(MergeReport {
                applied: 0,
                conflicts,
                committed: false,
            });
        }
        let source_entries = s.entries.clone();
        let applied = writes.len();
        if applied > 0 {
            inner.commit(target, writes)?;
        }
        inner
            .merge_bases
            .insert((source.min(target), source.max(target)), source_entries);
        Ok(MergeReport {
            applied,
            conflicts,
            committed: true,
        })
    }
}
