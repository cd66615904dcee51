//! The C ABI's reads against the Rust API's, in one run: what a C program pays per
//! GET for the boundary (argument checks, the panic guard, status codes).
//!
//! Both sides read one database (the C side through a handle to it), the same random
//! sequence of existing keys, every variant bringing the value's bytes into the cache
//! (copying them, or reading the first byte in place). Two modes:
//!
//! - independent reads: the next key does not depend on the last value, so the CPU
//!   overlaps the cache misses of several reads; fewer instructions per read let it
//!   overlap more (throughput).
//! - dependent reads: the next key is chosen with a byte of the last value, so reads
//!   run one after another (latency, as in code that acts on each value).
//!
//! Variants run interleaved round by round so machine noise spreads over all; the best
//! round of each is reported with its ratio to the Rust API's `Reader::get`. The C
//! functions are called through their `extern "C"` signatures, as a C caller calls
//! them (the library is not inlined into this program).
//!
//! Run: `cargo run --release -p chiral-benches --example c_abi_get -- --keys 1000000`

use std::ptr::{null, null_mut};
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use chiral::{Ack, Batch, Db, Op, Options, Reader};
use chiral_ffi::{
    CHIRAL_OK, chiral_db, chiral_db_free, chiral_get, chiral_reader, chiral_reader_free,
    chiral_reader_new, chiral_view, chiral_view_free, chiral_view_get, chiral_view_open,
};

/// C ABI reads against the Rust API's.
#[derive(clap::Parser)]
struct Args {
    /// Keys loaded (values are 32 bytes).
    #[arg(long, default_value_t = 1_000_000)]
    keys: usize,
    /// Reads per variant per round.
    #[arg(long, default_value_t = 1_000_000)]
    reads: usize,
    /// Rounds; the best of each variant counts.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
}

/// What the variants read with.
struct Handles {
    rust: Reader,
    c: *mut chiral_reader,
    /// The view of the held-view variant, and how many reads it has served.
    view: *mut chiral_view,
    view_reads: usize,
}

/// Reads per view in the held-view variant.
const READS_PER_VIEW: usize = 64;

/// One way of reading a key: returns the value's first byte.
type Read = fn(&mut Handles, &[u8]) -> u8;

fn rust_get(handles: &mut Handles, key: &[u8]) -> u8 {
    handles.rust.get(key).unwrap().unwrap()[0]
}

fn rust_get_in_place(handles: &mut Handles, key: &[u8]) -> u8 {
    handles
        .rust
        .get_with(key, |value| value[0])
        .unwrap()
        .unwrap()
}

fn c_get_copy(handles: &mut Handles, key: &[u8]) -> u8 {
    let mut buf = [0u8; 64];
    let mut len = 0usize;
    // SAFETY: a live reader; `key` and `buf` are live slices of their lengths.
    let status = unsafe {
        chiral_get(
            handles.c,
            key.as_ptr(),
            key.len(),
            buf.as_mut_ptr(),
            buf.len(),
            &mut len,
        )
    };
    assert_eq!(status, CHIRAL_OK);
    buf[0]
}

fn view_get(view: *mut chiral_view, key: &[u8]) -> u8 {
    let (mut data, mut len) = (null(), 0usize);
    // SAFETY: a live view; `key` is a live slice.
    let status = unsafe { chiral_view_get(view, key.as_ptr(), key.len(), &mut data, &mut len) };
    assert!(status == CHIRAL_OK && len > 0);
    // SAFETY: the view keeps `len` bytes at `data` valid until it is freed.
    unsafe { *data }
}

fn c_view_per_get(handles: &mut Handles, key: &[u8]) -> u8 {
    let mut view = null_mut();
    // SAFETY: a live reader; the view is freed right after its one read.
    unsafe {
        assert_eq!(chiral_view_open(handles.c, &mut view), CHIRAL_OK);
        let byte = view_get(view, key);
        chiral_view_free(view);
        byte
    }
}

fn c_view_held(handles: &mut Handles, key: &[u8]) -> u8 {
    if handles.view_reads == READS_PER_VIEW {
        // SAFETY: the open view, freed once.
        unsafe { chiral_view_free(handles.view) };
        handles.view = null_mut();
    }
    if handles.view.is_null() {
        // SAFETY: a live reader; the view is freed by a later call or by `main`.
        let status = unsafe { chiral_view_open(handles.c, &mut handles.view) };
        assert_eq!(status, CHIRAL_OK);
        handles.view_reads = 0;
    }
    handles.view_reads += 1;
    view_get(handles.view, key)
}

