//! Version chains: the history of one key, newest first, shared between branches.
//!
//! A chain is an immutable linked list of `Arc<Version>`. A write puts a new head in front of the old one, so a
//! branch forked earlier keeps pointing at the old head and both branches share every older version.

use std::sync::Arc;

use crate::bytes::Bytes;

#[derive(Debug)]
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
    pub fn at(self: &Arc<Self>, as_of: Option<u64>) -> Option<&Arc<Version>> {
        let Some(ts) = as_of else { return Some(self) };
        let mut v = self;
        while v.timestamp > ts {
            v = v.prev.as_ref()?;
        }
        Some(v)
    }

    /// The live value at `as_of`, if the key existed then.
    pub fn live_at(self: &Arc<Self>, as_of: Option<u64>) -> Option<&Arc<Version>> {
        self.at(as_of).filter(|v| v.value.is_some())
    }

    /// Newest first.
    pub fn iter(self: &Arc<Self>) -> impl Iterator<Item = &Arc<Version>> {
        std::iter::successors(Some(self), |v| v.prev.as_ref())
    }

    pub fn is_live(&self) -> bool {
        self.value.is_some()
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

/// The head of a key's chain as a branch map holds it, with whether it holds a value: listing live keys then reads
/// only the map's nodes, not every head version (on a large map, a cache miss per key). Two heads are equal when
/// they are the same version object, which is what lets a diff skip everything two branches still share.
#[derive(Debug, Clone)]
pub struct Head(pub Arc<Version>, bool);

impl Head {
    pub fn new(version: Arc<Version>) -> Head {
        let live = version.is_live();
        Head(version, live)
    }

    pub fn is_live(&self) -> bool {
        self.1
    }

    /// As `Version::live_at`; without `as_of`, answered from the map alone.
    pub fn live_at(&self, as_of: Option<u64>) -> Option<&Arc<Version>> {
        match as_of {
            None => self.1.then_some(&self.0),
            Some(_) => self.0.live_at(as_of),
        }
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::ops::Deref for Head {
    type Target = Arc<Version>;
    fn deref(&self) -> &Arc<Version> {
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
        let v2 = Arc::new(Version { version: 2, timestamp: 20, origin: 20, value: None, prev: Some(v1) });
        assert_eq!(v2.at(Some(15)).unwrap().version, 1);
        assert!(v2.at(Some(5)).is_none());
        assert!(v2.live_at(None).is_none());
        assert_eq!(v2.live_at(Some(19)).unwrap().version, 1);
        assert_eq!(v2.iter().map(|v| v.version).collect::<Vec<_>>(), [2, 1]);
    }
}
