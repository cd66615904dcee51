//! Snapshots: the base under the overlay. Taking one changes nothing a reader sees;
//! reopening from one (plus the log after it) restores everything; the files it makes
//! redundant go away; a damaged one is refused with a clear error.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chiral::{
    Ack, Batch, CompactionError, Db, Expiry, IoBackend, ManualClock, Op, OpError, OpenError,
    Options, ScanFilter, SetCondition, SnapshotError, WriteError,
};
use common::{Rng, dump, key, random_workload};

fn files(dir: &Path, extension: &str) -> Vec<std::path::PathBuf> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == extension))
        .collect();
    paths.sort();
    paths
}

fn options(clock: &Arc<ManualClock>) -> Options {
    Options {
        clock: clock.clone(),
        io_backend: IoBackend::Std,
        ..Options::default()
    }
}

#[test]
fn snapshots_change_nothing_readers_see_and_reopen_restores_everything() {
    let dir = tempfile::tempdir().unwrap();
    for seed in [11, 12] {
        let path = dir.path().join(seed.to_string());
        let clock = Arc::new(ManualClock::new(1_000_000));
        let mut rng = Rng(seed);
        let db = Db::open(&path, options(&clock)).unwrap();
        for round in 0..4 {
            random_workload(&db, &mut rng, &clock, 500);
            db.write(Batch::of(Op::set("sync", "point")), Ack::Visible)
                .unwrap();
            let before = dump(&db);
            let info = db.snapshot().unwrap();
            assert_eq!(
                dump(&db),
                before,
                "seed {seed} round {round}: a snapshot changes no read"
            );
            assert!(info.lsn > 0 && info.path.exists());
            // Only the newest snapshot stays, and no segment it covers (deleted by
            // the log's background thread, soon after).
            let first_lsn = |segment: &Path| -> u64 {
                segment.file_stem().unwrap().to_str().unwrap()[4..]
                    .parse()
                    .unwrap()
            };
            common::eventually("the files the snapshot covers are deleted", || {
                files(&path, "chiral") == vec![info.path.clone()]
                    && files(&path, "log")
                        .iter()
                        .all(|segment| first_lsn(segment) > info.lsn)
            });
        }
        // Changes after the last snapshot live in the log only.
        random_workload(&db, &mut rng, &clock, 300);
        db.write(Batch::of(Op::set("sync", "end")), Ack::Visible)
            .unwrap();
        let before = dump(&db);
        drop(db);
        let reopened = Db::open(
            &path,
            Options {
                snapshot_on_close: false,
                ..options(&clock)
            },
        )
        .unwrap();
        assert_eq!(dump(&reopened), before, "seed {seed}: base + log replay");
        drop(reopened);
        // And with a snapshot at close, from the snapshot alone.
        let reopened = Db::open(&path, options(&clock)).unwrap();
        assert_eq!(
            dump(&reopened),
            before,
            "seed {seed}: after the close snapshot"
        );
        drop(reopened);
        assert_eq!(
            files(&path, "log").len(),
            1,
            "the close snapshot covers the log"
        );
        let reopened = Db::open(&path, options(&clock)).unwrap();
        assert_eq!(
            dump(&reopened),
            before,
            "seed {seed}: from the close snapshot"
        );
    }
}

#[test]
fn deletes_flushes_and_counts_hold_across_the_base() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000));
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    for i in 0..100 {
        db.set(format!("k{i}").as_bytes(), b"base").unwrap();
    }
    db.snapshot().unwrap();
    let reader = db.reader();
    assert_eq!(reader.len(), 100);
    // Deleting a key the base holds leaves a tombstone; overwriting one does not
    // count it twice; a new key counts once.
    assert!(db.delete(b"k0").unwrap());
    assert!(!db.delete(b"k0").unwrap());
    db.set(b"k1", b"overlay").unwrap();
    db.set(b"new", b"overlay").unwrap();
    assert_eq!(reader.len(), 100);
    assert_eq!(reader.get(b"k0").unwrap(), None);
    assert_eq!(reader.get(b"k1").unwrap().as_deref(), Some(&b"overlay"[..]));
    assert_eq!(reader.get(b"k2").unwrap().as_deref(), Some(&b"base"[..]));
    db.apply(Op::incr_by("k3", 1)).unwrap_err();
    db.apply(Op::Append {
        key: key("k3"),
        value: Box::from(b"+".as_slice()),
    })
    .unwrap();
    assert_eq!(reader.get(b"k3").unwrap().as_deref(), Some(&b"base+"[..]));
    // A scan walks base and overlay together, each live key once.
    let mut cursor = 0;
    let mut scanned = Vec::new();
    loop {
        let page = reader.scan(cursor, 7, ScanFilter::default()).unwrap();
        scanned.extend(page.keys);
        cursor = page.cursor;
        if cursor == 0 {
            break;
        }
    }
    scanned.sort();
    assert_eq!(scanned.len(), 100);
    assert!(scanned.windows(2).all(|pair| pair[0] != pair[1]));
    assert!(!scanned.iter().any(|k| &**k == b"k0"));
    // The next snapshot folds all of it in.
    db.snapshot().unwrap();
    assert_eq!(reader.len(), 100);
    assert_eq!(reader.get(b"k0").unwrap(), None);
    // A flush hides the base at once, and the next snapshot is empty but for what
    // came after the flush.
    db.apply(Op::Flush).unwrap();
    db.set(b"after", b"flush").unwrap();
    assert_eq!(reader.len(), 1);
    assert_eq!(reader.get(b"k2").unwrap(), None);
    drop(reader);
    drop(db);
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    assert_eq!(dump(&db).keys().collect::<Vec<_>>(), vec![b"after"]);
    assert_eq!(db.reader().len(), 1);
}

