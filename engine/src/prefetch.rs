//! A hint to the CPU to start loading a cache line that will be read soon.
//!
//! Applying a group of writes is a series of independent cache misses (each key's
//! table bucket, then its old entry); fetching the lines of later keys while working
//! on the current one overlaps them. A prefetch never faults and changes nothing
//! visible, so any address will do; on targets without the instruction it is a no-op.

/// How far into a lookup's loads a prefetch of a key goes. Each stage reads what
/// the one before it loaded (to find the next address), so a pipeline of lookups
/// fetches all its keys at one stage before it goes on to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// The key's table bucket and its summary (the base's directory slot).
    Bucket,
    /// The overlay entries the bucket points to, which hold their keys and values
    /// (the base's run of entry structs).
    Entries,
    /// The base's key and value bytes of the entries in the run whose hash matches
    /// (the overlay's entries hold theirs: nothing more to load there).
    Keys,
}

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
