//! The call frame: the hottest calls take their arguments from a buffer instead of as N-API arguments.
//!
//! napi-rs opens a borrow scope around every call that has arguments (thread-local bookkeeping plus an
//! `Arc<Mutex<..>>` allocated and freed per call) and skips it for a free function without any
//! (`zero_arg_shortcut` in napi-derive-backend 7). Profiling `kv.get` showed ~15% of each call in that scope and
//! another ~6% in `napi_get_value_string_utf8` for the key. So, as lmdb-js does ("key in, number out"), the calls
//! that run most (get, put, cas, delete, event append and read, in a database or a transaction) come as exports
//! without arguments: JavaScript first writes their arguments into the frame, a buffer of its own thread, and the
//! export reads them from there. A prototype of `kv.get` this way went from 2.09M to 2.70M gets/s on 1k keys and
//! from 0.93M to 1.10M/s on 100k keys. Reads still land in the handle's read buffer; only the arguments moved.
//!
//! # One frame per thread
//! The TypeScript layer may be loaded twice in one thread (`dist/index.js` and `dist/index.cjs`, each with its own
//! module state), so the frame cannot be a buffer each copy makes and registers: the last registration would
//! silently redirect the other copy's calls. Instead `frame()` makes the thread's frame on its first call and
//! returns that same buffer to every later caller, so every copy writes where the calls read. Calls are
//! synchronous and a thread runs one piece of JavaScript at a time, so no other write can come between a copy's
//! writing the frame and its call. The frame never grows, so nobody is left holding an outdated buffer: what does
//! not fit goes through the call's export that takes arguments (see `layout`).
//!
//! # Trust
//! Nothing in the frame is trusted: JavaScript (or a caller of the raw addon) may leave any bytes there. A slot
//! that cannot be what it stands for, a length beyond its region, or a key that is not UTF-8 gives a clean error;
//! a handle id that names nothing answers `CLOSED`, as it does as an argument. The memory is made here, an
//! ordinary `ArrayBuffer` (not shared with another thread, not resizable) held by a strong reference, so it stays
//! while the thread's environment lives, and no Rust reference into it is held across an engine call that writes
//! JavaScript memory (the key is copied out first). Like the handles' read buffers, it relies on the caller of the
//! raw addon not detaching it (transferring it away): checking that on each call (`napi_is_detached_arraybuffer`)
//! was measured at ~15 ns, 8% of a framed get, for a misuse the TypeScript layer cannot commit (it never exposes
//! the frame).
//!
//! # Names
//! A call whose arguments always fit has only its framed export, under the call's name (`db_get_event`). The
//! others keep the export that takes arguments under the call's name, for what does not fit, and add the framed
//! one as `<name>_framed` (`db_get` and `db_get_framed`); both forward to one function.

use std::cell::Cell;
use std::ffi::c_void;
use std::ptr;

use napi::bindgen_prelude::{ToNapiValue, TypeName};
use napi::{sys, Env, ValueType};
use napi_derive::napi;
use strata_core::ErrorCode;

use crate::key::Key;
use crate::Result;

/// Where each argument sits in the frame: the one table of it on the Rust side. `ts/loader/frame.ts` mirrors it
/// and checks its copy against `frame_layout()` when it loads.
///
/// The frame starts with `SLOTS` numbers (f64, native byte order, at byte `8 * slot`), then a region for the key's
/// UTF-8 bytes, then one for the value's bytes. A key of more than `KEY_UNITS` UTF-16 code units, or a value of
/// more than `VALUE_ROOM` bytes, goes through the export that takes arguments. Such a key is more than
/// `MAX_KEY_BYTES` bytes of UTF-8 and so never valid, and taking it as an argument lets the engine answer it
/// exactly as before (`LIMIT_EXCEEDED`, naming its length); a key of at most `KEY_UNITS` units is at most three
/// bytes of UTF-8 per unit, so always fits its region.
pub mod layout {
    use strata_core::MAX_KEY_BYTES;

