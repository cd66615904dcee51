//! Batches: operations applied atomically, guarded by preconditions.
//!
//! A batch is built on the caller's side (nothing reaches the database until
//! `chiral_batch_commit`), then committed all or nothing: readers see every change or
//! none, and a failed precondition or a refused operation applies nothing.

use chiral::{Batch, Op, Precondition, Value};

use crate::args::{ack, bytes, chiral_ack, handle, handle_mut, write};
use crate::db::chiral_db;
use crate::status::{CHIRAL_OK, FfiResult, call, call_void, chiral_status};
use crate::view::refuse_if_view_open;
use crate::write::set_op;

/// A batch being built. Belongs to one thread at a time.
#[allow(non_camel_case_types)]
#[derive(Default)]
pub struct chiral_batch {
    batch: Batch,
}

/// Makes an empty batch; free it with `chiral_batch_free`.
///
/// # Safety
/// `out_batch` must be valid for a write of a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_batch_new(out_batch: *mut *mut chiral_batch) -> chiral_status {
    call(|| {
        let out_batch = crate::args::out(out_batch, "out_batch")?;
        // SAFETY: checked non-NULL, writable as the caller promises.
        unsafe { write(out_batch, Box::into_raw(Box::default())) };
        Ok(CHIRAL_OK)
    })
}

/// Frees a batch (committed or not). NULL is ignored.
///
/// # Safety
/// `batch` must be NULL or a live batch, not used again after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_batch_free(batch: *mut chiral_batch) {
    call_void(|| {
        if !batch.is_null() {
            // SAFETY: a live handle from chiral_batch_new, given back once.
            drop(unsafe { Box::from_raw(batch) });
        }
    });
}

/// Adds to `batch` what `build` makes of the key.
///
/// # Safety
/// `batch` NULL or a live batch; `key` NULL (with `key_len` 0) or readable.
unsafe fn add(
    batch: *mut chiral_batch,
    key: *const u8,
    key_len: usize,
    build: impl FnOnce(&[u8], &mut Batch) -> FfiResult<()>,
) -> chiral_status {
    call(|| {
        // SAFETY: as the caller promises.
        let (batch, key) = unsafe { (handle_mut(batch, "batch")?, bytes(key, key_len, "key")?) };
        build(key, &mut batch.batch)?;
        Ok(CHIRAL_OK)
    })
}

/// Adds a SET of `key` to `value` (`ttl_ms` 0: no expiry).
///
/// # Safety
/// `batch` NULL or a live batch; `key` and `value` NULL (with length 0) or readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_batch_set(
    batch: *mut chiral_batch,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    ttl_ms: u64,
) -> chiral_status {
    // SAFETY: as the caller promises, for the batch and key and for the value.
    unsafe {
        add(batch, key, key_len, |key, batch| {
            let value = bytes(value, value_len, "value")?;
            batch.push(set_op(key, Value::from(value), ttl_ms));
            Ok(())
        })
    }
}

/// Adds a delete of `key`.
///
/// # Safety
/// `batch` NULL or a live batch; `key` NULL (with length 0) or readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_batch_delete(
    batch: *mut chiral_batch,
    key: *const u8,
    key_len: usize,
) -> chiral_status {
    // SAFETY: as the caller promises.
    unsafe {
        add(batch, key, key_len, |key, batch| {
            batch.push(Op::delete(key));
            Ok(())
        })
    }
}

/// Adds an increment of the integer at `key` by `delta`.
///
/// # Safety
/// `batch` NULL or a live batch; `key` NULL (with length 0) or readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_batch_incr(
    batch: *mut chiral_batch,
    key: *const u8,
    key_len: usize,
    delta: i64,
) -> chiral_status {
    // SAFETY: as the caller promises.
    unsafe {
        add(batch, key, key_len, |key, batch| {
            batch.push(Op::incr_by(key, delta));
            Ok(())
        })
    }
}

/// Requires `key` to be at `version` when the batch commits (its last write was at
/// that LSN, as `chiral_key_version` reads it); version 0 requires the key to be
/// absent. This is optimistic concurrency: read, compute, commit if unchanged.
///
/// # Safety
/// `batch` NULL or a live batch; `key` NULL (with length 0) or readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_batch_require_version(
    batch: *mut chiral_batch,
    key: *const u8,
    key_len: usize,
    version: u64,
) -> chiral_status {
    // SAFETY: as the caller promises.
    unsafe {
        add(batch, key, key_len, |key, batch| {
            *batch = std::mem::take(batch).when(Precondition::Version {
                key: key.into(),
                version,
            });
            Ok(())
        })
    }
}

/// Requires `key` to exist (`must_exist` true) or not to exist (false) when the
/// batch commits.
///
/// # Safety
/// `batch` NULL or a live batch; `key` NULL (with length 0) or readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_batch_require_exists(
    batch: *mut chiral_batch,
    key: *const u8,
    key_len: usize,
    must_exist: bool,
) -> chiral_status {
    // SAFETY: as the caller promises.
    unsafe {
        add(batch, key, key_len, |key, batch| {
            let precondition = if must_exist {
                Precondition::Present(key.into())
            } else {
                Precondition::Absent(key.into())
            };
            *batch = std::mem::take(batch).when(precondition);
            Ok(())
        })
    }
}

/// Commits the batch atomically and waits as `ack` says. `CHIRAL_ERR_PRECONDITION`
/// if a precondition failed; an operation's error (say `CHIRAL_ERR_WRONG_TYPE`) if
/// one was refused; either way nothing was applied. `*out_lsn` (may be NULL) gets
/// the batch's LSN, the new version of every key it wrote (0 for an eventual
/// commit). The batch is left empty, ready to be reused or freed, whatever the
/// outcome.
///
/// # Safety
/// `db` NULL or a live database; `batch` NULL or a live batch; `out_lsn` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_batch_commit(
    db: *const chiral_db,
    batch: *mut chiral_batch,
    ack: chiral_ack,
    out_lsn: *mut u64,
) -> chiral_status {
    call(|| {
        // SAFETY: as the caller promises.
        let (db, batch) = unsafe { (handle(db, "db")?, handle_mut(batch, "batch")?) };
        let ack = self::ack(ack)?;
        refuse_if_view_open("commit a batch")?;
        let receipt = db.db.write(std::mem::take(&mut batch.batch), ack)?;
        let lsn = receipt.commit().map_or(0, |commit| commit.lsn);
        // SAFETY: NULL or writable, as the caller promises.
        unsafe { write(out_lsn, lsn) };
        Ok(CHIRAL_OK)
    })
}
