//! The map of a branch: every key, in all namespaces and spaces, to the head of its version chain.
//!
//! It is split into `SHARDS` persistent ordered maps by a hash of the key, so that commits to keys in different
//! shards can run on different threads at once (see `branch`). Keys that are read together as a range live in one
//! shard: all events of a space (appending reads the log's tail), all vectors of a collection (an index syncs from
//! one range). Everything else is spread by its whole key.
//!
//! `Entries` is the value form: one clone of each shard, taken at one moment. Cloning it is `SHARDS` reference-count
//! increments, O(1) in the amount of data; ordered reads over several shards merge them by key.

use std::cmp::Reverse;
use std::collections::binary_heap::PeekMut;
use std::collections::BinaryHeap;
use std::ops::RangeBounds;

use crate::keyspace::{self, Namespace, StoreKey};
use crate::tree::DiffItem;
use crate::version::Head;

/// One shard's map.
pub type Map = crate::tree::Tree<Head>;

/// How many shards a branch has. Two keys written from different threads share a shard one time in eight; an
/// ordered scan seeks in every shard and merges them, so more shards make lists slower (measured on 100-key
/// prefix lists, quick bench: 1 shard 67k/s, 8 shards 52k/s, 16 shards 36k/s; two threads' CAS on different cells 0.8x, 1.5x,
/// 1.45x of one thread).
pub const SHARDS: usize = 8;

/// The part of a key that picks its shard.
fn group(key: &[u8]) -> &[u8] {
    match keyspace::namespace_of(key) {
        Some(Namespace::Events) => &key[..keyspace::HEADER.min(key.len())],
        Some(Namespace::Vectors) => match key.iter().skip(keyspace::HEADER).position(|b| *b == 0) {
            Some(i) => &key[..keyspace::HEADER + i],
            None => key,
        },
        _ => key,
    }
}

/// The shard of a key.
pub fn shard_of(key: &[u8]) -> usize {
    crc32c::crc32c(group(key)) as usize % SHARDS
}

#[derive(Clone, Default)]
pub struct Entries {
    shards: [Map; SHARDS],
}

impl Entries {
    pub fn new() -> Entries {
        Entries::default()
    }

    pub fn from_shards(shards: [Map; SHARDS]) -> Entries {
        Entries { shards }
    }

    pub fn into_shards(self) -> [Map; SHARDS] {
        self.shards
    }

    pub fn get(&self, key: &[u8]) -> Option<&Head> {
        self.shards[shard_of(key)].get(key)
    }

    pub fn insert(&mut self, key: StoreKey, head: Head) {
        self.shards[shard_of(&key)].insert(key, head);
    }

    pub fn remove(&mut self, key: &[u8]) {
        self.shards[shard_of(key)].remove(key);
    }

    /// The shard holding `key`, and every key read in one range with it (a space's events, a collection's vectors).
    pub fn shard(&self, key: &[u8]) -> &Map {
        &self.shards[shard_of(key)]
    }

    pub fn shards(&self) -> &[Map; SHARDS] {
        &self.shards
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&StoreKey, &Head)> {
        self.range(..)
    }

    /// Entries in `range`, in key order.
    pub fn range<R: RangeBounds<StoreKey> + Clone>(&self, range: R) -> impl Iterator<Item = (&StoreKey, &Head)> {
        Merge::new(std::array::from_fn(|i| self.shards[i].range(range.clone())), |(k, _)| k)
    }

    /// What changed from `self` to `other`, in key order, skipping every subtree the two still share.
    pub fn diff<'a>(&'a self, other: &'a Entries) -> impl Iterator<Item = DiffItem<'a, Head>> {
        Merge::new(std::array::from_fn(|i| self.shards[i].diff(&other.shards[i])), diff_key)
    }
}

/// The shards' iterators merged into one in key order (a key is in one shard only, so keys never tie). The heap
/// holds each iterator's next key and the iterator's index, not the iterators: a tree's range iterator is a few
/// hundred bytes, and a heap of iterators (itertools' `kmerge`) moved them at every step, 12% of a 100-key list.
struct Merge<'a, I: Iterator> {
    iters: [I; SHARDS],
    next: [Option<I::Item>; SHARDS],
    heap: BinaryHeap<(Reverse<&'a StoreKey>, usize)>,
    key: fn(&I::Item) -> &'a StoreKey,
}

impl<'a, I: Iterator> Merge<'a, I> {
    fn new(mut iters: [I; SHARDS], key: fn(&I::Item) -> &'a StoreKey) -> Merge<'a, I> {
        let next: [Option<I::Item>; SHARDS] = std::array::from_fn(|i| iters[i].next());
        let heap = next.iter().enumerate().filter_map(|(i, n)| n.as_ref().map(|n| (Reverse(key(n)), i))).collect();
        Merge { iters, next, heap, key }
    }
}

impl<I: Iterator> Iterator for Merge<'_, I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        // The shard's next key replaces its last in place, one sift down, where a pop and a push sift twice.
        let mut top = self.heap.peek_mut()?;
        let i = top.1;
        let after = self.iters[i].next();
        match &after {
            Some(n) => top.0 = Reverse((self.key)(n)),
            None => drop(PeekMut::pop(top)),
        }
        std::mem::replace(&mut self.next[i], after)
    }
}

fn diff_key<'a>(item: &DiffItem<'a, Head>) -> &'a StoreKey {
    match item {
        DiffItem::Add(k, _) | DiffItem::Remove(k, _) | DiffItem::Update { new: (k, _), .. } => k,
    }
}

impl FromIterator<(StoreKey, Head)> for Entries {
    fn from_iter<I: IntoIterator<Item = (StoreKey, Head)>>(items: I) -> Entries {
        let mut e = Entries::new();
        for (k, h) in items {
            e.insert(k, h);
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{event_key, store_key};
    use crate::version::Version;

    fn head(v: u64) -> Head {
        Head::new(Version { version: v, timestamp: v, origin: v, value: None, prev: None })
    }

    #[test]
    fn ordered_reads_merge_the_shards() {
        let keys: Vec<StoreKey> = (0..500).map(|i| store_key(Namespace::Kv, 0, &format!("k{i:04}"))).collect();
        let e: Entries = keys.iter().rev().map(|k| (k.clone(), head(1))).collect();
        assert!(e.shards.iter().filter(|m| m.range(..).next().is_some()).count() > 1);
        assert!(e.iter().map(|(k, _)| k).eq(keys.iter()));
        assert!(e.range(keys[10].clone()..keys[20].clone()).map(|(k, _)| k).eq(keys[10..20].iter()));
        let mut changed = e.clone();
        changed.insert(keys[7].clone(), head(2));
        changed.remove(&keys[3]);
        let diff: Vec<&StoreKey> = e.diff(&changed).map(|d| diff_key(&d)).collect();
        assert_eq!(diff, [&keys[3], &keys[7]]);
    }

    #[test]
    fn a_spaces_events_share_a_shard() {
        let first = shard_of(&event_key(3, 0));
        assert!((1..1000).all(|seq| shard_of(&event_key(3, seq)) == first));
    }
}