    /// The handle's id (database or transaction).
    pub const HANDLE: usize = 0;
    /// The namespace's number.
    pub const NS: usize = 1;
    pub const BRANCH: usize = 2;
    pub const SPACE: usize = 3;
    /// The version to read as of; a negative number (or NaN) for none.
    pub const AS_OF: usize = 4;
    /// A CAS's expected version; a negative number (or NaN) for none ("only if absent").
    pub const EXPECTED: usize = 5;
    /// An event's sequence number.
    pub const SEQ: usize = 6;
    /// The key's length in bytes (the event type's, for events).
    pub const KEY_LENGTH: usize = 7;
    /// The value's length in bytes (the event payload's, for events).
    pub const VALUE_LENGTH: usize = 8;
    pub const SLOTS: usize = 9;

    /// The longest key, in UTF-16 code units, that goes through the frame.
    pub const KEY_UNITS: usize = MAX_KEY_BYTES;
    pub const KEY_OFFSET: usize = SLOTS * 8;
    /// Three bytes of UTF-8 per UTF-16 unit at most (a surrogate pair, two units, is four bytes).
    pub const KEY_ROOM: usize = 3 * KEY_UNITS;
    pub const VALUE_OFFSET: usize = KEY_OFFSET + KEY_ROOM;
    /// The frame's whole length (see `VALUE_ROOM` for why this one).
    pub const BYTES: usize = 8 * 1024;
    /// The longest value that goes through the frame (5048 bytes). JavaScript copies a value into the frame,
    /// where an argument is read in place, so the saving shrinks as values grow: measured on raw puts, a framed
    /// put was ~100 ns faster up to 5 KB, about even at 8 KiB, and 1-3% slower from 16 KiB. Longer values go as
    /// arguments.
    pub const VALUE_ROOM: usize = BYTES - VALUE_OFFSET;
}

use layout::*;

/// The frame's layout, for JavaScript to check its copy of it against.
#[napi(object)]
pub struct FrameLayout {
    pub bytes: u32,
    pub slots: u32,
    pub handle: u32,
    pub ns: u32,
    pub branch: u32,
    pub space: u32,
    pub as_of: u32,
    pub expected: u32,
    pub seq: u32,
    pub key_length: u32,
    pub value_length: u32,
    pub key_units: u32,
    pub key_offset: u32,
    pub key_room: u32,
    pub value_offset: u32,
    pub value_room: u32,
}

#[napi]
pub fn frame_layout() -> FrameLayout {
    let n = |x: usize| x as u32;
    FrameLayout {
        bytes: n(BYTES),
        slots: n(SLOTS),
        handle: n(HANDLE),
        ns: n(NS),
        branch: n(BRANCH),
        space: n(SPACE),
        as_of: n(AS_OF),
        expected: n(EXPECTED),
        seq: n(SEQ),
        key_length: n(KEY_LENGTH),
        value_length: n(VALUE_LENGTH),
        key_units: n(KEY_UNITS),
        key_offset: n(KEY_OFFSET),
        key_room: n(KEY_ROOM),
        value_offset: n(VALUE_OFFSET),
        value_room: n(VALUE_ROOM),
    }
}

/// This thread's frame. Only raw pointers, so the thread-local has no destructor: when the thread ends, the
/// reference is left as it is (as `handles` abandons JavaScript references), since N-API may no longer be called
/// then. The environment's cleanup hook forgets the frame first whenever the environment ends before the thread.
struct Thread {
    /// The frame's first byte, or null when there is none.
    bytes: Cell<*mut u8>,
    /// A strong reference to the frame's `Uint8Array`, which keeps its memory alive.
    reference: Cell<sys::napi_ref>,
    /// The environment the reference belongs to.
    env: Cell<sys::napi_env>,
}

thread_local! {
    static THREAD: Thread = const {
        Thread { bytes: Cell::new(ptr::null_mut()), reference: Cell::new(ptr::null_mut()), env: Cell::new(ptr::null_mut()) }
    };
}

