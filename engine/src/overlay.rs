//! The left-right map: every change since the last snapshot, over the snapshot
//! itself (the base), readable without locks.
//!
//! One `Overlay` is one copy; `left_right` keeps two and swaps them on publish. Only
//! the commit thread writes, through [`OverlayOp`]s that are applied once to each
//! copy, so every op must be deterministic: both copies share one hasher, and an op
//! carries the finished `Entry`, never a computation.
//!
//! A lookup checks the overlay's table first: an entry there (a tombstone for a
//! deleted key) is the key's state. Otherwise the base answers, read in place from
//! the mapped snapshot. The base pointer lives in the published state itself, so a
//! new base and the trimming of the overlay entries it covers are published like
//! any write: a reader sees the old base with the old overlay, or the new base with
//! an overlay that still holds every change made after it, never a mix. (The order
//! is: install the new base, then trim in slices; entries trimmed at version <= L are
//! exactly what the base at L holds.)
//!
//! The table is split into `SHARD_COUNT` shards by the top bits of the key's hash.
//! That gives scans a stable order (hash order, shared with the base's entries)
//! across concurrent writes, table growth and snapshots, and makes each growth step
//! small. A shard is an [`EntryTable`], whose buckets are one cache line each.

use std::borrow::Cow;
use std::num::NonZeroU64;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;

use crate::doc::catalog::Catalog;
use crate::entry::{Entry, Lsn};
use crate::entry_table::EntryTable;
use crate::error::OpError;
use crate::hash::KeyHasher;
use crate::prefetch::Stage;
use crate::reclaim::Reclaimer;
use crate::snapshot::cut::Cut;
use crate::snapshot::{Base, BaseEntry};
use crate::value::{Kind, Value};

/// log2 of the shard count.
const SHARD_BITS: u32 = 10;
/// Shards in one copy of the map.
pub(crate) const SHARD_COUNT: usize = 1 << SHARD_BITS;

/// A change to one copy of the map.
#[derive(Debug)]
pub(crate) enum OverlayOp {
    /// Insert or replace the key's entry.
    Put(Entry),
    /// Delete the entry's key (the entry is its tombstone, kept if the key could be
    /// in a base).
    Remove(Entry),
    /// Delete every key, at this LSN.
    Clear(Lsn),
    /// Install a new base.
    SetBase(Arc<Base>),
    /// Install a new catalog of schemas and collections.
    SetCatalog(Arc<Catalog>),
    /// Start (`Some`) or stop recording pre-images for a snapshot taken from the
    /// live map (see [`Cut`]).
    SetCut(Option<Arc<Cut>>),
    /// Drop the entries of shards `first..first + count` that were written at or
    /// before `upto` (the base's LSN): the base holds them.
    Trim {
        /// The first shard.
        first: usize,
        /// How many shards.
        count: usize,
        /// The base's LSN.
        upto: Lsn,
    },
    /// These changes, in order: a commit turn's writes, whose keys' table buckets and
    /// entries are fetched a few keys ahead, so that their cache misses overlap.
    Group(Vec<OverlayOp>),
}

/// How many keys ahead a group's apply fetches table buckets; it fetches the
/// entries in them half as far ahead, once the buckets had time to arrive.
const FETCH_AHEAD_KEYS: usize = 8;

impl OverlayOp {
    /// The key a put or remove writes.
    fn key(&self) -> Option<&[u8]> {
        match self {
            OverlayOp::Put(entry) | OverlayOp::Remove(entry) => Some(entry.key()),
            _ => None,
        }
    }

    /// A copy for the other left-right copy (entries are shared, not copied).
    fn duplicate(&self) -> OverlayOp {
        match self {
            OverlayOp::Put(entry) => OverlayOp::Put(entry.clone()),
            OverlayOp::Remove(tombstone) => OverlayOp::Remove(tombstone.clone()),
            OverlayOp::Clear(lsn) => OverlayOp::Clear(*lsn),
            OverlayOp::SetBase(base) => OverlayOp::SetBase(Arc::clone(base)),
            OverlayOp::SetCatalog(catalog) => OverlayOp::SetCatalog(Arc::clone(catalog)),
            OverlayOp::SetCut(cut) => OverlayOp::SetCut(cut.clone()),
            OverlayOp::Trim { first, count, upto } => OverlayOp::Trim {
                first: *first,
                count: *count,
                upto: *upto,
            },
            OverlayOp::Group(ops) => OverlayOp::Group(ops.iter().map(Self::duplicate).collect()),
        }
    }
}

