//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chiral::{
    Ack, Batch, ByteString, Clock, Db, End, ExpireCondition, Expiry, ManualClock, OnError, Op,
    Options, Precondition, Reply, SetCondition, Value, WriteError,
};

/// A fresh in-memory database on the system clock.
pub fn open() -> Db {
    Db::open_in_memory(Options::default()).expect("open")
}

/// A fresh in-memory database on a manual clock starting at `now_ms`.
pub fn open_with_clock(now_ms: u64) -> (Db, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(now_ms));
    let options = Options {
        clock: clock.clone(),
        ..Options::default()
    };
    (Db::open_in_memory(options).expect("open"), clock)
}

/// Applies one op, panicking on refusal.
pub fn ok(db: &Db, op: Op) -> Reply {
    db.apply(op).expect("operation refused")
}

/// Applies one op that must be refused; returns the operation error.
pub fn refused(db: &Db, op: Op) -> chiral::OpError {
    match db.apply(op) {
        Err(WriteError::Op { error, .. }) => error,
        other => panic!("expected a refused operation, got {other:?}"),
    }
}

pub fn bytes(text: &str) -> Reply {
    Reply::Bytes(text.as_bytes().to_vec().into())
}

pub fn key(text: &str) -> ByteString {
    text.as_bytes().into()
}

/// Everything a database holds, key by key: value, version and expiry time.
pub type Dump = std::collections::BTreeMap<Vec<u8>, (chiral::Value, u64, Option<u64>)>;

/// Reads every live key of `db` with a full scan.
pub fn dump(db: &Db) -> Dump {
    let reader = db.reader();
    let mut all = Dump::new();
    let mut cursor = 0;
    loop {
        let page = reader
            .scan(cursor, 1000, chiral::ScanFilter::default())
            .unwrap();
        for key in page.keys {
            if let Some(record) = reader.record(&key).unwrap() {
                all.insert(
                    key.to_vec(),
                    (
                        record.value().into_owned(),
                        record.version(),
                        record.expires_at_ms(),
                    ),
                );
            }
        }
        cursor = page.cursor;
        if cursor == 0 {
            return all;
        }
    }
}

/// A small deterministic random number generator (xorshift), so a failing workload
/// can be replayed from its seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A random operation over a few keys of every type, with some that will be refused.
pub fn random_op(rng: &mut Rng, now_ms: u64) -> Op {
    let k = |rng: &mut Rng| key(&format!("k{}", rng.below(12)));
    let b = |rng: &mut Rng| Bytes::from(format!("v{}", rng.below(5)));
    match rng.below(23) {
        0 | 1 => Op::Set {
            key: k(rng),
            value: Value::Bytes(key(&format!("s{}", rng.below(100)))),
            condition: [
                SetCondition::Always,
                SetCondition::IfAbsent,
                SetCondition::IfPresent,
            ][rng.below(3) as usize],
            expiry: if rng.below(4) == 0 {
                Expiry::AtMs(now_ms + 1 + rng.below(5_000))
            } else {
                Expiry::Never
            },
            get_old: rng.below(2) == 0,
        },
        2 => Op::incr_by(k(rng), rng.below(10) as i64 - 5),
        3 => Op::IncrByFloat {
            key: k(rng),
            delta: 0.5,
        },
        4 => Op::Append {
            key: k(rng),
            value: Box::from(b"+".as_slice()),
        },
        5 => Op::delete(k(rng)),
        6 => Op::Expire {
            key: k(rng),
            at_ms: Some(now_ms + rng.below(5_000)),
            condition: ExpireCondition::Always,
        },
        7 => Op::Rename {
            from: k(rng),
            to: k(rng),
            only_if_absent: rng.below(2) == 0,
        },
        8 | 9 => Op::Push {
            key: k(rng),
            end: if rng.below(2) == 0 {
                End::Front
            } else {
                End::Back
            },
            values: vec![b(rng), b(rng)],
            only_if_exists: false,
        },
        10 => Op::Pop {
            key: k(rng),
            end: End::Back,
            count: Some(1),
        },
        11 => Op::ListTrim {
            key: k(rng),
            start: 0,
            stop: 2,
        },
        12 | 13 => Op::SetAdd {
            key: k(rng),
            members: vec![b(rng)],
        },
        14 => Op::SetRemove {
            key: k(rng),
            members: vec![b(rng)],
        },
        15 | 16 => Op::HashSet {
            key: k(rng),
            pairs: vec![(b(rng), b(rng))],
            only_if_absent: false,
        },
        17 => Op::HashIncrBy {
            key: k(rng),
            field: b(rng),
            delta: 1,
        },
        18 => Op::SetRange {
            key: k(rng),
            offset: rng.below(8) as usize,
            value: Box::from(b"xy".as_slice()),
        },
        20 => Op::doc_set(
            "docs",
            format!("d{}", rng.below(6)),
            [
                ("n", rng.below(1000).to_string()),
                // Sometimes not a number: refused, changing nothing.
                (
                    ["x", "s", "n"][rng.below(3) as usize],
                    format!("{}.5", rng.below(9)),
                ),
            ],
        ),
        21 => Op::doc_delete("docs", format!("d{}", rng.below(6))),
        19 => Op::SetAllIfAbsent {
            pairs: vec![
                (Bytes::from(k(rng).into_vec()), b(rng)),
                (Bytes::from(k(rng).into_vec()), b(rng)),
            ],
        },
        _ => {
            if rng.below(10) == 0 {
                Op::Flush
            } else {
                Op::GetDelete { key: k(rng) }
            }
        }
    }
}

/// The schema and collection of the documents random workloads write (`docs:d0`..).
pub fn create_doc_collection(db: &Db) {
    let schema = chiral::Schema::new(
        "doc",
        vec![
            chiral::FieldDef::new("id", chiral::FieldType::String { max_bytes: 8 }),
            chiral::FieldDef::new("n", chiral::FieldType::Uint64),
            chiral::FieldDef::new("x", chiral::FieldType::Float64),
            chiral::FieldDef::new("s", chiral::FieldType::String { max_bytes: 3 }),
        ],
    );
    // A database reopened for more work has them already.
    let _ = db.apply(Op::create_schema(schema));
    let _ = db.apply(Op::create_collection("docs", "doc", "id"));
}

/// Runs a random workload of batches (some guarded, some refusing operations) over
/// keys of every type and documents.
pub fn random_workload(db: &Db, rng: &mut Rng, clock: &ManualClock, batches: usize) {
    create_doc_collection(db);
    let reader = db.reader();
    for _ in 0..batches {
        clock.advance_ms(rng.below(50));
        let mut batch = Batch::new();
        for _ in 0..1 + rng.below(4) {
            batch.push(random_op(rng, clock.now_ms()));
        }
        if rng.below(5) == 0 {
            let guarded = key(&format!("k{}", rng.below(12)));
            let version = reader.version(&guarded).unwrap();
            batch = batch.when(Precondition::Version {
                key: guarded,
                version: if rng.below(2) == 0 {
                    version
                } else {
                    version + 1
                },
            });
        }
        if rng.below(2) == 0 {
            batch = batch.on_error(OnError::Continue);
        }
        let ack = [Ack::Eventual, Ack::Visible, Ack::Durable][rng.below(3) as usize];
        let _ = db.write(batch, ack);
    }
}

/// Runs `future` to completion on this thread, parking between polls.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}

/// Polls `done` for up to 30 s (the commit thread acts within milliseconds; the
/// bound only keeps a broken build from hanging).
pub fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}
