//! The WebAssembly binding: converts arguments, forwards to `strata_core`, and throws errors with `code` set.
//! No engine logic lives here; see `strata_core` for what each call means. Its JavaScript names match the N-API
//! binding's, so the TypeScript layer drives both the same way.

#[cfg(target_arch = "wasm32")]
mod alloc;
#[cfg(target_arch = "wasm32")]
mod memcmp;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use strata_core::{self as core, wire, ErrorCode};
use wasm_bindgen::prelude::*;

type Result<T> = std::result::Result<T, JsValue>;

fn throw(code: ErrorCode, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&err, &"code".into(), &code.as_str().into());
    err.into()
}

fn closed() -> JsValue {
    throw(ErrorCode::Closed, "the database handle is closed; open the database again")
}

fn js<T>(r: core::Result<T>) -> Result<T> {
    r.map_err(|e| throw(e.code, &e.message))
}

fn ns(n: u32) -> Result<core::Namespace> {
    js(wire::namespace(n))
}

#[wasm_bindgen]
extern "C" {
    /// Milliseconds since `performance.timeOrigin`, with a fraction: microseconds in Node and Deno, coarser in
    /// browsers.
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

thread_local! {
    /// What turns `performance.now()` into milliseconds since the epoch; NaN until the first reading.
    static EPOCH_OFFSET: std::cell::Cell<f64> = const { std::cell::Cell::new(f64::NAN) };
}

/// Microseconds since the epoch (`std::time` panics on wasm32-unknown-unknown). `Date.now()` alone counts whole
/// milliseconds, which made every timestamp here a multiple of 1000 where the native backend's are not;
/// `performance.now()` is finer, but counts on a monotonic clock that drifts from the wall clock. So the wall clock
/// sets the offset, again whenever the two part by a millisecond or more (a clock step, a slow drift), and the fine
/// clock gives the microseconds. The engine's clock keeps timestamps strictly increasing across such a reset.
fn wall_clock() -> u64 {
    let wall = js_sys::Date::now();
    let fine = performance_now();
    let ms = EPOCH_OFFSET.with(|offset| {
        let t = offset.get() + fine;
        // Also true for the first reading, whose offset is NaN.
        if !((t - wall).abs() < 1.0) {
            offset.set(wall - fine);
            return wall;
        }
        t
    });
    (ms * 1000.0) as u64
}

#[wasm_bindgen]
extern "C" {
    /// The host's file access for one database directory (Node's or Deno's `fs`, synchronous), implemented in
    /// TypeScript (`ts/loader/host-fs.ts`); method names and meanings are those of `strata_core::storage::Storage`.
    pub type HostFs;
    #[wasm_bindgen(method, catch)]
    fn read(this: &HostFs, name: &str) -> std::result::Result<Option<Vec<u8>>, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn append(this: &HostFs, name: &str, data: &[u8]) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn sync(this: &HostFs, name: &str) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn replace(this: &HostFs, name: &str, data: &[u8]) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn truncate(this: &HostFs, name: &str, len: f64) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = createNew)]
    fn create_new(this: &HostFs, name: &str, data: &[u8]) -> std::result::Result<bool, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn remove(this: &HostFs, name: &str) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn list(this: &HostFs) -> std::result::Result<Vec<String>, JsValue>;
    #[wasm_bindgen(method, js_name = processAlive)]
    fn process_alive(this: &HostFs, pid: u32) -> bool;
    #[wasm_bindgen(method)]
    fn pid(this: &HostFs) -> u32;
    #[wasm_bindgen(method)]
    fn describe(this: &HostFs) -> String;
}

/// `HostFs` as the engine's `Storage`.
struct Host(HostFs);

// SAFETY: this module is built without threads (no atomics); the one JavaScript thread that owns the instance is
// the only one that can reach the value.
unsafe impl Send for Host {}
unsafe impl Sync for Host {}

fn io_error(e: JsValue) -> std::io::Error {
    let message = js_sys::Reflect::get(&e, &"message".into()).ok().and_then(|m| m.as_string());
    std::io::Error::other(message.unwrap_or_else(|| format!("{e:?}")))
}

