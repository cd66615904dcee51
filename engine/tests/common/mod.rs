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
