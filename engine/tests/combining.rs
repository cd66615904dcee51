//! Writers that commit their own groups (flat combining, `Options::combine_writes`):
//! a `Visible` writer commits on its own thread when the commit thread is idle, and
//! everything it leaves to the commit thread still happens: `Durable` fsyncs,
//! segment rotation, snapshots and interval syncs.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use chiral::{Ack, Batch, Clock, Db, Faults, FsyncPolicy, IoBackend, Op, Options, WriteError};

/// A clock that notes whether the thread under test calls it (every commit turn
/// reads the clock once, on the thread that runs it).
struct WatchingClock {
    watched: Mutex<Option<ThreadId>>,
    calls_on_watched: Mutex<u64>,
}

impl WatchingClock {
    fn new() -> Arc<Self> {
        Arc::new(WatchingClock {
            watched: Mutex::new(None),
            calls_on_watched: Mutex::new(0),
        })
    }

    /// From now on, counts the calls made on the calling thread.
    fn watch_this_thread(&self) {
        *self.watched.lock().unwrap() = Some(std::thread::current().id());
    }

    fn calls_on_watched(&self) -> u64 {
        *self.calls_on_watched.lock().unwrap()
    }
}

impl Clock for WatchingClock {
    fn now_ms(&self) -> u64 {
        if *self.watched.lock().unwrap() == Some(std::thread::current().id()) {
            *self.calls_on_watched.lock().unwrap() += 1;
        }
        1_000
    }
}

/// Commit turns that ran on the writer's thread during 200 writes of `ack`.
fn turns_on_the_writers_thread(db: &Db, clock: &WatchingClock, ack: Ack) -> u64 {
    clock.watch_this_thread();
    for i in 0..200 {
        let key = format!("k{i}");
        db.write(Batch::of(Op::set(key.as_str(), "v")), ack)
            .unwrap();
    }
    clock.calls_on_watched()
}

#[test]
fn visible_writes_commit_on_the_writers_thread_unless_turned_off() {
    for combine_writes in [true, false] {
        let clock = WatchingClock::new();
        let db = Db::open_in_memory(Options {
            clock: clock.clone(),
            combine_writes,
            ..Options::default()
        })
        .unwrap();
        let turns = turns_on_the_writers_thread(&db, &clock, Ack::Visible);
        if combine_writes {
            // (The commit thread may take some, when it happens to be awake.)
            assert!(turns > 0, "no write was committed by its writer");
        } else {
            assert_eq!(turns, 0, "combining is off, yet a writer committed");
        }
        for i in 0..200 {
            assert_eq!(
                db.reader()
                    .get(format!("k{i}").as_bytes())
                    .unwrap()
                    .unwrap(),
                b"v"
            );
        }
    }
}

/// Commit turns on the writer's thread during 200 writes of each of `acks`, to a
/// database on disk whose log syncs as `fsync` says.
fn turns_on_disk(fsync: FsyncPolicy, acks: &[Ack]) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let clock = WatchingClock::new();
    let options = Options {
        clock: clock.clone(),
        io_backend: IoBackend::Std,
        fsync,
        ..Options::default()
    };
    let db = Db::open(dir.path(), options).unwrap();
    acks.iter()
        .map(|ack| turns_on_the_writers_thread(&db, &clock, *ack))
        .sum()
}

#[test]
fn durable_and_eventual_writes_are_committed_by_the_commit_thread() {
    let interval = FsyncPolicy::Interval { ms: 1_000 };
    assert_eq!(turns_on_disk(interval, &[Ack::Durable, Ack::Eventual]), 0);
    // (The control: on the same log, `Visible` writes are combined.)
    assert!(turns_on_disk(interval, &[Ack::Visible]) > 0);
}

#[test]
fn a_log_that_syncs_every_group_is_never_written_by_a_writer() {
    assert_eq!(turns_on_disk(FsyncPolicy::Always, &[Ack::Visible]), 0);
}

fn sizes_of(dir: &Path, extension: &str) -> Vec<u64> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == extension))
        // (A snapshot deletes the segments it covers meanwhile.)
        .filter_map(|path| std::fs::metadata(path).ok())
        .map(|metadata| metadata.len())
        .collect()
}

