//! Point reads, hit and miss, with 1 and 2 reader threads while a writer commits
//! 100k ops/s, against dashmap and RwLock<HashMap> under the same writer, and an
//! unsynchronized single-threaded hashbrown lookup on the same keys as the floor.
//!
//! Run: `cargo bench -p chiral-benches --bench reads`

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, Barrier, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use chiral::{Ack, Batch, Db, Op, Options};
use chiral_benches::{KEYS, PacedWriter, VALUE, key, miss_key, next};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dashmap::DashMap;

// The allocator of `chiral-server`, for every peer alike: where an entry lies in its
// size class decides how many cache lines a hit reads.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

type Bytes = Box<[u8]>;
type DashPeer = Arc<DashMap<Bytes, Bytes, ahash::RandomState>>;
type RwLockPeer = Arc<RwLock<HashMap<Bytes, Bytes, ahash::RandomState>>>;

/// Times `iters` lookups on each of `threads` threads; returns the wall time.
fn run_threads<R: Send + 'static>(
    threads: usize,
    iters: u64,
    make: impl Fn() -> R,
    lookup: impl Fn(&R, &[u8; 16]) -> bool + Send + Sync + Copy + 'static,
    hit: bool,
) -> Duration {
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let state = make();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (t as u64 + 1);
                barrier.wait();
                let started = Instant::now();
                for _ in 0..iters {
                    let i = next(&mut x);
                    let k = if hit { key(i) } else { miss_key(i) };
                    black_box(lookup(&state, &k));
                }
                started.elapsed()
            })
        })
        .collect();
    barrier.wait();
    handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .max()
        .unwrap()
}

fn bench_reads(c: &mut Criterion) {
    // Chiral
    let db = Db::open_in_memory(Options::default()).unwrap();
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(10_000) {
        let batch = chunk
            .iter()
            .fold(Batch::new(), |b, &i| b.with(Op::set(key(i), VALUE)));
        db.write(batch, Ack::Eventual).unwrap();
    }
    db.write(Batch::new(), Ack::Visible).unwrap();
    // dashmap and RwLock<HashMap>
    let dash: DashPeer = Arc::new(DashMap::with_hasher(ahash::RandomState::new()));
    let rw: RwLockPeer = Arc::new(RwLock::new(HashMap::with_hasher(ahash::RandomState::new())));
    let mut plain: hashbrown::HashMap<Box<[u8]>, Box<[u8]>> = hashbrown::HashMap::new();
    for i in 0..KEYS {
        dash.insert(key(i).into(), VALUE.into());
        rw.write().unwrap().insert(key(i).into(), VALUE.into());
        plain.insert(key(i).into(), VALUE.into());
    }

    let mut group = c.benchmark_group("get");
    group.measurement_time(Duration::from_secs(2));
    group.warm_up_time(Duration::from_millis(500));
    for hit in [true, false] {
        let kind = if hit { "hit" } else { "miss" };
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("hashbrown_unsync/{kind}/1"), |b| {
            let mut x = 1u64;
            b.iter(|| {
                let i = next(&mut x);
                let k = if hit { key(i) } else { miss_key(i) };
                black_box(plain.get(&k[..]).map(|v| v.len()))
            })
        });
    }
    // Each peer is read while its own writer commits 100k ops/s, and only its own:
    // on 2 cores a second peer's writer would steal the first one's CPU.
    let db_writer = db.clone();
    with_writer(
        move |i| {
            db_writer
                .write(Batch::of(Op::set(key(i), VALUE)), Ack::Eventual)
                .unwrap();
        },
        || {
            bench_peer(
                &mut group,
                "chiral",
                move || db.reader(),
                |r, k| r.get_with(k, |v| v.len()).ok().flatten().is_some(),
            )
        },
    );
    let dash_writer = Arc::clone(&dash);
    with_writer(
        move |i| {
            dash_writer.insert(key(i).into(), VALUE.into());
        },
        || {
            bench_peer(
                &mut group,
                "dashmap",
                move || Arc::clone(&dash),
                |d, k| d.get(&k[..]).map(|v| v.len()).is_some(),
            )
        },
    );
    let rw_writer = Arc::clone(&rw);
    with_writer(
        move |i| {
            rw_writer
                .write()
                .unwrap()
                .insert(key(i).into(), VALUE.into());
        },
        || {
            bench_peer(
                &mut group,
                "rwlock_hashmap",
                move || Arc::clone(&rw),
                |m, k| m.read().unwrap().get(&k[..]).map(|v| v.len()).is_some(),
            )
        },
    );
    group.finish();
}

/// Runs `body` while a paced writer applies `write` at 100k ops/s.
fn with_writer(write: impl FnMut(usize) + Send + 'static, body: impl FnOnce()) {
    let _writer = PacedWriter::start(write);
    body();
}

/// Hit and miss reads with 1 and 2 threads, each thread with its own `make()` handle.
fn bench_peer<R: Send + 'static>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    make: impl Fn() -> R + Clone + Send + 'static,
    lookup: impl Fn(&R, &[u8; 16]) -> bool + Send + Sync + Copy + 'static,
) {
    for hit in [true, false] {
        let kind = if hit { "hit" } else { "miss" };
        for threads in [1usize, 2] {
            group.throughput(Throughput::Elements(threads as u64));
            group.bench_function(format!("{name}/{kind}/{threads}"), |b| {
                b.iter_custom(|iters| run_threads(threads, iters, make.clone(), lookup, hit))
            });
        }
    }
}

criterion_group!(benches, bench_reads);
criterion_main!(benches);
