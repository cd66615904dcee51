//! Snapshot formats 3 and 4, read once at open and written again in the current
//! format, so that the read path knows one layout.
//!
//! Their entries held the whole 64-bit hash and the expiry time (48 bytes each
//! against 32), and format 3 left sets and hashes unsorted. Both share one archived
//! layout, this one. A file in either is verified whole (every block, then
//! bytecheck), since converting reads all of it anyway; then its keys are written as
//! a new snapshot at the same LSN, which replaces the old file (or, for a read-only
//! open, is kept in memory).

use std::num::NonZeroU64;
use std::path::Path;

use memmap2::{Mmap, MmapMut};
use rkyv::{Archive, Serialize};

use super::blocks::Blocks;
use bytes::Bytes;
use rkyv::vec::ArchivedVec;

use super::format::{self, HEADER_BYTES, Pair};
use super::writer::{self, Keyed};
use super::{Base, SnapshotError};
use crate::doc::Doc;
use crate::doc::catalog::Catalog;
use crate::value::{self, ByteString};

/// The oldest format this code converts.
pub(crate) const FIRST_LEGACY_VERSION: u32 = 3;

/// The archived state of formats 3 and 4.
#[derive(Archive, Serialize)]
#[cfg_attr(
    not(test),
    expect(
        dead_code,
        reason = "only tests build old files; the code reads their archived form"
    )
)]
pub(crate) struct Body {
    /// Every key, sorted by (hash, key).
    pub(crate) entries: Vec<Entry>,
    /// How many top hash bits the directory uses.
    pub(crate) dir_bits: u32,
    /// The directory (as in the current format).
    pub(crate) dir: Vec<u32>,
    /// Positions of the entries that have an expiry time.
    pub(crate) expiring: Vec<u32>,
    /// The schemas and collections (`doc::catalog`).
    pub(crate) catalog: Vec<u8>,
}

/// One key of formats 3 and 4.
#[derive(Archive, Serialize)]
pub(crate) struct Entry {
    /// The key's hash with the snapshot's seed.
    pub(crate) hash: u64,
    /// The key.
    pub(crate) key: Vec<u8>,
    /// The LSN of the key's last write.
    pub(crate) version: u64,
    /// When the key expires (ms since the epoch); 0 for never.
    pub(crate) expires_at_ms: u64,
    /// The value.
    pub(crate) value: Value,
}

/// A value of formats 3 and 4.
#[derive(Archive, Serialize)]
#[cfg_attr(
    not(test),
    expect(
        dead_code,
        reason = "only tests build old files; the code reads their archived form"
    )
)]
pub(crate) enum Value {
    /// A byte string.
    Bytes(Vec<u8>),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A list, head first.
    List(Vec<Vec<u8>>),
    /// A set's members (sorted in format 4).
    Set(Vec<Vec<u8>>),
    /// A hash's pairs (sorted by field in format 4).
    Hash(Vec<Pair>),
    /// A document.
    Doc {
        /// The collection's number.
        collection: u32,
        /// The encoded fields.
        data: Vec<u8>,
    },
}

