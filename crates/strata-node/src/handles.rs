//! Handle tables: how a number from JavaScript becomes a database or transaction without shared state.
//!
//! Each JavaScript thread (the main thread, each worker) has one table per kind of handle, in a thread-local.
//! Opening a handle puts it in the current thread's table and gives JavaScript its id; every call passes the id
//! back and looks it up in the same thread's table. The lookup touches only memory of the calling thread: no lock,
//! no atomic, no cache line another thread writes, so workers calling the addon at once do not slow each other.
//!
//! Safety does not rest on JavaScript passing the right number: an id is only an index checked against the table,
//! never a pointer. A number that names nothing here (a made-up one, one from another thread, one whose handle is
//! gone) answers `CLOSED`. Two rules keep an id from naming the wrong handle:
//!
//! - The id is tied to a JavaScript object, its owner, given when the handle is made (`napi_add_finalizer`). The
//!   slot is freed only when the owner is collected (or its thread ends); closing a handle drops what it holds but
//!   keeps its slot. So while anything can still reach the owner, and with it the id, the slot holds the same
//!   handle, closed or not: a closed handle always answers `CLOSED`.
//! - A reused slot gets the next generation, which is part of the id. A raw id kept after its owner was collected
//!   therefore names nothing rather than the slot's new handle, until the slot has been reused `GENERATIONS - 1`
//!   more times (ids stay small numbers, and this case needs the owner thrown away and its number kept).
//!
//! Ids are whole numbers with the slot index above `GENERATION_BITS` bits of generation; with fewer than 2^15
//! handles alive on a thread they stay below 2^31, which V8 stores and passes without boxing.

use std::cell::RefCell;
use std::ffi::c_void;
use std::rc::Rc;
use std::thread::LocalKey;

use napi::bindgen_prelude::Object;
use napi::{sys, JsValue};
use strata_core::ErrorCode;

use crate::Result;

/// A kind of handle JavaScript holds by id.
pub(crate) trait Handle: Sized + 'static {
    /// This thread's table of handles of this kind.
    fn table() -> &'static LocalKey<Table<Self>>;

    /// The error for an id that names no handle of this kind on this thread.
    fn closed() -> napi::Error<ErrorCode>;

    /// Lets go of a handle its thread left open, when the thread ends: drops what Rust owns (the engine and its
    /// locks go with the last reference) and leaks any JavaScript reference, since by then N-API may no longer be
    /// called (the environment is gone, or the process is exiting).
    fn abandon(self);
}

const GENERATION_BITS: u32 = 16;
/// Generations run from 1 to `GENERATIONS - 1`, so 0 is never an id.
const GENERATIONS: u32 = 1 << GENERATION_BITS;
/// Every id is below 2^48 (a `u32` index above 16 bits), so a JavaScript number holds it exactly.
const ID_LIMIT: f64 = (1u64 << (32 + GENERATION_BITS)) as f64;

fn encode(index: u32, generation: u32) -> f64 {
    ((u64::from(index) << GENERATION_BITS) | u64::from(generation)) as f64
}

/// The slot index and generation `id` names, or none when it is not an id at all.
fn decode(id: f64) -> Option<(usize, u32)> {
    // NaN, negatives, fractions and anything past the largest id name nothing.
    if !(1.0..ID_LIMIT).contains(&id) || id.fract() != 0.0 {
        return None;
    }
    let n = id as u64;
    Some(((n >> GENERATION_BITS) as usize, (n as u32) & (GENERATIONS - 1)))
}

struct Slot<T> {
    /// The generation of the id last given out for this slot (0 before the first).
    generation: u32,
    /// Shared with the calls running on it, so that no call holds the table borrowed while it runs: a finalizer
    /// that removes another handle, or a call that opens one, can always get at the table.
    handle: Option<Rc<RefCell<T>>>,
}

struct Slots<T> {
    slots: Vec<Slot<T>>,
    /// Indexes of empty slots.
    free: Vec<u32>,
}

