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
pub fn record(ops: &[Op]) -> Result<Vec<u8>> {
    frame(rmp_serde::to_vec(ops).expect("ops always serialize"), MAX_RECORD)
}

/// A record of `payload`, or `LIMIT_EXCEEDED` past `limit` bytes: refused before anything is written, as a longer
/// one logged would not fit its length field, and the log could not be read back.
fn frame(payload: Vec<u8>, limit: usize) -> Result<Vec<u8>> {
    if payload.len() > limit {
        return Err(Error::new(
            ErrorCode::LimitExceeded,
            format!(
                "this commit takes {} bytes in the log, more than the {limit} one record holds; nothing was \
                 written: make the change in smaller commits",
                payload.len()
            ),
        ));
    }
    let mut r = Vec::with_capacity(RECORD_HEADER + payload.len());
    r.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    r.extend_from_slice(&crc32c::crc32c(&payload).to_le_bytes());
    r.extend_from_slice(&payload);
    Ok(r)
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

/// Most bytes one record can hold: what its 4-byte length can say. The largest transaction (1,000,000 writes of
/// the longest keys, and 256 MiB of values) takes about 1.3 GB; a merge of many keys may take more (`record`).
const MAX_RECORD: usize = u32::MAX as usize;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_past_the_limit_is_refused_and_one_at_it_reads_back() {
        let e = frame(vec![0; 11], 10).unwrap_err();
        assert_eq!(e.code, ErrorCode::LimitExceeded);
        assert!(e.message.contains("11 bytes"), "{}", e.message);
        let ops = vec![Op::DeleteBranch { id: 3 }];
        let payload = rmp_serde::to_vec(&ops).unwrap();
        let mut log = header();
        log.extend(frame(payload.clone(), payload.len()).unwrap());
        let read = read("strata-1.log", &log).unwrap();
        assert_eq!(read.commits.len(), 1);
        assert!(read.torn_at.is_none());
    }
}
