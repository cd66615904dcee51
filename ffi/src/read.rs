//! Readers and the reads that copy: GET into a caller's buffer, versions, types,
//! hash fields and set membership.

use std::rc::Rc;

use chiral::{Kind, Reader};

use crate::args::{bytes, handle, out, write};
use crate::db::chiral_db;
use crate::status::{
    CHIRAL_ERR_BUFFER_TOO_SMALL, CHIRAL_NOT_FOUND, CHIRAL_OK, Failure, FfiResult, call, call_void,
    chiral_status,
};

/// A read handle. Belongs to one thread at a time, together with the views and
/// iterators made from it (move them between threads together, never use them from
/// two threads at once). Reads never wait for writers and take no lock. A reader
/// stays valid after its database is closed or freed, reading the final state.
#[allow(non_camel_case_types)]
pub struct chiral_reader {
    /// Shared with the views and iterators made from this reader, which keep it
    /// alive until they are freed.
    pub(crate) reader: Rc<Reader>,
}

/// The type of the value at a key.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum chiral_kind {
    /// A string (bytes; integers and floats read as their text).
    CHIRAL_KIND_STRING = 0,
    /// A list.
    CHIRAL_KIND_LIST = 1,
    /// A set.
    CHIRAL_KIND_SET = 2,
    /// A hash.
    CHIRAL_KIND_HASH = 3,
    /// A document of a collection.
    CHIRAL_KIND_DOCUMENT = 4,
}

impl From<Kind> for chiral_kind {
    fn from(kind: Kind) -> chiral_kind {
        match kind {
            Kind::String => chiral_kind::CHIRAL_KIND_STRING,
            Kind::List => chiral_kind::CHIRAL_KIND_LIST,
            Kind::Set => chiral_kind::CHIRAL_KIND_SET,
            Kind::Hash => chiral_kind::CHIRAL_KIND_HASH,
            Kind::Document => chiral_kind::CHIRAL_KIND_DOCUMENT,
        }
    }
}

/// Makes a reader for the calling thread; free it with `chiral_reader_free`.
///
/// # Safety
/// `db` must be NULL or a live database handle; `out_reader` valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_reader_new(
    db: *const chiral_db,
    out_reader: *mut *mut chiral_reader,
) -> chiral_status {
    call(|| {
        let out_reader = out(out_reader, "out_reader")?;
        // SAFETY: NULL or a live handle, as the caller promises.
        let db = unsafe { handle(db, "db") }?;
        let reader = Box::new(chiral_reader {
            reader: Rc::new(db.db.reader()),
        });
        // SAFETY: checked non-NULL; writable as the caller promises.
        unsafe { write(out_reader, Box::into_raw(reader)) };
        Ok(CHIRAL_OK)
    })
}

/// Frees a reader. Views and iterators made from it stay valid until they are
/// freed themselves. NULL is ignored.
///
/// # Safety
/// `reader` must be NULL or a live reader handle, owned by the calling thread, not
/// used again after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_reader_free(reader: *mut chiral_reader) {
    call_void(|| {
        if !reader.is_null() {
            // SAFETY: a live handle from chiral_reader_new, given back once.
            drop(unsafe { Box::from_raw(reader) });
        }
    });
}

/// Copies `bytes` into the caller's buffer, or reports the size it needs.
///
/// # Safety
/// `buf` must be NULL or point to `capacity` writable bytes; `out_len` must be valid
/// for a write.
pub(crate) unsafe fn copy_out(
    bytes: &[u8],
    buf: *mut u8,
    capacity: usize,
    out_len: *mut usize,
) -> FfiResult {
    // SAFETY: `out_len` was checked by the caller and is writable.
    unsafe { write(out_len, bytes.len()) };
    if bytes.len() > capacity {
        return Err(Failure::new(
            CHIRAL_ERR_BUFFER_TOO_SMALL,
            format!("the value is {} bytes, the buffer {capacity}", bytes.len()),
        ));
    }
    if !bytes.is_empty() {
        if buf.is_null() {
            return Err(Failure::argument("buf is NULL"));
        }
        // SAFETY: `buf` holds `capacity >= bytes.len()` writable bytes, not overlapping
        // the database's memory.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf, bytes.len()) };
    }
    Ok(CHIRAL_OK)
}

