//! Event logs: append-only, densely numbered per branch and space, each event chained to its predecessor by hash.
//!
//! Event `n` of a space is the entry `event_key(space, n)` of the branch map, written once. Its stored record is
//! `[hash of event n-1: 32 bytes][MessagePack [type, payload]]`; the hash of an event is SHA-256 over its sequence
//! number (8 bytes BE) and its record, and the first event's predecessor hash is all zeros. Changing any stored
//! event breaks the chain at the next one, which `verify` reports.
//!
//! Events share everything else with the other primitives: versions (timestamps for `asOf`), forks (a fork shares
//! the log), transactions and the write-ahead log. A merge appends the source's events the target has not seen
//! (recognised by their `origin`), in order, re-chained onto the target's log.

use std::collections::HashSet;
use std::ops::Bound;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::branch::{shard_bit, BranchId};
use crate::bytes::Bytes;
use crate::db::Database;
use crate::entries::{Entries, Map};
use crate::error::Result;
use crate::keyspace::{self, SpaceId, StoreKey};
use crate::names::check_key;
use crate::ops::Write;
use crate::value;
use crate::version::{Head, Version};

pub type Hash = [u8; 32];
const GENESIS: Hash = [0; 32];

/// The stored record of an event.
pub fn record(prev: &Hash, kind: &str, payload: &[u8]) -> Vec<u8> {
    let mut r = Vec::with_capacity(32 + 8 + kind.len() + payload.len());
    r.extend_from_slice(prev);
    let _ = rmp::encode::write_array_len(&mut r, 2);
    let _ = rmp::encode::write_str(&mut r, kind);
    r.extend_from_slice(payload);
    r
}

/// `[type, payload]` as MessagePack: the part of a record hosts decode.
pub fn body(record: &[u8]) -> &[u8] {
    record.get(32..).unwrap_or_default()
}

/// The type of an event, read from its record.
fn kind(record: &[u8]) -> &str {
    let b = body(record);
    let mut rd = b.get(1..).unwrap_or_default();
    let len = rmp::decode::read_str_len(&mut rd).unwrap_or(0) as usize;
    let start = b.len() - rd.len();
    std::str::from_utf8(b.get(start..start + len).unwrap_or_default()).unwrap_or_default()
}

pub fn hash(seq: u64, record: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(seq.to_be_bytes());
    h.update(record);
    h.finalize().into()
}

pub fn bounds(space: SpaceId) -> (Bound<StoreKey>, Bound<StoreKey>) {
    (Bound::Included(keyspace::event_key(space, 0)), Bound::Included(keyspace::event_key(space, u64::MAX)))
}

/// The shard of a branch map that holds the events of `space` (all of them: see `entries`).
pub fn log(entries: &Entries, space: SpaceId) -> &Map {
    entries.shard(&keyspace::event_key(space, 0))
}

/// The events of a space in sequence order, from the shard `log` holds them in.
pub fn scan(log: &Map, space: SpaceId) -> impl DoubleEndedIterator<Item = (u64, &Head)> {
    log.range::<_, StoreKey>(bounds(space)).filter_map(|(k, h)| keyspace::event_seq(k).map(|s| (s, h)))
}

/// The next sequence number of a space and the hash the next event chains to.
pub fn tail(log: &Map, space: SpaceId) -> (u64, Hash) {
    match scan(log, space).next_back() {
        Some((seq, h)) => (seq + 1, hash(seq, h.value.as_deref().unwrap_or_default())),
        None => (0, GENESIS),
    }
}

pub fn check_type(kind: &str) -> Result<()> {
    check_key(kind).map_err(|e| crate::Error::new(e.code, format!("event type: {}", e.message)))
}

/// Writes that append the events of `source` that `target` has not seen, re-chained onto `target`'s logs.
pub fn merge_writes(source: &Entries, target: &Entries, spaces: impl Iterator<Item = SpaceId>) -> Vec<Write> {
    let mut writes = Vec::new();
    for space in spaces {
        let (source, target) = (log(source, space), log(target, space));
        let seen: HashSet<u64> = scan(target, space).map(|(_, h)| h.origin).collect();
        let (mut seq, mut prev) = tail(target, space);
        for (_, h) in scan(source, space).filter(|(_, h)| !seen.contains(&h.origin)) {
            let rec = h.value.as_deref().unwrap_or_default();
            let copy = record(&prev, kind(rec), &body(rec)[1 + 1 + kind(rec).len()..]);
            prev = hash(seq, &copy);
            let key = keyspace::event_key(space, seq);
            writes.push(Write { key, value: Some(Bytes::from(copy)), origin: Some(h.origin) });
            seq += 1;
        }
    }
    writes
}

