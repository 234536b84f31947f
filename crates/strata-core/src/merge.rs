//! Diff and three-way merge of branches.
//!
//! A merge looks at every key whose head differs between source and target and finds, per key, the newest
//! version both sides have seen: a version shared since a fork, or one a merge copied across (every version
//! carries the `origin` of the write it holds, so a copy is recognised in any branch it travels to), or the
//! source's version when the two branches last merged. A key changed on one side only since that version takes
//! that side's value; changed on both sides to different values, it is a conflict. Sides are compared by live
//! value, so a key changed the same way on both sides, or merged before, is neither a conflict nor applied again.

use std::collections::{BTreeSet, HashSet};

use crate::branch::BranchId;
use crate::bytes::Bytes;
use crate::db::Database;
use crate::entries::Entries;
use crate::error::{fail, Result};
use crate::events;
use crate::keyspace::{self, Namespace, SpaceId, StoreKey};
use crate::ops::{Op, Write};
use crate::tree::DiffItem;
use crate::vectors;
use crate::version::Version;

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

type HeadPair<'a> = (&'a StoreKey, Option<&'a Version>, Option<&'a Version>);

/// Keys whose heads differ between two maps (skipping all structure the two share), with both heads.
fn differing<'a>(from: &'a Entries, to: &'a Entries) -> impl Iterator<Item = HeadPair<'a>> {
    from.diff(to).map(|item| match item {
        DiffItem::Add(k, v) => (k, None, Some(&v.0)),
        DiffItem::Remove(k, v) => (k, Some(&v.0), None),
        DiffItem::Update { old: (k, o), new: (_, n) } => (k, Some(&o.0), Some(&n.0)),
    })
}

fn live(v: Option<&Version>) -> Option<&Bytes> {
    v.and_then(|v| v.value.as_ref())
}

/// The version of a key both sides have seen last, if any: the newest source version whose origin the target
/// holds too, or the version recorded at their last merge, whichever is nearer the head of the chain the record was
/// taken from (the source's when the last merge went the same way, else the target's).
fn common_version<'a>(
    source: &'a Version,
    target: Option<&'a Version>,
    last_merge: Option<(bool, &Version)>,
) -> Option<&'a Version> {
    let seen: HashSet<u64> = target.map(|t| t.iter().map(|v| v.origin).collect()).unwrap_or_default();
    let shared = source.iter().find(|v| seen.contains(&v.origin));
    // Versions are matched by `Version::same`, not by address: a head lives by value in each map that holds it
    // (the record of the last merge keeps its own copy) and moves into an `Arc` when the key is written again, so
    // one version has several addresses. The pair (timestamp, version number) still names one write of this key:
    // a timestamp is one commit, on one branch, and a commit that writes the key twice numbers the writes apart;
    // a merge's copy is a new write (its own timestamp) that keeps the `origin`, which is what `shared` matches.
    match last_merge {
        None => shared,
        Some((true, recorded)) => source.iter().find(|v| v.same(recorded) || shared.is_some_and(|s| v.same(s))),
        Some((false, recorded)) => {
            target?.iter().find(|v| v.same(recorded) || shared.is_some_and(|s| v.origin == s.origin)).or(shared)
        }
    }
}

impl Database {
    /// Live differences from branch `a` to branch `b` across all namespaces and spaces.
    pub fn diff(&self, a: BranchId, b: BranchId) -> Result<Vec<Change>> {
        let inner = self.read();
        let (ea, eb) = (inner.branch(a)?.entries(), inner.branch(b)?.entries());
        // Diffs cover the keyed primitives and event logs; vectors are compared by search, not listed.
        let listed =
            |k: &StoreKey| !matches!(keyspace::namespace_of(k), Some(Namespace::Vectors | Namespace::Collections));
        Ok(differing(&ea, &eb)
            .filter(|(k, va, vb)| listed(k) && live(*va) != live(*vb))
            .map(|(k, va, vb)| {
                let d = keyspace::decode(k);
                // Event records start with their chain hash; a diff shows what hosts read: `[type, payload]`.
                let shown = |v: Option<&Bytes>| match d.ns {
                    Namespace::Events => v.map(|r| Bytes::from(events::body(r))),
                    _ => v.cloned(),
                };
                Change {
                    ns: d.ns,
                    space: inner.spaces[d.space as usize].clone(),
                    key: keyspace::label(k),
                    a: shown(live(va)),
                    b: shown(live(vb)),
                }
            })
            .collect())
    }

