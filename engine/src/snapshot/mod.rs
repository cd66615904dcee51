//! Snapshots: the whole state at an LSN, in one file that is mapped and read in
//! place (the base under the overlay).
//!
//! A snapshot is written to a temporary file, fsync'd, renamed into place and the
//! directory fsync'd, so a crash leaves either the old snapshot or the new one. At
//! open the header and the block table are verified, and each block of the body is
//! verified the first time a read touches it ([`blocks`]), before any of its bytes
//! is read as an archived type: damage gives an error naming file and offset. With
//! validation on ([`crate::Options::validate_snapshots`], for files of unknown
//! origin) every block is verified at open and the archive is also checked
//! structurally by rkyv's bytecheck, so a hostile file gives an error, never
//! undefined behavior.

pub(crate) mod blocks;
pub(crate) mod build;
pub(crate) mod cut;
mod entry;
pub(crate) mod format;
mod legacy;
pub(crate) mod writer;

use std::fs::File;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use thiserror::Error;

use std::sync::Arc;

use crate::doc::catalog::Catalog;
use crate::entry::Lsn;
use crate::error::OpError;
use crate::hash::KeyHasher;
use crate::prefetch::Stage;
use blocks::{Blocks, Damage};
use format::{ArchivedBody, ArchivedSnapEntry, ArchivedSnapValue, HEADER_BYTES, Header};
use rkyv::vec::ArchivedVec;

pub(crate) use entry::BaseEntry;
pub(crate) use legacy::open_converting;

