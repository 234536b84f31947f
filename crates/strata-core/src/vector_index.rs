//! Approximate indexes for vector search, kept in step with the branches they index.
//!
//! An index covers one collection of one space of one branch, and remembers the branch map it reflects (an O(1)
//! clone of the persistent map). Before each search it catches up with the branch's current map by diffing the two:
//! the tree's diff skips the subtrees both maps still share, so the work is in proportion to what changed, not to the
//! size of the branch. A fork's first search starts from a copy of its parent's index, which the same diff brings
//! up to date. Indexes live in a small cache of their own, least recently used dropped first, each behind its own
//! lock: the database lock is never held while an index is built or searched, so writers never wait for one.
//!
//! Indexes serve current-state searches without filters on collections of at least `THRESHOLD` live vectors;
//! everything else is searched exactly. The index only proposes candidates: the caller scores them exactly, so
//! results differ from an exact search only in which vectors were found.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock, RwLockWriteGuard};

use crate::branch::BranchId;
use crate::entries::{Entries, Map};
use crate::hnsw::{Distance, Graph};
use crate::keyspace::{self, Namespace, SpaceId, StoreKey};
use crate::tree::DiffItem;
use crate::vectors::{split, Metric};
use crate::version::Version;

/// Live vectors from which a collection is indexed: below it, an exact search is about as fast (see the
/// vector-search benchmark) and costs no build.
pub const THRESHOLD: usize = 2_000;
/// Candidates a search gathers (at least `k`): measured to reach recall@10 ≥ 0.95 on clustered 384-dimensional data.
const EF_SEARCH: usize = 128;
/// An index answers only when `k` is a small part of the collection; asked for much of it, a scan is as fast and
/// guaranteed to find everything.
const MAX_SHARE: usize = 8;
/// Indexes kept at once: each holds a copy of its collection's vectors.
const CAPACITY: usize = 4;

/// What a search is about: the collection of a space of a branch, as defined now.
pub struct Scope<'a> {
    pub branch: BranchId,
    /// The branch it was forked from, whose index can seed its own.
    pub parent: Option<BranchId>,
    pub space: SpaceId,
    pub collection: &'a str,
    pub dimension: u32,
    pub metric: Metric,
}

#[derive(Clone)]
struct Index {
    dimension: u32,
    metric: Metric,
    graph: Graph,
    /// The key of every node, deleted ones included.
    keys: Vec<StoreKey>,
    /// The node of every live vector.
    nodes: HashMap<StoreKey, u32>,
    /// The shard of the branch map holding the collection, as the index reflects it; `None` before the first sync.
    seen: Option<Map>,
}

/// A vector as the graph compares it: cosine vectors normalised (a zero vector stays zero, scoring 0 like the
/// exact path), so that cosine is a dot product.
fn prepare(metric: Metric, mut v: Vec<f32>) -> Vec<f32> {
    if metric == Metric::Cosine {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|x| *x /= norm);
        }
    }
    v
}

/// FNV-1a, then splitmix64's finaliser so every bit depends on every byte: a node's level comes from it, so the
/// same writes build the same graph natively and in WebAssembly.
fn hash(key: &[u8]) -> u64 {
    let mut h = key.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3));
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The map keys of a collection's vectors: `[start, end)`.
fn bounds(space: SpaceId, collection: &str) -> (StoreKey, StoreKey) {
    (
        keyspace::store_key(Namespace::Vectors, space, &format!("{collection}\0")),
        keyspace::store_key(Namespace::Vectors, space, &format!("{collection}\u{1}")),
    )
}

impl Index {
    fn new(dimension: u32, metric: Metric) -> Index {
        let distance = match metric {
            Metric::Euclidean => Distance::SquaredL2,
            Metric::Cosine | Metric::Dot => Distance::NegDot,
        };
        Index {
            dimension,
            metric,
            graph: Graph::new(dimension as usize, distance),
            keys: Vec::new(),
            nodes: HashMap::new(),
            seen: None,
        }
    }

    fn put(&mut self, key: &StoreKey, v: &Version) {
        let bytes = split(v.value.as_deref().unwrap_or_default()).0;
        let vector = bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let vector = prepare(self.metric, vector);
        if let Some(&node) = self.nodes.get(key) {
            // A compaction or a metadata update gives the key a new version with the same vector.
            if self.graph.vector(node) == vector.as_slice() {
                return;
            }
            self.graph.delete(node);
        }
        let node = self.graph.insert(&vector, hash(key));
        self.keys.push(key.clone());
        self.nodes.insert(key.clone(), node);
    }

    fn remove(&mut self, key: &StoreKey) {
        if let Some(node) = self.nodes.remove(key) {
            self.graph.delete(node);
        }
    }

