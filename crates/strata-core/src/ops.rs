//! Every change to a database is an `Op`. Live calls build ops and apply them; an on-disk database also logs
//! them first, and recovery applies the logged ops again, with the same ids and timestamps, to the same result.

use serde::{Deserialize, Serialize};

use crate::branch::{Branch, BranchId};
use crate::bytes::Bytes;
use crate::db::Inner;
use crate::error::{fail, Result};
use crate::keyspace::{self, Namespace, SpaceId, StoreKey};
use crate::names::{check_key, check_name};
use crate::retention::{Compactor, Retention};

/// One write of a commit: `None` deletes (writes a tombstone). `origin` is set when a merge copies a version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Write {
    pub key: StoreKey,
    pub value: Option<Bytes>,
    pub origin: Option<u64>,
}

/// The writes of a commit of known keys (`Database::commit`): most are one write, kept without an allocation.
pub type Writes = smallvec::SmallVec<[Write; 1]>;

impl Write {
    pub fn new(key: StoreKey, value: Option<Bytes>) -> Write {
        Write { key, value, origin: None }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Op {
    CreateBranch {
        id: BranchId,
        name: String,
        at: u64,
    },
    ForkBranch {
        id: BranchId,
        name: String,
        from: BranchId,
        at: u64,
    },
    DeleteBranch {
        id: BranchId,
    },
    AddSpace {
        id: SpaceId,
        name: String,
    },
    Commit {
        branch: BranchId,
        at: u64,
        writes: Vec<Write>,
    },
    RemoveSpace {
        branch: BranchId,
        space: SpaceId,
    },
    /// After a merge: remember the source's entries as what the target has seen of it.
    RecordMerge {
        source: BranchId,
        target: BranchId,
    },
    /// Drop old versions of every branch (see `retention`).
    Compact {
        rule: Retention,
    },
}

impl Inner {
    /// Checks that `op` can be applied to the current state, so that nothing is logged that cannot be applied.
    pub fn check(&self, op: &Op) -> Result<()> {
        match op {
            Op::CreateBranch { id, name, .. } | Op::ForkBranch { id, name, .. } => {
                if self.by_name.contains_key(name) || self.branches.contains_key(id) {
                    return fail!(BranchExists, "branch {name:?} already exists");
                }
                if let Op::ForkBranch { from, .. } = op {
                    self.branch(*from)?;
                }
            }
            Op::DeleteBranch { id } | Op::RemoveSpace { branch: id, .. } => {
                self.branch(*id)?;
            }
            Op::AddSpace { id, name } => {
                if *id as usize != self.spaces.len() || self.space_ids.contains_key(name) {
                    return fail!(Corrupt, "space {name:?} cannot take id {id}");
                }
            }
            Op::Commit { branch, writes, .. } => {
                self.branch(*branch)?;
                self.check_writes(writes)?;
            }
            Op::RecordMerge { source, target } => {
                self.branch(*source)?;
                self.branch(*target)?;
            }
            Op::Compact { .. } => {}
        }
        Ok(())
    }

    /// Hosts pass space ids as numbers; only ids this database handed out may reach a branch.
    pub fn check_space(&self, key: &[u8]) -> Result<()> {
        let space = keyspace::space_of(key);
        if space as usize >= self.spaces.len() {
            return fail!(InvalidValue, "unknown space id {space}; get ids from space_id");
        }
        Ok(())
    }

    /// Checks the keys of a commit's writes: only well-formed keys in spaces this database handed out.
    pub fn check_writes(&self, writes: &[Write]) -> Result<()> {
        for w in writes {
            if w.key.len() < keyspace::HEADER || keyspace::namespace_of(&w.key).is_none() {
                return fail!(Corrupt, "a write has a malformed key");
            }
            self.check_space(&w.key)?;
            let d = keyspace::decode(&w.key);
            match d.ns {
                Namespace::Events if keyspace::event_seq(&w.key).is_none() => {
                    return fail!(Corrupt, "an event has a malformed sequence number");
                }
                Namespace::Events => {}
                Namespace::Vectors => match d.key.split_once('\0') {
                    Some((collection, key)) => {
                        check_name("collection", collection)?;
                        check_key(key)?;
                    }
                    None => return fail!(Corrupt, "a vector key names no collection"),
                },
                Namespace::Collections => check_name("collection", d.key)?,
                _ => check_key(d.key)?,
            }
        }
        Ok(())
    }

    /// Applies a checked op; for a commit, returns each written key's new version.
    pub fn apply(&mut self, op: Op) -> Vec<u64> {
        match op {
            Op::CreateBranch { id, name, at } => {
                self.add_branch(id, Branch::empty(name, at), at);
            }
            Op::ForkBranch { id, name, from, at } => {
                let branch = self.branches[&from].fork(from, name, at);
                self.add_branch(id, branch, at);
            }
            Op::DeleteBranch { id } => {
                if let Some(b) = self.branches.remove(&id) {
                    self.by_name.remove(&b.name);
                    self.deleted.insert(id, b.name);
                }
                self.merge_bases.retain(|(a, b), _| *a != id && *b != id);
            }
            Op::AddSpace { id, name } => {
                self.spaces.push(name.clone());
                self.space_ids.insert(name, id);
            }
            Op::Commit { branch, at, writes } => return self.commit_at(branch, at, writes),
            Op::RemoveSpace { branch, space } => {
                if let Some(b) = self.branches.get_mut(&branch) {
                    b.remove_space(space);
                }
            }
            Op::RecordMerge { source, target } => {
                let seen = self.branches[&source].entries();
                self.merge_bases.insert((source.min(target), source.max(target)), (source, seen));
            }
            Op::Compact { rule } => {
                let mut c = Compactor::new(rule);
                for b in self.branches.values_mut() {
                    let compacted = c.entries(&b.entries());
                    b.set_entries(compacted);
                }
                for (_, seen) in self.merge_bases.values_mut() {
                    *seen = c.entries(seen);
                }
                return vec![c.dropped];
            }
        }
        Vec::new()
    }

    fn add_branch(&mut self, id: BranchId, branch: Branch, at: u64) {
        self.clock.observe(at);
        self.next_branch = self.next_branch.max(id + 1);
        self.by_name.insert(branch.name.clone(), id);
        self.branches.insert(id, branch);
    }

    fn commit_at(&mut self, branch: BranchId, ts: u64, writes: Vec<Write>) -> Vec<u64> {
        self.clock.observe(ts);
        let Some(b) = self.branches.get_mut(&branch) else { return Vec::new() };
        writes.into_iter().map(|w| b.shard_mut(&w.key).apply(w, ts)).collect()
    }
}