impl core::storage::Storage for Host {
    fn read(&self, name: &str) -> std::io::Result<Option<Vec<u8>>> {
        self.0.read(name).map_err(io_error)
    }
    fn append(&self, name: &str, data: &[u8]) -> std::io::Result<()> {
        self.0.append(name, data).map_err(io_error)
    }
    fn sync(&self, name: &str) -> std::io::Result<()> {
        self.0.sync(name).map_err(io_error)
    }
    fn replace(&self, name: &str, data: &[u8]) -> std::io::Result<()> {
        self.0.replace(name, data).map_err(io_error)
    }
    fn truncate(&self, name: &str, len: u64) -> std::io::Result<()> {
        self.0.truncate(name, len as f64).map_err(io_error)
    }
    fn create_new(&self, name: &str, data: &[u8]) -> std::io::Result<bool> {
        self.0.create_new(name, data).map_err(io_error)
    }
    fn remove(&self, name: &str) -> std::io::Result<()> {
        self.0.remove(name).map_err(io_error)
    }
    fn list(&self) -> std::io::Result<Vec<String>> {
        self.0.list().map_err(io_error)
    }
    fn process_alive(&self, pid: u32) -> bool {
        self.0.process_alive(pid)
    }
    fn pid(&self) -> u32 {
        self.0.pid()
    }
    fn describe(&self) -> String {
        self.0.describe()
    }
}

/// One handle on an engine. Several handles may share an engine (`share`); closing one leaves the others open.
#[wasm_bindgen]
pub struct Database {
    db: Option<Arc<core::Database>>,
    /// Reads copy values here; JavaScript reads them in place from linear memory (see `wire::read_into`). Shared
    /// with the handle's transactions, whose reads land here too.
    read_buffer: ReadBuffer,
}

/// A handle's read buffer, shared with its transactions: a buffer of each transaction's own, allocated at its first
/// read, cost every transaction that reads one more allocation and the views JavaScript derives from it.
type ReadBuffer = Rc<RefCell<Vec<u8>>>;

impl Database {
    fn new(db: Arc<core::Database>) -> Database {
        Database { db: Some(db), read_buffer: ReadBuffer::default() }
    }

    fn db(&self) -> Result<&Arc<core::Database>> {
        self.db.as_ref().ok_or_else(closed)
    }
}

#[wasm_bindgen]
impl Database {
    /// An in-memory database: private, or the one called `name` (named databases are private to this instance).
    pub fn memory(name: Option<String>) -> Database {
        Database::new(match name {
            Some(name) => core::named_memory(&name, wall_clock),
            None => Arc::new(core::Database::new(wall_clock)),
        })
    }

    /// The on-disk database reached through `host`, shared with every other open of its directory in this
    /// instance. The host calls `flush` on a timer for `standard` durability: there are no threads here.
    pub fn open(
        host: HostFs,
        durability: &str,
        read_only: bool,
        max_versions: Option<f64>,
        max_age_ms: Option<f64>,
    ) -> Result<Database> {
        let options = js(wire::open_options(durability, read_only, max_versions, max_age_ms))?;
        js(core::open_storage(std::sync::Arc::new(Host(host)), options, wall_clock)).map(Database::new)
    }

    /// Drops old versions (the given limits, or else the retention given at open); returns how many.
    pub fn compact(&self, max_versions: Option<f64>, max_age_ms: Option<f64>) -> Result<f64> {
        js(wire::compact(self.db()?, max_versions, max_age_ms)).map(|n| n as f64)
    }

    /// Makes every acknowledged write durable now.
    pub fn flush(&self) -> Result<()> {
        js(self.db()?.flush())
    }

    /// Writes a snapshot and drops the log it covers.
    pub fn checkpoint(&self) -> Result<()> {
        js(self.db()?.checkpoint())
    }

    /// Another handle on the same engine.
    pub fn share(&self) -> Result<Database> {
        Ok(Database::new(self.db()?.clone()))
    }

    /// The read buffer stays: the handle's unfinished transactions still read their snapshots into it.
    pub fn close(&mut self) {
        self.db = None;
    }

    /// Makes the read buffer `capacity` bytes long; returns its address in linear memory.
    #[wasm_bindgen(js_name = setReadBuffer)]
    pub fn set_read_buffer(&mut self, capacity: usize) -> usize {
        let mut buffer = self.read_buffer.borrow_mut();
        *buffer = vec![0; capacity];
        buffer.as_ptr() as usize
    }

    /// Copies the live version of a key into the read buffer; returns the length it needs, or -1 when absent.
    pub fn get(&mut self, ns_: u32, branch: f64, space: u32, key: &str, as_of: Option<f64>) -> Result<f64> {
        let db = self.db.as_ref().ok_or_else(closed)?;
        let out = &mut self.read_buffer.borrow_mut();
        let found =
            js(db.get(ns(ns_)?, branch as u64, space, key, wire::opt_u64(as_of), |v| wire::read_version_into(v, out)))?;
        Ok(found.map_or(-1.0, |n| n as f64))
    }

