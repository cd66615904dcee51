//! Durability: what a database on disk keeps across close and reopen, how it treats a
//! damaged log, its lock, and its log failing under injected faults. Every test runs
//! on both I/O backends.

mod common;

use std::path::Path;
use std::sync::Arc;

use chiral::{
    Ack, Batch, Db, Expiry, Faults, FsyncPolicy, IoBackend, ManualClock, Op, OpenError, Options,
    RecoveryError, SetCondition, WriteError,
};
use common::{Rng, dump, key, random_workload};

/// Options for tests of the log itself: no snapshot at close, so what they write
/// stays in the log.
fn options(backend: IoBackend) -> Options {
    Options {
        io_backend: backend,
        fsync: FsyncPolicy::Always,
        snapshot_on_close: false,
        ..Options::default()
    }
}

/// A database in `dir` under `fsync`, its I/O going through a fault layer the test
/// controls.
fn open_with_faults(dir: &Path, backend: IoBackend, fsync: FsyncPolicy) -> (Db, Faults) {
    let faults = Faults::new();
    let db = Db::open(
        dir,
        Options {
            faults: Some(faults.clone()),
            fsync,
            ..options(backend)
        },
    )
    .unwrap();
    (db, faults)
}

fn segments(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
        .collect();
    paths.sort();
    paths
}

/// The size of a log segment's header.
const SEGMENT_HEADER_BYTES: usize = 16;
/// The size of a record's header: payload length (u32), LSN (u64), synced LSN (u64),
/// checksum (u32).
const RECORD_HEADER_BYTES: usize = 24;

/// Where each record of a segment file lies: after the segment header, each record
/// is a header (payload length first) and its payload; the log's space allocated
/// ahead reads as zeros (an empty length).
fn records(segment: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut found = Vec::new();
    let mut offset = SEGMENT_HEADER_BYTES;
    while let Some(header) = segment.get(offset..offset + RECORD_HEADER_BYTES) {
        let len = u32::from_le_bytes(header[..4].try_into().unwrap()) as usize;
        let end = offset + RECORD_HEADER_BYTES + len;
        if len == 0 || end > segment.len() {
            break;
        }
        found.push(offset..end);
        offset = end;
    }
    found
}

