//! Writing a snapshot file: sort, archive, write to a temporary file, fsync,
//! rename, fsync the directory.
//!
//! The archive is streamed to the file as rkyv serializes it, with each block's
//! checksum taken on the way, rather than built whole in memory first: a snapshot
//! of 12M keys held a 1 GB archive beside the items it was made from, and freeing
//! it stalled every thread of the process on the memory-map lock.
//!
//! Nor are the keys copied out first: each is archived from where it lives, an
//! entry of the live map or of the previous snapshot's mapped file ([`Source`]). A
//! snapshot then holds a 24-byte handle per key, and rkyv's resolver per key while
//! it writes the entry array, rather than a copy of every key and value (at 10M
//! keys the copies took about 1.4 GB, and 20M allocations and frees).

use std::borrow::Cow;
use std::io::Write;
use std::num::NonZeroU64;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rkyv::rancor::Fallible;
use rkyv::ser::{Allocator, Writer, WriterExt};
use rkyv::util::SerVec;
use rkyv::vec::{ArchivedVec, VecResolver};
use rkyv::{Archive, Place, Serialize};

use crate::doc::catalog::Catalog;
use crate::entry::{Entry, Lsn};
use crate::progress::Progress;
use crate::snapshot::BaseEntry;
use crate::snapshot::format::{
    self, ArchivedBody, ArchivedSnapEntry, ArchivedSnapValue, BytesRef, Expiry, HEADER_BYTES,
    Header, Items, PairRef, SnapEntryRef, SnapValueRef,
};
use crate::value::Value;

/// A written snapshot.
#[derive(Debug, Clone)]
pub(crate) struct Written {
    pub(crate) path: PathBuf,
    pub(crate) keys: usize,
    pub(crate) size_bytes: u64,
}

/// Where a key on its way into a snapshot lives.
pub(crate) enum Source<'b> {
    /// An entry of the live map (or one made for the snapshot).
    Live(Entry),
    /// An entry of the previous snapshot, in its mapped file.
    Base(BaseEntry<'b>),
}

/// A key on its way into a snapshot, with the hash the snapshot orders and indexes
/// it by.
pub(crate) struct Keyed<'b> {
    hash: u64,
    source: Source<'b>,
}

// What a snapshot holds per key while it is written (with rkyv's resolver).
const _: () = assert!(std::mem::size_of::<Keyed<'static>>() == 24);

impl<'b> Keyed<'b> {
    /// The live entry `entry`, whose key's hash is `hash`.
    pub(crate) fn live(hash: u64, entry: Entry) -> Self {
        Keyed {
            hash,
            source: Source::Live(entry),
        }
    }

    /// The previous snapshot's entry `entry`, whose key's hash is `hash`.
    pub(crate) fn base(hash: u64, entry: BaseEntry<'b>) -> Self {
        Keyed {
            hash,
            source: Source::Base(entry),
        }
    }

    fn key(&self) -> &[u8] {
        match &self.source {
            Source::Live(entry) => entry.key(),
            Source::Base(entry) => entry.key(),
        }
    }

    /// Where the key goes in the snapshot: its hash, then its key.
    pub(crate) fn position(&self) -> (u64, &[u8]) {
        (self.hash, self.key())
    }

    fn version(&self) -> Lsn {
        match &self.source {
            Source::Live(entry) => entry.version(),
            Source::Base(entry) => entry.version(),
        }
    }

    fn expires(&self) -> bool {
        match &self.source {
            Source::Live(entry) => entry.expires_at_ms().is_some(),
            Source::Base(entry) => entry.expires(),
        }
    }

    fn expires_at_ms(&self) -> Option<NonZeroU64> {
        match &self.source {
            Source::Live(entry) => entry.expires_at_ms(),
            Source::Base(entry) => entry.expires_at_ms(),
        }
    }

    /// The key as the archive stores it, borrowed from where it lives. The caller
    /// has checked that the version is below [`format::EXPIRES`].
    fn archived(&self) -> SnapEntryRef<'_> {
        let value = match &self.source {
            Source::Live(entry) => live_value(entry),
            Source::Base(entry) => base_value(*entry),
        };
        self.entry_with(value.sorted())
    }

    /// [`Keyed::archived`] once its key and value are written: what the entry
    /// pointing to them needs, a collection's count of items instead of its items.
    fn counted(&self) -> SnapEntryRef<'_> {
        let value = match &self.source {
            Source::Live(entry) => live_value_counted(entry),
            Source::Base(entry) => base_value_counted(*entry),
        };
        self.entry_with(value)
    }

    fn entry_with<'a>(&'a self, value: SnapValueRef<'a>) -> SnapEntryRef<'a> {
        SnapEntryRef {
            key: self.key().into(),
            hash_high: (self.hash >> 32) as u32,
            value,
            stamp: self.version() | if self.expires() { format::EXPIRES } else { 0 },
        }
    }
}

