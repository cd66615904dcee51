//! A hint to the CPU to start loading a cache line that will be read soon.
//!
//! Applying a group of writes is a series of independent cache misses (each key's
//! table bucket, then its old entry); fetching the lines of later keys while working
//! on the current one overlaps them. A prefetch never faults and changes nothing
//! visible, so any address will do; on targets without the instruction it is a no-op.

/// Starts loading the cache line that holds `address` into every cache level.
#[inline(always)]
pub(crate) fn prefetch<T>(address: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is a hint: it does not fault on any address, valid or not,
    // and has no effect a program can observe besides timing.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(address.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}
