//! Database handles, and one free function per call taking the handle's id first (the crate doc says why). The
//! calls carry a `db` prefix (`dbGet`), as transaction calls carry `tx`: a bare `delete` cannot be a declared
//! function, and one scheme keeps each JavaScript name to one meaning.

use std::sync::Arc;
use std::thread::LocalKey;

use napi::bindgen_prelude::{Float32Array, Object, Uint8Array};
use napi_derive::napi;
use strata_core::{self as core, wire, ErrorCode};

use crate::frame;
use crate::handles::{self, Handle, Table};
use crate::key::Key;
use crate::transaction::Transaction;
use crate::{closed, js, ns, read_buffer, Result};

/// One handle on an engine. Several handles may share an engine (`share`); closing one leaves the others open.
/// Its slot, and with it its reference to the engine, goes when its owner is collected (see `handles`).
pub struct Database {
    db: Option<Arc<core::Database>>,
    /// A buffer owned by JavaScript that reads copy into, so a read allocates nothing (see `wire::read_into`).
    read_buffer: Option<Uint8Array>,
}

thread_local! {
    static DATABASES: Table<Database> = const { Table::new() };
}

impl Handle for Database {
    fn table() -> &'static LocalKey<Table<Self>> {
        &DATABASES
    }

    fn closed() -> napi::Error<ErrorCode> {
        closed()
    }

    fn abandon(self) {
        std::mem::forget(self.read_buffer);
    }
}

impl Database {
    fn open(owner: &Object, db: Arc<core::Database>) -> Result<f64> {
        handles::insert(owner, Database { db: Some(db), read_buffer: None })
    }

    fn engine(&self) -> Result<&Arc<core::Database>> {
        self.db.as_ref().ok_or_else(closed)
    }

    /// The engine and the read buffer together, for a read that copies into the buffer.
    fn reader(&mut self) -> Result<(&core::Database, &mut [u8])> {
        let db = self.db.as_deref().ok_or_else(closed)?;
        Ok((db, read_buffer(&mut self.read_buffer)))
    }
}

/// Runs `f` on the read buffer of handle `db`, open or closed: where its transactions' reads land too.
pub(crate) fn with_read_buffer<R>(db: f64, f: impl FnOnce(&mut [u8]) -> Result<R>) -> Result<R> {
    handles::with(db, |h: &mut Database| f(read_buffer(&mut h.read_buffer)))
}

/// Runs `f` on the engine of handle `db`, or fails with `CLOSED`.
fn engine<R>(db: f64, f: impl FnOnce(&Arc<core::Database>) -> Result<R>) -> Result<R> {
    handles::with(db, |h: &mut Database| f(h.engine()?))
}

/// An in-memory database: private, or the process-wide one called `name`. Returns the id of a handle that lives
/// until `owner` is collected.
#[napi(catch_unwind)]
pub fn db_memory(owner: Object, name: Option<String>) -> Result<f64> {
    Database::open(
        &owner,
        match name {
            Some(name) => core::named_memory(&name, core::system_clock),
            None => Arc::new(core::Database::new(core::system_clock)),
        },
    )
}

/// The on-disk database in directory `path`, shared with every other open of it in this process.
#[napi(catch_unwind)]
pub fn db_open(
    owner: Object,
    path: String,
    durability: String,
    read_only: bool,
    create: bool,
    max_versions: Option<f64>,
    max_age_ms: Option<f64>,
) -> Result<f64> {
    let options = js(wire::open_options(&durability, read_only, max_versions, max_age_ms))?;
    Database::open(&owner, js(core::open_dir(&path, create, options, core::system_clock))?)
}

/// Drops old versions (the given limits, or else the retention given at open); returns how many.
#[napi(catch_unwind)]
pub fn db_compact(db: f64, max_versions: Option<f64>, max_age_ms: Option<f64>) -> Result<f64> {
    engine(db, |db| js(wire::compact(db, max_versions, max_age_ms)).map(|n| n as f64))
}

/// Makes every acknowledged write durable now.
#[napi(catch_unwind)]
pub fn db_flush(db: f64) -> Result<()> {
    engine(db, |db| js(db.flush()))
}

/// Writes a snapshot and drops the log it covers.
#[napi(catch_unwind)]
pub fn db_checkpoint(db: f64) -> Result<()> {
    engine(db, |db| js(db.checkpoint()))
}

