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
//! An entry keeps only the top 32 bits of its hash, enough to pass over the other
//! keys of its run without reading them; the full hash is computed from the key when
//! needed (scans). Expiry times live in a table on the side, since most keys have
//! none: an entry says whether it is listed there.
//!
//! A set's members and a hash's pairs are sorted by their bytes (a hash's by field),
//! so a member or field is found by binary search in place.
//!
//! Formats 3 and 4 stored the whole hash and the expiry time in every entry (48 bytes
//! against 32), and format 3 left collections unsorted; `legacy` reads them once to
//! write them again in this format.

use std::borrow::Cow;

use rkyv::rancor::Fallible;
use rkyv::ser::{Allocator, Writer};
use rkyv::vec::{ArchivedVec, VecResolver};
use rkyv::{Archive, Place, Serialize};

use super::legacy::FIRST_LEGACY_VERSION;

/// The bytes a snapshot file starts with.
pub(crate) const MAGIC: &[u8; 8] = b"CHIRSNAP";
/// The format this code writes and reads in place.
pub(crate) const VERSION: u32 = 5;
/// The formats whose header this code reads: older ones are converted at open.
const VERSIONS_READ: std::ops::RangeInclusive<u32> = FIRST_LEGACY_VERSION..=VERSION;
/// log2 of the size of a checksummed block of the body (16 KiB): what the first read
/// of a key may have to check.
pub(crate) const BLOCK_BITS: u32 = 14;
/// The block sizes a reader accepts (log2): 4 KiB to 16 MiB.
const BLOCK_BITS_ACCEPTED: std::ops::RangeInclusive<u32> = 12..=24;
/// The header's size; the body starts here (aligned for the archive).
pub(crate) const HEADER_BYTES: usize = 64;

// The owned types below are the format's schema: rkyv derives from them the archived
// types a snapshot file holds and that reads use in place. The writer does not build
// them (that would copy every key and value of the database); it archives their
// borrowed twins (`BodyRef`, `SnapEntryRef`, ...) as the same archived types, and
// the tests archive the owned ones to check that both write the same bytes.

/// The archived state.
#[derive(Archive, Serialize)]
#[cfg_attr(
    not(test),
    expect(
        dead_code,
        reason = "the schema: the writer archives its borrowed twin"
    )
)]
pub(crate) struct Body {
    /// Every key, sorted by (hash, key).
    pub(crate) entries: Vec<SnapEntry>,
    /// How many top hash bits the directory uses.
    pub(crate) dir_bits: u32,
    /// `dir[b]..dir[b + 1]` are the entries whose hash's top `dir_bits` bits are `b`.
    pub(crate) dir: Vec<u32>,
    /// The expiry times, by entry position (ascending): the entries whose stamp has
    /// [`EXPIRES`] set, and only those.
    pub(crate) expiring: Vec<Expiry>,
    /// The schemas and collections, encoded by `doc::catalog` (decoded and checked
    /// at open).
    pub(crate) catalog: Vec<u8>,
}

/// One key: 32 bytes in the archive (checked below), its key and value stored
/// elsewhere in the body.
#[derive(Archive, Serialize)]
pub(crate) struct SnapEntry {
    /// The key.
    pub(crate) key: Vec<u8>,
    /// The top 32 bits of the key's hash with the snapshot's seed.
    pub(crate) hash_high: u32,
    /// The value.
    pub(crate) value: SnapValue,
    /// The LSN of the key's last write, with [`EXPIRES`] set if the key has an
    /// expiry time.
    pub(crate) stamp: u64,
}

/// The bit of [`SnapEntry::stamp`] that says the key is listed in
/// [`Body::expiring`]; LSNs stay below it.
pub(crate) const EXPIRES: u64 = 1 << 63;

/// An expiry time.
#[derive(Archive, Serialize)]
pub(crate) struct Expiry {
    /// The entry's position in [`Body::entries`].
    pub(crate) position: u32,
    /// When it expires, in ms since the epoch (never 0).
    pub(crate) at_ms: u64,
}

/// A value. Numbers are kept as little-endian bytes, so the archived value aligns to
/// 4 bytes and takes 12.
#[derive(Archive, Serialize)]
#[cfg_attr(
    not(test),
    expect(
        dead_code,
        reason = "the schema: the writer archives its borrowed twin"
    )
)]
pub(crate) enum SnapValue {
    /// A byte string.
    Bytes(Vec<u8>),
    /// An integer (`i64::to_le_bytes`).
    Int([u8; 8]),
    /// A float (`f64::to_le_bytes`).
    Float([u8; 8]),
    /// A list, head first.
    List(Vec<Vec<u8>>),
    /// A set's members, sorted.
    Set(Vec<Vec<u8>>),
    /// A hash's fields and values, sorted by field.
    Hash(Vec<Pair>),
    /// A document: its collection's number (u32 little-endian) and then its encoded
    /// fields (`doc::codec`).
    Doc(Vec<u8>),
}

/// A byte string archived as a `Vec<u8>` would be, borrowed where it lives (or
/// owned, when it had to be put together).
pub(crate) struct BytesRef<'a>(pub(crate) Cow<'a, [u8]>);

impl<'a> From<&'a [u8]> for BytesRef<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        BytesRef(Cow::Borrowed(bytes))
    }
}

