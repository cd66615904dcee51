//! Snapshots: the whole state at an LSN, in one file that is mapped and read in
//! place (the base under the overlay).
//!
//! A snapshot is written to a temporary file, fsync'd, renamed into place and the
//! directory fsync'd, so a crash leaves either the old snapshot or the new one. At
//! open the header and the body's checksum are verified before anything is read;
//! with validation on ([`crate::Options::validate_snapshots`], for files of unknown
//! origin) the archive is also checked structurally by rkyv's bytecheck, so a
//! hostile file gives an error, never undefined behavior.

pub(crate) mod build;
pub(crate) mod format;
pub(crate) mod writer;

use std::fs::File;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use memmap2::Mmap;
use thiserror::Error;

use crate::entry::{Entry, Lsn};
use crate::value::{Hash, List, Set, Value};
use format::{ArchivedBody, ArchivedSnapEntry, ArchivedSnapValue, HEADER_BYTES, Header};

/// Why a snapshot could not be opened.
#[derive(Debug, Error)]
pub enum SnapshotError {
    /// The file could not be read or mapped.
    #[error("snapshot I/O error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The file is truncated, corrupt or not a snapshot.
    #[error("invalid snapshot {path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// A snapshot taken and installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The snapshot holds every batch up to this LSN.
    pub lsn: Lsn,
    /// Keys in it (expired ones not yet swept included).
    pub keys: usize,
    /// Its file.
    pub path: PathBuf,
    /// The file's size.
    pub size_bytes: u64,
}

/// Why `Db::snapshot` did not take a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CompactionError {
    /// The database lives in memory: there is nowhere to write one.
    #[error("the database is in memory: it has no data directory to snapshot into")]
    InMemory,
    /// The database was opened read-only.
    #[error("the database is open read-only")]
    ReadOnly,
    /// The database closed first.
    #[error("the database is closed")]
    Closed,
    /// The snapshot could not be written; the log and the data are unchanged.
    #[error("the snapshot failed: {0}")]
    Failed(String),
}

/// The file name of the snapshot at `lsn`.
pub(crate) fn file_name(lsn: Lsn) -> String {
    crate::dir::numbered_name("snap-", lsn, ".chiral")
}

/// The snapshots in `dir`, oldest first, as (LSN, path).
pub(crate) fn list(dir: &Path) -> std::io::Result<Vec<(Lsn, PathBuf)>> {
    crate::dir::list_numbered(dir, "snap-", ".chiral")
}

/// An open snapshot: the mapped file.
pub(crate) struct Base {
    map: Mmap,
    header: Header,
    path: PathBuf,
}

impl std::fmt::Debug for Base {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Base")
            .field("path", &self.path)
            .field("lsn", &self.header.lsn)
            .finish_non_exhaustive()
    }
}

impl Base {
    /// Maps and checks the snapshot at `path`: header, length, body checksum, the
    /// directory's shape; with `validate`, the whole archive too.
    pub(crate) fn open(path: &Path, validate: bool) -> Result<Base, SnapshotError> {
        let invalid = |reason: String| SnapshotError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let io = |source| SnapshotError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len < HEADER_BYTES as u64 {
            return Err(invalid("the file is shorter than a snapshot header".into()));
        }
        // SAFETY: snapshot files are never written after the rename that publishes
        // them; Chiral only reads and deletes them. (Another process truncating the
        // file under us would fault the mapping, as with any mapped database file.)
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        let header = Header::decode(&map).map_err(|reason| invalid(reason.into()))?;
        let body = &map[HEADER_BYTES..];
        if header.body_bytes != body.len() as u64 {
            return Err(invalid(format!(
                "the body should be {} bytes but the file holds {} (truncated?)",
                header.body_bytes,
                body.len()
            )));
        }
        if crc32c::crc32c(body) != header.body_crc {
            return Err(invalid("the body's checksum does not match".into()));
        }
        if validate {
            rkyv::access::<ArchivedBody, rkyv::rancor::Error>(body)
                .map_err(|error| invalid(format!("the archive does not validate: {error}")))?;
        } else if body.len() < std::mem::size_of::<ArchivedBody>() {
            return Err(invalid("the body is too short for an archive".into()));
        }
        let base = Base {
            map,
            header,
            path: path.to_path_buf(),
        };
        base.check_directory()
            .map_err(|reason| invalid(reason.into()))?;
        Ok(base)
    }

