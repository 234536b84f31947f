//! Handle tables: how a number from JavaScript becomes a database or transaction without shared state.
//!
//! Each JavaScript thread (the main thread, each worker) has one table per kind of handle, in a thread-local.
//! Opening a handle puts it in the current thread's table and gives JavaScript its id; every call passes the id
//! back and looks it up in the same thread's table. The lookup touches only memory of the calling thread: no lock,
//! no atomic, no cache line another thread writes, so workers calling the addon at once do not slow each other.
//!
//! Safety does not rest on JavaScript passing the right number: an id is checked against the table, never used as
//! a pointer, and a number that names nothing answers `CLOSED`. Three rules keep an id from naming the wrong
//! handle:
//!
//! - The id is tied to a JavaScript object, its owner, given when the handle is made (`napi_add_finalizer`). The
//!   slot is freed only when the owner is collected (or its thread ends); closing a handle drops what it holds but
//!   keeps its slot. So while anything can still reach the owner, and with it the id, the slot holds the same
//!   handle, closed or not: a closed handle answers `CLOSED` however many handles come and go meanwhile.
//! - A reused slot gets the next generation, which is part of the id. A raw id kept after its owner was collected
//!   names nothing rather than the slot's new handle, until that slot has been reused `GENERATIONS - 1` times.
//! - Each table has a number of its own, also part of the id, so an id carried to another thread (or passed to a
//!   call for the other kind of handle) names nothing there, until `TABLES - 1` more tables have been made.
//!
//! The last two need a number separated from its object, which only a caller of the raw addon can do; the
//! TypeScript layer never does. Such a caller must also keep the owner reachable while it uses the id: once the
//! owner is collected the handle is gone, and its id answers `CLOSED`.
//!
//! An id is a whole number below 2^53, so a JavaScript number holds it exactly: the table's number, then the slot
//! index, then the generation. (V8 keeps ids of 2^31 and up as heap numbers; measured, passing one costs no more.)

use std::cell::RefCell;
use std::ffi::c_void;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};
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
const INDEX_BITS: u32 = 24;
const TABLE_BITS: u32 = 53 - INDEX_BITS - GENERATION_BITS;
/// Generations run from 1 to `GENERATIONS - 1`, and table numbers from 1 to `TABLES - 1`: 0 is never part of an id.
const GENERATIONS: u32 = 1 << GENERATION_BITS;
const TABLES: u32 = 1 << TABLE_BITS;
/// Live handles one table can hold; the TypeScript layer gives each a 4 KiB read buffer, so memory runs out first.
const INDEXES: usize = 1 << INDEX_BITS;
const ID_LIMIT: f64 = (1u64 << 53) as f64;

/// How many tables this process has made: read once per table, when its first handle goes in.
static TABLES_MADE: AtomicU32 = AtomicU32::new(0);

#[derive(Clone, Copy, Debug, PartialEq)]
struct Id {
    table: u32,
    index: u32,
    generation: u32,
}

impl Id {
    fn bits(self) -> u64 {
        let Id { table, index, generation } = self;
        (u64::from(table) << (INDEX_BITS + GENERATION_BITS))
            | (u64::from(index) << GENERATION_BITS)
            | u64::from(generation)
    }

    fn from_bits(n: u64) -> Id {
        Id {
            table: (n >> (INDEX_BITS + GENERATION_BITS)) as u32 & (TABLES - 1),
            index: (n >> GENERATION_BITS) as u32 & (INDEXES as u32 - 1),
            generation: n as u32 & (GENERATIONS - 1),
        }
    }

    /// The id as JavaScript holds it.
    fn number(self) -> f64 {
        self.bits() as f64
    }

    /// The id `n` is, or none when it cannot be one: NaN, negative, fractional, too large.
    fn from_number(n: f64) -> Option<Id> {
        // The cast saturates (NaN and negatives to 0), so a number that survives the round trip is a whole one in
        // range; checked this way rather than with `fract`, which is a call into libm on baseline x86-64.
        let bits = n as u64;
        (bits as f64 == n && n < ID_LIMIT).then(|| Id::from_bits(bits))
    }
}

