//! The byte format of results that cross into a host language, shared by both bindings so they cannot differ.
//!
//! Structured results (lists, histories, branch lists, diffs, merge reports) are returned as one MessagePack
//! array each, with stored values embedded as the raw MessagePack they already are, so the host decodes the whole
//! result in one pass with its value codec. Single-value reads use [`read_into`] instead: the value is copied into
//! a buffer the host reuses, behind a fixed header, which avoids allocating anything per read.

use rmp::encode;

use crate::branch::BranchInfo;
use crate::error::{fail, Result};
use crate::merge::{Change, MergeReport, Strategy};
use crate::version::Version;
use crate::Namespace;

/// Bytes before the value in a read buffer: version and timestamp as little-endian f64.
pub const READ_HEADER: usize = 16;

/// Writes a read result into `out` as `[version f64][timestamp f64][value]` if it fits; returns the length it
/// needs either way, so the host can grow its buffer and read again.
pub fn read_into(version: u64, timestamp: u64, value: &[u8], out: &mut [u8]) -> usize {
    let needed = READ_HEADER + value.len();
    if needed <= out.len() {
        out[..8].copy_from_slice(&(version as f64).to_le_bytes());
        out[8..16].copy_from_slice(&(timestamp as f64).to_le_bytes());
        out[READ_HEADER..needed].copy_from_slice(value);
    }
    needed
}

/// `read_into` for a stored version.
pub fn read_version_into(v: &Version, out: &mut [u8]) -> usize {
    read_into(v.version, v.timestamp, v.value.as_deref().unwrap_or_default(), out)
}

/// `read_into` for an event: its `[type, payload]` behind the header.
pub fn read_event_into(v: &Version, out: &mut [u8]) -> usize {
    read_into(v.version, v.timestamp, crate::events::body(v.value.as_deref().unwrap_or_default()), out)
}

/// `[[sequence, timestamp, type, payload], ...]`
pub fn events(events: &[(u64, Version)]) -> Vec<u8> {
    let mut out = Vec::new();
    array(&mut out, events.len());
    for (seq, v) in events {
        array(&mut out, 4);
        uint(&mut out, *seq);
        uint(&mut out, v.timestamp);
        // The body is `[type, payload]`: its elements follow the array marker byte.
        out.extend_from_slice(crate::events::body(v.value.as_deref().unwrap_or_default()).get(1..).unwrap_or_default());
    }
    out
}

/// `[[name, dimension, metric, count], ...]`
pub fn collections(items: &[crate::Collection]) -> Vec<u8> {
    let mut out = Vec::new();
    array(&mut out, items.len());
    for c in items {
        array(&mut out, 4);
        str(&mut out, &c.name);
        uint(&mut out, c.dimension as u64);
        str(&mut out, c.metric.name());
        uint(&mut out, c.count);
    }
    out
}

/// `[version, vector as bin (f32 LE), metadata]` of a stored vector.
pub fn vector(v: &Version) -> Vec<u8> {
    let (vector, metadata) = crate::split_vector(v.value.as_deref().unwrap_or_default());
    let mut out = Vec::with_capacity(16 + vector.len() + metadata.len());
    array(&mut out, 3);
    uint(&mut out, v.version);
    let _ = encode::write_bin(&mut out, vector);
    out.extend_from_slice(metadata);
    out
}

/// `[[key, score, metadata], ...]`, best first.
pub fn hits(hits: &[crate::Hit]) -> Vec<u8> {
    let mut out = Vec::new();
    array(&mut out, hits.len());
    for h in hits {
        array(&mut out, 3);
        str(&mut out, &h.key);
        let _ = encode::write_f64(&mut out, h.score as f64);
        out.extend_from_slice(&h.metadata);
    }
    out
}

/// Namespaces of string keys by their host-side number (event logs have calls of their own).
pub fn namespace(n: u32) -> Result<Namespace> {
    match u8::try_from(n).ok().and_then(Namespace::from_u8).filter(|ns| ns.is_keyed()) {
        Some(ns) => Ok(ns),
        None => fail!(InvalidValue, "unknown namespace {n}"),
    }
}