/// A batch of several writes reaches the map as one group, which each left-right
/// copy applies in turn, counting the keys it makes live or deletes (asking the base
/// about keys the overlay lacks). Each publish shows the other copy, so the count
/// read after each batch checks both, while groups overwrite and delete keys that
/// only the base holds, add new ones and delete absent ones.
#[test]
fn counts_hold_on_both_copies_when_groups_write_around_the_base() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000));
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    for i in 0..100 {
        db.set(format!("k{i}").as_bytes(), b"base").unwrap();
    }
    drop(db);
    // Reopened, every key is in the base and none in the overlay.
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    let reader = db.reader();
    let mut expected = 100;
    for round in 0..8 {
        let first = round * 10;
        let mut batch = Batch::new();
        for i in first..first + 4 {
            batch.push(Op::set(format!("k{i}"), "overwritten"));
        }
        for i in first + 4..first + 7 {
            batch.push(Op::delete(format!("k{i}")));
        }
        for i in 0..5 {
            batch.push(Op::set(format!("new{round}-{i}"), "added"));
            batch.push(Op::delete(format!("absent{round}-{i}")));
        }
        db.write(batch, Ack::Visible).unwrap();
        expected += 5 - 3;
        assert_eq!(reader.len(), expected, "after round {round}");
    }
    // One more write, alone, brings the other copy up to date with the last group.
    db.set(b"k99", b"overwritten").unwrap();
    assert_eq!(reader.len(), expected);
    db.set(b"k98", b"overwritten").unwrap();
    assert_eq!(reader.len(), expected);
    drop(reader);
    drop(db);
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    assert_eq!(db.reader().len(), expected);
    assert_eq!(dump(&db).len(), expected);
}

#[test]
fn keys_in_the_base_expire_and_are_swept() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000));
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    db.apply(Op::Set {
        key: key("short"),
        value: "v".into(),
        condition: SetCondition::Always,
        expiry: Expiry::AtMs(5_000),
        get_old: false,
    })
    .unwrap();
    db.set(b"long", b"v").unwrap();
    db.snapshot().unwrap();
    drop(db);
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    let reader = db.reader();
    assert!(reader.exists(b"short").unwrap());
    clock.advance_ms(10_000);
    assert!(
        !reader.exists(b"short").unwrap(),
        "expired keys in the base are invisible at once"
    );
    // The commit thread learned the base's expiries at open and sweeps the key.
    let deadline = Instant::now() + Duration::from_secs(10);
    while reader.len() != 1 {
        assert!(
            Instant::now() < deadline,
            "the sweep removes the expired base key"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_key_deleted_while_a_snapshot_runs_stays_deleted() {
    // The snapshot holds the state at its LSN; a delete committed after that must
    // survive the new base, in the live database and after reopening.
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000));
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    for i in 0..20_000 {
        db.write(Batch::of(Op::set(format!("bulk{i}"), "x")), Ack::Eventual)
            .unwrap();
    }
    for round in 0..20 {
        let name = format!("doomed{round}");
        db.set(name.as_bytes(), b"v").unwrap();
        let snapshot = {
            let db = db.clone();
            std::thread::spawn(move || db.snapshot())
        };
        // Delete while the snapshot is (probably) being built.
        std::thread::sleep(Duration::from_micros(100 * round));
        db.delete(name.as_bytes()).unwrap();
        snapshot.join().unwrap().unwrap();
        assert!(
            !db.reader().exists(name.as_bytes()).unwrap(),
            "round {round}"
        );
    }
    drop(db);
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    for round in 0..20 {
        assert!(
            !db.reader()
                .exists(format!("doomed{round}").as_bytes())
                .unwrap()
        );
    }
    assert_eq!(db.reader().len(), 20_000);
}

