//! Vectors: collections of fixed-dimension `f32` vectors with metadata, searched by similarity.
//!
//! A collection is an entry of the `Collections` namespace (`[dimension, metric]`); each vector an entry of the
//! `Vectors` namespace keyed `collection \0 key`, its value `[dimension u32 LE][dimension f32 LE][metadata]`, the
//! metadata a MessagePack value. Everything else comes from the substrate: versions, forks, merges per vector,
//! time travel, the log. An exact search scores every vector of the collection, the components read straight from
//! the stored bytes in a loop the compiler vectorises, the best `k` kept in a bounded heap. Large collections are
//! searched through an approximate index instead (`vector_index`), whose candidates are ranked the same way.

mod filter;

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::branch::BranchId;
use crate::bytes::Bytes;
use crate::db::{scan, Database};
use crate::entries::Entries;
use crate::error::{fail, Result};
use crate::keyspace::{self, Namespace, SpaceId, StoreKey};
use crate::names::{check_key, check_name};
use crate::ops::Write;
use crate::value;
use crate::vector_index::Scope;
use crate::version::Version;
use filter::Filter;

/// Largest dimension a collection may have.
pub const MAX_DIMENSION: u32 = 65_536;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Cosine,
    Euclidean,
    Dot,
}

impl Metric {
    pub fn parse(name: &str) -> Result<Metric> {
        match name {
            "cosine" => Ok(Metric::Cosine),
            "euclidean" => Ok(Metric::Euclidean),
            "dot" => Ok(Metric::Dot),
            _ => fail!(InvalidValue, "unknown metric {name:?}; use 'cosine', 'euclidean' or 'dot'"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::Euclidean => "euclidean",
            Metric::Dot => "dot",
        }
    }

    /// The score of a vector against a query: higher is better for cosine and dot; for euclidean it is the
    /// distance, lower is better.
    fn score(self, query: &[f32], query_norm: f32, v: &[u8]) -> f32 {
        let (mut dot, mut norm, mut dist) = (0.0f32, 0.0f32, 0.0f32);
        for (q, c) in query.iter().zip(v.chunks_exact(4)) {
            let x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            dot += q * x;
            norm += x * x;
            dist += (q - x) * (q - x);
        }
        match self {
            Metric::Dot => dot,
            Metric::Euclidean => dist.sqrt(),
            Metric::Cosine if norm == 0.0 || query_norm == 0.0 => 0.0,
            Metric::Cosine => dot / (norm.sqrt() * query_norm),
        }
    }

    fn better(self, a: f32, b: f32) -> bool {
        match self {
            Metric::Euclidean => a < b,
            _ => a > b,
        }
    }
}

/// A collection as `listCollections` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Collection {
    pub name: String,
    pub dimension: u32,
    pub metric: Metric,
    pub count: u64,
}

/// One search result.
#[derive(Debug, Clone)]
pub struct Hit {
    pub key: String,
    pub score: f32,
    pub metadata: Bytes,
}

fn collection_key(space: SpaceId, name: &str) -> StoreKey {
    keyspace::store_key(Namespace::Collections, space, name)
}

fn item_key(space: SpaceId, collection: &str, key: &str) -> StoreKey {
    keyspace::store_key(Namespace::Vectors, space, &format!("{collection}\0{key}"))
}

fn definition(dimension: u32, metric: Metric) -> Vec<u8> {
    let mut d = Vec::new();
    let _ = rmp::encode::write_array_len(&mut d, 2);
    let _ = rmp::encode::write_uint(&mut d, dimension as u64);
    let _ = rmp::encode::write_str(&mut d, metric.name());
    d
}

fn parse_definition(bytes: &[u8]) -> Option<(u32, Metric)> {
    let mut rd = bytes;
    rmp::decode::read_array_len(&mut rd).ok()?;
    let dimension: u32 = rmp::decode::read_int(&mut rd).ok()?;
    let len = rmp::decode::read_str_len(&mut rd).ok()? as usize;
    let metric = Metric::parse(std::str::from_utf8(rd.get(..len)?).ok()?).ok()?;
    Some((dimension, metric))
}

/// Tombstones for the live vectors of `collection` in `entries`: a collection deleted by a merge takes its vectors
/// with it, as `delete_collection` does.
pub fn orphans(entries: &Entries, space: SpaceId, collection: &str) -> Vec<StoreKey> {
    let prefix = format!("{collection}\0");
    scan(entries, Namespace::Vectors, space, &prefix, None)
        .filter(|(_, h)| h.is_live())
        .map(|(k, _)| k.clone())
        .collect()
}

/// The stored form of a vector and its metadata.
pub fn item(vector: &[f32], metadata: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + vector.len() * 4 + metadata.len());
    v.extend_from_slice(&(vector.len() as u32).to_le_bytes());
    vector.iter().for_each(|x| v.extend_from_slice(&x.to_le_bytes()));
    v.extend_from_slice(metadata);
    v
}

