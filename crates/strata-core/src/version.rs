//! Version chains: the history of one key, newest first, shared between branches.
//!
//! A branch map holds the newest version of each key by value (`Head`), in the tree's leaf: a read of the current
//! value then follows no pointer out of the leaf, where a version behind an `Arc` cost a third dependent cache miss
//! per lookup on a large map, and a key with one version costs no allocation of its own. Older versions are an
//! immutable linked list of `Arc<Version>`. A write puts the old head behind an `Arc` as the new head's `prev`, so
//! a branch forked earlier keeps its copy of the old head and both branches share every version below it. Measured
//! (engine, 2-core machine, medians of alternating runs): get in 100k keys 359 -> 292 ns, in 1M keys 842 -> 668 ns;
//! bytes allocated per new key (1M, in order) 115 -> 83; an overwrite still allocates one `Arc<Version>` (72 bytes).

use std::sync::Arc;

use crate::bytes::Bytes;

#[derive(Debug, Clone)]
pub struct Version {
    /// Per key: 1 for the first write, +1 for every put or delete after it.
    pub version: u64,
    /// Commit timestamp in microseconds since the epoch.
    pub timestamp: u64,
    /// Which write this version carries: its own timestamp, or, for a version a merge copied from another branch,
    /// the origin of the version it copied. Two branches that hold versions of one origin share that history.
    pub origin: u64,
    /// `None` is a tombstone: the key was deleted by this version.
    pub value: Option<Bytes>,
    pub prev: Option<Arc<Version>>,
}

impl Version {
    /// The version that was current at `as_of` (the newest with `timestamp <= as_of`).
    pub fn at(&self, as_of: Option<u64>) -> Option<&Version> {
        let Some(ts) = as_of else { return Some(self) };
        let mut v = self;
        while v.timestamp > ts {
            v = v.prev.as_deref()?;
        }
        Some(v)
    }

    /// The live value at `as_of`, if the key existed then.
    pub fn live_at(&self, as_of: Option<u64>) -> Option<&Version> {
        self.at(as_of).filter(|v| v.value.is_some())
    }

    /// Newest first.
    pub fn iter(&self) -> impl Iterator<Item = &Version> {
        std::iter::successors(Some(self), |v| v.prev.as_deref())
    }

    pub fn is_live(&self) -> bool {
        self.value.is_some()
    }

    /// Whether `self` and `other`, two versions of one key, are the same write. A timestamp belongs to one commit
    /// on one branch, and a commit that writes a key twice gives it two version numbers, so the pair names one
    /// version of a key wherever copies of it are (a fork's map, a merge base, a compaction's rebuilt chain).
    pub fn same(&self, other: &Version) -> bool {
        self.timestamp == other.timestamp && self.version == other.version
    }
}

impl Drop for Version {
    // A long history dropped recursively would overflow the stack; unlink it iteratively, stopping at the first
    // version another chain still shares.
    fn drop(&mut self) {
        let mut next = self.prev.take();
        while let Some(v) = next {
            match Arc::try_unwrap(v) {
                Ok(mut owned) => next = owned.prev.take(),
                Err(_) => break,
            }
        }
    }
}

/// The head of a key's chain as a branch map holds it: the newest version by value (whether the key is live is
/// then read from the leaf, so listing live keys touches only the map's nodes). Two heads are equal when they are
/// the same version (`Version::same`), which is what lets a diff skip keys two branches still share: a fork copies
/// its parent's heads, and a key neither side wrote since keeps the same head on both.
#[derive(Debug, Clone)]
pub struct Head(pub Version);

impl Head {
    pub fn new(version: Version) -> Head {
        Head(version)
    }

    pub fn is_live(&self) -> bool {
        self.0.is_live()
    }

    /// As `Version::live_at`; without `as_of`, answered from the map alone.
    pub fn live_at(&self, as_of: Option<u64>) -> Option<&Version> {
        self.0.live_at(as_of)
    }

    /// A write of `value` at `timestamp`: the new version takes this one's place in the map slot, and this one moves
    /// behind an `Arc` as its `prev`.
    pub fn push(&mut self, timestamp: u64, origin: u64, value: Option<Bytes>) {
        let new = Version { version: self.0.version + 1, timestamp, origin, value, prev: None };
        let old = std::mem::replace(&mut self.0, new);
        self.0.prev = Some(Arc::new(old));
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.0.same(&other.0)
    }
}

impl std::ops::Deref for Head {
    type Target = Version;
    fn deref(&self) -> &Version {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_a_million_versions_does_not_overflow_the_stack() {
        let mut head: Option<Arc<Version>> = None;
        for i in 1..=1_000_000u64 {
            head = Some(Arc::new(Version { version: i, timestamp: i, origin: i, value: None, prev: head.take() }));
        }
        drop(head);
        let mut head = Head::new(Version { version: 1, timestamp: 1, origin: 1, value: None, prev: None });
        assert_eq!(head.version, 1);
        for i in 2..=1_000_000u64 {
            head.push(i, i, None);
        }
        drop(head);
    }

    #[test]
    fn reads_as_of_a_time() {
        let v1 = Arc::new(Version {
            version: 1,
            timestamp: 10,
            origin: 10,
            value: Some(Bytes::from(&b"\x01"[..])),
            prev: None,
        });
        let v2 = Version { version: 2, timestamp: 20, origin: 20, value: None, prev: Some(v1) };
        assert_eq!(v2.at(Some(15)).unwrap().version, 1);
        assert!(v2.at(Some(5)).is_none());
        assert!(v2.live_at(None).is_none());
        assert_eq!(v2.live_at(Some(19)).unwrap().version, 1);
        assert_eq!(v2.iter().map(|v| v.version).collect::<Vec<_>>(), [2, 1]);
    }

    #[test]
    fn a_head_is_one_slot_of_the_map() {
        // Keys with one version pay for no allocation beyond the leaf slot.
        assert!(std::mem::size_of::<Head>() <= 56);
    }
}
