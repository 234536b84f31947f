//! The N-API binding: converts arguments, forwards to `strata_core`, and maps errors to `error.code`.
//! No engine logic lives here; see `strata_core` for what each call means.

use std::sync::Arc;

use napi::bindgen_prelude::{Float32Array, Uint8Array};
use napi_derive::napi;
use strata_core::{self as core, wire, ErrorCode};

mod key;
use key::Key;

type Result<T> = napi::Result<T, ErrorCode>;

fn js<T>(r: core::Result<T>) -> Result<T> {
    r.map_err(|e| napi::Error::new(e.code, e.message))
}

fn closed() -> napi::Error<ErrorCode> {
    napi::Error::new(ErrorCode::Closed, "the database handle is closed; open the database again".to_string())
}

fn ns(n: u32) -> Result<core::Namespace> {
    js(wire::namespace(n))
}

/// One handle on an engine. Several handles may share an engine (`share`); closing one leaves the others open.
#[napi]
pub struct Database {
    db: Option<Arc<core::Database>>,
    /// A buffer owned by JavaScript that reads copy into, so a read allocates nothing (see `wire::read_into`).
    read_buffer: Option<Uint8Array>,
}

impl Database {
    fn new(db: Arc<core::Database>) -> Database {
        Database { db: Some(db), read_buffer: None }
    }

    fn db(&self) -> Result<&Arc<core::Database>> {
        self.db.as_ref().ok_or_else(closed)
    }
}

#[napi]
impl Database {
    /// An in-memory database: private, or the process-wide one called `name`.
    #[napi(factory, catch_unwind)]
    pub fn memory(name: Option<String>) -> Database {
        Database::new(match name {
            Some(name) => core::named_memory(&name, core::system_clock),
            None => Arc::new(core::Database::new(core::system_clock)),
        })
    }

    /// The on-disk database in directory `path`, shared with every other open of it in this process.
    #[napi(factory, catch_unwind)]
    pub fn open(
        path: String,
        durability: String,
        read_only: bool,
        create: bool,
        max_versions: Option<f64>,
        max_age_ms: Option<f64>,
    ) -> Result<Database> {
        let options = js(wire::open_options(&durability, read_only, max_versions, max_age_ms))?;
        js(core::open_dir(&path, create, options, core::system_clock)).map(Database::new)
    }

    /// Drops old versions (the given limits, or else the retention given at open); returns how many.
    #[napi(catch_unwind)]
    pub fn compact(&self, max_versions: Option<f64>, max_age_ms: Option<f64>) -> Result<f64> {
        js(wire::compact(self.db()?, max_versions, max_age_ms)).map(|n| n as f64)
    }

    /// Makes every acknowledged write durable now.
    #[napi(catch_unwind)]
    pub fn flush(&self) -> Result<()> {
        js(self.db()?.flush())
    }

    /// Writes a snapshot and drops the log it covers.
    #[napi(catch_unwind)]
    pub fn checkpoint(&self) -> Result<()> {
        js(self.db()?.checkpoint())
    }

    /// Another handle on the same engine.
    #[napi(catch_unwind)]
    pub fn share(&self) -> Result<Database> {
        Ok(Database::new(self.db()?.clone()))
    }

    #[napi(catch_unwind)]
    pub fn close(&mut self) {
        self.db = None;
        self.read_buffer = None;
    }

    #[napi(catch_unwind)]
    pub fn set_read_buffer(&mut self, buffer: Uint8Array) {
        self.read_buffer = Some(buffer);
    }

    /// Copies the live version of a key into the read buffer; returns the length it needs, or -1 when absent.
    #[napi(catch_unwind)]
    pub fn get(&mut self, ns_: u32, branch: f64, space: u32, key: Key, as_of: Option<f64>) -> Result<f64> {
        let db = self.db.as_ref().ok_or_else(closed)?;
        // SAFETY: the buffer is only touched during this synchronous call, on the JavaScript thread that owns it.
        let out = self.read_buffer.as_mut().map(|b| unsafe { b.as_mut() }).unwrap_or_default();
        let found = js(
            db.get(ns(ns_)?, branch as u64, space, &key, wire::opt_u64(as_of), |v| wire::read_version_into(v, out))
        )?;
        Ok(found.map_or(-1.0, |n| n as f64))
    }

