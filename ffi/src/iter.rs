//! Iterators: the keys of a scan, the elements of a list or set, the fields and
//! values of a hash.
//!
//! A collection iterator holds a copy of the collection taken at one commit (an O(1)
//! clone of a persistent structure, no lock held). A scan iterator reads one page of
//! keys at a time, each page in one short read: keys present for the whole scan are
//! returned exactly once; keys written meanwhile may or may not be.

use std::collections::VecDeque;
use std::rc::Rc;

use bytes::Bytes;
use chiral::{Reader, ScanFilter};

use crate::args::{bytes, handle, handle_mut, out, write};
use crate::read::chiral_reader;
use crate::status::{CHIRAL_DONE, CHIRAL_OK, Failure, FfiResult, call, call_void, chiral_status};

/// An iterator. Belongs to the thread of the reader it came from. Pointers it hands
/// out are valid until the next call on it or its free.
#[allow(non_camel_case_types)]
pub struct chiral_iter {
    source: Source,
    /// The item last handed out, which the caller's pointers point into.
    current: Option<(Bytes, Bytes)>,
}

enum Source {
    /// Single items: list elements or set members.
    Items(std::vec::IntoIter<Bytes>),
    /// Field/value pairs.
    Pairs(std::vec::IntoIter<(Bytes, Bytes)>),
    /// Keys, a page at a time.
    Scan(Scan),
}

/// A scan in progress.
struct Scan {
    reader: Rc<Reader>,
    prefix: Vec<u8>,
    pattern: Option<Vec<u8>>,
    page: VecDeque<Box<[u8]>>,
    /// The cursor of the next page; `None` once the last page was read.
    cursor: Option<u64>,
}

/// Keys a scan page visits.
const SCAN_PAGE_KEYS: usize = 256;

impl Scan {
    fn next(&mut self) -> FfiResult<Option<Box<[u8]>>> {
        loop {
            if let Some(key) = self.page.pop_front() {
                if key.starts_with(&self.prefix) {
                    return Ok(Some(key));
                }
                continue;
            }
            let Some(cursor) = self.cursor else {
                return Ok(None);
            };
            let filter = ScanFilter {
                pattern: self.pattern.as_deref(),
                kind: None,
            };
            let page = self.reader.scan(cursor, SCAN_PAGE_KEYS, filter)?;
            self.cursor = (page.cursor != 0).then_some(page.cursor);
            self.page.extend(page.keys);
        }
    }
}

/// Hands out a new iterator.
fn hand_out(out_iter: *mut *mut chiral_iter, source: Source) -> FfiResult {
    let iter = Box::new(chiral_iter {
        source,
        current: None,
    });
    // SAFETY: the caller checked `out_iter` with `out`; writable as its caller promises.
    unsafe { write(out_iter, Box::into_raw(iter)) };
    Ok(CHIRAL_OK)
}

/// Iterates over the keys that start with `prefix` (`prefix_len` 0: all keys) and
/// match the glob `pattern` (NULL: any), in no particular order.
///
/// # Safety
/// `reader` NULL or a live reader owned by this thread; `prefix` and `pattern` NULL
/// (with length 0) or readable; `out_iter` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_scan(
    reader: *const chiral_reader,
    prefix: *const u8,
    prefix_len: usize,
    pattern: *const u8,
    pattern_len: usize,
    out_iter: *mut *mut chiral_iter,
) -> chiral_status {
    call(|| {
        let out_iter = out(out_iter, "out_iter")?;
        // SAFETY: as the caller promises.
        let (reader, prefix, pattern) = unsafe {
            (
                handle(reader, "reader")?,
                bytes(prefix, prefix_len, "prefix")?,
                (!pattern.is_null()).then(|| bytes(pattern, pattern_len, "pattern")),
            )
        };
        let scan = Scan {
            reader: Rc::clone(&reader.reader),
            prefix: prefix.to_vec(),
            pattern: pattern.transpose()?.map(<[u8]>::to_vec),
            page: VecDeque::new(),
            cursor: Some(0),
        };
        hand_out(out_iter, Source::Scan(scan))
    })
}

/// Iterates over elements `start..=stop` of the list at `key` (negative indexes
/// count from the tail: 0, -1 is the whole list). A missing key iterates over
/// nothing; `CHIRAL_ERR_WRONG_TYPE` if the key holds no list.
///
/// # Safety
/// `reader` NULL or a live reader owned by this thread; `key` NULL (with length 0)
/// or readable; `out_iter` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_list_range(
    reader: *const chiral_reader,
    key: *const u8,
    key_len: usize,
    start: i64,
    stop: i64,
    out_iter: *mut *mut chiral_iter,
) -> chiral_status {
    call(|| {
        let out_iter = out(out_iter, "out_iter")?;
        // SAFETY: as the caller promises.
        let (reader, key) = unsafe { (handle(reader, "reader")?, bytes(key, key_len, "key")?) };
        let items = reader.reader.lrange(key, start, stop)?;
        hand_out(out_iter, Source::Items(items.into_iter()))
    })
}