#[test]
fn writes_go_on_while_a_snapshot_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000));
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    let keys = 200_000;
    for chunk in 0..keys / 1000 {
        let mut batch = Batch::new();
        for i in 0..1000 {
            batch.push(Op::set(
                format!("key{:08}", chunk * 1000 + i),
                "value-of-32-bytes-xxxxxxxxxxxxxx",
            ));
        }
        db.write(batch, Ack::Eventual).unwrap();
    }
    db.set(b"loaded", b"yes").unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let during = Arc::new(AtomicU64::new(0));
    let writer = {
        let (db, done, during) = (db.clone(), done.clone(), during.clone());
        std::thread::spawn(move || {
            let mut worst = Duration::ZERO;
            let mut n = 0u64;
            while !done.load(Ordering::SeqCst) {
                let started = Instant::now();
                db.set(format!("during{n}").as_bytes(), b"v").unwrap();
                worst = worst.max(started.elapsed());
                n += 1;
                during.store(n, Ordering::SeqCst);
            }
            worst
        })
    };
    let info = db.snapshot().unwrap();
    let completed_during = during.load(Ordering::SeqCst);
    done.store(true, Ordering::SeqCst);
    let worst = writer.join().unwrap();
    eprintln!(
        "snapshot of {} keys ({} bytes): {completed_during} writes completed meanwhile, worst write latency {worst:?}",
        info.keys, info.size_bytes
    );
    assert!(info.keys > keys as usize);
    assert!(
        completed_during > 0,
        "writes completed while the snapshot was written"
    );
}

#[test]
fn damaged_snapshots_are_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000));
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    for i in 0..100 {
        db.set(format!("k{i}").as_bytes(), b"v").unwrap();
    }
    let info = db.snapshot().unwrap();
    drop(db);
    let mut bytes = std::fs::read(&info.path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(&info.path, &bytes).unwrap();
    for validate in [false, true] {
        match Db::open(
            dir.path(),
            Options {
                validate_snapshots: validate,
                ..options(&clock)
            },
        ) {
            Err(OpenError::Snapshot(SnapshotError::Invalid { path, reason })) => {
                assert_eq!(path, info.path);
                assert!(reason.contains("checksum"), "{reason}");
            }
            other => panic!("expected an invalid snapshot, got {:?}", other.map(|_| ())),
        }
    }
    // A snapshot cut short by a crash before its rename is a temporary file: ignored
    // and removed at open.
    bytes[middle] ^= 0x10;
    std::fs::write(&info.path, &bytes).unwrap();
    let unfinished = dir.path().join("snap-00000000000000999999.chiral.tmp");
    std::fs::write(&unfinished, b"half a snapshot").unwrap();
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    assert_eq!(db.reader().len(), 100);
    assert!(!unfinished.exists());
}

