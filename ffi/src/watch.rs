//! Change callbacks: a C function called for every committed change under a key
//! prefix, from a thread Chiral owns.

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use chiral::{Change, Watch, WatchEvent};

use crate::args::{bytes, handle, out, write};
use crate::db::chiral_db;
use crate::read::chiral_kind;
use crate::status::{
    CHIRAL_ERR_PANIC, CHIRAL_OK, Failure, call, call_void, chiral_status, panic_message,
};

/// What happened to a key.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum chiral_change_kind {
    /// The key was written: `value` holds its new string value (NULL for a list, set
    /// or hash: read it with a reader if needed).
    CHIRAL_CHANGE_PUT = 0,
    /// The key was deleted or expired.
    CHIRAL_CHANGE_DELETE = 1,
    /// Every key was deleted; `key` is NULL.
    CHIRAL_CHANGE_FLUSH = 2,
    /// The callback fell behind and changes were missed; `key` is NULL. Re-read what
    /// you track; calls go on from the next commit.
    CHIRAL_CHANGE_LAGGED = 3,
}

/// One change, as a callback sees it. Every pointer is valid only during the call.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug)]
pub struct chiral_change {
    /// What happened.
    pub kind: chiral_change_kind,
    /// The key (NULL for a flush or lag).
    pub key: *const u8,
    /// The key's length.
    pub key_len: usize,
    /// The new value of a string put, else NULL.
    pub value: *const u8,
    /// The value's length.
    pub value_len: usize,
    /// The new value's type (for a put).
    pub value_kind: chiral_kind,
    /// The LSN of the batch that made the change: the key's new version.
    pub version: u64,
}

/// A change callback: called with the `user_data` given to `chiral_subscribe` and
/// the change. Runs on a Chiral thread, one call at a time per subscription, in
/// commit order. It must not throw (C++) or longjmp out. It may read the database;
/// it should be quick, since changes queue behind it.
#[allow(non_camel_case_types)]
pub type chiral_change_fn =
    Option<unsafe extern "C-unwind" fn(user_data: *mut c_void, change: *const chiral_change)>;

/// A running subscription; end it with `chiral_unsubscribe`. Its functions may be
/// called from any thread (one at a time), and from inside its own callback.
#[allow(non_camel_case_types)]
pub struct chiral_subscription {
    watch: Option<Watch>,
    /// Set when the callback panicked (a Rust callback): calls stop, and
    /// `chiral_subscription_status` reports it.
    panicked: Arc<Mutex<Option<String>>>,
}

/// The caller's user data, handed to the callback thread.
struct UserData(*mut c_void);

// SAFETY: the pointer is only passed back to the caller's callback; the header tells
// the caller that the callback runs on another thread.
unsafe impl Send for UserData {}

/// Calls `callback` for every change to a key starting with `prefix` (`prefix_len`
/// 0: every key), and for every flush, from now on. `*out_subscription` gets the
/// handle that ends it.
///
/// # Safety
/// `db` NULL or a live database; `prefix` NULL (with length 0) or readable;
/// `callback` safe to call from another thread with `user_data` until
/// `chiral_unsubscribe` returns; `out_subscription` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_subscribe(
    db: *const chiral_db,
    prefix: *const u8,
    prefix_len: usize,
    callback: chiral_change_fn,
    user_data: *mut c_void,
    out_subscription: *mut *mut chiral_subscription,
) -> chiral_status {
    call(|| {
        let out_subscription = out(out_subscription, "out_subscription")?;
        // SAFETY: as the caller promises.
        let (db, prefix) = unsafe { (handle(db, "db")?, bytes(prefix, prefix_len, "prefix")?) };
        let callback = callback.ok_or_else(|| Failure::argument("callback is NULL"))?;
        let panicked = Arc::new(Mutex::new(None));
        let user_data = UserData(user_data);
        let watch = {
            let panicked = Arc::clone(&panicked);
            db.db
                .watch(prefix, move |event| {
                    let user_data = &user_data;
                    let lock = || panicked.lock().unwrap_or_else(|poison| poison.into_inner());
                    if lock().is_some() {
                        return;
                    }
                    // SAFETY: the caller promised the callback may be called with its
                    // user data from this thread until unsubscribed, and dropping the
                    // watch (in chiral_unsubscribe) waits for this call to return.
                    let outcome = catch_unwind(AssertUnwindSafe(|| unsafe {
                        deliver(callback, user_data.0, &event);
                    }));
                    if let Err(panic) = outcome {
                        let message = panic_message(panic.as_ref());
                        tracing::error!(%message, "a change callback panicked; its subscription stops");
                        *lock() = Some(message);
                    }
                })
                .map_err(|error| {
                    Failure::new(
                        crate::status::CHIRAL_ERR_IO,
                        format!("could not start the callback thread: {error}"),
                    )
                })?
        };
        let subscription = Box::new(chiral_subscription {
            watch: Some(watch),
            panicked,
        });
        // SAFETY: checked non-NULL, writable as the caller promises.
        unsafe { write(out_subscription, Box::into_raw(subscription)) };
        Ok(CHIRAL_OK)
    })
}