    /// Starts a transaction on `branch`.
    pub fn begin(&self, branch: f64, read_only: bool) -> Result<Transaction> {
        let tx = js(self.db()?.begin(branch as u64, read_only))?;
        Ok(Transaction { tx, read_buffer: self.read_buffer.clone() })
    }

    pub fn put(&self, ns_: u32, branch: f64, space: u32, key: &str, value: &[u8]) -> Result<f64> {
        js(self.db()?.put(ns(ns_)?, branch as u64, space, key, value)).map(|v| v as f64)
    }

    pub fn delete(&self, ns_: u32, branch: f64, space: u32, key: &str) -> Result<bool> {
        js(self.db()?.delete(ns(ns_)?, branch as u64, space, key))
    }

    /// The new version, or undefined when the expected version did not match.
    pub fn cas(
        &self,
        ns_: u32,
        branch: f64,
        space: u32,
        key: &str,
        expected: Option<f64>,
        value: &[u8],
    ) -> Result<Option<f64>> {
        js(wire::cas(self.db()?, ns_, branch, space, key, expected, value))
    }

    pub fn list(
        &self,
        ns_: u32,
        branch: f64,
        space: u32,
        prefix: Option<String>,
        after: Option<String>,
        limit: Option<f64>,
        as_of: Option<f64>,
    ) -> Result<Vec<u8>> {
        js(wire::list(self.db()?, ns_, branch, space, prefix.as_deref(), after.as_deref(), limit, as_of))
    }

    pub fn history(&self, ns_: u32, branch: f64, space: u32, key: &str, limit: Option<f64>) -> Result<Vec<u8>> {
        let limit = wire::limit(limit);
        js(self.db()?.history(ns(ns_)?, branch as u64, space, key, limit)).map(|h| wire::history(&h))
    }

    /// Appends an event; returns its sequence number.
    #[wasm_bindgen(js_name = appendEvent)]
    pub fn append_event(&self, branch: f64, space: u32, kind: &str, payload: &[u8]) -> Result<f64> {
        js(self.db()?.append_event(branch as u64, space, kind, payload)).map(|s| s as f64)
    }

    /// Copies event `seq` (`[type, payload]`) into the read buffer; returns the length it needs, or -1.
    #[wasm_bindgen(js_name = getEvent)]
    pub fn get_event(&mut self, branch: f64, space: u32, seq: f64, as_of: Option<f64>) -> Result<f64> {
        let db = self.db.as_ref().ok_or_else(closed)?;
        let out = &mut self.read_buffer.borrow_mut();
        let found =
            js(db.event(branch as u64, space, seq as u64, wire::opt_u64(as_of), |v| wire::read_event_into(v, out)))?;
        Ok(found.map_or(-1.0, |n| n as f64))
    }

    #[wasm_bindgen(js_name = listEvents)]
    pub fn list_events(
        &self,
        branch: f64,
        space: u32,
        kind: Option<String>,
        after: Option<f64>,
        limit: Option<f64>,
        as_of: Option<f64>,
    ) -> Result<Vec<u8>> {
        let limit = wire::limit(limit);
        let events =
            self.db()?.events(branch as u64, space, kind.as_deref(), wire::opt_u64(after), limit, wire::opt_u64(as_of));
        js(events).map(|e| wire::events(&e))
    }

    #[wasm_bindgen(js_name = countEvents)]
    pub fn count_events(&self, branch: f64, space: u32, kind: Option<String>, as_of: Option<f64>) -> Result<f64> {
        js(self.db()?.count_events(branch as u64, space, kind.as_deref(), wire::opt_u64(as_of))).map(|n| n as f64)
    }

    /// The first event whose hash chain or numbering is broken, or undefined.
    #[wasm_bindgen(js_name = verifyEvents)]
    pub fn verify_events(&self, branch: f64, space: u32) -> Result<Option<f64>> {
        js(self.db()?.verify_events(branch as u64, space)).map(|s| s.map(|s| s as f64))
    }

    #[wasm_bindgen(js_name = createCollection)]
    pub fn create_collection(&self, branch: f64, space: u32, name: &str, dimension: f64, metric: &str) -> Result<()> {
        js(self.db()?.create_collection(branch as u64, space, name, dimension as u64, metric))
    }

