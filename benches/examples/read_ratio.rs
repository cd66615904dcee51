//! Point reads per second of chiral against dashmap, each under its own writer of
//! 100k ops/s, measured in alternating slices of one run, so that both peers meet the
//! same machine: on a shared VM the memory latency drifts by 2x over minutes, which
//! the criterion bench (`benches/reads.rs`, one peer after the other) cannot tell
//! from a difference between the peers. Prints every slice, each peer's median, and
//! the ratio of medians with the range of the per-round ratios.
//!
//! Same workload as the criterion bench (1M keys of 16 B, 32-byte values, uniformly
//! random keys, `chiral_benches`), on jemalloc as `chiral-server`.
//!
//! Run: `cargo run --release -p chiral-benches --example read_ratio -- --rounds 8`

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use chiral::{Ack, Batch, Db, Op, Options};
use chiral_benches::{KEYS, PacedWriter, VALUE, key, miss_key, next};
use dashmap::DashMap;

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Lookups between two checks of the stop flag.
const LOOKUPS_PER_CHECK: u64 = 1024;

/// Reads of chiral against dashmap in alternating slices.
#[derive(clap::Parser)]
struct Args {
    /// Reader thread counts to run.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 2])]
    threads: Vec<usize>,
    /// Rounds per thread count; each round reads each peer for one slice, the
    /// order alternating from round to round.
    #[arg(long, default_value_t = 8)]
    rounds: usize,
    /// The length of one slice.
    #[arg(long, default_value_t = 1000)]
    slice_ms: u64,
    /// Look up absent keys instead of present ones.
    #[arg(long)]
    miss: bool,
}

type DashPeer = Arc<DashMap<Box<[u8]>, Box<[u8]>, ahash::RandomState>>;

/// A peer being read.
#[derive(Clone)]
enum Peer {
    Chiral(Db),
    Dashmap(DashPeer),
}

impl Peer {
    fn name(&self) -> &'static str {
        match self {
            Peer::Chiral(_) => "chiral",
            Peer::Dashmap(_) => "dashmap",
        }
    }

    /// Starts this peer's own writer.
    fn writer(&self) -> PacedWriter {
        match self.clone() {
            Peer::Chiral(db) => PacedWriter::start(move |i| {
                db.write(Batch::of(Op::set(key(i), VALUE)), Ack::Eventual)
                    .expect("an in-memory write succeeds");
            }),
            Peer::Dashmap(map) => PacedWriter::start(move |i| {
                map.insert(key(i).into(), VALUE.into());
            }),
        }
    }

    /// Looks keys up until `stop`; returns how many it looked up.
    fn read_until(&self, stop: &AtomicBool, seed: u64, miss: bool) -> u64 {
        let mut x = seed;
        let mut pick = move || match miss {
            false => key(next(&mut x)),
            true => miss_key(next(&mut x)),
        };
        let mut lookups = 0;
        match self {
            Peer::Chiral(db) => {
                let reader = db.reader();
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..LOOKUPS_PER_CHECK {
                        let found = reader.get_with(&pick(), |value| value.len());
                        black_box(found.ok().flatten().is_some());
                    }
                    lookups += LOOKUPS_PER_CHECK;
                }
            }
            Peer::Dashmap(map) => {
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..LOOKUPS_PER_CHECK {
                        black_box(map.get(&pick()[..]).map(|value| value.len()).is_some());
                    }
                    lookups += LOOKUPS_PER_CHECK;
                }
            }
        }
        lookups
    }

    /// Lookups per second of `threads` readers over one slice, under the writer.
    fn measure(&self, threads: usize, slice: Duration, miss: bool) -> f64 {
        let _writer = self.writer();
        let stop = AtomicBool::new(false);
        let started = Instant::now();
        let lookups: u64 = thread::scope(|scope| {
            let readers: Vec<_> = (0..threads)
                .map(|t| {
                    let stop = &stop;
                    scope.spawn(move || self.read_until(stop, 0x9E37_79B9 ^ (t as u64 + 1), miss))
                })
                .collect();
            thread::sleep(slice);
            stop.store(true, Ordering::Relaxed);
            readers
                .into_iter()
                .map(|reader| reader.join().expect("a reader does not panic"))
                .sum()
        });
        lookups as f64 / started.elapsed().as_secs_f64()
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    match sorted.len() % 2 {
        1 => sorted[middle],
        _ => (sorted[middle - 1] + sorted[middle]) / 2.0,
    }
}

fn main() -> anyhow::Result<()> {
    let args: Args = clap::Parser::parse();
    anyhow::ensure!(args.rounds > 0, "--rounds must be at least 1");
    let db = Db::open_in_memory(Options::default())?;
    let dash: DashPeer = Arc::new(DashMap::with_hasher(ahash::RandomState::new()));
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(10_000) {
        let batch = chunk
            .iter()
            .fold(Batch::new(), |batch, &i| batch.with(Op::set(key(i), VALUE)));
        db.write(batch, Ack::Eventual)?;
        for &i in chunk {
            dash.insert(key(i).into(), VALUE.into());
        }
    }
    db.write(Batch::new(), Ack::Visible)?;
    let peers = [Peer::Chiral(db), Peer::Dashmap(dash)];
    let slice = Duration::from_millis(args.slice_ms);
    let kind = if args.miss { "miss" } else { "hit" };
    for &threads in &args.threads {
        let mut rates = [Vec::new(), Vec::new()];
        for round in 0..args.rounds {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for index in order {
                let rate = peers[index].measure(threads, slice, args.miss);
                rates[index].push(rate);
            }
            println!(
                "{kind}, {threads} thread(s), round {round}: chiral {:.2} M/s, dashmap {:.2} M/s ({:.2}x)",
                rates[0][round] / 1e6,
                rates[1][round] / 1e6,
                rates[0][round] / rates[1][round]
            );
        }
        let ratios: Vec<f64> = rates[0].iter().zip(&rates[1]).map(|(c, d)| c / d).collect();
        let lowest = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let highest = ratios.iter().copied().fold(0.0, f64::max);
        println!(
            "{kind}, {threads} thread(s), median of {} rounds: {} {:.2} M/s, {} {:.2} M/s; ratio {:.2}x (rounds {lowest:.2}x to {highest:.2}x)",
            args.rounds,
            peers[0].name(),
            median(&rates[0]) / 1e6,
            peers[1].name(),
            median(&rates[1]) / 1e6,
            median(&rates[0]) / median(&rates[1]),
        );
    }
    Ok(())
}