impl Archive for BytesRef<'_> {
    type Archived = ArchivedVec<u8>;
    type Resolver = VecResolver;

    fn resolve(&self, resolver: VecResolver, out: Place<ArchivedVec<u8>>) {
        ArchivedVec::resolve_from_len(self.0.len(), resolver, out);
    }
}

impl<S: Fallible + Allocator + Writer + ?Sized> Serialize<S> for BytesRef<'_> {
    fn serialize(&self, serializer: &mut S) -> Result<VecResolver, S::Error> {
        ArchivedVec::serialize_from_slice(&self.0[..], serializer)
    }
}

/// [`SnapEntry`], borrowed: archived as it is.
// Fields that borrow omit rkyv's `Archive` bounds: as where-clauses, they would
// hide from the compiler that their archived types are the schema's.
#[derive(Archive, Serialize)]
#[rkyv(as = ArchivedSnapEntry, serialize_bounds(__S: Writer + Allocator))]
pub(crate) struct SnapEntryRef<'a> {
    #[rkyv(omit_bounds)]
    pub(crate) key: BytesRef<'a>,
    pub(crate) hash_high: u32,
    #[rkyv(omit_bounds)]
    pub(crate) value: SnapValueRef<'a>,
    pub(crate) stamp: u64,
}

/// [`SnapValue`], borrowed: archived as it is. Sets and hashes must be sorted
/// ([`SnapValueRef::sorted`]) before they are archived.
#[derive(Archive, Serialize)]
#[rkyv(as = ArchivedSnapValue, serialize_bounds(__S: Writer + Allocator))]
pub(crate) enum SnapValueRef<'a> {
    Bytes(#[rkyv(omit_bounds)] BytesRef<'a>),
    Int([u8; 8]),
    Float([u8; 8]),
    List(#[rkyv(omit_bounds)] Items<BytesRef<'a>>),
    Set(#[rkyv(omit_bounds)] Items<BytesRef<'a>>),
    Hash(#[rkyv(omit_bounds)] Items<PairRef<'a>>),
    Doc(#[rkyv(omit_bounds)] BytesRef<'a>),
}

impl SnapValueRef<'_> {
    /// The value with a set's members and a hash's pairs (by field) in order, as
    /// lookups in the mapped file bisect them. A collection from a snapshot is
    /// sorted already, which the sort notices in one pass.
    pub(crate) fn sorted(mut self) -> Self {
        match &mut self {
            SnapValueRef::Set(Items::All(members)) => {
                members.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            }
            SnapValueRef::Hash(Items::All(pairs)) => {
                pairs.sort_unstable_by(|a, b| a.field.0.cmp(&b.field.0));
            }
            SnapValueRef::Set(Items::Count(_))
            | SnapValueRef::Hash(Items::Count(_))
            | SnapValueRef::Bytes(_)
            | SnapValueRef::Int(_)
            | SnapValueRef::Float(_)
            | SnapValueRef::List(_)
            | SnapValueRef::Doc(_) => {}
        }
        self
    }
}

/// A collection's items on their way into the archive: all of them, to write them;
/// or, once they are written, only their count, which is all that the entry pointing
/// to them needs (so a set is not gathered and sorted a second time for it).
pub(crate) enum Items<T> {
    /// The items, in the order the archive keeps them.
    All(Vec<T>),
    /// How many items were written.
    Count(usize),
}

impl<T> Items<T> {
    fn len(&self) -> usize {
        match self {
            Items::All(items) => items.len(),
            Items::Count(count) => *count,
        }
    }
}

impl<T: Archive> Archive for Items<T> {
    type Archived = ArchivedVec<T::Archived>;
    type Resolver = VecResolver;

    fn resolve(&self, resolver: VecResolver, out: Place<Self::Archived>) {
        ArchivedVec::resolve_from_len(self.len(), resolver, out);
    }
}

impl<T, S> Serialize<S> for Items<T>
where
    T: Serialize<S>,
    S: Fallible + Allocator + Writer + ?Sized,
{
    fn serialize(&self, serializer: &mut S) -> Result<VecResolver, S::Error> {
        match self {
            Items::All(items) => ArchivedVec::serialize_from_slice(items, serializer),
            Items::Count(_) => unreachable!("a count of items is only resolved, never written"),
        }
    }
}

/// [`Pair`], borrowed: archived as it is.
#[derive(Archive, Serialize)]
#[rkyv(as = ArchivedPair, serialize_bounds(__S: Writer + Allocator))]
pub(crate) struct PairRef<'a> {
    #[rkyv(omit_bounds)]
    pub(crate) field: BytesRef<'a>,
    #[rkyv(omit_bounds)]
    pub(crate) value: BytesRef<'a>,
}

/// A document's value: the collection's number, then the encoded fields.
pub(crate) fn doc_bytes(collection: u32, data: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(4 + data.len());
    bytes.extend_from_slice(&collection.to_le_bytes());
    bytes.extend_from_slice(data);
    bytes
}

/// A document value's collection number and encoded fields; `None` if it is shorter
/// than a collection number.
pub(crate) fn doc_parts(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let (collection, data) = bytes.split_first_chunk::<4>()?;
    Some((u32::from_le_bytes(*collection), data))
}

const _: () = assert!(std::mem::size_of::<ArchivedSnapEntry>() == 32);
const _: () = assert!(std::mem::size_of::<ArchivedSnapValue>() == 12);

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
