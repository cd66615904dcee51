//! The smart client against the plain client, in one run, on one in-process server
//! over loopback TCP:
//!
//! - cached `get` latency (each call timed) and throughput (all threads), against a
//!   plain client's GET round trip;
//! - propagation delay: another client SETs a key the smart client caches; from the
//!   moment that SET is acknowledged until the smart client's cache returns the new
//!   value (0 when the push beat the acknowledgement);
//! - write-behind `set`: what the call costs the caller, and the throughput until
//!   `flush` returns, against a plain client's SET round trip.
//!
//! Run: `cargo run --release -p chiral-benches --example smart_client -- --keys 10000`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use chiral_net::{Client, Config, Consistency, Server, SmartClient, SmartOptions, Value};

/// Smart client against plain client.
#[derive(clap::Parser)]
struct Args {
    /// Keys loaded and cached (values are 32 bytes).
    #[arg(long, default_value_t = 10_000)]
    keys: usize,
    /// Reads timed one by one, per client kind.
    #[arg(long, default_value_t = 20_000)]
    samples: usize,
    /// Reader threads in the throughput runs.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// How long each throughput run lasts, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    run_ms: u64,
    /// Updates whose propagation is timed.
    #[arg(long, default_value_t = 2000)]
    updates: usize,
    /// Writes timed one by one, per client kind.
    #[arg(long, default_value_t = 20_000)]
    writes: usize,
}

/// Starts a server in memory on a free port, on a runtime of its own.
fn start_server() -> Result<String> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let config = Config {
                bind: "127.0.0.1:0".parse().expect("an address"),
                ..Config::default()
            };
            let server = Server::bind(config).await.expect("the server starts");
            sender.send(server.local_addr()).expect("the bench waits");
            server.run().await;
        });
    });
    Ok(receiver
        .recv()
        .context("the server did not start")?
        .to_string())
}

fn key(i: usize) -> String {
    format!("key:{i:012}")
}

/// Percentiles of `samples` (sorted here), in nanoseconds.
fn percentiles(samples: &mut [u64]) -> (u64, u64, u64) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    (at(0.5), at(0.99), *samples.last().unwrap_or(&0))
}

fn micros(ns: u64) -> String {
    format!("{:.2} µs", ns as f64 / 1000.0)
}

/// Calls `op` on `threads` threads for `run_ms`; total calls per second.
fn throughput<C, F>(clients: Vec<C>, run_ms: u64, op: F) -> f64
where
    C: Send + 'static,
    F: Fn(&mut C, usize) + Send + Copy + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let threads: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(t, mut client)| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut done = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..64 {
                        op(&mut client, done.wrapping_mul(7919).wrapping_add(t));
                        done += 1;
                    }
                }
                done
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(run_ms));
    stop.store(true, Ordering::Relaxed);
    let total: usize = threads
        .into_iter()
        .map(|t| t.join().expect("a thread"))
        .sum();
    total as f64 / started.elapsed().as_secs_f64()
}

