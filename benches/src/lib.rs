//! What the read benches share: the keys of the 1M-key workload, the random walk
//! over them, and the paced writer that runs while a peer is read. The criterion
//! bench (`benches/reads.rs`) and the alternating comparison
//! (`examples/read_ratio.rs`) must read the same keys under the same writes, so
//! they take both from here.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Keys in the read workload.
pub const KEYS: usize = 1_000_000;
/// Every key's value: 32 bytes.
pub const VALUE: &[u8] = b"0123456789abcdef0123456789abcdef";
/// The background writer's pace: `WRITES_PER_TICK` ops every tick = 100k ops/s.
const WRITES_PER_TICK: usize = 100;
const TICK: Duration = Duration::from_millis(1);

/// Key `i`: `key:` and 12 decimal digits (16 bytes), written without allocating
/// (the benches measure lookups, not formatting).
pub fn key(mut i: usize) -> [u8; 16] {
    let mut key = *b"key:000000000000";
    for digit in key[4..].iter_mut().rev() {
        *digit = b'0' + (i % 10) as u8;
        i /= 10;
    }
    key
}

/// A key that is never stored, of the same length as `key(i)`.
pub fn miss_key(i: usize) -> [u8; 16] {
    let mut k = key(i);
    k[0] = b'K';
    k
}

/// The next key index of a cheap pseudo-random walk (xorshift) over `KEYS`.
pub fn next(x: &mut u64) -> usize {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    (*x % KEYS as u64) as usize
}

/// A thread that runs `write(i)` at 100k ops/s until dropped.
pub struct PacedWriter {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl PacedWriter {
    /// Starts writing key indexes `0, 1, 2, …` (wrapping at `KEYS`).
    pub fn start(mut write: impl FnMut(usize) + Send + 'static) -> PacedWriter {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut i = 0usize;
            let mut next_tick = Instant::now();
            while !stopped.load(Ordering::Relaxed) {
                for _ in 0..WRITES_PER_TICK {
                    write(i % KEYS);
                    i += 1;
                }
                next_tick += TICK;
                if let Some(wait) = next_tick.checked_duration_since(Instant::now()) {
                    thread::sleep(wait);
                }
            }
        });
        PacedWriter {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for PacedWriter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the paced writer does not panic");
        }
    }
}
