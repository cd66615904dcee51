//! Open options: an opaque handle with a setter per option, so that new options can be
//! added without breaking the ABI.

use chiral::{FsyncPolicy, IoBackend, Options};

use crate::args::{handle_mut, out, write};
use crate::status::{CHIRAL_OK, Failure, call, call_void, chiral_status};

/// Options for `chiral_db_open`. Made by `chiral_options_new`, freed by
/// `chiral_options_free`; not shared between threads while being changed.
#[allow(non_camel_case_types)]
pub struct chiral_options {
    pub(crate) options: Options,
}

/// When the log is fdatasync'd: `CHIRAL_FSYNC_ALWAYS` (0), `CHIRAL_FSYNC_INTERVAL` (1,
/// every `interval_ms`), `CHIRAL_FSYNC_NEVER` (2, only for durable writes).
#[allow(non_camel_case_types)]
pub type chiral_fsync = u32;
/// Sync before acknowledging every group of writes.
pub const CHIRAL_FSYNC_ALWAYS: chiral_fsync = 0;
/// Sync at most `interval_ms` after a write (the default, 1000 ms).
pub const CHIRAL_FSYNC_INTERVAL: chiral_fsync = 1;
/// Sync only when a durable write asks.
pub const CHIRAL_FSYNC_NEVER: chiral_fsync = 2;

/// How the log does its I/O: `CHIRAL_IO_AUTO` (0, io_uring if the kernel allows it),
/// `CHIRAL_IO_URING` (1, or fail to open), `CHIRAL_IO_STD` (2, plain writes).
#[allow(non_camel_case_types)]
pub type chiral_io_backend = u32;
/// io_uring if the kernel allows it, else plain writes.
pub const CHIRAL_IO_AUTO: chiral_io_backend = 0;
/// io_uring or an open error.
pub const CHIRAL_IO_URING: chiral_io_backend = 1;
/// Plain positioned writes and fdatasync.
pub const CHIRAL_IO_STD: chiral_io_backend = 2;

/// Makes options with every default: fsync every 1000 ms, io backend auto, read-write.
///
/// # Safety
/// `out_options` must be valid for a write of a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_options_new(
    out_options: *mut *mut chiral_options,
) -> chiral_status {
    call(|| {
        let out_options = out(out_options, "out_options")?;
        let options = Box::new(chiral_options {
            options: Options::default(),
        });
        // SAFETY: checked non-NULL; the caller promises it is writable.
        unsafe { write(out_options, Box::into_raw(options)) };
        Ok(CHIRAL_OK)
    })
}

/// Frees options made by `chiral_options_new`. NULL is ignored.
///
/// # Safety
/// `options` must be NULL or a live options handle, not used again after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_options_free(options: *mut chiral_options) {
    call_void(|| {
        if !options.is_null() {
            // SAFETY: a live handle from chiral_options_new, given back once.
            drop(unsafe { Box::from_raw(options) });
        }
    });
}

/// Sets the fsync policy; `interval_ms` (1 or more) counts only for
/// `CHIRAL_FSYNC_INTERVAL`.
///
/// # Safety
/// `options` must be NULL or a live options handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_options_set_fsync(
    options: *mut chiral_options,
    policy: chiral_fsync,
    interval_ms: u64,
) -> chiral_status {
    call(|| {
        // SAFETY: NULL or a live handle, as the caller promises.
        let options = unsafe { handle_mut(options, "options") }?;
        options.options.fsync = match policy {
            CHIRAL_FSYNC_ALWAYS => FsyncPolicy::Always,
            CHIRAL_FSYNC_INTERVAL if interval_ms > 0 => FsyncPolicy::Interval { ms: interval_ms },
            CHIRAL_FSYNC_INTERVAL => {
                return Err(Failure::argument(
                    "the fsync interval must be at least 1 ms",
                ));
            }
            CHIRAL_FSYNC_NEVER => FsyncPolicy::Never,
            other => {
                return Err(Failure::argument(format!(
                    "fsync policy {other} is not a chiral_fsync"
                )));
            }
        };
        Ok(CHIRAL_OK)
    })
}

/// Chooses how the log does its I/O.
///
/// # Safety
/// `options` must be NULL or a live options handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_options_set_io_backend(
    options: *mut chiral_options,
    backend: chiral_io_backend,
) -> chiral_status {
    call(|| {
        // SAFETY: NULL or a live handle, as the caller promises.
        let options = unsafe { handle_mut(options, "options") }?;
        options.options.io_backend = match backend {
            CHIRAL_IO_AUTO => IoBackend::Auto,
            CHIRAL_IO_URING => IoBackend::Uring,
            CHIRAL_IO_STD => IoBackend::Std,
            other => {
                return Err(Failure::argument(format!(
                    "io backend {other} is not a chiral_io_backend"
                )));
            }
        };
        Ok(CHIRAL_OK)
    })
}

/// Opens without taking ownership: reads work, writes fail with
/// `CHIRAL_ERR_READ_ONLY`, no file changes; works while another process owns the
/// directory.
///
/// # Safety
/// `options` must be NULL or a live options handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_options_set_read_only(
    options: *mut chiral_options,
    read_only: bool,
) -> chiral_status {
    call(|| {
        // SAFETY: NULL or a live handle, as the caller promises.
        let options = unsafe { handle_mut(options, "options") }?;
        options.options.read_only = read_only;
        Ok(CHIRAL_OK)
    })
}

/// Sets the largest key and the largest value a write may carry, in bytes (0 keeps a
/// limit as it is). Defaults: 64 KiB keys, 512 MiB values.
///
/// # Safety
/// `options` must be NULL or a live options handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_options_set_limits(
    options: *mut chiral_options,
    max_key_bytes: usize,
    max_value_bytes: usize,
) -> chiral_status {
    call(|| {
        // SAFETY: NULL or a live handle, as the caller promises.
        let options = unsafe { handle_mut(options, "options") }?;
        if max_key_bytes > 0 {
            options.options.limits.max_key_bytes = max_key_bytes;
        }
        if max_value_bytes > 0 {
            options.options.limits.max_value_bytes = max_value_bytes;
        }
        Ok(CHIRAL_OK)
    })
}
