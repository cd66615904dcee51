//! Status codes, the per-thread error message, and the guard every exported function
//! runs in.
//!
//! Every fallible function returns a [`chiral_status`]. A failure also leaves a
//! message in the calling thread's last-error slot, read with [`chiral_last_error`].
//! No panic crosses the boundary: [`call`] catches it and answers `CHIRAL_ERR_PANIC`.

use std::cell::RefCell;
use std::ffi::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};

use chiral::{CompactionError, OpError, OpenError, WriteError};

/// What a call did. `CHIRAL_OK` and the two answers that are not errors
/// (`CHIRAL_NOT_FOUND`, `CHIRAL_DONE`) are below 10; every error is 10 or above and
/// leaves a message for `chiral_last_error`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum chiral_status {
    /// Done.
    CHIRAL_OK = 0,
    /// The key (or field, or element) does not exist. Not an error.
    CHIRAL_NOT_FOUND = 1,
    /// The iterator has no more items. Not an error.
    CHIRAL_DONE = 2,
    /// A NULL handle or pointer, or an argument out of its range.
    CHIRAL_ERR_ARGUMENT = 10,
    /// Text that must be UTF-8 is not.
    CHIRAL_ERR_INVALID_UTF8 = 11,
    /// The caller's buffer is too small; the needed size was written.
    CHIRAL_ERR_BUFFER_TOO_SMALL = 12,
    /// The key holds a value of another type.
    CHIRAL_ERR_WRONG_TYPE = 13,
    /// The value is not a number (or not an integer) where one is needed.
    CHIRAL_ERR_NOT_A_NUMBER = 14,
    /// The result would overflow (or be NaN or infinite).
    CHIRAL_ERR_OVERFLOW = 15,
    /// A key, value or batch is over its limit.
    CHIRAL_ERR_TOO_LARGE = 16,
    /// A batch's precondition did not hold; nothing was applied.
    CHIRAL_ERR_PRECONDITION = 17,
    /// The database is closed.
    CHIRAL_ERR_CLOSED = 18,
    /// The database is open read-only.
    CHIRAL_ERR_READ_ONLY = 19,
    /// Another process owns the data directory.
    CHIRAL_ERR_LOCKED = 20,
    /// An I/O error; after a log failure the database refuses writes until reopened.
    CHIRAL_ERR_IO = 21,
    /// A data file is damaged.
    CHIRAL_ERR_CORRUPT = 22,
    /// This thread holds an open read view, and the call would wait for it forever.
    CHIRAL_ERR_VIEW_OPEN = 23,
    /// Not possible for this database (a snapshot of an in-memory database).
    CHIRAL_ERR_UNSUPPORTED = 24,
    /// The operation was refused for another reason (see the message).
    CHIRAL_ERR_REFUSED = 25,
    /// A schema, collection or document rule was broken (the message names the field
    /// and the rule).
    CHIRAL_ERR_SCHEMA = 26,
    /// A bug inside Chiral: a panic was caught at the boundary. The handle is still
    /// safe to free; the message says what happened.
    CHIRAL_ERR_PANIC = 99,
}

pub use chiral_status::*;

/// A failed call: its status and message.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: chiral_status,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(status: chiral_status, message: impl Into<String>) -> Failure {
        debug_assert!(status as i32 >= 10, "a failure carries an error status");
        Failure {
            status,
            message: message.into(),
        }
    }

    /// An invalid argument.
    pub(crate) fn argument(message: impl Into<String>) -> Failure {
        Failure::new(CHIRAL_ERR_ARGUMENT, message)
    }
}

/// What an exported function's body returns.
pub(crate) type FfiResult<T = chiral_status> = Result<T, Failure>;

impl From<OpError> for Failure {
    fn from(error: OpError) -> Failure {
        Failure::new(op_status(&error), error.to_string())
    }
}

fn op_status(error: &OpError) -> chiral_status {
    match error {
        OpError::WrongType => CHIRAL_ERR_WRONG_TYPE,
        OpError::NotInteger
        | OpError::NotFloat
        | OpError::HashNotInteger
        | OpError::HashNotFloat => CHIRAL_ERR_NOT_A_NUMBER,
        OpError::Overflow | OpError::NotFinite => CHIRAL_ERR_OVERFLOW,
        OpError::KeyTooLarge { .. } | OpError::ValueTooLarge { .. } => CHIRAL_ERR_TOO_LARGE,
        OpError::SnapshotDamaged { .. } => CHIRAL_ERR_CORRUPT,
        OpError::NoSuchKey | OpError::IndexOutOfRange => CHIRAL_ERR_REFUSED,
        OpError::Doc(_) => CHIRAL_ERR_SCHEMA,
    }
}

