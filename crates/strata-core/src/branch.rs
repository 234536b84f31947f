//! Branches: a name, the map of its keys split into independently locked shards, and where it was forked from.
//!
//! Forking clones every shard's map, which for the persistent `tree::Tree` is one reference-count increment each:
//! O(1) in the amount of data. The two branches then share every node and version until one of them writes; a write
//! copies the nodes on its path, heads included (they live in the leaves by value), and still shares the versions
//! below.
//!
//! Each shard has its own lock so that commits to different keys proceed in parallel (`Database::commit`); a view
//! of the whole branch (`Branch::entries`) holds every shard's lock at once while it clones them, so it never sees
//! half of a commit that spans shards.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crossbeam_utils::CachePadded;
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::entries::{shard_of, Entries, Map, SHARDS};
use crate::events::{self, Hash};
use crate::keyspace::{self, Namespace, SpaceId, DEFAULT_SPACE};
use crate::ops::Write;
use crate::version::{Head, Version};

/// Branch ids are never reused, so a handle on a deleted branch can tell it is gone even if the name comes back.
pub type BranchId = u64;

/// How a branch came to be: forked from `parent` (then called `parent_name`) at timestamp `at`.
#[derive(Clone)]
pub struct Fork {
    pub parent: BranchId,
    pub parent_name: String,
    pub at: u64,
}

/// One shard of a branch: its part of the map, and what the branch reports about the writes that landed here.
#[derive(Clone, Default)]
pub struct Shard {
    pub map: Map,
    /// Spaces written to in this shard since the branch began.
    pub spaces: BTreeSet<SpaceId>,
    /// Oldest and latest version timestamps written to this shard, for `timeRange`.
    pub oldest: Option<u64>,
    pub latest: Option<u64>,
    /// Where each event log held here ends: the next sequence number and the hash the next event chains to. Kept
    /// by `apply`, so that an append neither searches for the log's last event nor hashes it again.
    pub tails: BTreeMap<SpaceId, (u64, Hash)>,
}

impl Shard {
    /// Puts a write's new version at the head of its key's chain; returns the key's new version number.
    pub fn apply(&mut self, w: Write, ts: u64) -> u64 {
        let (ns, space) = (keyspace::namespace_of(&w.key), keyspace::space_of(&w.key));
        if !self.spaces.contains(&space) {
            self.spaces.insert(space);
        }
        if ns == Some(Namespace::Events) {
            // Event logs only grow, so the event written is the new last one.
            match (keyspace::event_seq(&w.key), &w.value) {
                (Some(seq), Some(record)) => self.tails.insert(space, (seq + 1, events::hash(seq, record))),
                _ => self.tails.remove(&space),
            };
        }
        self.oldest.get_or_insert(ts);
        self.latest = Some(ts);
        let origin = w.origin.unwrap_or(ts);
        // One walk down the map, whether the key is new (puts of new keys, every event) or has a chain already.
        let mut version = 0;
        // The old head is changed in place, not moved out of the leaf and back.
        self.map.upsert(w.key, |old| match old {
            Some(head) => {
                head.push(ts, origin, w.value);
                version = head.version;
                None
            }
            None => {
                version = 1;
                Some(Head::new(Version { version, timestamp: ts, origin, value: w.value, prev: None }))
            }
        });
        version
    }
}

/// A branch as a value, every shard taken at one moment: what snapshots store and restore.
#[derive(Clone)]
pub struct BranchState {
    pub name: String,
    pub created_at: u64,
    pub fork: Option<Arc<Fork>>,
    pub entries: Entries,
    /// Spaces written to since the branch began (the default space always counts).
    pub spaces: BTreeSet<SpaceId>,
    pub oldest: Option<u64>,
    pub latest: Option<u64>,
}

pub struct Branch {
    pub name: String,
    pub created_at: u64,
    pub fork: Option<Arc<Fork>>,
    /// Each on cache lines of its own: a commit writes its shard's lock word and `latest`, which would otherwise
    /// share a line with the neighbouring shard another thread is committing to.
    shards: Box<[CachePadded<RwLock<Shard>>; SHARDS]>,
}

impl Branch {
    fn with_shards(name: String, created_at: u64, fork: Option<Arc<Fork>>, shards: [Shard; SHARDS]) -> Branch {
        Branch { name, created_at, fork, shards: Box::new(shards.map(|s| CachePadded::new(RwLock::new(s)))) }
    }

    pub fn empty(name: String, created_at: u64) -> Branch {
        Branch::with_shards(name, created_at, None, Default::default())
    }

    /// Every shard read-locked at once, in shard order (the order every multi-shard lock takes).
    fn read_all(&self) -> [RwLockReadGuard<'_, Shard>; SHARDS] {
        std::array::from_fn(|i| self.shards[i].read())
    }

    /// A new branch that holds exactly what `self` (whose id is `parent`) holds now, sharing all of it.
    pub fn fork(&self, parent: BranchId, name: String, at: u64) -> Branch {
        let fork = Arc::new(Fork { parent, parent_name: self.name.clone(), at });
        let shards = self.read_all().map(|s| s.clone());
        Branch::with_shards(name, at, Some(fork), shards)
    }

    /// The whole map as one consistent value.
    pub fn entries(&self) -> Entries {
        Entries::from_shards(self.read_all().map(|s| s.map.clone()))
    }

    /// Replaces the whole map (a compaction), keeping what the shards report.
    pub fn set_entries(&mut self, entries: Entries) {
        for (shard, map) in self.shards.iter_mut().zip(entries.into_shards()) {
            shard.get_mut().map = map;
        }
    }

