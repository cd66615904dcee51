//! Batches: atomicity, preconditions, error modes, acks, limits, closing.

mod common;

use chiral::{
    Ack, Batch, Db, OnError, Op, OpError, Options, Precondition, Receipt, Reply, WriteError,
};
use common::{block_on, key, open};

#[test]
fn a_refused_operation_refuses_the_whole_batch() {
    let db = open();
    let r = db.reader();
    db.set(b"word", b"abc").unwrap();
    // (Sized up front, as the server builds a pipeline's batch.)
    let batch = Batch::with_capacity(3)
        .with(Op::set("a", "1"))
        .with(Op::incr_by("word", 1))
        .with(Op::set("b", "2"));
    assert_eq!(
        db.write(batch, Ack::Visible),
        Err(WriteError::Op {
            index: 1,
            error: OpError::NotInteger
        })
    );
    assert!(!r.exists(b"a").unwrap() && !r.exists(b"b").unwrap());
    // Undo covers earlier writes to the same key and flushes too.
    db.set(b"k", b"old").unwrap();
    let batch = Batch::new()
        .with(Op::set("k", "new"))
        .with(Op::Flush)
        .with(Op::set("k", "newer"))
        .with(Op::incr_by("k", 1));
    assert!(db.write(batch, Ack::Visible).is_err());
    assert_eq!(r.get(b"k").unwrap().unwrap(), b"old");
    assert_eq!(r.get(b"word").unwrap().unwrap(), b"abc");
}

#[test]
fn continue_mode_skips_only_the_refused_operation() {
    let db = open();
    let r = db.reader();
    db.set(b"word", b"abc").unwrap();
    // (Sized up front, as the server builds a pipeline's batch.)
    let batch = Batch::with_capacity(3)
        .with(Op::set("a", "1"))
        .with(Op::incr_by("word", 1))
        .with(Op::incr_by("a", 1))
        .on_error(OnError::Continue);
    let commit = db.write(batch, Ack::Visible).unwrap().commit().unwrap();
    assert_eq!(
        commit.replies,
        vec![Ok(Reply::Ok), Err(OpError::NotInteger), Ok(Reply::Int(2))]
    );
    assert_eq!(r.get(b"a").unwrap().unwrap(), b"2");
    assert_eq!(r.version(b"a").unwrap(), commit.lsn);
}

#[test]
fn operations_in_a_batch_see_earlier_ones() {
    let db = open();
    let batch = Batch::new()
        .with(Op::incr_by("n", 1))
        .with(Op::incr_by("n", 1))
        .with(Op::Rename {
            from: key("n"),
            to: key("m"),
            only_if_absent: false,
        })
        .with(Op::incr_by("m", 1));
    let commit = db.write(batch, Ack::Visible).unwrap().commit().unwrap();
    assert_eq!(commit.replies.last(), Some(&Ok(Reply::Int(3))));
    let r = db.reader();
    assert!(!r.exists(b"n").unwrap());
    assert_eq!(r.get(b"m").unwrap().unwrap(), b"3");
}

#[test]
fn preconditions_guard_the_batch() {
    let db = open();
    let r = db.reader();
    db.set(b"k", b"v").unwrap();
    let version = r.version(b"k").unwrap();
    assert!(version > 0);
    // WATCH-style: succeeds at the observed version...
    let guarded = |v| {
        Batch::new()
            .with(Op::set("k", "mine"))
            .when(Precondition::Version {
                key: key("k"),
                version: v,
            })
    };
    db.write(guarded(version), Ack::Visible).unwrap();
    // ...and fails once someone else wrote.
    assert_eq!(
        db.write(guarded(version), Ack::Visible),
        Err(WriteError::PreconditionFailed { index: 0 })
    );
    assert_eq!(r.get(b"k").unwrap().unwrap(), b"mine");
    // Version 0 means "absent".
    let absent_at_zero = Batch::new()
        .with(Op::set("new", "1"))
        .when(Precondition::Version {
            key: key("new"),
            version: 0,
        });
    db.write(absent_at_zero, Ack::Visible).unwrap();
    let both = Batch::new()
        .with(Op::set("x", "1"))
        .when(Precondition::Present(key("k")))
        .when(Precondition::Absent(key("k")));
    assert_eq!(
        db.write(both, Ack::Visible),
        Err(WriteError::PreconditionFailed { index: 1 })
    );
    assert!(!r.exists(b"x").unwrap());
}

#[test]
fn versions_are_lsns_and_grow() {
    let db = open();
    let r = db.reader();
    let first = db
        .write(Batch::of(Op::set("a", "1")), Ack::Visible)
        .unwrap()
        .commit()
        .unwrap();
    let second = db
        .write(
            Batch::new().with(Op::set("a", "2")).with(Op::set("b", "2")),
            Ack::Visible,
        )
        .unwrap()
        .commit()
        .unwrap();
    assert!(second.lsn > first.lsn);
    assert_eq!(r.version(b"a").unwrap(), second.lsn);
    assert_eq!(r.version(b"b").unwrap(), second.lsn);
    // A batch that changes nothing takes no LSN.
    let noop = db
        .write(Batch::of(Op::delete("missing")), Ack::Visible)
        .unwrap()
        .commit()
        .unwrap();
    assert_eq!(noop.lsn, second.lsn);
    assert_eq!(r.record(b"a").unwrap().unwrap().version(), second.lsn);
}

