//! A deterministic write workload for counting instructions under callgrind, where
//! wall-clock benches on a shared VM are too noisy to see small changes (back-to-back
//! runs of the same code differ by ~20% there; instruction counts by ~0.5%).
//!
//! 50,000 single-op SETs of 16-byte keys (cycling over 20,000) and 32-byte values, each
//! acknowledged `Visible` (or `Eventual`, with `EVENTUAL=1`, then one `Visible` fence).
//!
//! ```sh
//! cargo build --release -p chiral-benches --example commit_path
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out target/release/examples/commit_path
//! callgrind_annotate /tmp/cg.out | head -30
//! ```

use chiral::{Ack, Batch, Db, Op, Options};

const WRITES: u64 = 50_000;
const DISTINCT_KEYS: u64 = 20_000;
const VALUE: &[u8] = b"0123456789abcdef0123456789abcdef";

fn main() {
    let db = Db::open_in_memory(Options::default()).expect("open");
    let ack = if std::env::var_os("EVENTUAL").is_some() {
        Ack::Eventual
    } else {
        Ack::Visible
    };
    let mut key = *b"key:000000000000";
    for i in 0..WRITES {
        let mut n = i % DISTINCT_KEYS;
        for digit in key[4..].iter_mut().rev() {
            *digit = b'0' + (n % 10) as u8;
            n /= 10;
        }
        db.write(Batch::of(Op::set(key, VALUE)), ack)
            .expect("write");
    }
    db.write(Batch::new(), Ack::Visible).expect("fence");
}
