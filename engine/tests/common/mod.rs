//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use chiral::{Db, ManualClock, Op, Options, Reply, WriteError};

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

pub fn key(text: &str) -> Box<[u8]> {
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
        let page = reader.scan(cursor, 1000, chiral::ScanFilter::default());
        for key in page.keys {
            if let Some(record) = reader.record(&key) {
                all.insert(
                    key.to_vec(),
                    (
                        record.value().clone(),
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
