//! The change feed and watches.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use chiral::{Ack, Batch, Change, Db, FeedError, Op, Options, WatchEvent};
use common::{ok, open};

#[test]
fn subscribers_get_every_batch_in_order() {
    let db = open();
    let sub = db.subscribe();
    let mut lsns = Vec::new();
    for i in 0..50 {
        let batch = Batch::new()
            .with(Op::set(format!("a{i}"), "1"))
            .with(Op::set(format!("b{i}"), "2"));
        lsns.push(db.write(batch, Ack::Visible).unwrap().commit().unwrap().lsn);
    }
    ok(&db, Op::delete("a0"));
    ok(&db, Op::Flush);
    for (i, lsn) in lsns.iter().enumerate() {
        let batch = sub.recv().unwrap();
        assert_eq!(batch.lsn, *lsn);
        let keys: Vec<_> = batch
            .changes
            .iter()
            .map(|c| c.key().unwrap().to_vec())
            .collect();
        assert_eq!(
            keys,
            [format!("a{i}").into_bytes(), format!("b{i}").into_bytes()]
        );
        match &batch.changes[0] {
            Change::Put(record) => {
                assert_eq!(record.version(), *lsn);
                assert_eq!(*record.value(), chiral::Value::from("1"));
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(&sub.recv().unwrap().changes[..], [Change::Delete(k)] if &**k == b"a0"));
    assert!(matches!(&sub.recv().unwrap().changes[..], [Change::Flush]));
    db.close();
    assert_eq!(sub.recv().unwrap_err(), FeedError::Closed);
}

#[test]
fn a_batch_tagged_with_its_writer_carries_the_tag_to_the_feed() {
    let db = open();
    let sub = db.subscribe();
    let tagged = Batch::new().with(Op::set("k", "1")).origin(42);
    db.write(tagged, Ack::Visible).unwrap();
    ok(&db, Op::set("k", "2"));
    assert_eq!(sub.recv().unwrap().origin, Some(42));
    assert_eq!(sub.recv().unwrap().origin, None);
}

#[test]
fn a_lagging_subscriber_is_cut_off_without_slowing_writes() {
    let options = Options {
        feed_queue_batches: 8,
        ..Options::default()
    };
    let db = Db::open_in_memory(options).unwrap();
    let slow = db.subscribe();
    let fast = db.subscribe();
    for i in 0..100 {
        let lsn = db
            .write(
                Batch::of(Op::set("k", format!("{i}").as_str())),
                Ack::Visible,
            )
            .unwrap()
            .commit()
            .unwrap()
            .lsn;
        // The fast subscriber keeps up: it reads each batch right after its commit.
        assert_eq!(
            fast.recv_timeout(Duration::from_secs(10))
                .unwrap()
                .unwrap()
                .lsn,
            lsn
        );
    }
    // The slow one gets what fit in its queue, then hears it lagged.
    let mut received = 0;
    let err = loop {
        match slow.recv() {
            Ok(_) => received += 1,
            Err(err) => break err,
        }
    };
    assert_eq!(err, FeedError::Lagged);
    assert_eq!(
        received, 8,
        "exactly a queue's worth was delivered before the cut"
    );
    db.close();
    assert_eq!(fast.recv().unwrap_err(), FeedError::Closed);
}

#[test]
fn a_dropped_subscription_unsubscribes() {
    let db = open();
    let sub = db.subscribe();
    drop(sub);
    ok(&db, Op::set("k", "v"));
    ok(&db, Op::set("k", "w"));
}

#[test]
fn watch_calls_back_for_its_prefix_only() {
    let db = open();
    let (tx, rx) = mpsc::channel();
    let watch = db
        .watch(b"user:", move |event| {
            if let WatchEvent::Change { change, lsn } = event {
                tx.send((change.key().map(<[u8]>::to_vec), lsn)).unwrap();
            }
        })
        .unwrap();
    ok(&db, Op::set("item:1", "x"));
    ok(&db, Op::set("user:1", "alice"));
    ok(&db, Op::delete("user:1"));
    ok(&db, Op::Flush);
    let got: Vec<_> = (0..3)
        .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap().0)
        .collect();
    assert_eq!(
        got,
        [Some(b"user:1".to_vec()), Some(b"user:1".to_vec()), None]
    );
    drop(watch);
    ok(&db, Op::set("user:2", "bob"));
    std::thread::sleep(Duration::from_millis(50));
    assert!(rx.try_recv().is_err(), "a dropped watch calls nothing");
}

#[test]
fn subscribing_to_a_closed_database_ends_at_once() {
    let db = open();
    db.close();
    assert_eq!(db.subscribe().recv().unwrap_err(), FeedError::Closed);
}
