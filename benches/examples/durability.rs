//! Durability benchmarks that need real files and many threads, so they are a
//! program rather than criterion benches:
//!
//! - `durable-writes`: `Ack::Durable` writes per second with 1, 8 and 64 writers on
//!   each I/O backend (group commit: one fdatasync covers every waiting writer);
//!   `--rounds N` runs each count N times, interleaved, and reports the median and
//!   range (`--backend` and `--writers` narrow the run).
//! - `restart --keys N`: loads N keys (32-byte values), takes a snapshot (time and
//!   size), closes, and measures the time from `Db::open` to the first answered read
//!   (`--log-writes M` leaves M records after the snapshot for each open to replay).
//!   `benches/restart_vs_redis.sh` runs it next to Redis loading an RDB file of the
//!   same data and prints the ratio.
//! - `snapshot-collections --keys N --items M`: snapshot time of N sets and hashes
//!   of M items each, written from the live map, then from the previous snapshot.
//! - `snapshot-latency --keys N`: write latency of one `Visible` writer with no
//!   snapshot running, then while a snapshot of N keys is written.
//!
//! Run: `cargo run --release -p chiral-benches --example durability -- durable-writes`

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use bytes::Bytes;
use chiral::{Ack, Batch, Db, FsyncPolicy, IoBackend, Op, Options};

/// Durability benchmarks over real files.
#[derive(clap::Parser)]
struct Args {
    #[command(subcommand)]
    bench: Bench,
    /// Where the databases go (each run removes its own).
    #[arg(long, global = true, default_value_os_t = std::env::temp_dir().join("chiral-durability-bench"))]
    dir: PathBuf,
}

#[derive(clap::Subcommand)]
enum Bench {
    /// `Durable` writes per second with 1, 8 and 64 writers on each backend.
    DurableWrites {
        /// Only this backend (default: both).
        #[arg(long, value_enum)]
        backend: Option<Backend>,
        /// Writer counts to run; the ratio column is against the first.
        #[arg(long, value_delimiter = ',', default_values_t = [1usize, 8, 64])]
        writers: Vec<usize>,
        /// Runs of each count (2 s each); the table gives their median and range.
        #[arg(long, default_value_t = 1)]
        rounds: usize,
    },
    /// Snapshot time and size, then the time from open to the first read.
    Restart {
        /// Keys to load (32-byte values).
        #[arg(long, default_value_t = 1_000_000)]
        keys: u64,
        /// `Durable` writes after the snapshot, left in the log for every open to
        /// replay.
        #[arg(long, default_value_t = 0)]
        log_writes: u64,
    },
    /// Snapshot time of sets and hashes: written from the live map, then rewritten
    /// from the first snapshot's file.
    SnapshotCollections {
        /// Keys to load, sets and hashes in turn.
        #[arg(long, default_value_t = 100_000)]
        keys: u64,
        /// Members of each set, fields of each hash (16 bytes each; past 128 a
        /// collection leaves its packed form).
        #[arg(long, default_value_t = 200)]
        items: u64,
    },
    /// Write latency without and during a snapshot.
    SnapshotLatency {
        /// Keys to load (32-byte values).
        #[arg(long, default_value_t = 1_000_000)]
        keys: u64,
    },
}

/// A log I/O backend to measure.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Backend {
    Std,
    Uring,
}

fn durable_writes(
    dir: &Path,
    only: Option<Backend>,
    counts: &[usize],
    rounds: usize,
) -> Result<()> {
    println!("backend   writers  durable writes/s (median)   min–max over {rounds}   vs first");
    let backends = match only {
        None => vec![IoBackend::Std, IoBackend::Uring],
        Some(Backend::Std) => vec![IoBackend::Std],
        Some(Backend::Uring) => vec![IoBackend::Uring],
    };
    for backend in backends {
        // Rounds go over every writer count in turn, so a drift of the machine
        // during the run touches every count alike.
        let mut rates = vec![Vec::with_capacity(rounds); counts.len()];
        for _ in 0..rounds.max(1) {
            for (&writers, rates) in counts.iter().zip(&mut rates) {
                rates.push(durable_rate(
                    &dir.join(format!("{backend:?}-{writers}")),
                    backend,
                    writers,
                )?);
            }
        }
        let mut first = None;
        for (&writers, rates) in counts.iter().zip(&mut rates) {
            rates.sort_by(f64::total_cmp);
            let median = rates[rates.len() / 2];
            let first = *first.get_or_insert(median);
            println!(
                "{:<9} {writers:>7}  {median:>25.0}   {:>8.0}–{:<8.0}   {:>8.1}x",
                format!("{backend:?}"),
                rates[0],
                rates[rates.len() - 1],
                median / first
            );
        }
    }
    Ok(())
}

