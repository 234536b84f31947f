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

use sha2::{Digest, Sha256};
use smallvec::smallvec;

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
pub fn record(prev: &Hash, kind: &str, payload: &[u8]) -> Bytes {
    let mut header = Vec::with_capacity(6);
    let _ = rmp::encode::write_array_len(&mut header, 2);
    let _ = rmp::encode::write_str_len(&mut header, kind.len() as u32);
    Bytes::join(&[prev, &header, kind.as_bytes(), payload])
}

/// `[type, payload]` as MessagePack: the part of a record hosts decode.
pub fn body(record: &[u8]) -> &[u8] {
    record.get(32..).unwrap_or_default()
}

/// The type and the payload of an event, read from its record.
fn parts(record: &[u8]) -> (&str, &[u8]) {
    let b = body(record);
    let mut rd = b.get(1..).unwrap_or_default();
    let len = rmp::decode::read_str_len(&mut rd).unwrap_or(0) as usize;
    let start = b.len() - rd.len();
    let kind = std::str::from_utf8(b.get(start..start + len).unwrap_or_default()).unwrap_or_default();
    (kind, b.get(start + len..).unwrap_or_default())
}

fn kind(record: &[u8]) -> &str {
    parts(record).0
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
    log.range(bounds(space)).filter_map(|(k, h)| keyspace::event_seq(k).map(|s| (s, h)))
}

/// The next sequence number of a space and the hash the next event chains to.
pub fn tail(log: &Map, space: SpaceId) -> (u64, Hash) {
    match scan(log, space).next_back() {
        Some((seq, h)) => (seq + 1, hash(seq, h.value.as_deref().unwrap_or_default())),
        None => (0, GENESIS),
    }
}

/// The events of `events` (in sequence order) after `after` (exclusive), of type `kind` if given: the selection of a
/// list or count, on the database or in a transaction.
pub fn select<'a>(
    events: impl Iterator<Item = (u64, &'a Version)>,
    kind_filter: Option<&'a str>,
    after: Option<u64>,
) -> impl Iterator<Item = (u64, &'a Version)> {
    let from = after.map_or(0, |a| a.saturating_add(1));
    events
        .skip_while(move |(s, _)| *s < from)
        .filter(move |(_, v)| kind_filter.is_none_or(|k| kind(v.value.as_deref().unwrap_or_default()) == k))
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
            let (kind, payload) = parts(h.value.as_deref().unwrap_or_default());
            let copy = record(&prev, kind, payload);
            prev = hash(seq, &copy);
            let key = keyspace::event_key(space, seq);
            writes.push(Write { key, value: Some(copy), origin: Some(h.origin) });
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
            let shard = locked.shard(&first);
            let (seq, prev) = shard.tails.get(&space).copied().unwrap_or_else(|| tail(&shard.map, space));
            debug_assert_eq!((seq, prev), tail(&shard.map, space), "the cached tail of a log is its last event");
            let write = Write::new(keyspace::event_key(space, seq), Some(record(&prev, kind, payload)));
            Ok((smallvec![write], seq))
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
        let k = keyspace::event_key(space, seq);
        let inner = self.read();
        let shard = inner.branch(branch)?.shard(&k);
        Ok(shard.map.get(&k).and_then(|h| h.live_at(as_of)).map(f))
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
    ) -> Result<Vec<(u64, Version)>> {
        let log = self.log(branch, space)?;
        let live = scan(&log, space).filter_map(|(s, h)| h.live_at(as_of).map(|v| (s, v)));
        Ok(select(live, kind_filter, after).take(limit.unwrap_or(usize::MAX)).map(|(s, v)| (s, v.clone())).collect())
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
        let live = scan(&log, space).filter_map(|(s, h)| h.live_at(as_of).map(|v| (s, v)));
        Ok(select(live, kind_filter, None).count() as u64)
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::keyspace::DEFAULT_SPACE as S;
    use crate::merge::Strategy;

    fn wall() -> u64 {
        1
    }

    fn logged(db: &Database, branch: BranchId) -> Vec<(String, Vec<u8>)> {
        let events = db.events(branch, S, None, None, None, None).unwrap();
        events
            .iter()
            .map(|(_, v)| parts(v.value.as_deref().unwrap()))
            .map(|(k, p)| (k.to_string(), p.to_vec()))
            .collect()
    }

    #[test]
    fn appends_after_forks_merges_and_transactions_chain_onto_the_last_event() {
        // Built in debug, every append also checks its cached tail against the log's last event.
        let db = Arc::new(Database::new(wall));
        let long_type = "t".repeat(40);
        db.append_event(0, S, "a", &[1]).unwrap();
        let fork = db.fork_branch("f", 0).unwrap();
        db.append_event(fork, S, &long_type, &[2]).unwrap();
        db.append_event(0, S, "b", &[3]).unwrap();
        let mut tx = db.begin(0, false).unwrap();
        tx.append_event(S, "c", &[4]).unwrap();
        tx.commit().unwrap();
        db.merge(fork, 0, Strategy::Strict).unwrap();
        assert_eq!(db.append_event(0, S, "d", &[5]).unwrap(), 4);
        let expected: Vec<(String, Vec<u8>)> = [("a", 1), ("b", 3), ("c", 4), (long_type.as_str(), 2), ("d", 5)]
            .map(|(k, p)| (k.to_string(), vec![p]))
            .into();
        assert_eq!(logged(&db, 0), expected);
        assert_eq!(db.verify_events(0, S).unwrap(), None);
        assert_eq!(db.append_event(fork, S, "e", &[6]).unwrap(), 2);
        assert_eq!(db.verify_events(fork, S).unwrap(), None);
    }
}
