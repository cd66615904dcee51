//! Bytes per key for 1M keys of 16-byte keys and 32-byte values, counted by a global
//! allocator that tracks live heap bytes, against a plain hashbrown map of boxed keys
//! and values holding the same data.
//!
//! Measured twice for chiral: in memory, where both left-right copies index every
//! key; and on disk after a snapshot, where the keys live once in the mapped
//! snapshot file and the overlay holds only later changes (heap bytes plus the
//! file's size, all of which a process that reads every key ends up mapping).
//!
//! Then bytes per key for 1M counters (integer values, as INCR leaves them), and for
//! 100k keys holding small hashes and lists (5 items each):
//! the common shape of Redis collections, where a collection's own overhead counts
//! most.
//!
//! Last, bytes per item of one large hash and one large set (100k items, the shape
//! redis-benchmark's HSET and SADD build), as values on their own.
//!
//! Run: `cargo bench -p chiral-benches --bench memory`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use bytes::Bytes;
use chiral::{Ack, Batch, Db, End, Hash, Op, Options, Set};

/// Counts live heap bytes (requested sizes, so allocator overhead is not included).
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with this layout (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: the caller upholds `realloc`'s contract, which we pass on as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const KEYS: usize = 1_000_000;
const VALUE: &[u8] = b"0123456789abcdef0123456789abcdef";

fn key(i: usize) -> [u8; 16] {
    let mut key = *b"key:000000000000";
    key[4..].copy_from_slice(format!("{i:012}").as_bytes());
    key
}

fn live() -> isize {
    LIVE_BYTES.load(Ordering::Relaxed)
}

fn main() {
    // `cargo test --benches` runs bench binaries with no arguments but `--bench`
    // absent; only measure when asked to bench.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let chiral = in_memory_bytes(KEYS, string_of);

    let dir = tempfile::tempdir().unwrap();
    let before = live();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    load(&db, KEYS, string_of);
    let snapshot = db.snapshot().unwrap();
    // Installing the snapshot trims the overlay over the next commit-loop turns, a
    // bounded step each: write until 64 turns in a row have freed nothing.
    let (mut last, mut turns_without_frees) = (live(), 0);
    while turns_without_frees < 64 {
        db.write(Batch::of(Op::set("x", "y")), Ack::Visible)
            .unwrap();
        let now = live();
        turns_without_frees = if now < last {
            0
        } else {
            turns_without_frees + 1
        };
        last = now;
    }
    let on_disk_heap = live() - before;
    let on_disk_file = snapshot.size_bytes as isize;
    assert_eq!(db.reader().len(), KEYS + 1);
    drop(db);

    let before = live();
    let mut plain: hashbrown::HashMap<Box<[u8]>, Box<[u8]>> = hashbrown::HashMap::new();
    for i in 0..KEYS {
        plain.insert(key(i).into(), VALUE.into());
    }
    let hashbrown = live() - before;
    assert_eq!(plain.len(), KEYS);

    let per_key = |bytes: isize| bytes as f64 / KEYS as f64;
    println!("memory/1M keys (16 B keys, 32 B values), live heap bytes per key:");
    println!(
        "  chiral (both left-right copies): {:>6.1} B/key",
        per_key(chiral)
    );
    println!(
        "  chiral on disk after a snapshot: {:>6.1} B/key ({:.1} heap + {:.1} snapshot file)",
        per_key(on_disk_heap + on_disk_file),
        per_key(on_disk_heap),
        per_key(on_disk_file)
    );
    println!(
        "  hashbrown HashMap<Box<[u8]>, Box<[u8]>>: {:>6.1} B/key",
        per_key(hashbrown)
    );
    println!(
        "  ratio chiral / hashbrown: {:.2}",
        chiral as f64 / hashbrown as f64
    );

    let counters = in_memory_bytes(KEYS, counter_of);
    println!(
        "memory/1M counters (16 B keys, INCRBY 7): {:.1} B/key",
        per_key(counters)
    );

    for (what, op) in [
        (
            "hashes of 5 fields (6 B fields, 8 B values)",
            hash_of as fn(usize) -> Op,
        ),
        ("lists of 5 items (8 B items)", list_of),
    ] {
        let bytes = in_memory_bytes(COLLECTIONS, op);
        println!(
            "memory/{COLLECTIONS} {what} under 16 B keys: {:.1} B/key",
            bytes as f64 / COLLECTIONS as f64
        );
    }

    large_collections();
}

/// Items in the large hash and set.
const LARGE_ITEMS: usize = 100_000;

/// redis-benchmark's member and field shape: `element:` and 12 digits.
fn element(i: usize) -> Bytes {
    Bytes::from(format!("element:{i:012}"))
}

/// Bytes per item of a 100k-field hash (3 B values) and a 100k-member set, built one
/// item at a time as HSET and SADD would, against std's `HashMap` and `HashSet` of
/// boxed bytes.
fn large_collections() {
    let per_item = |bytes: isize| bytes as f64 / LARGE_ITEMS as f64;
    let before = live();
    let mut hash = Hash::new();
    for i in 0..LARGE_ITEMS {
        hash.insert(element(i), Bytes::from_static(b"xxx"));
    }
    let chiral_hash = live() - before;
    assert_eq!(hash.len(), LARGE_ITEMS);
    drop(hash);
    let before = live();
    let mut std_hash = std::collections::HashMap::<Box<[u8]>, Box<[u8]>>::new();
    for i in 0..LARGE_ITEMS {
        std_hash.insert(element(i).to_vec().into(), b"xxx"[..].into());
    }
    let std_hash_bytes = live() - before;
    drop(std_hash);
    println!(
        "memory/hash of {LARGE_ITEMS} fields (20 B fields, 3 B values): chiral {:.1} B/field, std HashMap {:.1}",
        per_item(chiral_hash),
        per_item(std_hash_bytes)
    );

    let before = live();
    let mut set = Set::new();
    for i in 0..LARGE_ITEMS {
        set.insert(element(i));
    }
    let chiral_set = live() - before;
    assert_eq!(set.len(), LARGE_ITEMS);
    drop(set);
    let before = live();
    let mut std_set = std::collections::HashSet::<Box<[u8]>>::new();
    for i in 0..LARGE_ITEMS {
        std_set.insert(element(i).to_vec().into());
    }
    let std_set_bytes = live() - before;
    drop(std_set);
    println!(
        "memory/set of {LARGE_ITEMS} members (20 B members): chiral {:.1} B/member, std HashSet {:.1}",
        per_item(chiral_set),
        per_item(std_set_bytes)
    );
}

/// The small-collection workload: many keys, each a hash or list of a few short
/// items (a user record, a short queue), written by one HSET or RPUSH each.
const COLLECTIONS: usize = 100_000;
const COLLECTION_ITEMS: usize = 5;

/// HSET of key `i`'s five fields.
fn hash_of(i: usize) -> Op {
    let pairs = (0..COLLECTION_ITEMS)
        .map(|f| {
            let field = Bytes::from(format!("field{f}"));
            (field, Bytes::from(format!("{:08}", i + f)))
        })
        .collect();
    Op::HashSet {
        key: (&key(i)).into(),
        pairs,
        only_if_absent: false,
    }
}

/// RPUSH of key `i`'s five items.
fn list_of(i: usize) -> Op {
    Op::Push {
        key: (&key(i)).into(),
        end: End::Back,
        values: (0..COLLECTION_ITEMS)
            .map(|n| Bytes::from(format!("{:08}", i + n)))
            .collect(),
        only_if_exists: false,
    }
}

/// Writes `op(i)` for each `i` below `keys`, then one more key so both
/// left-right copies hold every key.
fn load(db: &Db, keys: usize, op: fn(usize) -> Op) {
    for chunk in (0..keys).collect::<Vec<_>>().chunks(10_000) {
        let batch = chunk.iter().fold(Batch::new(), |b, &i| b.with(op(i)));
        db.write(batch, Ack::Visible).unwrap();
    }
    db.write(Batch::of(Op::set("x", "y")), Ack::Visible)
        .unwrap();
}

/// The live heap bytes of an in-memory database after [`load`]`(keys, op)`.
fn in_memory_bytes(keys: usize, op: fn(usize) -> Op) -> isize {
    let before = live();
    let db = Db::open_in_memory(Options::default()).unwrap();
    load(&db, keys, op);
    let bytes = live() - before;
    assert_eq!(db.reader().len(), keys + 1);
    bytes
}

/// SET of key `i` to the 32-byte value.
fn string_of(i: usize) -> Op {
    Op::set(key(i), VALUE)
}

/// INCRBY 7 of key `i`, so its value is an integer.
fn counter_of(i: usize) -> Op {
    Op::incr_by(key(i), 7)
}
