//! Opens (or recovers) a Chiral database in `./data`, loads keys into it, reads them
//! from several threads while a writer commits atomic batches, watches a prefix, and
//! prints what happened. Run it twice: the second run starts from what the first
//! one wrote.
//!
//! Run: `cargo run --release -p chiral --example quickstart -- --keys 1000000 --data ./data`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use chiral::{Ack, Batch, Db, Op, Options, WatchEvent};

/// Loads keys into a database, reads them from several threads while a writer
/// commits batches, and watches a prefix.
#[derive(clap::Parser)]
struct Args {
    /// Keys to load.
    #[arg(long, default_value_t = 200_000)]
    keys: u64,
    /// The data directory (created if missing, recovered if not).
    #[arg(long, default_value = "./data")]
    data: String,
}

fn main() -> Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let Args { keys, data } = clap::Parser::parse();
    let started = Instant::now();
    let db = Db::open(&data, Options::default())?;
    println!(
        "opened {data} in {:.2?}: {} keys recovered",
        started.elapsed(),
        db.reader().len()
    );

    // Load: batches of 1,000 SETs, each batch atomic.
    let started = Instant::now();
    for chunk in (0..keys).collect::<Vec<_>>().chunks(1_000) {
        let batch = chunk.iter().fold(Batch::new(), |batch, i| {
            batch.with(Op::set(
                format!("user:{i:08}"),
                format!("{{\"id\":{i},\"visits\":0}}").as_str(),
            ))
        });
        db.write(batch, Ack::Eventual)?;
    }
    db.write(Batch::of(Op::set("loaded", "yes")), Ack::Visible)?;
    let load = started.elapsed();
    println!(
        "loaded {keys} keys in {load:.2?} ({:.0} keys/s)",
        keys as f64 / load.as_secs_f64()
    );

    // Watch one prefix while we work.
    let watched = Arc::new(AtomicU64::new(0));
    let _watch = {
        let watched = Arc::clone(&watched);
        db.watch(b"counter:", move |event| {
            if let WatchEvent::Change { .. } = event {
                watched.fetch_add(1, Ordering::Relaxed);
            }
        })?
    };

    // Readers hammer random keys while one writer commits pairs of counters.
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|t| {
            let reader = db.reader();
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let (mut hits, mut x) = (0u64, 0x9E37_79B9_7F4A_7C15u64 ^ t);
                while !stop.load(Ordering::Relaxed) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let key = format!("user:{:08}", x % keys.max(1));
                    if reader
                        .get_with(key.as_bytes(), |v| v.len())
                        .ok()
                        .flatten()
                        .is_some()
                    {
                        hits += 1;
                    }
                }
                hits
            })
        })
        .collect();
    let writes_started = Instant::now();
    let mut commits = 0u64;
    while writes_started.elapsed() < Duration::from_secs(1) {
        let batch = Batch::new()
            .with(Op::incr_by("counter:a", 1))
            .with(Op::incr_by("counter:b", 1));
        db.write(batch, Ack::Visible)?;
        commits += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let hits: u64 = readers
        .into_iter()
        .map(|r| r.join().expect("reader thread"))
        .sum();

    let reader = db.reader();
    let a = reader.get(b"counter:a")?.unwrap_or_default();
    let b = reader.get(b"counter:b")?.unwrap_or_default();
    println!(
        "2 reader threads: {hits} hits in 1 s while the writer committed {commits} visible batches"
    );
    println!(
        "counter:a = {}, counter:b = {} (always equal: batches are atomic)",
        String::from_utf8_lossy(&a),
        String::from_utf8_lossy(&b)
    );
    std::thread::sleep(Duration::from_millis(100));
    println!(
        "the watch on counter:* saw {} changes",
        watched.load(Ordering::Relaxed)
    );
    println!("keys in the database: {}", reader.len());
    db.close();
    Ok(())
}