/// Calls `callback` with `event` laid out as a `chiral_change`.
///
/// # Safety
/// `callback` must be safe to call with `user_data`.
unsafe fn deliver(
    callback: unsafe extern "C-unwind" fn(*mut c_void, *const chiral_change),
    user_data: *mut c_void,
    event: &WatchEvent<'_>,
) {
    let mut change = chiral_change {
        kind: chiral_change_kind::CHIRAL_CHANGE_LAGGED,
        key: std::ptr::null(),
        key_len: 0,
        value: std::ptr::null(),
        value_len: 0,
        value_kind: chiral_kind::CHIRAL_KIND_STRING,
        version: 0,
    };
    // A put's value as text; it must outlive the call.
    let text;
    if let WatchEvent::Change { lsn, change: what } = event {
        change.version = *lsn;
        if let Some(key) = what.key() {
            (change.key, change.key_len) = (key.as_ptr(), key.len());
        }
        change.kind = match what {
            Change::Flush => chiral_change_kind::CHIRAL_CHANGE_FLUSH,
            Change::Delete(_) => chiral_change_kind::CHIRAL_CHANGE_DELETE,
            Change::Put(record) => {
                text = record.str_form();
                if let Some(text) = text.as_deref() {
                    (change.value, change.value_len) = (text.as_ptr(), text.len());
                }
                change.value_kind = record.kind().into();
                chiral_change_kind::CHIRAL_CHANGE_PUT
            }
        };
    }
    // SAFETY: as this function's caller promises; the event and `text`, which the
    // pointers point into, outlive the call.
    unsafe { callback(user_data, &change) };
}

/// `CHIRAL_OK` while the subscription delivers changes; `CHIRAL_ERR_PANIC` (with the
/// message for `chiral_last_error`) if its callback panicked, which stopped it.
///
/// # Safety
/// `subscription` NULL or a live subscription.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_subscription_status(
    subscription: *const chiral_subscription,
) -> chiral_status {
    call(|| {
        // SAFETY: NULL or a live handle, as the caller promises.
        let subscription = unsafe { handle(subscription, "subscription") }?;
        let panicked = subscription
            .panicked
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        match panicked.as_ref() {
            None => Ok(CHIRAL_OK),
            Some(message) => Err(Failure::new(
                CHIRAL_ERR_PANIC,
                format!("the change callback panicked: {message}"),
            )),
        }
    })
}

/// Ends a subscription and frees it. When this returns no call of its callback is
/// running or will run, so `user_data` may be freed right after. NULL is ignored.
/// Called from inside the subscription's own callback, it stops the calls without
/// waiting (for itself).
///
/// # Safety
/// `subscription` must be NULL or a live subscription, not used again after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_unsubscribe(subscription: *mut chiral_subscription) {
    call_void(|| {
        if !subscription.is_null() {
            // SAFETY: a live handle from chiral_subscribe, given back once.
            let mut subscription = unsafe { Box::from_raw(subscription) };
            drop(subscription.watch.take());
        }
    });
}