#[test]
fn eventual_writes_apply_in_queue_order() {
    let db = open();
    for i in 0..1000 {
        let receipt = db
            .write(
                Batch::of(Op::set("k", i.to_string().as_str())),
                Ack::Eventual,
            )
            .unwrap();
        assert_eq!(receipt, Receipt::Queued);
    }
    // A visible write after them sees them all applied.
    db.write(Batch::of(Op::incr_by("k", 1)), Ack::Visible)
        .unwrap();
    assert_eq!(db.reader().get(b"k").unwrap().unwrap(), b"1000");
}

#[test]
fn too_many_operations_are_refused_at_the_edge() {
    let options = Options {
        limits: chiral::Limits {
            max_batch_ops: 3,
            ..Default::default()
        },
        ..Default::default()
    };
    let db = Db::open_in_memory(options).unwrap();
    let batch = |n| (0..n).fold(Batch::new(), |b, i| b.with(Op::set(format!("k{i}"), "v")));
    db.write(batch(3), Ack::Visible).unwrap();
    assert_eq!(
        db.write(batch(4), Ack::Visible),
        Err(WriteError::TooManyOps { ops: 4, limit: 3 })
    );
    assert_eq!(db.reader().len(), 3);
}

#[test]
fn values_over_the_limit_are_refused_at_the_edge() {
    let options = Options {
        limits: chiral::Limits {
            max_value_bytes: 4,
            ..Default::default()
        },
        ..Default::default()
    };
    let db = Db::open_in_memory(options).unwrap();
    db.set(b"k", b"1234").unwrap();
    assert!(matches!(
        db.set(b"k", b"12345"),
        Err(WriteError::Op {
            error: OpError::ValueTooLarge {
                size_bytes: 5,
                limit_bytes: 4
            },
            ..
        })
    ));
    let push = Op::Push {
        key: key("l"),
        end: chiral::End::Back,
        values: vec!["ok".into(), "toolong".into()],
        only_if_exists: false,
    };
    assert!(matches!(
        db.apply(push),
        Err(WriteError::Op {
            error: OpError::ValueTooLarge { size_bytes: 7, .. },
            ..
        })
    ));
    assert_eq!(db.reader().get(b"k").unwrap().unwrap(), b"1234");
    assert!(!db.reader().exists(b"l").unwrap());
}

#[test]
fn a_closed_database_refuses_writes_and_keeps_reads() {
    let db = open();
    let reader = db.reader();
    db.set(b"k", b"v").unwrap();
    for i in 0..100 {
        db.write(Batch::of(Op::set(format!("q{i}"), "v")), Ack::Eventual)
            .unwrap();
    }
    db.close();
    assert_eq!(db.set(b"k", b"w"), Err(WriteError::Closed));
    assert_eq!(
        db.write(Batch::of(Op::set("k", "w")), Ack::Eventual),
        Err(WriteError::Closed)
    );
    assert_eq!(reader.get(b"k").unwrap().unwrap(), b"v");
    // What was queued before the close committed.
    assert_eq!(reader.len(), 101);
    assert_eq!(db.reader().get(b"q99").unwrap().unwrap(), b"v");
    db.close();
}

#[test]
fn readers_outlive_the_database_handle() {
    let db = open();
    db.set(b"k", b"v").unwrap();
    let reader = db.reader();
    drop(db);
    assert_eq!(reader.get(b"k").unwrap().unwrap(), b"v");
}