/// Why a snapshot could not be opened.
#[derive(Debug, Error)]
pub enum SnapshotError {
    /// The file could not be read or mapped.
    #[error("snapshot I/O error on {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error (in the message, so not also a `source`).
        error: std::io::Error,
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
///
/// Invariant: the root of the archive (the last bytes of the body) was verified at
/// open, and the arrays it points to lie inside the body; any other byte is read only
/// after [`Blocks::check`] passed for it.
pub(crate) struct Base {
    map: Mmap,
    header: Header,
    path: PathBuf,
    blocks: Blocks,
    /// The schemas and collections, decoded and checked at open.
    catalog: Arc<Catalog>,
    /// Hashes keys with the snapshot's seed (entries keep only the top of a hash).
    hasher: KeyHasher,
}

/// Opens and maps the file at `path`.
fn map_file(path: &Path) -> Result<Mmap, SnapshotError> {
    let io = |error| SnapshotError::Io {
        path: path.to_path_buf(),
        error,
    };
    let file = File::open(path).map_err(io)?;
    // SAFETY: snapshot files are never written after the rename that publishes
    // them; Chiral only reads and deletes them. (Another process truncating the
    // file under us would fault the mapping, as with any mapped database file.)
    unsafe { Mmap::map(&file) }.map_err(io)
}

/// Checks a snapshot file's frame: the header, the body's length, and the block
/// table's length and checksum. Returns the header and where the body ends.
fn frame(file: &[u8]) -> Result<(Header, usize), String> {
    let header = Header::decode(file)?;
    let body_end = usize::try_from(header.body_bytes)
        .ok()
        .and_then(|bytes| bytes.checked_add(HEADER_BYTES))
        .filter(|end| *end <= file.len())
        .ok_or_else(|| {
            format!(
                "the body should be {} bytes but the file holds {} (truncated?)",
                header.body_bytes,
                file.len() - HEADER_BYTES
            )
        })?;
    let table = &file[body_end..];
    if table.len() as u64 != header.blocks() * 4 {
        return Err(format!(
            "the block table should be {} bytes but the file holds {} (truncated?)",
            header.blocks() * 4,
            table.len()
        ));
    }
    if crc32c::crc32c(table) != header.table_crc {
        return Err("the block table's checksum does not match".into());
    }
    Ok((header, body_end))
}

/// The index in `table` (sorted by position) of the expiry of the entry at
/// `position`, of `entries` entries.
///
/// Expiring keys are spread over the entries as their hashes are, so the entry at
/// `position` is listed near `position * table.len() / entries`: the search starts
/// there and gallops outwards, a few probes in neighbouring cache lines where a
/// binary search of a million-key table would make twenty far apart.
fn search_near<T>(
    table: &[T],
    position: usize,
    entries: usize,
    position_of: impl Fn(&T) -> usize,
) -> Option<usize> {
    let position_at = |at: usize| position_of(&table[at]);
    if table.is_empty() || entries == 0 {
        return None;
    }
    let guess = ((position as u128 * table.len() as u128) / entries as u128) as usize;
    let guess = guess.min(table.len() - 1);
    // Widen [low, high) around the guess until it must hold `position` if anything does.
    let (mut low, mut high) = (guess, guess + 1);
    let mut step = 1;
    while low > 0 && position_at(low) > position {
        high = low;
        low = low.saturating_sub(step);
        step *= 2;
    }
    step = 1;
    while high < table.len() && position_at(high - 1) < position {
        low = high - 1;
        high = (high + step).min(table.len());
        step *= 2;
    }
    let found = table[low..high].binary_search_by_key(&position, position_of);
    found.ok().map(|at| low + at)
}

/// `damage` in words, for open errors.
fn describe(damage: Damage) -> String {
    format!(
        "{} (at byte {})",
        damage.reason,
        damage.offset + HEADER_BYTES as u64
    )
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
    /// Maps and checks the snapshot at `path`, which must be in the current format:
    /// header, length, body checksum, the directory's shape; with `validate`, the
    /// whole archive too.
    pub(crate) fn open(path: &Path, validate: bool) -> Result<Base, SnapshotError> {
        Base::from_map(path, map_file(path)?, validate)
    }

    /// Checks the snapshot file `map` (from `path`) as [`Base::open`] does.
    fn from_map(path: &Path, map: Mmap, validate: bool) -> Result<Base, SnapshotError> {
        let invalid = |reason: String| SnapshotError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let (header, body_end) = frame(&map).map_err(invalid)?;
        if header.version != format::VERSION {
            return Err(invalid(format!(
                "format {} is converted when a database opens, not read in place",
                header.version
            )));
        }
        let table = &map[body_end..];
        let mut base = Base {
            blocks: Blocks::new(table, header.block_bits),
            map,
            header,
            path: path.to_path_buf(),
            catalog: Arc::default(),
            hasher: KeyHasher::with_seed(header.seed),
        };
        let body = base.body_bytes();
        let root_bytes = std::mem::size_of::<ArchivedBody>();
        if body.len() < root_bytes {
            return Err(invalid("the body is too short for an archive".into()));
        }
        let damaged = |damage: Damage| invalid(describe(damage));
        if validate {
            base.blocks.check_all(body).map_err(damaged)?;
            rkyv::access::<ArchivedBody, rkyv::rancor::Error>(body)
                .map_err(|error| invalid(format!("the archive does not validate: {error}")))?;
            base.check_directory()
                .map_err(|reason| invalid(reason.into()))?;
        } else {
            base.blocks
                .check(body, body.len() - root_bytes, root_bytes)
                .map_err(damaged)?;
        }
        base.check_root().map_err(damaged)?;
        let catalog = base
            .vec(&base.body().catalog)
            .map_err(|error| invalid(error.to_string()))?;
        base.catalog = Arc::new(Catalog::decode(catalog).map_err(invalid)?);
        Ok(base)
    }

    /// Checks what every lookup relies on and the root can tell in O(1): the arrays
    /// lie inside the body and the directory has the size its bits say.
    fn check_root(&self) -> Result<(), Damage> {
        let body = self.body();
        let shape = |reason| Damage {
            offset: (self.body_bytes().len() - std::mem::size_of::<ArchivedBody>()) as u64,
            reason,
        };
        let bits = body.dir_bits.to_native();
        if bits > 32 || body.dir.len() != (1usize << bits) + 1 {
            return Err(shape("the directory's size does not match its bits"));
        }
        self.extent(elements(&body.entries), body.entries.len())?;
        self.extent(elements(&body.dir), body.dir.len())?;
        self.extent(elements(&body.catalog), body.catalog.len())?;
        // The expiry table is read at open anyway (the commit thread indexes it), and
        // verifying it here lets lookups read it without a fallible check.
        let (start, len_bytes) = self.extent(elements(&body.expiring), body.expiring.len())?;
        self.blocks.check(self.body_bytes(), start, len_bytes)
    }

    /// Checks what a lookup relies on and would otherwise find out one bucket at a
    /// time: the directory covers every entry in order, the expiry table lists
    /// exactly the entries that say they expire, and each set and hash is sorted
    /// without repeats. The validating path runs it after every block
    /// was verified and bytecheck passed.
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
        let expiring = body.expiring.as_slice();
        if expiring
            .windows(2)
            .any(|pair| pair[0].position.to_native() >= pair[1].position.to_native())
            || expiring.iter().any(|expiry| {
                expiry.at_ms.to_native() == 0
                    || body
                        .entries
                        .get(expiry.position.to_native() as usize)
                        .is_none_or(|entry| entry.stamp.to_native() & format::EXPIRES == 0)
            })
            || body
                .entries
                .iter()
                .filter(|entry| entry.stamp.to_native() & format::EXPIRES != 0)
                .count()
                != expiring.len()
        {
            return Err("the expiry table does not match the entries");
        }
        for entry in body.entries.iter() {
            let sorted = match &entry.value {
                ArchivedSnapValue::Set(members) => members
                    .windows(2)
                    .all(|pair| pair[0].as_slice() < pair[1].as_slice()),
                ArchivedSnapValue::Hash(pairs) => pairs
                    .windows(2)
                    .all(|pair| pair[0].field.as_slice() < pair[1].field.as_slice()),
                _ => true,
            };
            if !sorted {
                return Err("a set or hash is not in order (lookups bisect it)");
            }
        }
        Ok(())
    }