impl From<WriteError> for Failure {
    fn from(error: WriteError) -> Failure {
        let status = match &error {
            WriteError::Closed => CHIRAL_ERR_CLOSED,
            WriteError::TooManyOps { .. } | WriteError::BatchTooLarge { .. } => {
                CHIRAL_ERR_TOO_LARGE
            }
            WriteError::PreconditionFailed { .. } => CHIRAL_ERR_PRECONDITION,
            WriteError::PreconditionUnreadable { error, .. } | WriteError::Op { error, .. } => {
                op_status(error)
            }
            WriteError::LogFailed(_) => CHIRAL_ERR_IO,
            WriteError::ReadOnly => CHIRAL_ERR_READ_ONLY,
        };
        Failure::new(status, error.to_string())
    }
}

impl From<OpenError> for Failure {
    fn from(error: OpenError) -> Failure {
        let status = match &error {
            OpenError::InvalidOption(_) => CHIRAL_ERR_ARGUMENT,
            OpenError::Locked { .. } => CHIRAL_ERR_LOCKED,
            OpenError::Io { .. } | OpenError::Spawn(_) => CHIRAL_ERR_IO,
            OpenError::Recovery(_) | OpenError::Snapshot(_) => CHIRAL_ERR_CORRUPT,
        };
        Failure::new(status, error.to_string())
    }
}

impl From<CompactionError> for Failure {
    fn from(error: CompactionError) -> Failure {
        let status = match &error {
            CompactionError::InMemory => CHIRAL_ERR_UNSUPPORTED,
            CompactionError::ReadOnly => CHIRAL_ERR_READ_ONLY,
            CompactionError::Closed => CHIRAL_ERR_CLOSED,
            CompactionError::Failed(_) => CHIRAL_ERR_IO,
        };
        Failure::new(status, error.to_string())
    }
}

thread_local! {
    /// The message of this thread's last failed call.
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

fn set_last_error(message: String) {
    LAST_ERROR.with(|last| *last.borrow_mut() = message);
}

/// Runs an exported function's body: turns a failure into its status (leaving its
/// message for `chiral_last_error`) and a panic into `CHIRAL_ERR_PANIC`.
#[inline]
pub(crate) fn call(body: impl FnOnce() -> FfiResult) -> chiral_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(status)) => status,
        Ok(Err(failure)) => {
            set_last_error(failure.message);
            failure.status
        }
        Err(panic) => {
            let message = panic_message(panic.as_ref());
            tracing::error!(%message, "panic caught at the C boundary");
            set_last_error(format!("internal error (panic): {message}"));
            CHIRAL_ERR_PANIC
        }
    }
}

/// Runs a function that cannot report a status (a free): a panic is caught and
/// logged, and the message left for `chiral_last_error`.
pub(crate) fn call_void(body: impl FnOnce()) {
    let _ = call(|| {
        body();
        Ok(CHIRAL_OK)
    });
}

/// The text of a caught panic.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// Copies the message of this thread's last failed call into `buf` (at most
/// `capacity - 1` bytes, then a NUL) and returns the message's full length in bytes,
/// without the NUL: a result `>= capacity` means it was cut short. `buf` may be NULL
/// when `capacity` is 0, to ask for the length. An empty message means no call on
/// this thread has failed yet.
///
/// # Safety
/// `buf` must be NULL or point to `capacity` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_last_error(buf: *mut c_char, capacity: usize) -> usize {
    let Ok(length) = catch_unwind(|| {
        LAST_ERROR.with(|last| {
            let last = last.borrow();
            if !buf.is_null() && capacity > 0 {
                let copied = last.len().min(capacity - 1);
                // SAFETY: the caller gives `capacity` writable bytes at `buf`; we write
                // `copied + 1 <= capacity` of them, from a string that does not overlap.
                unsafe {
                    std::ptr::copy_nonoverlapping(last.as_ptr(), buf.cast::<u8>(), copied);
                    *buf.add(copied) = 0;
                }
            }
            last.len()
        })
    }) else {
        return 0;
    };
    length
}