/// Where the records of a segment file end.
fn records_end(segment: &[u8]) -> usize {
    records(segment)
        .last()
        .map_or(SEGMENT_HEADER_BYTES, |record| record.end)
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod std_backend {
            $(#[test] fn $name() { super::$name(chiral::IoBackend::Std) })*
        }
        mod uring_backend {
            $(#[test] fn $name() { super::$name(chiral::IoBackend::Uring) })*
        }
    };
}

on_both_backends!(
    reopen_restores_every_key_value_version_and_expiry,
    keys_that_expired_while_closed_are_gone,
    segments_rotate_and_replay_in_order,
    a_torn_tail_is_cut_off_and_writing_goes_on,
    a_corrupt_record_stops_the_open_unless_repaired,
    zeros_before_valid_records_are_damage_not_the_end,
    a_hole_a_power_cut_left_in_unsynced_records_ends_the_log_there,
    a_format_1_log_is_replayed_and_continued_in_a_new_segment,
    every_power_cut_keeps_the_durable_writes_and_opens,
    the_owner_locks_the_directory_and_readers_may_share_it,
    a_failed_sync_fails_the_log_and_keeps_what_was_durable,
    a_snapshot_asked_for_in_the_group_that_fails_the_log_is_refused,
    a_full_disk_fails_the_log_and_drops_the_partial_group,
    concurrent_durable_writers_all_survive,
);

fn reopen_restores_every_key_value_version_and_expiry(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    for seed in [1, 2, 3] {
        let clock = Arc::new(ManualClock::new(1_000_000));
        let open = || {
            Db::open(
                dir.path().join(seed.to_string()),
                Options {
                    clock: clock.clone(),
                    fsync: [
                        FsyncPolicy::Always,
                        FsyncPolicy::Never,
                        FsyncPolicy::default(),
                    ][seed as usize - 1],
                    ..options(backend)
                },
            )
            .unwrap()
        };
        let db = open();
        random_workload(&db, &mut Rng(seed), &clock, 2_000);
        db.write(Batch::of(Op::set("last", "write")), Ack::Visible)
            .unwrap();
        let before = dump(&db);
        assert!(before.len() > 3, "the workload leaves keys behind");
        db.close();
        drop(db);
        let db = open();
        assert_eq!(dump(&db), before, "seed {seed}");
        // And it goes on from where it was: versions keep growing.
        let lsn = db
            .write(Batch::of(Op::set("after", "x")), Ack::Visible)
            .unwrap();
        let max_version = before
            .values()
            .map(|(_, version, _)| *version)
            .max()
            .unwrap();
        assert!(lsn.commit().unwrap().lsn > max_version);
    }
}

fn keys_that_expired_while_closed_are_gone(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(10_000));
    let open = || {
        Db::open(
            dir.path(),
            Options {
                clock: clock.clone(),
                ..options(backend)
            },
        )
        .unwrap()
    };
    let db = open();
    for (name, at) in [("soon", 11_000), ("later", 50_000)] {
        db.apply(Op::Set {
            key: key(name),
            value: "v".into(),
            condition: SetCondition::Always,
            expiry: Expiry::AtMs(at),
            get_old: false,
        })
        .unwrap();
    }
    db.set(b"forever", b"v").unwrap();
    drop(db);
    clock.advance_ms(5_000);
    let db = open();
    let reader = db.reader();
    assert_eq!(reader.get(b"soon").unwrap(), None);
    assert_eq!(reader.get(b"later").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(reader.get(b"forever").unwrap().as_deref(), Some(&b"v"[..]));
    // The sweep's delete is logged too: still gone after the clock runs past
    // `later` and the database reopens twice.
    clock.advance_ms(100_000);
    drop(reader);
    drop(db);
    let db = open();
    drop(db);
    let db = open();
    assert_eq!(dump(&db).keys().collect::<Vec<_>>(), vec![b"forever"]);
}

fn segments_rotate_and_replay_in_order(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        Db::open(
            dir.path(),
            Options {
                log_segment_bytes: 1024,
                ..options(backend)
            },
        )
        .unwrap()
    };
    let db = open();
    for i in 0..500 {
        db.apply(Op::incr_by("counter", 1)).unwrap();
        db.set(format!("key{i}").as_bytes(), &[b'x'; 20]).unwrap();
    }
    let before = dump(&db);
    drop(db);
    let paths = segments(dir.path());
    assert!(paths.len() > 10, "the log rotated");
    let closed = &paths[..paths.len() - 1];
    for path in closed {
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(
            bytes.len(),
            records_end(&bytes),
            "a closed segment is cut to its records"
        );
    }
    let db = open();
    assert_eq!(dump(&db), before);
    assert_eq!(
        db.reader().get(b"counter").unwrap().as_deref(),
        Some(&b"500"[..])
    );
    drop(db);
    // A crash between a rotation and the cut of the closed segment leaves its
    // allocated zeros: still the end of its records.
    let mut with_zeros = std::fs::read(&closed[0]).unwrap();
    with_zeros.resize(with_zeros.len() + 700, 0);
    std::fs::write(&closed[0], &with_zeros).unwrap();
    let db = open();
    assert_eq!(dump(&db), before);
    drop(db);
    // But zeros over a closed segment's last record hide a record the next segment
    // does not follow: the open stops there.
    let last_record = records(&with_zeros).pop().unwrap();
    with_zeros[last_record.start..].fill(0);
    std::fs::write(&closed[0], &with_zeros).unwrap();
    match Db::open(dir.path(), options(backend)).err() {
        Some(OpenError::Recovery(RecoveryError::Corrupt { path, reason, .. })) => {
            assert_eq!(path, closed[1]);
            assert!(reason.contains("records are missing"), "{reason}");
        }
        other => panic!("expected a gap in the LSNs, got {other:?}"),
    }
}