impl Database {
    /// The shard of a branch holding a space's events, cloned (O(1)) so no lock is held while it is read.
    fn log(&self, branch: BranchId, space: SpaceId) -> Result<Map> {
        let first = keyspace::event_key(space, 0);
        Ok(self.read().branch(branch)?.shard(&first).map.clone())
    }

    /// Appends an event; returns its sequence number (0, 1, 2, ... per branch and space).
    pub fn append_event(&self, branch: BranchId, space: SpaceId, kind: &str, payload: &[u8]) -> Result<u64> {
        check_event(kind, payload)?;
        let first = keyspace::event_key(space, 0);
        let (_, seq) = self.commit(branch, shard_bit(&first), |locked| {
            let (seq, prev) = tail(&locked.shard(&first).map, space);
            let write = Write::new(keyspace::event_key(space, seq), Some(Bytes::from(record(&prev, kind, payload))));
            Ok((vec![write], seq))
        })?;
        Ok(seq)
    }

    /// Event `seq` as it was at `as_of`, handed to `f` with its stored record.
    pub fn event<R>(
        &self,
        branch: BranchId,
        space: SpaceId,
        seq: u64,
        as_of: Option<u64>,
        f: impl FnOnce(&Version) -> R,
    ) -> Result<Option<R>> {
        let head = self.read().head(branch, &keyspace::event_key(space, seq))?;
        Ok(head.as_ref().and_then(|h| h.live_at(as_of)).map(|v| f(v)))
    }

    /// Events after `after` (exclusive), of type `kind` if given, at most `limit`, as of `as_of`, in order.
    pub fn events(
        &self,
        branch: BranchId,
        space: SpaceId,
        kind_filter: Option<&str>,
        after: Option<u64>,
        limit: Option<usize>,
        as_of: Option<u64>,
    ) -> Result<Vec<(u64, Arc<Version>)>> {
        let log = self.log(branch, space)?;
        let from = after.map_or(0, |a| a.saturating_add(1));
        Ok(scan(&log, space)
            .skip_while(|(s, _)| *s < from)
            .filter_map(|(s, h)| h.live_at(as_of).map(|v| (s, v.clone())))
            .filter(|(_, v)| kind_filter.is_none_or(|k| kind(v.value.as_deref().unwrap_or_default()) == k))
            .take(limit.unwrap_or(usize::MAX))
            .collect())
    }

    /// How many events a space holds (of type `kind`, if given), as of `as_of`.
    pub fn count_events(
        &self,
        branch: BranchId,
        space: SpaceId,
        kind_filter: Option<&str>,
        as_of: Option<u64>,
    ) -> Result<u64> {
        let log = self.log(branch, space)?;
        if kind_filter.is_none() && as_of.is_none() {
            return Ok(tail(&log, space).0);
        }
        Ok(scan(&log, space)
            .filter_map(|(_, h)| h.live_at(as_of))
            .filter(|v| kind_filter.is_none_or(|k| kind(v.value.as_deref().unwrap_or_default()) == k))
            .count() as u64)
    }

    /// Checks the hash chain and the numbering of a space's events; returns the first event that does not fit.
    pub fn verify_events(&self, branch: BranchId, space: SpaceId) -> Result<Option<u64>> {
        let log = self.log(branch, space)?;
        let mut prev = GENESIS;
        for (expected, (seq, h)) in scan(&log, space).enumerate() {
            let rec = h.value.as_deref().unwrap_or_default();
            if seq != expected as u64 || rec.len() < 32 || rec[..32] != prev {
                return Ok(Some(expected as u64));
            }
            prev = hash(seq, rec);
        }
        Ok(None)
    }
}

/// Checks an event before anything is written: its type names like a key, its payload is a valid value.
pub fn check_event(kind: &str, payload: &[u8]) -> Result<()> {
    check_type(kind)?;
    value::validate(payload)
}