/// A static, NUL-terminated name for a status (`"CHIRAL_ERR_WRONG_TYPE"`), or
/// `"CHIRAL_UNKNOWN_STATUS"` for a number that is no status.
#[unsafe(no_mangle)]
pub extern "C" fn chiral_status_name(status: i32) -> *const c_char {
    let name: &'static [u8] = match status {
        0 => b"CHIRAL_OK\0",
        1 => b"CHIRAL_NOT_FOUND\0",
        2 => b"CHIRAL_DONE\0",
        10 => b"CHIRAL_ERR_ARGUMENT\0",
        11 => b"CHIRAL_ERR_INVALID_UTF8\0",
        12 => b"CHIRAL_ERR_BUFFER_TOO_SMALL\0",
        13 => b"CHIRAL_ERR_WRONG_TYPE\0",
        14 => b"CHIRAL_ERR_NOT_A_NUMBER\0",
        15 => b"CHIRAL_ERR_OVERFLOW\0",
        16 => b"CHIRAL_ERR_TOO_LARGE\0",
        17 => b"CHIRAL_ERR_PRECONDITION\0",
        18 => b"CHIRAL_ERR_CLOSED\0",
        19 => b"CHIRAL_ERR_READ_ONLY\0",
        20 => b"CHIRAL_ERR_LOCKED\0",
        21 => b"CHIRAL_ERR_IO\0",
        22 => b"CHIRAL_ERR_CORRUPT\0",
        23 => b"CHIRAL_ERR_VIEW_OPEN\0",
        24 => b"CHIRAL_ERR_UNSUPPORTED\0",
        25 => b"CHIRAL_ERR_REFUSED\0",
        26 => b"CHIRAL_ERR_SCHEMA\0",
        99 => b"CHIRAL_ERR_PANIC\0",
        _ => b"CHIRAL_UNKNOWN_STATUS\0",
    };
    name.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_error() -> String {
        let mut buf = [0 as c_char; 256];
        // SAFETY: `buf` holds 256 writable bytes.
        let length = unsafe { chiral_last_error(buf.as_mut_ptr(), buf.len()) };
        // SAFETY: chiral_last_error NUL-terminates what it writes.
        let text = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
        assert_eq!(text.to_bytes().len(), length.min(255));
        text.to_string_lossy().into_owned()
    }

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        let status = call(|| panic!("planted for the test"));
        assert_eq!(status, CHIRAL_ERR_PANIC);
        assert_eq!(last_error(), "internal error (panic): planted for the test");
        call_void(|| panic!("in a free"));
        assert_eq!(last_error(), "internal error (panic): in a free");
    }

    #[test]
    fn a_failure_leaves_its_message_and_a_short_buffer_is_cut_and_terminated() {
        let status = call(|| Err(Failure::argument("key is NULL")));
        assert_eq!(status, CHIRAL_ERR_ARGUMENT);
        assert_eq!(last_error(), "key is NULL");
        let mut small = [1 as c_char; 4];
        // SAFETY: `small` holds 4 writable bytes.
        let length = unsafe { chiral_last_error(small.as_mut_ptr(), small.len()) };
        assert_eq!(length, "key is NULL".len());
        assert_eq!(small.map(|c| c as u8), *b"key\0");
        // SAFETY: a NULL buffer with capacity 0 only asks for the length.
        let asked = unsafe { chiral_last_error(std::ptr::null_mut(), 0) };
        assert_eq!(asked, length);
    }

    #[test]
    fn every_status_has_its_name() {
        for status in [
            CHIRAL_OK,
            CHIRAL_NOT_FOUND,
            CHIRAL_DONE,
            CHIRAL_ERR_ARGUMENT,
            CHIRAL_ERR_INVALID_UTF8,
            CHIRAL_ERR_BUFFER_TOO_SMALL,
            CHIRAL_ERR_WRONG_TYPE,
            CHIRAL_ERR_NOT_A_NUMBER,
            CHIRAL_ERR_OVERFLOW,
            CHIRAL_ERR_TOO_LARGE,
            CHIRAL_ERR_PRECONDITION,
            CHIRAL_ERR_CLOSED,
            CHIRAL_ERR_READ_ONLY,
            CHIRAL_ERR_LOCKED,
            CHIRAL_ERR_IO,
            CHIRAL_ERR_CORRUPT,
            CHIRAL_ERR_VIEW_OPEN,
            CHIRAL_ERR_UNSUPPORTED,
            CHIRAL_ERR_REFUSED,
            CHIRAL_ERR_SCHEMA,
            CHIRAL_ERR_PANIC,
        ] {
            // SAFETY: names are static NUL-terminated strings.
            let name = unsafe { std::ffi::CStr::from_ptr(chiral_status_name(status as i32)) };
            assert_eq!(name.to_str().unwrap(), format!("{status:?}"));
        }
    }
}