struct Slot<T> {
    /// The generation of the id last given out for this slot (0 before the first).
    generation: u32,
    /// Shared with the calls running on it, so that no call holds the table borrowed while it runs: a finalizer
    /// that removes another handle, or a call that opens one, can always get at the table.
    handle: Option<Rc<RefCell<T>>>,
}

struct Slots<T> {
    /// This table's number in its ids; 0 until the first handle goes in.
    number: u32,
    slots: Vec<Slot<T>>,
    /// Indexes of empty slots.
    free: Vec<u32>,
}

/// The handles of one kind on one thread, indexed by id.
pub(crate) struct Table<T: Handle>(RefCell<Slots<T>>);

impl<T: Handle> Table<T> {
    pub(crate) const fn new() -> Self {
        Table(RefCell::new(Slots { number: 0, slots: Vec::new(), free: Vec::new() }))
    }

    /// Puts `handle` in a free slot; returns its id, or none when every index is taken.
    fn put(&self, handle: T) -> Option<Id> {
        let mut t = self.0.borrow_mut();
        if t.number == 0 {
            t.number = TABLES_MADE.fetch_add(1, Ordering::Relaxed) % (TABLES - 1) + 1;
        }
        let index = match t.free.pop() {
            Some(index) => index,
            None if t.slots.len() < INDEXES => {
                t.slots.push(Slot { generation: 0, handle: None });
                (t.slots.len() - 1) as u32
            }
            None => return None,
        };
        let table = t.number;
        let slot = &mut t.slots[index as usize];
        slot.generation = slot.generation % (GENERATIONS - 1) + 1;
        slot.handle = Some(Rc::new(RefCell::new(handle)));
        Some(Id { table, index, generation: slot.generation })
    }

    fn get(&self, id: Id) -> Option<Rc<RefCell<T>>> {
        let t = self.0.borrow();
        if t.number != id.table {
            return None;
        }
        let slot = t.slots.get(id.index as usize).filter(|s| s.generation == id.generation)?;
        slot.handle.clone()
    }

