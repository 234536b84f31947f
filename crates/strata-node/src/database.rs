//! Database handles: a plain struct JavaScript holds as an `External`, and one free function per call taking it
//! first (the crate doc says why not a class). The calls carry a `db` prefix (`dbGet`), as transaction calls carry
//! `tx`: a bare `delete` cannot be a declared function, and one scheme keeps each JavaScript name to one meaning.

use std::sync::Arc;

use napi::bindgen_prelude::{External, Float32Array, Uint8Array};
use napi_derive::napi;
use strata_core::{self as core, wire};

use crate::key::Key;
use crate::transaction::Transaction;
use crate::{closed, js, ns, read_buffer, Result};

/// One handle on an engine. Several handles may share an engine (`share`); closing one leaves the others open.
/// Dropping it (the `External` collected) releases its reference to the engine.
pub struct Database {
    db: Option<Arc<core::Database>>,
    /// A buffer owned by JavaScript that reads copy into, so a read allocates nothing (see `wire::read_into`).
    read_buffer: Option<Uint8Array>,
}

impl Database {
    fn new(db: Arc<core::Database>) -> External<Database> {
        External::new(Database { db: Some(db), read_buffer: None })
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

/// An in-memory database: private, or the process-wide one called `name`.
#[napi(catch_unwind)]
pub fn db_memory(name: Option<String>) -> External<Database> {
    Database::new(match name {
        Some(name) => core::named_memory(&name, core::system_clock),
        None => Arc::new(core::Database::new(core::system_clock)),
    })
}

/// The on-disk database in directory `path`, shared with every other open of it in this process.
#[napi(catch_unwind)]
pub fn db_open(
    path: String,
    durability: String,
    read_only: bool,
    create: bool,
    max_versions: Option<f64>,
    max_age_ms: Option<f64>,
) -> Result<External<Database>> {
    let options = js(wire::open_options(&durability, read_only, max_versions, max_age_ms))?;
    js(core::open_dir(&path, create, options, core::system_clock)).map(Database::new)
}

/// Drops old versions (the given limits, or else the retention given at open); returns how many.
#[napi(catch_unwind)]
pub fn db_compact(db: &External<Database>, max_versions: Option<f64>, max_age_ms: Option<f64>) -> Result<f64> {
    js(wire::compact(db.engine()?, max_versions, max_age_ms)).map(|n| n as f64)
}

/// Makes every acknowledged write durable now.
#[napi(catch_unwind)]
pub fn db_flush(db: &External<Database>) -> Result<()> {
    js(db.engine()?.flush())
}

/// Writes a snapshot and drops the log it covers.
#[napi(catch_unwind)]
pub fn db_checkpoint(db: &External<Database>) -> Result<()> {
    js(db.engine()?.checkpoint())
}

/// Another handle on the same engine.
#[napi(catch_unwind)]
pub fn db_share(db: &External<Database>) -> Result<External<Database>> {
    Ok(Database::new(db.engine()?.clone()))
}

#[napi(catch_unwind)]
pub fn db_close(db: &mut External<Database>) {
    db.db = None;
    db.read_buffer = None;
}

#[napi(catch_unwind)]
pub fn db_set_read_buffer(db: &mut External<Database>, buffer: Uint8Array) {
    db.read_buffer = Some(buffer);
}

/// Copies the live version of a key into the read buffer; returns the length it needs, or -1 when absent.
#[napi(catch_unwind)]
pub fn db_get(
    db: &mut External<Database>,
    ns_: u32,
    branch: f64,
    space: u32,
    key: Key,
    as_of: Option<f64>,
) -> Result<f64> {
    let (db, out) = db.reader()?;
    let found =
        js(db.get(ns(ns_)?, branch as u64, space, &key, wire::opt_u64(as_of), |v| wire::read_version_into(v, out)))?;
    Ok(found.map_or(-1.0, |n| n as f64))
}

/// Starts a transaction on `branch`.
#[napi(catch_unwind)]
pub fn db_begin(db: &External<Database>, branch: f64, read_only: bool) -> Result<External<Transaction>> {
    js(db.engine()?.begin(branch as u64, read_only)).map(Transaction::new)
}

#[napi(catch_unwind)]
pub fn db_put(db: &External<Database>, ns_: u32, branch: f64, space: u32, key: Key, value: &[u8]) -> Result<f64> {
    js(db.engine()?.put(ns(ns_)?, branch as u64, space, &key, value)).map(|v| v as f64)
}

#[napi(catch_unwind)]
pub fn db_delete(db: &External<Database>, ns_: u32, branch: f64, space: u32, key: Key) -> Result<bool> {
    js(db.engine()?.delete(ns(ns_)?, branch as u64, space, &key))
}

/// The new version, or null when the expected version did not match.
#[napi(catch_unwind)]
pub fn db_cas(
    db: &External<Database>,
    ns_: u32,
    branch: f64,
    space: u32,
    key: Key,
    expected: Option<f64>,
    value: &[u8],
) -> Result<Option<f64>> {
    let expected = expected.map(|v| v as u64);
    js(db.engine()?.cas(ns(ns_)?, branch as u64, space, &key, expected, value)).map(|v| v.map(|v| v as f64))
}

#[napi(catch_unwind)]
pub fn db_list(
    db: &External<Database>,
    ns_: u32,
    branch: f64,
    space: u32,
    prefix: Option<String>,
    after: Option<String>,
    limit: Option<f64>,
    as_of: Option<f64>,
) -> Result<Uint8Array> {
    let keys = db.engine()?.list(
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
pub fn db_history(
    db: &External<Database>,
    ns_: u32,
    branch: f64,
    space: u32,
    key: Key,
    limit: Option<f64>,
) -> Result<Uint8Array> {
    let limit = wire::opt_u64(limit).map(|n| n as usize);
    js(db.engine()?.history(ns(ns_)?, branch as u64, space, &key, limit)).map(|h| wire::history(&h).into())
}

/// Appends an event; returns its sequence number.
#[napi(catch_unwind)]
pub fn db_append_event(db: &External<Database>, branch: f64, space: u32, kind: String, payload: &[u8]) -> Result<f64> {
    js(db.engine()?.append_event(branch as u64, space, &kind, payload)).map(|s| s as f64)
}

/// Copies event `seq` (`[type, payload]`) into the read buffer; returns the length it needs, or -1.
#[napi(catch_unwind)]
pub fn db_get_event(db: &mut External<Database>, branch: f64, space: u32, seq: f64, as_of: Option<f64>) -> Result<f64> {
    let (db, out) = db.reader()?;
    let found =
        js(db.event(branch as u64, space, seq as u64, wire::opt_u64(as_of), |v| wire::read_event_into(v, out)))?;
    Ok(found.map_or(-1.0, |n| n as f64))
}

#[napi(catch_unwind)]
pub fn db_list_events(
    db: &External<Database>,
    branch: f64,
    space: u32,
    kind: Option<String>,
    after: Option<f64>,
    limit: Option<f64>,
    as_of: Option<f64>,
) -> Result<Uint8Array> {
    let limit = wire::opt_u64(limit).map(|n| n as usize);
    let events =
        db.engine()?.events(branch as u64, space, kind.as_deref(), wire::opt_u64(after), limit, wire::opt_u64(as_of));
    js(events).map(|e| wire::events(&e).into())
}

#[napi(catch_unwind)]
pub fn db_count_events(
    db: &External<Database>,
    branch: f64,
    space: u32,
    kind: Option<String>,
    as_of: Option<f64>,
) -> Result<f64> {
    js(db.engine()?.count_events(branch as u64, space, kind.as_deref(), wire::opt_u64(as_of))).map(|n| n as f64)
}

/// The first event whose hash chain or numbering is broken, or null.
#[napi(catch_unwind)]
pub fn db_verify_events(db: &External<Database>, branch: f64, space: u32) -> Result<Option<f64>> {
    js(db.engine()?.verify_events(branch as u64, space)).map(|s| s.map(|s| s as f64))
}

#[napi(catch_unwind)]
pub fn db_create_collection(
    db: &External<Database>,
    branch: f64,
    space: u32,
    name: String,
    dimension: f64,
    metric: String,
) -> Result<()> {
    js(db.engine()?.create_collection(branch as u64, space, &name, dimension as u64, &metric))
}

#[napi(catch_unwind)]
pub fn db_delete_collection(db: &External<Database>, branch: f64, space: u32, name: String) -> Result<bool> {
    js(db.engine()?.delete_collection(branch as u64, space, &name))
}

#[napi(catch_unwind)]
pub fn db_list_collections(db: &External<Database>, branch: f64, space: u32, as_of: Option<f64>) -> Result<Uint8Array> {
    js(db.engine()?.collections(branch as u64, space, wire::opt_u64(as_of))).map(|c| wire::collections(&c).into())
}

/// Writes a vector; the `Float32Array` is read in place.
#[napi(catch_unwind)]
pub fn db_upsert_vector(
    db: &External<Database>,
    branch: f64,
    space: u32,
    collection: String,
    key: Key,
    vector: Float32Array,
    metadata: &[u8],
) -> Result<f64> {
    js(db.engine()?.upsert_vector(branch as u64, space, &collection, &key, &vector, metadata)).map(|v| v as f64)
}

#[napi(catch_unwind)]
pub fn db_get_vector(
    db: &External<Database>,
    branch: f64,
    space: u32,
    collection: String,
    key: Key,
    as_of: Option<f64>,
) -> Result<Option<Uint8Array>> {
    js(db.engine()?.vector(branch as u64, space, &collection, &key, wire::opt_u64(as_of), wire::vector))
        .map(|v| v.map(Uint8Array::from))
}

#[napi(catch_unwind)]
pub fn db_delete_vector(
    db: &External<Database>,
    branch: f64,
    space: u32,
    collection: String,
    key: Key,
) -> Result<bool> {
    js(db.engine()?.delete_vector(branch as u64, space, &collection, &key))
}

#[napi(catch_unwind)]
pub fn db_search(
    db: &External<Database>,
    branch: f64,
    space: u32,
    collection: String,
    query: Float32Array,
    k: f64,
    filter: Option<Uint8Array>,
    as_of: Option<f64>,
) -> Result<Uint8Array> {
    let hits = db.engine()?.search(
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
pub fn db_branch_id(db: &External<Database>, name: String) -> Result<f64> {
    js(db.engine()?.branch_id(&name)).map(|id| id as f64)
}

#[napi(catch_unwind)]
pub fn db_branch_name(db: &External<Database>, id: f64) -> Result<String> {
    js(db.engine()?.branch_name(id as u64))
}

#[napi(catch_unwind)]
pub fn db_branch_exists(db: &External<Database>, name: String) -> Result<bool> {
    Ok(db.engine()?.branch_exists(&name))
}

#[napi(catch_unwind)]
pub fn db_create_branch(db: &External<Database>, name: String) -> Result<f64> {
    js(db.engine()?.create_branch(&name)).map(|id| id as f64)
}

#[napi(catch_unwind)]
pub fn db_fork_branch(db: &External<Database>, name: String, from: f64) -> Result<f64> {
    js(db.engine()?.fork_branch(&name, from as u64)).map(|id| id as f64)
}

#[napi(catch_unwind)]
pub fn db_delete_branch(db: &External<Database>, name: String) -> Result<()> {
    js(db.engine()?.delete_branch(&name))
}

#[napi(catch_unwind)]
pub fn db_list_branches(db: &External<Database>) -> Result<Uint8Array> {
    Ok(wire::branches(&db.engine()?.list_branches()).into())
}

#[napi(catch_unwind)]
pub fn db_time_range(db: &External<Database>, branch: f64) -> Result<Uint8Array> {
    js(db.engine()?.time_range(branch as u64)).map(|r| wire::time_range(r).into())
}

#[napi(catch_unwind)]
pub fn db_space_id(db: &External<Database>, name: String) -> Result<u32> {
    js(db.engine()?.space_id(&name))
}

#[napi(catch_unwind)]
pub fn db_list_spaces(db: &External<Database>, branch: f64) -> Result<Uint8Array> {
    js(db.engine()?.list_spaces(branch as u64)).map(|s| wire::strings(&s).into())
}

#[napi(catch_unwind)]
pub fn db_delete_space(db: &External<Database>, branch: f64, name: String, force: bool) -> Result<bool> {
    js(db.engine()?.delete_space(branch as u64, &name, force))
}

#[napi(catch_unwind)]
pub fn db_diff(db: &External<Database>, a: f64, b: f64) -> Result<Uint8Array> {
    js(db.engine()?.diff(a as u64, b as u64)).map(|d| wire::diff(&d).into())
}

#[napi(catch_unwind)]
pub fn db_merge(db: &External<Database>, source: f64, target: f64, strategy: String) -> Result<Uint8Array> {
    let strategy = js(wire::strategy(&strategy))?;
    js(db.engine()?.merge(source as u64, target as u64, strategy)).map(|r| wire::merge_report(&r).into())
}