/// The vector bytes (f32 LE) and the metadata of a stored item.
pub fn split(item: &[u8]) -> (&[u8], &[u8]) {
    let dim = u32::from_le_bytes(item[..4].try_into().expect("4 bytes")) as usize;
    (&item[4..4 + dim * 4], &item[4 + dim * 4..])
}

fn lookup(entries: &Entries, space: SpaceId, name: &str, as_of: Option<u64>) -> Result<(u32, Metric)> {
    let def = entries.get(&collection_key(space, name)).and_then(|h| h.live_at(as_of));
    match def.and_then(|v| parse_definition(v.value.as_deref().unwrap_or_default())) {
        Some(d) => Ok(d),
        None => fail!(InvalidName, "no vector collection named {name:?}; create it with createCollection"),
    }
}

/// A hit in the heap, ordered so that the worst kept hit is at the top. It borrows its version and key from the
/// branch map: a scan of a large collection bumps no reference counts.
struct Ranked<'a>(f32, Metric, &'a Version, &'a StoreKey);

impl PartialEq for Ranked<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Ranked<'_> {}
impl PartialOrd for Ranked<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        let by_score = if self.1.better(self.0, other.0) {
            Ordering::Less
        } else if self.1.better(other.0, self.0) {
            Ordering::Greater
        } else {
            Ordering::Equal
        };
        by_score.then_with(|| self.3.cmp(other.3))
    }
}

impl Database {
    pub fn create_collection(
        &self,
        branch: BranchId,
        space: SpaceId,
        name: &str,
        dimension: u64,
        metric: &str,
    ) -> Result<()> {
        check_name("collection", name)?;
        let metric = Metric::parse(metric)?;
        if dimension == 0 || dimension > MAX_DIMENSION as u64 {
            return fail!(InvalidValue, "dimension must be an integer from 1 to {MAX_DIMENSION}, got {dimension}");
        }
        let dimension = dimension as u32;
        self.run(|inner| {
            let entries = &inner.branch(branch)?.entries();
            if lookup(entries, space, name, None).is_ok() {
                return fail!(InvalidName, "vector collection {name:?} already exists; deleteCollection it first");
            }
            let def = Write::new(collection_key(space, name), Some(Bytes::from(definition(dimension, metric))));
            Ok((inner.commit_op(branch, vec![def]), ()))
        })?;
        Ok(())
    }

    /// Deletes a collection with its vectors (in one commit); returns whether it existed.
    pub fn delete_collection(&self, branch: BranchId, space: SpaceId, name: &str) -> Result<bool> {
        check_name("collection", name)?;
        let (_, existed) = self.run(|inner| {
            let entries = &inner.branch(branch)?.entries();
            if lookup(entries, space, name, None).is_err() {
                return Ok((Vec::new(), false));
            }
            let mut writes = vec![Write::new(collection_key(space, name), None)];
            let prefix = format!("{name}\0");
            writes.extend(
                scan(entries, Namespace::Vectors, space, &prefix, None)
                    .filter(|(_, h)| h.is_live())
                    .map(|(k, _)| Write::new(k.clone(), None)),
            );
            Ok((inner.commit_op(branch, writes), true))
        })?;
        Ok(existed)
    }

    pub fn collections(&self, branch: BranchId, space: SpaceId, as_of: Option<u64>) -> Result<Vec<Collection>> {
        let inner = self.read();
        let entries = &inner.branch(branch)?.entries();
        let mut out = Vec::new();
        for (k, h) in scan(entries, Namespace::Collections, space, "", None) {
            let Some(def) = h.live_at(as_of) else { continue };
            let name = keyspace::decode(k).key.to_string();
            let Some((dimension, metric)) = parse_definition(def.value.as_deref().unwrap_or_default()) else {
                continue;
            };
            let prefix = format!("{name}\0");
            let count = scan(entries, Namespace::Vectors, space, &prefix, None)
                .filter(|(_, h)| h.live_at(as_of).is_some())
                .count() as u64;
            out.push(Collection { name, dimension, metric, count });
        }
        Ok(out)
    }

    /// Writes a vector (replacing any under the key); returns its new version.
    pub fn upsert_vector(
        &self,
        branch: BranchId,
        space: SpaceId,
        collection: &str,
        key: &str,
        vector: &[f32],
        metadata: &[u8],
    ) -> Result<u64> {
        check_name("collection", collection)?;
        check_key(key)?;
        value::validate(metadata)?;
        if let Some(i) = vector.iter().position(|x| !x.is_finite()) {
            return fail!(InvalidValue, "vector component {i} is not a finite number");
        }
        let (versions, _) = self.run(|inner| {
            let (dimension, _) = lookup(&inner.branch(branch)?.entries(), space, collection, None)?;
            if vector.len() != dimension as usize {
                return fail!(
                    InvalidValue,
                    "vector has {} components; collection {collection:?} has dimension {dimension}",
                    vector.len()
                );
            }
            let write = Write::new(item_key(space, collection, key), Some(Bytes::from(item(vector, metadata))));
            Ok((inner.commit_op(branch, vec![write]), ()))
        })?;
        Ok(versions[0])
    }