#[test]
fn combined_writes_rotate_segments() {
    const SEGMENT_BYTES: u64 = 4096;
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        io_backend: IoBackend::Std,
        log_segment_bytes: SEGMENT_BYTES,
        ..Options::default()
    };
    let db = Db::open(dir.path(), options.clone()).unwrap();
    for i in 0..2_000 {
        db.set(format!("key{i:05}").as_bytes(), b"value").unwrap();
        // A writer's turn may run a segment past its size by one group (here, one
        // write), never further: until the commit thread rotates it, writers leave
        // their writes to it.
        let largest = sizes_of(dir.path(), "log").into_iter().max().unwrap_or(0);
        assert!(
            largest < 2 * SEGMENT_BYTES,
            "a segment of {largest} bytes was never rotated"
        );
    }
    assert!(sizes_of(dir.path(), "log").len() > 10);
    drop(db);
    let db = Db::open(dir.path(), options).unwrap();
    let reader = db.reader();
    for i in 0..2_000 {
        assert_eq!(
            reader
                .get(format!("key{i:05}").as_bytes())
                .unwrap()
                .unwrap(),
            b"value"
        );
    }
}

#[test]
fn combined_writes_trigger_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    // With `Never`, nothing but a writer's nudge wakes an idle commit thread.
    let db = Db::open(
        dir.path(),
        Options {
            io_backend: IoBackend::Std,
            fsync: FsyncPolicy::Never,
            snapshot_after_changes: 500,
            ..Options::default()
        },
    )
    .unwrap();
    for i in 0..1_000 {
        db.set(format!("key{i:05}").as_bytes(), b"value").unwrap();
    }
    common::eventually("a snapshot after 500 changes", || {
        !sizes_of(dir.path(), "chiral").is_empty()
    });
}

#[test]
fn combined_writes_are_synced_on_the_interval() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults::new();
    let db = Db::open(
        dir.path(),
        Options {
            io_backend: IoBackend::Std,
            fsync: FsyncPolicy::Interval { ms: 20 },
            faults: Some(faults.clone()),
            ..Options::default()
        },
    )
    .unwrap();
    // A first write, synced on the interval; then the commit thread sleeps with
    // nothing to do, for as long as nobody wakes it.
    db.set(b"k", b"v").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // Only the interval sync can meet this fault: the writes themselves succeed,
    // committed by this thread, which must wake the commit thread for the sync.
    faults.fail_syncs(true);
    db.set(b"k", b"v").unwrap();
    common::eventually("the interval sync fails the log", || {
        matches!(db.set(b"k", b"again"), Err(WriteError::LogFailed(_)))
    });
    // Reads go on.
    assert!(db.reader().get(b"k").unwrap().is_some());
}

/// Batches queued with `try_submit_deferred` wait for the first of their futures to
/// be polled, which commits them all in one turn on the polling thread; with
/// `try_submit`, each is committed on its own turn as it is queued.
#[test]
fn deferred_writes_are_committed_together_when_first_polled() {
    let clock = WatchingClock::new();
    let db = Db::open_in_memory(Options {
        clock: clock.clone(),
        ..Options::default()
    })
    .unwrap();
    db.set(b"warm", b"up").unwrap();
    // Past the settle after the last publish, the idle commit thread sleeps.
    std::thread::sleep(Duration::from_millis(300));
    let reader = db.reader();
    clock.watch_this_thread();
    let deferred: Vec<_> = (0..5)
        .map(|i| {
            let batch = Batch::of(Op::set(format!("d{i}").as_str(), "v"));
            db.try_submit_deferred(batch, Ack::Visible).unwrap()
        })
        .collect();
    assert_eq!(
        clock.calls_on_watched(),
        0,
        "nothing is committed before a poll"
    );
    for pending in deferred {
        assert!(common::block_on(pending).unwrap().commit().is_some());
    }
    // One turn here (none if the commit thread took them first), not five.
    assert!(
        clock.calls_on_watched() <= 1,
        "{} turns",
        clock.calls_on_watched()
    );
    for i in 0..5 {
        assert!(reader.get(format!("d{i}").as_bytes()).unwrap().is_some());
    }

    let before = clock.calls_on_watched();
    for i in 0..20 {
        let batch = Batch::of(Op::set(format!("i{i}").as_str(), "v"));
        let pending = db.try_submit(batch, Ack::Visible).unwrap();
        assert!(common::block_on(pending).unwrap().commit().is_some());
    }
    // (The commit thread may take a few, when it happens to be awake.)
    assert!(clock.calls_on_watched() - before >= 10);
}

/// A deferred write whose future is dropped unpolled is committed all the same.
#[test]
fn a_deferred_write_dropped_unpolled_is_committed() {
    let db = Db::open_in_memory(Options::default()).unwrap();
    db.set(b"warm", b"up").unwrap();
    // Past the settle after the last publish, the idle commit thread sleeps: nothing
    // but the dropped future would commit the write.
    std::thread::sleep(Duration::from_millis(300));
    let reader = db.reader();
    drop(
        db.try_submit_deferred(Batch::of(Op::set("dropped", "v")), Ack::Visible)
            .unwrap(),
    );
    common::eventually("the dropped write is visible", || {
        reader.get(b"dropped").unwrap().is_some()
    });
}