/// The handles of one kind on one thread, indexed by id.
pub(crate) struct Table<T: Handle>(RefCell<Slots<T>>);

impl<T: Handle> Table<T> {
    pub(crate) const fn new() -> Self {
        Table(RefCell::new(Slots { slots: Vec::new(), free: Vec::new() }))
    }

    /// Puts `handle` in a free slot; returns the slot's index and new generation, or none when every index is
    /// taken.
    fn put(&self, handle: T) -> Option<(u32, u32)> {
        let mut t = self.0.borrow_mut();
        let index = match t.free.pop() {
            Some(index) => index,
            None => {
                let index = u32::try_from(t.slots.len()).ok()?;
                t.slots.push(Slot { generation: 0, handle: None });
                index
            }
        };
        let slot = &mut t.slots[index as usize];
        slot.generation = slot.generation % (GENERATIONS - 1) + 1;
        slot.handle = Some(Rc::new(RefCell::new(handle)));
        Some((index, slot.generation))
    }

    fn get(&self, id: f64) -> Option<Rc<RefCell<T>>> {
        let (index, generation) = decode(id)?;
        let t = self.0.borrow();
        let slot = t.slots.get(index)?;
        if slot.generation != generation {
            return None;
        }
        slot.handle.clone()
    }

    /// Empties the slot if it still holds the handle of that generation; returns the handle for the caller to
    /// drop once the table is no longer borrowed (dropping a handle may call N-API).
    fn take(&self, index: usize, generation: u32) -> Option<Rc<RefCell<T>>> {
        // Borrowed only if a finalizer ran inside one of this module's own short borrows, which call nothing; the
        // handle then stays until the thread ends, which is a leak and not an error.
        let mut t = self.0.try_borrow_mut().ok()?;
        let slot = t.slots.get_mut(index).filter(|s| s.generation == generation)?;
        let handle = slot.handle.take()?;
        t.free.push(index as u32);
        Some(handle)
    }
}

impl<T: Handle> Drop for Table<T> {
    /// The thread is ending: every handle still here was neither collected nor torn down with its environment.
    fn drop(&mut self) {
        for slot in self.0.get_mut().slots.drain(..) {
            // No call is running, so the table holds the only reference.
            if let Some(handle) = slot.handle.and_then(|h| Rc::try_unwrap(h).ok()) {
                handle.into_inner().abandon();
            }
        }
    }
}

/// Puts `handle` in this thread's table, to live until `owner` is collected; returns its id.
pub(crate) fn insert<T: Handle>(owner: &Object, handle: T) -> Result<f64> {
    let (index, generation) = T::table().with(|t| t.put(handle)).ok_or_else(|| {
        napi::Error::new(ErrorCode::LimitExceeded, "too many handles open on this thread".to_string())
    })?;
    // The index and generation travel as the finalizer's data and hint pointers: no allocation, and nothing the
    // finalizer could find freed.
    // SAFETY: `owner` is a value of this call's scope on this thread; N-API checks it is an object.
    let status = unsafe {
        sys::napi_add_finalizer(
            owner.value().env,
            owner.raw(),
            index as usize as *mut c_void,
            Some(release::<T>),
            generation as usize as *mut c_void,
            std::ptr::null_mut(),
        )
    };
    if status != sys::Status::napi_ok {
        drop(T::table().with(|t| t.take(index as usize, generation)));
        return Err(napi::Error::new(ErrorCode::InvalidValue, "a handle's owner must be an object".to_string()));
    }
    Ok(encode(index, generation))
}

/// Runs `f` on the handle `id` names on this thread, or fails with the kind's `CLOSED` error.
pub(crate) fn with<T: Handle, R>(id: f64, f: impl FnOnce(&mut T) -> Result<R>) -> Result<R> {
    let handle = T::table().with(|t| t.get(id)).ok_or_else(T::closed)?;
    // Calls do not re-enter the addon (the engine never calls JavaScript), so the handle is never borrowed here.
    let mut handle = handle.try_borrow_mut().map_err(|_| {
        napi::Error::new(ErrorCode::Unsupported, "a handle was used from inside one of its own calls".to_string())
    })?;
    f(&mut handle)
}