/// A live entry's value, borrowed from the entry (a document's is put together).
fn live_value(entry: &Entry) -> SnapValueRef<'_> {
    if let Some(bytes) = entry.bytes() {
        return SnapValueRef::Bytes(bytes.into());
    }
    let Some(value) = entry.stored_value() else {
        return number(&entry.value()).expect("a packed value is bytes or a number");
    };
    match value {
        Value::Bytes(bytes) => SnapValueRef::Bytes((&bytes[..]).into()),
        Value::Int(_) | Value::Float(_) => number(value).expect("a number"),
        Value::List(items) => {
            SnapValueRef::List(Items::All(items.iter().map(|item| item.into()).collect()))
        }
        Value::Set(members) => SnapValueRef::Set(Items::All(
            members.iter().map(|member| member.into()).collect(),
        )),
        Value::Hash(pairs) => SnapValueRef::Hash(Items::All(
            pairs
                .iter()
                .map(|(field, value)| PairRef {
                    field: field.into(),
                    value: value.into(),
                })
                .collect(),
        )),
        Value::Doc(doc) => SnapValueRef::Doc(BytesRef(Cow::Owned(format::doc_bytes(
            doc.collection,
            &doc.data,
        )))),
    }
}

/// [`live_value`] with a collection's count of items in place of its items.
fn live_value_counted(entry: &Entry) -> SnapValueRef<'_> {
    match entry.stored_value() {
        Some(Value::List(items)) => SnapValueRef::List(Items::Count(items.len())),
        Some(Value::Set(members)) => SnapValueRef::Set(Items::Count(members.len())),
        Some(Value::Hash(pairs)) => SnapValueRef::Hash(Items::Count(pairs.len())),
        _ => live_value(entry),
    }
}

/// A number's archived form; `None` for other values.
fn number(value: &Value) -> Option<SnapValueRef<'static>> {
    match value {
        Value::Int(n) => Some(SnapValueRef::Int(n.to_le_bytes())),
        Value::Float(x) => Some(SnapValueRef::Float(x.to_le_bytes())),
        _ => None,
    }
}

/// A previous snapshot's value, borrowed from its file (whose blocks the caller
/// has checked).
fn base_value(entry: BaseEntry<'_>) -> SnapValueRef<'_> {
    fn items(items: &ArchivedVec<ArchivedVec<u8>>) -> Vec<BytesRef<'_>> {
        items.iter().map(|item| item.as_slice().into()).collect()
    }
    match entry.archived_value() {
        ArchivedSnapValue::Bytes(bytes) => SnapValueRef::Bytes(bytes.as_slice().into()),
        ArchivedSnapValue::Int(n) => SnapValueRef::Int(*n),
        ArchivedSnapValue::Float(x) => SnapValueRef::Float(*x),
        ArchivedSnapValue::List(list) => SnapValueRef::List(Items::All(items(list))),
        ArchivedSnapValue::Set(members) => SnapValueRef::Set(Items::All(items(members))),
        ArchivedSnapValue::Hash(pairs) => SnapValueRef::Hash(Items::All(
            pairs
                .iter()
                .map(|pair| PairRef {
                    field: pair.field.as_slice().into(),
                    value: pair.value.as_slice().into(),
                })
                .collect(),
        )),
        ArchivedSnapValue::Doc(bytes) => SnapValueRef::Doc(bytes.as_slice().into()),
    }
}

