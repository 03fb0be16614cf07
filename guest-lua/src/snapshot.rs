//! Moving the instance's memory in and out for sandbox snapshots.
//!
//! A sandbox's whole state between calls is its linear memory outside the
//! shadow stack (dead between calls) and the stack pointer (at its base
//! between calls). `save` hands the host that memory as it is, allocating
//! nothing. `restore` runs in a fresh instance created with the same config,
//! and so with its state at the same address, and writes the saved runs over
//! it. A run arrives as the result of an import, a `list<u8>` the canonical
//! ABI places with `cabi_realloc`; the allocator's own memory is being
//! overwritten, so `cabi_realloc` returns the run's address instead
//! ([`LANDING`]) and the list is never freed.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::moonbox::sandbox::snapshot;

/// Where the next `cabi_realloc` must place its bytes, or 0. Set only by
/// `restore`, taken by the next allocation; 0 in every saved memory, so a
/// run that covers it writes the 0 it holds after being taken.
static LANDING: AtomicUsize = AtomicUsize::new(0);

const PAGE: usize = 65_536;

unsafe extern "C" {
    /// The shadow stack's bounds, from the linker.
    static __stack_low: u8;
    static __stack_high: u8;
}

/// Hands the host the memory outside the shadow stack, one region per call.
pub(crate) fn save() {
    let low = (&raw const __stack_low) as usize;
    let high = (&raw const __stack_high) as usize;
    let end = core::arch::wasm32::memory_size(0) * PAGE;
    // Address 0 is never a valid slice start; the first bytes below the
    // stack (if it does not start at 0) hold nothing a program reads.
    for (start, stop) in [(PAGE.min(low), low), (high, end)] {
        if start < stop {
            // SAFETY: the range lies inside the linear memory; the slice is
            // only read, by the host, while nothing else runs.
            let region = unsafe { core::slice::from_raw_parts(start as *const u8, stop - start) };
            snapshot::memory(start as u32, region);
        }
    }
}

/// Writes the runs the host gives over this instance's memory; see the WIT.
pub(crate) fn restore(pages: u32) -> u32 {
    let have = core::arch::wasm32::memory_size(0);
    let want = pages as usize;
    if want > have && core::arch::wasm32::memory_grow(0, want - have) == usize::MAX {
        return 2;
    }
    let mut index = 0;
    while let Some(address) = snapshot::run_address(index) {
        LANDING.store(address as usize, Ordering::Relaxed);
        let run = snapshot::run_data(index);
        let landed = run.as_ptr() as usize == address as usize;
        // The bytes are the saved memory now, not an allocation: never free them.
        core::mem::forget(run);
        if !landed {
            return 3;
        }
        index += 1;
    }
    0
}

/// The canonical ABI's allocator: the global allocator, except for the
/// one allocation a `restore` run needs.
///
/// # Safety
/// Called by the component runtime only, as any `cabi_realloc`.
#[unsafe(export_name = "cabi_realloc")]
pub unsafe extern "C" fn cabi_realloc(
    old: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    let landing = LANDING.swap(0, Ordering::Relaxed);
    if landing != 0 {
        return landing as *mut u8;
    }
    // SAFETY: the caller's contract is `cabi_realloc`'s.
    unsafe { std_realloc(old, old_len, align, new_len) }
}

/// The `cabi_realloc` Rust's standard library gives a component: the
/// global allocator.
unsafe fn std_realloc(old: *mut u8, old_len: usize, align: usize, new_len: usize) -> *mut u8 {
    use std::alloc::{Layout, alloc, realloc};
    // SAFETY: the component runtime passes a power-of-two `align` and, for a
    // grown block, the layout it was allocated with.
    let block = unsafe {
        if old_len == 0 {
            if new_len == 0 {
                return align as *mut u8;
            }
            alloc(Layout::from_size_align_unchecked(new_len, align))
        } else {
            realloc(
                old,
                Layout::from_size_align_unchecked(old_len, align),
                new_len,
            )
        }
    };
    if block.is_null() {
        core::arch::wasm32::unreachable();
    }
    block
}