/// GET: copies the string value of `key` into `buf` and its length into `*out_len`.
/// `CHIRAL_NOT_FOUND` if the key does not exist; `CHIRAL_ERR_WRONG_TYPE` for a list,
/// set or hash. If the value is longer than `capacity`, nothing is copied, `*out_len`
/// gets the length needed and the answer is `CHIRAL_ERR_BUFFER_TOO_SMALL` (the one
/// failure that writes an out-parameter). Integers and floats read as their text.
///
/// # Safety
/// `reader` must be NULL or a live reader owned by this thread; `key` NULL (with
/// `key_len` 0) or `key_len` readable bytes; `buf` NULL or `capacity` writable bytes;
/// `out_len` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_get(
    reader: *const chiral_reader,
    key: *const u8,
    key_len: usize,
    buf: *mut u8,
    capacity: usize,
    out_len: *mut usize,
) -> chiral_status {
    call(|| {
        let out_len = out(out_len, "out_len")?;
        // SAFETY: as the caller promises, for all three.
        let (reader, key) = unsafe { (handle(reader, "reader")?, bytes(key, key_len, "key")?) };
        // The copy happens inside the read guard: no intermediate allocation.
        // SAFETY: `buf` and `out_len` as the caller promises.
        let copied = reader.reader.get_with(key, |value| unsafe {
            copy_out(value, buf, capacity, out_len)
        })?;
        copied.unwrap_or(Ok(CHIRAL_NOT_FOUND))
    })
}

/// The version of `key` (the LSN of its last write) into `*out_version`;
/// `CHIRAL_NOT_FOUND` if it does not exist.
///
/// # Safety
/// `reader` NULL or a live reader owned by this thread; `key` NULL (with `key_len`
/// 0) or readable; `out_version` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_key_version(
    reader: *const chiral_reader,
    key: *const u8,
    key_len: usize,
    out_version: *mut u64,
) -> chiral_status {
    call(|| {
        let out_version = out(out_version, "out_version")?;
        // SAFETY: as the caller promises.
        let (reader, key) = unsafe { (handle(reader, "reader")?, bytes(key, key_len, "key")?) };
        match reader.reader.version(key)? {
            0 => Ok(CHIRAL_NOT_FOUND),
            version => {
                // SAFETY: checked non-NULL, writable as the caller promises.
                unsafe { write(out_version, version) };
                Ok(CHIRAL_OK)
            }
        }
    })
}

/// The type of the value at `key` into `*out_kind`; `CHIRAL_NOT_FOUND` if the key
/// does not exist.
///
/// # Safety
/// As `chiral_key_version`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_key_kind(
    reader: *const chiral_reader,
    key: *const u8,
    key_len: usize,
    out_kind: *mut chiral_kind,
) -> chiral_status {
    call(|| {
        let out_kind = out(out_kind, "out_kind")?;
        // SAFETY: as the caller promises.
        let (reader, key) = unsafe { (handle(reader, "reader")?, bytes(key, key_len, "key")?) };
        match reader.reader.kind(key)? {
            None => Ok(CHIRAL_NOT_FOUND),
            Some(kind) => {
                // SAFETY: checked non-NULL, writable as the caller promises.
                unsafe { write(out_kind, kind.into()) };
                Ok(CHIRAL_OK)
            }
        }
    })
}

/// HGET: copies the value of `field` in the hash at `key` into `buf`, as
/// `chiral_get` does. `CHIRAL_NOT_FOUND` if the key or the field does not exist.
///
/// # Safety
/// As `chiral_get`, and `field` NULL (with `field_len` 0) or readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_hash_get(
    reader: *const chiral_reader,
    key: *const u8,
    key_len: usize,
    field: *const u8,
    field_len: usize,
    buf: *mut u8,
    capacity: usize,
    out_len: *mut usize,
) -> chiral_status {
    call(|| {
        let out_len = out(out_len, "out_len")?;
        // SAFETY: as the caller promises.
        let (reader, key, field) = unsafe {
            (
                handle(reader, "reader")?,
                bytes(key, key_len, "key")?,
                bytes(field, field_len, "field")?,
            )
        };
        match reader.reader.hget(key, field)? {
            None => Ok(CHIRAL_NOT_FOUND),
            // SAFETY: `buf` and `out_len` as the caller promises.
            Some(value) => unsafe { copy_out(&value, buf, capacity, out_len) },
        }
    })
}

/// SISMEMBER: `CHIRAL_OK` if `member` is in the set at `key`, `CHIRAL_NOT_FOUND` if
/// not (or the key does not exist).
///
/// # Safety
/// `reader` NULL or a live reader owned by this thread; `key` and `member` NULL (with
/// length 0) or readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_set_contains(
    reader: *const chiral_reader,
    key: *const u8,
    key_len: usize,
    member: *const u8,
    member_len: usize,
) -> chiral_status {
    call(|| {
        // SAFETY: as the caller promises.
        let (reader, key, member) = unsafe {
            (
                handle(reader, "reader")?,
                bytes(key, key_len, "key")?,
                bytes(member, member_len, "member")?,
            )
        };
        Ok(if reader.reader.sismember(key, member)? {
            CHIRAL_OK
        } else {
            CHIRAL_NOT_FOUND
        })
    })
}