    /// Brings the index up to date with `entries`: everything on the first sync, then what changed since the last.
    fn sync(&mut self, entries: &Entries, space: SpaceId, collection: &str) {
        let (start, end) = bounds(space, collection);
        let shard = entries.shard(&start);
        match self.seen.take() {
            None => {
                for (key, head) in shard.range(start..end) {
                    if let Some(v) = head.live_at(None) {
                        self.put(key, v);
                    }
                }
            }
            Some(seen) => {
                // The diff runs in key order from the start of the shard, skipping shared subtrees: stop past the
                // collection.
                for item in seen.diff(shard) {
                    let (key, head) = match item {
                        DiffItem::Add(k, h) | DiffItem::Update { new: (k, h), .. } => (k, Some(h)),
                        DiffItem::Remove(k, _) => (k, None),
                    };
                    if *key < start {
                        continue;
                    }
                    if *key >= end {
                        break;
                    }
                    match head.and_then(|h| h.live_at(None)) {
                        Some(v) => self.put(key, v),
                        None => self.remove(key),
                    }
                }
            }
        }
        self.seen = Some(shard.clone());
        // Deleted nodes still cost time in every search; once they are the majority, start over.
        if self.graph.deleted_count() * 2 > self.graph.len() {
            *self = Index::new(self.dimension, self.metric);
            self.sync(entries, space, collection);
        }
    }
}

struct Slot {
    branch: BranchId,
    space: SpaceId,
    collection: String,
    index: Arc<RwLock<Index>>,
}

/// The indexes of a database, most recently used last.
pub struct Indexes {
    threshold: AtomicUsize,
    slots: Mutex<Vec<Slot>>,
}

impl Default for Indexes {
    fn default() -> Indexes {
        Indexes { threshold: AtomicUsize::new(THRESHOLD), slots: Mutex::new(Vec::new()) }
    }
}

impl Indexes {
    /// Forgets every index, for a database whose state was read again from its directory.
    pub fn clear(&self) {
        self.slots.lock().clear();
    }

    /// Lets tests index small collections.
    #[cfg(test)]
    pub fn set_threshold(&self, threshold: usize) {
        self.threshold.store(threshold, Ordering::Relaxed);
    }

    /// The index of `scope`, from the cache, else seeded from the parent branch's, else empty; `None` when the
    /// collection is too small to be worth one.
    fn slot(&self, scope: &Scope, entries: &Entries) -> Option<Arc<RwLock<Index>>> {
        let mut slots = self.slots.lock();
        let at = |slots: &Vec<Slot>, branch| {
            slots.iter().position(|s| s.branch == branch && s.space == scope.space && s.collection == scope.collection)
        };
        if let Some(i) = at(&slots, scope.branch) {
            let slot = slots.remove(i);
            let index = slot.index.clone();
            slots.push(slot);
            return Some(index);
        }
        let (start, end) = bounds(scope.space, scope.collection);
        let threshold = self.threshold.load(Ordering::Relaxed);
        if entries.shard(&start).range(start..end).filter(|(_, h)| h.is_live()).take(threshold).count() < threshold {
            return None;
        }
        let seed = scope.parent.and_then(|p| at(&slots, p)).map(|i| slots[i].index.read().clone());
        let index = seed.unwrap_or_else(|| Index::new(scope.dimension, scope.metric));
        let index = Arc::new(RwLock::new(index));
        if slots.len() == CAPACITY {
            slots.remove(0);
        }
        let collection = scope.collection.to_string();
        slots.push(Slot { branch: scope.branch, space: scope.space, collection, index: index.clone() });
        Some(index)
    }