/// One copy of the map.
#[derive(Clone)]
pub(crate) struct Overlay {
    hasher: KeyHasher,
    shards: Box<[EntryTable]>,
    /// Keys that exist (expired ones included), base and overlay together.
    live: usize,
    /// The last snapshot.
    base: Option<Arc<Base>>,
    /// The LSN of a flush newer than the base: the base is hidden.
    flushed_at: Option<Lsn>,
    /// Whether deletes leave tombstones (a database on disk, whose next base may
    /// hold the key); an in-memory database has no base and drops deleted keys.
    tombstones: bool,
    /// The current schemas and collections (a flush keeps them).
    catalog: Arc<Catalog>,
    /// Where large values are freed; `None`: where they are dropped.
    reclaimer: Option<Reclaimer>,
    /// The cut of a snapshot being taken from this map, if any.
    cut: Option<Arc<Cut>>,
    /// Set while this copy is the first to take an op (the newest state): only
    /// then does a flush hand its tables to the cut.
    absorbing_first: bool,
}

/// A key's state as a lookup finds it: an overlay entry (maybe a tombstone or
/// expired) or a base entry.
#[derive(Clone, Copy)]
pub(crate) enum Found<'a> {
    /// In the overlay.
    Entry(&'a Entry),
    /// In the base, read in place.
    Base(BaseEntry<'a>),
}

impl<'a> Found<'a> {
    /// The key.
    pub(crate) fn key(self) -> &'a [u8] {
        match self {
            Found::Entry(entry) => entry.key(),
            Found::Base(entry) => entry.key(),
        }
    }

    /// The LSN of the key's last write.
    pub(crate) fn version(self) -> Lsn {
        match self {
            Found::Entry(entry) => entry.version(),
            Found::Base(entry) => entry.version(),
        }
    }

    /// When the key expires.
    pub(crate) fn expires_at_ms(self) -> Option<NonZeroU64> {
        match self {
            Found::Entry(entry) => entry.expires_at_ms(),
            Found::Base(entry) => entry.expires_at_ms(),
        }
    }

    /// Whether the key is gone at `now_ms` (expired, or a tombstone).
    pub(crate) fn is_expired(self, now_ms: u64) -> bool {
        self.expires_at_ms().is_some_and(|at| at.get() <= now_ms)
    }

    /// The value's type.
    pub(crate) fn kind(self) -> Kind {
        match self {
            Found::Entry(entry) => entry.kind(),
            Found::Base(entry) => entry.kind(),
        }
    }

    /// Calls `f` with a string-kind value's text, in place; `None` for collections.
    pub(crate) fn with_str<R>(self, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        match self {
            Found::Entry(entry) => entry.with_str(f),
            Found::Base(entry) => entry.with_str(f),
        }
    }

    /// A string-kind value's text, borrowed in place (numbers are formatted); `None`
    /// for collections.
    pub(crate) fn str_form(self) -> Option<Cow<'a, [u8]>> {
        match self {
            Found::Entry(entry) => entry.str_form(),
            Found::Base(entry) => entry.str_form(),
        }
    }

    /// A document's collection number and encoded fields, in place; `None` for
    /// other values.
    pub(crate) fn doc(self) -> Option<(u32, &'a [u8])> {
        match self {
            Found::Entry(entry) => match entry.stored_value() {
                Some(Value::Doc(doc)) => Some((doc.collection, &doc.data)),
                _ => None,
            },
            Found::Base(entry) => entry.doc(),
        }
    }

    /// The number of items of a list, set or hash; 0 for other values.
    pub(crate) fn len(self) -> usize {
        match self {
            Found::Entry(entry) => match entry.stored_value() {
                Some(Value::List(list)) => list.len(),
                Some(Value::Set(set)) => set.len(),
                Some(Value::Hash(hash)) => hash.len(),
                _ => 0,
            },
            Found::Base(entry) => entry.len(),
        }
    }

    /// A list's element at `index`; `None` past the end or for other values.
    pub(crate) fn list_get(self, index: usize) -> Result<Option<Bytes>, OpError> {
        match self {
            Found::Entry(entry) => match entry.stored_value() {
                Some(Value::List(list)) => Ok(list.get(index).map(Bytes::copy_from_slice)),
                _ => Ok(None),
            },
            Found::Base(entry) => Ok(entry.list_get(index)?.map(Bytes::copy_from_slice)),
        }
    }

    /// A list's elements in `range` (within the list); empty for other values.
    pub(crate) fn list_range(self, range: Range<usize>) -> Result<Vec<Bytes>, OpError> {
        match self {
            Found::Entry(entry) => match entry.stored_value() {
                Some(Value::List(list)) => Ok(list.range(range).into_iter().collect()),
                _ => Ok(Vec::new()),
            },
            Found::Base(entry) => entry.list_range(range),
        }
    }

    /// Whether a set holds `member`; false for other values.
    pub(crate) fn set_contains(self, member: &[u8]) -> Result<bool, OpError> {
        match self {
            Found::Entry(entry) => match entry.stored_value() {
                Some(Value::Set(set)) => Ok(set.contains(member)),
                _ => Ok(false),
            },
            Found::Base(entry) => entry.set_contains(member),
        }
    }

    /// Starts loading where a set's members or a hash's fields named by `items`
    /// would be found, for writes coming soon. Only an overlay entry's collection is
    /// walked; a base entry's items are sorted arrays, found by a binary search.
    pub(crate) fn prefetch_items<'k>(self, items: impl IntoIterator<Item = &'k [u8]>) {
        match self {
            Found::Entry(entry) => match entry.stored_value() {
                Some(Value::Set(set)) => set.prefetch(items),
                Some(Value::Hash(hash)) => hash.prefetch(items),
                _ => {}
            },
            Found::Base(_) => {}
        }
    }

    /// A hash's value for `field`; `None` if it has none or for other values.
    pub(crate) fn hash_get(self, field: &[u8]) -> Result<Option<Bytes>, OpError> {
        match self {
            Found::Entry(entry) => match entry.stored_value() {
                Some(Value::Hash(hash)) => Ok(hash.get(field).map(Bytes::copy_from_slice)),
                _ => Ok(None),
            },
            Found::Base(entry) => Ok(entry.hash_get(field)?.map(Bytes::copy_from_slice)),
        }
    }

    /// The value: borrowed from the overlay, or copied out of the base.
    pub(crate) fn value(self) -> Result<Cow<'a, Value>, OpError> {
        match self {
            Found::Entry(entry) => Ok(entry.value()),
            Found::Base(entry) => Ok(Cow::Owned(entry.to_value()?)),
        }
    }

    /// The whole entry: shared from the overlay, or copied out of the base.
    pub(crate) fn to_entry(self) -> Result<Entry, OpError> {
        match self {
            Found::Entry(entry) => Ok(Entry::clone(entry)),
            Found::Base(entry) => entry.to_entry(),
        }
    }
}

