//! Readers under load: never half a batch, never a version going backwards.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chiral::{Ack, Batch, Op};

const BATCHES: i64 = 20_000;
const READERS: usize = 3;

#[test]
fn readers_never_observe_a_partial_batch() {
    let db = common::open();
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let reader = db.reader();
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let (mut last_value, mut last_version, mut reads) = (0i64, 0u64, 0u64);
                loop {
                    let finished = done.load(Ordering::Acquire);
                    // One multi-key read: one guard, one commit.
                    let values = reader.mget(&["a", "b", "c"]).unwrap();
                    let parse = |v: &Option<Vec<u8>>| {
                        v.as_deref().map_or(0, |t| chiral::parse_int(t).unwrap())
                    };
                    let (a, b, c) = (parse(&values[0]), parse(&values[1]), parse(&values[2]));
                    assert!(a == b && b == c, "partial batch seen: a={a} b={b} c={c}");
                    assert!(
                        a >= last_value,
                        "value went backwards: {last_value} then {a}"
                    );
                    last_value = a;
                    let version = reader.version(b"a").unwrap();
                    assert!(
                        version >= last_version,
                        "version went backwards: {last_version} then {version}"
                    );
                    last_version = version;
                    reads += 1;
                    if finished {
                        return (reads, last_value);
                    }
                }
            })
        })
        .collect();
    // Two writers share the counter batches; mixing ack modes exercises both paths.
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..BATCHES / 2 {
                    let batch = Batch::new()
                        .with(Op::incr_by("a", 1))
                        .with(Op::incr_by("b", 1))
                        .with(Op::incr_by("c", 1));
                    let ack = if (i + w) % 3 == 0 {
                        Ack::Visible
                    } else {
                        Ack::Eventual
                    };
                    db.write(batch, ack).unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    db.write(Batch::of(Op::incr_by("fence", 1)), Ack::Visible)
        .unwrap();
    done.store(true, Ordering::Release);
    for reader in readers {
        let (reads, last) = reader.join().unwrap();
        assert!(reads > 0);
        assert_eq!(
            last, BATCHES,
            "after the fence every reader sees every batch"
        );
    }
}
