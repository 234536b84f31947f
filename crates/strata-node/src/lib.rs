//! The N-API binding: converts arguments, forwards to `strata_core`, and maps errors to `error.code`.
//! No engine logic lives here; see `strata_core` for what each call means.
//!
//! Every call is a free function taking its handle first, and a handle is a number: an id in a table of the
//! calling thread (`handles`). Worker threads call the addon at once, so a call must not touch anything shared
//! between threads on its way to the engine. napi-rs offers two shapes that both do: a class method registers
//! its borrow of `this` in a process-wide, mutex-guarded map (locked on entry and again on exit), and an
//! `External` argument is checked against a process-wide, mutex-guarded registry of live externals. Either lock
//! is taken on every call by every thread, which serialised the workers and bounced its cache line between cores.
//! An id is looked up in a thread-local slab instead, checked for its table and generation, and answers `CLOSED`
//! when it names nothing; the handle lives until a JavaScript object, its owner, is collected
//! (`napi_add_finalizer`). `ts/loader/native-binding.ts` gives the calls back their `Binding` methods, each
//! object owning its handle.
//!
//! napi-rs still opens a borrow scope for each call with arguments (an allocation and thread-local bookkeeping,
//! nothing another thread touches), and skips it for a function without any. So the hottest calls (get, put,
//! delete, CAS, event append and read) also come without arguments: JavaScript writes them into the calling
//! thread's call frame first (`frame`, which says what this saves and what does not fit).

use napi::bindgen_prelude::Uint8Array;
use napi_derive::napi;
use strata_core::{self as core, wire, ErrorCode};

// Public so the exported functions count as the crate's API in every build, tests included.
pub mod database;
pub mod frame;
mod handles;
mod key;
pub mod transaction;

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

/// The bytes of a handle's read buffer, or none before JavaScript has set one.
fn read_buffer(buffer: &mut Option<Uint8Array>) -> &mut [u8] {
    // SAFETY: the buffer is only touched during the synchronous call that asked for it, on the JavaScript thread
    // that owns it.
    buffer.as_mut().map(|b| unsafe { b.as_mut() }).unwrap_or_default()
}

/// The engine's error codes, for the test that checks the TypeScript list against them.
#[napi]
pub fn error_codes() -> Vec<&'static str> {
    ErrorCode::ALL.iter().map(|c| c.as_str()).collect()
}