    /// The body's bytes.
    fn body_bytes(&self) -> &[u8] {
        &self.map[HEADER_BYTES..HEADER_BYTES + self.header.body_bytes as usize]
    }

    /// The archive's root. Only the root itself is known good: reach anything it
    /// points to through [`Base::checked`].
    fn body(&self) -> &ArchivedBody {
        // SAFETY: `open` verified the blocks holding the root (the body's last bytes)
        // against the checksums the writer computed over the archive it produced (and,
        // for files of unknown origin, validated the whole archive with bytecheck);
        // the mapping never changes.
        unsafe { rkyv::access_unchecked::<ArchivedBody>(self.body_bytes()) }
    }

    /// The body offset and length in bytes of `count` `T`s at `ptr`, if they lie
    /// inside the body.
    fn extent<T>(&self, ptr: *const T, count: usize) -> Result<(usize, usize), Damage> {
        let body = self.body_bytes();
        let outside = Damage {
            offset: 0,
            reason: "a reference points outside the snapshot body",
        };
        let start = (ptr as usize)
            .checked_sub(body.as_ptr() as usize)
            .ok_or(outside)?;
        let len_bytes = count.checked_mul(std::mem::size_of::<T>()).ok_or(outside)?;
        if start
            .checked_add(len_bytes)
            .is_none_or(|end| end > body.len())
        {
            return Err(Damage {
                offset: start as u64,
                ..outside
            });
        }
        Ok((start, len_bytes))
    }

    /// The `count` `T`s at `ptr`, once the blocks holding them are verified.
    fn checked<T>(&self, ptr: *const T, count: usize) -> Result<&[T], OpError> {
        if count == 0 {
            return Ok(&[]);
        }
        let (start, len_bytes) = self.extent(ptr, count).map_err(|d| self.damaged(d))?;
        self.blocks
            .check(self.body_bytes(), start, len_bytes)
            .map_err(|d| self.damaged(d))?;
        // SAFETY: the range lies inside the mapped body (`extent`), its bytes match
        // the checksums the writer computed over an archive of `T`s at this place,
        // and the mapping lives as long as `self`. Alignment: the writer archived `T`s
        // here, and the body starts at a 64-byte boundary of a page-aligned mapping.
        Ok(unsafe { std::slice::from_raw_parts(ptr, count) })
    }

