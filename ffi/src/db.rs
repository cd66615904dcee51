//! The database handle: open, close, free, snapshot.

use std::ffi::c_char;

use chiral::{Db, Options};

use crate::args::{handle, out, text, write};
use crate::options::chiral_options;
use crate::status::{CHIRAL_OK, FfiResult, call, call_void, chiral_status};
use crate::view::refuse_if_view_open;

/// An open database. Shared by every thread: all functions that take a
/// `chiral_db *` may be called from many threads at once.
#[allow(non_camel_case_types)]
pub struct chiral_db {
    pub(crate) db: Db,
}

impl chiral_db {
    /// Hands a database opened in Rust to C code, as the handle `chiral_db_open` would
    /// give: for programs that mix the two. The handle shares the database with `db`'s
    /// other clones; free it with `chiral_db_free`.
    pub fn into_raw(db: Db) -> *mut chiral_db {
        Box::into_raw(Box::new(chiral_db { db }))
    }
}

/// The options behind an optional handle, or the defaults.
///
/// # Safety
/// `options` must be NULL or a live options handle.
unsafe fn options_or_default(options: *const chiral_options) -> Options {
    // SAFETY: NULL or a live handle, as the caller promises.
    match unsafe { options.as_ref() } {
        Some(options) => options.options.clone(),
        None => Options::default(),
    }
}

fn hand_out(out_db: *mut *mut chiral_db, db: Db) -> FfiResult {
    let handle = chiral_db::into_raw(db);
    // SAFETY: the caller checked `out_db` with `out` and promises it is writable.
    unsafe { write(out_db, handle) };
    Ok(CHIRAL_OK)
}

/// Opens (creating if needed) the database in directory `path` (UTF-8). `options`
/// may be NULL for the defaults. On success `*out_db` is a new handle to free with
/// `chiral_db_free`. A directory owned by another process gives `CHIRAL_ERR_LOCKED`
/// (unless opened read-only); a damaged log or snapshot gives `CHIRAL_ERR_CORRUPT`.
///
/// # Safety
/// `path` must be NULL or a NUL-terminated string; `options` NULL or a live options
/// handle; `out_db` valid for a write of a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_db_open(
    path: *const c_char,
    options: *const chiral_options,
    out_db: *mut *mut chiral_db,
) -> chiral_status {
    call(|| {
        let out_db = out(out_db, "out_db")?;
        // SAFETY: NULL or NUL-terminated, as the caller promises.
        let path = unsafe { text(path, "path") }?;
        // SAFETY: NULL or a live handle, as the caller promises.
        let options = unsafe { options_or_default(options) };
        hand_out(out_db, Db::open(path, options)?)
    })
}

/// Opens a database that lives in memory only (the durability options are ignored).
///
/// # Safety
/// `options` must be NULL or a live options handle; `out_db` valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_db_open_in_memory(
    options: *const chiral_options,
    out_db: *mut *mut chiral_db,
) -> chiral_status {
    call(|| {
        let out_db = out(out_db, "out_db")?;
        // SAFETY: NULL or a live handle, as the caller promises.
        let options = unsafe { options_or_default(options) };
        hand_out(out_db, Db::open_in_memory(options)?)
    })
}

/// Closes the database: commits every write already queued (taking a snapshot, for
/// a database on disk) and refuses later writes with `CHIRAL_ERR_CLOSED`. Readers,
/// views and iterators keep reading the final state. The handle must still be freed.
/// Fails with `CHIRAL_ERR_VIEW_OPEN` on a thread that holds a read view.
///
/// # Safety
/// `db` must be NULL or a live database handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_db_close(db: *const chiral_db) -> chiral_status {
    call(|| {
        // SAFETY: NULL or a live handle, as the caller promises.
        let db = unsafe { handle(db, "db") }?;
        refuse_if_view_open("close the database")?;
        db.db.close();
        Ok(CHIRAL_OK)
    })
}

/// Frees the handle, closing the database first if no other handle keeps it open
/// (readers do not). NULL is ignored. Do not free a database from a thread that holds
/// a read view of it: closing waits for the view.
///
/// # Safety
/// `db` must be NULL or a live database handle, not used again after (readers made
/// from it stay valid).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_db_free(db: *mut chiral_db) {
    call_void(|| {
        if !db.is_null() {
            // SAFETY: a live handle from chiral_db_open*, given back once.
            drop(unsafe { Box::from_raw(db) });
        }
    });
}

/// Takes a snapshot now and waits for it (writes go on meanwhile); the log it covers
/// is deleted. `*out_lsn` (may be NULL) gets the LSN the snapshot covers.
/// `CHIRAL_ERR_UNSUPPORTED` for a database in memory.
///
/// # Safety
/// `db` must be NULL or a live database handle; `out_lsn` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_db_snapshot(
    db: *const chiral_db,
    out_lsn: *mut u64,
) -> chiral_status {
    call(|| {
        // SAFETY: NULL or a live handle, as the caller promises.
        let db = unsafe { handle(db, "db") }?;
        refuse_if_view_open("take a snapshot")?;
        let info = db.db.snapshot()?;
        // SAFETY: NULL or writable, as the caller promises.
        unsafe { write(out_lsn, info.lsn) };
        Ok(CHIRAL_OK)
    })
}