/// One page of a scan.
#[derive(Debug, Default)]
pub(crate) struct ScanPage {
    /// The keys of the page that passed the filter, in hash order.
    pub(crate) keys: Vec<Box<[u8]>>,
    /// Where the next page starts; 0 when the scan is complete.
    pub(crate) next_cursor: u64,
}

impl Overlay {
    /// An empty map whose hasher is `hasher` (shared with the commit thread's
    /// staging), over `base` if any; `tombstones` for a database on disk.
    pub(crate) fn new(hasher: KeyHasher, base: Option<Arc<Base>>, tombstones: bool) -> Self {
        let live = base.as_ref().map_or(0, |base| base.len());
        let catalog = base
            .as_ref()
            .map_or_else(Arc::default, |base| Arc::clone(base.catalog()));
        Overlay {
            hasher,
            shards: (0..SHARD_COUNT).map(|_| EntryTable::default()).collect(),
            live,
            base,
            flushed_at: None,
            tombstones,
            catalog,
            reclaimer: None,
            cut: None,
            absorbing_first: false,
        }
    }

    /// The same map, freeing the large values it drops on `reclaimer`'s thread.
    pub(crate) fn reclaiming(self, reclaimer: Reclaimer) -> Self {
        Overlay {
            reclaimer: Some(reclaimer),
            ..self
        }
    }