    /// The elements of an archived vector inside a verified struct, verified.
    fn vec<'a, T>(&'a self, vec: &'a ArchivedVec<T>) -> Result<&'a [T], OpError> {
        self.checked(elements(vec), vec.len())
    }

    /// Verifies everything `entry` (a verified struct) points to: its key and value,
    /// down to every item of a collection.
    fn check_entry(&self, entry: &ArchivedSnapEntry) -> Result<(), OpError> {
        self.check_head(entry)?;
        match &entry.value {
            ArchivedSnapValue::List(items) | ArchivedSnapValue::Set(items) => {
                items.iter().try_for_each(|item| self.vec(item).map(drop))
            }
            ArchivedSnapValue::Hash(pairs) => pairs.iter().try_for_each(|pair| {
                self.vec(&pair.field)?;
                self.vec(&pair.value).map(drop)
            }),
            _ => Ok(()),
        }
    }

    /// Verifies what a lookup reads of `entry` (a verified struct) right away: its
    /// key, a string's or document's bytes, and a collection's array of item
    /// headers. A collection's items are verified one by one as they are read
    /// ([`BaseEntry`]), so finding one field of a large hash does not touch the rest.
    fn check_head(&self, entry: &ArchivedSnapEntry) -> Result<(), OpError> {
        self.vec(&entry.key)?;
        match &entry.value {
            ArchivedSnapValue::Bytes(bytes) => {
                self.vec(bytes)?;
            }
            ArchivedSnapValue::Int(_) | ArchivedSnapValue::Float(_) => {}
            ArchivedSnapValue::List(items) | ArchivedSnapValue::Set(items) => {
                self.vec(items)?;
            }
            ArchivedSnapValue::Hash(pairs) => {
                self.vec(pairs)?;
            }
            ArchivedSnapValue::Doc(bytes) => {
                if format::doc_parts(self.vec(bytes)?).is_none() {
                    let (offset, _) = self
                        .extent(elements(bytes), bytes.len())
                        .map_err(|d| self.damaged(d))?;
                    return Err(self.damaged(Damage {
                        offset: offset as u64,
                        reason: "a document is shorter than its collection number",
                    }));
                }
            }
        }
        Ok(())
    }

    /// The entry structs `start..end` (what they point to is not verified yet).
    fn run(&self, start: usize, end: usize) -> Result<&[ArchivedSnapEntry], OpError> {
        let entries = &self.body().entries;
        if start > end || end > entries.len() {
            return Err(self.damaged(Damage {
                offset: 0,
                reason: "the directory is out of order",
            }));
        }
        // In bounds: `start <= entries.len()`, and `check_root` put the array inside
        // the body.
        self.checked(elements(entries).wrapping_add(start), end - start)
    }

    /// Entries `start..end`, verified with everything they point to.
    fn entries_checked(&self, start: usize, end: usize) -> Result<&[ArchivedSnapEntry], OpError> {
        let run = self.run(start, end)?;
        run.iter().try_for_each(|entry| self.check_entry(entry))?;
        Ok(run)
    }

    /// The directory's run of entries for bucket `bucket`: `dir[bucket]..dir[bucket + 1]`.
    fn bucket(&self, bucket: usize) -> Result<(usize, usize), OpError> {
        let dir = &self.body().dir;
        debug_assert!(bucket + 1 < dir.len());
        let pair = self.checked(elements(dir).wrapping_add(bucket), 2)?;
        Ok((pair[0].to_native() as usize, pair[1].to_native() as usize))
    }

    /// The error a read gets for `damage`.
    fn damaged(&self, damage: Damage) -> OpError {
        OpError::SnapshotDamaged {
            path: self.path.clone(),
            file_offset: damage.offset + HEADER_BYTES as u64,
            reason: damage.reason,
        }
    }