/// Maps the snapshot at `path`; a file in an older format is converted first: in
/// place (a new file at the same LSN replaces it), or in memory for a read-only
/// open, which writes nothing.
pub(crate) fn open_converting(
    path: &Path,
    validate: bool,
    read_only: bool,
) -> Result<Base, SnapshotError> {
    let map = super::map_file(path)?;
    let invalid = |reason: String| SnapshotError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let (header, body_end) = super::frame(&map).map_err(invalid)?;
    if header.version == format::VERSION {
        return Base::from_map(path, map, validate);
    }
    let body = &map[HEADER_BYTES..body_end];
    Blocks::new(&map[body_end..], header.block_bits)
        .check_all(body)
        .map_err(|damage| invalid(super::describe(damage)))?;
    let (items, catalog) = read(body).map_err(invalid)?;
    tracing::info!(
        path = %path.display(),
        from = header.version,
        to = format::VERSION,
        keys = items.len(),
        read_only,
        "converting a snapshot to the current format"
    );
    let io = |error| SnapshotError::Io {
        path: path.to_path_buf(),
        error,
    };
    if read_only {
        let encoded = writer::encode(header.lsn, header.seed, items, &catalog).map_err(io)?;
        return Base::from_map(path, in_memory(&encoded).map_err(io)?, validate);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let written = writer::write(dir, header.lsn, header.seed, items, &catalog).map_err(io)?;
    drop(map);
    if written.path != path {
        // The file's name did not match its LSN: the new file supersedes it.
        std::fs::remove_file(path).map_err(io)?;
    }
    Base::open(&written.path, validate)
}

/// A read-only anonymous mapping holding `encoded`'s file bytes.
fn in_memory(encoded: &writer::Encoded) -> std::io::Result<Mmap> {
    let mut map = MmapMut::map_anon(encoded.size_bytes() as usize)?;
    let (header, rest) = map.split_at_mut(HEADER_BYTES);
    let (body, table) = rest.split_at_mut(encoded.body.len());
    header.copy_from_slice(&encoded.header);
    body.copy_from_slice(&encoded.body);
    table.copy_from_slice(&encoded.table);
    map.make_read_only()
}

/// The keys and catalog of a format 3 or 4 body whose every block matched its
/// checksum; the reason if the archive does not validate.
pub(crate) fn read(body: &[u8]) -> Result<(Vec<Keyed<'static>>, Catalog), String> {
    let archive = rkyv::access::<ArchivedBody, rkyv::rancor::Error>(body)
        .map_err(|error| format!("the archive does not validate: {error}"))?;
    let catalog = Catalog::decode(archive.catalog.as_slice())?;
    let items = archive.entries.iter().map(keyed).collect();
    Ok((items, catalog))
}

/// `entry` as an entry of the live map, which the writer archives in the current
/// format.
fn keyed(entry: &ArchivedEntry) -> Keyed<'static> {
    fn items(items: &ArchivedVec<ArchivedVec<u8>>) -> impl Iterator<Item = Bytes> + '_ {
        items
            .iter()
            .map(|item| Bytes::copy_from_slice(item.as_slice()))
    }
    let value = match &entry.value {
        ArchivedValue::Bytes(bytes) => value::Value::Bytes(ByteString::new(bytes.as_slice())),
        ArchivedValue::Int(n) => value::Value::Int(n.to_native()),
        ArchivedValue::Float(x) => value::Value::Float(x.to_native()),
        ArchivedValue::List(list) => value::Value::List(Box::new(items(list).collect())),
        ArchivedValue::Set(members) => value::Value::Set(Box::new(items(members).collect())),
        ArchivedValue::Hash(pairs) => value::Value::Hash(Box::new(
            pairs
                .iter()
                .map(|pair| {
                    (
                        Bytes::copy_from_slice(pair.field.as_slice()),
                        Bytes::copy_from_slice(pair.value.as_slice()),
                    )
                })
                .collect(),
        )),
        ArchivedValue::Doc { collection, data } => value::Value::Doc(Box::new(Doc {
            collection: collection.to_native(),
            data: data.as_slice().into(),
        })),
    };
    Keyed::live(
        entry.hash.to_native(),
        crate::entry::Entry::new(
            entry.key.as_slice(),
            value,
            entry.version.to_native(),
            NonZeroU64::new(entry.expires_at_ms.to_native()),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Entry;
    use crate::hash::KeyHasher;
    use crate::snapshot::format::Header;
    use crate::snapshot::writer::block_table;
    use crate::value::Value;

    const SEED: u64 = 11;
    const LSN: u64 = 9;

    /// The keys of the old file, as entries.
    fn entries() -> Vec<Entry> {
        let bytes = |items: &[&str]| -> Vec<bytes::Bytes> {
            items
                .iter()
                .map(|item| bytes::Bytes::from(item.to_string()))
                .collect()
        };
        let expiry = NonZeroU64::new(4_000_000_000_000);
        vec![
            Entry::new(b"text", Value::from("hello"), 1, None),
            Entry::new(b"int", Value::Int(-42), 2, expiry),
            Entry::new(b"float", Value::Float(1.5), 3, None),
            Entry::new(
                b"list",
                Value::List(Box::new(bytes(&["z", "a"]).into_iter().collect())),
                4,
                None,
            ),
            Entry::new(
                b"set",
                Value::Set(Box::new(bytes(&["c", "a", "b"]).into_iter().collect())),
                5,
                expiry,
            ),
            Entry::new(
                b"hash",
                Value::Hash(Box::new(
                    bytes(&["y", "x"])
                        .into_iter()
                        .zip(bytes(&["1", "2"]))
                        .collect(),
                )),
                6,
                None,
            ),
            Entry::new(
                b"doc",
                Value::Doc(Box::new(crate::doc::Doc {
                    collection: 3,
                    data: b"fields"[..].into(),
                })),
                7,
                None,
            ),
        ]
    }

    /// The old form of `entry`; its set and hash in reverse order (format 3 did not
    /// sort them).
    fn old_entry(hasher: KeyHasher, entry: &Entry) -> super::Entry {
        let items = |items: &mut dyn Iterator<Item = &[u8]>| -> Vec<Vec<u8>> {
            items.map(<[u8]>::to_vec).collect()
        };
        let reversed = |mut items: Vec<Vec<u8>>| {
            items.sort_unstable_by(|a, b| b.cmp(a));
            items
        };
        super::Entry {
            hash: hasher.hash_one(entry.key()),
            key: entry.key().to_vec(),
            version: entry.version(),
            expires_at_ms: entry.expires_at_ms().map_or(0, NonZeroU64::get),
            value: match &*entry.value() {
                Value::Bytes(bytes) => super::Value::Bytes(bytes.to_vec()),
                Value::Int(n) => super::Value::Int(*n),
                Value::Float(x) => super::Value::Float(*x),
                Value::List(list) => super::Value::List(items(&mut list.iter())),
                Value::Set(set) => super::Value::Set(reversed(items(&mut set.iter()))),
                Value::Hash(hash) => {
                    let mut pairs: Vec<Pair> = hash
                        .iter()
                        .map(|(field, value)| Pair {
                            field: field.to_vec(),
                            value: value.to_vec(),
                        })
                        .collect();
                    pairs.sort_unstable_by(|a, b| b.field.cmp(&a.field));
                    super::Value::Hash(pairs)
                }
                Value::Doc(doc) => super::Value::Doc {
                    collection: doc.collection,
                    data: doc.data.to_vec(),
                },
            },
        }
    }

    /// A format `version` snapshot file of `entries()`.
    fn old_file(version: u32) -> Vec<u8> {
        let hasher = KeyHasher::with_seed(SEED);
        let mut old: Vec<super::Entry> = entries()
            .iter()
            .map(|entry| old_entry(hasher, entry))
            .collect();
        old.sort_unstable_by(|a, b| (a.hash, &a.key).cmp(&(b.hash, &b.key)));
        let expiring = (0..old.len() as u32)
            .filter(|at| old[*at as usize].expires_at_ms != 0)
            .collect();
        let body = Body {
            dir_bits: 0,
            dir: vec![0, old.len() as u32],
            entries: old,
            expiring,
            catalog: Catalog::default().encode(),
        };
        let archive = rkyv::to_bytes::<rkyv::rancor::Error>(&body).unwrap();
        let table = block_table(&archive, format::BLOCK_BITS);
        let header = Header {
            version,
            lsn: LSN,
            seed: SEED,
            body_bytes: archive.len() as u64,
            table_crc: crc32c::crc32c(&table),
            block_bits: format::BLOCK_BITS,
        };
        [&header.encode()[..], &archive, &table].concat()
    }

    /// Every key of `entries()` reads back from `base` as it was, and the set and
    /// hash are searched in place.
    fn assert_holds_everything(base: &Base) {
        let hasher = KeyHasher::with_seed(SEED);
        assert_eq!((base.lsn(), base.seed(), base.len()), (LSN, SEED, 7));
        for entry in entries() {
            let found = base
                .get_hashed(entry.key(), hasher.hash_one(entry.key()))
                .unwrap()
                .expect("every key is converted")
                .to_entry()
                .unwrap();
            assert_eq!(found.value(), entry.value());
            assert_eq!(found.version(), entry.version());
            assert_eq!(found.expires_at_ms(), entry.expires_at_ms());
        }
        let get = |key: &[u8]| base.get_hashed(key, hasher.hash_one(key)).unwrap().unwrap();
        assert!(get(b"set").set_contains(b"a").unwrap());
        assert_eq!(get(b"hash").hash_get(b"y").unwrap(), Some(&b"1"[..]));
        assert_eq!(base.expiring().unwrap().len(), 2);
    }

    #[test]
    fn old_formats_are_converted_at_open() {
        for version in [3, 4] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(super::super::file_name(LSN));
            let old = old_file(version);
            std::fs::write(&path, &old).unwrap();
            assert!(
                Base::open(&path, true).is_err(),
                "the old format is not read in place"
            );

            // Read-only: converted in memory, the file untouched.
            for validate in [false, true] {
                let base = open_converting(&path, validate, true).unwrap();
                assert_holds_everything(&base);
                assert_eq!(std::fs::read(&path).unwrap(), old);
            }

            // Writable: the file is replaced by one in the current format.
            let base = open_converting(&path, false, false).unwrap();
            assert_holds_everything(&base);
            drop(base);
            let new = std::fs::read(&path).unwrap();
            assert_eq!(Header::decode(&new).unwrap().version, format::VERSION);
            assert_eq!(
                std::fs::read_dir(dir.path()).unwrap().count(),
                1,
                "only the converted file is left"
            );
            assert_holds_everything(&Base::open(&path, true).unwrap());
        }
    }
}
