//! The on-disk side of a database: the log it appends commits to, how durable each append is, checkpoints,
//! recovery and the directory lock.
//!
//! Files: `strata.snap` (the last checkpoint), `log-NNNNNNNN.wal` (commits since; a checkpoint starts the next
//! generation and deletes the ones it covers) and `LOCK` (the id of the process that has the directory open).

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::error::{fail, Error, ErrorCode, Result};
use crate::log;
use crate::ops::Op;
use crate::snapshot;
use crate::storage::Storage;

/// When a write may return. Ordered by what it promises: `None < Standard < Always`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Durability {
    /// Logged in memory; written on flush, checkpoint and close.
    None,
    /// After its log record reaches the OS; fsync follows within 100 ms (`Persist::sync` on a timer).
    Standard,
    /// After its log record is fsynced; concurrent writers share fsyncs (group commit).
    Always,
}

impl Durability {
    const ALL: [Durability; 3] = [Durability::None, Durability::Standard, Durability::Always];
}

/// How an on-disk database is opened.
#[derive(Debug, Clone, Copy)]
pub struct OpenOptions {
    pub durability: Durability,
    pub read_only: bool,
    /// A checkpoint starts automatically when the current log grows past this many bytes.
    pub checkpoint_bytes: u64,
    /// History kept by `Database::compact` and by every checkpoint: versions per key, and their age.
    pub max_versions: Option<u64>,
    pub max_age_micros: Option<u64>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            durability: Durability::Standard,
            read_only: false,
            checkpoint_bytes: 64 * 1024 * 1024,
            max_versions: None,
            max_age_micros: None,
        }
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
    /// How many records the last fsync made durable, and how long it took: what the next one waits for.
    batch: u64,
    took: Duration,
}

pub struct Persist {
    storage: Arc<dyn Storage>,
    /// As opened, but for `durability` and `read_only`: later opens of the engine change those (below).
    options: OpenOptions,
    /// The strongest durability any open of the engine asked for (`strengthen`).
    durability: AtomicU8,
    /// Whether a thread already fsyncs in the background for `Standard` (`claim_background_sync`).
    background_sync: AtomicBool,
    /// As opened, until `reopen` makes a reader the writer.
    read_only: AtomicBool,
    log: Mutex<LogState>,
    sync: Mutex<SyncState>,
    synced: Condvar,
    /// Whether this process holds the directory's `LOCK` (a writer), to remove it on drop.
    locked: AtomicBool,
}

impl LogState {
    fn new(state: &ReadState) -> LogState {
        LogState {
            generation: state.generation,
            len: state.len,
            appended: 0,
            pending: Vec::new(),
            oldest: state.generation.min(state.first),
            broken: None,
        }
    }
}