fn a_torn_tail_is_cut_off_and_writing_goes_on(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let open = || Db::open(dir.path(), options(backend)).unwrap();
    let db = open();
    for i in 0..10 {
        db.set(format!("k{i}").as_bytes(), b"v").unwrap();
    }
    let before = dump(&db);
    drop(db);
    let last = segments(dir.path()).pop().unwrap();
    let file = std::fs::read(&last).unwrap();
    let intact = file[..records_end(&file)].to_vec();
    assert!(
        file.len() > intact.len(),
        "the log allocates the file ahead of its records"
    );
    assert!(
        file[intact.len()..].iter().all(|&byte| byte == 0),
        "after the records, only space allocated ahead"
    );
    let record = {
        let db = open();
        db.set(b"torn", b"value").unwrap();
        drop(db);
        let grown = std::fs::read(&last).unwrap();
        grown[intact.len()..records_end(&grown)].to_vec()
    };
    let mut bad_checksum = record.clone();
    *bad_checksum.last_mut().unwrap() ^= 1;
    // Every way a crash can cut the last write short: a partial header, a partial
    // payload, a whole record with a bad checksum; each at the end of the file, and
    // followed by the zeros of the space allocated ahead. (Not the record missing
    // only its last byte, a zero: over the allocated zeros it reads back whole.)
    let cut_short = [
        (record[..7].to_vec(), &[0, 4096][..]),
        (record[..record.len() / 2].to_vec(), &[0, 4096][..]),
        (record[..record.len() - 1].to_vec(), &[0][..]),
        (bad_checksum, &[0, 4096][..]),
    ];
    for (tail, zero_counts) in cut_short {
        for &zeros in zero_counts {
            let mut damaged = intact.clone();
            damaged.extend_from_slice(&tail);
            damaged.resize(damaged.len() + zeros, 0);
            std::fs::write(&last, &damaged).unwrap();
            let db = open();
            assert_eq!(dump(&db), before, "the torn record is not replayed");
            assert_eq!(
                std::fs::read(&last).unwrap(),
                intact,
                "the tail was cut off"
            );
            drop(db);
        }
    }
    // Zeros alone after the records are space allocated ahead: left as they are.
    let mut allocated = intact.clone();
    allocated.resize(intact.len() + 100, 0);
    std::fs::write(&last, &allocated).unwrap();
    let db = open();
    assert_eq!(dump(&db), before);
    drop(db);
    assert_eq!(std::fs::read(&last).unwrap(), allocated);
    // After the cut, new writes land after the valid records and survive.
    let db = open();
    db.set(b"new", b"v").unwrap();
    drop(db);
    let db = open();
    assert_eq!(db.reader().get(b"new").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(dump(&db).len(), before.len() + 1);
}

/// Writes ten keys to a database in `dir` and closes it; the last log segment's
/// path and bytes.
fn ten_records(dir: &Path, backend: IoBackend) -> (std::path::PathBuf, Vec<u8>) {
    let db = Db::open(dir, options(backend)).unwrap();
    for i in 0..10 {
        db.set(format!("k{i}").as_bytes(), b"value").unwrap();
    }
    drop(db);
    let last = segments(dir).pop().unwrap();
    let bytes = std::fs::read(&last).unwrap();
    (last, bytes)
}

fn a_corrupt_record_stops_the_open_unless_repaired(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let (last, mut bytes) = ten_records(dir.path(), backend);
    // Damage the second record's payload. Valid records follow it, and they were
    // written after it was synced (every write is synced), so this is not a crash's.
    let second = records(&bytes)[1].start;
    bytes[second + RECORD_HEADER_BYTES + 4] ^= 0x40;
    std::fs::write(&last, &bytes).unwrap();
    let error = Db::open(dir.path(), options(backend))
        .err()
        .expect("refused");
    match &error {
        OpenError::Recovery(RecoveryError::Corrupt { path, offset, .. }) => {
            assert_eq!(path, &last);
            assert_eq!(*offset, second as u64);
        }
        other => panic!("expected a corruption error, got {other}"),
    }
    let message = error.to_string();
    assert!(message.contains(&last.display().to_string()) && message.contains(&second.to_string()));
    // Nothing was changed by the refused open.
    assert_eq!(std::fs::read(&last).unwrap(), bytes);
    let db = Db::open(
        dir.path(),
        Options {
            repair: true,
            ..options(backend)
        },
    )
    .unwrap();
    assert_eq!(
        dump(&db).len(),
        1,
        "only the record before the damage remains"
    );
    db.set(b"after", b"repair").unwrap();
    drop(db);
    let db = Db::open(dir.path(), options(backend)).unwrap();
    assert_eq!(dump(&db).len(), 2);
}

fn zeros_before_valid_records_are_damage_not_the_end(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let (last, mut bytes) = ten_records(dir.path(), backend);
    let third = records(&bytes)[2].clone();
    bytes[third.clone()].fill(0);
    std::fs::write(&last, &bytes).unwrap();
    match Db::open(dir.path(), options(backend)).err() {
        Some(OpenError::Recovery(RecoveryError::Corrupt { path, offset, .. })) => {
            assert_eq!(path, last);
            assert_eq!(offset, third.start as u64);
        }
        other => panic!("expected a corruption error, got {other:?}"),
    }
    assert_eq!(std::fs::read(&last).unwrap(), bytes, "nothing was cut");
}

/// A power cut can keep some of the pages written since the last fdatasync and lose
/// others: a hole, with valid records after it. If no record after the hole was
/// written once the lost one was synced, the hole is a crash's (nothing in or after
/// it was acknowledged as durable): the log ends there. Otherwise it is corruption.
fn a_hole_a_power_cut_left_in_unsynced_records_ends_the_log_there(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        Db::open(
            dir.path(),
            Options {
                // Only `Durable` writes sync.
                fsync: FsyncPolicy::Never,
                ..options(backend)
            },
        )
    };
    let db = open().unwrap();
    for i in 0..10 {
        let ack = if i < 5 { Ack::Durable } else { Ack::Visible };
        db.write(Batch::of(Op::set(key(&format!("k{i}")), "v")), ack)
            .unwrap();
    }
    drop(db);
    let last = segments(dir.path()).pop().unwrap();
    let bytes = std::fs::read(&last).unwrap();
    let at = records(&bytes);
    assert_eq!(at.len(), 10, "one record per write");
    // The eighth record's page never reached the disk; the ninth and tenth did.
    let mut holed = bytes.clone();
    holed[at[7].clone()].fill(0);
    std::fs::write(&last, &holed).unwrap();
    let db = open().unwrap();
    let keys: Vec<_> = dump(&db).into_keys().collect();
    let expected: Vec<_> = (0..7).map(|i| format!("k{i}").into_bytes()).collect();
    assert_eq!(keys, expected, "every write before the hole, none after");
    db.set(b"after", b"the cut").unwrap();
    drop(db);
    let db = open().unwrap();
    assert_eq!(
        db.reader().get(b"after").unwrap().as_deref(),
        Some(&b"the cut"[..])
    );
    assert_eq!(dump(&db).len(), 8);
    drop(db);
    // The third write was synced before the fourth was written, and the fourth's
    // record says so: a hole there is data lost, and the open stops.
    let mut lost = bytes.clone();
    lost[at[2].clone()].fill(0);
    std::fs::write(&last, &lost).unwrap();
    match open().err() {
        Some(OpenError::Recovery(RecoveryError::Corrupt { path, offset, .. })) => {
            assert_eq!(path, last);
            assert_eq!(offset, at[2].start as u64);
        }
        other => panic!("expected a corruption error, got {other:?}"),
    }
}