    /// Drops `entry`, which the map no longer holds, in favor of `replacement` if any
    /// (see [`crate::reclaim`]).
    fn release(reclaimer: &Option<Reclaimer>, entry: Entry, replacement: Option<&Entry>) {
        if let Some(reclaimer) = reclaimer {
            reclaimer.release(entry, replacement);
        }
    }

    /// The key's hash: its top bits pick the shard and order scans.
    pub(crate) fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The database's hasher.
    pub(crate) fn hasher(&self) -> KeyHasher {
        self.hasher
    }

    fn shard_of(hash: u64) -> usize {
        (hash >> (64 - SHARD_BITS)) as usize
    }

    /// The visible base, if any (none after a flush newer than it).
    fn visible_base(&self) -> Option<&Base> {
        Self::visible(&self.base, self.flushed_at)
    }

    /// [`Overlay::visible_base`] from the two fields, for code that borrows a shard
    /// mutably at the same time.
    fn visible(base: &Option<Arc<Base>>, flushed_at: Option<Lsn>) -> Option<&Base> {
        match flushed_at {
            Some(_) => None,
            None => base.as_deref(),
        }
    }

    /// The base, hidden or not (for the snapshot writer).
    pub(crate) fn base(&self) -> Option<&Arc<Base>> {
        self.base.as_ref()
    }

    /// The current schemas and collections.
    pub(crate) fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// Whether a flush hides the base.
    pub(crate) fn base_hidden(&self) -> bool {
        self.flushed_at.is_some()
    }

