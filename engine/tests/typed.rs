//! The typed API: the hmdb example runs (twice, over the same directory), values are
//! read in place, transactions are atomic across tables, read their own writes, and
//! retry or refuse on conflict; a user error applies nothing; bytes that are not an
//! archive of the table's type are a clear error.

#[allow(dead_code)]
#[path = "../examples/typed_schema.rs"]
mod typed_schema;

use std::sync::Arc;

use chiral::rkyv::{Archive, Deserialize, Serialize};
use chiral::typed::{OnConflict, TableError};

#[test]
fn the_hmdb_example_runs_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = typed_schema::run(dir.path()).unwrap();
    assert_eq!(
        first,
        "parth: 1 file(s), quota 1073741824 bytes; file size 4097 bytes"
    );
    // V2 reopens from disk; V1 starts again (the example deleted it after migrating).
    let second = typed_schema::run(dir.path()).unwrap();
    assert_eq!(second, first);
    assert!(!dir.path().join("data.db").exists());
}

#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rkyv(crate = chiral::rkyv)]
struct Counter {
    value: u64,
    note: String,
}

chiral::schema! {
    Pair {
        left: <u32, Counter>,
        right: <u32, Counter>,
    }
}

fn counter(value: u64) -> Counter {
    Counter {
        value,
        note: "n".repeat(value as usize % 7),
    }
}

#[test]
fn tables_insert_get_remove_and_iterate_apart() {
    let db = Pair::in_memory().unwrap();
    for i in 0..300 {
        db.left.insert(i, counter(u64::from(i))).unwrap();
    }
    db.right.insert(1, counter(99)).unwrap();
    let view = db.left.get(&5).unwrap().unwrap();
    assert_eq!(view.value, 5);
    assert_eq!(view.note.as_str(), "nnnnn");
    // A short value lives inline in its entry, unaligned: the view copies it.
    assert!(!view.is_in_place());
    // A long one has an allocation of its own, which the allocator aligns: the view
    // borrows it.
    let long = Counter {
        value: 7,
        note: "a long note that does not fit inline".repeat(3),
    };
    db.right.insert(2, long.clone()).unwrap();
    let view_long = db.right.get(&2).unwrap().unwrap();
    assert!(view_long.is_in_place());
    assert_eq!(view_long.deserialize().unwrap(), long);
    assert!(db.right.remove(&2).unwrap());
    assert_eq!(view.deserialize().unwrap(), counter(5));
    assert_eq!(db.right.get_owned(&1).unwrap(), Some(counter(99)));
    assert!(db.left.remove(&5).unwrap());
    assert!(!db.left.remove(&5).unwrap());
    assert!(db.left.get(&5).unwrap().is_none());
    let mut keys: Vec<u32> = db.left.iter().map(|entry| entry.unwrap().0).collect();
    keys.sort();
    assert_eq!(keys, (0..300).filter(|&i| i != 5).collect::<Vec<_>>());
    assert_eq!(db.right.iter().count(), 1);
}

#[test]
fn bytes_of_another_type_are_a_clear_error() {
    let db = Pair::in_memory().unwrap();
    let key = [&b"left:"[..], &7u32.to_le_bytes()].concat();
    db.db().set(&key, b"not an archive").unwrap();
    assert!(matches!(
        db.left.get(&7),
        Err(TableError::Decode { table: "left", .. })
    ));
    assert!(db.left.iter().any(|entry| entry.is_err()));
}

#[test]
fn a_transaction_reads_its_writes_and_an_error_applies_nothing() {
    let db = Pair::in_memory().unwrap();
    let outcome: Result<(), TableError> = db.transaction(|left, right| {
        left.insert(1, counter(1))?;
        right.insert(1, counter(1))?;
        assert_eq!(left.get(&1)?, Some(counter(1)));
        assert!(left.remove(&1)?);
        assert_eq!(left.get(&1)?, None);
        left.insert(1, counter(2))?;
        Err(TableError::Conflict { attempts: 0 })
    });
    assert!(outcome.is_err());
    assert_eq!(db.left.get_owned(&1).unwrap(), None);
    assert_eq!(db.right.get_owned(&1).unwrap(), None);
    let done: Result<u64, TableError> = db.transaction(|left, right| {
        left.insert(1, counter(2))?;
        right.insert(1, counter(2))?;
        Ok(2)
    });
    assert_eq!(done.unwrap(), 2);
    assert_eq!(db.left.get_owned(&1).unwrap(), Some(counter(2)));
}

/// Moves one unit from left to right per transaction, from several threads: with
/// retries every transfer lands, and every reader sees the sum unchanged. (Retries
/// are not bounded here: on a loaded machine four writers of one key can lose more
/// than the default 100 times in a row.)
#[test]
fn concurrent_transactions_retry_and_stay_atomic() {
    const THREADS: u64 = 4;
    const TRANSFERS: u64 = 200;
    let db = Pair::in_memory().unwrap();
    db.left.insert(0, counter(THREADS * TRANSFERS)).unwrap();
    db.right.insert(0, counter(0)).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let checker = {
        let (db, stop) = (db.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut checks = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let sum: Result<u64, TableError> = db.transaction(|left, right| {
                    Ok(left.get(&0)?.unwrap().value + right.get(&0)?.unwrap().value)
                });
                assert_eq!(
                    sum.unwrap(),
                    THREADS * TRANSFERS,
                    "a reader saw half a transfer"
                );
                checks += 1;
            }
            checks
        })
    };
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || {
                for _ in 0..TRANSFERS {
                    let patient = OnConflict::Retry {
                        max_attempts: u32::MAX,
                    };
                    let moved: Result<(), TableError> =
                        db.transaction_with(patient, |left, right| {
                            let from = left.get(&0)?.unwrap();
                            let to = right.get(&0)?.unwrap();
                            left.insert(0, counter(from.value - 1))?;
                            right.insert(0, counter(to.value + 1))?;
                            Ok(())
                        });
                    moved.unwrap();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(checker.join().unwrap() > 0);
    assert_eq!(db.left.get(&0).unwrap().unwrap().value, 0);
    assert_eq!(
        db.right.get(&0).unwrap().unwrap().value,
        THREADS * TRANSFERS
    );
}

#[test]
fn refuse_gives_up_at_the_first_conflict_and_applies_nothing() {
    let db = Pair::in_memory().unwrap();
    db.left.insert(0, counter(0)).unwrap();
    let other = db.clone();
    let mut runs = 0;
    let outcome: Result<(), TableError> = db.transaction_with(OnConflict::Refuse, |left, right| {
        runs += 1;
        let seen = left.get(&0)?.unwrap();
        // A concurrent writer changes what this transaction read.
        other.left.insert(0, counter(seen.value + 10)).unwrap();
        right.insert(0, counter(1))?;
        Ok(())
    });
    assert!(matches!(outcome, Err(TableError::Conflict { attempts: 1 })));
    assert_eq!(runs, 1);
    assert_eq!(db.right.get_owned(&0).unwrap(), None);
    // Retrying twice: both attempts conflict, then it gives up.
    let mut runs = 0;
    let outcome: Result<(), TableError> =
        db.transaction_with(OnConflict::Retry { max_attempts: 2 }, |left, _| {
            runs += 1;
            let seen = left.get(&0)?.unwrap();
            other.left.insert(0, counter(seen.value + 1)).unwrap();
            Ok(())
        });
    assert!(matches!(outcome, Err(TableError::Conflict { attempts: 2 })));
    assert_eq!(runs, 2);
}
