//! Zero-copy read views: `chiral_view_get` hands out pointers into the database's
//! own memory, valid until the view is freed.
//!
//! A view holds the published copy of the map open (a left-right read guard), so the
//! commit thread cannot publish until it is freed: like a read transaction in LMDB,
//! a view held long delays writers. A thread that holds a view must not wait for a
//! write (it would wait for itself), so writes, snapshots and close from such a
//! thread fail with `CHIRAL_ERR_VIEW_OPEN` instead of hanging.

use std::borrow::Cow;
use std::cell::Cell;
use std::rc::Rc;

use chiral::{ReadView, Reader};

use crate::args::{bytes, handle, handle_mut, out, write};
use crate::read::chiral_reader;
use crate::status::{
    CHIRAL_ERR_VIEW_OPEN, CHIRAL_NOT_FOUND, CHIRAL_OK, Failure, FfiResult, call, call_void,
    chiral_status,
};

/// A read view: one commit, read in place. Belongs to the thread of its reader.
#[allow(non_camel_case_types)]
pub struct chiral_view {
    // Field order is drop order: the view borrows from the reader, so it goes first.
    view: ReadView<'static>,
    /// Numbers read through the view, formatted as text; each buffer stays put until
    /// the view is freed, so pointers into it stay valid as long as the view.
    formatted: Vec<Box<[u8]>>,
    /// Keeps the reader `view` borrows alive, even if the reader handle is freed.
    _reader: Rc<Reader>,
}

thread_local! {
    /// Read views open on this thread.
    static OPEN_VIEWS: Cell<usize> = const { Cell::new(0) };
}

/// Refuses to `action` on a thread that holds a read view: it would wait for the
/// commit thread, which waits for the view.
pub(crate) fn refuse_if_view_open(action: &str) -> FfiResult<()> {
    let open = OPEN_VIEWS.with(Cell::get);
    if open == 0 {
        Ok(())
    } else {
        Err(Failure::new(
            CHIRAL_ERR_VIEW_OPEN,
            format!(
                "cannot {action}: this thread holds {open} open read view(s), which the write would wait for; free them first"
            ),
        ))
    }
}

/// Opens a read view on `reader`; free it with `chiral_view_free`, soon.
///
/// # Safety
/// `reader` must be NULL or a live reader owned by this thread; `out_view` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_view_open(
    reader: *const chiral_reader,
    out_view: *mut *mut chiral_view,
) -> chiral_status {
    call(|| {
        let out_view = out(out_view, "out_view")?;
        // SAFETY: NULL or a live reader, as the caller promises.
        let reader = Rc::clone(&unsafe { handle(reader, "reader") }?.reader);
        // SAFETY: the view borrows the `Reader` inside the `Rc`, whose address is
        // stable; the handle keeps that `Rc` alive in `_reader` and drops the view
        // first (field order), so the borrow never outlives the reader.
        let view: ReadView<'static> = unsafe { std::mem::transmute(reader.pin()) };
        let handle = Box::new(chiral_view {
            view,
            formatted: Vec::new(),
            _reader: reader,
        });
        OPEN_VIEWS.with(|open| open.set(open.get() + 1));
        // SAFETY: checked non-NULL, writable as the caller promises.
        unsafe { write(out_view, Box::into_raw(handle)) };
        Ok(CHIRAL_OK)
    })
}

/// Reads the string value of `key` in place: `*out_data` points into the database's
/// memory (or, for a number, to its text kept by the view) and stays valid until the
/// view is freed. Do not write through it. `CHIRAL_NOT_FOUND` if the key does not
/// exist; `CHIRAL_ERR_WRONG_TYPE` for a collection. Every read through one view sees
/// the same commit.
///
/// # Safety
/// `view` must be NULL or a live view owned by this thread; `key` NULL (with
/// `key_len` 0) or readable; `out_data` and `out_len` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_view_get(
    view: *mut chiral_view,
    key: *const u8,
    key_len: usize,
    out_data: *mut *const u8,
    out_len: *mut usize,
) -> chiral_status {
    call(|| {
        let (out_data, out_len) = (out(out_data, "out_data")?, out(out_len, "out_len")?);
        // SAFETY: as the caller promises.
        let (view, key) = unsafe { (handle_mut(view, "view")?, bytes(key, key_len, "key")?) };
        let (data, len) = match view.view.get(key)? {
            None => return Ok(CHIRAL_NOT_FOUND),
            Some(Cow::Borrowed(value)) => (value.as_ptr(), value.len()),
            Some(Cow::Owned(text)) => {
                let text = text.into_boxed_slice();
                let pointer = (text.as_ptr(), text.len());
                view.formatted.push(text);
                pointer
            }
        };
        // SAFETY: both checked non-NULL, writable as the caller promises.
        unsafe {
            write(out_data, data);
            write(out_len, len);
        }
        Ok(CHIRAL_OK)
    })
}

/// Frees a view, letting the commit thread publish again; pointers it gave out
/// become invalid. NULL is ignored.
///
/// # Safety
/// `view` must be NULL or a live view, freed on the thread that opened it, not used
/// again after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_view_free(view: *mut chiral_view) {
    call_void(|| {
        if !view.is_null() {
            // SAFETY: a live handle from chiral_view_open, given back once.
            drop(unsafe { Box::from_raw(view) });
            OPEN_VIEWS.with(|open| open.set(open.get().saturating_sub(1)));
        }
    });
}