    /// The live vector under `key`, handed to `f`.
    pub fn vector<R>(
        &self,
        branch: BranchId,
        space: SpaceId,
        collection: &str,
        key: &str,
        as_of: Option<u64>,
        f: impl FnOnce(&Version) -> R,
    ) -> Result<Option<R>> {
        check_name("collection", collection)?;
        check_key(key)?;
        let inner = self.read();
        lookup(&inner.branch(branch)?.entries(), space, collection, as_of)?;
        let head = inner.head(branch, &item_key(space, collection, key))?;
        Ok(head.as_ref().and_then(|h| h.live_at(as_of)).map(f))
    }

    pub fn delete_vector(&self, branch: BranchId, space: SpaceId, collection: &str, key: &str) -> Result<bool> {
        check_name("collection", collection)?;
        check_key(key)?;
        let k = item_key(space, collection, key);
        let (_, existed) = self.run(|inner| {
            lookup(&inner.branch(branch)?.entries(), space, collection, None)?;
            if !inner.head(branch, &k)?.is_some_and(|h| h.is_live()) {
                return Ok((Vec::new(), false));
            }
            Ok((inner.commit_op(branch, vec![Write::new(k.clone(), None)]), true))
        })?;
        Ok(existed)
    }

    /// The `k` vectors most similar to `query` (as of `as_of`), best first, among those whose metadata matches
    /// `filter`.
    pub fn search(
        &self,
        branch: BranchId,
        space: SpaceId,
        collection: &str,
        query: &[f32],
        k: usize,
        filter: Option<&[u8]>,
        as_of: Option<u64>,
    ) -> Result<Vec<Hit>> {
        check_name("collection", collection)?;
        if let Some(i) = query.iter().position(|x| !x.is_finite()) {
            return fail!(InvalidValue, "query component {i} is not a finite number");
        }
        let filter = filter.map(Filter::parse).transpose()?;
        // The map is cloned in O(1) and the lock let go: neither a scan nor an index build holds up writers.
        let (entries, parent) = {
            let inner = self.read();
            let b = inner.branch(branch)?;
            (b.entries(), b.fork.as_ref().map(|f| f.parent))
        };
        let (dimension, metric) = lookup(&entries, space, collection, as_of)?;
        if query.len() != dimension as usize {
            return fail!(
                InvalidValue,
                "query has {} components; collection {collection:?} has dimension {dimension}",
                query.len()
            );
        }
        // The index holds the current vectors only, so time travel is exact. Filtered searches are exact too: a
        // filter may reject every candidate the graph proposes, and an exact scan is the one answer that is
        // always complete.
        let indexed = match (as_of, &filter) {
            (None, None) => {
                let scope = Scope { branch, parent, space, collection, dimension, metric };
                self.vector_indexes.candidates(&scope, &entries, query, k)
            }
            _ => None,
        };
        let ranked = match indexed {
            Some(keys) => rank(
                keys.iter().filter_map(|key| entries.get(key).and_then(|h| h.live_at(None)).map(|v| (key, v))),
                metric,
                query,
                k,
            ),
            None => {
                let prefix = format!("{collection}\0");
                let live = scan(&entries, Namespace::Vectors, space, &prefix, None)
                    .filter_map(|(key, head)| head.live_at(as_of).map(|v| (key, v)))
                    .filter(|(_, v)| {
                        filter.as_ref().is_none_or(|f| f.accepts(split(v.value.as_deref().unwrap_or_default()).1))
                    });
                rank(live, metric, query, k)
            }
        };
        Ok(ranked)
    }
}

/// The best `k` of `candidates` for `query`, best first, ties broken by key. Exact and indexed searches both rank
/// here, so they score and order alike.
fn rank<'a>(
    candidates: impl Iterator<Item = (&'a StoreKey, &'a Version)>,
    metric: Metric,
    query: &[f32],
    k: usize,
) -> Vec<Hit> {
    let query_norm = query.iter().map(|x| x * x).sum::<f32>().sqrt();
    // k may be far larger than the collection: the heap grows with what it holds, not with k.
    let mut best: BinaryHeap<Ranked> = BinaryHeap::new();
    for (key, v) in candidates {
        let (vector, _) = split(v.value.as_deref().unwrap_or_default());
        best.push(Ranked(metric.score(query, query_norm, vector), metric, v, key));
        if best.len() > k {
            best.pop();
        }
    }
    best.into_sorted_vec()
        .into_iter()
        .map(|Ranked(score, _, v, key)| Hit {
            key: keyspace::decode(key).key.split_once('\0').map(|(_, k)| k.to_string()).unwrap_or_default(),
            score,
            metadata: Bytes::from(split(v.value.as_deref().unwrap_or_default()).1),
        })
        .collect()
}
