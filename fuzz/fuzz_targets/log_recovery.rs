//! Log recovery from arbitrary bytes: opening a directory whose log segment holds
//! anything must end in a database or a clear error, never a panic, a hang or an
//! unbounded allocation.
//!
//! The first input byte picks the mode. Bit 0 clear: the rest is the segment's body
//! after a valid header (framing, torn tails, holes, checksums). Bit 0 set: the rest
//! is a list of payloads (`u16` little-endian length, then the bytes), each framed
//! here with a correct checksum and the next LSN, so the fuzzer reaches the payload
//! decoder and the replay of whatever operations it decodes. Bit 1 picks the segment
//! format: clear, format 1 (16-byte record headers); set, format 2 (24 bytes, with a
//! synced LSN, which the framed mode sets from the payload's length: the LSN before
//! for an even one, 0 for an odd one). Bit 2 set splits the segment in two files at
//! the point the top four bits pick (sixteenths of its body), so that recovery meets
//! holes and damage across segments: the second file is named for the LSN where a
//! first record's would be, and gets a valid header of its own if bit 3 is set (else
//! its bytes stand as they are, a header the split may have damaged).
#![no_main]

use chiral::{Db, FsyncPolicy, IoBackend, Limits, Options, ScanFilter};
use libfuzzer_sys::fuzz_target;

/// The size of a segment's header.
const HEADER_BYTES: usize = 16;

fn segment_header(version: u32) -> Vec<u8> {
    let mut header = b"CHIRALOG".to_vec();
    header.extend_from_slice(&version.to_le_bytes());
    let crc = crc32c::crc32c(&header);
    header.extend_from_slice(&crc.to_le_bytes());
    header
}

fn frame(out: &mut Vec<u8>, version: u32, lsn: u64, payload: &[u8]) {
    let mut head = Vec::with_capacity(20);
    head.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    head.extend_from_slice(&lsn.to_le_bytes());
    if version == 2 {
        let synced_lsn = if payload.len() % 2 == 0 { lsn - 1 } else { 0 };
        head.extend_from_slice(&synced_lsn.to_le_bytes());
    }
    let crc = crc32c::crc32c_append(crc32c::crc32c(&head), payload);
    out.extend_from_slice(&head);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(payload);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let version = if mode & 2 == 0 { 1 } else { 2 };
    let mut segment = segment_header(version);
    if mode & 1 == 0 {
        segment.extend_from_slice(rest);
    } else {
        let mut rest = rest;
        let mut lsn = 1;
        while let Some((len, tail)) = rest.split_first_chunk::<2>() {
            let len = usize::from(u16::from_le_bytes(*len)).min(tail.len());
            let (payload, tail) = tail.split_at(len);
            frame(&mut segment, version, lsn, payload);
            lsn += 1;
            rest = tail;
        }
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    if mode & 4 != 0 {
        let body_bytes = segment.len() - HEADER_BYTES;
        let split = HEADER_BYTES + body_bytes * usize::from(mode >> 4) / 16;
        let mut second = match mode & 8 {
            0 => Vec::new(),
            _ => segment_header(version),
        };
        second.extend_from_slice(&segment[split..]);
        segment.truncate(split);
        let lsn = second
            .get(HEADER_BYTES + 4..HEADER_BYTES + 12)
            .map_or(2, |bytes| {
                u64::from_le_bytes(bytes.try_into().expect("8 bytes"))
            })
            .clamp(2, 1 << 40);
        std::fs::write(dir.path().join(format!("wal-{lsn:020}.log")), &second)
            .expect("the second segment is written");
    }
    std::fs::write(dir.path().join("wal-00000000000000000001.log"), &segment)
        .expect("the segment is written");
    let options = Options {
        // Read-only: recovery reads and replays but writes no file.
        read_only: true,
        io_backend: IoBackend::Std,
        fsync: FsyncPolicy::Never,
        limits: Limits {
            max_key_bytes: 1024,
            max_value_bytes: 64 * 1024,
            max_batch_ops: 1024,
        },
        ..Options::default()
    };
    if let Ok(db) = Db::open(dir.path(), options) {
        let reader = db.reader();
        let page = reader.scan(0, 100, ScanFilter::default()).unwrap();
        for key in page.keys {
            let _ = reader.record(&key).unwrap();
        }
    }
});