/// `Durable` writes per second of `writers` threads writing single-SET batches for
/// 2 s to a fresh database at `path` (removed afterwards).
fn durable_rate(path: &Path, backend: IoBackend, writers: usize) -> Result<f64> {
    let db = Db::open(
        path,
        Options {
            io_backend: backend,
            fsync: FsyncPolicy::Never,
            snapshot_on_close: false,
            ..Options::default()
        },
    )?;
    let run_for = Duration::from_secs(2);
    let started = Instant::now();
    let total: u64 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..writers)
            .map(|writer| {
                let db = db.clone();
                scope.spawn(move || {
                    let mut done = 0u64;
                    while started.elapsed() < run_for {
                        let key = format!("w{writer}-{done}");
                        db.write(Batch::of(Op::set(&key, "value")), Ack::Durable)
                            .expect("durable write");
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("writer")).sum()
    });
    let rate = total as f64 / started.elapsed().as_secs_f64();
    drop(db);
    std::fs::remove_dir_all(path)?;
    Ok(rate)
}

const VALUE: [u8; 32] = [b'v'; 32];

/// Opens a fresh database at `path` and loads `keys` keys ("key:<i>", 32-byte values).
fn load(path: &Path, keys: u64) -> Result<Db> {
    let _ = std::fs::remove_dir_all(path);
    let db = Db::open(path, Options::default())?;
    let started = Instant::now();
    for chunk in (0..keys).step_by(1000) {
        let mut batch = Batch::new();
        for i in chunk..(chunk + 1000).min(keys) {
            batch.push(Op::set(format!("key:{i}"), &VALUE[..]));
        }
        db.write(batch, Ack::Eventual)?;
    }
    db.write(Batch::of(Op::set("loaded", "yes")), Ack::Durable)?;
    println!("load: {keys} keys in {:.2?}", started.elapsed());
    Ok(db)
}

fn restart(dir: &Path, keys: u64, log_writes: u64) -> Result<()> {
    let path = dir.join(format!("restart-{keys}"));
    {
        let db = load(&path, keys)?;
        let started = Instant::now();
        let info = db.snapshot()?;
        println!(
            "snapshot: {} keys, {} bytes ({:.1} bytes/key), written in {:.2?}",
            info.keys,
            info.size_bytes,
            info.size_bytes as f64 / info.keys as f64,
            started.elapsed()
        );
    }
    // Every open below leaves the log as it found it: no snapshot at close.
    let keep_log = || Options {
        snapshot_on_close: false,
        ..Options::default()
    };
    if log_writes > 0 {
        let db = Db::open(&path, keep_log())?;
        for i in 0..log_writes {
            db.write(
                Batch::of(Op::set(format!("log:{i}"), &VALUE[..])),
                Ack::Durable,
            )?;
        }
        println!("log: {log_writes} durable writes after the snapshot");
    }
    let probe = format!("key:{}", keys / 2);
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let db = Db::open(&path, keep_log())?;
        let found = db.reader().get(probe.as_bytes())?;
        let elapsed = started.elapsed();
        if found.as_deref() != Some(&VALUE[..]) {
            bail!("the first read after open did not find {probe}");
        }
        times.push(elapsed);
        drop(db);
    }
    times.sort();
    println!(
        "open to first read: median {:.2?} (best {:.2?}, worst {:.2?}) over {} opens",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
        times.len()
    );
    println!(
        "open_to_first_read_seconds={:.6}",
        times[times.len() / 2].as_secs_f64()
    );
    std::fs::remove_dir_all(&path)?;
    Ok(())
}