/// Iterates over the members of the set at `key`, in no particular order. A missing
/// key iterates over nothing; `CHIRAL_ERR_WRONG_TYPE` if the key holds no set.
///
/// # Safety
/// As `chiral_list_range`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_set_members(
    reader: *const chiral_reader,
    key: *const u8,
    key_len: usize,
    out_iter: *mut *mut chiral_iter,
) -> chiral_status {
    call(|| {
        let out_iter = out(out_iter, "out_iter")?;
        // SAFETY: as the caller promises.
        let (reader, key) = unsafe { (handle(reader, "reader")?, bytes(key, key_len, "key")?) };
        let members = reader.reader.smembers(key)?;
        hand_out(out_iter, Source::Items(members.into_iter()))
    })
}

/// Iterates over the fields and values of the hash at `key` (read them with
/// `chiral_iter_next_pair`), in no particular order. A missing key iterates over
/// nothing; `CHIRAL_ERR_WRONG_TYPE` if the key holds no hash.
///
/// # Safety
/// As `chiral_list_range`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_hash_entries(
    reader: *const chiral_reader,
    key: *const u8,
    key_len: usize,
    out_iter: *mut *mut chiral_iter,
) -> chiral_status {
    call(|| {
        let out_iter = out(out_iter, "out_iter")?;
        // SAFETY: as the caller promises.
        let (reader, key) = unsafe { (handle(reader, "reader")?, bytes(key, key_len, "key")?) };
        let pairs = reader.reader.hgetall(key)?;
        hand_out(out_iter, Source::Pairs(pairs.into_iter()))
    })
}

impl chiral_iter {
    /// Moves to the next item; `false` at the end.
    fn advance(&mut self, want_pairs: bool) -> FfiResult<bool> {
        let next = match (&mut self.source, want_pairs) {
            (Source::Items(items), false) => items.next().map(|item| (item, Bytes::new())),
            (Source::Scan(scan), false) => scan
                .next()?
                .map(|key| (Bytes::from(Vec::from(key)), Bytes::new())),
            (Source::Pairs(pairs), true) => pairs.next(),
            (Source::Pairs(_), false) => {
                return Err(Failure::argument(
                    "this iterator yields pairs: use chiral_iter_next_pair",
                ));
            }
            (_, true) => {
                return Err(Failure::argument(
                    "this iterator yields single items: use chiral_iter_next",
                ));
            }
        };
        self.current = next;
        Ok(self.current.is_some())
    }
}

/// The next key, element or member: `CHIRAL_OK` with `*out_data`/`*out_len` set
/// (valid until the next call on `iter` or its free), or `CHIRAL_DONE` at the end.
///
/// # Safety
/// `iter` NULL or a live iterator owned by this thread; `out_data` and `out_len`
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_iter_next(
    iter: *mut chiral_iter,
    out_data: *mut *const u8,
    out_len: *mut usize,
) -> chiral_status {
    call(|| {
        let (out_data, out_len) = (out(out_data, "out_data")?, out(out_len, "out_len")?);
        // SAFETY: NULL or a live iterator, as the caller promises.
        let iter = unsafe { handle_mut(iter, "iter") }?;
        if !iter.advance(false)? {
            return Ok(CHIRAL_DONE);
        }
        let (item, _) = iter.current.as_ref().expect("advance found an item");
        // SAFETY: both checked non-NULL, writable as the caller promises.
        unsafe {
            write(out_data, item.as_ptr());
            write(out_len, item.len());
        }
        Ok(CHIRAL_OK)
    })
}

/// The next field and value of a hash iterator, as `chiral_iter_next`.
///
/// # Safety
/// `iter` NULL or a live iterator owned by this thread; the four out-parameters
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_iter_next_pair(
    iter: *mut chiral_iter,
    out_field: *mut *const u8,
    out_field_len: *mut usize,
    out_value: *mut *const u8,
    out_value_len: *mut usize,
) -> chiral_status {
    call(|| {
        let out_field = out(out_field, "out_field")?;
        let out_field_len = out(out_field_len, "out_field_len")?;
        let out_value = out(out_value, "out_value")?;
        let out_value_len = out(out_value_len, "out_value_len")?;
        // SAFETY: NULL or a live iterator, as the caller promises.
        let iter = unsafe { handle_mut(iter, "iter") }?;
        if !iter.advance(true)? {
            return Ok(CHIRAL_DONE);
        }
        let (field, value) = iter.current.as_ref().expect("advance found an item");
        // SAFETY: all four checked non-NULL, writable as the caller promises.
        unsafe {
            write(out_field, field.as_ptr());
            write(out_field_len, field.len());
            write(out_value, value.as_ptr());
            write(out_value_len, value.len());
        }
        Ok(CHIRAL_OK)
    })
}

/// Frees an iterator. NULL is ignored.
///
/// # Safety
/// `iter` must be NULL or a live iterator owned by this thread, not used again after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_iter_free(iter: *mut chiral_iter) {
    call_void(|| {
        if !iter.is_null() {
            // SAFETY: a live handle from one of the iterator functions, given back once.
            drop(unsafe { Box::from_raw(iter) });
        }
    });
}