fn main() -> Result<()> {
    let args: Args = clap::Parser::parse();
    ensure!(args.keys > 0 && args.samples > 0 && args.threads > 0 && args.writes > 0);
    let addr = start_server()?;
    let value = [b'v'; 32];

    let mut plain = Client::connect(&addr)?;
    for chunk in (0..args.keys).collect::<Vec<_>>().chunks(1000) {
        let mut mset: Vec<Vec<u8>> = vec![b"MSET".to_vec()];
        for &i in chunk {
            mset.push(key(i).into_bytes());
            mset.push(value.to_vec());
        }
        ensure!(plain.command(&mset)? == Value::Simple("OK".into()));
    }

    // Plain GET round trips.
    let mut plain_get = Vec::with_capacity(args.samples);
    for n in 0..args.samples {
        let k = key(n.wrapping_mul(7919) % args.keys);
        let start = Instant::now();
        let reply = plain.command(&["GET", &k])?;
        plain_get.push(start.elapsed().as_nanos() as u64);
        ensure!(matches!(reply, Value::Bulk(_)));
    }
    let plain_get = percentiles(&mut plain_get);
    let keys = args.keys;
    let plain_clients = (0..args.threads)
        .map(|_| Client::connect(&addr))
        .collect::<Result<Vec<_>, _>>()?;
    let plain_rate = throughput(plain_clients, args.run_ms, move |client: &mut Client, n| {
        let k = key(n % keys);
        client.command(&["GET", &k]).expect("a reply");
    });

    // Cached gets: every key read once (a miss each), then timed.
    let options = SmartOptions {
        consistency: Consistency::Eventual {
            max_staleness: Duration::from_secs(1),
        },
        cache_max_keys: args.keys.max(1),
        ..SmartOptions::default()
    };
    let smart = SmartClient::connect(&addr, options)?;
    for i in 0..args.keys {
        ensure!(smart.get(key(i))?.is_some());
    }
    let misses = smart.stats().misses;
    let mut smart_get = Vec::with_capacity(args.samples);
    for n in 0..args.samples {
        let k = key(n.wrapping_mul(7919) % args.keys);
        let start = Instant::now();
        let found = smart.get(&k)?;
        smart_get.push(start.elapsed().as_nanos() as u64);
        ensure!(found.is_some());
    }
    let smart_get = percentiles(&mut smart_get);
    let smart_clients: Vec<SmartClient> = (0..args.threads).map(|_| smart.clone()).collect();
    // Both runs format the key inside the loop, alike.
    let smart_rate = throughput(
        smart_clients,
        args.run_ms,
        move |client: &mut SmartClient, n| {
            let k = key(n % keys);
            client.get(&k).expect("a value");
        },
    );
    let served_locally = smart.stats().misses == misses;

    // Propagation: B writes, A's cache follows.
    let mut writer = Client::connect(&addr)?;
    ensure!(smart.get(key(0))?.is_some());
    let mut delays = Vec::with_capacity(args.updates);
    for n in 0..args.updates {
        let new = format!("update-{n}");
        ensure!(writer.command(&["SET", &key(0), &new])? == Value::Simple("OK".into()));
        let acked = Instant::now();
        let deadline = acked + Duration::from_secs(5);
        while smart.get(key(0))?.as_deref() != Some(new.as_bytes()) {
            ensure!(Instant::now() < deadline, "update {n} never arrived");
            // Yield: on 2 cores a spinning reader would starve the threads that
            // deliver the push.
            std::thread::yield_now();
        }
        delays.push(acked.elapsed().as_nanos() as u64);
    }
    let delays = percentiles(&mut delays);

    // Write-behind sets against SET round trips.
    let writes = args.writes;
    let mut smart_set = Vec::with_capacity(writes);
    let started = Instant::now();
    for n in 0..writes {
        let k = key(n % args.keys);
        let start = Instant::now();
        smart.set(&k, value, None)?;
        smart_set.push(start.elapsed().as_nanos() as u64);
    }
    smart.flush()?;
    let smart_set_rate = writes as f64 / started.elapsed().as_secs_f64();
    let smart_set = percentiles(&mut smart_set);
    let mut plain_set = Vec::with_capacity(writes);
    let started = Instant::now();
    for n in 0..writes {
        let k = key(n % args.keys);
        let start = Instant::now();
        plain.command(&[&b"SET"[..], k.as_bytes(), &value[..]])?;
        plain_set.push(start.elapsed().as_nanos() as u64);
    }
    let plain_set_rate = writes as f64 / started.elapsed().as_secs_f64();
    let plain_set = percentiles(&mut plain_set);

    println!(
        "smart client vs plain client, {} keys, {} threads, loopback TCP, in-process server",
        args.keys, args.threads
    );
    println!("{:<34} {:>12} {:>12} {:>12}", "", "median", "p99", "max");
    let row = |name: &str, (p50, p99, max): (u64, u64, u64)| {
        println!(
            "{name:<34} {:>12} {:>12} {:>12}",
            micros(p50),
            micros(p99),
            micros(max)
        );
    };
    row("plain GET round trip", plain_get);
    row("smart get, cached", smart_get);
    row("propagation, ack to cache", delays);
    row("plain SET round trip", plain_set);
    row("smart set, write-behind call", smart_set);
    println!();
    println!(
        "get throughput: smart {:.0}/s, plain {:.0}/s: {:.0}x (served locally: {served_locally})",
        smart_rate,
        plain_rate,
        smart_rate / plain_rate
    );
    println!(
        "get median: plain / smart = {:.0}x",
        plain_get.0 as f64 / smart_get.0.max(1) as f64
    );
    println!(
        "set throughput to the last answer: smart {:.0}/s, plain {:.0}/s: {:.1}x",
        smart_set_rate,
        plain_set_rate,
        smart_set_rate / plain_set_rate
    );
    Ok(())
}