    #[wasm_bindgen(js_name = deleteCollection)]
    pub fn delete_collection(&self, branch: f64, space: u32, name: &str) -> Result<bool> {
        js(self.db()?.delete_collection(branch as u64, space, name))
    }

    #[wasm_bindgen(js_name = listCollections)]
    pub fn list_collections(&self, branch: f64, space: u32, as_of: Option<f64>) -> Result<Vec<u8>> {
        js(self.db()?.collections(branch as u64, space, wire::opt_u64(as_of))).map(|c| wire::collections(&c))
    }

    /// Writes a vector; the `Float32Array` is copied into linear memory in one block.
    #[wasm_bindgen(js_name = upsertVector)]
    pub fn upsert_vector(
        &self,
        branch: f64,
        space: u32,
        collection: &str,
        key: &str,
        vector: &[f32],
        metadata: &[u8],
    ) -> Result<f64> {
        js(self.db()?.upsert_vector(branch as u64, space, collection, key, vector, metadata)).map(|v| v as f64)
    }

    #[wasm_bindgen(js_name = getVector)]
    pub fn get_vector(
        &self,
        branch: f64,
        space: u32,
        collection: &str,
        key: &str,
        as_of: Option<f64>,
    ) -> Result<Option<Vec<u8>>> {
        js(self.db()?.vector(branch as u64, space, collection, key, wire::opt_u64(as_of), wire::vector))
    }

    #[wasm_bindgen(js_name = deleteVector)]
    pub fn delete_vector(&self, branch: f64, space: u32, collection: &str, key: &str) -> Result<bool> {
        js(self.db()?.delete_vector(branch as u64, space, collection, key))
    }

    pub fn search(
        &self,
        branch: f64,
        space: u32,
        collection: &str,
        query: &[f32],
        k: f64,
        filter: Option<Vec<u8>>,
        as_of: Option<f64>,
    ) -> Result<Vec<u8>> {
        let hits = self.db()?.search(
            branch as u64,
            space,
            collection,
            query,
            k as usize,
            filter.as_deref(),
            wire::opt_u64(as_of),
        );
        js(hits).map(|h| wire::hits(&h))
    }

    #[wasm_bindgen(js_name = branchId)]
    pub fn branch_id(&self, name: &str) -> Result<f64> {
        js(self.db()?.branch_id(name)).map(|id| id as f64)
    }

    #[wasm_bindgen(js_name = branchName)]
    pub fn branch_name(&self, id: f64) -> Result<String> {
        js(self.db()?.branch_name(id as u64))
    }

    #[wasm_bindgen(js_name = branchExists)]
    pub fn branch_exists(&self, name: &str) -> Result<bool> {
        Ok(self.db()?.branch_exists(name))
    }

    #[wasm_bindgen(js_name = createBranch)]
    pub fn create_branch(&self, name: &str) -> Result<f64> {
        js(self.db()?.create_branch(name)).map(|id| id as f64)
    }

    #[wasm_bindgen(js_name = forkBranch)]
    pub fn fork_branch(&self, name: &str, from: f64) -> Result<f64> {
        js(self.db()?.fork_branch(name, from as u64)).map(|id| id as f64)
    }

    #[wasm_bindgen(js_name = deleteBranch)]
    pub fn delete_branch(&self, name: &str) -> Result<()> {
        js(self.db()?.delete_branch(name))
    }

    #[wasm_bindgen(js_name = listBranches)]
    pub fn list_branches(&self) -> Result<Vec<u8>> {
        Ok(wire::branches(&self.db()?.list_branches()))
    }

    #[wasm_bindgen(js_name = timeRange)]
    pub fn time_range(&self, branch: f64, as_of: Option<f64>) -> Result<Vec<u8>> {
        js(self.db()?.time_range(branch as u64, wire::opt_u64(as_of))).map(wire::time_range)
    }

    #[wasm_bindgen(js_name = spaceId)]
    pub fn space_id(&self, name: &str) -> Result<u32> {
        js(self.db()?.space_id(name))
    }

    #[wasm_bindgen(js_name = listSpaces)]
    pub fn list_spaces(&self, branch: f64) -> Result<Vec<u8>> {
        js(self.db()?.list_spaces(branch as u64)).map(|s| wire::strings(&s))
    }

    #[wasm_bindgen(js_name = deleteSpace)]
    pub fn delete_space(&self, branch: f64, name: &str, force: bool) -> Result<bool> {
        js(self.db()?.delete_space(branch as u64, name, force))
    }

