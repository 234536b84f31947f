//! The global allocator: dlmalloc, as in std's wasm32 build, but growing linear memory in large steps.
//!
//! std's allocator grows memory by what each request lacks, a few 64 KiB pages at a time. Every growth hands
//! JavaScript a new `ArrayBuffer` for the whole memory, and V8 counts each one as fresh external memory: a write
//! loop that grows memory every few hundred puts ran a full garbage collection every few grows (65% of put-seq's
//! time). Growing by the memory's current size, up to `MAX_STEP`, makes growths logarithmic in the data size.
//! Pages grown but not yet used stay untouched, so they cost address space, not resident memory.

use std::alloc::{GlobalAlloc, Layout};
use std::arch::wasm32;
use std::cell::UnsafeCell;
use std::ptr;

use dlmalloc::{Allocator, Dlmalloc};

#[cfg(target_feature = "atomics")]
compile_error!("the allocator below assumes one thread; a threaded build needs a locked one");

const PAGE: usize = 64 * 1024;
/// Most pages one growth adds beyond the request: past 256 MiB, memory grows by 256 MiB at a time.
const MAX_STEP: usize = 4096;

struct Geometric;

// SAFETY: the memory it hands out is grown for it alone and never given back.
unsafe impl Allocator for Geometric {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        let needed = size.div_ceil(PAGE);
        let step = needed.max(wasm32::memory_size(0).min(MAX_STEP));
        // Near the memory's limit the large step fails where the bare request may still fit.
        for pages in [step, needed] {
            let prev = wasm32::memory_grow(0, pages);
            if prev != usize::MAX {
                let (base, len) = (prev * PAGE, pages * PAGE);
                // A region ending at the top of the 4 GiB space would make a pointer wrap to 0: leave its last
                // bytes out, as std's allocator does.
                let len = if base.wrapping_add(len) == 0 { len - 16 } else { len };
                return (base as *mut u8, len, 0);
            }
        }
        (ptr::null_mut(), 0, 0)
    }

    fn remap(&self, _ptr: *mut u8, _old: usize, _new: usize, _can_move: bool) -> *mut u8 {
        ptr::null_mut()
    }

    fn free_part(&self, _ptr: *mut u8, _old: usize, _new: usize) -> bool {
        false
    }

    fn free(&self, _ptr: *mut u8, _size: usize) -> bool {
        false
    }

    fn can_release_part(&self, _flags: u32) -> bool {
        false
    }

    fn allocates_zeros(&self) -> bool {
        true
    }

    fn page_size(&self) -> usize {
        PAGE
    }
}

pub struct Global(UnsafeCell<Dlmalloc<Geometric>>);

// SAFETY: this module is built without threads (no atomics): one thread ever reaches the allocator.
unsafe impl Sync for Global {}

#[global_allocator]
static ALLOCATOR: Global = Global(UnsafeCell::new(Dlmalloc::new_with_allocator(Geometric)));

// SAFETY: each call has the allocator to itself (one thread, and dlmalloc never calls back into it).
unsafe impl GlobalAlloc for Global {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        (*self.0.get()).malloc(layout.size(), layout.align())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        (*self.0.get()).calloc(layout.size(), layout.align())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        (*self.0.get()).free(ptr, layout.size(), layout.align())
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        (*self.0.get()).realloc(ptr, layout.size(), layout.align(), new_size)
    }
}
