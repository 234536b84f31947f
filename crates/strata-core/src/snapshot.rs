//! Snapshots: the whole database in one file, written by a checkpoint so the log before it can be dropped.
//!
//! Sharing survives the round trip: every version object is written once however many branches hold it, and a
//! forked branch is written as its differences from its parent, so a fork of a large branch costs what it changed,
//! not another copy. Layout: `MAGIC`, format version, reserved, crc32c of the body, body (MessagePack).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::branch::{BranchId, BranchState, Fork};
use crate::bytes::Bytes;
use crate::entries::Entries;
use crate::error::{Error, ErrorCode, Result};
use crate::keyspace::{SpaceId, StoreKey};
use crate::log::{check_header, HEADER_LEN};
use crate::tree::DiffItem;
use crate::version::{Head, Version};

pub const FILE: &str = "strata.snap";
pub const MAGIC: &[u8; 8] = b"STRATSNP";
pub const FORMAT: u32 = 1;

/// The state a snapshot holds; cloning it out of the database is O(branches), so it is taken under the lock and
/// written after the lock is released.
pub struct State {
    /// The first log generation the snapshot does not cover.
    pub next_log: u64,
    pub clock: u64,
    pub next_branch: BranchId,
    pub spaces: Vec<String>,
    pub branches: BTreeMap<BranchId, BranchState>,
    pub deleted: Vec<(BranchId, String)>,
    pub merge_bases: Vec<((BranchId, BranchId), (BranchId, Entries))>,
}

#[derive(Serialize, Deserialize)]
struct FileBody {
    next_log: u64,
    clock: u64,
    next_branch: BranchId,
    spaces: Vec<String>,
    versions: Vec<VersionRec>,
    branches: Vec<BranchRec>,
    deleted: Vec<(BranchId, String)>,
    merge_bases: Vec<MergeBaseRec>,
}

#[derive(Serialize, Deserialize)]
struct VersionRec {
    version: u64,
    timestamp: u64,
    origin: u64,
    value: Option<ByteBuf>,
    /// Index of the previous version in `versions`; always smaller than this one's.
    prev: Option<u32>,
}

#[derive(Serialize, Deserialize)]
struct BranchRec {
    id: BranchId,
    name: String,
    created_at: u64,
    fork: Option<(BranchId, String, u64)>,
    spaces: Vec<SpaceId>,
    oldest: Option<u64>,
    latest: Option<u64>,
    entries: MapRec,
}

#[derive(Serialize, Deserialize)]
struct MergeBaseRec {
    a: BranchId,
    b: BranchId,
    source: BranchId,
    entries: MapRec,
}

/// A branch map: whole, or as changes from another branch's map (`base`).
#[derive(Serialize, Deserialize)]
enum MapRec {
    Full(Vec<(ByteBuf, u32)>),
    Diff { base: BranchId, set: Vec<(ByteBuf, u32)>, remove: Vec<ByteBuf> },
}

/// Numbers every distinct version once, oldest of each chain first. A version is known by its key, its timestamp
/// and version number (which name one write of that key, see `Version::same`) and the address of the version below
/// it (a compaction may have cut one copy's chain and not another's), not by its own address: a head lives by value
/// in each map that holds it, and in the chain of a branch that wrote the key since, behind an `Arc`. So a version
/// several branches or a merge base hold is written once, as when every version was an `Arc`, and the file format
/// did not change.
#[derive(Default)]
struct VersionTable<'a> {
    index: HashMap<VersionId<'a>, u32>,
    recs: Vec<VersionRec>,
}

type VersionId<'a> = (&'a [u8], u64, u64, *const Version);

fn id<'a>(key: &'a [u8], v: &Version) -> VersionId<'a> {
    (key, v.timestamp, v.version, v.prev.as_ref().map_or(std::ptr::null(), Arc::as_ptr))
}

