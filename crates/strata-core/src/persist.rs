//! The on-disk side of a database: the log it appends commits to, how durable each append is, checkpoints,
//! recovery and the directory lock.
//!
//! Files: `strata.snap` (the last checkpoint), `log-NNNNNNNN.wal` (commits since; a checkpoint starts the next
//! generation and deletes the ones it covers) and `LOCK` (the id of the process that has the directory open).

use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use crate::error::{fail, Error, ErrorCode, Result};
use crate::log;
use crate::ops::Op;
use crate::snapshot;
use crate::storage::Storage;

/// When a write may return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// After its log record is fsynced; concurrent writers share fsyncs (group commit).
    Always,
    /// After its log record reaches the OS; fsync follows within 100 ms (`Persist::sync` on a timer).
    Standard,
    /// Logged in memory; written on flush, checkpoint and close.
    None,
}

/// How an on-disk database is opened.
#[derive(Debug, Clone, Copy)]
pub struct OpenOptions {
    pub durability: Durability,
    pub read_only: bool,
    /// A checkpoint starts automatically when the current log grows past this many bytes.
    pub checkpoint_bytes: u64,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions { durability: Durability::Standard, read_only: false, checkpoint_bytes: 64 * 1024 * 1024 }
    }
}

pub const LOCK: &str = "LOCK";

struct LogState {
    generation: u64,
    /// Bytes in the current log file (what a failed append is cut back to).
    len: u64,
    /// Records appended so far; the numbers that durability waits are expressed in.
    appended: u64,
    /// Records logged but not yet written (`Durability::None`).
    pending: Vec<u8>,
    /// Log generations before `generation` still on disk (deleted once a snapshot covers them).
    oldest: u64,
    /// A failed append that could not be undone: the log may end in garbage, so nothing more is written.
    broken: Option<String>,
}

struct SyncState {
    synced: u64,
    syncing: bool,
}

pub struct Persist {
    storage: Arc<dyn Storage>,
    options: OpenOptions,
    log: Mutex<LogState>,
    sync: Mutex<SyncState>,
    synced: Condvar,
    locked: bool,
}

fn io(storage: &dyn Storage, what: &str, e: std::io::Error) -> Error {
    Error::new(ErrorCode::Io, format!("{what} in {} failed: {e}", storage.describe()))
}

/// Takes the directory lock: a `LOCK` file holding our process id. A lock whose process is gone is stale and taken
/// over; one held by a live process (this one included: another engine instance) is `LOCKED`.
fn lock(storage: &dyn Storage) -> Result<()> {
    let me = storage.pid().to_string();
    for _ in 0..2 {
        if storage.create_new(LOCK, me.as_bytes()).map_err(|e| io(storage, "creating LOCK", e))? {
            return Ok(());
        }
        let holder = storage.read(LOCK).map_err(|e| io(storage, "reading LOCK", e))?.unwrap_or_default();
        let pid = String::from_utf8_lossy(&holder).trim().parse::<u32>().ok();
        if let Some(pid) = pid.filter(|p| storage.process_alive(*p) || *p == storage.pid()) {
            return fail!(
                Locked,
                "{} is open in process {pid}; close it there first (or open with readOnly: true)",
                storage.describe()
            );
        }
        storage.remove(LOCK).map_err(|e| io(storage, "removing a stale LOCK", e))?;
    }
    fail!(Locked, "{} is being opened by another process at the same moment", storage.describe())
}

/// What recovery hands to the database: the state to start from and the commits to replay on top of it.
pub struct Recovered {
    pub snapshot: Option<snapshot::State>,
    pub commits: Vec<(String, Vec<Op>)>,
}

impl Persist {
    /// Opens a directory: lock, read the snapshot and every log after it, cut a torn tail. The caller applies
    /// `Recovered` and, for a new directory (no snapshot), writes the first checkpoint.
    pub fn open(storage: Arc<dyn Storage>, options: OpenOptions) -> Result<(Persist, Recovered)> {
        if options.read_only {
            return Persist::recover(storage, options);
        }
        lock(&*storage)?;
        Persist::recover(storage.clone(), options).inspect_err(|_| {
            // Nothing was opened: leave the directory unlocked for the next attempt.
            let _ = storage.remove(LOCK);
        })
    }

    fn recover(storage: Arc<dyn Storage>, options: OpenOptions) -> Result<(Persist, Recovered)> {
        let fail_io = |what: &str, e| io(&*storage, what, e);
        let snapshot = match storage.read(snapshot::FILE).map_err(|e| fail_io("reading the snapshot", e))? {
            Some(bytes) => Some(snapshot::decode(&bytes)?),
            None => None,
        };
        let first = snapshot.as_ref().map_or(1, |s| s.next_log);
        if snapshot.is_none()
            && storage.read(&log::file_name(first)).map_err(|e| fail_io("reading the log", e))?.is_some()
        {
            return fail!(Corrupt, "{} has a log but no {}: the snapshot was lost", storage.describe(), snapshot::FILE);
        }
        let mut commits = Vec::new();
        let mut generation = first;
        let mut len = log::HEADER_LEN as u64;
        loop {
            let name = log::file_name(generation);
            let Some(bytes) = storage.read(&name).map_err(|e| fail_io("reading the log", e))? else { break };
            let is_last =
                storage.read(&log::file_name(generation + 1)).map_err(|e| fail_io("reading the log", e))?.is_none();
            let contents = log::read(&name, &bytes)?;
            commits.extend(contents.commits.into_iter().map(|ops| (name.clone(), ops)));
            len = bytes.len() as u64;
            if let Some(at) = contents.torn_at {
                if !is_last {
                    return fail!(
                        Corrupt,
                        "{name} is damaged at byte {at}: a later log exists, so this is not a crash tail"
                    );
                }
                len = at as u64;
                if !options.read_only {
                    storage.truncate(&name, len).map_err(|e| fail_io("cutting a torn log tail", e))?;
                }
            }
            if is_last {
                break;
            }
            generation += 1;
        }
        let exists = storage.read(&log::file_name(generation)).map_err(|e| fail_io("reading the log", e))?.is_some();
        if !exists && !options.read_only {
            storage.replace(&log::file_name(generation), &log::header()).map_err(|e| fail_io("creating the log", e))?;
        }
        let persist = Persist {
            storage,
            options,
            log: Mutex::new(LogState {
                generation,
                len,
                appended: 0,
                pending: Vec::new(),
                oldest: first,
                broken: None,
            }),
            sync: Mutex::new(SyncState { synced: 0, syncing: false }),
            synced: Condvar::new(),
            locked: !options.read_only,
        };
        Ok((persist, Recovered { snapshot, commits }))
    }