/// Another handle on the same engine, owned by `owner`.
#[napi(catch_unwind)]
pub fn db_share(db: f64, owner: Object) -> Result<f64> {
    let shared = engine(db, |db| Ok(db.clone()))?;
    Database::open(&owner, shared)
}

/// Lets go of the engine and the read buffer; the handle answers `CLOSED` from now on. Closing twice, or an id that
/// names nothing, does nothing.
#[napi(catch_unwind)]
pub fn db_close(db: f64) {
    // The read buffer stays: the handle's unfinished transactions still read their snapshots into it.
    let _ = handles::with(db, |h: &mut Database| {
        h.db = None;
        Ok(())
    });
}

#[napi(catch_unwind)]
pub fn db_set_read_buffer(db: f64, buffer: Uint8Array) -> Result<()> {
    handles::with(db, |h: &mut Database| {
        h.read_buffer = Some(buffer);
        Ok(())
    })
}

/// Copies the live version of a key into the read buffer; returns the length it needs, or -1 when absent.
#[napi(catch_unwind)]
pub fn db_get(db: f64, ns_: u32, branch: f64, space: u32, key: Key, as_of: Option<f64>) -> Result<f64> {
    get(db, ns_, branch, space, &key, as_of)
}

/// `db_get` with its arguments in the call frame.
#[napi(catch_unwind)]
pub fn db_get_framed() -> Result<f64> {
    let a = frame::args()?;
    get(a.handle(), a.ns()?, a.branch(), a.space()?, &a.key()?, a.as_of())
}

fn get(db: f64, ns_: u32, branch: f64, space: u32, key: &str, as_of: Option<f64>) -> Result<f64> {
    handles::with(db, |h: &mut Database| {
        let (db, out) = h.reader()?;
        let found =
            db.get(ns(ns_)?, branch as u64, space, key, wire::opt_u64(as_of), |v| wire::read_version_into(v, out));
        Ok(js(found)?.map_or(-1.0, |n| n as f64))
    })
}

/// Starts a transaction on `branch`, owned by `owner`; returns its id.
#[napi(catch_unwind)]
pub fn db_begin(db: f64, owner: Object, branch: f64, read_only: bool) -> Result<f64> {
    let tx = engine(db, |e| js(e.begin(branch as u64, read_only)))?;
    Transaction::open(&owner, tx, db)
}

#[napi(catch_unwind)]
pub fn db_put(db: f64, ns_: u32, branch: f64, space: u32, key: Key, value: &[u8]) -> Result<f64> {
    put(db, ns_, branch, space, &key, value)
}

#[napi(catch_unwind)]
pub fn db_put_framed() -> Result<f64> {
    let a = frame::args()?;
    put(a.handle(), a.ns()?, a.branch(), a.space()?, &a.key()?, a.value()?)
}

fn put(db: f64, ns_: u32, branch: f64, space: u32, key: &str, value: &[u8]) -> Result<f64> {
    engine(db, |db| js(db.put(ns(ns_)?, branch as u64, space, key, value)).map(|v| v as f64))
}

#[napi(catch_unwind)]
pub fn db_delete(db: f64, ns_: u32, branch: f64, space: u32, key: Key) -> Result<bool> {
    delete(db, ns_, branch, space, &key)
}

#[napi(catch_unwind)]
pub fn db_delete_framed() -> Result<bool> {
    let a = frame::args()?;
    delete(a.handle(), a.ns()?, a.branch(), a.space()?, &a.key()?)
}

fn delete(db: f64, ns_: u32, branch: f64, space: u32, key: &str) -> Result<bool> {
    engine(db, |db| js(db.delete(ns(ns_)?, branch as u64, space, key)))
}

/// The new version, or null when the expected version did not match.
#[napi(catch_unwind)]
pub fn db_cas(
    db: f64,
    ns_: u32,
    branch: f64,
    space: u32,
    key: Key,
    expected: Option<f64>,
    value: &[u8],
) -> Result<Option<f64>> {
    cas(db, ns_, branch, space, &key, expected, value)
}

#[napi(catch_unwind)]
pub fn db_cas_framed() -> Result<Option<f64>> {
    let a = frame::args()?;
    cas(a.handle(), a.ns()?, a.branch(), a.space()?, &a.key()?, a.expected(), a.value()?)
}

fn cas(
    db: f64,
    ns_: u32,
    branch: f64,
    space: u32,
    key: &str,
    expected: Option<f64>,
    value: &[u8],
) -> Result<Option<f64>> {
    engine(db, |db| js(wire::cas(db, ns_, branch, space, key, expected, value)))
}

