//! Opening a snapshot file of arbitrary bytes through the validating path must end
//! in a database or a clear error, never a panic or undefined behavior.
//!
//! The input is the snapshot's body; the target frames it with a correct header and
//! block table (so the fuzzer gets past the checksums to rkyv's validation and the
//! directory checks) unless the first byte is 0xff, in which case the whole input is
//! the file. The framing says the current format 5 for bodies of even length and
//! format 4 for odd ones, which the open converts (in memory: the open is read-only)
//! after validating it. A file that opens through the validating path reads without
//! errors (but a document may still fail to decode against its schema: a clear
//! error).
#![no_main]

use chiral::{Db, IoBackend, Options, ScanFilter};
use libfuzzer_sys::fuzz_target;

/// log2 of the block size the framing uses (what the engine writes).
const BLOCK_BITS: u32 = 14;

fn framed(body: &[u8]) -> Vec<u8> {
    let table: Vec<u8> = body
        .chunks(1 << BLOCK_BITS)
        .flat_map(|block| crc32c::crc32c(block).to_le_bytes())
        .collect();
    let mut header = [0u8; 64];
    header[..8].copy_from_slice(b"CHIRSNAP");
    let version: u32 = if body.len() % 2 == 0 { 5 } else { 4 };
    header[8..12].copy_from_slice(&version.to_le_bytes());
    header[16..24].copy_from_slice(&1u64.to_le_bytes());
    header[32..40].copy_from_slice(&(body.len() as u64).to_le_bytes());
    header[40..44].copy_from_slice(&crc32c::crc32c(&table).to_le_bytes());
    header[44..48].copy_from_slice(&BLOCK_BITS.to_le_bytes());
    let crc = crc32c::crc32c(&header[..60]);
    header[60..64].copy_from_slice(&crc.to_le_bytes());
    let mut file = header.to_vec();
    file.extend_from_slice(body);
    file.extend_from_slice(&table);
    file
}

fuzz_target!(|data: &[u8]| {
    let file = match data.split_first() {
        Some((0xff, rest)) => rest.to_vec(),
        _ => framed(data),
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("snap-00000000000000000001.chiral"), &file)
        .expect("the snapshot is written");
    let options = Options {
        read_only: true,
        validate_snapshots: true,
        io_backend: IoBackend::Std,
        ..Options::default()
    };
    if let Ok(db) = Db::open(dir.path(), options) {
        let reader = db.reader();
        let _ = reader.len();
        let page = reader.scan(0, 1000, ScanFilter::default()).unwrap();
        for key in page.keys {
            let _ = reader.record(&key).unwrap();
            let _ = reader.get(&key);
            // The in-place lookups of collections (the validating path refuses a
            // file whose sets or hashes are out of order: lookups bisect them).
            let _ = reader.hget(&key, b"field");
            let _ = reader.hlen(&key);
            let _ = reader.sismember(&key, b"member");
            let _ = reader.lindex(&key, -1);
            let _ = reader.lrange(&key, 0, 2);
        }
        let _ = reader.get(b"probe");
        // Documents decode against the catalog the file carries, or fail cleanly.
        for collection in reader.collections() {
            let page = reader.scan_documents(&collection.name, 0, 1000).unwrap();
            for id in page.keys {
                let _ = reader.document(&collection.name, &id, &[]);
            }
        }
    }
});