    /// Checks what lookups rely on: the directory covers every entry in order.
    fn check_directory(&self) -> Result<(), &'static str> {
        let body = self.body();
        let bits = body.dir_bits.to_native();
        if bits > 32 {
            return Err("the directory is too large");
        }
        let dir = body.dir.as_slice();
        if dir.len() != (1usize << bits) + 1 {
            return Err("the directory's size does not match its bits");
        }
        if dir[0].to_native() != 0
            || dir
                .windows(2)
                .any(|pair| pair[0].to_native() > pair[1].to_native())
            || dir[dir.len() - 1].to_native() as usize != body.entries.len()
        {
            return Err("the directory is out of order");
        }
        if body
            .expiring
            .iter()
            .any(|at| at.to_native() as usize >= body.entries.len())
        {
            return Err("an expiring entry is out of range");
        }
        Ok(())
    }

    fn body(&self) -> &ArchivedBody {
        // SAFETY: `open` checked the body's checksum against the header the writer
        // computed over the archive it produced (and, for files of unknown origin,
        // validated the archive with bytecheck), and the mapping never changes.
        unsafe { rkyv::access_unchecked::<ArchivedBody>(&self.map[HEADER_BYTES..]) }
    }

    /// The LSN the snapshot was taken at.
    pub(crate) fn lsn(&self) -> Lsn {
        self.header.lsn
    }

    /// The hash seed its entries are sorted by.
    pub(crate) fn seed(&self) -> u64 {
        self.header.seed
    }

    /// The file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The file's size.
    pub(crate) fn size_bytes(&self) -> u64 {
        self.map.len() as u64
    }

    /// Number of keys (expired ones included).
    pub(crate) fn len(&self) -> usize {
        self.body().entries.len()
    }

    /// The key's entry, given its hash.
    #[inline]
    pub(crate) fn get_hashed(&self, key: &[u8], hash: u64) -> Option<&ArchivedSnapEntry> {
        let body = self.body();
        let bucket = format::bucket_of(hash, body.dir_bits.to_native());
        let start = body.dir.get(bucket)?.to_native() as usize;
        let end = body.dir.get(bucket + 1)?.to_native() as usize;
        body.entries
            .get(start..end)?
            .iter()
            .find(|entry| entry.hash.to_native() == hash && entry.key.as_slice() == key)
    }

    /// The entries whose hash lies in `from..=to`, in hash order.
    pub(crate) fn range(&self, from: u64, to: u64) -> &[ArchivedSnapEntry] {
        let entries = self.body().entries.as_slice();
        let start = entries.partition_point(|entry| entry.hash.to_native() < from);
        let end = entries.partition_point(|entry| entry.hash.to_native() <= to);
        &entries[start..end.max(start)]
    }

    /// Every entry, in hash order.
    pub(crate) fn entries(&self) -> &[ArchivedSnapEntry] {
        self.body().entries.as_slice()
    }

    /// The keys that have an expiry time, with it.
    pub(crate) fn expiring(&self) -> impl Iterator<Item = (NonZeroU64, &[u8])> {
        let body = self.body();
        body.expiring.iter().filter_map(|at| {
            let entry = &body.entries[at.to_native() as usize];
            Some((expiry_of(entry)?, entry.key.as_slice()))
        })
    }
}

/// The entry's expiry time.
pub(crate) fn expiry_of(entry: &ArchivedSnapEntry) -> Option<NonZeroU64> {
    NonZeroU64::new(entry.expires_at_ms.to_native())
}

/// Calls `f` with the string form of a string-kind archived value, in place for
/// bytes; `None` for collections.
pub(crate) fn with_str<R>(value: &ArchivedSnapValue, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
    match value {
        ArchivedSnapValue::Bytes(bytes) => Some(f(bytes.as_slice())),
        ArchivedSnapValue::Int(n) => Value::Int(n.to_native()).with_str(f),
        ArchivedSnapValue::Float(x) => Value::Float(x.to_native()).with_str(f),
        _ => None,
    }
}

/// The archived value's type.
pub(crate) fn kind_of(value: &ArchivedSnapValue) -> crate::value::Kind {
    use crate::value::Kind;
    match value {
        ArchivedSnapValue::Bytes(_) | ArchivedSnapValue::Int(_) | ArchivedSnapValue::Float(_) => {
            Kind::String
        }
        ArchivedSnapValue::List(_) => Kind::List,
        ArchivedSnapValue::Set(_) => Kind::Set,
        ArchivedSnapValue::Hash(_) => Kind::Hash,
    }
}

/// The archived value as an owned value (a copy).
pub(crate) fn to_value(value: &ArchivedSnapValue) -> Value {
    let bytes = |items: &rkyv::vec::ArchivedVec<rkyv::vec::ArchivedVec<u8>>| {
        items
            .iter()
            .map(|item| Bytes::copy_from_slice(item.as_slice()))
            .collect::<Vec<_>>()
    };
    match value {
        ArchivedSnapValue::Bytes(data) => Value::Bytes(data.as_slice().into()),
        ArchivedSnapValue::Int(n) => Value::Int(n.to_native()),
        ArchivedSnapValue::Float(x) => Value::Float(x.to_native()),
        ArchivedSnapValue::List(items) => {
            Value::List(Box::new(bytes(items).into_iter().collect::<List>()))
        }
        ArchivedSnapValue::Set(items) => {
            Value::Set(Box::new(bytes(items).into_iter().collect::<Set>()))
        }
        ArchivedSnapValue::Hash(pairs) => Value::Hash(Box::new(
            pairs
                .iter()
                .map(|pair| {
                    (
                        Bytes::copy_from_slice(pair.field.as_slice()),
                        Bytes::copy_from_slice(pair.value.as_slice()),
                    )
                })
                .collect::<Hash>(),
        )),
    }
}

/// The archived entry as an owned entry (a copy).
pub(crate) fn to_entry(entry: &ArchivedSnapEntry) -> Entry {
    Entry::new(
        entry.key.as_slice(),
        to_value(&entry.value),
        entry.version.to_native(),
        expiry_of(entry),
    )
}
