//! The C ABI called from Rust the way C calls it, for what C cannot easily do: a
//! callback that panics (a Rust callback behind the C function pointer type), and
//! the guarantee that unsubscribing waits for a call in flight.

use std::ffi::c_void;
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chiral_ffi::*;

fn open() -> *mut chiral_db {
    let mut db = null_mut();
    // SAFETY: NULL options mean the defaults; `db` is writable.
    let status = unsafe { chiral_db_open_in_memory(null(), &mut db) };
    assert_eq!(status, CHIRAL_OK);
    db
}

fn set(db: *const chiral_db, key: &[u8], value: &[u8]) -> chiral_status {
    // SAFETY: a live database and two live slices.
    unsafe {
        chiral_set(
            db,
            key.as_ptr(),
            key.len(),
            value.as_ptr(),
            value.len(),
            0,
            CHIRAL_ACK_VISIBLE,
        )
    }
}

fn last_error() -> String {
    let mut buf = vec![0u8; 512];
    // SAFETY: `buf` holds 512 writable bytes.
    let len = unsafe { chiral_last_error(buf.as_mut_ptr().cast(), buf.len()) };
    buf.truncate(len.min(511));
    String::from_utf8(buf).unwrap()
}

/// Polls `condition` for up to 10 s (a bound against hanging, not a timing claim).
fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

unsafe extern "C-unwind" fn panicking(_user_data: *mut c_void, _change: *const chiral_change) {
    panic!("planted in the test's callback");
}

#[test]
fn a_callback_that_panics_stops_its_subscription_and_nothing_else() {
    let db = open();
    let mut subscription = null_mut();
    // SAFETY: a live database; the callback ignores its user data.
    let status = unsafe {
        chiral_subscribe(
            db,
            null(),
            0,
            Some(panicking),
            null_mut(),
            &mut subscription,
        )
    };
    assert_eq!(status, CHIRAL_OK);
    // SAFETY: a live subscription.
    let status = unsafe { chiral_subscription_status(subscription) };
    assert_eq!(status, CHIRAL_OK);
    assert_eq!(set(db, b"k", b"v"), CHIRAL_OK);
    // SAFETY: a live subscription.
    let panicked =
        eventually(|| unsafe { chiral_subscription_status(subscription) } == CHIRAL_ERR_PANIC);
    assert!(panicked, "the panic is reported");
    assert!(
        last_error().contains("planted in the test's callback"),
        "{}",
        last_error()
    );
    // The database goes on; later changes do not call the callback again.
    assert_eq!(set(db, b"k", b"v2"), CHIRAL_OK);
    // SAFETY: live handles, each freed once.
    unsafe {
        chiral_unsubscribe(subscription);
        chiral_db_free(db);
    }
}

/// Counts calls entered and returned; each call sleeps a while in the middle.
struct Calls {
    entered: AtomicUsize,
    returned: AtomicUsize,
}

unsafe extern "C-unwind" fn slow(user_data: *mut c_void, _change: *const chiral_change) {
    // SAFETY: the test passes a `Calls` that outlives the subscription.
    let calls = unsafe { &*user_data.cast::<Calls>() };
    calls.entered.fetch_add(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(200));
    calls.returned.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn unsubscribe_waits_for_the_call_in_flight() {
    let db = open();
    let calls = Box::new(Calls {
        entered: AtomicUsize::new(0),
        returned: AtomicUsize::new(0),
    });
    let user_data = std::ptr::from_ref::<Calls>(&calls).cast_mut().cast();
    let mut subscription = null_mut();
    // SAFETY: a live database; `calls` lives until after chiral_unsubscribe.
    let status = unsafe {
        chiral_subscribe(
            db,
            b"k".as_ptr(),
            1,
            Some(slow),
            user_data,
            &mut subscription,
        )
    };
    assert_eq!(status, CHIRAL_OK);
    assert_eq!(set(db, b"k", b"v"), CHIRAL_OK);
    assert!(eventually(|| calls.entered.load(Ordering::SeqCst) == 1));
    // SAFETY: a live subscription, freed once.
    unsafe { chiral_unsubscribe(subscription) };
    assert_eq!(
        calls.returned.load(Ordering::SeqCst),
        1,
        "the call in flight finished before chiral_unsubscribe returned"
    );
    assert_eq!(set(db, b"k", b"v2"), CHIRAL_OK);
    drop(calls);
    // SAFETY: a live database, freed once.
    unsafe { chiral_db_free(db) };
}

#[test]
fn a_view_on_another_thread_does_not_block_this_one_and_frees_cleanly() {
    let db = open();
    assert_eq!(set(db, b"k", b"v"), CHIRAL_OK);
    let db_address = db as usize;
    let reader_thread = std::thread::spawn(move || {
        let db = db_address as *const chiral_db;
        let (mut reader, mut view) = (null_mut(), null_mut());
        let (mut data, mut len) = (null(), 0usize);
        // SAFETY: live handles made and freed on this thread; `data` is read while
        // the view is open.
        unsafe {
            assert_eq!(chiral_reader_new(db, &mut reader), CHIRAL_OK);
            assert_eq!(chiral_view_open(reader, &mut view), CHIRAL_OK);
            assert_eq!(
                chiral_view_get(view, b"k".as_ptr(), 1, &mut data, &mut len),
                CHIRAL_OK
            );
            let value = std::slice::from_raw_parts(data, len).to_vec();
            chiral_view_free(view);
            chiral_reader_free(reader);
            value
        }
    });
    assert_eq!(reader_thread.join().unwrap(), b"v");
    // This thread holds no view, so it may write.
    assert_eq!(set(db, b"k", b"w"), CHIRAL_OK);
    // SAFETY: a live database, freed once.
    unsafe { chiral_db_free(db) };
}