/// A segment as the log wrote them before records carried a synced LSN (format 1:
/// 16-byte record headers, the checksum over the length, the LSN and the payload),
/// from one of today's.
fn as_format_1(segment: &[u8]) -> Vec<u8> {
    let mut out = b"CHIRALOG".to_vec();
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(&out).to_le_bytes());
    for record in records(segment) {
        let record = &segment[record];
        let head = &record[..12];
        let payload = &record[RECORD_HEADER_BYTES..];
        out.extend_from_slice(head);
        let crc = crc32c::crc32c_append(crc32c::crc32c(head), payload);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(payload);
    }
    out
}

/// A data directory from before the synced LSN opens: its records replay, and new
/// ones go to a new segment of today's format, leaving the old one as it was.
fn a_format_1_log_is_replayed_and_continued_in_a_new_segment(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let (last, bytes) = ten_records(dir.path(), backend);
    let old = as_format_1(&bytes);
    std::fs::write(&last, &old).unwrap();
    let db = Db::open(dir.path(), options(backend)).unwrap();
    assert_eq!(dump(&db).len(), 10);
    db.set(b"new", b"record").unwrap();
    drop(db);
    let paths = segments(dir.path());
    assert_eq!(paths.len(), 2, "the new record started a segment");
    assert_eq!(
        std::fs::read(&last).unwrap(),
        old,
        "the old segment is untouched"
    );
    let db = Db::open(dir.path(), options(backend)).unwrap();
    assert_eq!(dump(&db).len(), 11);
    assert_eq!(
        db.reader().get(b"new").unwrap().as_deref(),
        Some(&b"record"[..])
    );
}