/// Open checks the header and the block table only; a damaged block of a large
/// snapshot is found by the first read that touches it. That read (and a scan, a
/// conditional write, or a snapshot that needs those bytes) gets an error naming
/// file and offset; keys elsewhere read fine; a blind write replaces the damaged key.
/// The validating open finds the damage at once.
#[test]
fn damage_in_a_large_snapshot_is_found_by_the_read_that_touches_it() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000));
    let keys = 20_000;
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    for chunk in 0..keys / 1000 {
        let batch = (0..1000).fold(Batch::new(), |batch, i| {
            batch.with(Op::set(format!("key{}", chunk * 1000 + i), "value"))
        });
        db.write(batch, Ack::Visible).unwrap();
    }
    let info = db.snapshot().unwrap();
    drop(db);
    let mut bytes = std::fs::read(&info.path).unwrap();
    assert!(
        bytes.len() > 200_000,
        "the snapshot spans many 16 KiB blocks"
    );
    let damaged_at = bytes.len() / 3;
    bytes[damaged_at] ^= 0x40;
    std::fs::write(&info.path, &bytes).unwrap();

    match Db::open(
        dir.path(),
        Options {
            validate_snapshots: true,
            ..options(&clock)
        },
    ) {
        Err(OpenError::Snapshot(SnapshotError::Invalid { path, reason })) => {
            assert_eq!(path, info.path);
            assert!(reason.contains("does not match its checksum"), "{reason}");
        }
        other => panic!(
            "the validating open must refuse it, got {:?}",
            other.map(|_| ())
        ),
    }

    let db = Db::open(dir.path(), options(&clock)).unwrap();
    let reader = db.reader();
    assert_eq!(reader.len(), keys);
    let block_start = (damaged_at - 64) / (16 * 1024) * (16 * 1024) + 64;
    let (mut damaged, mut readable) = (Vec::new(), 0);
    for i in 0..keys {
        let key = format!("key{i}");
        // A prefetch (as a pipeline's) reads the directory and runs it passes
        // through: over damage it fetches nothing and answers nothing.
        reader.prefetch([key.as_bytes()]);
        match reader.get(key.as_bytes()) {
            Ok(value) => {
                assert_eq!(value.as_deref(), Some(&b"value"[..]), "{key}");
                readable += 1;
            }
            Err(OpError::SnapshotDamaged {
                path,
                file_offset,
                reason,
            }) => {
                assert_eq!(path, info.path);
                assert_eq!(
                    file_offset, block_start as u64,
                    "the damaged block's offset"
                );
                assert!(reason.contains("checksum"), "{reason}");
                damaged.push(key);
            }
            Err(other) => panic!("unexpected error for {key}: {other}"),
        }
    }
    assert!(!damaged.is_empty(), "some key lives in the damaged block");
    assert!(
        readable > keys * 9 / 10,
        "keys elsewhere read fine ({readable})"
    );
    let victim = damaged[0].as_bytes();
    assert!(matches!(
        reader.exists(victim),
        Err(OpError::SnapshotDamaged { .. })
    ));
    let mut cursor = 0;
    let scan_error = loop {
        match reader.scan(cursor, 1000, ScanFilter::default()) {
            Ok(page) if page.cursor == 0 => break None,
            Ok(page) => cursor = page.cursor,
            Err(error) => break Some(error),
        }
    };
    assert!(matches!(scan_error, Some(OpError::SnapshotDamaged { .. })));
    // A write that reads the key is refused and changes nothing.
    match db.write(Batch::of(Op::incr_by(damaged[0].as_str(), 1)), Ack::Visible) {
        Err(WriteError::Op {
            index: 0,
            error: OpError::SnapshotDamaged { .. },
        }) => {}
        other => panic!("expected the damage, got {other:?}"),
    }
    // A blind write needs no old value: it replaces the damaged key.
    db.set(victim, b"rewritten").unwrap();
    // A snapshot must read every other key of the old one: it fails, and the data
    // stays where it was (the old snapshot and the log).
    let snapshot = db.snapshot();
    assert!(
        matches!(&snapshot, Err(CompactionError::Failed(reason)) if reason.contains("damaged")),
        "{snapshot:?}"
    );
    assert_eq!(
        reader.get(victim).unwrap().as_deref(),
        Some(&b"rewritten"[..])
    );
}

#[test]
fn in_memory_and_read_only_databases_take_no_snapshot() {
    let db = Db::open_in_memory(Options::default()).unwrap();
    assert_eq!(db.snapshot(), Err(CompactionError::InMemory));
    let dir = tempfile::tempdir().unwrap();
    drop(Db::open(dir.path(), Options::default()).unwrap());
    let read_only = Db::open(
        dir.path(),
        Options {
            read_only: true,
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(read_only.snapshot(), Err(CompactionError::ReadOnly));
}

#[test]
fn readers_never_see_a_value_go_back_while_bases_swap_and_trim() {
    // Writers bump counters; snapshots swap the base and trim the overlay under the
    // readers again and again. A reader that has seen version v of a key must never
    // see an older one: the new base and the trimmed overlay are published together.
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000));
    let db = Db::open(
        dir.path(),
        Options {
            snapshot_on_close: false,
            ..options(&clock)
        },
    )
    .unwrap();
    const KEYS: usize = 64;
    for i in 0..KEYS {
        db.set(format!("c{i}").as_bytes(), b"0").unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (reader, stop) = (db.reader(), stop.clone());
            std::thread::spawn(move || {
                let mut seen = vec![(0u64, 0i64); KEYS];
                let mut reads = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    for (i, last) in seen.iter_mut().enumerate() {
                        let record = reader
                            .record(format!("c{i}").as_bytes())
                            .unwrap()
                            .expect("never missing");
                        let value: i64 = record
                            .value()
                            .to_str_bytes()
                            .map(|text| String::from_utf8(text).unwrap().parse().unwrap())
                            .unwrap();
                        assert!(
                            (record.version(), value) >= *last,
                            "c{i} went back from {last:?} to {:?}",
                            (record.version(), value)
                        );
                        *last = (record.version(), value);
                        reads += 1;
                    }
                }
                reads
            })
        })
        .collect();
    let writer = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut rng = Rng(99);
            while !stop.load(Ordering::SeqCst) {
                db.apply(Op::incr_by(format!("c{}", rng.below(KEYS as u64)), 1))
                    .unwrap();
            }
        })
    };
    let mut snapshots = 0;
    for _ in 0..30 {
        db.snapshot().unwrap();
        snapshots += 1;
        std::thread::sleep(Duration::from_millis(2));
    }
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    let reads: u64 = readers
        .into_iter()
        .map(|reader| reader.join().unwrap())
        .sum();
    assert_eq!(snapshots, 30);
    assert!(reads > 0);
    assert_eq!(db.reader().len(), KEYS);
}