#[napi(catch_unwind)]
pub fn db_list(
    db: f64,
    ns_: u32,
    branch: f64,
    space: u32,
    prefix: Option<String>,
    after: Option<String>,
    limit: Option<f64>,
    as_of: Option<f64>,
) -> Result<Uint8Array> {
    engine(db, |db| {
        let keys = wire::list(db, ns_, branch, space, prefix.as_deref(), after.as_deref(), limit, as_of);
        js(keys).map(Uint8Array::from)
    })
}

#[napi(catch_unwind)]
pub fn db_history(db: f64, ns_: u32, branch: f64, space: u32, key: Key, limit: Option<f64>) -> Result<Uint8Array> {
    let limit = wire::limit(limit);
    engine(db, |db| js(db.history(ns(ns_)?, branch as u64, space, &key, limit)).map(|h| wire::history(&h).into()))
}

/// Appends an event; returns its sequence number.
#[napi(catch_unwind)]
pub fn db_append_event(db: f64, branch: f64, space: u32, kind: Key, payload: &[u8]) -> Result<f64> {
    append_event(db, branch, space, &kind, payload)
}

/// `db_append_event` with its arguments in the call frame: the type as the key, the payload as the value.
#[napi(catch_unwind)]
pub fn db_append_event_framed() -> Result<f64> {
    let a = frame::args()?;
    append_event(a.handle(), a.branch(), a.space()?, &a.key()?, a.value()?)
}

fn append_event(db: f64, branch: f64, space: u32, kind: &str, payload: &[u8]) -> Result<f64> {
    engine(db, |db| js(db.append_event(branch as u64, space, kind, payload)).map(|s| s as f64))
}

/// Copies event `seq` (`[type, payload]`) into the read buffer; returns the length it needs, or -1. Its
/// arguments (handle, branch, space, seq, as of) always fit the call frame, so it takes them only from there.
#[napi(catch_unwind)]
pub fn db_get_event() -> Result<f64> {
    let a = frame::args()?;
    let (db, branch, space, seq, as_of) = (a.handle(), a.branch(), a.space()?, a.seq(), a.as_of());
    handles::with(db, |h: &mut Database| {
        let (db, out) = h.reader()?;
        let found = db.event(branch as u64, space, seq as u64, wire::opt_u64(as_of), |v| wire::read_event_into(v, out));
        Ok(js(found)?.map_or(-1.0, |n| n as f64))
    })
}

#[napi(catch_unwind)]
pub fn db_list_events(
    db: f64,
    branch: f64,
    space: u32,
    kind: Option<String>,
    after: Option<f64>,
    limit: Option<f64>,
    as_of: Option<f64>,
) -> Result<Uint8Array> {
    let limit = wire::limit(limit);
    engine(db, |db| {
        let events =
            db.events(branch as u64, space, kind.as_deref(), wire::opt_u64(after), limit, wire::opt_u64(as_of));
        js(events).map(|e| wire::events(&e).into())
    })
}

#[napi(catch_unwind)]
pub fn db_count_events(db: f64, branch: f64, space: u32, kind: Option<String>, as_of: Option<f64>) -> Result<f64> {
    engine(db, |db| js(db.count_events(branch as u64, space, kind.as_deref(), wire::opt_u64(as_of))).map(|n| n as f64))
}

/// The first event whose hash chain or numbering is broken, or null.
#[napi(catch_unwind)]
pub fn db_verify_events(db: f64, branch: f64, space: u32) -> Result<Option<f64>> {
    engine(db, |db| js(db.verify_events(branch as u64, space)).map(|s| s.map(|s| s as f64)))
}

#[napi(catch_unwind)]
pub fn db_create_collection(
    db: f64,
    branch: f64,
    space: u32,
    name: String,
    dimension: f64,
    metric: String,
) -> Result<()> {
    engine(db, |db| js(db.create_collection(branch as u64, space, &name, dimension as u64, &metric)))
}

#[napi(catch_unwind)]
pub fn db_delete_collection(db: f64, branch: f64, space: u32, name: String) -> Result<bool> {
    engine(db, |db| js(db.delete_collection(branch as u64, space, &name)))
}

#[napi(catch_unwind)]
pub fn db_list_collections(db: f64, branch: f64, space: u32, as_of: Option<f64>) -> Result<Uint8Array> {
    engine(db, |db| {
        js(db.collections(branch as u64, space, wire::opt_u64(as_of))).map(|c| wire::collections(&c).into())
    })
}

