//! The snapshot file: a 64-byte header, then an rkyv 0.8 archive of every key.
//!
//! ```text
//! offset 0   8   magic "CHIRSNAP"
//! offset 8   u32 format version
//! offset 12  u32 flags (0)
//! offset 16  u64 LSN: the snapshot holds the state after this batch
//! offset 24  u64 the database's hash seed
//! offset 32  u64 body length in bytes
//! offset 40  u32 CRC32C of the body
//! offset 60  u32 CRC32C of header bytes 0..60
//! offset 64  the body: an archived `Body`
//! ```
//!
//! The body's entries are sorted by (hash, key); a directory of `2^dir_bits + 1`
//! offsets maps the top bits of a hash to the run of entries that share them, so a
//! lookup is a directory read and a short run of entries, in place in the mapped file.

use rkyv::{Archive, Serialize};

/// The bytes a snapshot file starts with.
pub(crate) const MAGIC: &[u8; 8] = b"CHIRSNAP";
/// The format this code writes and reads.
pub(crate) const VERSION: u32 = 1;
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
    /// A set's members.
    Set(Vec<Vec<u8>>),
    /// A hash's fields and values.
    Hash(Vec<Pair>),
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
    pub(crate) lsn: u64,
    pub(crate) seed: u64,
    pub(crate) body_bytes: u64,
    pub(crate) body_crc: u32,
}

impl Header {
    /// The header's bytes.
    pub(crate) fn encode(&self) -> [u8; HEADER_BYTES] {
        let mut out = [0u8; HEADER_BYTES];
        out[..8].copy_from_slice(MAGIC);
        out[8..12].copy_from_slice(&VERSION.to_le_bytes());
        out[16..24].copy_from_slice(&self.lsn.to_le_bytes());
        out[24..32].copy_from_slice(&self.seed.to_le_bytes());
        out[32..40].copy_from_slice(&self.body_bytes.to_le_bytes());
        out[40..44].copy_from_slice(&self.body_crc.to_le_bytes());
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
        if u32_at(8) != VERSION {
            return Err("unsupported snapshot format version");
        }
        if u32_at(12) != 0 {
            return Err("unknown snapshot flags");
        }
        Ok(Header {
            lsn: u64_at(16),
            seed: u64_at(24),
            body_bytes: u64_at(32),
            body_crc: u32_at(40),
        })
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