/// A power cut keeps what syncs put on disk and, of every page written since, either
/// the new bytes, or the old (zeros: the space was allocated ahead, or the file
/// cut), or the new up to one of its sectors and the old after.
/// Over cuts chosen at random, with records across pages and segments: the log
/// opens, and holds the writes in order up to some point, every `Durable` one among
/// them.
fn every_power_cut_keeps_the_durable_writes_and_opens(backend: IoBackend) {
    const PAGE_BYTES: usize = 4096;
    const SECTOR_BYTES: usize = 512;
    // `scripts/crash-soak.sh` runs thousands.
    let seeds = std::env::var("CHIRAL_POWER_CUT_SEEDS")
        .ok()
        .and_then(|seeds| seeds.parse().ok())
        .unwrap_or(24u64);
    for seed in 1..=seeds {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let dir = tempfile::tempdir().unwrap();
        let faults = Faults::new();
        let db = Db::open(
            dir.path().join("db"),
            Options {
                // Only `Durable` writes sync (and rotations, in the background).
                fsync: FsyncPolicy::Never,
                log_segment_bytes: if seed % 2 == 0 { 16 * 1024 } else { 1 << 20 },
                faults: Some(faults.clone()),
                ..options(backend)
            },
        )
        .unwrap();
        let value = |i: usize, len: u64| vec![b'a' + (i % 26) as u8; len as usize];
        let mut written = Vec::new();
        let mut last_durable = None;
        for i in 0..40 + rng.below(40) as usize {
            let value = value(i, 1 + rng.below(3000));
            let ack = if rng.below(5) == 0 {
                last_durable = Some(i);
                Ack::Durable
            } else {
                Ack::Visible
            };
            let key = format!("k{i:03}").into_bytes();
            db.write(Batch::of(Op::set(&key[..], &value[..])), ack)
                .unwrap();
            written.push((key, value));
        }
        // Every write is in its file now (a group is written before it is
        // published). What a sync still running puts on disk is not counted: the
        // cut may lose more than a real one could, never less.
        let cut = dir.path().join("cut");
        std::fs::create_dir(&cut).unwrap();
        for path in segments(&dir.path().join("db")) {
            let synced = faults.synced_len(&path).unwrap() as usize;
            let mut bytes = std::fs::read(&path).unwrap();
            let mut page_start = synced.min(bytes.len());
            while page_start < bytes.len() {
                let page_end = ((page_start / PAGE_BYTES + 1) * PAGE_BYTES).min(bytes.len());
                // Lost whole, torn after one of its 512-byte sectors, or kept.
                let lost_from = match rng.below(4) {
                    0 => page_start,
                    1 => (page_start / SECTOR_BYTES + 1 + rng.below(7) as usize) * SECTOR_BYTES,
                    _ => page_end,
                };
                bytes[lost_from.min(page_end)..page_end].fill(0);
                page_start = page_end;
            }
            std::fs::write(cut.join(path.file_name().unwrap()), bytes).unwrap();
        }
        drop(db);
        let db = Db::open(&cut, options(backend))
            .unwrap_or_else(|error| panic!("seed {seed}: a power cut's log opens: {error}"));
        let kept: Vec<_> = dump(&db)
            .into_iter()
            .map(|(key, (value, _, _))| (key, value))
            .collect();
        let expected: Vec<_> = written[..kept.len()]
            .iter()
            .map(|(key, value)| (key.clone(), chiral::Value::from(&value[..])))
            .collect();
        assert_eq!(
            kept, expected,
            "seed {seed}: the writes in order up to a point"
        );
        assert!(
            last_durable.is_none_or(|last| kept.len() > last),
            "seed {seed}: every Durable write survives ({} kept, last Durable {last_durable:?})",
            kept.len()
        );
    }
}