/// A JavaScript value returned as is.
pub struct Js(sys::napi_value);

impl TypeName for Js {
    fn type_name() -> &'static str {
        "Uint8Array"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for Js {
    unsafe fn to_napi_value(_env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        Ok(val.0)
    }
}

fn invalid(message: String) -> napi::Error<ErrorCode> {
    napi::Error::new(ErrorCode::InvalidValue, message)
}

fn check(status: sys::napi_status, what: &str) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(invalid(format!("frame: {what} failed (N-API status {status})")))
    }
}

/// This thread's frame: a `Uint8Array` of `layout::BYTES` bytes, made by the first call in a thread (or in a new
/// environment of it) and the same one for every later call. Every copy of the TypeScript layer in the thread
/// calls this and writes into what it returns.
#[napi(catch_unwind, ts_return_type = "Uint8Array")]
pub fn frame(env: Env) -> Result<Js> {
    let env = env.raw();
    THREAD.with(|t| {
        let mut frame = ptr::null_mut();
        if !t.bytes.get().is_null() {
            if t.env.get() != env {
                let message = "frame: this thread's call frame belongs to another N-API environment";
                return Err(napi::Error::new(ErrorCode::Unsupported, message.to_string()));
            }
            // SAFETY: the reference was made in this environment, which is alive (its cleanup hook clears it).
            check(unsafe { sys::napi_get_reference_value(env, t.reference.get(), &mut frame) }, "reading the frame")?;
            return Ok(Js(frame));
        }
        let (mut bytes, mut buffer, mut reference) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
        // SAFETY: `env` is this call's environment; the out-pointers are valid. The memory is an ordinary
        // `ArrayBuffer` of exactly `BYTES` bytes: not shared with another thread, not resizable.
        check(unsafe { sys::napi_create_arraybuffer(env, BYTES, &mut bytes, &mut buffer) }, "making the frame")?;
        if bytes.is_null() {
            return Err(invalid("frame: N-API made an ArrayBuffer without memory".to_string()));
        }
        let uint8 = sys::TypedarrayType::uint8_array;
        // SAFETY: as above; `buffer` is a value of this call's scope.
        check(unsafe { sys::napi_create_typedarray(env, uint8, BYTES, buffer, 0, &mut frame) }, "making the frame")?;
        // SAFETY: as above.
        check(unsafe { sys::napi_create_reference(env, frame, 1, &mut reference) }, "keeping the frame")?;
        // SAFETY: the hook and its (null) argument live as long as the program.
        let status = unsafe { sys::napi_add_env_cleanup_hook(env, Some(forget), ptr::null_mut()) };
        if status != sys::Status::napi_ok {
            // SAFETY: made above, in this environment, and given to nobody.
            unsafe { sys::napi_delete_reference(env, reference) };
            check(status, "watching the environment")?;
        }
        t.bytes.set(bytes.cast());
        t.reference.set(reference);
        t.env.set(env);
        Ok(Js(frame))
    })
}

/// The environment is ending: forget its frame (the reference goes with the environment).
unsafe extern "C" fn forget(_arg: *mut c_void) {
    let _ = THREAD.try_with(|t| {
        t.bytes.set(ptr::null_mut());
        t.reference.set(ptr::null_mut());
        t.env.set(ptr::null_mut());
    });
}

/// Why a frame's arguments cannot be read; an error of the call (`?` turns it into one). Its own type rather than
/// `napi::Error`, so that the tests below, which link no N-API, can read frames.
#[derive(Debug)]
pub(crate) struct BadFrame(ErrorCode, String);

impl From<BadFrame> for napi::Error<ErrorCode> {
    fn from(BadFrame(code, message): BadFrame) -> Self {
        napi::Error::new(code, message)
    }
}

type Read<T> = std::result::Result<T, BadFrame>;

fn damaged(message: String) -> BadFrame {
    BadFrame(ErrorCode::InvalidValue, message)
}

