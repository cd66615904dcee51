//! Write throughput with `Eventual` acks from two producer threads for batch sizes 1,
//! 16 and 256, and the round-trip latency of a single `Visible` write.
//!
//! The bench runs on jemalloc, as `chiral-server` does: operations are allocated on
//! the producers' threads and freed on the commit thread, and glibc's allocator made
//! that path up to twice as slow (see benches/README.md).
//!
//! Run: `cargo bench -p chiral-benches --bench writes`

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use chiral::{Ack, Batch, Db, Op, Options};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const VALUE: &[u8] = b"0123456789abcdef0123456789abcdef";
const PRODUCERS: usize = 2;

/// The keys each producer cycles over.
const KEYS_PER_PRODUCER: u64 = 1_000_000;

/// `p<producer>:` and 13 digits of `i` modulo [`KEYS_PER_PRODUCER`], written without
/// allocating (the bench measures the engine, not formatting).
fn key(producer: usize, i: u64) -> [u8; 16] {
    let mut key = *b"p0:0000000000000";
    key[1] = b'0' + producer as u8;
    let mut n = i % KEYS_PER_PRODUCER;
    for digit in key[3..].iter_mut().rev() {
        *digit = b'0' + (n % 10) as u8;
        n /= 10;
    }
    key
}

/// Writes every key the producers will write, so that the benches measure writes to
/// a map of a steady size, not the growth of its tables (each doubling rehashes
/// every key of both left-right copies).
fn prefill(db: &Db) {
    for p in 0..PRODUCERS {
        for chunk in (0..KEYS_PER_PRODUCER).step_by(1024) {
            let batch = (chunk..(chunk + 1024).min(KEYS_PER_PRODUCER))
                .fold(Batch::new(), |b, i| b.with(Op::set(key(p, i), VALUE)));
            db.write(batch, Ack::Eventual).unwrap();
        }
    }
    db.write(Batch::new(), Ack::Visible).unwrap();
}

fn bench_writes(c: &mut Criterion) {
    let db = Db::open_in_memory(Options::default()).unwrap();
    prefill(&db);
    let mut group = c.benchmark_group("write_eventual_2_producers");
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_millis(500));
    for batch_ops in [1u64, 16, 256] {
        group.throughput(Throughput::Elements(batch_ops));
        group.bench_function(format!("batch_{batch_ops}"), |b| {
            b.iter_custom(|iters| {
                let barrier = Arc::new(Barrier::new(PRODUCERS + 1));
                let producers: Vec<_> = (0..PRODUCERS)
                    .map(|p| {
                        let db = db.clone();
                        let barrier = Arc::clone(&barrier);
                        // Each producer submits its half of the batches.
                        let share = iters.div_ceil(PRODUCERS as u64);
                        thread::spawn(move || {
                            barrier.wait();
                            for n in 0..share {
                                let batch = (0..batch_ops).fold(Batch::new(), |b, j| {
                                    b.with(Op::set(key(p, n * batch_ops + j), VALUE))
                                });
                                db.write(batch, Ack::Eventual).unwrap();
                            }
                        })
                    })
                    .collect();
                barrier.wait();
                let started = Instant::now();
                for producer in producers {
                    producer.join().unwrap();
                }
                // Count the time until everything submitted is committed and visible.
                db.write(Batch::new(), Ack::Visible).unwrap();
                started.elapsed()
            })
        });
    }
    group.finish();

    // Many writers waiting for their acks at once (a server's connections): each
    // thread submits single-op Visible batches; throughput counts all threads.
    let mut group = c.benchmark_group("write_visible_8_writers");
    group.measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(1));
    group.bench_function("single_set", |b| {
        b.iter_custom(|iters| {
            const WRITERS: usize = 8;
            let barrier = Arc::new(Barrier::new(WRITERS + 1));
            let writers: Vec<_> = (0..WRITERS)
                .map(|w| {
                    let db = db.clone();
                    let barrier = Arc::clone(&barrier);
                    let share = iters.div_ceil(WRITERS as u64);
                    thread::spawn(move || {
                        barrier.wait();
                        for n in 0..share {
                            db.write(Batch::of(Op::set(key(w, n), VALUE)), Ack::Visible)
                                .unwrap();
                        }
                    })
                })
                .collect();
            barrier.wait();
            let started = Instant::now();
            for writer in writers {
                writer.join().unwrap();
            }
            started.elapsed()
        })
    });
    group.finish();

    let mut group = c.benchmark_group("write_visible_latency");
    group.bench_function("single_set", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            black_box(
                db.write(Batch::of(Op::set(key(0, i), VALUE)), Ack::Visible)
                    .unwrap(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench_writes);
criterion_main!(benches);