#[test]
fn a_snapshot_that_cannot_be_written_names_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Db::open(
        &path,
        Options {
            io_backend: IoBackend::Std,
            ..Options::default()
        },
    )
    .unwrap();
    db.set(b"k", b"v").unwrap();
    std::fs::remove_dir_all(&path).unwrap();
    let error = db.snapshot().unwrap_err().to_string();
    assert!(
        error.contains(&path.display().to_string()),
        "the error names the directory: {error}"
    );
    // Reads go on.
    assert_eq!(db.reader().get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
}

/// The reads of one hash, set and list, compared with what they should hold.
fn check_collections(
    db: &Db,
    hash: &std::collections::BTreeMap<Vec<u8>, Vec<u8>>,
    set: &std::collections::BTreeSet<Vec<u8>>,
    list: &[Vec<u8>],
    context: &str,
) {
    let reader = db.reader();
    assert_eq!(reader.hlen(b"h").unwrap(), hash.len(), "{context}");
    assert_eq!(reader.scard(b"s").unwrap(), set.len(), "{context}");
    assert_eq!(reader.llen(b"l").unwrap(), list.len(), "{context}");
    // Every item, and a probe on each side of it (bisection's edges).
    for i in 0..2_100u32 {
        for probe in [format!("f{i}"), format!("f{i}~"), format!("f{i}!")] {
            let probe = probe.into_bytes();
            assert_eq!(
                reader.hget(b"h", &probe).unwrap().map(|v| v.to_vec()),
                hash.get(&probe).cloned(),
                "{context}: HGET {probe:?}"
            );
            assert_eq!(
                reader.sismember(b"s", &probe).unwrap(),
                set.contains(&probe),
                "{context}: SISMEMBER {probe:?}"
            );
        }
    }
    let fields: Vec<Vec<u8>> = vec![b"f0".to_vec(), b"nope".to_vec(), b"f1999".to_vec()];
    assert_eq!(
        reader.hmget(b"h", &fields).unwrap(),
        fields
            .iter()
            .map(|f| hash.get(f).map(|v| bytes::Bytes::from(v.clone())))
            .collect::<Vec<_>>(),
        "{context}"
    );
    assert_eq!(
        reader.smismember(b"s", &fields).unwrap(),
        fields.iter().map(|f| set.contains(f)).collect::<Vec<_>>(),
        "{context}"
    );
    let mut all: Vec<(Vec<u8>, Vec<u8>)> = reader
        .hgetall(b"h")
        .unwrap()
        .into_iter()
        .map(|(f, v)| (f.to_vec(), v.to_vec()))
        .collect();
    all.sort();
    assert_eq!(
        all,
        hash.clone().into_iter().collect::<Vec<_>>(),
        "{context}"
    );
    let mut members: Vec<Vec<u8>> = reader
        .smembers(b"s")
        .unwrap()
        .into_iter()
        .map(|m| m.to_vec())
        .collect();
    members.sort();
    assert_eq!(
        members,
        set.iter().cloned().collect::<Vec<_>>(),
        "{context}"
    );
    let len = list.len() as i64;
    for index in [0, 1, len / 2, len - 1, len, -1, -len, -len - 1] {
        let expected = if index < 0 { len + index } else { index };
        assert_eq!(
            reader.lindex(b"l", index).unwrap().map(|v| v.to_vec()),
            usize::try_from(expected)
                .ok()
                .and_then(|i| list.get(i).cloned()),
            "{context}: LINDEX {index}"
        );
    }
    for (start, stop) in [(0, -1), (5, 9), (-3, -1), (len - 2, len + 5), (9, 5)] {
        let resolve = |i: i64| if i < 0 { (len + i).max(0) } else { i.min(len) } as usize;
        let (from, to) = (resolve(start), (resolve(stop) + 1).min(list.len()));
        let expected = if from < to {
            list[from..to].to_vec()
        } else {
            Vec::new()
        };
        let got: Vec<Vec<u8>> = reader
            .lrange(b"l", start, stop)
            .unwrap()
            .into_iter()
            .map(|v| v.to_vec())
            .collect();
        assert_eq!(got, expected, "{context}: LRANGE {start} {stop}");
    }
    // Item scans, by cursor, see every item once.
    let (mut cursor, mut scanned_set, mut scanned_hash) = (0, Vec::new(), Vec::new());
    loop {
        let page = reader.sscan(b"s", cursor, 10, None).unwrap();
        scanned_set.extend(page.items.iter().map(|m| m.to_vec()));
        cursor = page.cursor;
        if cursor == 0 {
            break;
        }
    }
    loop {
        let page = reader.hscan(b"h", cursor, 10, None).unwrap();
        scanned_hash.extend(page.items.iter().map(|(f, v)| (f.to_vec(), v.to_vec())));
        cursor = page.cursor;
        if cursor == 0 {
            break;
        }
    }
    scanned_set.sort();
    scanned_hash.sort();
    assert_eq!(
        scanned_set,
        set.iter().cloned().collect::<Vec<_>>(),
        "{context}"
    );
    assert_eq!(scanned_hash, all, "{context}");
    // The wrong type is refused in the base as in the overlay.
    assert_eq!(reader.hget(b"s", b"f1"), Err(OpError::WrongType));
    assert_eq!(reader.sismember(b"l", b"f1"), Err(OpError::WrongType));
    assert_eq!(reader.lindex(b"h", 0), Err(OpError::WrongType));
}