    /// Starts a transaction on `branch`.
    #[napi(catch_unwind)]
    pub fn begin(&self, branch: f64, read_only: bool) -> Result<Transaction> {
        let tx = js(self.db()?.begin(branch as u64, read_only))?;
        Ok(Transaction { tx, read_buffer: None })
    }

    #[napi(catch_unwind)]
    pub fn put(&self, ns_: u32, branch: f64, space: u32, key: Key, value: &[u8]) -> Result<f64> {
        js(self.db()?.put(ns(ns_)?, branch as u64, space, &key, value)).map(|v| v as f64)
    }

    #[napi(catch_unwind)]
    pub fn delete(&self, ns_: u32, branch: f64, space: u32, key: Key) -> Result<bool> {
        js(self.db()?.delete(ns(ns_)?, branch as u64, space, &key))
    }

    /// The new version, or null when the expected version did not match.
    #[napi(catch_unwind)]
    pub fn cas(
        &self,
        ns_: u32,
        branch: f64,
        space: u32,
        key: Key,
        expected: Option<f64>,
        value: &[u8],
    ) -> Result<Option<f64>> {
        let expected = expected.map(|v| v as u64);
        js(self.db()?.cas(ns(ns_)?, branch as u64, space, &key, expected, value)).map(|v| v.map(|v| v as f64))
    }

    #[napi(catch_unwind)]
    pub fn list(
        &self,
        ns_: u32,
        branch: f64,
        space: u32,
        prefix: Option<String>,
        after: Option<String>,
        limit: Option<f64>,
        as_of: Option<f64>,
    ) -> Result<Uint8Array> {
        let keys = self.db()?.list(
            ns(ns_)?,
            branch as u64,
            space,
            prefix.as_deref().unwrap_or(""),
            after.as_deref(),
            wire::opt_u64(limit).map(|n| n as usize),
            wire::opt_u64(as_of),
        );
        js(keys).map(|k| wire::strings(&k).into())
    }

    #[napi(catch_unwind)]
    pub fn history(&self, ns_: u32, branch: f64, space: u32, key: Key, limit: Option<f64>) -> Result<Uint8Array> {
        let limit = wire::opt_u64(limit).map(|n| n as usize);
        js(self.db()?.history(ns(ns_)?, branch as u64, space, &key, limit)).map(|h| wire::history(&h).into())
    }

    /// Appends an event; returns its sequence number.
    #[napi(catch_unwind)]
    pub fn append_event(&self, branch: f64, space: u32, kind: String, payload: &[u8]) -> Result<f64> {
        js(self.db()?.append_event(branch as u64, space, &kind, payload)).map(|s| s as f64)
    }

    /// Copies event `seq` (`[type, payload]`) into the read buffer; returns the length it needs, or -1.
    #[napi(catch_unwind)]
    pub fn get_event(&mut self, branch: f64, space: u32, seq: f64, as_of: Option<f64>) -> Result<f64> {
        let db = self.db.as_ref().ok_or_else(closed)?;
        // SAFETY: as in `get`.
        let out = self.read_buffer.as_mut().map(|b| unsafe { b.as_mut() }).unwrap_or_default();
        let found =
            js(db.event(branch as u64, space, seq as u64, wire::opt_u64(as_of), |v| wire::read_event_into(v, out)))?;
        Ok(found.map_or(-1.0, |n| n as f64))
    }

    #[napi(catch_unwind)]
    pub fn list_events(
        &self,
        branch: f64,
        space: u32,
        kind: Option<String>,
        after: Option<f64>,
        limit: Option<f64>,
        as_of: Option<f64>,
    ) -> Result<Uint8Array> {
        let limit = wire::opt_u64(limit).map(|n| n as usize);
        let events =
            self.db()?.events(branch as u64, space, kind.as_deref(), wire::opt_u64(after), limit, wire::opt_u64(as_of));
        js(events).map(|e| wire::events(&e).into())
    }

    #[napi(catch_unwind)]
    pub fn count_events(&self, branch: f64, space: u32, kind: Option<String>, as_of: Option<f64>) -> Result<f64> {
        js(self.db()?.count_events(branch as u64, space, kind.as_deref(), wire::opt_u64(as_of))).map(|n| n as f64)
    }

