//! Branches: a name, a persistent ordered map of version chains, and where it was forked from.
//!
//! Forking clones the map, which for `imbl::OrdMap` is one reference-count increment: O(1) in the amount of data.
//! The two branches then share every version chain until one of them writes.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::keyspace::{SpaceId, StoreKey, DEFAULT_SPACE};
use crate::version::Head;

/// Every key of a branch, in all namespaces and spaces, to the head of its version chain.
pub type Entries = imbl::OrdMap<StoreKey, Head>;

/// Branch ids are never reused, so a handle on a deleted branch can tell it is gone even if the name comes back.
pub type BranchId = u64;

/// How a branch came to be: forked from `parent` (then called `parent_name`) at timestamp `at`.
#[derive(Clone)]
pub struct Fork {
    pub parent: BranchId,
    pub parent_name: String,
    pub at: u64,
}

#[derive(Clone)]
pub struct Branch {
    pub name: String,
    pub created_at: u64,
    pub fork: Option<Arc<Fork>>,
    pub entries: Entries,
    /// Spaces written to since the branch began (the default space always counts).
    pub spaces: BTreeSet<SpaceId>,
    /// Oldest and latest version timestamps in this branch, for `timeRange`.
    pub oldest: Option<u64>,
    pub latest: Option<u64>,
}

impl Branch {
    pub fn empty(name: String, created_at: u64) -> Branch {
        Branch {
            name,
            created_at,
            fork: None,
            entries: Entries::new(),
            spaces: BTreeSet::from([DEFAULT_SPACE]),
            oldest: None,
            latest: None,
        }
    }

    /// A new branch that holds exactly what `self` (whose id is `parent`) holds now, sharing all of it.
    pub fn fork(&self, parent: BranchId, name: String, at: u64) -> Branch {
        Branch {
            name,
            created_at: at,
            fork: Some(Arc::new(Fork { parent, parent_name: self.name.clone(), at })),
            entries: self.entries.clone(),
            spaces: self.spaces.clone(),
            oldest: self.oldest,
            latest: self.latest,
        }
    }

    pub fn record_write(&mut self, ts: u64) {
        self.oldest.get_or_insert(ts);
        self.latest = Some(ts);
    }
}

/// What `listBranches` reports about a branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchInfo {
    pub name: String,
    pub created_at: u64,
    pub parent: Option<String>,
    pub forked_at: Option<u64>,
}
