//! Writing a snapshot file: sort, archive, write to a temporary file, fsync,
//! rename, fsync the directory.
//!
//! The archive is streamed to the file as rkyv serializes it, with each block's
//! checksum taken on the way, rather than built whole in memory first: a snapshot
//! of 12M keys held a 1 GB archive beside the items it was made from, and freeing
//! it stalled every thread of the process on the memory-map lock.

use std::io::Write;
use std::num::NonZeroU64;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::doc::catalog::Catalog;
use crate::entry::{Entry, Lsn};
use crate::progress::Progress;
use crate::snapshot::BaseEntry;
use crate::snapshot::format::{
    self, ArchivedSnapValue, Body, Expiry, HEADER_BYTES, Header, Pair, SnapEntry, SnapValue,
};
use crate::value::Value;

/// A written snapshot.
#[derive(Debug, Clone)]
pub(crate) struct Written {
    pub(crate) path: PathBuf,
    pub(crate) keys: usize,
    pub(crate) size_bytes: u64,
}

/// A key on its way into a snapshot: its archived form, and what the writer sorts
/// and indexes it by.
pub(crate) struct Item {
    /// The key's hash with the snapshot's seed.
    hash: u64,
    /// When the key expires.
    expires_at_ms: Option<NonZeroU64>,
    /// The archived form (its stamp not yet flagged for the expiry).
    entry: SnapEntry,
}

impl Item {
    /// The key `key` with hash `hash`, written at `version`.
    pub(crate) fn new(
        hash: u64,
        key: Vec<u8>,
        version: Lsn,
        expires_at_ms: Option<NonZeroU64>,
        value: SnapValue,
    ) -> Item {
        Item {
            hash,
            expires_at_ms,
            entry: SnapEntry {
                key,
                hash_high: (hash >> 32) as u32,
                value,
                stamp: version,
            },
        }
    }

    /// Where the item goes in the snapshot: its hash, then its key.
    pub(crate) fn position(&self) -> (u64, &[u8]) {
        (self.hash, &self.entry.key)
    }

    /// The snapshot form of an entry.
    pub(crate) fn from_entry(hash: u64, entry: &Entry) -> Item {
        let value = match &*entry.value() {
            Value::Bytes(bytes) => SnapValue::Bytes(bytes.to_vec()),
            Value::Int(n) => SnapValue::Int(n.to_le_bytes()),
            Value::Float(x) => SnapValue::Float(x.to_le_bytes()),
            Value::List(items) => SnapValue::List(items.iter().map(<[u8]>::to_vec).collect()),
            Value::Set(members) => SnapValue::Set(members.iter().map(<[u8]>::to_vec).collect()),
            Value::Hash(pairs) => SnapValue::Hash(
                pairs
                    .iter()
                    .map(|(field, value)| Pair {
                        field: field.to_vec(),
                        value: value.to_vec(),
                    })
                    .collect(),
            ),
            Value::Doc(doc) => format::doc_value(doc.collection, &doc.data),
        };
        Item::new(
            hash,
            entry.key().to_vec(),
            entry.version(),
            entry.expires_at_ms(),
            value,
        )
    }

    /// A copy of a key of an older snapshot (verified whole), whose hash is `hash`.
    pub(crate) fn from_base(hash: u64, entry: BaseEntry<'_>) -> Item {
        let value = match entry.archived_value() {
            ArchivedSnapValue::Bytes(bytes) => SnapValue::Bytes(bytes.as_slice().to_vec()),
            ArchivedSnapValue::Int(n) => SnapValue::Int(*n),
            ArchivedSnapValue::Float(x) => SnapValue::Float(*x),
            ArchivedSnapValue::List(items) => SnapValue::List(format::copy_items(items)),
            ArchivedSnapValue::Set(items) => SnapValue::Set(format::copy_items(items)),
            ArchivedSnapValue::Hash(pairs) => SnapValue::Hash(format::copy_pairs(pairs)),
            ArchivedSnapValue::Doc(bytes) => SnapValue::Doc(bytes.as_slice().to_vec()),
        };
        Item::new(
            hash,
            entry.key().to_vec(),
            entry.version(),
            entry.expires_at_ms(),
            value,
        )
    }
}

/// Sorts a set's members and a hash's pairs (by field), which lookups in the
/// mapped file bisect. Collections copied from a snapshot are sorted already, which
/// the sort notices in one pass.
fn sort_collection(item: &mut Item) {
    match &mut item.entry.value {
        SnapValue::Set(members) => members.sort_unstable(),
        SnapValue::Hash(pairs) => pairs.sort_unstable_by(|a, b| a.field.cmp(&b.field)),
        SnapValue::Bytes(_)
        | SnapValue::Int(_)
        | SnapValue::Float(_)
        | SnapValue::List(_)
        | SnapValue::Doc(_) => {}
    }
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
    items: Vec<Item>,
    catalog: &Catalog,
) -> std::io::Result<Encoded> {
    let (body, _) = body_of(items, catalog)?;
    let archive = rkyv::to_bytes::<rkyv::rancor::Error>(&body).map_err(archiving_failed)?;
    drop(body);
    let table = block_table(&archive, format::BLOCK_BITS);
    Ok(Encoded {
        header: header(lsn, seed, archive.len() as u64, &table),
        body: archive,
        table,
    })
}

/// The archived form's root: `items` sorted by hash and key, their directory and
/// expiry index, and `catalog`; and the number of keys.
fn body_of(mut items: Vec<Item>, catalog: &Catalog) -> std::io::Result<(Body, usize)> {
    // Items from a snapshot build come sorted, which the sort confirms in one pass.
    items.sort_unstable_by(|a, b| a.position().cmp(&b.position()));
    items.iter_mut().for_each(sort_collection);
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
    let mut entries = Vec::with_capacity(keys);
    for (position, mut item) in items.into_iter().enumerate() {
        if item.entry.stamp & format::EXPIRES != 0 {
            return Err(std::io::Error::other("an LSN reached 2^63"));
        }
        if let Some(at) = item.expires_at_ms {
            item.entry.stamp |= format::EXPIRES;
            expiring.push(Expiry {
                position: position as u32,
                at_ms: at.get(),
            });
        }
        entries.push(item.entry);
    }
    let body = Body {
        entries,
        dir_bits,
        dir: directory,
        expiring,
        catalog: catalog.encode(),
    };
    Ok((body, keys))
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
    items: Vec<Item>,
    catalog: &Catalog,
) -> std::io::Result<Written> {
    let started = Instant::now();
    let (body, keys) = body_of(items, catalog)?;
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

    fn sample(hasher: KeyHasher, keys: usize) -> Vec<Item> {
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
                Item::from_entry(hasher.hash_one(key.as_bytes()), &entry)
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
                Item::from_entry(
                    hasher.hash_one(key),
                    &Entry::new(key, value.clone(), 1, None),
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
            vec![Item::from_entry(hasher.hash_one(b"s"), &entry)],
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