    /// The shard holding `key`, read-locked.
    pub fn shard(&self, key: &[u8]) -> RwLockReadGuard<'_, Shard> {
        self.shards[shard_of(key)].read()
    }

    /// Shard `i`, read-locked.
    pub fn shard_at(&self, i: usize) -> RwLockReadGuard<'_, Shard> {
        self.shards[i].read()
    }

    /// The head of `key`'s chain, if it has one.
    pub fn head(&self, key: &[u8]) -> Option<Version> {
        self.shard(key).map.get(key).map(|h| h.0.clone())
    }

    /// The shard holding `key`, without locking: `&mut self` already excludes everyone else.
    pub fn shard_mut(&mut self, key: &[u8]) -> &mut Shard {
        self.shards[shard_of(key)].get_mut()
    }

    /// The shards in `set` (a bit per shard) write-locked, in shard order.
    pub fn lock(&self, set: u32) -> Locked<'_> {
        Locked { guards: std::array::from_fn(|i| (set & (1 << i) != 0).then(|| self.shards[i].write())) }
    }

    pub fn spaces(&self) -> BTreeSet<SpaceId> {
        let mut spaces = BTreeSet::from([DEFAULT_SPACE]);
        for s in self.shards.iter() {
            spaces.extend(s.read().spaces.iter().copied());
        }
        spaces
    }

    pub fn remove_space(&mut self, space: SpaceId) {
        for s in self.shards.iter_mut() {
            s.get_mut().spaces.remove(&space);
        }
    }

    /// Oldest and latest version timestamps in this branch.
    pub fn time_range(&self) -> (Option<u64>, Option<u64>) {
        let shards = self.read_all();
        (shards.iter().filter_map(|s| s.oldest).min(), shards.iter().filter_map(|s| s.latest).max())
    }

    /// `time_range` as the branch was at `as_of`: the oldest version and the newest one at or before it.
    pub fn time_range_at(&self, as_of: u64) -> (Option<u64>, Option<u64>) {
        match self.time_range() {
            (Some(oldest), _) if oldest > as_of => (None, None),
            (oldest, Some(latest)) if latest > as_of => {
                // The shards keep only the ends of their history: a moment inside it takes a look at every chain.
                let at = self.entries().iter().filter_map(|(_, head)| head.at(Some(as_of)).map(|v| v.timestamp)).max();
                (oldest, at)
            }
            range => range,
        }
    }

    pub fn state(&self) -> BranchState {
        let (oldest, latest) = self.time_range();
        BranchState {
            name: self.name.clone(),
            created_at: self.created_at,
            fork: self.fork.clone(),
            entries: self.entries(),
            spaces: self.spaces(),
            oldest,
            latest,
        }
    }

    /// A branch restored from a snapshot. What the shards report is kept by the first one; the branch reports the
    /// union of its shards, so the answers are the same.
    pub fn restore(state: BranchState) -> Branch {
        let mut shards: [Shard; SHARDS] = state.entries.into_shards().map(|map| Shard { map, ..Default::default() });
        shards[0].spaces = state.spaces;
        shards[0].oldest = state.oldest;
        shards[0].latest = state.latest;
        Branch::with_shards(state.name, state.created_at, state.fork, shards)
    }
}

/// Some shards of a branch, write-locked for one commit.
pub struct Locked<'a> {
    guards: [Option<RwLockWriteGuard<'a, Shard>>; SHARDS],
}

/// The bit of `key`'s shard, to build the set `Branch::lock` takes.
pub fn shard_bit(key: &[u8]) -> u32 {
    1 << shard_of(key)
}

impl Locked<'_> {
    /// The locked shards' maps, with their index.
    pub fn maps(&self) -> impl Iterator<Item = (usize, &Map)> {
        self.guards.iter().enumerate().filter_map(|(i, g)| g.as_ref().map(|g| (i, &g.map)))
    }

    /// The locked shard holding `key`. Only keys in the locked set may be asked for.
    pub fn shard(&self, key: &[u8]) -> &Shard {
        self.guards[shard_of(key)].as_deref().expect("a commit touches only the shards it locked")
    }

    /// The locked shards (a bit each, as `shard_bit`) whose map is still the one in `snapshot`: no commit has
    /// touched them since it was taken, so no key in them has changed.
    pub fn unchanged_since(&self, snapshot: &Entries) -> u32 {
        let same = |(i, (g, m)): (usize, (&Option<RwLockWriteGuard<'_, Shard>>, &Map))| {
            g.as_ref().is_some_and(|g| g.map.same(m)).then_some(1 << i)
        };
        self.guards.iter().zip(snapshot.shards()).enumerate().filter_map(same).fold(0, |set, bit| set | bit)
    }

    /// Applies a commit's writes; returns the new version of the last key written.
    pub fn apply(&mut self, writes: impl IntoIterator<Item = Write>, ts: u64) -> Option<u64> {
        let mut last = None;
        for w in writes {
            let shard = self.guards[shard_of(&w.key)].as_deref_mut();
            last = Some(shard.expect("a commit touches only the shards it locked").apply(w, ts));
        }
        last
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::Bytes;

    #[test]
    fn an_event_key_written_twice_keeps_both_versions() {
        let mut shard = Shard::default();
        let key = keyspace::event_key(0, 0);
        let write = |v: u8| Write::new(key.clone(), Some(Bytes::from(&[v][..])));
        assert_eq!(shard.apply(write(1), 10), 1);
        assert_eq!(shard.apply(write(2), 20), 2);
        let head = shard.map.get(&key).unwrap();
        let chain: Vec<(u64, u64)> = head.iter().map(|v| (v.version, v.timestamp)).collect();
        assert_eq!(chain, [(2, 20), (1, 10)]);
        assert_eq!(shard.tails[&0].0, 1);
    }
}