    /// Empties the slot if it still holds the handle `id` names; returns the handle for the caller to drop once the
    /// table is no longer borrowed (dropping a handle may call N-API).
    fn take(&self, id: Id) -> Option<Rc<RefCell<T>>> {
        // Borrowed only if a finalizer ran inside one of this module's own short borrows, which call nothing; the
        // handle then stays until the thread ends, which is a leak and not an error.
        let mut t = self.0.try_borrow_mut().ok()?;
        if t.number != id.table {
            return None;
        }
        let slot = t.slots.get_mut(id.index as usize).filter(|s| s.generation == id.generation)?;
        let handle = slot.handle.take()?;
        t.free.push(id.index);
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
    let id = T::table().with(|t| t.put(handle)).ok_or_else(|| {
        napi::Error::new(ErrorCode::LimitExceeded, "too many handles open on this thread".to_string())
    })?;
    // The id travels in the finalizer's data and hint pointers, 32 bits in each: no allocation, and nothing the
    // finalizer could find freed.
    // SAFETY: `owner` is a value of this call's scope on this thread; N-API checks it is an object.
    let status = unsafe {
        sys::napi_add_finalizer(
            owner.value().env,
            owner.raw(),
            (id.bits() as u32) as usize as *mut c_void,
            Some(release::<T>),
            (id.bits() >> 32) as usize as *mut c_void,
            std::ptr::null_mut(),
        )
    };
    if status != sys::Status::napi_ok {
        drop(T::table().with(|t| t.take(id)));
        return Err(napi::Error::new(ErrorCode::InvalidValue, "a handle's owner must be an object".to_string()));
    }
    Ok(id.number())
}

/// Runs `f` on the handle `id` names on this thread, or fails with the kind's `CLOSED` error.
pub(crate) fn with<T: Handle, R>(id: f64, f: impl FnOnce(&mut T) -> Result<R>) -> Result<R> {
    let handle = Id::from_number(id).and_then(|id| T::table().with(|t| t.get(id))).ok_or_else(T::closed)?;
    // Calls do not re-enter the addon (the engine never calls JavaScript), so the handle is never borrowed here.
    let mut handle = handle.try_borrow_mut().map_err(|_| {
        napi::Error::new(ErrorCode::Unsupported, "a handle was used from inside one of its own calls".to_string())
    })?;
    f(&mut handle)
}

/// The finalizer of a handle's owner: frees its slot. Runs on the owner's thread, after a collection or when the
/// environment is torn down. No call keeps the table borrowed while it runs (a running call holds its handle's
/// `Rc`), so this may free a slot at any moment, even in the middle of a call on that very handle.
unsafe extern "C" fn release<T: Handle>(_env: sys::napi_env, low: *mut c_void, high: *mut c_void) {
    let id = Id::from_bits((high as usize as u64) << 32 | low as usize as u64);
    // A panic must not unwind into Node. If the thread's table is already gone, so is the handle.
    let _ = std::panic::catch_unwind(|| {
        let handle = T::table().try_with(|t| t.take(id));
        drop(handle);
    });
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn ids_are_exact_javascript_numbers_and_junk_names_nothing() {
        let ids = [
            Id { table: 1, index: 0, generation: 1 },
            Id { table: TABLES - 1, index: INDEXES as u32 - 1, generation: GENERATIONS - 1 },
        ];
        for id in ids {
            assert_eq!(Id::from_number(id.number()), Some(id));
            assert_eq!(Id::from_bits(id.bits()), id);
        }
        assert_eq!(ids[1].number(), ID_LIMIT - 1.0);
        for junk in [-1.0, -0.5, 0.5, 1.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, ID_LIMIT, 1e300] {
            assert_eq!(Id::from_number(junk), None, "{junk}");
        }
    }

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

    fn value(t: &Table<Probe>, id: Id) -> Option<u32> {
        t.get(id).map(|h| h.borrow().0)
    }

    #[test]
    fn an_old_id_names_nothing_once_its_slot_is_reused() {
        let t = Table::new();
        let old = t.put(probe(1)).unwrap();
        assert_eq!(value(&t, old), Some(1));
        assert!(t.take(old).is_some());
        assert_eq!(value(&t, old), None);
        let new = t.put(probe(2)).unwrap();
        assert_eq!(new, Id { generation: old.generation + 1, ..old });
        assert_eq!(value(&t, old), None);
        assert_eq!(value(&t, new), Some(2));
        // A late finalizer of the old handle leaves the new one alone.
        assert!(t.take(old).is_none());
        assert_eq!(value(&t, new), Some(2));
    }

    #[test]
    fn an_id_of_another_table_names_nothing() {
        let (a, b) = (Table::new(), Table::new());
        let in_a = a.put(probe(1)).unwrap();
        let in_b = b.put(probe(2)).unwrap();
        assert_ne!(in_a.table, in_b.table);
        assert_eq!((in_a.index, in_a.generation), (in_b.index, in_b.generation));
        assert_eq!(value(&a, in_b), None);
        assert!(a.take(in_b).is_none());
        assert_eq!(value(&a, in_a), Some(1));
    }

    #[test]
    fn generations_wrap_past_zero() {
        let t = Table::new();
        let mut seen = Vec::new();
        for _ in 0..GENERATIONS + 1 {
            let id = t.put(probe(0)).unwrap();
            assert_eq!(id.index, 0);
            seen.push(id.generation);
            t.take(id);
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
                let taken = t.put(Probe(10, counter.clone())).unwrap();
                t.put(Probe(100, counter)).unwrap();
                t.take(taken);
            })
        })
        .join()
        .unwrap();
        // Joining waits for the thread's thread-local destructors.
        assert_eq!(abandoned.load(Ordering::Relaxed), 101);
    }
}