    /// The key's state, expired or not (a tombstone is an expired entry). An error
    /// only if the base had to be read and is damaged there.
    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<Found<'_>>, OpError> {
        self.get_hashed(key, self.hash(key))
    }

    /// The key's state, given the key's [`Overlay::hash`].
    #[inline]
    pub(crate) fn get_hashed(&self, key: &[u8], hash: u64) -> Result<Option<Found<'_>>, OpError> {
        match self.shards[Self::shard_of(hash)].get(hash, key) {
            Some(entry) => Ok(Some(Found::Entry(entry))),
            None => match self.visible_base() {
                Some(base) => Ok(base.get_hashed(key, hash)?.map(Found::Base)),
                None => Ok(None),
            },
        }
    }

    /// The overlay's own entry for the key (tombstones included), without the base.
    pub(crate) fn overlay_entry(&self, key: &[u8], hash: u64) -> Option<&Entry> {
        self.shards[Self::shard_of(hash)].get(hash, key)
    }

    /// Number of keys, expired ones included.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Every overlay entry (tombstones included), shard by shard.
    pub(crate) fn overlay_entries(&self) -> impl Iterator<Item = &Entry> {
        self.shards.iter().flat_map(|shard| shard.iter())
    }

    /// How many overlay entries (tombstones included) shard `index` holds.
    pub(crate) fn shard_len(&self, index: usize) -> usize {
        self.shards[index].len()
    }

    /// The overlay entries (tombstones included) of shard `index`, of
    /// [`SHARD_COUNT`].
    pub(crate) fn shard_entries(&self, index: usize) -> impl Iterator<Item = &Entry> {
        self.shards[index].iter()
    }

    /// Records in the cut, if one is active, the entries `op` replaces that were
    /// written at or before the cut's LSN. Called before `op` is applied to this
    /// copy, which is then the newest state (see [`Cut`]).
    fn record_pre_images(&self, op: &OverlayOp) {
        let Some(cut) = &self.cut else { return };

        let mut pre_images = Vec::new();
        self.collect_pre_images(cut.lsn(), op, &mut pre_images);
        if !pre_images.is_empty() {
            cut.record(pre_images);
        }
    }

    fn collect_pre_images(&self, cut_lsn: Lsn, op: &OverlayOp, into: &mut Vec<Entry>) {
        let at_cut = |entry: &&Entry| entry.version() <= cut_lsn;
        match op {
            OverlayOp::Put(entry) | OverlayOp::Remove(entry) if entry.version() > cut_lsn => {
                let key = entry.key();
                into.extend(
                    self.overlay_entry(key, self.hash(key))
                        .filter(at_cut)
                        .cloned(),
                );
            }
            // Looked up before any op of the group is applied: a key the group
            // changes twice is recorded twice, with the same entry. (A flush hands
            // its whole tables to the cut as it applies: see `apply`.)
            OverlayOp::Group(ops) => {
                for op in ops {
                    self.collect_pre_images(cut_lsn, op, into);
                }
            }
            _ => {}
        }
    }

    /// Whether the visible base holds the key (for the live count). A damaged base
    /// entry counts as held: the key was written there, whatever its bytes now say.
    /// Asked only when the overlay has no entry for the key: an overlay entry
    /// already says whether the key exists.
    fn base_has(visible_base: Option<&Base>, key: &[u8], hash: u64) -> bool {
        visible_base.is_some_and(|base| !matches!(base.contains_hashed(key, hash), Ok(false)))
    }

    /// Applies a group's ops in order, fetching ahead (see [`OverlayOp::Group`]).
    fn apply_group(&mut self, ops: Vec<OverlayOp>) {
        // Each key's hash, once: its fetches and its apply all need it.
        let hashes: Vec<Option<u64>> = ops
            .iter()
            .map(|op| op.key().map(|key| self.hash(key)))
            .collect();
        // A write looks the base up only for a key the overlay lacks, and reads no
        // key bytes there (`Stage::Keys`): the answer of the entries stage is not
        // needed again.
        let fetch = |map: &Self, index: usize, stage: Stage| {
            if let Some(Some(hash)) = hashes.get(index) {
                map.prefetch(*hash, stage, false);
            }
        };
        for index in 0..FETCH_AHEAD_KEYS {
            fetch(self, index, Stage::Bucket);
        }
        for (index, (op, hash)) in ops.into_iter().zip(&hashes).enumerate() {
            fetch(self, index + FETCH_AHEAD_KEYS, Stage::Bucket);
            fetch(self, index + FETCH_AHEAD_KEYS / 2, Stage::Entries);
            match (op, *hash) {
                (OverlayOp::Put(entry), Some(hash)) => self.put(entry, hash),
                (OverlayOp::Remove(tombstone), Some(hash)) => self.remove(tombstone, hash),
                (op, _) => self.apply(op),
            }
        }
    }

    /// Starts loading what `stage` of a lookup of the key whose hash is `hash` reads,
    /// in the overlay and in the base: a hint for a lookup coming soon, so that
    /// several lookups' cache misses overlap. At [`Stage::Entries`], returns whether
    /// the overlay most likely holds the key: its lookup then ends in the overlay,
    /// so the base's later stages are skipped for it (`held`: that answer, passed
    /// back at [`Stage::Keys`]). Loading them would cost misses of their own, and
    /// each stage of the base reads (and may wait for) what the one before loaded.
    pub(crate) fn prefetch(&self, hash: u64, stage: Stage, held: bool) -> bool {
        let shard = &self.shards[Self::shard_of(hash)];
        let held = match stage {
            Stage::Bucket => {
                shard.prefetch_bucket(hash);
                false
            }
            Stage::Entries => shard.prefetch_entries(hash),
            Stage::Keys => held,
        };
        // Where the key is not in the overlay, the base most likely holds it.
        if !held && let Some(base) = self.visible_base() {
            base.prefetch(hash, stage);
        }
        held
    }

    /// Stores `entry`, whose key's hash is `hash`.
    fn put(&mut self, entry: Entry, hash: u64) {
        let hasher = self.hasher;
        let visible_base = Self::visible(&self.base, self.flushed_at);
        let shard = &mut self.shards[Self::shard_of(hash)];
        let (stored, old) = shard.upsert(hash, entry, |old| hasher.hash_one(old.key()));
        let existed = match old {
            Some(old) => {
                let existed = !old.is_tombstone();
                Self::release(&self.reclaimer, old, Some(stored));
                existed
            }
            None => Self::base_has(visible_base, stored.key(), hash),
        };
        if !existed {
            self.live += 1;
        }
    }

    /// Deletes the tombstone's key, whose hash is `hash` (keeping the tombstone if
    /// deletes leave them).
    fn remove(&mut self, tombstone: Entry, hash: u64) {
        let hasher = self.hasher;
        let visible_base = Self::visible(&self.base, self.flushed_at);
        let shard = &mut self.shards[Self::shard_of(hash)];
        // The old entry, or whether the base holds the key.
        let old = if self.tombstones {
            let (stored, old) = shard.upsert(hash, tombstone, |old| hasher.hash_one(old.key()));
            old.ok_or_else(|| Self::base_has(visible_base, stored.key(), hash))
        } else {
            let key = tombstone.key();
            shard
                .remove(hash, key)
                .ok_or_else(|| Self::base_has(visible_base, key, hash))
        };
        let existed = match old {
            Ok(old) => {
                let existed = !old.is_tombstone();
                Self::release(&self.reclaimer, old, None);
                existed
            }
            Err(in_base) => in_base,
        };
        if existed {
            self.live -= 1;
        }
    }

    fn apply(&mut self, op: OverlayOp) {
        match op {
            OverlayOp::Group(ops) => self.apply_group(ops),
            OverlayOp::Put(entry) => {
                let hash = self.hash(entry.key());
                self.put(entry, hash);
            }
            OverlayOp::Remove(tombstone) => {
                let hash = self.hash(tombstone.key());
                self.remove(tombstone, hash);
            }
            OverlayOp::Clear(lsn) => {
                // Drop the memory too: a flushed database should not keep its peak size.
                let flushed = std::mem::replace(
                    &mut self.shards,
                    (0..SHARD_COUNT).map(|_| EntryTable::default()).collect(),
                );
                // A snapshot being taken needs what the flush deletes: its entries
                // from before the cut are their keys' state at it.
                let flushed = match &self.cut {
                    Some(cut) if self.absorbing_first && lsn > cut.lsn() => {
                        cut.record_flushed(flushed)
                    }
                    _ => Some(flushed),
                };
                match (flushed, &self.reclaimer) {
                    (Some(flushed), Some(reclaimer)) => reclaimer.release_tables(flushed),
                    (flushed, _) => drop(flushed),
                }
                if self.tombstones {
                    self.flushed_at = Some(lsn);
                }
                self.live = 0;
            }
            OverlayOp::SetBase(base) => {
                // The new base holds the state at its LSN: a flush at or before it is
                // in it. The set of live keys does not change.
                if self.flushed_at.is_some_and(|at| at <= base.lsn()) {
                    self.flushed_at = None;
                }
                self.base = Some(base);
            }
            OverlayOp::SetCatalog(catalog) => self.catalog = catalog,
            OverlayOp::SetCut(cut) => self.cut = cut,
            OverlayOp::Trim { first, count, upto } => {
                debug_assert!(self.base.as_ref().is_some_and(|base| base.lsn() >= upto));
                let hasher = self.hasher;
                for shard in &mut self.shards[first..(first + count).min(SHARD_COUNT)] {
                    shard.remove_if(
                        |entry| entry.version() <= upto,
                        |entry| hasher.hash_one(entry.key()),
                        |trimmed| Self::release(&self.reclaimer, trimmed, None),
                    );
                    // The base holds what was trimmed: give the table's memory back
                    // too, or a snapshot would leave every shard at its peak size.
                    if shard.len() < shard.capacity() / 4 {
                        shard.shrink_to_fit(|entry| hasher.hash_one(entry.key()));
                    }
                }
            }
        }
    }

    /// One page of a scan in hash order, starting at hash `cursor` (0 to begin).
    ///
    /// A page visits at least `count` keys (more when keys share the last hash), then
    /// keeps those for which `keep` holds. Because the order is by hash and hashes do
    /// not change, a key present for the whole scan is on exactly one page, however
    /// the map changes between pages.
    pub(crate) fn scan(
        &self,
        cursor: u64,
        count: usize,
        mut keep: impl FnMut(Found<'_>) -> bool,
    ) -> Result<ScanPage, OpError> {
        let count = count.max(1);
        let mut page = ScanPage::default();
        let mut visited = 0usize;
        let mut candidates: Vec<(u64, Found<'_>)> = Vec::new();
        for index in Self::shard_of(cursor)..SHARD_COUNT {
            let shard = &self.shards[index];
            candidates.clear();
            candidates.extend(
                shard
                    .iter()
                    .map(|entry| (self.hash(entry.key()), Found::Entry(entry)))
                    .filter(|(hash, _)| *hash >= cursor),
            );
            if let Some(base) = self.visible_base() {
                let shard_first = (index as u64) << (64 - SHARD_BITS);
                let shard_last = shard_first | (u64::MAX >> SHARD_BITS);
                candidates.extend(
                    // A base entry's hash is computed from its key: once per entry.
                    base.range(cursor.max(shard_first), shard_last)?
                        .map(|entry| (entry.hash(), entry))
                        .filter(|(hash, entry)| self.overlay_entry(entry.key(), *hash).is_none())
                        .map(|(hash, entry)| (hash, Found::Base(entry))),
                );
            }
            candidates.sort_unstable_by_key(|(hash, _)| *hash);
            for (position, (hash, found)) in candidates.iter().enumerate() {
                if keep(*found) {
                    page.keys.push(found.key().into());
                }
                visited += 1;
                let last_of_hash = candidates
                    .get(position + 1)
                    .is_none_or(|(next, _)| next != hash);
                if visited >= count && last_of_hash {
                    // hash + 1 overflows only at the very last hash: then the scan is done.
                    page.next_cursor = hash.checked_add(1).unwrap_or(0);
                    return Ok(page);
                }
            }
        }
        page.next_cursor = 0;
        Ok(page)
    }
}

impl left_right::Absorb<OverlayOp> for Overlay {
    fn absorb_first(&mut self, op: &mut OverlayOp, _other: &Self) {
        // The first copy to take an op is the newest state: what the op replaces
        // is here (the second copy takes it when it is already published).
        self.record_pre_images(op);
        self.absorbing_first = true;
        self.apply(op.duplicate());
        self.absorbing_first = false;
    }

    fn absorb_second(&mut self, op: OverlayOp, _other: &Self) {
        self.apply(op);
    }

    fn sync_with(&mut self, first: &Self) {
        self.clone_from(first);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;
    use std::collections::HashSet;

    fn entry(key: &str) -> Entry {
        Entry::new(key.as_bytes(), Value::from("v"), 1, None)
    }

    fn scan_all(map: &Overlay, count: usize) -> Vec<String> {
        let mut cursor = 0;
        let mut keys = Vec::new();
        loop {
            let page = map.scan(cursor, count, |_| true).unwrap();
            keys.extend(
                page.keys
                    .iter()
                    .map(|key| String::from_utf8(key.to_vec()).unwrap()),
            );
            if page.next_cursor == 0 {
                return keys;
            }
            cursor = page.next_cursor;
        }
    }

    #[test]
    fn put_replace_remove_clear() {
        let mut map = Overlay::new(crate::hash::KeyHasher::random(), None, false);
        map.apply(OverlayOp::Put(entry("a")));
        map.apply(OverlayOp::Put(entry("a")));
        map.apply(OverlayOp::Put(entry("b")));
        assert_eq!(map.len(), 2);
        map.apply(OverlayOp::Remove(Entry::tombstone(b"a", 2)));
        map.apply(OverlayOp::Remove(Entry::tombstone(b"zz", 2)));
        assert!(map.get(b"a").unwrap().is_none());
        assert!(map.get(b"b").unwrap().is_some());
        assert_eq!(map.len(), 1);
        map.apply(OverlayOp::Clear(3));
        assert_eq!(map.len(), 0);
        assert!(map.get(b"b").unwrap().is_none());
    }

    #[test]
    fn a_group_applies_as_its_ops_one_by_one() {
        let hasher = crate::hash::KeyHasher::with_seed(9);
        let ops = |round: u64| -> Vec<OverlayOp> {
            (0..300u64)
                .map(|i| {
                    let key = format!("k{}", (i * 7 + round) % 50);
                    match i % 5 {
                        3 => OverlayOp::Remove(Entry::tombstone(key.as_bytes(), round)),
                        _ if i == 150 => OverlayOp::Clear(round),
                        _ => OverlayOp::Put(Entry::new(
                            key.as_bytes(),
                            Value::Int(i as i64),
                            round,
                            None,
                        )),
                    }
                })
                .collect()
        };
        let mut single = Overlay::new(hasher, None, false);
        let mut grouped = Overlay::new(hasher, None, false);
        for round in 1..4 {
            ops(round).into_iter().for_each(|op| single.apply(op));
            grouped.apply(OverlayOp::Group(ops(round)));
            let state = |map: &Overlay| {
                let mut keys: Vec<(Vec<u8>, Value)> = map
                    .overlay_entries()
                    .map(|entry| (entry.key().to_vec(), entry.value().into_owned()))
                    .collect();
                keys.sort_by(|a, b| a.0.cmp(&b.0));
                (map.len(), keys)
            };
            assert_eq!(state(&single), state(&grouped));
            assert!(grouped.len() > 0);
        }
    }

    #[test]
    fn a_trim_gives_the_tables_memory_back() {
        let dir = tempfile::tempdir().unwrap();
        let hasher = crate::hash::KeyHasher::with_seed(5);
        let written = crate::snapshot::writer::write(
            dir.path(),
            10,
            5,
            Vec::new(),
            &crate::doc::catalog::Catalog::default(),
        )
        .unwrap();
        let base = Arc::new(Base::open(&written.path, true).unwrap());
        let mut map = Overlay::new(hasher, Some(base), true);
        for i in 0..20_000 {
            let version = if i % 100 == 0 { 11 } else { 1 };
            let key = format!("k{i}");
            map.apply(OverlayOp::Put(Entry::new(
                key.as_bytes(),
                Value::from("v"),
                version,
                None,
            )));
        }
        let capacity = |map: &Overlay| map.shards.iter().map(EntryTable::capacity).sum::<usize>();
        assert!(capacity(&map) >= 20_000);
        map.apply(OverlayOp::Trim {
            first: 0,
            count: SHARD_COUNT,
            upto: 10,
        });
        // The 200 entries newer than the base stay; the tables shrink to about them.
        assert_eq!(map.overlay_entries().count(), 200);
        assert!(capacity(&map) < 2_000, "capacity {}", capacity(&map));
        assert!(map.get(b"k100").unwrap().is_some());
    }

    #[test]
    fn scan_returns_every_key_once_at_any_page_size() {
        let mut map = Overlay::new(crate::hash::KeyHasher::random(), None, false);
        for i in 0..5000 {
            map.apply(OverlayOp::Put(entry(&format!("k{i}"))));
        }
        for count in [1, 7, 100, 10_000] {
            let keys = scan_all(&map, count);
            assert_eq!(keys.len(), 5000);
            assert_eq!(keys.iter().collect::<HashSet<_>>().len(), 5000);
        }
    }

    #[test]
    fn scan_survives_growth_between_pages() {
        let mut map = Overlay::new(crate::hash::KeyHasher::random(), None, false);
        for i in 0..1000 {
            map.apply(OverlayOp::Put(entry(&format!("old{i}"))));
        }
        let mut cursor = 0;
        let mut seen = HashSet::new();
        let mut added = 0;
        loop {
            let page = map.scan(cursor, 10, |_| true).unwrap();
            seen.extend(page.keys.iter().map(|key| key.to_vec()));
            // Triple the map between the first pages, forcing every shard to resize.
            if added < 2000 {
                for _ in 0..200 {
                    map.apply(OverlayOp::Put(entry(&format!("new{added}"))));
                    added += 1;
                }
            }
            if page.next_cursor == 0 {
                break;
            }
            cursor = page.next_cursor;
        }
        for i in 0..1000 {
            assert!(seen.contains(format!("old{i}").as_bytes()), "old{i} missed");
        }
    }
}