    pub fn options(&self) -> OpenOptions {
        self.options
    }

    /// Logs one commit (called under the database's write lock, so log order is commit order). Returns the
    /// record's number, for `wait`.
    pub fn append(&self, ops: &[Op]) -> Result<u64> {
        let record = log::record(ops);
        let mut log = self.log.lock();
        if let Some(why) = &log.broken {
            return fail!(Io, "{} cannot be written to any more: {why}; reopen the database", self.storage.describe());
        }
        if self.options.durability == Durability::None {
            log.pending.extend_from_slice(&record);
        } else {
            let name = log::file_name(log.generation);
            if let Err(e) = self.storage.append(&name, &record) {
                // Cut a partial record back off, so the log never holds garbage before later records.
                if let Err(undo) = self.storage.truncate(&name, log.len) {
                    log.broken = Some(format!("a write failed ({e}) and could not be undone ({undo})"));
                }
                return Err(io(&*self.storage, "appending to the log", e));
            }
            log.len += record.len() as u64;
        }
        log.appended += 1;
        Ok(log.appended)
    }

    /// Returns once record `n` is as durable as the mode promises: fsynced for `Always` (sharing one fsync among
    /// every writer waiting at the time), at once otherwise.
    pub fn wait(&self, n: u64) -> Result<()> {
        if self.options.durability != Durability::Always {
            return Ok(());
        }
        let mut s = self.sync.lock();
        loop {
            if s.synced >= n {
                return Ok(());
            }
            if s.syncing {
                self.synced.wait(&mut s);
                continue;
            }
            s.syncing = true;
            drop(s);
            let result = self.sync_log();
            s = self.sync.lock();
            s.syncing = false;
            if let Ok(upto) = result {
                s.synced = s.synced.max(upto);
            }
            self.synced.notify_all();
            result?;
        }
    }

    /// Writes pending records and fsyncs the current log; returns the number of records now durable.
    fn sync_log(&self) -> Result<u64> {
        let (name, upto) = {
            let mut log = self.log.lock();
            let name = log::file_name(log.generation);
            if !log.pending.is_empty() {
                let pending = std::mem::take(&mut log.pending);
                self.storage.append(&name, &pending).map_err(|e| io(&*self.storage, "writing the log", e))?;
                log.len += pending.len() as u64;
            }
            (name, log.appended)
        };
        self.storage.sync(&name).map_err(|e| io(&*self.storage, "syncing the log", e))?;
        Ok(upto)
    }

    /// Makes everything logged so far durable (the background sync of `Standard`, `flush`, `close`).
    pub fn sync(&self) -> Result<()> {
        if self.options.read_only || self.sync.lock().synced >= self.log.lock().appended {
            return Ok(());
        }
        let upto = self.sync_log()?;
        let mut s = self.sync.lock();
        s.synced = s.synced.max(upto);
        Ok(())
    }

    /// Whether the current log has grown past the automatic checkpoint threshold.
    pub fn wants_checkpoint(&self) -> bool {
        !self.options.read_only && self.log.lock().len > self.options.checkpoint_bytes
    }

    /// First half of a checkpoint, under the database's write lock: make the current log durable and start the
    /// next generation. Returns the generation the snapshot must name as its first uncovered log.
    pub fn rotate(&self) -> Result<u64> {
        self.sync()?;
        let mut log = self.log.lock();
        let next = log.generation + 1;
        self.storage
            .replace(&log::file_name(next), &log::header())
            .map_err(|e| io(&*self.storage, "starting a log", e))?;
        log.generation = next;
        log.len = log::HEADER_LEN as u64;
        Ok(next)
    }

    /// Second half, without the database lock: write the snapshot, then delete the logs it covers.
    pub fn install(&self, state: &snapshot::State) -> Result<()> {
        let bytes = snapshot::encode(state);
        self.storage.replace(snapshot::FILE, &bytes).map_err(|e| io(&*self.storage, "writing the snapshot", e))?;
        let mut log = self.log.lock();
        while log.oldest < state.next_log {
            self.storage
                .remove(&log::file_name(log.oldest))
                .map_err(|e| io(&*self.storage, "removing an old log", e))?;
            log.oldest += 1;
        }
        Ok(())
    }

    /// The first snapshot of a new directory.
    pub fn initialize(&self, state: &snapshot::State) -> Result<()> {
        self.install(state)
    }

    pub fn generation(&self) -> u64 {
        self.log.lock().generation
    }
}

impl Drop for Persist {
    fn drop(&mut self) {
        // Best effort: a failing disk at close cannot be reported; what was acknowledged as durable already is.
        let _ = self.sync();
        if self.locked {
            let _ = self.storage.remove(LOCK);
        }
    }
}