#[test]
fn collections_in_the_base_answer_every_read_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000_000));
    let mut hash = std::collections::BTreeMap::new();
    let mut set = std::collections::BTreeSet::new();
    let mut list: Vec<Vec<u8>> = Vec::new();
    let mut batch = Batch::new();
    // Fields in an order that is neither sorted nor hash order.
    for i in (0..2_000u32).map(|i| (i * 7919) % 2_000) {
        let field = format!("f{i}").into_bytes();
        let value = format!("v{i}").into_bytes();
        hash.insert(field.clone(), value.clone());
        set.insert(field.clone());
        list.push(value.clone());
        batch.push(Op::HashSet {
            key: b"h"[..].into(),
            pairs: vec![(field.clone().into(), value.clone().into())],
            only_if_absent: false,
        });
        batch.push(Op::SetAdd {
            key: b"s"[..].into(),
            members: vec![field.into()],
        });
        batch.push(Op::Push {
            key: b"l"[..].into(),
            end: chiral::End::Back,
            values: vec![value.into()],
            only_if_exists: false,
        });
    }
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    db.write(batch, Ack::Visible).unwrap();
    check_collections(&db, &hash, &set, &list, "in the overlay");
    db.snapshot().unwrap();
    // Installing the snapshot trims the overlay in slices over the next commit-loop
    // turns; these writes give it the turns, so the reads below go to the base.
    for _ in 0..64 {
        db.write(Batch::of(Op::set("tick", "x")), Ack::Visible)
            .unwrap();
    }
    check_collections(&db, &hash, &set, &list, "in the base");
    drop(db);
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    check_collections(&db, &hash, &set, &list, "reopened from the base");
    // Writes over the base: the first copies the collection into the overlay.
    let mut batch = Batch::new();
    for i in [0u32, 1_000, 2_050] {
        let field = format!("f{i}").into_bytes();
        hash.insert(field.clone(), b"new".to_vec());
        set.remove(&field);
        batch.push(Op::HashSet {
            key: b"h"[..].into(),
            pairs: vec![(field.clone().into(), bytes::Bytes::from_static(b"new"))],
            only_if_absent: false,
        });
        batch.push(Op::SetRemove {
            key: b"s"[..].into(),
            members: vec![field.into()],
        });
    }
    list.insert(0, b"head".to_vec());
    batch.push(Op::Push {
        key: b"l"[..].into(),
        end: chiral::End::Front,
        values: vec![bytes::Bytes::from_static(b"head")],
        only_if_exists: false,
    });
    db.write(batch, Ack::Visible).unwrap();
    check_collections(&db, &hash, &set, &list, "written over the base");
}