impl<'a> VersionTable<'a> {
    /// The record of `head`, the head of `key`'s chain, and of the versions below it.
    fn intern(&mut self, key: &'a [u8], head: &Version) -> u32 {
        let mut fresh = Vec::new();
        let mut below = None;
        let mut cur = Some(head);
        while let Some(v) = cur {
            if let Some(i) = self.index.get(&id(key, v)) {
                below = Some(*i);
                break;
            }
            fresh.push(v);
            cur = v.prev.as_deref();
        }
        for v in fresh.into_iter().rev() {
            let i = self.recs.len() as u32;
            self.recs.push(VersionRec {
                version: v.version,
                timestamp: v.timestamp,
                origin: v.origin,
                value: v.value.as_deref().map(|b| ByteBuf::from(b.to_vec())),
                prev: below,
            });
            self.index.insert(id(key, v), i);
            below = Some(i);
        }
        below.expect("a chain has a head")
    }

    fn map(&mut self, entries: &'a Entries, base: Option<(BranchId, &'a Entries)>) -> MapRec {
        match base {
            None => MapRec::Full(entries.iter().map(|(k, h)| (ByteBuf::from(k.to_vec()), self.intern(k, h))).collect()),
            Some((id, from)) => {
                let (mut set, mut remove) = (Vec::new(), Vec::new());
                for item in from.diff(entries) {
                    match item {
                        DiffItem::Add(k, h) | DiffItem::Update { new: (k, h), .. } => {
                            set.push((ByteBuf::from(k.to_vec()), self.intern(k, h)))
                        }
                        DiffItem::Remove(k, _) => remove.push(ByteBuf::from(k.to_vec())),
                    }
                }
                MapRec::Diff { base: id, set, remove }
            }
        }
    }
}

pub fn encode(state: &State) -> Vec<u8> {
    let mut table = VersionTable::default();
    let branches = state
        .branches
        .iter()
        .map(|(id, b)| {
            let base = b.fork.as_ref().and_then(|f| state.branches.get(&f.parent).map(|p| (f.parent, &p.entries)));
            BranchRec {
                id: *id,
                name: b.name.clone(),
                created_at: b.created_at,
                fork: b.fork.as_ref().map(|f| (f.parent, f.parent_name.clone(), f.at)),
                spaces: b.spaces.iter().copied().collect(),
                oldest: b.oldest,
                latest: b.latest,
                entries: table.map(&b.entries, base),
            }
        })
        .collect();
    let merge_bases = state
        .merge_bases
        .iter()
        .map(|((a, b), (source, entries))| MergeBaseRec {
            a: *a,
            b: *b,
            source: *source,
            entries: table.map(entries, state.branches.get(source).map(|s| (*source, &s.entries))),
        })
        .collect();
    let body = FileBody {
        next_log: state.next_log,
        clock: state.clock,
        next_branch: state.next_branch,
        spaces: state.spaces.clone(),
        versions: table.recs,
        branches,
        deleted: state.deleted.clone(),
        merge_bases,
    };
    let body = rmp_serde::to_vec(&body).expect("snapshots always serialize");
    let mut out = Vec::with_capacity(HEADER_LEN + 4 + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::Corrupt, format!("{FILE} is damaged: {what}; restore it from a backup"))
}