fn snapshot_collections(dir: &Path, keys: u64, items: u64) -> Result<()> {
    let path = dir.join(format!("collections-{keys}x{items}"));
    let _ = std::fs::remove_dir_all(&path);
    let db = Db::open(&path, Options::default())?;
    let started = Instant::now();
    for i in 0..keys {
        // Members in an order unlike their sorted one, as a set's or hash's are.
        let item = |j: u64| {
            Bytes::from(format!(
                "{:016x}",
                (i ^ j).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ))
        };
        let key = format!("coll:{i}");
        let op = if i % 2 == 0 {
            Op::SetAdd {
                key: key.as_bytes().into(),
                members: (0..items).map(item).collect(),
            }
        } else {
            Op::HashSet {
                key: key.as_bytes().into(),
                pairs: (0..items).map(|j| (item(j), item(j + items))).collect(),
                only_if_absent: false,
            }
        };
        db.write(Batch::of(op), Ack::Eventual)?;
    }
    db.write(Batch::of(Op::set("loaded", "yes")), Ack::Durable)?;
    println!(
        "load: {keys} keys of {items} items in {:.2?}",
        started.elapsed()
    );
    for from in ["the live map", "the previous snapshot"] {
        let started = Instant::now();
        let info = db.snapshot()?;
        println!(
            "snapshot from {from}: {} keys, {} bytes, written in {:.2?}",
            info.keys,
            info.size_bytes,
            started.elapsed()
        );
        // One write, so the next snapshot has something new to cover.
        db.write(Batch::of(Op::set("loaded", "again")), Ack::Visible)?;
    }
    drop(db);
    std::fs::remove_dir_all(&path)?;
    Ok(())
}

/// Runs one `Visible` writer until `stop`; returns each write's latency.
fn timed_writes(db: &Db, prefix: &str, stop: &AtomicBool) -> Result<Vec<Duration>> {
    let mut latencies = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let key = format!("{prefix}{}", latencies.len());
        let started = Instant::now();
        db.set(key.as_bytes(), &VALUE)?;
        latencies.push(started.elapsed());
    }
    Ok(latencies)
}

fn print_latencies(label: &str, mut latencies: Vec<Duration>) {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "{label:<17} {:>8} writes  p50 {:>9.2?}  p99 {:>9.2?}  p99.9 {:>9.2?}  max {:>9.2?}",
        latencies.len(),
        at(0.5),
        at(0.99),
        at(0.999),
        at(1.0)
    );
}

fn snapshot_latency(dir: &Path, keys: u64) -> Result<()> {
    let path = dir.join(format!("latency-{keys}"));
    let db = load(&path, keys)?;
    let stop = Arc::new(AtomicBool::new(false));
    let (quiet, during, snapshot_time) = std::thread::scope(|scope| -> Result<_> {
        let writer = scope.spawn(|| timed_writes(&db, "quiet", &stop));
        std::thread::sleep(Duration::from_secs(2));
        stop.store(true, Ordering::Relaxed);
        let quiet = writer.join().expect("writer")?;
        stop.store(false, Ordering::Relaxed);
        let writer = scope.spawn(|| timed_writes(&db, "during", &stop));
        let started = Instant::now();
        let info = db.snapshot()?;
        let snapshot_time = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        let during = writer.join().expect("writer")?;
        println!(
            "snapshot: {} keys, {} bytes, written in {snapshot_time:.2?}",
            info.keys, info.size_bytes
        );
        Ok((quiet, during, snapshot_time))
    })?;
    print_latencies("no snapshot (2s)", quiet);
    print_latencies(&format!("during ({snapshot_time:.1?})"), during);
    drop(db);
    std::fs::remove_dir_all(&path)?;
    Ok(())
}

fn main() -> Result<()> {
    let args: Args = clap::Parser::parse();
    std::fs::create_dir_all(&args.dir)?;
    match args.bench {
        Bench::DurableWrites {
            backend,
            writers,
            rounds,
        } => durable_writes(&args.dir, backend, &writers, rounds),
        Bench::Restart { keys, log_writes } => restart(&args.dir, keys, log_writes),
        Bench::SnapshotCollections { keys, items } => snapshot_collections(&args.dir, keys, items),
        Bench::SnapshotLatency { keys } => snapshot_latency(&args.dir, keys),
    }
}
