//! Transaction handles, held by JavaScript by id like database handles (see `handles`). Their calls carry a `tx`
//! prefix (`txGet`), as database calls carry `db`.

use std::thread::LocalKey;

use napi::bindgen_prelude::{Object, Uint8Array};
use napi_derive::napi;
use strata_core::{self as core, wire, ErrorCode};

use crate::database;
use crate::frame;
use crate::handles::{self, Handle, Table};
use crate::key::Key;
use crate::{js, ns, Result};

/// A transaction: snapshot reads plus own writes, committed atomically (see `strata_core::Transaction`). Once it
/// is committed or rolled back, the engine answers its calls with `CLOSED`, until `tx_restart` begins the next
/// transaction in the same handle (the TypeScript layer reuses handles so, and never calls a finished one's).
pub struct Transaction {
    tx: core::Transaction,
    /// The database handle it was begun on, whose read buffer its reads land in: a buffer of its own, made and
    /// handed over at a transaction's first read, cost a transaction that reads half its time.
    db: f64,
}

thread_local! {
    static TRANSACTIONS: Table<Transaction> = const { Table::new() };
}

impl Handle for Transaction {
    fn table() -> &'static LocalKey<Table<Self>> {
        &TRANSACTIONS
    }

    fn closed() -> napi::Error<ErrorCode> {
        napi::Error::new(ErrorCode::Closed, "the transaction handle is gone; begin a new transaction".to_string())
    }

    fn abandon(self) {}
}

impl Transaction {
    pub(crate) fn open(owner: &Object, tx: core::Transaction, db: f64) -> Result<f64> {
        handles::insert(owner, Transaction { tx, db })
    }
}

/// Runs `f` on the engine's transaction of handle `tx`.
fn transaction<R>(tx: f64, f: impl FnOnce(&mut core::Transaction) -> core::Result<R>) -> Result<R> {
    handles::with(tx, |h: &mut Transaction| js(f(&mut h.tx)))
}

/// As `db_get`, in the transaction's view.
#[napi(catch_unwind)]
pub fn tx_get(tx: f64, ns_: u32, space: u32, key: Key) -> Result<f64> {
    get(tx, ns_, space, &key)
}

#[napi(catch_unwind)]
pub fn tx_get_framed() -> Result<f64> {
    let a = frame::args()?;
    get(a.handle(), a.ns()?, a.space()?, &a.key()?)
}

fn get(tx: f64, ns_: u32, space: u32, key: &str) -> Result<f64> {
    handles::with(tx, |h: &mut Transaction| {
        database::with_read_buffer(h.db, |out| {
            let found = js(h.tx.get(ns(ns_)?, space, key, |v, t, bytes| wire::read_into(v, t, bytes, out)))?;
            Ok(found.map_or(-1.0, |n| n as f64))
        })
    })
}

#[napi(catch_unwind)]
pub fn tx_put(tx: f64, ns_: u32, space: u32, key: Key, value: &[u8]) -> Result<f64> {
    put(tx, ns_, space, &key, value)
}

#[napi(catch_unwind)]
pub fn tx_put_framed() -> Result<f64> {
    let a = frame::args()?;
    put(a.handle(), a.ns()?, a.space()?, &a.key()?, a.value()?)
}

fn put(tx: f64, ns_: u32, space: u32, key: &str, value: &[u8]) -> Result<f64> {
    transaction(tx, |tx| tx.put(wire::namespace(ns_)?, space, key, value)).map(|v| v as f64)
}

#[napi(catch_unwind)]
pub fn tx_delete(tx: f64, ns_: u32, space: u32, key: Key) -> Result<bool> {
    delete(tx, ns_, space, &key)
}

#[napi(catch_unwind)]
pub fn tx_delete_framed() -> Result<bool> {
    let a = frame::args()?;
    delete(a.handle(), a.ns()?, a.space()?, &a.key()?)
}

fn delete(tx: f64, ns_: u32, space: u32, key: &str) -> Result<bool> {
    transaction(tx, |tx| tx.delete(wire::namespace(ns_)?, space, key))
}