/// Durability modes by name.
pub fn durability(name: &str) -> Result<crate::Durability> {
    match name {
        "always" => Ok(crate::Durability::Always),
        "standard" => Ok(crate::Durability::Standard),
        "none" => Ok(crate::Durability::None),
        _ => fail!(InvalidValue, "unknown durability {name:?}; use 'always', 'standard' or 'none'"),
    }
}

/// Open options from host arguments (retention ages come in milliseconds).
pub fn open_options(
    durability: &str,
    read_only: bool,
    max_versions: Option<f64>,
    max_age_ms: Option<f64>,
) -> Result<crate::OpenOptions> {
    Ok(crate::OpenOptions {
        durability: self::durability(durability)?,
        read_only,
        max_versions: opt_u64(max_versions),
        max_age_micros: opt_u64(max_age_ms).map(|ms| ms.saturating_mul(1000)),
        ..Default::default()
    })
}

/// `Database::compact` with host arguments: the given limits, or else the retention configured at open.
pub fn compact(db: &crate::Database, max_versions: Option<f64>, max_age_ms: Option<f64>) -> Result<u64> {
    let rule = match (opt_u64(max_versions), opt_u64(max_age_ms)) {
        (None, None) => match db.retention() {
            Some(rule) => rule,
            None => return Ok(0),
        },
        (versions, age) => db.retention_rule(versions, age.map(|ms| ms.saturating_mul(1000))),
    };
    db.compact(rule)
}

/// `Database::cas` with the hosts' argument types: the new version, or none when `expected` did not match.
#[allow(clippy::too_many_arguments)]
pub fn cas(
    db: &crate::Database,
    ns: u32,
    branch: f64,
    space: u32,
    key: &str,
    expected: Option<f64>,
    value: &[u8],
) -> Result<Option<f64>> {
    let expected = expected.map(|v| v as u64);
    Ok(db.cas(namespace(ns)?, branch as u64, space, key, expected, value)?.map(|v| v as f64))
}

/// `Database::list` with the hosts' argument types, as `[key, ...]`.
#[allow(clippy::too_many_arguments)]
pub fn list(
    db: &crate::Database,
    ns: u32,
    branch: f64,
    space: u32,
    prefix: Option<&str>,
    after: Option<&str>,
    limit: Option<f64>,
    as_of: Option<f64>,
) -> Result<Vec<u8>> {
    let limit = self::limit(limit);
    db.list_with(namespace(ns)?, branch as u64, space, prefix.unwrap_or(""), after, limit, opt_u64(as_of), |keys| {
        key_list(keys)
    })
}

/// The keys of a list, joined by NUL, which no key holds (nothing for no keys). Not a MessagePack array: the host
/// splits one decoded string, where decoding each key on its own was a third of a 100-key list.
pub fn key_list<S: AsRef<str>>(keys: &[S]) -> Vec<u8> {
    let mut out = Vec::with_capacity(keys.iter().map(|k| k.as_ref().len() + 1).sum());
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            out.push(0);
        }
        out.extend_from_slice(k.as_ref().as_bytes());
    }
    out
}

/// Merge strategies by name.
pub fn strategy(name: &str) -> Result<Strategy> {
    match name {
        "strict" => Ok(Strategy::Strict),
        "theirs" => Ok(Strategy::Theirs),
        "ours" => Ok(Strategy::Ours),
        _ => fail!(InvalidValue, "unknown merge strategy {name:?}; use 'strict', 'theirs' or 'ours'"),
    }
}