/// A write that finds nothing to change in a large set or hash of the snapshot
/// (SADD of members it has, SREM and HDEL of ones it lacks, HSETNX of fields it
/// has) reads the collection in place, as SISMEMBER does, instead of copying the
/// whole collection out of the file each time. Shown with a damaged block: such a
/// write answers as long as the members it looks up are readable, while one that
/// does change the collection must read all of it, and meets the damage.
#[test]
fn writes_that_change_nothing_read_a_large_snapshot_collection_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000));
    let members = 20_000;
    let db = Db::open(dir.path(), options(&clock)).unwrap();
    for chunk in 0..members / 1000 {
        let names: Vec<_> = (0..1000)
            .map(|i| format!("member{:05}", chunk * 1000 + i))
            .collect();
        let batch = Batch::new()
            .with(Op::SetAdd {
                key: key("set"),
                members: names.iter().map(|m| m.clone().into()).collect(),
            })
            .with(Op::HashSet {
                key: key("hash"),
                pairs: names
                    .iter()
                    .map(|m| (m.clone().into(), "v".into()))
                    .collect(),
                only_if_absent: false,
            });
        db.write(batch, Ack::Visible).unwrap();
    }
    let info = db.snapshot().unwrap();
    drop(db);
    let original = std::fs::read(&info.path).unwrap();
    let names: Vec<String> = (0..members).map(|i| format!("member{i:05}")).collect();
    // Damage one byte, at the first of many places that leaves a member of each
    // collection readable while some member is not. (Where the damage hits what
    // every lookup of a collection reads, such as the middle of its sorted index,
    // no member of it is readable.)
    let absent: Vec<String> = (0..100).map(|i| format!("absent{i}")).collect();
    let (db, [set_name, hash_name, set_absent, hash_absent]) = (1..64)
        .find_map(|place| {
            let mut bytes = original.clone();
            bytes[original.len() * place / 64] ^= 0x40;
            std::fs::write(&info.path, &bytes).unwrap();
            let db = Db::open(dir.path(), options(&clock)).unwrap();
            let reader = db.reader();
            let in_set = |name: &&String| reader.sismember(b"set", name.as_bytes()).is_ok();
            let in_hash = |name: &&String| reader.hget(b"hash", name.as_bytes()).is_ok();
            // Present and absent names whose lookups miss the damage.
            let set_name = names.iter().find(in_set)?.clone();
            let hash_name = names.iter().find(in_hash)?.clone();
            let set_absent = absent.iter().find(in_set)?.clone();
            let hash_absent = absent.iter().find(in_hash)?.clone();
            let damaged = names.iter().any(|name| !in_set(&name) || !in_hash(&name));
            damaged.then_some((db, [set_name, hash_name, set_absent, hash_absent]))
        })
        .expect("one of the places damages some members only");
    let reader = db.reader();
    let version = |k: &[u8]| reader.version(k).unwrap();
    let (set_version, hash_version) = (version(b"set"), version(b"hash"));
    let nothing_changes = [
        Op::SetAdd {
            key: key("set"),
            members: vec![set_name.clone().into()],
        },
        Op::SetRemove {
            key: key("set"),
            members: vec![set_absent.into()],
        },
        Op::HashSet {
            key: key("hash"),
            pairs: vec![(hash_name.clone().into(), "other".into())],
            only_if_absent: true,
        },
        Op::HashDelete {
            key: key("hash"),
            fields: vec![hash_absent.into()],
        },
    ];
    for op in nothing_changes {
        assert_eq!(db.apply(op.clone()), Ok(chiral::Reply::Int(0)), "{op:?}");
    }
    assert_eq!(version(b"set"), set_version, "no write");
    assert_eq!(version(b"hash"), hash_version, "no write");
    assert_eq!(
        &reader.hget(b"hash", hash_name.as_bytes()).unwrap().unwrap()[..],
        b"v"
    );
    // A write that changes the damaged collection copies it out, and meets the
    // damage (it is in the set or in the hash).
    let changes = [
        Op::SetAdd {
            key: key("set"),
            members: vec!["new".into()],
        },
        Op::HashSet {
            key: key("hash"),
            pairs: vec![("new".into(), "v".into())],
            only_if_absent: false,
        },
    ];
    let damaged = changes.into_iter().filter(|op| {
        matches!(
            db.apply(op.clone()),
            Err(WriteError::Op {
                error: OpError::SnapshotDamaged { .. },
                ..
            })
        )
    });
    assert!(damaged.count() >= 1);
}

/// The state `dump` held, with the feed's `batches` up to `upto_lsn` applied.
fn apply_up_to(
    mut state: common::Dump,
    batches: &[Arc<chiral::ChangeBatch>],
    upto_lsn: u64,
) -> common::Dump {
    for batch in batches.iter().filter(|batch| batch.lsn <= upto_lsn) {
        for change in &batch.changes {
            match change {
                chiral::Change::Put(record) => {
                    state.insert(
                        record.key().to_vec(),
                        (
                            record.value().into_owned(),
                            record.version(),
                            record.expires_at_ms(),
                        ),
                    );
                }
                chiral::Change::Delete(key) => {
                    state.remove(&key[..]);
                }
                chiral::Change::Flush => state.clear(),
            }
        }
    }
    state
}

/// Writes random batches to `db` until `stop`: mostly overwrites and deletes over
/// many string keys (in the base and the overlay), some operations of every type over
/// a few keys, and with `flushes` a flush now and then.
fn write_until(db: &Db, stop: &AtomicBool, seed: u64, flushes: bool) -> u64 {
    let mut rng = Rng(seed);
    let mut written = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let string_key = |rng: &mut Rng| key(&format!("s{}", rng.below(70_000)));
        let op = match rng.below(100) {
            0..60 => Op::set(string_key(&mut rng), format!("w{written}").as_str()),
            60..80 => Op::delete(string_key(&mut rng)),
            _ if flushes && rng.below(60) == 0 => Op::Flush,
            _ => match common::random_op(&mut rng, 1_000) {
                Op::Flush => Op::delete(string_key(&mut rng)),
                op => op,
            },
        };
        let mut batch = Batch::new();
        batch.push(op);
        // Some random operations are refused (wrong type): that is part of the mix.
        // Each write is published before the next, so the snapshot's walk meets many.
        let _ = db.write(batch, Ack::Visible);
        written += 1;
    }
    written
}