/// Runs every read of one round; returns the sum of the first bytes read.
fn round(handles: &mut Handles, read: Read, keys: &Keys, order: &[usize], dependent: bool) -> u64 {
    let mut last = 0usize;
    let mut sum = 0u64;
    for &pick in order {
        let index = if dependent {
            (pick + last) % keys.len()
        } else {
            pick
        };
        let byte = read(handles, keys.get(index));
        last = usize::from(byte);
        sum += u64::from(byte);
    }
    sum
}

/// Every key, 16 bytes each, in one allocation (one cache miss to find a key).
struct Keys(Vec<u8>);

/// The length of every key.
const KEY_BYTES: usize = 16;

impl Keys {
    fn new(count: usize) -> Keys {
        Keys(
            (0..count)
                .flat_map(|i| format!("key:{i:012}").into_bytes())
                .collect(),
        )
    }

    fn len(&self) -> usize {
        self.0.len() / KEY_BYTES
    }

    fn get(&self, index: usize) -> &[u8] {
        &self.0[index * KEY_BYTES..][..KEY_BYTES]
    }
}

/// A fixed pseudo-random sequence of key indexes.
fn order(keys: usize, reads: usize) -> Vec<usize> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..reads)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % keys as u64) as usize
        })
        .collect()
}

fn main() -> Result<()> {
    let args: Args = clap::Parser::parse();
    let keys = Keys::new(args.keys);
    let value = [b'v'; 32];
    let db = Db::open_in_memory(Options::default())?;
    for chunk in keys.0.chunks(10_000 * KEY_BYTES) {
        let batch = chunk.chunks(KEY_BYTES).fold(Batch::new(), |batch, key| {
            batch.with(Op::set(key, &value[..]))
        });
        db.write(batch, Ack::Visible)?;
    }
    // Both sides read the same database: the C side through a handle to it.
    let db_handle: *mut chiral_db = chiral_db::into_raw(db.clone());
    let mut c_reader = null_mut();
    // SAFETY: a live database; the reader is freed at the end.
    ensure!(unsafe { chiral_reader_new(db_handle, &mut c_reader) } == CHIRAL_OK);
    let mut handles = Handles {
        rust: db.reader(),
        c: c_reader,
        view: null_mut(),
        view_reads: 0,
    };
    let order = order(args.keys, args.reads);
    let variants: [(&str, Read); 5] = [
        ("Rust Reader::get (copy to Vec)", rust_get),
        ("Rust Reader::get_with (in place)", rust_get_in_place),
        ("C chiral_get (copy to buffer)", c_get_copy),
        ("C view open + get + free", c_view_per_get),
        ("C chiral_view_get, 64 per view", c_view_held),
    ];
    println!(
        "{} keys, {} random reads per round, best of {} rounds",
        args.keys, args.reads, args.rounds
    );
    for dependent in [false, true] {
        let mut best = [Duration::MAX; 5];
        for _ in 0..args.rounds {
            for (i, (_, read)) in variants.iter().enumerate() {
                let started = Instant::now();
                let sum = round(&mut handles, *read, &keys, &order, dependent);
                best[i] = best[i].min(started.elapsed());
                ensure!(
                    sum == order.len() as u64 * u64::from(b'v'),
                    "every read found its value"
                );
            }
        }
        let per_read = |elapsed: Duration| elapsed.as_nanos() as f64 / order.len() as f64;
        let rust_ns = per_read(best[0]);
        println!();
        let mode = if dependent {
            "dependent reads"
        } else {
            "independent reads"
        };
        println!("{mode:<36} {:>10} {:>14}", "ns/read", "vs Rust get");
        for (i, (name, _)) in variants.iter().enumerate() {
            let ns = per_read(best[i]);
            println!("{name:<36} {ns:>10.1} {:>13.2}x", ns / rust_ns);
        }
    }
    // SAFETY: live handles, each freed once.
    unsafe {
        chiral_view_free(handles.view);
        chiral_reader_free(c_reader);
        chiral_db_free(db_handle);
    }
    Ok(())
}