    /// The first event whose hash chain or numbering is broken, or null.
    #[napi(catch_unwind)]
    pub fn verify_events(&self, branch: f64, space: u32) -> Result<Option<f64>> {
        js(self.db()?.verify_events(branch as u64, space)).map(|s| s.map(|s| s as f64))
    }

    #[napi(catch_unwind)]
    pub fn create_collection(
        &self,
        branch: f64,
        space: u32,
        name: String,
        dimension: f64,
        metric: String,
    ) -> Result<()> {
        js(self.db()?.create_collection(branch as u64, space, &name, dimension as u64, &metric))
    }

    #[napi(catch_unwind)]
    pub fn delete_collection(&self, branch: f64, space: u32, name: String) -> Result<bool> {
        js(self.db()?.delete_collection(branch as u64, space, &name))
    }

    #[napi(catch_unwind)]
    pub fn list_collections(&self, branch: f64, space: u32, as_of: Option<f64>) -> Result<Uint8Array> {
        js(self.db()?.collections(branch as u64, space, wire::opt_u64(as_of))).map(|c| wire::collections(&c).into())
    }

    /// Writes a vector; the `Float32Array` is read in place.
    #[napi(catch_unwind)]
    pub fn upsert_vector(
        &self,
        branch: f64,
        space: u32,
        collection: String,
        key: Key,
        vector: Float32Array,
        metadata: &[u8],
    ) -> Result<f64> {
        js(self.db()?.upsert_vector(branch as u64, space, &collection, &key, &vector, metadata)).map(|v| v as f64)
    }

    #[napi(catch_unwind)]
    pub fn get_vector(
        &self,
        branch: f64,
        space: u32,
        collection: String,
        key: Key,
        as_of: Option<f64>,
    ) -> Result<Option<Uint8Array>> {
        js(self.db()?.vector(branch as u64, space, &collection, &key, wire::opt_u64(as_of), wire::vector))
            .map(|v| v.map(Uint8Array::from))
    }

    #[napi(catch_unwind)]
    pub fn delete_vector(&self, branch: f64, space: u32, collection: String, key: Key) -> Result<bool> {
        js(self.db()?.delete_vector(branch as u64, space, &collection, &key))
    }

    #[napi(catch_unwind)]
    pub fn search(
        &self,
        branch: f64,
        space: u32,
        collection: String,
        query: Float32Array,
        k: f64,
        filter: Option<Uint8Array>,
        as_of: Option<f64>,
    ) -> Result<Uint8Array> {
        let hits = self.db()?.search(
            branch as u64,
            space,
            &collection,
            &query,
            k as usize,
            filter.as_deref(),
            wire::opt_u64(as_of),
        );
        js(hits).map(|h| wire::hits(&h).into())
    }

    #[napi(catch_unwind)]
    pub fn branch_id(&self, name: String) -> Result<f64> {
        js(self.db()?.branch_id(&name)).map(|id| id as f64)
    }

    #[napi(catch_unwind)]
    pub fn branch_name(&self, id: f64) -> Result<String> {
        js(self.db()?.branch_name(id as u64))
    }

    #[napi(catch_unwind)]
    pub fn branch_exists(&self, name: String) -> Result<bool> {
        Ok(self.db()?.branch_exists(&name))
    }

    #[napi(catch_unwind)]
    pub fn create_branch(&self, name: String) -> Result<f64> {
        js(self.db()?.create_branch(&name)).map(|id| id as f64)
    }

    #[napi(catch_unwind)]
    pub fn fork_branch(&self, name: String, from: f64) -> Result<f64> {
        js(self.db()?.fork_branch(&name, from as u64)).map(|id| id as f64)
    }

    #[napi(catch_unwind)]
    pub fn delete_branch(&self, name: String) -> Result<()> {
        js(self.db()?.delete_branch(&name))
    }

    #[napi(catch_unwind)]
    pub fn list_branches(&self) -> Result<Uint8Array> {
        Ok(wire::branches(&self.db()?.list_branches()).into())
    }

    #[napi(catch_unwind)]
    pub fn time_range(&self, branch: f64) -> Result<Uint8Array> {
        js(self.db()?.time_range(branch as u64)).map(|r| wire::time_range(r).into())
    }