    /// Merges `source` into `target` as one commit.
    pub fn merge(&self, source: BranchId, target: BranchId, strategy: Strategy) -> Result<MergeReport> {
        if source == target {
            return fail!(InvalidName, "cannot merge a branch into itself");
        }
        let pair = (source.min(target), source.max(target));
        let (_, report) = self.run(|inner| {
            let (s, t) = (inner.branch(source)?.entries(), inner.branch(target)?.entries());
            let last_merge = inner.merge_bases.get(&pair).map(|(from, seen)| (*from == source, seen));
            let mut writes = Vec::new();
            let mut conflicts: Vec<StoreKey> = Vec::new();
            for (k, ours_head, theirs_head) in differing(&t, &s) {
                if keyspace::namespace_of(k) == Some(Namespace::Events) {
                    continue; // appended below, not merged key by key
                }
                let (ours, theirs) = (live(ours_head), live(theirs_head));
                let Some(theirs_head) = theirs_head else { continue };
                if ours == theirs {
                    continue;
                }
                let recorded = last_merge.and_then(|(same, seen)| seen.get(k).map(|h| (same, &h.0)));
                let base = common_version(theirs_head, ours_head, recorded);
                let before = live(base);
                if theirs == before {
                    continue;
                }
                if ours != before {
                    conflicts.push(k.clone());
                    if strategy != Strategy::Theirs {
                        continue;
                    }
                }
                writes.push(Write { key: k.clone(), value: theirs.cloned(), origin: Some(theirs_head.origin) });
            }
            for c in conflicted_collections(&s, &t, &writes, &conflicts) {
                take_whole(&c, &s, &t, strategy, &mut writes, &mut conflicts);
            }
            // A collection the merge deletes takes the target's vectors in it along (none of them changed on the
            // target since, or the collection would have been a conflict above).
            for (space, name) in dropped(&writes) {
                for key in vectors::orphans(&t, space, &name) {
                    if !writes.iter().any(|w| w.key == key) {
                        writes.push(Write::new(key, None));
                    }
                }
            }
            let spaces = inner.branch(source)?.spaces();
            writes.extend(events::merge_writes(&s, &t, spaces.into_iter()));
            let mut conflicts: Vec<String> = conflicts.iter().map(|k| keyspace::label(k)).collect();
            conflicts.sort();
            conflicts.dedup();
            if strategy == Strategy::Strict && !conflicts.is_empty() {
                return Ok((Vec::new(), MergeReport { applied: 0, conflicts, committed: false }));
            }
            let applied = writes.len();
            let mut ops = inner.commit_op(target, writes);
            ops.push(Op::RecordMerge { source, target });
            Ok((ops, MergeReport { applied, conflicts, committed: true }))
        })?;
        Ok(report)
    }
}

/// A vector collection: its space and name.
type CollectionId = (SpaceId, String);

/// The collection a collection or vector key belongs to.
fn collection_of(k: &StoreKey) -> Option<CollectionId> {
    let d = keyspace::decode(k);
    match d.ns {
        Namespace::Collections => Some((d.space, d.key.to_string())),
        Namespace::Vectors => d.key.split_once('\0').map(|(name, _)| (d.space, name.to_string())),
        _ => None,
    }
}

/// Collections the merge deletes (the source deleted them).
fn dropped(writes: &[Write]) -> Vec<CollectionId> {
    writes
        .iter()
        .filter(|w| w.value.is_none() && keyspace::namespace_of(&w.key) == Some(Namespace::Collections))
        .filter_map(|w| collection_of(&w.key))
        .collect()
}

/// Collections whose vectors only make sense together with their definition, so that the merge takes each whole
/// from one side, as one conflict: defined differently on the two sides (another dimension or metric); deleted by
/// the source while the target changed vectors in it (added ones, which the source never had, or changed ones,
/// already conflicts); or given vectors by the source while the target deleted it.
fn conflicted_collections(
    s: &Entries,
    t: &Entries,
    writes: &[Write],
    conflicts: &[StoreKey],
) -> BTreeSet<CollectionId> {
    let mut out: BTreeSet<CollectionId> = conflicts
        .iter()
        .filter(|k| keyspace::namespace_of(k) == Some(Namespace::Collections))
        .filter_map(collection_of)
        .collect();
    for (space, name) in dropped(writes) {
        let changed_on_target = |k: &StoreKey| s.get(k).is_none() || conflicts.contains(k);
        if vectors::orphans(t, space, &name).iter().any(changed_on_target) {
            out.insert((space, name));
        }
    }
    for w in writes.iter().filter(|w| w.value.is_some() && keyspace::namespace_of(&w.key) == Some(Namespace::Vectors)) {
        let Some((space, name)) = collection_of(&w.key) else { continue };
        let definition = keyspace::store_key(Namespace::Collections, space, &name);
        let defined = match writes.iter().find(|x| x.key == definition) {
            Some(x) => x.value.is_some(),
            None => t.get(&definition).is_some_and(|h| h.is_live()),
        };
        if !defined {
            out.insert((space, name));
        }
    }
    out
}

/// Resolves collection `c` as a whole: its definition is the conflict reported (its vectors' own conflicts fold
/// into it); `Theirs` makes it on the target exactly what it is on the source, `Ours` leaves the target's as it is.
fn take_whole(
    c: &CollectionId,
    s: &Entries,
    t: &Entries,
    strategy: Strategy,
    writes: &mut Vec<Write>,
    conflicts: &mut Vec<StoreKey>,
) {
    let inside = |k: &StoreKey| collection_of(k).as_ref() == Some(c);
    writes.retain(|w| !inside(&w.key));
    conflicts.retain(|k| !inside(k));
    conflicts.push(keyspace::store_key(Namespace::Collections, c.0, &c.1));
    if strategy == Strategy::Theirs {
        for (k, ours, theirs) in differing(t, s).filter(|(k, _, _)| inside(k)) {
            if live(ours) != live(theirs) {
                writes.push(Write { key: k.clone(), value: live(theirs).cloned(), origin: theirs.map(|v| v.origin) });
            }
        }
    }
}
