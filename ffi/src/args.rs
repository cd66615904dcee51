//! Checking what C hands us: pointers, lengths, text and the enum-like numbers.
//!
//! Every pointer argument is checked for NULL before use; every number that names a
//! choice (an ack mode, a list end) is checked against its range, so that a wrong
//! argument is `CHIRAL_ERR_ARGUMENT` with a message, never undefined behavior.

use std::ffi::{CStr, c_char};

use chiral::{Ack, End};

use crate::status::{CHIRAL_ERR_INVALID_UTF8, Failure, FfiResult};

/// The byte string at `ptr`, `len` bytes long. NULL is allowed only for `len == 0`.
///
/// # Safety
/// `ptr` must be NULL or point to `len` readable bytes that stay unchanged for `'a`.
#[inline]
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize, what: &str) -> FfiResult<&'a [u8]> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(Failure::argument(format!(
                "{what} is NULL with length {len}"
            )))
        };
    }
    if len > isize::MAX as usize {
        return Err(Failure::argument(format!(
            "{what} length {len} is impossible"
        )));
    }
    // SAFETY: non-NULL, and the caller promises `len` readable bytes for `'a`.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// The handle behind `ptr`.
///
/// # Safety
/// `ptr` must be NULL or a live handle of type `T` made by this library, not used
/// mutably elsewhere for `'a`.
#[inline]
pub(crate) unsafe fn handle<'a, T>(ptr: *const T, what: &str) -> FfiResult<&'a T> {
    // SAFETY: the caller promises a live handle or NULL; `as_ref` maps NULL to None.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::argument(format!("{what} is NULL")))
}

/// The handle behind `ptr`, mutably.
///
/// # Safety
/// As [`handle`], and no other reference to it may exist for `'a`.
pub(crate) unsafe fn handle_mut<'a, T>(ptr: *mut T, what: &str) -> FfiResult<&'a mut T> {
    // SAFETY: the caller promises a live handle, used by one thread at a time, or NULL.
    unsafe { ptr.as_mut() }.ok_or_else(|| Failure::argument(format!("{what} is NULL")))
}

/// Checks an out-parameter before anything is done, so that a NULL one fails the call
/// without side effects.
#[inline]
pub(crate) fn out<T>(ptr: *mut T, what: &str) -> FfiResult<*mut T> {
    if ptr.is_null() {
        Err(Failure::argument(format!(
            "{what} (an out-parameter) is NULL"
        )))
    } else {
        Ok(ptr)
    }
}

/// Writes `value` to an out-parameter checked by [`out`], or to an optional one
/// (NULL meaning "not wanted").
///
/// # Safety
/// `ptr` must be NULL or valid for a write of a `T`.
pub(crate) unsafe fn write<T>(ptr: *mut T, value: T) {
    if !ptr.is_null() {
        // SAFETY: non-NULL and, as the caller promises, valid for a write.
        unsafe { ptr.write(value) };
    }
}

/// The NUL-terminated UTF-8 text at `ptr`.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string that lives for `'a`.
pub(crate) unsafe fn text<'a>(ptr: *const c_char, what: &str) -> FfiResult<&'a str> {
    if ptr.is_null() {
        return Err(Failure::argument(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated, as the caller promises.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str().map_err(|error| {
        Failure::new(
            CHIRAL_ERR_INVALID_UTF8,
            format!("{what} is not UTF-8 (at byte {})", error.valid_up_to()),
        )
    })
}

/// When a write returns. `CHIRAL_ACK_EVENTUAL` (0): once queued; its outcome is not
/// reported. `CHIRAL_ACK_VISIBLE` (1): once every reader sees it.
/// `CHIRAL_ACK_DURABLE` (2): once visible and on disk.
#[allow(non_camel_case_types)]
pub type chiral_ack = u32;
/// Return once the write is queued; it becomes visible shortly, in order.
pub const CHIRAL_ACK_EVENTUAL: chiral_ack = 0;
/// Return once the write is visible to every reader (read-your-writes).
pub const CHIRAL_ACK_VISIBLE: chiral_ack = 1;
/// Return once the write is visible and its log record fdatasync'd.
pub const CHIRAL_ACK_DURABLE: chiral_ack = 2;

pub(crate) fn ack(ack: chiral_ack) -> FfiResult<Ack> {
    match ack {
        CHIRAL_ACK_EVENTUAL => Ok(Ack::Eventual),
        CHIRAL_ACK_VISIBLE => Ok(Ack::Visible),
        CHIRAL_ACK_DURABLE => Ok(Ack::Durable),
        other => Err(Failure::argument(format!(
            "ack mode {other} is not a chiral_ack"
        ))),
    }
}

/// Which end of a list: `CHIRAL_END_HEAD` (0) or `CHIRAL_END_TAIL` (1).
#[allow(non_camel_case_types)]
pub type chiral_end = u32;
/// The head of a list (LPUSH, LPOP).
pub const CHIRAL_END_HEAD: chiral_end = 0;
/// The tail of a list (RPUSH, RPOP).
pub const CHIRAL_END_TAIL: chiral_end = 1;

pub(crate) fn end(end: chiral_end) -> FfiResult<End> {
    match end {
        CHIRAL_END_HEAD => Ok(End::Front),
        CHIRAL_END_TAIL => Ok(End::Back),
        other => Err(Failure::argument(format!(
            "list end {other} is not a chiral_end"
        ))),
    }
}

/// A byte string in an array argument (the elements of a whole list, say).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct chiral_slice {
    /// The bytes; may be NULL when `len` is 0.
    pub data: *const u8,
    /// How many.
    pub len: usize,
}

/// The `count` slices at `ptr`, each checked.
///
/// # Safety
/// `ptr` must be NULL (only with `count == 0`) or point to `count` slices, each
/// valid as [`bytes`] requires, for `'a`.
pub(crate) unsafe fn slices<'a>(
    ptr: *const chiral_slice,
    count: usize,
    what: &str,
) -> FfiResult<Vec<&'a [u8]>> {
    if ptr.is_null() && count > 0 {
        return Err(Failure::argument(format!(
            "{what} is NULL with {count} items"
        )));
    }
    (0..count)
        .map(|i| {
            // SAFETY: `i < count`, and the caller promises `count` readable slices.
            let slice = unsafe { ptr.add(i).read() };
            // SAFETY: the caller promises each slice is valid.
            unsafe { bytes(slice.data, slice.len, what) }
        })
        .collect()
}