/// The finalizer of a handle's owner: frees its slot. Runs on the owner's thread, after a collection or when the
/// environment is torn down; never while a call holds the table.
unsafe extern "C" fn release<T: Handle>(_env: sys::napi_env, index: *mut c_void, generation: *mut c_void) {
    let (index, generation) = (index as usize, generation as usize as u32);
    // A panic must not unwind into Node. If the thread's table is already gone, so is the handle.
    let _ = std::panic::catch_unwind(|| {
        let handle = T::table().try_with(|t| t.take(index, generation)).ok().flatten();
        drop(handle);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_junk_names_nothing() {
        for (index, generation) in [(0, 1), (1, 1), (0x7fff, GENERATIONS - 1), (u32::MAX, GENERATIONS - 1)] {
            assert_eq!(decode(encode(index, generation)), Some((index as usize, generation)));
        }
        assert!(encode(0x7fff, GENERATIONS - 1) < 2f64.powi(31));
        for junk in [0.0, -1.0, 0.5, 1.5, f64::NAN, f64::INFINITY, ID_LIMIT, 1e300] {
            assert_eq!(decode(junk), None, "{junk}");
        }
    }

    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    /// A handle with a value, which adds it to a counter when abandoned.
    struct Probe(u32, Arc<AtomicU32>);

    fn probe(value: u32) -> Probe {
        Probe(value, Arc::default())
    }

    thread_local! {
        static PROBES: Table<Probe> = const { Table::new() };
    }

    impl Handle for Probe {
        fn table() -> &'static LocalKey<Table<Self>> {
            &PROBES
        }

        fn closed() -> napi::Error<ErrorCode> {
            unreachable!()
        }

        fn abandon(self) {
            self.1.fetch_add(self.0, Ordering::Relaxed);
        }
    }

    fn value(t: &Table<Probe>, id: f64) -> Option<u32> {
        t.get(id).map(|h| h.borrow().0)
    }

    #[test]
    fn an_old_id_names_nothing_once_its_slot_is_reused() {
        let t = Table::new();
        let (i, g) = t.put(probe(1)).unwrap();
        let old = encode(i, g);
        assert_eq!(value(&t, old), Some(1));
        assert!(t.take(i as usize, g).is_some());
        assert_eq!(value(&t, old), None);
        let (j, h) = t.put(probe(2)).unwrap();
        assert_eq!((j, h), (i, g + 1));
        assert_eq!(value(&t, old), None);
        assert_eq!(value(&t, encode(j, h)), Some(2));
        // A late finalizer of the old handle leaves the new one alone.
        assert!(t.take(i as usize, g).is_none());
        assert_eq!(value(&t, encode(j, h)), Some(2));
    }

    #[test]
    fn generations_wrap_past_zero() {
        let t = Table::new();
        let mut seen = Vec::new();
        for _ in 0..GENERATIONS + 1 {
            let (i, g) = t.put(probe(0)).unwrap();
            assert_eq!(i, 0);
            seen.push(g);
            t.take(0, g);
        }
        assert_eq!(seen[..2], [1, 2]);
        assert_eq!(seen[GENERATIONS as usize - 2..], [GENERATIONS - 1, 1, 2]);
    }

    #[test]
    fn handles_left_when_the_thread_ends_are_abandoned() {
        let abandoned = Arc::new(AtomicU32::new(0));
        let counter = abandoned.clone();
        std::thread::spawn(move || {
            PROBES.with(|t| {
                t.put(Probe(1, counter.clone())).unwrap();
                let (i, g) = t.put(Probe(10, counter.clone())).unwrap();
                t.put(Probe(100, counter)).unwrap();
                t.take(i as usize, g);
            })
        })
        .join()
        .unwrap();
        // Joining waits for the thread's thread-local destructors.
        assert_eq!(abandoned.load(Ordering::Relaxed), 101);
    }
}