fn the_owner_locks_the_directory_and_readers_may_share_it(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let owner = Db::open(dir.path(), options(backend)).unwrap();
    owner.set(b"k", b"v").unwrap();
    match Db::open(dir.path(), options(backend)) {
        Err(error @ OpenError::Locked { .. }) => {
            let OpenError::Locked { path, owner_pid } = &error else {
                unreachable!()
            };
            assert_eq!(*owner_pid, Some(std::process::id()));
            assert_eq!(path, &dir.path().join("LOCK"));
            assert!(error.to_string().contains(&std::process::id().to_string()));
        }
        other => panic!("expected Locked, got {:?}", other.map(|_| ())),
    }
    let read_only = Db::open(
        dir.path(),
        Options {
            read_only: true,
            ..options(backend)
        },
    )
    .unwrap();
    assert_eq!(
        read_only.reader().get(b"k").unwrap().as_deref(),
        Some(&b"v"[..])
    );
    assert_eq!(read_only.set(b"k", b"w"), Err(WriteError::ReadOnly));
    let files_before = segments(dir.path());
    drop(read_only);
    assert_eq!(segments(dir.path()), files_before);
    // Closing releases the lock.
    drop(owner);
    let db = Db::open(dir.path(), options(backend)).unwrap();
    assert_eq!(db.reader().get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
    // A read-only open of a directory that does not exist is an error, not a creation.
    let missing = dir.path().join("missing");
    assert!(matches!(
        Db::open(
            &missing,
            Options {
                read_only: true,
                ..options(backend)
            }
        ),
        Err(OpenError::Io { .. })
    ));
    assert!(!missing.exists());
}

fn a_failed_sync_fails_the_log_and_keeps_what_was_durable(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let (db, faults) = open_with_faults(dir.path(), backend, FsyncPolicy::Never);
    let reader = db.reader();
    for i in 0..20 {
        db.write(Batch::of(Op::set(format!("k{i}"), "v")), Ack::Durable)
            .unwrap();
    }
    faults.fail_syncs(true);
    let refused = db.write(Batch::of(Op::set("k0", "changed")), Ack::Durable);
    assert!(
        matches!(refused, Err(WriteError::LogFailed(_))),
        "{refused:?}"
    );
    // Failed for good: even with the disk healthy again, writes are refused...
    faults.fail_syncs(false);
    match db.set(b"later", b"v") {
        Err(WriteError::LogFailed(reason)) => {
            assert!(
                reason.contains("sync failed") && reason.contains("os error 5"),
                "{reason}"
            )
        }
        other => panic!("expected LogFailed, got {other:?}"),
    }
    assert!(matches!(
        db.write(Batch::of(Op::set("x", "y")), Ack::Eventual),
        Err(WriteError::LogFailed(_))
    ));
    // ...and reads go on, without the refused write.
    assert_eq!(reader.get(b"k0").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(reader.get(b"k19").unwrap().as_deref(), Some(&b"v"[..]));
    drop(reader);
    drop(db);
    let db = Db::open(dir.path(), options(backend)).unwrap();
    for i in 0..20 {
        assert!(
            db.reader().exists(format!("k{i}").as_bytes()).unwrap(),
            "k{i} was durable"
        );
    }
    assert!(!db.reader().exists(b"later").unwrap());
}

/// The log fails in the very group that holds a request for a snapshot (a write
/// queued, uncommitted, ahead of it fails). The request is refused with the log's
/// failure. (It used to wait forever: a failed log starts no snapshot, and nothing
/// answered the requests already taken for the next one.)
fn a_snapshot_asked_for_in_the_group_that_fails_the_log_is_refused(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let (db, faults) = open_with_faults(dir.path(), backend, FsyncPolicy::Never);
    db.set(b"k", b"v").unwrap();
    faults.fail_writes(true);
    // Queued, not committed: the snapshot request below wakes the commit thread,
    // which takes both in one group.
    let pending = db
        .try_submit_deferred(Batch::of(Op::set("k", "lost")), Ack::Durable)
        .unwrap();
    for attempt in 0..2 {
        let (sender, receiver) = std::sync::mpsc::channel();
        let asker = db.clone();
        std::thread::spawn(move || sender.send(asker.snapshot()));
        // A hang detector, not a timing assertion: the answer comes at once.
        let outcome = receiver
            .recv_timeout(std::time::Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("snapshot {attempt} never answered"));
        match outcome {
            Err(chiral::CompactionError::Failed(reason)) => {
                assert!(reason.contains("os error 5"), "{reason}")
            }
            other => panic!("snapshot {attempt}: expected the log's failure, got {other:?}"),
        }
    }
    drop(pending);
    assert!(matches!(
        db.set(b"k", b"again"),
        Err(WriteError::LogFailed(_))
    ));
    assert_eq!(db.reader().get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
}

fn a_full_disk_fails_the_log_and_drops_the_partial_group(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let (db, faults) = open_with_faults(dir.path(), backend, FsyncPolicy::Always);
    db.write(Batch::of(Op::set("before", "v")), Ack::Durable)
        .unwrap();
    faults.no_space_after(10);
    let refused = db.write(
        Batch::of(Op::set("big", vec![b'x'; 1000])).with(Op::set("other", "y")),
        Ack::Durable,
    );
    match refused {
        Err(WriteError::LogFailed(reason)) => {
            assert!(reason.contains("No space left on device"), "{reason}")
        }
        other => panic!("expected LogFailed, got {other:?}"),
    }
    assert!(
        !db.reader().exists(b"big").unwrap(),
        "a write the log refused is not visible"
    );
    drop(db);
    let db = Db::open(dir.path(), options(backend)).unwrap();
    assert_eq!(dump(&db).keys().collect::<Vec<_>>(), vec![b"before"]);
}

fn concurrent_durable_writers_all_survive(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            fsync: FsyncPolicy::Never,
            ..options(backend)
        },
    )
    .unwrap();
    // 16 writers: groups of 8 or more `Durable` answers go to the answering thread.
    std::thread::scope(|scope| {
        for thread in 0..16 {
            let db = db.clone();
            scope.spawn(move || {
                for i in 0..50 {
                    let key = format!("t{thread}-{i}");
                    db.write(Batch::of(Op::set(&key, key.as_str())), Ack::Durable)
                        .unwrap();
                }
            });
        }
    });
    drop(db);
    let db = Db::open(dir.path(), options(backend)).unwrap();
    assert_eq!(dump(&db).len(), 800);
}

/// A directory keeps its dataset id across reopenings (read-only ones included);
/// another directory, or a database in memory, has another; a damaged id file
/// stops the open with an error that names it.
#[test]
fn the_dataset_id_names_one_history() {
    let dir = tempfile::tempdir().unwrap();
    let first = Db::open(dir.path(), Options::default()).unwrap();
    let id = first.dataset_id();
    first.close();
    drop(first);
    let again = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(again.dataset_id(), id);
    let reader = Db::open(
        dir.path(),
        Options {
            read_only: true,
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(reader.dataset_id(), id);
    again.close();
    drop((again, reader));
    let other = tempfile::tempdir().unwrap();
    assert_ne!(
        Db::open(other.path(), Options::default())
            .unwrap()
            .dataset_id(),
        id
    );
    let memory = Db::open_in_memory(Options::default()).unwrap();
    assert_ne!(memory.dataset_id(), id);
    assert_ne!(
        memory.dataset_id(),
        Db::open_in_memory(Options::default()).unwrap().dataset_id()
    );
    std::fs::write(dir.path().join("DATASET"), "not an id\n").unwrap();
    let error = Db::open(dir.path(), Options::default()).err().unwrap();
    assert!(error.to_string().contains("DATASET"), "{error}");
    // The cause is in the message, so not also a `source` (printed twice in a chain).
    assert!(error.to_string().contains("16 hex digits"), "{error}");
    assert!(std::error::Error::source(&error).is_none());
}

/// A database in `dir` that syncs only for `Durable` writers, with its syncs
/// counted, once its commit thread sleeps (past the settle after its last publish).
fn idle_counting_syncs(dir: &Path) -> (Db, Faults) {
    let (db, faults) = open_with_faults(dir, IoBackend::Std, FsyncPolicy::Never);
    db.write(Batch::of(Op::set("warm", "up")), Ack::Durable)
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    (db, faults)
}

/// `Durable` batches queued with `try_submit_deferred` wait for the first of their
/// futures to be polled, which wakes the commit thread: it finds them all queued
/// and covers them with one fdatasync.
#[test]
fn deferred_durable_writes_share_one_sync_when_first_polled() {
    let dir = tempfile::tempdir().unwrap();
    let (db, faults) = idle_counting_syncs(dir.path());
    let syncs = faults.syncs();
    let deferred: Vec<_> = (0..5)
        .map(|i| {
            let batch = Batch::of(Op::set(format!("d{i}").as_str(), "v"));
            db.try_submit_deferred(batch, Ack::Durable).unwrap()
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(faults.syncs(), syncs, "nothing is synced before a poll");
    for pending in deferred {
        assert!(common::block_on(pending).unwrap().commit().is_some());
    }
    assert_eq!(faults.syncs(), syncs + 1, "one sync covers the five");
    drop(db);
    let db = Db::open(dir.path(), options(IoBackend::Std)).unwrap();
    for i in 0..5 {
        assert!(
            db.reader()
                .get(format!("d{i}").as_bytes())
                .unwrap()
                .is_some()
        );
    }
}

/// A deferred `Durable` write whose future is dropped unpolled is committed and
/// synced all the same.
#[test]
fn a_deferred_durable_write_dropped_unpolled_is_synced() {
    let dir = tempfile::tempdir().unwrap();
    let (db, faults) = idle_counting_syncs(dir.path());
    let syncs = faults.syncs();
    drop(
        db.try_submit_deferred(Batch::of(Op::set("dropped", "v")), Ack::Durable)
            .unwrap(),
    );
    let reader = db.reader();
    common::eventually("the dropped write is synced", || {
        faults.syncs() > syncs && reader.get(b"dropped").unwrap().is_some()
    });
}
