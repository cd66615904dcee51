//! Faults inside the commit thread: the database stops taking writes, says so, and
//! keeps serving reads; no writer waits forever.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chiral::{Ack, Batch, Clock, Db, FeedError, Op, Options, WriteError};

/// A clock that panics once armed: user code the commit thread calls every group.
#[derive(Default)]
struct FaultyClock {
    armed: AtomicBool,
}

impl Clock for FaultyClock {
    fn now_ms(&self) -> u64 {
        assert!(!self.armed.load(Ordering::SeqCst), "injected clock fault");
        1_000
    }
}

#[test]
fn a_panicking_commit_thread_refuses_writes_and_keeps_reads() {
    // The fault meets the commit thread, or the writer committing its own write.
    for combine_writes in [false, true] {
        let clock = Arc::new(FaultyClock::default());
        let db = Db::open_in_memory(Options {
            clock: clock.clone(),
            combine_writes,
            ..Options::default()
        })
        .unwrap();
        let reader = db.reader();
        let feed = db.subscribe();
        db.set(b"k", b"before").unwrap();
        clock.armed.store(true, Ordering::SeqCst);
        // The write that meets the fault is answered, not left waiting.
        assert_eq!(db.set(b"k", b"during"), Err(WriteError::Closed));
        // Later writes, of either ack mode, are refused at once.
        assert_eq!(db.set(b"k", b"after"), Err(WriteError::Closed));
        assert_eq!(
            db.write(Batch::of(Op::set("k", "after")), Ack::Eventual),
            Err(WriteError::Closed)
        );
        // Reads go on, on the last published state.
        assert_eq!(reader.get(b"k").unwrap().unwrap(), b"before");
        assert_eq!(db.reader().get(b"k").unwrap().unwrap(), b"before");
        // The feed delivers what committed, then ends.
        assert_eq!(feed.recv().unwrap().changes.len(), 1);
        assert_eq!(feed.recv().unwrap_err(), FeedError::Closed);
        db.close();
    }
}

#[test]
fn many_writers_blocked_on_a_full_queue_all_wake_when_the_commit_thread_dies() {
    let clock = Arc::new(FaultyClock::default());
    let options = Options {
        clock: clock.clone(),
        commit_queue_bytes: 1,
        ..Options::default()
    };
    let db = Db::open_in_memory(options).unwrap();
    clock.armed.store(true, Ordering::SeqCst);
    let writers: Vec<_> = (0..8)
        .map(|i| {
            let db = db.clone();
            std::thread::spawn(move || db.set(format!("k{i}").as_bytes(), b"v"))
        })
        .collect();
    for writer in writers {
        assert_eq!(writer.join().unwrap(), Err(WriteError::Closed));
    }
}
