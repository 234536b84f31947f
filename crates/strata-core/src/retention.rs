//! Retention: dropping old versions while keeping every branch's current state and recent history.
//!
//! A compaction keeps, of every key's chain, the newest versions up to `max_versions` that are younger than
//! `cutoff`, plus the version that was current at `cutoff` (so reads as of any time since then are unchanged);
//! the latest version of every key is always kept. The chain is cut below the last version kept. Rebuilt
//! versions are memoized by identity and by how many more versions may be kept below them, so branches that
//! shared a chain before still share it after: a compaction never un-shares forks.

use std::collections::HashMap;
use std::sync::Arc;

use crate::entries::Entries;
use crate::version::{Head, Version};

/// What a compaction keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Retention {
    /// Versions kept per key, the latest included (at least 1).
    pub max_versions: Option<u64>,
    /// Versions older than this timestamp are dropped, except the one current at it.
    pub cutoff: Option<u64>,
}

/// What a compaction makes of the chain below a version: `None` when it keeps all of it, else the new `prev`.
type Cut = Option<Option<Arc<Version>>>;

pub struct Compactor {
    rule: Retention,
    done: HashMap<(*const Version, u64), Arc<Version>>,
    /// What `cut` made of each head, by the address of the version below it and the budget; that version is kept
    /// alive here, so its address is not reused while the compaction runs.
    heads: HashMap<(*const Version, u64), (Arc<Version>, Cut)>,
    pub dropped: u64,
}

impl Compactor {
    pub fn new(rule: Retention) -> Compactor {
        Compactor { rule, done: HashMap::new(), heads: HashMap::new(), dropped: 0 }
    }

    /// `v` with the chain below it cut to what the rule keeps; `budget` is how many versions may be kept from `v`
    /// down, `v` included. `None` when nothing below `v` is cut: `v` stays as it is.
    fn cut(&mut self, v: &Version, budget: u64) -> Cut {
        let young = self.rule.cutoff.is_none_or(|c| v.timestamp > c);
        let keep_below = budget > 1 && young;
        let prev = match (&v.prev, keep_below) {
            (Some(p), true) => Some(self.chain(p, budget - 1)),
            (Some(p), false) => {
                self.dropped += p.iter().count() as u64;
                None
            }
            (None, _) => None,
        };
        let same = match (&prev, &v.prev) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        (!same).then_some(prev)
    }

    /// `cut` for a version behind an `Arc`, memoized by its address.
    fn chain(&mut self, v: &Arc<Version>, budget: u64) -> Arc<Version> {
        let key = (Arc::as_ptr(v), budget);
        if let Some(done) = self.done.get(&key) {
            return done.clone();
        }
        let out = match self.cut(v, budget) {
            None => v.clone(),
            Some(prev) => Arc::new(rebuilt(v, prev)),
        };
        self.done.insert(key, out.clone());
        out
    }

    /// A branch map with every chain compacted; unchanged heads stay as they are.
    pub fn entries(&mut self, entries: &Entries) -> Entries {
        let budget = self.rule.max_versions.unwrap_or(u64::MAX).max(1);
        let mut out = entries.clone();
        for (k, h) in entries.iter() {
            // Heads live by value, a copy in each map that holds them, so they are memoized by the address of the
            // version below them: one `Arc` is the `prev` of one version only (made when that version was
            // written over), so branches that hold copies of one head are cut once, and counted once in `dropped`.
            let Some(below) = &h.prev else { continue };
            let key = (Arc::as_ptr(below), budget);
            let prev = match self.heads.get(&key) {
                Some((_, done)) => done.clone(),
                None => {
                    let done = self.cut(h, budget);
                    self.heads.insert(key, (below.clone(), done.clone()));
                    done
                }
            };
            if let Some(prev) = prev {
                out.insert(k.clone(), Head::new(rebuilt(h, prev)));
            }
        }
        out
    }
}

/// A copy of `v` with `prev` below it.
fn rebuilt(v: &Version, prev: Option<Arc<Version>>) -> Version {
    Version { version: v.version, timestamp: v.timestamp, origin: v.origin, value: v.value.clone(), prev }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(ts: &[u64]) -> Arc<Version> {
        let mut head: Option<Arc<Version>> = None;
        for (i, t) in ts.iter().enumerate() {
            let prev = head.take();
            head = Some(Arc::new(Version { version: i as u64 + 1, timestamp: *t, origin: *t, value: None, prev }));
        }
        head.unwrap()
    }

    fn stamps(v: &Version) -> Vec<u64> {
        v.iter().map(|v| v.timestamp).collect()
    }

    #[test]
    fn keeps_the_newest_versions_and_the_one_current_at_the_cutoff() {
        let c = chain(&[10, 20, 30, 40]);
        let mut by_count = Compactor::new(Retention { max_versions: Some(2), cutoff: None });
        assert_eq!(stamps(&by_count.chain(&c, 2)), [40, 30]);
        assert_eq!(by_count.dropped, 2);
        let mut by_age = Compactor::new(Retention { max_versions: None, cutoff: Some(25) });
        assert_eq!(stamps(&by_age.chain(&c, u64::MAX)), [40, 30, 20]);
        let mut everything = Compactor::new(Retention { max_versions: None, cutoff: Some(100) });
        assert_eq!(stamps(&everything.chain(&c, u64::MAX)), [40]);
    }

    #[test]
    fn shared_chains_stay_shared() {
        let base = chain(&[10, 20, 30]);
        let mut m = Compactor::new(Retention { max_versions: Some(2), cutoff: None });
        let a = m.chain(&base, 2);
        let b = m.chain(&base, 2);
        assert!(Arc::ptr_eq(&a, &b));
        let untouched = m.chain(&chain(&[5]), 2);
        assert_eq!(stamps(&untouched), [5]);
    }
}