#[test]
fn a_snapshot_taken_while_writes_go_on_holds_exactly_the_state_at_its_lsn() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000));
    let options = Options {
        snapshot_after_changes: u64::MAX,
        // The test's subscriber must see every batch the writer commits.
        feed_queue_batches: 1 << 24,
        ..options(&clock)
    };
    let db = Db::open(dir.path(), options.clone()).unwrap();
    let fill = |range: std::ops::Range<u32>, tag: &str| {
        for chunk in range.collect::<Vec<_>>().chunks(1000) {
            let mut batch = Batch::new();
            for i in chunk {
                batch.push(Op::set(key(&format!("s{i}")), format!("{tag}{i}").as_str()));
            }
            db.write(batch, Ack::Visible).unwrap();
        }
    };
    // Keys in a base, keys overwritten or deleted over it, keys only in the overlay.
    common::create_doc_collection(&db);
    fill(0..40_000, "base");
    db.snapshot().unwrap();
    fill(20_000..60_000, "overlay");
    for i in (0..10_000).step_by(2) {
        db.delete(format!("s{i}").as_bytes()).unwrap();
    }
    for round in 0..6u64 {
        let before = dump(&db);
        let feed = db.subscribe();
        let collector = std::thread::spawn(move || {
            let mut batches = Vec::new();
            loop {
                let batch = feed.recv().unwrap();
                let end = batch
                    .changes
                    .iter()
                    .any(|c| c.key() == Some(b"end".as_slice()));
                batches.push(batch);
                if end {
                    return batches;
                }
            }
        });
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (db, stop) = (db.clone(), stop.clone());
            std::thread::spawn(move || write_until(&db, &stop, 100 + round, round % 2 == 1))
        };
        std::thread::sleep(Duration::from_millis(20));
        let info = db.snapshot().unwrap();
        std::thread::sleep(Duration::from_millis(5));
        stop.store(true, Ordering::SeqCst);
        let written = writer.join().unwrap();
        db.set(b"end", b"1").unwrap();
        let batches = collector.join().unwrap();
        let after_cut = batches.iter().filter(|batch| batch.lsn > info.lsn).count();
        assert!(
            after_cut > 1,
            "round {round}: no write after the cut ({written} written)"
        );
        let expected = apply_up_to(before, &batches, info.lsn);

        // The snapshot alone, in a directory of its own: no log after it.
        let alone = tempfile::tempdir().unwrap();
        std::fs::copy(
            &info.path,
            alone.path().join(info.path.file_name().unwrap()),
        )
        .unwrap();
        let reopened = Db::open(alone.path(), options.clone()).unwrap();
        let found = dump(&reopened);
        drop(reopened);
        let differing: Vec<String> = expected
            .iter()
            .filter(|(key, state)| found.get(*key) != Some(*state))
            .map(|(key, _)| String::from_utf8_lossy(key).into_owned())
            .chain(
                found
                    .keys()
                    .filter(|key| !expected.contains_key(*key))
                    .map(|key| String::from_utf8_lossy(key).into_owned()),
            )
            .take(10)
            .collect();
        assert!(
            differing.is_empty(),
            "round {round}: the snapshot at LSN {} differs from the state at it (of {} keys) at {differing:?}",
            info.lsn,
            expected.len()
        );
    }
}

/// Past a snapshot larger than `snapshot_after_changes`, the next one waits until
/// the changes since reach `snapshot_growth_percent` of its keys; with the floor off,
/// it follows after `snapshot_after_changes`.
#[test]
fn a_large_snapshot_waits_for_its_share_of_changes() {
    for growth_percent in [100, 0] {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(1_000));
        let db = Db::open(
            dir.path(),
            Options {
                snapshot_after_changes: 100,
                snapshot_growth_percent: growth_percent,
                ..options(&clock)
            },
        )
        .unwrap();
        let write = |from: usize, count: usize| {
            for i in from..from + count {
                db.set(format!("k{}", i % 2_000).as_bytes(), b"v").unwrap();
            }
        };
        write(0, 2_000);
        let first = db.snapshot().unwrap().lsn;
        let newest = || {
            files(dir.path(), "chiral")
                .iter()
                .map(|path| {
                    path.file_stem().unwrap().to_str().unwrap()[5..]
                        .parse::<u64>()
                        .unwrap()
                })
                .max()
                .unwrap_or(0)
        };
        // 1,500 changes: 15 times the trigger, under the 2,000 keys of the snapshot.
        write(0, 1_500);
        if growth_percent == 0 {
            common::eventually("a snapshot after 100 changes", || newest() > first);
            continue;
        }
        // A snapshot that was due would have started at once and taken milliseconds.
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(newest(), first, "no snapshot before 2,000 changes");
        write(1_500, 600);
        common::eventually("a snapshot after 2,000 changes", || newest() > first);
    }
}