pub fn decode(bytes: &[u8]) -> Result<State> {
    check_header(FILE, bytes, MAGIC, FORMAT)?;
    if bytes.len() < HEADER_LEN + 4 {
        return Err(corrupt(format!("it ends at byte {} inside its header", bytes.len())));
    }
    let crc = u32::from_le_bytes(bytes[HEADER_LEN..HEADER_LEN + 4].try_into().expect("4 bytes"));
    let body = &bytes[HEADER_LEN + 4..];
    if crc32c::crc32c(body) != crc {
        return Err(corrupt(format!(
            "the checksum of the body (bytes {}..{}) does not match",
            HEADER_LEN + 4,
            bytes.len()
        )));
    }
    let body: FileBody = rmp_serde::from_slice(body).map_err(|e| corrupt(format!("its body does not decode ({e})")))?;

    let mut versions: Vec<Arc<Version>> = Vec::with_capacity(body.versions.len());
    for (i, r) in body.versions.into_iter().enumerate() {
        let prev = match r.prev {
            Some(p) if (p as usize) < i => Some(versions[p as usize].clone()),
            Some(p) => return Err(corrupt(format!("version {i} points forward to {p}"))),
            None => None,
        };
        let value = r.value.map(|b| Bytes::from(b.into_vec()));
        versions.push(Arc::new(Version { version: r.version, timestamp: r.timestamp, origin: r.origin, value, prev }));
    }
    // A map's head is a copy of its record, by value; the record's own `Arc` lives on only if a later version of
    // some chain is written over it (a branch that wrote the key since).
    let head = |i: u32| {
        versions.get(i as usize).map(|v| Head::new(Version::clone(v))).ok_or_else(|| corrupt(format!("no version {i}")))
    };
    let rebuild = |rec: MapRec, built: &BTreeMap<BranchId, BranchState>| -> Result<Entries> {
        match rec {
            MapRec::Full(items) => {
                items.into_iter().map(|(k, i)| Ok((StoreKey::from(&k[..]), head(i)?))).collect::<Result<Entries>>()
            }
            MapRec::Diff { base, set, remove } => {
                let mut m =
                    built.get(&base).ok_or_else(|| corrupt(format!("branch {base} is missing")))?.entries.clone();
                for k in remove {
                    m.remove(&k[..]);
                }
                for (k, i) in set {
                    m.insert(StoreKey::from(&k[..]), head(i)?);
                }
                Ok(m)
            }
        }
    };
    let mut branches = BTreeMap::new();
    for r in body.branches {
        let entries = rebuild(r.entries, &branches)?;
        let fork = r.fork.map(|(parent, parent_name, at)| Arc::new(Fork { parent, parent_name, at }));
        let spaces: BTreeSet<SpaceId> = r.spaces.into_iter().collect();
        let branch = BranchState {
            name: r.name,
            created_at: r.created_at,
            fork,
            entries,
            spaces,
            oldest: r.oldest,
            latest: r.latest,
        };
        branches.insert(r.id, branch);
    }
    let mut merge_bases = Vec::new();
    for m in body.merge_bases {
        merge_bases.push(((m.a, m.b), (m.source, rebuild(m.entries, &branches)?)));
    }
    Ok(State {
        next_log: body.next_log,
        clock: body.clock,
        next_branch: body.next_branch,
        spaces: body.spaces,
        branches,
        deleted: body.deleted,
        merge_bases,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{store_key, Namespace};

    fn branch(entries: Entries) -> BranchState {
        BranchState {
            name: "b".into(),
            created_at: 1,
            fork: None,
            entries,
            spaces: BTreeSet::new(),
            oldest: None,
            latest: None,
        }
    }

    #[test]
    fn heads_several_maps_hold_are_written_once_and_load_by_value() {
        let mut entries = Entries::new();
        for i in 0..100u64 {
            let value = Some(Bytes::from(&[i as u8][..]));
            let mut head = Head::new(Version { version: 1, timestamp: 5, origin: 5, value, prev: None });
            if i % 2 == 0 {
                head.push(7, 7, None);
            }
            entries.insert(store_key(Namespace::Kv, 0, &format!("k{i}")), head);
        }
        // A branch that wrote ten keys since: their old heads are in its chains, behind `Arc`s.
        let mut wrote = entries.clone();
        for i in 0..10u64 {
            let k = store_key(Namespace::Kv, 0, &format!("k{i}"));
            let mut head = wrote.get(&k).unwrap().clone();
            head.push(9, 9, None);
            wrote.insert(k, head);
        }
        // Branches with no fork between them (as when the parent was deleted) and a merge base: full maps.
        let state = State {
            next_log: 1,
            clock: 7,
            next_branch: 3,
            spaces: vec!["default".into()],
            branches: BTreeMap::from([(0, branch(wrote)), (1, branch(entries.clone())), (2, branch(entries.clone()))]),
            deleted: Vec::new(),
            merge_bases: vec![((0, 1), (5, entries.clone()))],
        };
        let bytes = encode(&state);
        let body: FileBody = rmp_serde::from_slice(&bytes[HEADER_LEN + 4..]).unwrap();
        assert_eq!(body.versions.len(), 160, "one record per version, whoever holds it and however");
        let back = decode(&bytes).unwrap();
        for b in back.branches.values().skip(1) {
            assert!(b.entries.iter().eq(entries.iter()));
            for ((_, h), (_, want)) in b.entries.iter().zip(entries.iter()) {
                let chain = |h: &Head| h.iter().map(|v| (v.version, v.timestamp, v.value.clone())).collect::<Vec<_>>();
                assert_eq!(chain(h), chain(want));
            }
        }
    }
}