/// The arguments of one framed call, in this thread's frame. Not `Send`, and only made inside a call.
pub(crate) struct Args {
    bytes: *const u8,
}

/// The arguments JavaScript wrote for the current call.
pub(crate) fn args() -> Read<Args> {
    let bytes = THREAD.with(|t| t.bytes.get());
    if bytes.is_null() {
        let message = "no call frame on this thread: call frame() before a framed call";
        return Err(BadFrame(ErrorCode::Unsupported, message.to_string()));
    }
    Ok(Args { bytes })
}

impl Args {
    fn slot(&self, slot: usize) -> f64 {
        debug_assert!(slot < SLOTS);
        // SAFETY: the frame is `BYTES` long and the slots lie at its start (checked by a test below); the memory
        // is alive while the environment is, and no other thread writes it.
        unsafe { ptr::read_unaligned(self.bytes.add(8 * slot).cast::<f64>()) }
    }

    /// A length slot as a length of at most `room`.
    fn length(&self, slot: usize, room: usize, what: &str) -> Read<usize> {
        let n = self.slot(slot);
        let len = n as usize;
        if len as f64 != n || len > room {
            return Err(damaged(format!("call frame: the {what} length {n} is not a whole number from 0 to {room}")));
        }
        Ok(len)
    }

    fn u32(&self, slot: usize, what: &str) -> Read<u32> {
        let n = self.slot(slot);
        let u = n as u32;
        if u as f64 != n {
            return Err(damaged(format!("call frame: the {what} {n} is not a whole number from 0 to {}", u32::MAX)));
        }
        Ok(u)
    }

    pub(crate) fn handle(&self) -> f64 {
        self.slot(HANDLE)
    }

    pub(crate) fn ns(&self) -> Read<u32> {
        self.u32(NS, "namespace")
    }

    pub(crate) fn branch(&self) -> f64 {
        self.slot(BRANCH)
    }

    pub(crate) fn space(&self) -> Read<u32> {
        self.u32(SPACE, "space")
    }

    /// As the optional argument: a negative number or NaN is none (`wire::opt_u64`).
    pub(crate) fn as_of(&self) -> Option<f64> {
        Some(self.slot(AS_OF))
    }

    pub(crate) fn expected(&self) -> Option<f64> {
        Some(self.slot(EXPECTED)).filter(|v| *v >= 0.0)
    }

    pub(crate) fn seq(&self) -> f64 {
        self.slot(SEQ)
    }

    /// A copy of the key, checked to be UTF-8: a read writes the read buffer, which may be any memory JavaScript
    /// chose, so no reference into the frame is held while the engine runs.
    pub(crate) fn key(&self) -> Read<Key> {
        let len = self.length(KEY_LENGTH, KEY_ROOM, "key")?;
        // SAFETY: `len` is at most `KEY_ROOM`, and the key region ends inside the frame (checked by a test below).
        let bytes = unsafe { std::slice::from_raw_parts(self.bytes.add(KEY_OFFSET), len) };
        Key::from_utf8(bytes)
            .map_err(|_| BadFrame(ErrorCode::InvalidKey, "call frame: the key is not UTF-8".to_string()))
    }