    pub fn diff(&self, a: f64, b: f64) -> Result<Vec<u8>> {
        js(self.db()?.diff(a as u64, b as u64)).map(|d| wire::diff(&d))
    }

    pub fn merge(&self, source: f64, target: f64, strategy: &str) -> Result<Vec<u8>> {
        let strategy = js(wire::strategy(strategy))?;
        js(self.db()?.merge(source as u64, target as u64, strategy)).map(|r| wire::merge_report(&r))
    }
}

/// A transaction: snapshot reads plus own writes, committed atomically (see `strata_core::Transaction`).
#[wasm_bindgen]
pub struct Transaction {
    tx: core::Transaction,
    /// Its database handle's.
    read_buffer: ReadBuffer,
}

#[wasm_bindgen]
impl Transaction {
    /// As `Database.get`, in the transaction's view.
    pub fn get(&mut self, ns_: u32, space: u32, key: &str) -> Result<f64> {
        let out = &mut self.read_buffer.borrow_mut();
        let found = js(self.tx.get(ns(ns_)?, space, key, |v, t, bytes| wire::read_into(v, t, bytes, out)))?;
        Ok(found.map_or(-1.0, |n| n as f64))
    }

    pub fn put(&mut self, ns_: u32, space: u32, key: &str, value: &[u8]) -> Result<f64> {
        js(self.tx.put(ns(ns_)?, space, key, value)).map(|v| v as f64)
    }

    pub fn delete(&mut self, ns_: u32, space: u32, key: &str) -> Result<bool> {
        js(self.tx.delete(ns(ns_)?, space, key))
    }

    pub fn cas(&mut self, ns_: u32, space: u32, key: &str, expected: Option<f64>, value: &[u8]) -> Result<Option<f64>> {
        let expected = expected.map(|v| v as u64);
        js(self.tx.cas(ns(ns_)?, space, key, expected, value)).map(|v| v.map(|v| v as f64))
    }

    pub fn list(
        &mut self,
        ns_: u32,
        space: u32,
        prefix: Option<String>,
        after: Option<String>,
        limit: Option<f64>,
    ) -> Result<Vec<u8>> {
        let limit = wire::limit(limit);
        let keys = self.tx.list(ns(ns_)?, space, prefix.as_deref().unwrap_or(""), after.as_deref(), limit);
        js(keys).map(|k| wire::key_list(&k))
    }

    #[wasm_bindgen(js_name = appendEvent)]
    pub fn append_event(&mut self, space: u32, kind: &str, payload: &[u8]) -> Result<f64> {
        js(self.tx.append_event(space, kind, payload)).map(|s| s as f64)
    }

    /// As `Database.getEvent`, in the transaction's view.
    #[wasm_bindgen(js_name = getEvent)]
    pub fn get_event(&mut self, space: u32, seq: f64) -> Result<f64> {
        let out = &mut self.read_buffer.borrow_mut();
        let found = js(self.tx.event(space, seq as u64, |v| wire::read_event_into(v, out)))?;
        Ok(found.map_or(-1.0, |n| n as f64))
    }

    #[wasm_bindgen(js_name = listEvents)]
    pub fn list_events(
        &mut self,
        space: u32,
        kind: Option<String>,
        after: Option<f64>,
        limit: Option<f64>,
    ) -> Result<Vec<u8>> {
        let limit = wire::limit(limit);
        js(self.tx.events(space, kind.as_deref(), wire::opt_u64(after), limit)).map(|e| wire::events(&e))
    }

    #[wasm_bindgen(js_name = countEvents)]
    pub fn count_events(&mut self, space: u32, kind: Option<String>) -> Result<f64> {
        js(self.tx.count_events(space, kind.as_deref())).map(|n| n as f64)
    }

    pub fn commit(&mut self) -> Result<()> {
        js(self.tx.commit())
    }

    pub fn rollback(&mut self) {
        self.tx.rollback();
    }

    /// Begins a new transaction in this finished one (see `strata_core::Transaction::restart`).
    pub fn restart(&mut self, branch: f64, read_only: bool) -> Result<()> {
        js(self.tx.restart(branch as u64, read_only))
    }
}

/// The engine's error codes, for the test that checks the TypeScript list against them.
#[wasm_bindgen(js_name = errorCodes)]
pub fn error_codes() -> Vec<String> {
    ErrorCode::ALL.iter().map(|c| c.as_str().to_string()).collect()
}