/// [`base_value`] with a collection's count of items in place of its items.
fn base_value_counted(entry: BaseEntry<'_>) -> SnapValueRef<'_> {
    match entry.archived_value() {
        ArchivedSnapValue::List(list) => SnapValueRef::List(Items::Count(list.len())),
        ArchivedSnapValue::Set(members) => SnapValueRef::Set(Items::Count(members.len())),
        ArchivedSnapValue::Hash(pairs) => SnapValueRef::Hash(Items::Count(pairs.len())),
        _ => base_value(entry),
    }
}

/// A snapshot's entry array, archived key by key from where each lives: first each
/// key's key and value ([`Keyed::archived`]), then the array of entries pointing to
/// them ([`Keyed::counted`]), as rkyv's `ArchivedVec::serialize_from_iter` would
/// but without gathering and sorting each collection a second time.
struct Entries<'a>(&'a [Keyed<'a>]);

impl Archive for Entries<'_> {
    type Archived = ArchivedVec<ArchivedSnapEntry>;
    type Resolver = VecResolver;

    fn resolve(&self, resolver: VecResolver, out: Place<Self::Archived>) {
        ArchivedVec::resolve_from_len(self.0.len(), resolver, out);
    }
}

impl<S: Fallible + Allocator + Writer + ?Sized> Serialize<S> for Entries<'_> {
    fn serialize(&self, serializer: &mut S) -> Result<VecResolver, S::Error> {
        SerVec::with_capacity(serializer, self.0.len(), |resolvers, serializer| {
            for entry in Archiving::new(self.0, Keyed::archived) {
                resolvers.push(entry.serialize(serializer)?);
            }
            let position = serializer.align_for::<ArchivedSnapEntry>()?;
            let counted = Archiving::new(self.0, Keyed::counted);
            for (entry, resolver) in counted.zip(resolvers.drain()) {
                // SAFETY: `resolver` is what serializing the key's `Keyed::archived`
                // returned, and its `Keyed::counted` resolves as that does: the derived
                // resolve reads the key's and each byte string's length, a
                // collection's count of items (the same in both) and the numbers,
                // never the items. The serializer was just aligned for an entry,
                // and each entry written keeps it aligned for the next.
                unsafe { serializer.resolve_aligned(&entry, resolver)? };
            }
            Ok(VecResolver::from_pos(position))
        })?
    }
}

/// How many keys ahead [`Archiving`] starts loading a live entry: the live map's
/// entries lie all over memory, so each is a cache miss, and misses overlap only
/// when they are asked for ahead.
const PREFETCH_AHEAD: usize = 16;

/// One form of each key of a slice, in order ([`Keyed::archived`] or
/// [`Keyed::counted`]), with the live entries ahead loaded on the way.
struct Archiving<'a> {
    items: &'a [Keyed<'a>],
    next: usize,
    form: fn(&'a Keyed<'a>) -> SnapEntryRef<'a>,
}

impl<'a> Archiving<'a> {
    fn new(items: &'a [Keyed<'a>], form: fn(&'a Keyed<'a>) -> SnapEntryRef<'a>) -> Self {
        Archiving {
            items,
            next: 0,
            form,
        }
    }
}

impl<'a> Iterator for Archiving<'a> {
    type Item = SnapEntryRef<'a>;

    fn next(&mut self) -> Option<SnapEntryRef<'a>> {
        let item = self.items.get(self.next)?;
        if let Some(Keyed {
            source: Source::Live(ahead),
            ..
        }) = self.items.get(self.next + PREFETCH_AHEAD)
        {
            ahead.prefetch();
        }
        self.next += 1;
        Some((self.form)(item))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.items.len() - self.next;
        (left, Some(left))
    }
}

/// `format::Body`, with its entries archived by [`Entries`].
#[derive(Archive, Serialize)]
#[rkyv(as = ArchivedBody, serialize_bounds(__S: Writer + Allocator))]
struct BodyRef<'a> {
    // Without the bound, the compiler sees that `Entries` archives as the schema's
    // entry array (see `format::SnapEntryRef`).
    #[rkyv(omit_bounds)]
    entries: Entries<'a>,
    dir_bits: u32,
    dir: Vec<u32>,
    expiring: Vec<Expiry>,
    catalog: Vec<u8>,
}

/// The CRC32C of each `2^block_bits`-byte block of `body` (the last may be shorter),
/// as little-endian u32s.
pub(crate) fn block_table(body: &[u8], block_bits: u32) -> Vec<u8> {
    body.chunks(1 << block_bits)
        .flat_map(|block| crc32c::crc32c(block).to_le_bytes())
        .collect()
}

/// The buffer between the serializer and the file.
const WRITE_BUFFER_BYTES: usize = 1 << 20;

/// Bytes written between two fdatasyncs of a snapshot being written, as Redis's
/// `rdb-save-incremental-fsync`: a gigabyte left dirty for one final sync makes the
/// kernel throttle every other writer of the machine (the log's among them) while
/// it writes back.
const SYNC_EVERY_BYTES: u64 = 32 << 20;

/// A snapshot file's bytes, built in memory (for a snapshot converted at a
/// read-only open, which writes nothing).
pub(crate) struct Encoded {
    /// The header.
    pub(crate) header: [u8; HEADER_BYTES],
    /// The body.
    pub(crate) body: rkyv::util::AlignedVec,
    /// The block table.
    pub(crate) table: Vec<u8>,
}

impl Encoded {
    /// The file's size.
    pub(crate) fn size_bytes(&self) -> u64 {
        (self.header.len() + self.body.len() + self.table.len()) as u64
    }
}