    /// The schemas and collections at the snapshot's LSN.
    pub(crate) fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
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
    pub(crate) fn get_hashed(
        &self,
        key: &[u8],
        hash: u64,
    ) -> Result<Option<BaseEntry<'_>>, OpError> {
        match self.find(key, hash)? {
            Some(entry) => {
                self.check_head(entry)?;
                Ok(Some(BaseEntry { base: self, entry }))
            }
            None => Ok(None),
        }
    }

    /// Whether the base holds the key, given its hash. Verifies the key only, not
    /// the value: the writer asks this of keys whose values may be large.
    pub(crate) fn contains_hashed(&self, key: &[u8], hash: u64) -> Result<bool, OpError> {
        Ok(self.find(key, hash)?.is_some())
    }

    /// Starts loading what `stage` of a lookup of `hash` reads: its directory slot;
    /// the first entries of its run (once that slot had time to arrive); or the key
    /// bytes of the run's entries whose hash matches, and the line after them, where
    /// the value's bytes begin (once the run had time to arrive). A hint; a damaged
    /// directory or entry only makes it fetch the wrong line.
    pub(crate) fn prefetch(&self, hash: u64, stage: Stage) {
        let body = self.body();
        let bucket = format::bucket_of(hash, body.dir_bits.to_native());
        if bucket + 1 >= body.dir.len() {
            return;
        }
        match stage {
            Stage::Bucket => crate::prefetch::prefetch(elements(&body.dir).wrapping_add(bucket)),
            Stage::Entries => {
                if let Ok((start, _)) = self.bucket(bucket) {
                    crate::prefetch::prefetch(elements(&body.entries).wrapping_add(start));
                }
            }
            Stage::Keys => {
                let Ok(run) = self
                    .bucket(bucket)
                    .and_then(|(start, end)| self.run(start, end))
                else {
                    return;
                };
                let high = (hash >> 32) as u32;
                for entry in run
                    .iter()
                    .filter(|entry| entry.hash_high.to_native() == high)
                {
                    let key = elements(&entry.key);
                    crate::prefetch::prefetch(key);
                    crate::prefetch::prefetch(key.wrapping_add(64));
                }
            }
        }
    }

    /// The key's entry struct, found in its directory bucket (only its key verified).
    #[inline]
    fn find(&self, key: &[u8], hash: u64) -> Result<Option<&ArchivedSnapEntry>, OpError> {
        let body = self.body();
        let (start, end) = self.bucket(format::bucket_of(hash, body.dir_bits.to_native()))?;
        for entry in self.run(start, end)? {
            if entry.hash_high.to_native() == (hash >> 32) as u32 && self.vec(&entry.key)? == key {
                return Ok(Some(entry));
            }
        }
        Ok(None)
    }

    /// The entries whose hash lies in `from..=to`, in hash order.
    pub(crate) fn range(
        &self,
        from: u64,
        to: u64,
    ) -> Result<impl Iterator<Item = BaseEntry<'_>>, OpError> {
        let bits = self.body().dir_bits.to_native();
        let (start, _) = self.bucket(format::bucket_of(from, bits))?;
        let (_, end) = self.bucket(format::bucket_of(to, bits))?;
        let run = self.run(start, end.max(start))?;
        // Entries keep the top half of their hash: it places all but the entries that
        // share it with a bound, whose whole hash is computed from the key.
        let high = |entry: &ArchivedSnapEntry| entry.hash_high.to_native();
        let (from_high, to_high) = ((from >> 32) as u32, (to >> 32) as u32);
        let mut first = run.partition_point(|entry| high(entry) < from_high);
        while first < run.len()
            && high(&run[first]) == from_high
            && self.hash_of(&run[first])? < from
        {
            first += 1;
        }
        let mut last = run.partition_point(|entry| high(entry) <= to_high);
        while last > first && high(&run[last - 1]) == to_high && self.hash_of(&run[last - 1])? > to
        {
            last -= 1;
        }
        let run = &run[first..last.max(first)];
        run.iter().try_for_each(|entry| self.check_head(entry))?;
        Ok(run.iter().map(|entry| BaseEntry { base: self, entry }))
    }

    /// The whole hash of `entry`'s key (a verified struct).
    fn hash_of(&self, entry: &ArchivedSnapEntry) -> Result<u64, OpError> {
        Ok(self.hasher.hash_one(self.vec(&entry.key)?))
    }

    /// Every entry, in hash order, verified (reads the whole body).
    pub(crate) fn entries(&self) -> Result<impl Iterator<Item = BaseEntry<'_>>, OpError> {
        self.blocks
            .check_all(self.body_bytes())
            .map_err(|d| self.damaged(d))?;
        let run = self.entries_checked(0, self.len())?;
        Ok(run.iter().map(|entry| BaseEntry { base: self, entry }))
    }

    /// When the entry at `position` expires, if the expiry table lists it.
    fn expiry_at(&self, position: usize) -> Option<NonZeroU64> {
        let table = &self.body().expiring;
        // `check_root` verified the table's blocks at open: this check finds them
        // verified and cannot fail.
        let table = self.vec(table).ok()?;
        let at = search_near(table, position, self.len(), |expiry| {
            expiry.position.to_native() as usize
        })?;
        NonZeroU64::new(table[at].at_ms.to_native())
    }

    /// The position in the entry array of `entry`, a struct of that array.
    fn position_of(&self, entry: &ArchivedSnapEntry) -> usize {
        let first = elements(&self.body().entries) as usize;
        (entry as *const ArchivedSnapEntry as usize - first)
            / std::mem::size_of::<ArchivedSnapEntry>()
    }

    /// The keys that have an expiry time, with it.
    pub(crate) fn expiring(&self) -> Result<Vec<(NonZeroU64, &[u8])>, OpError> {
        let body = self.body();
        let mut found = Vec::new();
        for expiry in self.vec(&body.expiring)? {
            let at = expiry.position.to_native() as usize;
            let entry = self.entries_checked(at, at + 1)?.first();
            if let (Some(entry), Some(at_ms)) = (entry, NonZeroU64::new(expiry.at_ms.to_native())) {
                found.push((at_ms, entry.key.as_slice()));
            }
        }
        Ok(found)
    }
}