impl SyncState {
    fn new() -> SyncState {
        SyncState { synced: 0, syncing: false, batch: 1, took: Duration::ZERO }
    }
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
        if pid == Some(storage.pid()) {
            return fail!(
                Locked,
                "{} is already open in this process by another engine instance (with WebAssembly, every worker \
                 thread has its own); open it from one thread, or use the native backend, which shares one engine",
                storage.describe()
            );
        }
        if let Some(pid) = pid.filter(|p| storage.process_alive(*p)) {
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

/// What reading a directory found.
struct ReadState {
    recovered: Recovered,
    /// The first log generation the snapshot does not cover.
    first: u64,
    /// The generation appends go to, and its length after any torn tail is cut.
    generation: u64,
    len: u64,
}

/// Reads the snapshot and every log after it; cuts a torn tail and removes logs the snapshot covers (unless
/// read-only).
fn read_state(storage: &dyn Storage, read_only: bool) -> Result<ReadState> {
    let fail_io = |what: &str, e| io(storage, what, e);
    let snapshot = match storage.read(snapshot::FILE).map_err(|e| fail_io("reading the snapshot", e))? {
        Some(bytes) => Some(snapshot::decode(&bytes)?),
        None => None,
    };
    let mut logs: Vec<u64> = storage
        .list()
        .map_err(|e| fail_io("listing the directory", e))?
        .iter()
        .filter_map(|n| log::generation_of(n))
        .collect();
    logs.sort_unstable();
    let Some(snapshot) = snapshot else {
        // A new directory, or one whose very first open was cut short after starting its first log: nothing was
        // ever committed. Anything more is a database that lost its snapshot.
        let first_log = storage.read(&log::file_name(1)).map_err(|e| fail_io("reading the log", e))?;
        let never_used = logs.is_empty() || (logs == [1] && first_log.is_none_or(|b| b.len() <= log::HEADER_LEN));
        if !never_used {
            return fail!(Corrupt, "{} has logs but no {}: the snapshot was lost", storage.describe(), snapshot::FILE);
        }
        let recovered = Recovered { snapshot: None, commits: Vec::new() };
        return Ok(ReadState { recovered, first: 1, generation: 1, len: log::HEADER_LEN as u64 });
    };
    let first = snapshot.next_log;
    for stale in logs.iter().filter(|g| **g < first) {
        // A crash between writing the snapshot and deleting the logs it covers leaves them behind.
        if !read_only {
            storage.remove(&log::file_name(*stale)).map_err(|e| fail_io("removing an old log", e))?;
        }
    }
    let live: Vec<u64> = logs.into_iter().filter(|g| *g >= first).collect();
    if let Some((i, g)) = live.iter().enumerate().find(|(i, g)| **g != first + *i as u64) {
        return fail!(Corrupt, "{} is missing {} before log {g}", storage.describe(), log::file_name(first + i as u64));
    }
    let mut commits = Vec::new();
    let mut len = log::HEADER_LEN as u64;
    for (i, g) in live.iter().enumerate() {
        let name = log::file_name(*g);
        let bytes = storage.read(&name).map_err(|e| fail_io("reading the log", e))?.unwrap_or_default();
        let contents = log::read(&name, &bytes)?;
        commits.extend(contents.commits.into_iter().map(|ops| (name.clone(), ops)));
        len = bytes.len() as u64;
        if let Some(at) = contents.torn_at {
            if i + 1 < live.len() {
                return fail!(
                    Corrupt,
                    "{name} is damaged at byte {at}: a later log exists, so this is not a crash tail"
                );
            }
            len = at as u64;
            if !read_only {
                storage.truncate(&name, len).map_err(|e| fail_io("cutting a torn log tail", e))?;
            }
        }
    }
    let generation = live.last().copied().unwrap_or(first);
    Ok(ReadState { recovered: Recovered { snapshot: Some(snapshot), commits }, first, generation, len })
}

/// What recovery hands to the database: the state to start from and the commits to replay on top of it.
pub struct Recovered {
    pub snapshot: Option<snapshot::State>,
    pub commits: Vec<(String, Vec<Op>)>,
}

/// `read_state`, repeated for a reader until it saw one snapshot throughout: a read-only open can race a
/// checkpoint of the writer, which replaces the snapshot and then deletes the log it covers.
fn read_consistent(storage: &dyn Storage, read_only: bool) -> Result<ReadState> {
    let snapshot_id = |s: &dyn Storage| -> Result<Option<Vec<u8>>> {
        let bytes = s.read(snapshot::FILE).map_err(|e| io(s, "reading the snapshot", e))?;
        Ok(bytes.map(|b| b[..b.len().min(log::HEADER_LEN + 4)].iter().copied().chain(b.len().to_le_bytes()).collect()))
    };
    for _ in 0..16 {
        let before = snapshot_id(storage)?;
        let state = read_state(storage, read_only)?;
        if !read_only || snapshot_id(storage)? == before {
            return Ok(state);
        }
    }
    fail!(Io, "{} kept changing while being read; open it again", storage.describe())
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
        let state = read_consistent(&*storage, options.read_only)?;
        let persist = Persist {
            storage,
            options,
            durability: AtomicU8::new(options.durability as u8),
            background_sync: AtomicBool::new(false),
            read_only: AtomicBool::new(options.read_only),
            log: Mutex::new(LogState::new(&state)),
            sync: Mutex::new(SyncState::new()),
            synced: Condvar::new(),
            locked: AtomicBool::new(!options.read_only),
        };
        Ok((persist, state.recovered))
    }

    /// Reads the directory again, for a read-only engine that another open of this process wants to share: as
    /// its writer (taking the lock) when `options` is not read-only, else as a reader newer than before. The
    /// caller replaces its state with what comes back; on an error nothing here has changed.
    pub fn reopen(&self, options: OpenOptions) -> Result<Recovered> {
        let write = !options.read_only && self.is_read_only();
        let mut log = self.log.lock();
        if write {
            lock(&*self.storage)?;
        }
        let state = read_consistent(&*self.storage, !write).inspect_err(|_| {
            if write {
                let _ = self.storage.remove(LOCK);
            }
        })?;
        *log = LogState::new(&state);
        *self.sync.lock() = SyncState::new();
        if write {
            self.locked.store(true, Ordering::Release);
            self.read_only.store(false, Ordering::Release);
            self.durability.store(options.durability as u8, Ordering::Release);
        }
        Ok(state.recovered)
    }

    /// Gives back the lock a failed `reopen` as writer took: the engine stays the reader it was.
    pub fn demote(&self) {
        if self.locked.swap(false, Ordering::AcqRel) {
            let _ = self.storage.remove(LOCK);
        }
        self.read_only.store(true, Ordering::Release);
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only.load(Ordering::Acquire)
    }

    /// Creates the current log file if it does not exist yet (after the first snapshot of a new directory).
    pub fn ensure_log(&self) -> Result<()> {
        if self.is_read_only() {
            return Ok(());
        }
        let name = log::file_name(self.log.lock().generation);
        if self.storage.read(&name).map_err(|e| io(&*self.storage, "reading the log", e))?.is_none() {
            self.storage.replace(&name, &log::header()).map_err(|e| io(&*self.storage, "creating the log", e))?;
        }
        Ok(())
    }

    pub fn options(&self) -> OpenOptions {
        OpenOptions { durability: self.durability(), read_only: self.is_read_only(), ..self.options }
    }

    pub fn durability(&self) -> Durability {
        Durability::ALL[self.durability.load(Ordering::Acquire) as usize]
    }

    /// Raises the durability to `to` if that promises more: one engine serves every open of a directory in the
    /// process, so it keeps the strongest promise any of them was given. Records held back by `None` are written
    /// out first, so none is left behind where the stronger mode does not look for it.
    pub fn strengthen(&self, to: Durability) -> Result<()> {
        let mut log = self.log.lock();
        let from = self.durability();
        if to <= from || self.is_read_only() {
            return Ok(());
        }
        if from == Durability::None {
            self.write_pending(&mut log)?;
        }
        self.durability.store(to as u8, Ordering::Release);
        Ok(())
    }

    /// True the first time it is called: the caller starts the background fsync of `Standard`.
    pub fn claim_background_sync(&self) -> bool {
        !self.background_sync.swap(true, Ordering::AcqRel)
    }

    /// Logs one commit (called under the database's write lock, so log order is commit order). Returns the
    /// record's number, for `wait`.
    pub fn append(&self, ops: &[Op]) -> Result<u64> {
        let record = log::record(ops)?;
        let mut log = self.log.lock();
        if let Some(why) = &log.broken {
            return fail!(Io, "{} cannot be written to any more: {why}; reopen the database", self.storage.describe());
        }
        if self.durability() == Durability::None {
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
        if self.durability() != Durability::Always {
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
            let (synced, batch, took) = (s.synced, s.batch, s.took);
            drop(s);
            let (result, took) = self.gather_and_sync(synced + batch, took);
            s = self.sync.lock();
            s.syncing = false;
            if let Ok(upto) = result {
                (s.batch, s.took) = (upto.saturating_sub(synced).max(1), took);
                s.synced = s.synced.max(upto);
            }
            self.synced.notify_all();
            result?;
        }
    }

    /// The fsync of group commit: first waits, for at most half as long as the last fsync took, until `upto`
    /// records are logged (as many as the last fsync covered). Writers that shared the last fsync are back with
    /// their next record within microseconds; waiting for them costs far less than the fsync they would need
    /// next, and a lone writer (a batch of one) never waits. Returns how long the fsync took.
    #[cfg(not(target_family = "wasm"))]
    fn gather_and_sync(&self, upto: u64, took: Duration) -> (Result<u64>, Duration) {
        let start = std::time::Instant::now();
        while self.log.lock().appended < upto && start.elapsed() < took / 2 {
            std::thread::yield_now();
        }
        let start = std::time::Instant::now();
        (self.sync_log(), start.elapsed())
    }

    /// One WebAssembly instance runs one thread: there is never another writer to wait for (and no clock to
    /// wait with).
    #[cfg(target_family = "wasm")]
    fn gather_and_sync(&self, _: u64, took: Duration) -> (Result<u64>, Duration) {
        (self.sync_log(), took)
    }

    /// Writes pending records and fsyncs the current log; returns the number of records now durable.
    fn sync_log(&self) -> Result<u64> {
        let (name, upto) = {
            let mut log = self.log.lock();
            self.write_pending(&mut log)?;
            (log::file_name(log.generation), log.appended)
        };
        self.storage.sync(&name).map_err(|e| io(&*self.storage, "syncing the log", e))?;
        Ok(upto)
    }

    /// Writes the records `None` held back to the current log (not fsynced).
    fn write_pending(&self, log: &mut LogState) -> Result<()> {
        if log.pending.is_empty() {
            return Ok(());
        }
        let name = log::file_name(log.generation);
        if let Err(e) = self.storage.append(&name, &log.pending) {
            // Keep the records for the next flush, and cut off whatever part of them reached the file.
            if let Err(undo) = self.storage.truncate(&name, log.len) {
                log.broken = Some(format!("a write failed ({e}) and could not be undone ({undo})"));
            }
            return Err(io(&*self.storage, "writing the log", e));
        }
        log.len += log.pending.len() as u64;
        log.pending.clear();
        Ok(())
    }

    /// Makes everything logged so far durable (the background sync of `Standard`, `flush`, `close`).
    pub fn sync(&self) -> Result<()> {
        if self.is_read_only() || self.sync.lock().synced >= self.log.lock().appended {
            return Ok(());
        }
        let upto = self.sync_log()?;
        let mut s = self.sync.lock();
        s.synced = s.synced.max(upto);
        Ok(())
    }

    /// Whether the current log has grown past the automatic checkpoint threshold.
    pub fn wants_checkpoint(&self) -> bool {
        !self.is_read_only() && self.log.lock().len > self.options.checkpoint_bytes
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
        if *self.locked.get_mut() {
            let _ = self.storage.remove(LOCK);
        }
    }
}
