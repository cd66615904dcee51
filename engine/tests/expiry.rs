//! Expiry: invisible at once, swept by the commit thread as ordinary logged deletes.

mod common;

use std::time::Duration;

use chiral::{Change, Db, Expiry, ManualClock, Op, Options, Ttl};
use common::{key, ok, open_with_clock};

fn set_expiring(k: &str, at_ms: u64) -> Op {
    Op::Set {
        key: key(k),
        value: "v".into(),
        condition: Default::default(),
        expiry: Expiry::AtMs(at_ms),
        get_old: false,
    }
}

/// Waits until the feed delivers a delete of `key`.
fn await_delete(sub: &chiral::Subscription, wanted: &[u8]) -> u64 {
    loop {
        let batch = sub
            .recv_timeout(Duration::from_secs(10))
            .unwrap()
            .expect("the sweep delete arrives");
        for change in &batch.changes {
            if let Change::Delete(k) = change
                && &**k == wanted
            {
                return batch.lsn;
            }
        }
    }
}

#[test]
fn expired_keys_are_invisible_at_once() {
    let (db, clock) = open_with_clock(10_000);
    let r = db.reader();
    ok(&db, set_expiring("k", 10_500));
    assert_eq!(r.get(b"k").unwrap().unwrap(), b"v");
    clock.advance_ms(499);
    assert_eq!(r.ttl(b"k").unwrap(), Ttl::ExpiresInMs(1));
    clock.advance_ms(1);
    assert_eq!(r.get(b"k").unwrap(), None);
    assert!(!r.exists(b"k").unwrap());
    assert_eq!(r.ttl(b"k").unwrap(), Ttl::Missing);
    assert_eq!(r.record(b"k").unwrap().map(|rec| rec.version()), None);
    // Writes see it as absent too.
    assert_eq!(ok(&db, Op::incr_by("k", 1)), chiral::Reply::Int(1));
    assert_eq!(
        r.ttl(b"k").unwrap(),
        Ttl::Persistent,
        "INCR of an expired key starts a fresh key"
    );
}

#[test]
fn the_commit_thread_sweeps_expired_keys_as_deletes() {
    let (db, clock) = open_with_clock(10_000);
    let sub = db.subscribe();
    ok(&db, set_expiring("gone", 11_000));
    ok(&db, set_expiring("refreshed", 11_000));
    ok(&db, set_expiring("refreshed", 50_000));
    db.set(b"plain", b"v").unwrap();
    let r = db.reader();
    assert_eq!(r.len(), 3);
    clock.set_ms(20_000);
    let lsn = await_delete(&sub, b"gone");
    assert!(lsn > 0);
    assert_eq!(r.len(), 2, "the sweep removed the key from the map");
    assert!(
        r.exists(b"refreshed").unwrap(),
        "a refreshed expiry is not swept at its old time"
    );
    clock.set_ms(60_000);
    await_delete(&sub, b"refreshed");
    assert_eq!(r.len(), 1);
}

#[test]
fn persisted_and_overwritten_keys_are_not_swept() {
    let (db, clock) = open_with_clock(1_000);
    ok(&db, set_expiring("p", 2_000));
    ok(
        &db,
        Op::Expire {
            key: key("p"),
            at_ms: None,
            condition: Default::default(),
        },
    );
    ok(&db, set_expiring("o", 2_000));
    db.set(b"o", b"new").unwrap();
    ok(&db, set_expiring("marker", 2_000));
    let sub = db.subscribe();
    clock.set_ms(5_000);
    await_delete(&sub, b"marker");
    let r = db.reader();
    assert!(r.exists(b"p").unwrap());
    assert_eq!(r.get(b"o").unwrap().unwrap(), b"new");
}

/// A database sweeping at most 10 keys per batch, holding `keys` keys that expired
/// at 2,000 ms, its clock now at 3,000 ms, and a subscription opened before the move.
fn expired_backlog(keys: usize) -> (Db, chiral::Subscription) {
    let clock = std::sync::Arc::new(ManualClock::new(1_000));
    let options = Options {
        clock: clock.clone(),
        expiry_sweep_keys: 10,
        ..Options::default()
    };
    let db = Db::open_in_memory(options).unwrap();
    let mut batch = chiral::Batch::new();
    for i in 0..keys {
        batch.push(set_expiring(&format!("k{i}"), 2_000));
    }
    db.write(batch, chiral::Ack::Visible).unwrap();
    let sub = db.subscribe();
    clock.set_ms(3_000);
    (db, sub)
}

#[test]
fn a_sweep_deletes_at_most_its_bound_per_batch() {
    let (db, sub) = expired_backlog(95);
    let mut deleted = 0;
    while deleted < 95 {
        let batch = sub
            .recv_timeout(Duration::from_secs(10))
            .unwrap()
            .expect("sweeps continue");
        assert!(
            batch.changes.len() <= 10,
            "a sweep batch holds at most expiry_sweep_keys deletes"
        );
        deleted += batch.changes.len();
    }
    assert_eq!(db.reader().len(), 0);
}

#[test]
fn flush_forgets_pending_expiries() {
    let (db, clock) = open_with_clock(1_000);
    ok(&db, set_expiring("k", 2_000));
    ok(&db, Op::Flush);
    db.set(b"k", b"forever").unwrap();
    ok(&db, set_expiring("marker", 2_000));
    let sub = db.subscribe();
    clock.set_ms(3_000);
    await_delete(&sub, b"marker");
    assert_eq!(db.reader().get(b"k").unwrap().unwrap(), b"forever");
}

#[test]
fn an_idle_database_sweeps_a_backlog_without_pausing_between_sweeps() {
    let (db, sub) = expired_backlog(5_000);
    // 500 sweeps of 10 keys, with no write to wake the commit thread. Sleeping the
    // 100 ms sweep interval between them would take 50 s; the bound is generous.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut deleted = 0;
    while deleted < 5_000 {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let batch = sub
            .recv_timeout(left)
            .unwrap()
            .expect("the backlog is swept while idle");
        deleted += batch.changes.len();
    }
    assert_eq!(db.reader().len(), 0);
}