/// Where an archived vector's elements start, computed with wrapping arithmetic.
/// `ArchivedVec::as_ptr` adds its relative offset with `pointer::offset`, which is
/// undefined behavior when a damaged offset leads outside the mapping: the bounds
/// check in [`Base::extent`] that refuses such an offset must not come after it.
fn elements<T>(vec: &ArchivedVec<T>) -> *const T {
    // SAFETY: `ArchivedVec<T>` is `#[repr(C)]` with its `rkyv::RelPtr<T>` as the
    // first field, so a reference to the vector is a valid reference to that
    // pointer, for the same lifetime.
    let relative = unsafe { &*std::ptr::from_ref(vec).cast::<rkyv::RelPtr<T>>() };
    relative.as_ptr_wrapping()
}

#[cfg(test)]
mod tests {
    use super::{elements, search_near};

    #[test]
    fn elements_finds_what_as_ptr_finds() {
        let owned: Vec<Vec<u32>> = vec![vec![], vec![7], vec![1, 2, 3]];
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&owned).unwrap();
        let archived = rkyv::access::<
            rkyv::vec::ArchivedVec<rkyv::vec::ArchivedVec<rkyv::rend::u32_le>>,
            rkyv::rancor::Error,
        >(&bytes)
        .unwrap();
        assert_eq!(elements(archived), archived.as_ptr());
        for inner in archived.iter() {
            assert_eq!(elements(inner), inner.as_ptr());
        }
    }

    #[test]
    fn searching_near_the_guess_finds_what_a_binary_search_finds() {
        // Tables of positions among `entries`: spread evenly, bunched at either end,
        // sparse and full.
        let entries = 1000;
        let tables: Vec<Vec<usize>> = vec![
            vec![],
            vec![0],
            vec![999],
            (0..entries).collect(),
            (0..entries).step_by(7).collect(),
            (0..50).collect(),
            (950..entries).collect(),
            (0..entries).filter(|p| p % 97 < 3).collect(),
            vec![1, 2, 500, 998],
        ];
        for table in &tables {
            for position in 0..entries {
                assert_eq!(
                    search_near(table, position, entries, |p| *p),
                    table.binary_search(&position).ok(),
                    "position {position} in {table:?}"
                );
            }
        }
    }
}