// Writing into a Vec cannot fail, so the encoder results are discarded.
fn array(out: &mut Vec<u8>, n: usize) {
    let _ = encode::write_array_len(out, n as u32);
}
fn str(out: &mut Vec<u8>, s: &str) {
    let _ = encode::write_str(out, s);
}
fn uint(out: &mut Vec<u8>, n: u64) {
    let _ = encode::write_uint(out, n);
}
fn opt_uint(out: &mut Vec<u8>, n: Option<u64>) {
    match n {
        Some(n) => uint(out, n),
        None => encode::write_nil(out).unwrap_or(()),
    }
}
fn raw_or_nil(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(bytes) => out.extend_from_slice(bytes),
        None => encode::write_nil(out).unwrap_or(()),
    }
}

/// `[key, ...]`
pub fn strings<S: AsRef<str>>(items: &[S]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + items.iter().map(|s| s.as_ref().len() + 5).sum::<usize>());
    array(&mut out, items.len());
    items.iter().for_each(|s| str(&mut out, s.as_ref()));
    out
}

/// `[[version, timestamp, deleted, value], ...]`, newest first.
pub fn history(versions: &[Version]) -> Vec<u8> {
    let mut out = Vec::new();
    array(&mut out, versions.len());
    for v in versions {
        array(&mut out, 4);
        uint(&mut out, v.version);
        uint(&mut out, v.timestamp);
        let _ = encode::write_bool(&mut out, v.value.is_none());
        raw_or_nil(&mut out, v.value.as_deref());
    }
    out
}

/// `[[name, createdAt, parent, forkedAt], ...]`
pub fn branches(infos: &[BranchInfo]) -> Vec<u8> {
    let mut out = Vec::new();
    array(&mut out, infos.len());
    for b in infos {
        array(&mut out, 4);
        str(&mut out, &b.name);
        uint(&mut out, b.created_at);
        match &b.parent {
            Some(p) => str(&mut out, p),
            None => encode::write_nil(&mut out).unwrap_or(()),
        }
        opt_uint(&mut out, b.forked_at);
    }
    out
}

/// `[oldest, latest]`
pub fn time_range(range: (Option<u64>, Option<u64>)) -> Vec<u8> {
    let mut out = Vec::new();
    array(&mut out, 2);
    opt_uint(&mut out, range.0);
    opt_uint(&mut out, range.1);
    out
}

/// `[[namespace, space, key, kind, a, b], ...]` where kind is 0 added (only in b), 1 removed (only in a),
/// 2 modified.
pub fn diff(changes: &[Change]) -> Vec<u8> {
    let mut out = Vec::new();
    array(&mut out, changes.len());
    for c in changes {
        array(&mut out, 6);
        uint(&mut out, c.ns as u64);
        str(&mut out, &c.space);
        str(&mut out, &c.key);
        uint(
            &mut out,
            if c.a.is_none() {
                0
            } else if c.b.is_none() {
                1
            } else {
                2
            },
        );
        raw_or_nil(&mut out, c.a.as_deref());
        raw_or_nil(&mut out, c.b.as_deref());
    }
    out
}

/// `[applied, [conflict, ...], committed]`
pub fn merge_report(r: &MergeReport) -> Vec<u8> {
    let mut out = Vec::new();
    array(&mut out, 3);
    uint(&mut out, r.applied as u64);
    out.extend_from_slice(&strings(&r.conflicts));
    let _ = encode::write_bool(&mut out, r.committed);
    out
}

/// A host number that stands for an optional count or timestamp (hosts pass doubles); negatives mean none.
pub fn opt_u64(n: Option<f64>) -> Option<u64> {
    n.filter(|n| *n >= 0.0).map(|n| n as u64)
}

/// A `limit` argument: how many items at most, or no limit. Saturating: on WebAssembly `usize` has 32 bits, and a
/// plain cast would wrap a limit of 2^32 to 0.
pub fn limit(n: Option<f64>) -> Option<usize> {
    opt_u64(n).map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_list_is_the_keys_joined_by_nul() {
        assert_eq!(key_list::<&str>(&[]), b"");
        assert_eq!(key_list(&["only"]), b"only");
        assert_eq!(key_list(&["a", "é", "b c"]), "a\0é\0b c".as_bytes());
    }
}