#[napi(catch_unwind)]
pub fn tx_cas(tx: f64, ns_: u32, space: u32, key: Key, expected: Option<f64>, value: &[u8]) -> Result<Option<f64>> {
    cas(tx, ns_, space, &key, expected, value)
}

#[napi(catch_unwind)]
pub fn tx_cas_framed() -> Result<Option<f64>> {
    let a = frame::args()?;
    cas(a.handle(), a.ns()?, a.space()?, &a.key()?, a.expected(), a.value()?)
}

fn cas(tx: f64, ns_: u32, space: u32, key: &str, expected: Option<f64>, value: &[u8]) -> Result<Option<f64>> {
    let expected = expected.map(|v| v as u64);
    transaction(tx, |tx| tx.cas(wire::namespace(ns_)?, space, key, expected, value)).map(|v| v.map(|v| v as f64))
}

#[napi(catch_unwind)]
pub fn tx_list(
    tx: f64,
    ns_: u32,
    space: u32,
    prefix: Option<String>,
    after: Option<String>,
    limit: Option<f64>,
) -> Result<Uint8Array> {
    let limit = wire::limit(limit);
    let keys = transaction(tx, |tx| {
        tx.list(wire::namespace(ns_)?, space, prefix.as_deref().unwrap_or(""), after.as_deref(), limit)
    })?;
    Ok(wire::key_list(&keys).into())
}

#[napi(catch_unwind)]
pub fn tx_append_event(tx: f64, space: u32, kind: Key, payload: &[u8]) -> Result<f64> {
    append_event(tx, space, &kind, payload)
}

#[napi(catch_unwind)]
pub fn tx_append_event_framed() -> Result<f64> {
    let a = frame::args()?;
    append_event(a.handle(), a.space()?, &a.key()?, a.value()?)
}

fn append_event(tx: f64, space: u32, kind: &str, payload: &[u8]) -> Result<f64> {
    transaction(tx, |tx| tx.append_event(space, kind, payload)).map(|s| s as f64)
}

/// As `db_get_event`, in the transaction's view: copies event `seq` into the read buffer of the transaction's
/// database handle; returns the length it needs, or -1.
#[napi(catch_unwind)]
pub fn tx_get_event(tx: f64, space: u32, seq: f64) -> Result<f64> {
    handles::with(tx, |h: &mut Transaction| {
        database::with_read_buffer(h.db, |out| {
            let found = js(h.tx.event(space, seq as u64, |v| wire::read_event_into(v, out)))?;
            Ok(found.map_or(-1.0, |n| n as f64))
        })
    })
}

#[napi(catch_unwind)]
pub fn tx_list_events(
    tx: f64,
    space: u32,
    kind: Option<String>,
    after: Option<f64>,
    limit: Option<f64>,
) -> Result<Uint8Array> {
    let limit = wire::limit(limit);
    let events = transaction(tx, |tx| tx.events(space, kind.as_deref(), wire::opt_u64(after), limit))?;
    Ok(wire::events(&events).into())
}

#[napi(catch_unwind)]
pub fn tx_count_events(tx: f64, space: u32, kind: Option<String>) -> Result<f64> {
    transaction(tx, |tx| tx.count_events(space, kind.as_deref())).map(|n| n as f64)
}

/// Commits. Whatever the outcome, the transaction is finished (the engine answers `CLOSED` from now on).
#[napi(catch_unwind)]
pub fn tx_commit(tx: f64) -> Result<()> {
    handles::with(tx, |h: &mut Transaction| js(h.tx.commit()))
}

/// Begins a new transaction in this finished one's handle (see `strata_core::Transaction::restart`).
#[napi(catch_unwind)]
pub fn tx_restart(tx: f64, branch: f64, read_only: bool) -> Result<()> {
    transaction(tx, |tx| tx.restart(branch as u64, read_only))
}

/// Rolls back; on a finished transaction, or an id that names nothing, does nothing.
#[napi(catch_unwind)]
pub fn tx_rollback(tx: f64) {
    let _ = handles::with(tx, |h: &mut Transaction| {
        h.tx.rollback();
        Ok(())
    });
}