/// Writes a vector; the `Float32Array` is read in place.
#[napi(catch_unwind)]
pub fn db_upsert_vector(
    db: f64,
    branch: f64,
    space: u32,
    collection: String,
    key: Key,
    vector: Float32Array,
    metadata: &[u8],
) -> Result<f64> {
    engine(db, |db| js(db.upsert_vector(branch as u64, space, &collection, &key, &vector, metadata)).map(|v| v as f64))
}

#[napi(catch_unwind)]
pub fn db_get_vector(
    db: f64,
    branch: f64,
    space: u32,
    collection: String,
    key: Key,
    as_of: Option<f64>,
) -> Result<Option<Uint8Array>> {
    engine(db, |db| {
        js(db.vector(branch as u64, space, &collection, &key, wire::opt_u64(as_of), wire::vector))
            .map(|v| v.map(Uint8Array::from))
    })
}

#[napi(catch_unwind)]
pub fn db_delete_vector(db: f64, branch: f64, space: u32, collection: String, key: Key) -> Result<bool> {
    engine(db, |db| js(db.delete_vector(branch as u64, space, &collection, &key)))
}

#[napi(catch_unwind)]
pub fn db_search(
    db: f64,
    branch: f64,
    space: u32,
    collection: String,
    query: Float32Array,
    k: f64,
    filter: Option<Uint8Array>,
    as_of: Option<f64>,
) -> Result<Uint8Array> {
    engine(db, |db| {
        let hits =
            db.search(branch as u64, space, &collection, &query, k as usize, filter.as_deref(), wire::opt_u64(as_of));
        js(hits).map(|h| wire::hits(&h).into())
    })
}

#[napi(catch_unwind)]
pub fn db_branch_id(db: f64, name: String) -> Result<f64> {
    engine(db, |db| js(db.branch_id(&name)).map(|id| id as f64))
}

#[napi(catch_unwind)]
pub fn db_branch_name(db: f64, id: f64) -> Result<String> {
    engine(db, |db| js(db.branch_name(id as u64)))
}

#[napi(catch_unwind)]
pub fn db_branch_exists(db: f64, name: String) -> Result<bool> {
    engine(db, |db| Ok(db.branch_exists(&name)))
}

#[napi(catch_unwind)]
pub fn db_create_branch(db: f64, name: String) -> Result<f64> {
    engine(db, |db| js(db.create_branch(&name)).map(|id| id as f64))
}

#[napi(catch_unwind)]
pub fn db_fork_branch(db: f64, name: String, from: f64) -> Result<f64> {
    engine(db, |db| js(db.fork_branch(&name, from as u64)).map(|id| id as f64))
}

#[napi(catch_unwind)]
pub fn db_delete_branch(db: f64, name: String) -> Result<()> {
    engine(db, |db| js(db.delete_branch(&name)))
}

#[napi(catch_unwind)]
pub fn db_list_branches(db: f64) -> Result<Uint8Array> {
    engine(db, |db| Ok(wire::branches(&db.list_branches()).into()))
}

#[napi(catch_unwind)]
pub fn db_time_range(db: f64, branch: f64, as_of: Option<f64>) -> Result<Uint8Array> {
    engine(db, |db| js(db.time_range(branch as u64, wire::opt_u64(as_of))).map(|r| wire::time_range(r).into()))
}

#[napi(catch_unwind)]
pub fn db_space_id(db: f64, name: String) -> Result<u32> {
    engine(db, |db| js(db.space_id(&name)))
}

#[napi(catch_unwind)]
pub fn db_list_spaces(db: f64, branch: f64) -> Result<Uint8Array> {
    engine(db, |db| js(db.list_spaces(branch as u64)).map(|s| wire::strings(&s).into()))
}

#[napi(catch_unwind)]
pub fn db_delete_space(db: f64, branch: f64, name: String, force: bool) -> Result<bool> {
    engine(db, |db| js(db.delete_space(branch as u64, &name, force)))
}

#[napi(catch_unwind)]
pub fn db_diff(db: f64, a: f64, b: f64) -> Result<Uint8Array> {
    engine(db, |db| js(db.diff(a as u64, b as u64)).map(|d| wire::diff(&d).into()))
}

#[napi(catch_unwind)]
pub fn db_merge(db: f64, source: f64, target: f64, strategy: String) -> Result<Uint8Array> {
    let strategy = js(wire::strategy(&strategy))?;
    engine(db, |db| js(db.merge(source as u64, target as u64, strategy)).map(|r| wire::merge_report(&r).into()))
}