/// Archives `items` and `catalog` as the snapshot at `lsn`, in memory.
pub(crate) fn encode(
    lsn: Lsn,
    seed: u64,
    mut items: Vec<Keyed<'_>>,
    catalog: &Catalog,
) -> std::io::Result<Encoded> {
    sort(&mut items);
    let body = body_of(&items, catalog)?;
    let archive = rkyv::to_bytes::<rkyv::rancor::Error>(&body).map_err(archiving_failed)?;
    let table = block_table(&archive, format::BLOCK_BITS);
    Ok(Encoded {
        header: header(lsn, seed, archive.len() as u64, &table),
        body: archive,
        table,
    })
}

/// Puts `items` in the snapshot's order: by hash, then key. Items from a snapshot
/// build come sorted, which the sort confirms in one pass.
fn sort(items: &mut [Keyed<'_>]) {
    items.sort_unstable_by(|a, b| a.position().cmp(&b.position()));
}

/// The archived form's root over `items` (sorted): them, their directory and expiry
/// index, and `catalog`.
fn body_of<'a>(items: &'a [Keyed<'a>], catalog: &Catalog) -> std::io::Result<BodyRef<'a>> {
    let keys = items.len();
    let too_many = || std::io::Error::other("a snapshot holds at most 2^32 - 1 keys");
    let dir_bits = format::dir_bits_for(keys);
    let mut directory = Vec::with_capacity((1 << dir_bits) + 1);
    let mut position = 0usize;
    for bucket in 0..(1usize << dir_bits) {
        while position < keys && format::bucket_of(items[position].hash, dir_bits) < bucket {
            position += 1;
        }
        directory.push(u32::try_from(position).map_err(|_| too_many())?);
    }
    directory.push(u32::try_from(keys).map_err(|_| too_many())?);
    let mut expiring = Vec::new();
    for (position, item) in items.iter().enumerate() {
        if item.version() & format::EXPIRES != 0 {
            return Err(std::io::Error::other("an LSN reached 2^63"));
        }
        if item.expires() {
            // Only a damaged previous snapshot flags a key it does not list.
            let at = item.expires_at_ms().ok_or_else(|| {
                std::io::Error::other("the previous snapshot's expiry table misses a key")
            })?;
            expiring.push(Expiry {
                position: position as u32,
                at_ms: at.get(),
            });
        }
    }
    Ok(BodyRef {
        entries: Entries(items),
        dir_bits,
        dir: directory,
        expiring,
        catalog: catalog.encode(),
    })
}

fn archiving_failed(error: rkyv::rancor::Error) -> std::io::Error {
    std::io::Error::other(format!("archiving the snapshot failed: {error}"))
}

/// The encoded header of a snapshot at `lsn` whose body has `body_bytes` bytes.
fn header(lsn: Lsn, seed: u64, body_bytes: u64, table: &[u8]) -> [u8; HEADER_BYTES] {
    Header {
        version: format::VERSION,
        lsn,
        seed,
        body_bytes,
        table_crc: crc32c::crc32c(table),
        block_bits: format::BLOCK_BITS,
    }
    .encode()
}

/// A file being written, fdatasync'd every [`SYNC_EVERY_BYTES`].
struct SyncingFile {
    file: std::fs::File,
    unsynced_bytes: u64,
}

impl Write for SyncingFile {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let written = self.file.write(bytes)?;
        self.unsynced_bytes += written as u64;
        if self.unsynced_bytes >= SYNC_EVERY_BYTES {
            self.file.sync_data()?;
            self.unsynced_bytes = 0;
        }
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Passes bytes on to `inner`, taking the CRC32C of each `2^block_bits`-byte block
/// as they go by (what [`block_table`] computes over a whole body).
struct BlockSummer<W> {
    inner: W,
    block_bytes: usize,
    /// The CRC of the block being filled, and how much of it is filled.
    crc: u32,
    filled: usize,
    table: Vec<u8>,
    written: u64,
    progress: Progress,
}

impl<W: Write> BlockSummer<W> {
    fn new(inner: W, block_bits: u32) -> Self {
        BlockSummer {
            inner,
            block_bytes: 1 << block_bits,
            crc: 0,
            filled: 0,
            table: Vec::new(),
            written: 0,
            progress: Progress::start("snapshot: writing the file"),
        }
    }

    /// The inner writer, the block table and the bytes written.
    fn finish(mut self, keys: usize) -> (W, Vec<u8>, u64) {
        if self.filled > 0 {
            self.table.extend(self.crc.to_le_bytes());
        }
        self.progress.finish(keys as u64, self.written);
        (self.inner, self.table, self.written)
    }
}

impl<W: Write> Write for BlockSummer<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(bytes)?;
        let mut rest = &bytes[..written];
        while !rest.is_empty() {
            let take = rest.len().min(self.block_bytes - self.filled);
            self.crc = crc32c::crc32c_append(self.crc, &rest[..take]);
            self.filled += take;
            rest = &rest[take..];
            if self.filled == self.block_bytes {
                self.table.extend(self.crc.to_le_bytes());
                self.crc = 0;
                self.filled = 0;
            }
        }
        self.written += written as u64;
        self.progress.tick(0, self.written);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `items` and `catalog` as the snapshot at `lsn` in `dir`, durably.
pub(crate) fn write(
    dir: &Path,
    lsn: Lsn,
    seed: u64,
    mut items: Vec<Keyed<'_>>,
    catalog: &Catalog,
) -> std::io::Result<Written> {
    let started = Instant::now();
    sort(&mut items);
    let keys = items.len();
    let body = body_of(&items, catalog)?;
    let path = dir.join(super::file_name(lsn));
    let temporary = dir.join(format!("{}.tmp", super::file_name(lsn)));
    let size_bytes = {
        let mut file = std::io::BufWriter::with_capacity(
            WRITE_BUFFER_BYTES,
            SyncingFile {
                file: std::fs::File::create(&temporary)?,
                unsynced_bytes: 0,
            },
        );
        // The header, which needs the body's size and table, is written last.
        file.write_all(&[0; HEADER_BYTES])?;
        let summer = BlockSummer::new(&mut file, format::BLOCK_BITS);
        let writer = rkyv::api::high::to_bytes_in::<_, rkyv::rancor::Error>(
            &body,
            rkyv::ser::writer::IoWriter::new(summer),
        )
        .map_err(archiving_failed)?;
        drop(body);
        let (_, table, body_bytes) = writer.into_inner().finish(keys);
        file.write_all(&table)?;
        let file = file.into_inner().map_err(|error| error.into_error())?.file;
        file.write_all_at(&header(lsn, seed, body_bytes, &table), 0)?;
        file.sync_all()?;
        (HEADER_BYTES + table.len()) as u64 + body_bytes
    };
    std::fs::rename(&temporary, &path)?;
    crate::wal::sync_dir(dir)?;
    tracing::info!(
        path = %path.display(),
        keys,
        size_bytes,
        seconds = started.elapsed().as_secs_f64(),
        "snapshot written"
    );
    Ok(Written {
        path,
        keys,
        size_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::KeyHasher;
    use crate::snapshot::{Base, SnapshotError};

    fn sample(hasher: KeyHasher, keys: usize) -> Vec<Keyed<'static>> {
        (0..keys)
            .map(|i| {
                let key = format!("key{i}");
                let value = match i % 4 {
                    0 => Value::from(format!("value{i}").as_str()),
                    1 => Value::Int(i as i64),
                    2 => Value::List(Box::new(
                        [bytes::Bytes::from("a"), bytes::Bytes::from("b")]
                            .into_iter()
                            .collect(),
                    )),
                    _ => Value::Hash(Box::new(
                        [(bytes::Bytes::from("f"), bytes::Bytes::from("v"))]
                            .into_iter()
                            .collect(),
                    )),
                };
                let expiry =
                    (i % 3 == 0).then(|| std::num::NonZeroU64::new(1_000 + i as u64).unwrap());
                let entry = Entry::new(key.as_bytes(), value, i as u64 + 1, expiry);
                Keyed::live(hasher.hash_one(key.as_bytes()), entry)
            })
            .collect()
    }

    /// The file streamed to disk holds exactly the bytes of the archive built in
    /// memory: header, every block's checksum (a last block cut short included),
    /// body.
    #[test]
    fn a_streamed_snapshot_is_the_archive_built_in_memory() {
        let hasher = KeyHasher::with_seed(8);
        for keys in [0, 1, 5_000] {
            let dir = tempfile::tempdir().unwrap();
            let catalog = Catalog::default();
            let written = write(dir.path(), 77, 8, sample(hasher, keys), &catalog).unwrap();
            let on_disk = std::fs::read(&written.path).unwrap();
            let encoded = encode(77, 8, sample(hasher, keys), &catalog).unwrap();
            let in_memory: Vec<u8> = [&encoded.header[..], &encoded.body, &encoded.table].concat();
            assert_eq!(on_disk.len() as u64, written.size_bytes);
            assert!(on_disk == in_memory, "{keys} keys: the files differ");
            assert_eq!(written.keys, keys);
            if keys == 5_000 {
                assert!(encoded.body.len() > 2 << format::BLOCK_BITS);
                assert!(encoded.body.len() % (1 << format::BLOCK_BITS) != 0);
            }
        }
    }

    /// Keys of every kind: short and long strings, numbers, collections (a set and
    /// a hash out of order), a document; some expire.
    fn every_kind(hasher: KeyHasher) -> Vec<Keyed<'static>> {
        let b = |text: &str| bytes::Bytes::from(text.to_owned());
        let values = [
            Value::from("short"),
            Value::from("a string too long to be packed beside its key, 64 bytes or so ."),
            Value::Int(-42),
            Value::Float(2.5),
            Value::List(Box::new([b("x"), b("y"), b("x")].into_iter().collect())),
            Value::Set(Box::new([b("m3"), b("m1"), b("m2")].into_iter().collect())),
            Value::Hash(Box::new(
                [(b("f2"), b("v2")), (b("f1"), b("v1"))]
                    .into_iter()
                    .collect(),
            )),
            Value::Doc(Box::new(crate::doc::Doc {
                collection: 3,
                data: Box::from(&b"fields"[..]),
            })),
        ];
        values
            .into_iter()
            .enumerate()
            .map(|(i, value)| {
                let key = format!("key{i}");
                let expiry = (i % 2 == 0).then(|| NonZeroU64::new(5_000 + i as u64).unwrap());
                let entry = Entry::new(key.as_bytes(), value, 10 + i as u64, expiry);
                Keyed::live(hasher.hash_one(key.as_bytes()), entry)
            })
            .collect()
    }

    /// The owned form of an archived-as entry, to archive through the schema.
    fn owned(entry: SnapEntryRef<'_>) -> format::SnapEntry {
        fn all<T>(items: Items<T>) -> Vec<T> {
            match items {
                Items::All(items) => items,
                Items::Count(_) => panic!("an entry on its way in holds its items"),
            }
        }
        let items = |items| {
            all(items)
                .into_iter()
                .map(|i: BytesRef<'_>| i.0.to_vec())
                .collect()
        };
        let value = match entry.value {
            SnapValueRef::Bytes(bytes) => format::SnapValue::Bytes(bytes.0.to_vec()),
            SnapValueRef::Int(n) => format::SnapValue::Int(n),
            SnapValueRef::Float(x) => format::SnapValue::Float(x),
            SnapValueRef::List(list) => format::SnapValue::List(items(list)),
            SnapValueRef::Set(members) => format::SnapValue::Set(items(members)),
            SnapValueRef::Hash(pairs) => format::SnapValue::Hash(
                all(pairs)
                    .into_iter()
                    .map(|pair| format::Pair {
                        field: pair.field.0.to_vec(),
                        value: pair.value.0.to_vec(),
                    })
                    .collect(),
            ),
            SnapValueRef::Doc(bytes) => format::SnapValue::Doc(bytes.0.to_vec()),
        };
        format::SnapEntry {
            key: entry.key.0.to_vec(),
            hash_high: entry.hash_high,
            value,
            stamp: entry.stamp,
        }
    }

    /// The borrowed twins write the bytes that the schema's own types write: the
    /// archive the writer streams is the format that reads expect.
    #[test]
    fn the_borrowed_twins_archive_as_the_schema() {
        let hasher = KeyHasher::with_seed(4);
        let mut items = every_kind(hasher);
        items.extend(sample(hasher, 300));
        sort(&mut items);
        let catalog = Catalog::default();
        let twin = body_of(&items, &catalog).unwrap();
        let schema = format::Body {
            entries: items.iter().map(|item| owned(item.archived())).collect(),
            dir_bits: twin.dir_bits,
            dir: twin.dir.clone(),
            expiring: twin
                .expiring
                .iter()
                .map(|expiry| Expiry {
                    position: expiry.position,
                    at_ms: expiry.at_ms,
                })
                .collect(),
            catalog: twin.catalog.clone(),
        };
        assert_eq!(twin.expiring.len(), 4 + 100);
        let from_twin = rkyv::to_bytes::<rkyv::rancor::Error>(&twin).unwrap();
        let from_schema = rkyv::to_bytes::<rkyv::rancor::Error>(&schema).unwrap();
        assert!(from_twin[..] == from_schema[..], "the archives differ");
    }

    /// A snapshot written again from its own mapped file, every key archived in
    /// place from it, is the same file.
    #[test]
    fn a_snapshot_rewritten_from_its_mapped_file_is_the_same_file() {
        let hasher = KeyHasher::with_seed(6);
        let (first, second) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut items = every_kind(hasher);
        items.extend(sample(hasher, 2_000));
        let written = write(first.path(), 9, 6, items, &Catalog::default()).unwrap();
        let base = Base::open(&written.path, true).unwrap();
        let again: Vec<Keyed<'_>> = base
            .entries()
            .unwrap()
            .map(|entry| Keyed::base(entry.hash(), entry))
            .collect();
        let rewritten = write(second.path(), 9, 6, again, &Catalog::default()).unwrap();
        assert!(
            std::fs::read(&written.path).unwrap() == std::fs::read(&rewritten.path).unwrap(),
            "the files differ"
        );
    }

    #[test]
    fn written_snapshots_read_back_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let hasher = KeyHasher::with_seed(7);
        for keys in [0, 1, 2, 1000] {
            let written = write(
                dir.path(),
                keys as u64,
                7,
                sample(hasher, keys),
                &Catalog::default(),
            )
            .unwrap();
            for validate in [false, true] {
                let base = Base::open(&written.path, validate).unwrap();
                assert_eq!(
                    (base.lsn(), base.seed(), base.len()),
                    (keys as u64, 7, keys)
                );
                for i in 0..keys {
                    let key = format!("key{i}");
                    let found = base.get_hashed(key.as_bytes(), hasher.hash_one(key.as_bytes()));
                    let entry = found
                        .unwrap()
                        .expect("every key is found")
                        .to_entry()
                        .unwrap();
                    assert_eq!(entry.version(), i as u64 + 1);
                    assert_eq!(entry.expires_at_ms().is_some(), i % 3 == 0);
                }
                assert!(
                    base.get_hashed(b"missing", hasher.hash_one(b"missing"))
                        .unwrap()
                        .is_none()
                );
                assert_eq!(base.expiring().unwrap().len(), keys.div_ceil(3));
                let hashes: Vec<u64> = base.entries().unwrap().map(|e| e.hash()).collect();
                assert!(hashes.is_sorted());
            }
        }
    }

    #[test]
    fn collections_are_searched_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let hasher = KeyHasher::with_seed(3);
        let items: Vec<bytes::Bytes> = (0..1000)
            .map(|i| bytes::Bytes::from(format!("item{i}")))
            .collect();
        let values = [
            (
                &b"set"[..],
                Value::Set(Box::new(items.iter().cloned().collect())),
            ),
            (
                b"hash",
                Value::Hash(Box::new(
                    items
                        .iter()
                        .map(|item| (item.clone(), item.slice(4..)))
                        .collect(),
                )),
            ),
            (
                b"list",
                Value::List(Box::new(items.iter().cloned().collect())),
            ),
        ];
        let entries = values
            .iter()
            .map(|(key, value)| {
                Keyed::live(
                    hasher.hash_one(key),
                    Entry::new(key, value.clone(), 1, None),
                )
            })
            .collect();
        let written = write(dir.path(), 1, 3, entries, &Catalog::default()).unwrap();
        for validate in [false, true] {
            let base = Base::open(&written.path, validate).unwrap();
            let get = |key: &[u8]| base.get_hashed(key, hasher.hash_one(key)).unwrap().unwrap();
            let (set, hash, list) = (get(b"set"), get(b"hash"), get(b"list"));
            assert_eq!((set.len(), hash.len(), list.len()), (1000, 1000, 1000));
            for (i, item) in items.iter().enumerate() {
                assert!(set.set_contains(item).unwrap(), "{item:?}");
                assert_eq!(hash.hash_get(item).unwrap(), Some(&item[4..]));
                assert_eq!(list.list_get(i).unwrap(), Some(&item[..]));
            }
            for missing in [&b""[..], b"item", b"item1000", b"item00", b"zzz"] {
                assert!(!set.set_contains(missing).unwrap());
                assert_eq!(hash.hash_get(missing).unwrap(), None);
            }
            assert_eq!(list.list_get(1000).unwrap(), None);
            assert_eq!(list.list_range(998..1000).unwrap(), &items[998..]);
            for (entry, (_, value)) in [set, hash, list].into_iter().zip(&values) {
                assert_eq!(&entry.to_value().unwrap(), value);
            }
            // Other types answer as empty.
            assert!(!hash.set_contains(b"item1").unwrap());
            assert_eq!(set.hash_get(b"item1").unwrap(), None);
            assert_eq!(set.list_get(0).unwrap(), None);
        }
    }

    /// Writes `bytes`, a snapshot file whose body was edited, to `path` with its
    /// checksums made to match again, and asserts that the validating open refuses
    /// it for a reason that says `reason`.
    fn assert_refused_resealed(path: &Path, mut bytes: Vec<u8>, reason: &str) {
        let mut header = Header::decode(&bytes).unwrap();
        let body_end = HEADER_BYTES + header.body_bytes as usize;
        let table = block_table(&bytes[HEADER_BYTES..body_end], header.block_bits);
        bytes[body_end..].copy_from_slice(&table);
        header.table_crc = crc32c::crc32c(&table);
        bytes[..HEADER_BYTES].copy_from_slice(&header.encode());
        std::fs::write(path, &bytes).unwrap();
        match Base::open(path, true) {
            Err(SnapshotError::Invalid { reason: found, .. }) => {
                assert!(found.contains(reason), "{found} should say {reason}")
            }
            other => panic!("the edited file must be refused ({reason}): {other:?}"),
        }
    }

    #[test]
    fn a_validated_file_whose_expiry_table_disagrees_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let written = write(
            dir.path(),
            1,
            5,
            sample(KeyHasher::with_seed(5), 30),
            &Catalog::default(),
        )
        .unwrap();
        let intact = std::fs::read(&written.path).unwrap();
        // The stamp of every entry, its byte offset in the file and whether it says
        // the key expires.
        let stamps: Vec<(usize, bool)> = {
            let header = Header::decode(&intact).unwrap();
            let body = &intact[HEADER_BYTES..HEADER_BYTES + header.body_bytes as usize];
            let archive = rkyv::access::<format::ArchivedBody, rkyv::rancor::Error>(body).unwrap();
            archive
                .entries
                .iter()
                .map(|entry| {
                    let at = &entry.stamp as *const _ as usize - intact.as_ptr() as usize;
                    (at, entry.stamp.to_native() & format::EXPIRES != 0)
                })
                .collect()
        };
        let (flagged, plain) = (
            stamps.iter().find(|(_, expires)| *expires).unwrap().0,
            stamps.iter().find(|(_, expires)| !*expires).unwrap().0,
        );
        // A key that says it expires but is not listed, and a listed key that does
        // not say so. (The stamp's top bit is the last byte's, little-endian.)
        for at in [plain, flagged] {
            let mut bytes = intact.clone();
            bytes[at + 7] ^= 0x80;
            assert_refused_resealed(&written.path, bytes, "expiry table");
        }
    }

    #[test]
    fn a_validated_file_with_an_unsorted_set_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let hasher = KeyHasher::with_seed(3);
        let set: crate::value::Set = [&b"member-A"[..], &b"member-B"[..]]
            .into_iter()
            .map(bytes::Bytes::from_static)
            .collect();
        let entry = Entry::new(b"s", Value::Set(Box::new(set)), 1, None);
        let written = write(
            dir.path(),
            1,
            3,
            vec![Keyed::live(hasher.hash_one(b"s"), entry)],
            &Catalog::default(),
        )
        .unwrap();
        assert!(Base::open(&written.path, true).is_ok());
        // Swap the two members' bytes, then make the checksums match again.
        let mut bytes = std::fs::read(&written.path).unwrap();
        let at = |needle: &[u8]| {
            bytes
                .windows(needle.len())
                .position(|w| w == needle)
                .unwrap()
        };
        let (a, b) = (at(b"member-A"), at(b"member-B"));
        bytes[a + 7] = b'B';
        bytes[b + 7] = b'A';
        assert_refused_resealed(&written.path, bytes, "not in order");
    }

    #[test]
    fn damaged_snapshots_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let written = write(
            dir.path(),
            5,
            1,
            sample(KeyHasher::with_seed(1), 100),
            &Catalog::default(),
        )
        .unwrap();
        let intact = std::fs::read(&written.path).unwrap();
        let damaged = dir.path().join("damaged");
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (intact[..intact.len() - 1].to_vec(), "truncated"),
            (intact[..10].to_vec(), "shorter than a snapshot header"),
            (
                {
                    let mut b = intact.clone();
                    b[200] ^= 1;
                    b
                },
                "does not match its checksum (at byte 64)",
            ),
            (
                {
                    let mut b = intact.clone();
                    b[0] = b'X';
                    b
                },
                "bad magic",
            ),
            (
                {
                    let mut b = intact.clone();
                    b[17] ^= 1;
                    b
                },
                "header's checksum",
            ),
            (
                {
                    let mut b = intact.clone();
                    let last = b.len() - 1;
                    b[last] ^= 1;
                    b
                },
                "block table's checksum",
            ),
        ];
        for (bytes, reason) in cases {
            std::fs::write(&damaged, &bytes).unwrap();
            for validate in [false, true] {
                match Base::open(&damaged, validate) {
                    Err(SnapshotError::Invalid {
                        reason: found,
                        path,
                    }) => {
                        assert!(found.contains(reason), "{found} should say {reason}");
                        assert_eq!(path, damaged);
                    }
                    other => panic!("expected Invalid for {reason}, got {other:?}"),
                }
            }
        }
    }
}
