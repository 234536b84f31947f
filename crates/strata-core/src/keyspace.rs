//! Where a key lives: every entry of a branch's map is addressed by namespace, space and user key.
//!
//! All primitives of a branch share one ordered map. Its keys are bytes `[namespace][space id, 4 bytes BE][key]`,
//! so a scan of one namespace and space is a contiguous range, in the UTF-8 byte order of the user keys.

use crate::bytes::Bytes;

/// Which primitive a key belongs to; KV keys and state cells of the same name are different entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Namespace {
    Kv = 0,
    State = 1,
    /// JSON documents: whole documents as values, changed by path in the host.
    Json = 2,
    /// Event logs: the user key is the sequence number, 8 bytes big-endian (see `events`).
    Events = 3,
    /// Vectors: the user key is `collection \0 key` (see `vectors`).
    Vectors = 4,
    /// Vector collections: the user key is the collection name, the value its dimension and metric.
    Collections = 5,
}

impl Namespace {
    pub const ALL: [Namespace; 6] = [
        Namespace::Kv,
        Namespace::State,
        Namespace::Json,
        Namespace::Events,
        Namespace::Vectors,
        Namespace::Collections,
    ];

    /// Namespaces hosts address with plain string keys through the generic calls.
    pub fn is_keyed(self) -> bool {
        matches!(self, Namespace::Kv | Namespace::State | Namespace::Json)
    }

    pub fn from_u8(n: u8) -> Option<Namespace> {
        Namespace::ALL.into_iter().find(|ns| *ns as u8 == n)
    }
}

/// Spaces are interned database-wide; the id is what the map keys carry.
pub type SpaceId = u32;
pub const DEFAULT_SPACE: SpaceId = 0;

/// An encoded map key.
pub type StoreKey = Bytes;

/// Bytes before the user key: namespace and space id.
pub const HEADER: usize = 5;

pub fn store_key(ns: Namespace, space: SpaceId, key: &str) -> StoreKey {
    StoreKey::concat(&range_start(ns, space), key.as_bytes())
}

/// The smallest encoded key of a namespace and space (the user key is empty, which no stored key is).
pub fn range_start(ns: Namespace, space: SpaceId) -> [u8; HEADER] {
    let s = space.to_be_bytes();
    [ns as u8, s[0], s[1], s[2], s[3]]
}

pub struct Decoded<'a> {
    pub ns: Namespace,
    pub space: SpaceId,
    pub key: &'a str,
}

/// The namespace of an encoded key, if its first byte names one.
pub fn namespace_of(k: &[u8]) -> Option<Namespace> {
    k.first().copied().and_then(Namespace::from_u8)
}

/// The space of an encoded key (without reading its user key, as `decode` does).
pub fn space_of(k: &[u8]) -> SpaceId {
    u32::from_be_bytes([k[1], k[2], k[3], k[4]])
}

pub fn decode(k: &[u8]) -> Decoded<'_> {
    Decoded {
        ns: Namespace::from_u8(k[0]).expect("store keys are built by store_key"),
        space: space_of(k),
        // Built from a &str by store_key, so always valid UTF-8.
        key: std::str::from_utf8(&k[HEADER..]).unwrap_or_default(),
    }
}

/// How a key is named in messages and diffs: the user key, or an event's sequence number.
pub fn label(k: &[u8]) -> String {
    match namespace_of(k) {
        Some(Namespace::Events) => event_seq(k).map_or_else(String::new, |s| s.to_string()),
        Some(Namespace::Vectors) => decode(k).key.replacen('\0', "/", 1),
        _ => decode(k).key.to_string(),
    }
}

/// The encoded key of event `seq`.
pub fn event_key(space: SpaceId, seq: u64) -> StoreKey {
    StoreKey::concat(&range_start(Namespace::Events, space), &seq.to_be_bytes())
}

/// The sequence number of an encoded event key.
pub fn event_seq(k: &[u8]) -> Option<u64> {
    k.get(HEADER..).and_then(|s| <[u8; 8]>::try_from(s).ok()).map(u64::from_be_bytes)
}
