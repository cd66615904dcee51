//! The snapshot file: a 64-byte header, an rkyv 0.8 archive of every key, and a
//! table of block checksums.
//!
//! ```text
//! offset 0   8   magic "CHIRSNAP"
//! offset 8   u32 format version
//! offset 12  u32 flags (0)
//! offset 16  u64 LSN: the snapshot holds the state after this batch
//! offset 24  u64 the database's hash seed
//! offset 32  u64 body length in bytes
//! offset 40  u32 CRC32C of the block table
//! offset 44  u32 log2 of the block size in bytes
//! offset 60  u32 CRC32C of header bytes 0..60
//! offset 64  the body: an archived `Body`
//! then       the block table: the CRC32C of each block of the body, u32 LE each
//! ```
//!
//! The body is checksummed in blocks so that opening does not read the whole file:
//! the header and the block table are checked at open, and each block is checked the
//! first time a read touches it (see `snapshot::blocks`).
//!
//! The body's entries are sorted by (hash, key); a directory of `2^dir_bits + 1`
//! offsets maps the top bits of a hash to the run of entries that share them, so a
//! lookup is a directory read and a short run of entries, in place in the mapped file.
//!
//! From format 4 on, a set's members and a hash's pairs are sorted by their bytes
//! (a hash's by field), so a member or field is found by binary search in place.
//! Format 3 files, whose collections are in no order, are still read: their
//! collections are searched from end to end.

use rkyv::{Archive, Serialize};

/// The bytes a snapshot file starts with.
pub(crate) const MAGIC: &[u8; 8] = b"CHIRSNAP";
/// The format this code writes.
pub(crate) const VERSION: u32 = 4;
/// The formats this code reads.
const VERSIONS_READ: std::ops::RangeInclusive<u32> = 3..=VERSION;
/// The first format whose sets and hashes are sorted.
const FIRST_SORTED_VERSION: u32 = 4;
/// log2 of the size of a checksummed block of the body (16 KiB): what the first read
/// of a key may have to check.
pub(crate) const BLOCK_BITS: u32 = 14;
/// The block sizes a reader accepts (log2): 4 KiB to 16 MiB.
const BLOCK_BITS_ACCEPTED: std::ops::RangeInclusive<u32> = 12..=24;
/// The header's size; the body starts here (aligned for the archive).
pub(crate) const HEADER_BYTES: usize = 64;

/// The archived state.
#[derive(Archive, Serialize)]
pub(crate) struct Body {
    /// Every key, sorted by (hash, key).
    pub(crate) entries: Vec<SnapEntry>,
    /// How many top hash bits the directory uses.
    pub(crate) dir_bits: u32,
    /// `dir[b]..dir[b + 1]` are the entries whose hash's top `dir_bits` bits are `b`.
    pub(crate) dir: Vec<u32>,
    /// Positions of the entries that have an expiry time (the commit thread indexes
    /// them at open without reading every entry).
    pub(crate) expiring: Vec<u32>,
    /// The schemas and collections, encoded by `doc::catalog` (decoded and checked
    /// at open).
    pub(crate) catalog: Vec<u8>,
}

/// One key.
#[derive(Archive, Serialize)]
pub(crate) struct SnapEntry {
    /// The key's hash with the snapshot's seed.
    pub(crate) hash: u64,
    /// The key.
    pub(crate) key: Vec<u8>,
    /// The LSN of the key's last write.
    pub(crate) version: u64,
    /// When the key expires (ms since the epoch); 0 for never.
    pub(crate) expires_at_ms: u64,
    /// The value.
    pub(crate) value: SnapValue,
}

/// A value.
#[derive(Archive, Serialize)]
pub(crate) enum SnapValue {
    /// A byte string.
    Bytes(Vec<u8>),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A list, head first.
    List(Vec<Vec<u8>>),
    /// A set's members, sorted (format 4 on).
    Set(Vec<Vec<u8>>),
    /// A hash's fields and values, sorted by field (format 4 on).
    Hash(Vec<Pair>),
    /// A document: its collection's number and its encoded fields (`doc::codec`).
    Doc {
        /// The collection's number in the catalog.
        collection: u32,
        /// The encoded fields.
        data: Vec<u8>,
    },
}

/// A hash field and its value.
#[derive(Archive, Serialize)]
pub(crate) struct Pair {
    /// The field.
    pub(crate) field: Vec<u8>,
    /// Its value.
    pub(crate) value: Vec<u8>,
}

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// The format version.
    pub(crate) version: u32,
    pub(crate) lsn: u64,
    pub(crate) seed: u64,
    pub(crate) body_bytes: u64,
    /// CRC32C of the block table.
    pub(crate) table_crc: u32,
    /// log2 of the block size.
    pub(crate) block_bits: u32,
}

impl Header {
    /// The header's bytes.
    pub(crate) fn encode(&self) -> [u8; HEADER_BYTES] {
        let mut out = [0u8; HEADER_BYTES];
        out[..8].copy_from_slice(MAGIC);
        out[8..12].copy_from_slice(&self.version.to_le_bytes());
        out[16..24].copy_from_slice(&self.lsn.to_le_bytes());
        out[24..32].copy_from_slice(&self.seed.to_le_bytes());
        out[32..40].copy_from_slice(&self.body_bytes.to_le_bytes());
        out[40..44].copy_from_slice(&self.table_crc.to_le_bytes());
        out[44..48].copy_from_slice(&self.block_bits.to_le_bytes());
        let crc = crc32c::crc32c(&out[..60]);
        out[60..64].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Reads and checks a header; the reason it is wrong, if it is.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Header, &'static str> {
        let Some(header) = bytes.get(..HEADER_BYTES) else {
            return Err("the file is shorter than a snapshot header");
        };
        if &header[..8] != MAGIC {
            return Err("not a Chiral snapshot (bad magic)");
        }
        let u32_at =
            |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().expect("4 bytes"));
        let u64_at =
            |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().expect("8 bytes"));
        if u32_at(60) != crc32c::crc32c(&header[..60]) {
            return Err("the snapshot header's checksum does not match");
        }
        if !VERSIONS_READ.contains(&u32_at(8)) {
            return Err("unsupported snapshot format version");
        }
        if u32_at(12) != 0 {
            return Err("unknown snapshot flags");
        }
        if !BLOCK_BITS_ACCEPTED.contains(&u32_at(44)) {
            return Err("unsupported snapshot block size");
        }
        Ok(Header {
            version: u32_at(8),
            lsn: u64_at(16),
            seed: u64_at(24),
            body_bytes: u64_at(32),
            table_crc: u32_at(40),
            block_bits: u32_at(44),
        })
    }

    /// Whether the file's sets and hashes are sorted (searched by bisection).
    pub(crate) fn sorted_collections(&self) -> bool {
        self.version >= FIRST_SORTED_VERSION
    }

    /// The number of blocks (and table entries) of the body.
    pub(crate) fn blocks(&self) -> u64 {
        self.body_bytes.div_ceil(1 << self.block_bits)
    }
}

/// The directory size for `entries` keys: about one bucket per key, at most 2^26.
pub(crate) fn dir_bits_for(entries: usize) -> u32 {
    (usize::BITS - entries.leading_zeros()).min(26)
}

/// The directory bucket of `hash`.
#[inline]
pub(crate) fn bucket_of(hash: u64, dir_bits: u32) -> usize {
    if dir_bits == 0 {
        0
    } else {
        (hash >> (64 - dir_bits)) as usize
    }
}
