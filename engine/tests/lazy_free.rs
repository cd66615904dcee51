//! Large values are freed on the reclaimer's thread (Redis's lazyfree): a delete,
//! overwrite or flush of one hands its last reference over instead of freeing it
//! inside the publish. Small values, and values someone else still holds, are freed
//! where they are dropped.

use std::time::{Duration, Instant};

use bytes::Bytes;
use chiral::{Ack, Batch, Db, LazyFreeStats, Op, Options};

/// Items in the large collections: past the lazy-free threshold.
const LARGE: usize = 2_000;

fn db() -> Db {
    Db::open_in_memory(Options::default()).unwrap()
}

fn write(db: &Db, op: Op) {
    db.write(Batch::of(op), Ack::Visible).unwrap();
}

fn hash_of(key: &str, fields: usize) -> Op {
    Op::HashSet {
        key: key.as_bytes().into(),
        pairs: (0..fields)
            .map(|i| (Bytes::from(format!("field:{i}")), Bytes::from("v")))
            .collect(),
        only_if_absent: false,
    }
}

/// A left-right copy drops what it replaced when the next publish brings it up to
/// date: one more write makes both copies let go of everything written before it.
fn settle(db: &Db) {
    write(db, Op::set("settle", "x"));
}

/// Waits (a bounded time) until nothing is pending on the reclaimer's thread.
fn drained(db: &Db) -> LazyFreeStats {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stats = db.lazy_free_stats();
        if stats.pending_objects == 0 || Instant::now() > deadline {
            return stats;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_deleted_large_hash_is_freed_in_the_background() {
    let db = db();
    write(&db, hash_of("big", LARGE));
    write(&db, Op::delete("big"));
    settle(&db);
    let stats = drained(&db);
    assert_eq!(
        stats,
        LazyFreeStats {
            pending_objects: 0,
            freed_objects: 1
        }
    );
    assert_eq!(db.reader().len(), 1, "only the settling key is left");
}

#[test]
fn an_overwritten_large_set_is_freed_in_the_background() {
    let db = db();
    write(
        &db,
        Op::SetAdd {
            key: "big".as_bytes().into(),
            members: (0..LARGE).map(|i| Bytes::from(format!("m{i}"))).collect(),
        },
    );
    write(&db, Op::set("big", "now a string"));
    settle(&db);
    assert_eq!(drained(&db).freed_objects, 1);
    assert_eq!(db.reader().get(b"big").unwrap().unwrap(), b"now a string");
}

#[test]
fn small_values_and_held_values_are_freed_where_they_are_dropped() {
    let db = db();
    write(&db, hash_of("small", 10));
    write(&db, Op::delete("small"));
    write(&db, hash_of("held", LARGE));
    let reader = db.reader();
    let record = reader.record(b"held").unwrap().unwrap();
    write(&db, Op::delete("held"));
    settle(&db);
    assert_eq!(db.lazy_free_stats(), LazyFreeStats::default());
    // The reader's record holds the last reference: dropping it frees the hash here.
    assert_eq!(record.kind(), chiral::Kind::Hash);
    drop(record);
    settle(&db);
    assert_eq!(db.lazy_free_stats(), LazyFreeStats::default());
}

#[test]
fn a_write_to_a_large_list_frees_the_old_version_where_it_is_dropped() {
    // The old version shares all but a path of its nodes with the new one: handing
    // it over would cost more than freeing the path.
    let lpush = |values: Vec<Bytes>| Op::Push {
        key: "list".as_bytes().into(),
        end: chiral::End::Front,
        values,
        only_if_exists: false,
    };
    let db = db();
    write(
        &db,
        lpush((0..LARGE).map(|i| Bytes::from(format!("{i}"))).collect()),
    );
    for i in 0..10 {
        write(&db, lpush(vec![Bytes::from(format!("new {i}"))]));
    }
    write(&db, hash_of("big", LARGE));
    write(&db, hash_of("big", LARGE + 10));
    settle(&db);
    assert_eq!(db.lazy_free_stats(), LazyFreeStats::default());
}

#[test]
fn a_flush_frees_both_copies_tables_in_the_background() {
    let db = db();
    for i in 0..100 {
        write(&db, Op::set(format!("key:{i}"), "v"));
    }
    write(&db, Op::Flush);
    settle(&db);
    // Each left-right copy hands over its tables once.
    assert_eq!(drained(&db).freed_objects, 2);
    assert_eq!(db.reader().len(), 1);
}

/// With no write after it, a delete still reaches the second left-right copy: the
/// commit thread publishes once more when the database goes quiet, so the large
/// value is freed without the `settle` write the other tests make.
#[test]
fn a_quiet_database_frees_what_its_last_write_deleted() {
    let db = db();
    write(&db, hash_of("big", LARGE));
    write(&db, Op::delete("big"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while db.lazy_free_stats().freed_objects == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        db.lazy_free_stats(),
        LazyFreeStats {
            pending_objects: 0,
            freed_objects: 1
        }
    );
    assert_eq!(db.reader().len(), 0);
}