#[test]
fn a_full_queue_applies_backpressure_not_loss() {
    let options = Options {
        commit_queue_bytes: 1,
        ..Default::default()
    };
    let db = Db::open_in_memory(options).unwrap();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..500 {
                    db.write(Batch::of(Op::incr_by(format!("w{w}"), 1)), Ack::Eventual)
                        .unwrap();
                    if i % 100 == 0 {
                        db.write(Batch::of(Op::incr_by("visible", 1)), Ack::Visible)
                            .unwrap();
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    db.close();
    let r = db.reader();
    for w in 0..4 {
        assert_eq!(r.get(format!("w{w}").as_bytes()).unwrap().unwrap(), b"500");
    }
    assert_eq!(r.get(b"visible").unwrap().unwrap(), b"20");
}

/// `try_submit` never waits: with the commit thread held up (a pinned view stops
/// publishing) the queue fills and the batch comes back whole; once the view closes
/// it commits like any other.
#[test]
fn try_submit_gives_the_batch_back_when_the_queue_is_full() {
    let options = Options {
        commit_queue_bytes: 4096,
        ..Default::default()
    };
    let db = Db::open_in_memory(options).unwrap();
    let reader = db.reader();
    let view = reader.pin();
    let mut returned = None;
    for i in 0..100_000 {
        let batch = Batch::of(Op::set(format!("k{i}"), "v"));
        match db.try_submit(batch.clone(), Ack::Eventual) {
            Ok(_) => {}
            Err(back) => {
                assert_eq!(back, batch, "the batch comes back unchanged");
                returned = Some(back);
                break;
            }
        }
    }
    let returned = returned.expect("the queue filled");
    drop(view);
    let receipt = db.write(returned, Ack::Visible).unwrap();
    assert!(receipt.commit().is_some());
    assert_eq!(reader.get(b"k0").unwrap().unwrap(), b"v");
}

#[test]
fn whole_collections_set_directly_obey_the_value_limit() {
    let options = Options {
        limits: chiral::Limits {
            max_value_bytes: 4,
            ..Default::default()
        },
        ..Default::default()
    };
    let db = Db::open_in_memory(options).unwrap();
    let list = |item: &str| {
        chiral::Value::List(Box::new(
            std::iter::once(bytes::Bytes::copy_from_slice(item.as_bytes())).collect(),
        ))
    };
    db.apply(Op::set("ok", list("1234"))).unwrap();
    assert!(matches!(
        db.apply(Op::set("big", list("12345"))),
        Err(WriteError::Op {
            error: OpError::ValueTooLarge { size_bytes: 5, .. },
            ..
        })
    ));
}

#[test]
fn submitted_writes_answer_through_their_future() {
    let db = open();
    let r = db.reader();
    // Several writes in flight at once, answered in queue order with their replies.
    let pending: Vec<_> = (0..10)
        .map(|_| db.submit(Batch::of(Op::incr_by("n", 1)), Ack::Visible))
        .collect();
    let replies: Vec<Reply> = pending
        .into_iter()
        .map(|p| {
            block_on(p).unwrap().commit().unwrap().replies[0]
                .clone()
                .unwrap()
        })
        .collect();
    assert_eq!(replies, (1..=10).map(Reply::Int).collect::<Vec<_>>());
    assert_eq!(
        r.get(b"n").unwrap().unwrap(),
        b"10",
        "visible once answered"
    );
    // Refusals come through the future too, and change nothing.
    db.set(b"word", b"abc").unwrap();
    assert_eq!(
        block_on(db.submit(Batch::of(Op::incr_by("word", 1)), Ack::Durable)),
        Err(WriteError::Op {
            index: 0,
            error: OpError::NotInteger
        })
    );
    assert_eq!(
        block_on(db.submit(Batch::of(Op::set("e", "1")), Ack::Eventual)),
        Ok(Receipt::Queued)
    );
    db.close();
    assert_eq!(
        block_on(db.submit(Batch::of(Op::set("late", "1")), Ack::Visible)),
        Err(WriteError::Closed)
    );
    assert_eq!(
        r.get(b"e").unwrap().unwrap(),
        b"1",
        "the eventual write landed"
    );
}

#[test]
fn captures_see_the_batch_at_their_place() {
    let db = open();
    let r = db.reader();
    db.set(b"k", b"before").unwrap();
    let mut batch = Batch::new();
    batch.capture(vec![key("k")]);
    batch.push(Op::set("k", "1"));
    batch.capture(vec![key("k"), key("missing")]);
    batch.push(Op::set("k", "2"));
    batch.push(Op::delete("k"));
    batch.capture(vec![key("k")]);
    let commit = db.write(batch, Ack::Visible).unwrap().commit().unwrap();
    let values: Vec<Vec<Vec<u8>>> = commit
        .captures
        .into_iter()
        .map(|capture| {
            let records = capture.unwrap();
            // A reader of the records alone answers as the batch stood there.
            let view = r.of_records(records.clone());
            assert_eq!(view.get(b"missing").unwrap(), None);
            assert_eq!(
                view.get(b"k").unwrap(),
                records
                    .first()
                    .map(|record| record.value().to_str_bytes().unwrap())
            );
            records
                .iter()
                .map(|record| record.value().to_str_bytes().unwrap().to_vec())
                .collect()
        })
        .collect();
    assert_eq!(
        values,
        vec![vec![b"before".to_vec()], vec![b"1".to_vec()], vec![]]
    );
    assert_eq!(r.get(b"k").unwrap(), None);
    // Captured keys count against the operation limit.
    let db = Db::open_in_memory(Options {
        limits: chiral::Limits {
            max_batch_ops: 2,
            ..chiral::Limits::default()
        },
        ..Options::default()
    })
    .unwrap();
    let mut batch = Batch::of(Op::set("a", "1"));
    batch.capture(vec![key("a"), key("b")]);
    assert_eq!(
        db.write(batch, Ack::Visible),
        Err(WriteError::TooManyOps { ops: 3, limit: 2 })
    );
}
