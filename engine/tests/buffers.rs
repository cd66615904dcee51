//! A committed write keeps none of its writer's buffers: what a hash, set or list
//! stores is copied out of the op. The server hands the engine slices of its
//! connection read buffers, and relies on this so that a stored item never keeps a
//! whole read buffer alive.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use chiral::{Ack, Batch, Db, End, Op};

/// Items enough for each collection's tree form (a small collection is packed into
/// one buffer of its own).
const LARGE: usize = 2000;

/// A buffer that says when it is freed.
struct Buffer {
    bytes: Vec<u8>,
    freed: Arc<AtomicBool>,
}

impl AsRef<[u8]> for Buffer {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        self.freed.store(true, Ordering::Release);
    }
}

/// Slices of one tracked buffer, as a parser makes them, and its freed flag.
struct Slices {
    buffer: Bytes,
    freed: Arc<AtomicBool>,
}

impl Slices {
    fn new() -> Self {
        let freed = Arc::new(AtomicBool::new(false));
        let buffer = Bytes::from_owner(Buffer {
            bytes: b"field-0123456789-value-with-more-than-twenty-two-bytes".repeat(4),
            freed: Arc::clone(&freed),
        });
        Slices { buffer, freed }
    }

    /// A short item (kept inline by a tree) and a long one (kept behind a pointer).
    fn short(&self) -> Bytes {
        self.buffer.slice(0..16)
    }

    fn long(&self) -> Bytes {
        self.buffer.slice(17..80)
    }
}

/// Writes the op `make` builds from fresh slices, drops every other handle on their
/// buffer, and checks that the committed write left the buffer freed.
fn keeps_no_buffer(db: &Db, what: &str, make: impl FnOnce(&Slices) -> Op) {
    let slices = Slices::new();
    let op = make(&slices);
    let Slices { buffer, freed } = slices;
    drop(buffer);
    assert!(
        !freed.load(Ordering::Acquire),
        "{what}: the op holds slices"
    );
    db.write(Batch::of(op), Ack::Visible)
        .unwrap_or_else(|error| panic!("{what}: {error}"));
    assert!(
        freed.load(Ordering::Acquire),
        "{what}: the committed write kept the writer's buffer alive"
    );
}

fn fill(db: &Db, small: &str, large: &str, op: impl Fn(&str, Vec<Bytes>) -> Op) {
    let items = |count: usize| {
        (0..count)
            .map(|i| Bytes::from(format!("item{i}")))
            .collect()
    };
    common::ok(db, op(small, items(3)));
    common::ok(db, op(large, items(LARGE)));
}

#[test]
fn hashes_copy_fields_and_values() {
    let db = common::open();
    let hset = |key: &str, items: Vec<Bytes>| Op::HashSet {
        key: key.into(),
        pairs: items.into_iter().map(|item| (item.clone(), item)).collect(),
        only_if_absent: false,
    };
    fill(&db, "small", "large", hset);
    for key in ["small", "large", "new"] {
        for only_if_absent in [false, true] {
            keeps_no_buffer(&db, &format!("HSET {key} nx={only_if_absent}"), |s| {
                Op::HashSet {
                    key: key.into(),
                    pairs: vec![(s.short(), s.long()), (s.long(), s.short())],
                    only_if_absent,
                }
            });
        }
        keeps_no_buffer(&db, &format!("HINCRBY {key}"), |s| Op::HashIncrBy {
            key: key.into(),
            field: s.buffer.slice(90..120),
            delta: 2,
        });
        keeps_no_buffer(&db, &format!("HINCRBYFLOAT {key}"), |s| {
            Op::HashIncrByFloat {
                key: key.into(),
                field: s.buffer.slice(130..140),
                delta: 0.5,
            }
        });
    }
}

#[test]
fn sets_copy_members() {
    let db = common::open();
    let sadd = |key: &str, members: Vec<Bytes>| Op::SetAdd {
        key: key.into(),
        members,
    };
    fill(&db, "small", "large", sadd);
    for key in ["small", "large", "new"] {
        keeps_no_buffer(&db, &format!("SADD {key}"), |s| Op::SetAdd {
            key: key.into(),
            members: vec![s.short(), s.long()],
        });
    }
}

#[test]
fn lists_copy_items() {
    let db = common::open();
    let push = |key: &str, values: Vec<Bytes>| Op::Push {
        key: key.into(),
        end: End::Back,
        values,
        only_if_exists: false,
    };
    fill(&db, "small", "large", push);
    for key in ["small", "large", "new"] {
        for end in [End::Front, End::Back] {
            keeps_no_buffer(&db, &format!("{end:?} push {key}"), |s| Op::Push {
                key: key.into(),
                end,
                values: vec![s.short(), s.long()],
                only_if_exists: false,
            });
        }
        for index in [0, -1] {
            keeps_no_buffer(&db, &format!("LSET {key} {index}"), |s| Op::ListSet {
                key: key.into(),
                index,
                value: s.long(),
            });
        }
    }
}