    #[napi(catch_unwind)]
    pub fn space_id(&self, name: String) -> Result<u32> {
        js(self.db()?.space_id(&name))
    }

    #[napi(catch_unwind)]
    pub fn list_spaces(&self, branch: f64) -> Result<Uint8Array> {
        js(self.db()?.list_spaces(branch as u64)).map(|s| wire::strings(&s).into())
    }

    #[napi(catch_unwind)]
    pub fn delete_space(&self, branch: f64, name: String, force: bool) -> Result<bool> {
        js(self.db()?.delete_space(branch as u64, &name, force))
    }

    #[napi(catch_unwind)]
    pub fn diff(&self, a: f64, b: f64) -> Result<Uint8Array> {
        js(self.db()?.diff(a as u64, b as u64)).map(|d| wire::diff(&d).into())
    }

    #[napi(catch_unwind)]
    pub fn merge(&self, source: f64, target: f64, strategy: String) -> Result<Uint8Array> {
        let strategy = js(wire::strategy(&strategy))?;
        js(self.db()?.merge(source as u64, target as u64, strategy)).map(|r| wire::merge_report(&r).into())
    }
}

/// A transaction: snapshot reads plus own writes, committed atomically (see `strata_core::Transaction`).
#[napi]
pub struct Transaction {
    tx: core::Transaction,
    read_buffer: Option<Uint8Array>,
}

#[napi]
impl Transaction {
    #[napi(catch_unwind)]
    pub fn set_read_buffer(&mut self, buffer: Uint8Array) {
        self.read_buffer = Some(buffer);
    }

    /// As `Database.get`, in the transaction's view.
    #[napi(catch_unwind)]
    pub fn get(&mut self, ns_: u32, space: u32, key: Key) -> Result<f64> {
        // SAFETY: as in `Database.get`.
        let out = self.read_buffer.as_mut().map(|b| unsafe { b.as_mut() }).unwrap_or_default();
        let found = js(self.tx.get(ns(ns_)?, space, &key, |v, t, bytes| wire::read_into(v, t, bytes, out)))?;
        Ok(found.map_or(-1.0, |n| n as f64))
    }

    #[napi(catch_unwind)]
    pub fn put(&mut self, ns_: u32, space: u32, key: Key, value: &[u8]) -> Result<f64> {
        js(self.tx.put(ns(ns_)?, space, &key, value)).map(|v| v as f64)
    }

    #[napi(catch_unwind)]
    pub fn delete(&mut self, ns_: u32, space: u32, key: Key) -> Result<bool> {
        js(self.tx.delete(ns(ns_)?, space, &key))
    }

    #[napi(catch_unwind)]
    pub fn cas(&mut self, ns_: u32, space: u32, key: Key, expected: Option<f64>, value: &[u8]) -> Result<Option<f64>> {
        let expected = expected.map(|v| v as u64);
        js(self.tx.cas(ns(ns_)?, space, &key, expected, value)).map(|v| v.map(|v| v as f64))
    }

    #[napi(catch_unwind)]
    pub fn list(
        &mut self,
        ns_: u32,
        space: u32,
        prefix: Option<String>,
        after: Option<String>,
        limit: Option<f64>,
    ) -> Result<Uint8Array> {
        let limit = wire::opt_u64(limit).map(|n| n as usize);
        let keys = self.tx.list(ns(ns_)?, space, prefix.as_deref().unwrap_or(""), after.as_deref(), limit);
        js(keys).map(|k| wire::strings(&k).into())
    }

    #[napi(catch_unwind)]
    pub fn append_event(&mut self, space: u32, kind: String, payload: &[u8]) -> Result<f64> {
        js(self.tx.append_event(space, &kind, payload)).map(|s| s as f64)
    }

    #[napi(catch_unwind)]
    pub fn commit(&mut self) -> Result<()> {
        js(self.tx.commit())
    }

    #[napi(catch_unwind)]
    pub fn rollback(&mut self) {
        self.tx.rollback();
    }
}

/// The engine's error codes, for the test that checks the TypeScript list against them.
#[napi]
pub fn error_codes() -> Vec<&'static str> {
    ErrorCode::ALL.iter().map(|c| c.as_str()).collect()
}
