//! Transaction handles, held by JavaScript as `External`s like database handles (see `database`). Their calls
//! carry a `tx` prefix (`txGet`), as database calls carry `db`.

use napi::bindgen_prelude::{External, Uint8Array};
use napi_derive::napi;
use strata_core::{self as core, wire};

use crate::key::Key;
use crate::{js, ns, read_buffer, Result};

/// A transaction: snapshot reads plus own writes, committed atomically (see `strata_core::Transaction`). Once it
/// is committed or rolled back, the engine answers its calls with `CLOSED`.
pub struct Transaction {
    tx: core::Transaction,
    read_buffer: Option<Uint8Array>,
}

impl Transaction {
    pub(crate) fn new(tx: core::Transaction) -> External<Transaction> {
        External::new(Transaction { tx, read_buffer: None })
    }
}

#[napi(catch_unwind)]
pub fn tx_set_read_buffer(tx: &mut External<Transaction>, buffer: Uint8Array) {
    tx.read_buffer = Some(buffer);
}

/// As `db_get`, in the transaction's view.
#[napi(catch_unwind)]
pub fn tx_get(tx: &mut External<Transaction>, ns_: u32, space: u32, key: Key) -> Result<f64> {
    let tx: &mut Transaction = tx;
    let out = read_buffer(&mut tx.read_buffer);
    let found = js(tx.tx.get(ns(ns_)?, space, &key, |v, t, bytes| wire::read_into(v, t, bytes, out)))?;
    Ok(found.map_or(-1.0, |n| n as f64))
}

#[napi(catch_unwind)]
pub fn tx_put(tx: &mut External<Transaction>, ns_: u32, space: u32, key: Key, value: &[u8]) -> Result<f64> {
    js(tx.tx.put(ns(ns_)?, space, &key, value)).map(|v| v as f64)
}

#[napi(catch_unwind)]
pub fn tx_delete(tx: &mut External<Transaction>, ns_: u32, space: u32, key: Key) -> Result<bool> {
    js(tx.tx.delete(ns(ns_)?, space, &key))
}

#[napi(catch_unwind)]
pub fn tx_cas(
    tx: &mut External<Transaction>,
    ns_: u32,
    space: u32,
    key: Key,
    expected: Option<f64>,
    value: &[u8],
) -> Result<Option<f64>> {
    let expected = expected.map(|v| v as u64);
    js(tx.tx.cas(ns(ns_)?, space, &key, expected, value)).map(|v| v.map(|v| v as f64))
}

#[napi(catch_unwind)]
pub fn tx_list(
    tx: &mut External<Transaction>,
    ns_: u32,
    space: u32,
    prefix: Option<String>,
    after: Option<String>,
    limit: Option<f64>,
) -> Result<Uint8Array> {
    let limit = wire::opt_u64(limit).map(|n| n as usize);
    let keys = tx.tx.list(ns(ns_)?, space, prefix.as_deref().unwrap_or(""), after.as_deref(), limit);
    js(keys).map(|k| wire::strings(&k).into())
}

#[napi(catch_unwind)]
pub fn tx_append_event(tx: &mut External<Transaction>, space: u32, kind: String, payload: &[u8]) -> Result<f64> {
    js(tx.tx.append_event(space, &kind, payload)).map(|s| s as f64)
}

#[napi(catch_unwind)]
pub fn tx_commit(tx: &mut External<Transaction>) -> Result<()> {
    js(tx.tx.commit())
}

#[napi(catch_unwind)]
pub fn tx_rollback(tx: &mut External<Transaction>) {
    tx.tx.rollback();
}
