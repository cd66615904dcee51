//! Read views (`Reader::pin`): one commit for every read, string values in place.

mod common;

use std::borrow::Cow;

use chiral::{Ack, Batch, Db, Op, OpError, Options};
use common::open;

#[test]
fn a_view_reads_strings_in_place_and_formats_numbers() {
    let db = open();
    db.set(b"s", b"text").unwrap();
    db.apply(Op::incr_by("n", 42)).unwrap();
    db.apply(Op::SetAdd {
        key: b"set"[..].into(),
        members: vec!["m".into()],
    })
    .unwrap();
    let reader = db.reader();
    let view = reader.pin();
    assert!(matches!(
        view.get(b"s").unwrap(),
        Some(Cow::Borrowed(b"text"))
    ));
    assert_eq!(view.get(b"n").unwrap().as_deref(), Some(&b"42"[..]));
    assert_eq!(view.get(b"missing").unwrap(), None);
    assert_eq!(view.get(b"set").unwrap_err(), OpError::WrongType);
    assert!(view.version(b"s").unwrap() > 0);
    assert_eq!(view.version(b"missing").unwrap(), 0);
}

#[test]
fn a_view_sees_one_commit_until_it_is_dropped() {
    let db = open();
    db.set(b"k", b"old").unwrap();
    let reader = db.reader();
    let view = reader.pin();
    // Queued, applied by the commit thread, but not published while the view is open.
    db.write(Batch::of(Op::set("k", "new")), Ack::Eventual)
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(view.get(b"k").unwrap().as_deref(), Some(&b"old"[..]));
    drop(view);
    // A visible write after it publishes both.
    db.set(b"other", b"x").unwrap();
    assert_eq!(reader.get(b"k").unwrap().as_deref(), Some(&b"new"[..]));
}

#[test]
fn a_view_borrows_values_from_the_mapped_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        db.set(b"k", b"from the base").unwrap();
        db.snapshot().unwrap();
    }
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let reader = db.reader();
    let view = reader.pin();
    let value = view.get(b"k").unwrap().unwrap();
    assert!(matches!(value, Cow::Borrowed(_)));
    assert_eq!(&*value, b"from the base");
}

#[test]
fn a_prefetch_is_only_a_hint() {
    let db = open();
    prefetched_reads_answer_as_reads(&db);
    // With most keys in a snapshot (the base) and a few newer ones in the overlay.
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    db.set(b"k0", b"before the snapshot").unwrap();
    db.snapshot().unwrap();
    prefetched_reads_answer_as_reads(&db);
}

/// Writes every other key of a set, prefetches them all, reads them all.
fn prefetched_reads_answer_as_reads(db: &Db) {
    let reader = db.reader();
    // On an empty map, with no keys, and with more keys than it fetches.
    reader.prefetch([]);
    reader.prefetch([&b"absent"[..]]);
    let keys: Vec<String> = (0..2 * chiral::PREFETCH_MAX_KEYS)
        .map(|i| format!("k{i}"))
        .collect();
    for (i, key) in keys.iter().enumerate().step_by(2) {
        db.set(key.as_bytes(), key.as_bytes()).unwrap();
        if i == keys.len() / 2 {
            db.snapshot().ok();
        }
    }
    reader.prefetch(keys.iter().map(|key| key.as_bytes()));
    for (i, key) in keys.iter().enumerate() {
        let expected = (i % 2 == 0).then(|| key.as_bytes().to_vec());
        assert_eq!(reader.get(key.as_bytes()).unwrap(), expected);
    }
}
