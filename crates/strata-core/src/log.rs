//! The write-ahead log: one record per commit, so a crash leaves each commit whole or absent.
//!
//! A log file starts with a header (`MAGIC`, format version). Each record is `[length u32 LE][crc32c u32 LE]`
//! followed by `length` bytes of payload: the commit's ops as MessagePack. Logs are numbered generations
//! (`log-00000001.wal`, ...); a checkpoint starts a new generation and deletes the ones its snapshot covers.

use crate::error::{fail, Error, ErrorCode, Result};
use crate::ops::Op;

pub const MAGIC: &[u8; 8] = b"STRATLOG";
/// The log format this build writes and reads.
pub const FORMAT: u32 = 1;
pub const HEADER_LEN: usize = 16;
const RECORD_HEADER: usize = 8;

pub fn file_name(generation: u64) -> String {
    format!("log-{generation:08}.wal")
}

pub fn header() -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_LEN);
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&FORMAT.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h
}

/// Frames one commit's ops as a record.
pub fn record(ops: &[Op]) -> Vec<u8> {
    let payload = rmp_serde::to_vec(ops).expect("ops always serialize");
    let mut r = Vec::with_capacity(RECORD_HEADER + payload.len());
    r.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    r.extend_from_slice(&crc32c::crc32c(&payload).to_le_bytes());
    r.extend_from_slice(&payload);
    r
}

/// What reading a log found: its commits, and where a torn last record begins (to be cut off), if any.
pub struct Contents {
    pub commits: Vec<Vec<Op>>,
    pub torn_at: Option<usize>,
}

fn corrupt(file: &str, offset: usize, what: &str) -> Error {
    Error::new(ErrorCode::Corrupt, format!("{file} is damaged at byte {offset}: {what}; restore it from a backup"))
}

/// Checks a file header: a wrong magic (or a version 0, or reserved bytes set) is damage, a newer format is a
/// database this build cannot read.
pub fn check_header(file: &str, bytes: &[u8], magic: &[u8; 8], format: u32) -> Result<()> {
    if bytes.len() < HEADER_LEN || &bytes[..8] != magic {
        return Err(corrupt(file, 0, "the file header is not a stratadb header"));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version > format {
        return fail!(
            Unsupported,
            "{file} was written by format version {version}; this stratadb reads versions up to {format}: upgrade stratadb"
        );
    }
    if version == 0 || bytes[12..16] != [0; 4] {
        return Err(corrupt(file, 8, "the file header has an impossible version or flags"));
    }
    Ok(())
}

/// Most bytes one record can hold: a transaction's 256 MiB of values, its keys and framing, with room to spare.
const MAX_RECORD: usize = 1 << 30;

/// Whether a record whose length runs past the end of the file was really cut short by a crash. An append that
/// was cut short wrote a prefix of the record, so the bytes after its header are part of its payload and no prefix
/// of them has the record's checksum; a damaged length field over a complete record would show one.
fn cut_short(payload: &[u8], crc: u32) -> bool {
    let mut state = 0;
    for (i, b) in payload.iter().enumerate() {
        if state == crc && rmp_serde::from_slice::<Vec<Op>>(&payload[..i]).is_ok() {
            return false;
        }
        state = crc32c::crc32c_append(state, std::slice::from_ref(b));
    }
    true
}

/// Reads a whole log file. A record cut short at the very end (or a zero-filled end, as some file systems leave
/// after a power loss) is a torn write from a crash: reported in `torn_at`, not an error. Damage anywhere before the
/// last record is `CORRUPT`, naming the file and the byte offset of the damaged record.
pub fn read(file: &str, bytes: &[u8]) -> Result<Contents> {
    check_header(file, bytes, MAGIC, FORMAT)?;
    let mut commits = Vec::new();
    let mut at = HEADER_LEN;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.len() < RECORD_HEADER || rest.iter().all(|b| *b == 0) {
            return Ok(Contents { commits, torn_at: Some(at) });
        }
        let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
        if len > MAX_RECORD {
            return Err(corrupt(file, at, "a record's length is impossible"));
        }
        let end = at + RECORD_HEADER + len;
        if end > bytes.len() {
            if cut_short(&rest[RECORD_HEADER..], crc) {
                return Ok(Contents { commits, torn_at: Some(at) });
            }
            return Err(corrupt(file, at, "a record's length does not match its contents"));
        }
        let payload = &bytes[at + RECORD_HEADER..end];
        if crc32c::crc32c(payload) != crc {
            if end == bytes.len() && cut_short(payload, crc) {
                return Ok(Contents { commits, torn_at: Some(at) });
            }
            return Err(corrupt(file, at, "a record's checksum does not match"));
        }
        let ops: Vec<Op> = rmp_serde::from_slice(payload)
            .map_err(|e| corrupt(file, at, &format!("a record does not decode ({e})")))?;
        commits.push(ops);
        at = end;
    }
    Ok(Contents { commits, torn_at: None })
}

/// The generation of a log file name, if it is one.
pub fn generation_of(name: &str) -> Option<u64> {
    name.strip_prefix("log-")?.strip_suffix(".wal")?.parse().ok()
}