    /// The keys of the (about) `k` nearest vectors to `query` in `entries`, the branch map of `scope` now, plus
    /// more candidates for the caller to rank exactly; `None` when the collection is searched exactly instead.
    pub fn candidates(&self, scope: &Scope, entries: &Entries, query: &[f32], k: usize) -> Option<Vec<StoreKey>> {
        let index = self.slot(scope, entries)?;
        let mut index = index.write();
        if index.dimension != scope.dimension || index.metric != scope.metric {
            // The collection was deleted and created again with another definition.
            *index = Index::new(scope.dimension, scope.metric);
        }
        index.sync(entries, scope.space, scope.collection);
        let live = index.nodes.len();
        if live < self.threshold.load(Ordering::Relaxed) || k.saturating_mul(MAX_SHARE) > live {
            return None;
        }
        let index = RwLockWriteGuard::downgrade(index);
        let query = prepare(scope.metric, query.to_vec());
        let ef = if scope.metric == Metric::Dot { 2 * EF_SEARCH } else { EF_SEARCH };
        Some(index.graph.search(&query, k.max(ef)).into_iter().map(|n| index.keys[n as usize].clone()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Database;
    use crate::keyspace::DEFAULT_SPACE as S;
    use crate::retention::Retention;
    use crate::vectors::Hit;
    use proptest::prelude::*;

    const NIL: &[u8] = &[0xc0];
    /// An empty filter accepts everything and forces the exact path: the reference.
    const EVERYTHING: &[u8] = &[0x80];

    fn wall() -> u64 {
        1
    }

    /// Deterministic uniform and normal samples (splitmix64, Box-Muller), so every run sees the same data.
    struct Rng(u64);

    impl Rng {
        fn uniform(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        }

        fn normal(&mut self) -> f32 {
            let (u, v) = (self.uniform().max(f64::MIN_POSITIVE), self.uniform());
            ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
        }
    }

    /// Vectors from a mixture of `clusters` Gaussians: standard normal centres, spread 0.5 around them.
    fn clustered(rng: &mut Rng, n: usize, dim: usize, clusters: usize) -> Vec<Vec<f32>> {
        let centres: Vec<Vec<f32>> = (0..clusters).map(|_| (0..dim).map(|_| rng.normal()).collect()).collect();
        (0..n)
            .map(|_| {
                let c = &centres[(rng.uniform() * clusters as f64) as usize];
                c.iter().map(|x| x + 0.5 * rng.normal()).collect()
            })
            .collect()
    }

    fn key(i: usize) -> String {
        format!("v{i}")
    }

    fn collection(db: &Database, branch: BranchId, vectors: &[Vec<f32>], metric: &str) {
        db.create_collection(branch, S, "c", vectors[0].len() as u64, metric).unwrap();
        for (i, v) in vectors.iter().enumerate() {
            db.upsert_vector(branch, S, "c", &key(i), v, NIL).unwrap();
        }
    }

    fn search(db: &Database, branch: BranchId, q: &[f32], k: usize, exact: bool) -> Vec<Hit> {
        db.search(branch, S, "c", q, k, exact.then_some(EVERYTHING), None).unwrap()
    }

    fn keys(hits: &[Hit]) -> Vec<String> {
        hits.iter().map(|h| h.key.clone()).collect()
    }

    /// The share of the exact top `k` that the indexed search finds, over `queries`.
    fn recall(db: &Database, branch: BranchId, queries: &[Vec<f32>], k: usize) -> f64 {
        let mut found = 0;
        for q in queries {
            let exact = keys(&search(db, branch, q, k, true));
            found += keys(&search(db, branch, q, k, false)).iter().filter(|h| exact.contains(h)).count();
        }
        found as f64 / (queries.len() * k) as f64
    }

    fn indexed(db: &Database) -> usize {
        db.vector_indexes.slots.lock().len()
    }

    #[test]
    fn recall_at_10_on_clustered_data() {
        for metric in ["cosine", "euclidean", "dot"] {
            let mut rng = Rng(7);
            let data = clustered(&mut rng, 5_000, 32, 50);
            let queries = clustered(&mut Rng(8), 50, 32, 50);
            let db = Database::new(wall);
            collection(&db, 0, &data, metric);
            let r = recall(&db, 0, &queries, 10);
            assert_eq!(indexed(&db), 1, "{metric}: the index was used");
            assert!(r >= 0.95, "{metric}: recall@10 {r}");
        }
    }

    /// Every hit is a live vector of the branch with its exact score, in the exact path's order.
    fn check_hits(db: &Database, branch: BranchId, q: &[f32], k: usize) -> Vec<Hit> {
        let hits = search(db, branch, q, k, false);
        let exact = search(db, branch, q, k, true);
        assert_eq!(hits.len(), exact.len());
        let all = db.search(branch, S, "c", q, usize::MAX, Some(EVERYTHING), None).unwrap();
        let found: Vec<(String, f32, &[u8])> = hits.iter().map(|h| (h.key.clone(), h.score, &*h.metadata)).collect();
        let reference: Vec<(String, f32, &[u8])> = all
            .iter()
            .filter(|r| found.iter().any(|f| f.0 == r.key))
            .map(|r| (r.key.clone(), r.score, &*r.metadata))
            .collect();
        assert_eq!(found, reference);
        hits
    }

    #[test]
    fn deleted_and_replaced_vectors_are_never_returned() {
        let db = Database::new(wall);
        db.vector_indexes.set_threshold(100);
        let data = clustered(&mut Rng(1), 600, 8, 10);
        collection(&db, 0, &data, "cosine");
        let q = data[3].clone();
        assert_eq!(check_hits(&db, 0, &q, 10)[0].key, key(3));
        db.delete_vector(0, S, "c", &key(3)).unwrap();
        let far: Vec<f32> = q.iter().map(|x| -x).collect();
        db.upsert_vector(0, S, "c", &key(4), &far, &[0x01]).unwrap();
        let hits = check_hits(&db, 0, &q, 10);
        assert!(!keys(&hits).contains(&key(3)) && !keys(&hits).contains(&key(4)));
        assert_eq!(check_hits(&db, 0, &far, 1)[0].key, key(4));
        assert_eq!(&*check_hits(&db, 0, &far, 1)[0].metadata, &[0x01]);
        // Deleting most of the collection rebuilds the graph from what is left.
        for i in 0..400 {
            db.delete_vector(0, S, "c", &key(i)).unwrap();
        }
        let hits = check_hits(&db, 0, &q, 10);
        assert!(hits.iter().all(|h| h.key[1..].parse::<usize>().unwrap() >= 400));
        assert_eq!(db.vector_indexes.slots.lock()[0].index.read().graph.deleted_count(), 0);
    }

    #[test]
    fn follows_forks_merges_compactions_and_recreated_collections() {
        let db = Database::new(wall);
        db.vector_indexes.set_threshold(100);
        let data = clustered(&mut Rng(2), 400, 8, 8);
        collection(&db, 0, &data, "euclidean");
        let q = data[10].clone();
        check_hits(&db, 0, &q, 5);
        let fork = db.fork_branch("f", 0).unwrap();
        let moved: Vec<f32> = q.iter().map(|x| x + 100.0).collect();
        db.upsert_vector(fork, S, "c", &key(10), &moved, NIL).unwrap();
        assert_eq!(check_hits(&db, fork, &moved, 1)[0].key, key(10));
        assert_eq!(check_hits(&db, 0, &q, 1)[0].key, key(10));
        assert_eq!(indexed(&db), 2);
        db.merge(fork, 0, crate::Strategy::Strict).unwrap();
        assert_eq!(check_hits(&db, 0, &moved, 1)[0].key, key(10));
        assert_ne!(check_hits(&db, 0, &q, 1)[0].key, key(10));
        db.compact(Retention { max_versions: Some(1), cutoff: None }).unwrap();
        assert_eq!(check_hits(&db, 0, &moved, 1)[0].key, key(10));
        db.delete_collection(0, S, "c").unwrap();
        let wider = clustered(&mut Rng(3), 300, 12, 4);
        collection(&db, 0, &wider, "dot");
        assert_eq!(check_hits(&db, 0, &wider[5], 10).len(), 10);
    }

    #[derive(Debug, Clone)]
    enum Step {
        Upsert(u8, [i8; 4]),
        Delete(u8),
        Fork,
        Switch,
        Search([i8; 4], u8),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => (0u8..60, any::<[i8; 4]>()).prop_map(|(k, v)| Step::Upsert(k, v)),
            2 => (0u8..60).prop_map(Step::Delete),
            1 => Just(Step::Fork),
            1 => Just(Step::Switch),
            3 => (any::<[i8; 4]>(), 1u8..6).prop_map(|(q, k)| Step::Search(q, k)),
        ]
    }

    proptest! {
        #[test]
        fn indexed_results_are_live_vectors_scored_exactly(steps in prop::collection::vec(step(), 1..120)) {
            let db = Database::new(wall);
            db.vector_indexes.set_threshold(1);
            db.create_collection(0, S, "c", 4, "euclidean").unwrap();
            let (mut branches, mut at) = (vec![0], 0);
            let vector = |v: [i8; 4]| v.map(|x| x as f32 / 16.0);
            for s in steps {
                match s {
                    Step::Upsert(k, v) => {
                        db.upsert_vector(branches[at], S, "c", &key(k as usize), &vector(v), &[k & 0x7f]).unwrap();
                    }
                    Step::Delete(k) => {
                        db.delete_vector(branches[at], S, "c", &key(k as usize)).unwrap();
                    }
                    Step::Fork => {
                        branches.push(db.fork_branch(&format!("b{}", branches.len()), branches[at]).unwrap());
                        at = branches.len() - 1;
                    }
                    Step::Switch => at = (at + 1) % branches.len(),
                    Step::Search(q, k) => {
                        // Up to 60 live vectors, fewer than EF_SEARCH gathers: the index must find the exact answer.
                        let hits = check_hits(&db, branches[at], &vector(q), k as usize);
                        prop_assert_eq!(keys(&hits), keys(&search(&db, branches[at], &vector(q), k as usize, true)));
                    }
                }
            }
        }
    }
}