    /// The value's bytes, in place: only for calls that write no JavaScript memory while they run.
    pub(crate) fn value(&self) -> Read<&[u8]> {
        let len = self.length(VALUE_LENGTH, VALUE_ROOM, "value")?;
        // SAFETY: `len` is at most `VALUE_ROOM`, and the value region ends with the frame; the slice lives no
        // longer than this call, during which no JavaScript runs.
        Ok(unsafe { std::slice::from_raw_parts(self.bytes.add(VALUE_OFFSET), len) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_regions_follow_each_other_inside_the_frame() {
        assert_eq!(KEY_OFFSET, SLOTS * 8);
        for slot in [HANDLE, NS, BRANCH, SPACE, AS_OF, EXPECTED, SEQ, KEY_LENGTH, VALUE_LENGTH] {
            assert!(slot < SLOTS);
        }
        assert_eq!(KEY_OFFSET % 8, 0);
        assert_eq!(VALUE_OFFSET, KEY_OFFSET + KEY_ROOM);
        assert_eq!(VALUE_OFFSET + VALUE_ROOM, BYTES);
        // Every key of at most `KEY_UNITS` UTF-16 units fits: the worst is three bytes per unit.
        let worst: String = "\u{ffff}".repeat(KEY_UNITS);
        assert_eq!(worst.encode_utf16().count(), KEY_UNITS);
        assert_eq!(worst.len(), KEY_ROOM);
        const { assert!(VALUE_ROOM >= 4096) };
    }

    /// A frame as JavaScript would write it, in a buffer aligned like an `ArrayBuffer`.
    fn frame_with(slots: &[(usize, f64)], key: &[u8]) -> Vec<f64> {
        let mut frame = vec![0f64; BYTES / 8];
        for &(slot, n) in slots {
            frame[slot] = n;
        }
        let bytes: &mut [u8] = as_bytes(&mut frame);
        bytes[KEY_OFFSET..KEY_OFFSET + key.len()].copy_from_slice(key);
        frame
    }

    fn as_bytes(frame: &mut [f64]) -> &mut [u8] {
        // SAFETY: any bytes are a valid f64 and the other way round; the length is the same memory.
        unsafe { std::slice::from_raw_parts_mut(frame.as_mut_ptr().cast::<u8>(), frame.len() * 8) }
    }

    fn args_of(frame: &mut [f64]) -> Args {
        Args { bytes: frame.as_mut_ptr().cast::<u8>() }
    }

    #[test]
    fn garbage_in_the_frame_is_an_error() {
        let message = |r: Read<Key>| r.err().map(|BadFrame(code, message)| (code, message));
        for bad in [-1.0, 0.5, f64::NAN, f64::INFINITY, (KEY_ROOM + 1) as f64, 1e300] {
            let mut frame = frame_with(&[(KEY_LENGTH, bad)], b"");
            let (code, reason) = message(args_of(&mut frame).key()).expect("an error");
            assert_eq!(code, ErrorCode::InvalidValue, "{bad}: {reason}");
        }
        let mut frame = frame_with(&[(KEY_LENGTH, 2.0)], &[0xc3, 0x28]);
        assert_eq!(message(args_of(&mut frame).key()).unwrap().0, ErrorCode::InvalidKey);
        let mut frame = frame_with(&[(VALUE_LENGTH, (VALUE_ROOM + 1) as f64)], b"");
        assert!(args_of(&mut frame).value().is_err());
        for bad in [-1.0, 0.5, f64::NAN, 4294967296.0] {
            let mut frame = frame_with(&[(NS, bad), (SPACE, bad)], b"");
            assert!(args_of(&mut frame).ns().is_err(), "{bad}");
            assert!(args_of(&mut frame).space().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_whole_frame_reads_back() {
        let key = "clé".as_bytes();
        let mut frame = frame_with(
            &[
                (HANDLE, 7.0),
                (NS, 1.0),
                (SPACE, 4294967295.0),
                (KEY_LENGTH, key.len() as f64),
                (VALUE_LENGTH, VALUE_ROOM as f64),
            ],
            key,
        );
        let a = args_of(&mut frame);
        assert_eq!((a.handle(), a.ns().unwrap(), a.space().unwrap()), (7.0, 1, u32::MAX));
        assert_eq!(&*a.key().unwrap(), "clé");
        assert_eq!(a.value().unwrap().len(), VALUE_ROOM);
        let mut frame = frame_with(&[(EXPECTED, -1.0), (AS_OF, -1.0)], b"");
        let a = args_of(&mut frame);
        assert_eq!(a.expected(), None);
        assert_eq!(strata_core::wire::opt_u64(a.as_of()), None);
    }
}
