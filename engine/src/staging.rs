//! The commit thread's view of the keys it changed since the last publish.
//!
//! Readers see the published copy; the commit thread must also see its own
//! unpublished writes (a group of batches is published once, at its end). Staging
//! holds those: a lookup checks the staged slot first, then the published map. An
//! undo log makes each batch (and each operation) all-or-nothing: a refused one is
//! rolled back to its savepoint before anything leaves staging.
//!
//! Invariant: a key's staged slot, if any, is its current state for the commit
//! thread; `cleared` means every key without a slot is gone (a flush).

use std::num::NonZeroU64;
use std::sync::Arc;

use hashbrown::HashTable;
use left_right::ReadHandle;

use crate::doc::catalog::Catalog;
use crate::entry::{Entry, Lsn};
use crate::error::OpError;
use crate::overlay::{Found, Overlay, OverlayOp};
use crate::value::Value;

struct Slot {
    hash: u64,
    /// Names the slot for the undo log and the touched list, so they need no copy of
    /// the key. Unique within the staging (ids only grow).
    id: u64,
    state: SlotState,
    /// The batch that last wrote the slot (to list each key once per batch).
    batch: u64,
}

/// A staged key's state. A live key's bytes are in its entry; only a deleted key
/// needs a copy of its own.
enum SlotState {
    Live(Entry),
    Removed(Box<[u8]>),
}

impl Slot {
    fn key(&self) -> &[u8] {
        match &self.state {
            SlotState::Live(entry) => entry.key(),
            SlotState::Removed(key) => key,
        }
    }

    fn entry(&self) -> Option<&Entry> {
        match &self.state {
            SlotState::Live(entry) => Some(entry),
            SlotState::Removed(_) => None,
        }
    }
}

enum Undo {
    /// A slot write: restore the slot's previous state, or remove it if it had none.
    Slot {
        hash: u64,
        id: u64,
        previous: Option<(SlotState, u64)>,
    },
    /// A catalog change: restore the catalog staged before it.
    Catalog {
        previous: Option<Arc<Catalog>>,
        changed_in_batch: bool,
    },
    /// A flush: bring back everything it replaced.
    Flush {
        slots: HashTable<Slot>,
        cleared: bool,
        touched: Vec<Touched>,
        flushed_in_batch: bool,
    },
}

/// A key the current batch wrote, with the expiry it had before the batch (what the
/// commit thread's expiry index holds for it).
struct Touched {
    hash: u64,
    id: u64,
    expiry_before: Option<NonZeroU64>,
}

/// Slots the staging table keeps allocated between groups, at least.
const STAGING_KEPT_SLOTS: usize = 4096;

/// How far back from the newest of the group's pending ops `Tx::change_in_place`
/// looks for the op that holds an earlier batch's entry. Writes to one key come in
/// runs, so it is nearly always the newest; past this, the write copies instead,
/// and a group that goes round many keys does not pay a long scan per write.
const SUPERSEDE_SCAN_OPS: usize = 64;

/// A point to roll back to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Savepoint {
    undo_len: usize,
    touched_len: usize,
}

/// One change a committed batch made, in the order the batch first touched each key.
pub(crate) enum StagedChange {
    /// Every key was removed (this comes first in a batch's list).
    Flush,
    /// The key's new entry, and the expiry the key had before the batch.
    Put(Entry, Option<NonZeroU64>),
    /// The key was removed, and the expiry it had before the batch.
    Remove(Box<[u8]>, Option<NonZeroU64>),
    /// The catalog of schemas and collections changed: the new one.
    Catalog(Arc<Catalog>),
}

/// Writes since the last publish, with their undo log.
pub(crate) struct Staging {
    /// The published map's hasher (same seeds), so one hash serves both lookups.
    hasher: crate::hash::KeyHasher,
    slots: HashTable<Slot>,
    cleared: bool,
    undo: Vec<Undo>,
    /// Sequence number of the batch being applied.
    batch: u64,
    /// Keys the current batch wrote, first write first.
    touched: Vec<Touched>,
    /// The id the next new slot gets.
    next_slot_id: u64,
    flushed_in_batch: bool,
    /// The catalog, if a batch changed it since the last publish (else the
    /// published map's is current).
    catalog: Option<Arc<Catalog>>,
    /// Whether the current batch changed the catalog.
    catalog_changed_in_batch: bool,
}

impl Staging {
    pub(crate) fn new(hasher: crate::hash::KeyHasher) -> Self {
        Staging {
            hasher,
            slots: HashTable::new(),
            cleared: false,
            undo: Vec::new(),
            batch: 0,
            touched: Vec::new(),
            next_slot_id: 0,
            flushed_in_batch: false,
            catalog: None,
            catalog_changed_in_batch: false,
        }
    }

    /// The hasher staging shares with the published map.
    pub(crate) fn hasher(&self) -> crate::hash::KeyHasher {
        self.hasher
    }

    /// Starts applying a new batch.
    pub(crate) fn begin_batch(&mut self) {
        debug_assert!(self.undo.is_empty() && self.touched.is_empty());
        self.batch += 1;
        self.flushed_in_batch = false;
        self.catalog_changed_in_batch = false;
    }

    pub(crate) fn savepoint(&self) -> Savepoint {
        Savepoint {
            undo_len: self.undo.len(),
            touched_len: self.touched.len(),
        }
    }

    /// Undoes everything since `savepoint`.
    pub(crate) fn rollback(&mut self, savepoint: Savepoint) {
        while self.undo.len() > savepoint.undo_len {
            match self.undo.pop().expect("undo is longer than the savepoint") {
                Undo::Slot { hash, id, previous } => {
                    let found = self.slots.find_entry(hash, |slot| slot.id == id);
                    match (found, previous) {
                        (Ok(mut slot), Some((state, batch))) => {
                            let slot = slot.get_mut();
                            slot.state = state;
                            slot.batch = batch;
                        }
                        (Ok(slot), None) => {
                            slot.remove();
                        }
                        (Err(_), _) => unreachable!("an undone slot exists until undone"),
                    }
                }
                Undo::Catalog {
                    previous,
                    changed_in_batch,
                } => {
                    self.catalog = previous;
                    self.catalog_changed_in_batch = changed_in_batch;
                }
                Undo::Flush {
                    slots,
                    cleared,
                    touched,
                    flushed_in_batch,
                } => {
                    self.slots = slots;
                    self.cleared = cleared;
                    self.touched = touched;
                    self.flushed_in_batch = flushed_in_batch;
                }
            }
        }
        self.touched.truncate(savepoint.touched_len);
    }

    /// Ends the current batch, keeping its writes, and lists what it changed into the
    /// empty `changes` (a buffer the caller reuses).
    pub(crate) fn commit_batch(&mut self, changes: &mut Vec<StagedChange>) {
        debug_assert!(changes.is_empty());
        self.undo.clear();
        if self.flushed_in_batch {
            changes.push(StagedChange::Flush);
        }
        if self.catalog_changed_in_batch
            && let Some(catalog) = &self.catalog
        {
            changes.push(StagedChange::Catalog(Arc::clone(catalog)));
        }
        for Touched {
            hash,
            id,
            expiry_before,
        } in self.touched.drain(..)
        {
            let slot = self
                .slots
                .find(hash, |slot| slot.id == id)
                .expect("a touched key has a slot");
            changes.push(match &slot.state {
                SlotState::Live(entry) => StagedChange::Put(entry.clone(), expiry_before),
                SlotState::Removed(key) => StagedChange::Remove(key.clone(), expiry_before),
            });
        }
    }

    /// Forgets everything staged: call after publishing, when the published copy
    /// holds it all.
    pub(crate) fn reset(&mut self) {
        debug_assert!(self.undo.is_empty() && self.touched.is_empty());
        // Clearing costs O(capacity): keep a table only while groups use a good part
        // of it, so one huge group does not tax every small one after it, and a run of
        // big groups does not regrow the table each time.
        let used = self.slots.len();
        if self.slots.capacity() > STAGING_KEPT_SLOTS.max(4 * used) {
            self.slots = HashTable::with_capacity(STAGING_KEPT_SLOTS.max(2 * used));
        } else {
            self.slots.clear();
        }
        self.cleared = false;
        self.catalog = None;
    }
}

/// A batch's window onto the database: staged writes over the published map.
pub(crate) struct Tx<'a> {
    pub(crate) staging: &'a mut Staging,
    pub(crate) published: &'a ReadHandle<Overlay>,
    /// The LSN the batch commits at: the version of every entry it writes.
    pub(crate) lsn: Lsn,
    /// The time the whole group is applied at.
    pub(crate) now_ms: u64,
    /// Whether any committed key has an expiry. When none has, a key the group has
    /// not written yet had no expiry, and its previous state need not be looked up.
    pub(crate) expiries_exist: bool,
    /// The group's left-right ops, not yet handed over: one holds each entry an
    /// earlier batch of the group committed.
    pub(crate) pending: &'a mut Vec<OverlayOp>,
    /// Whether the operation being applied may change an earlier batch's entry in
    /// place: once it succeeds, nothing rolls its batch back (it is the batch's last
    /// op, or the batch skips refused ops; its log record was checked whole before
    /// any op ran). See `change_in_place`.
    pub(crate) may_supersede: bool,
}

impl Tx<'_> {
    /// The key's live (unexpired) entry.
    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<Entry>, OpError> {
        Ok(self
            .get_raw(key)?
            .filter(|entry| !entry.is_expired(self.now_ms)))
    }

    /// The key's entry, even if expired.
    pub(crate) fn get_raw(&self, key: &[u8]) -> Result<Option<Entry>, OpError> {
        let hash = self.staging.hasher.hash_one(key);
        if let Some(slot) = self.staging.slots.find(hash, |slot| slot.key() == key) {
            return Ok(slot.entry().cloned());
        }
        if self.staging.cleared {
            return Ok(None);
        }
        self.published_get(key, hash)
    }

    /// Runs `f` on the key's state as the batch sees it (`None` if absent or
    /// expired), reading a value in the snapshot in place instead of copying it out:
    /// for an operation that may find it has nothing to change.
    pub(crate) fn peek<R>(
        &self,
        key: &[u8],
        f: impl FnOnce(Option<Found<'_>>) -> R,
    ) -> Result<R, OpError> {
        let live = |found: &Found<'_>| !found.is_expired(self.now_ms);
        let hash = self.staging.hasher.hash_one(key);
        if let Some(slot) = self.staging.slots.find(hash, |slot| slot.key() == key) {
            return Ok(f(slot.entry().map(Found::Entry).filter(live)));
        }
        if self.staging.cleared {
            return Ok(f(None));
        }
        let published = self
            .published
            .enter()
            .expect("the commit thread owns the write handle, so the map is alive");
        Ok(f(published.get_hashed(key, hash)?.filter(live)))
    }

    /// The key's entry in the published map (`hash` is its hash).
    fn published_get(&self, key: &[u8], hash: u64) -> Result<Option<Entry>, OpError> {
        let published = self
            .published
            .enter()
            .expect("the commit thread owns the write handle, so the map is alive");
        published
            .get_hashed(key, hash)?
            .map(|found| found.to_entry())
            .transpose()
    }

    /// Writes `value` under `key`, expiring at `expires_at_ms`. An expiry time that
    /// has already passed deletes the key instead.
    pub(crate) fn write(&mut self, key: &[u8], value: Value, expires_at_ms: Option<u64>) {
        let expires_at_ms = match expires_at_ms {
            Some(at) if at <= self.now_ms => {
                self.remove(key);
                return;
            }
            Some(at) => NonZeroU64::new(at),
            None => None,
        };
        let entry = Entry::new(key, value, self.lsn, expires_at_ms);
        self.set_slot(key, Some(entry));
    }

    /// Deletes `key` (a no-op for the caller if it did not exist, but still staged:
    /// an expired entry must be removed from the map).
    pub(crate) fn remove(&mut self, key: &[u8]) {
        self.set_slot(key, None);
    }

    /// Changes in place the value staged under `key`, if nothing but staging holds
    /// its entry (no capture, reader or subscriber can see it). This spares a
    /// persistent collection the path copy that a new version costs: a pipeline of
    /// pushes to one list copies its end once, and writes to one hash or set copy
    /// each node of their paths at most once.
    ///
    /// If this batch wrote the entry, no undo record is kept: the batch's first write
    /// of the key recorded the state before the batch, which is what a rollback of
    /// the batch restores, and the caller's operation must be all-or-nothing around
    /// `change`, which either returns `None` having changed nothing or makes its whole
    /// change (and says whether it changed the value).
    ///
    /// If an earlier batch of the group wrote it (single writes to one big hash from
    /// many connections), the entry is also held by that batch's pending left-right
    /// op, which no one has seen yet: the op is taken back, and the batch's own op
    /// will carry the entry. There is no state before the batch to restore then, so
    /// only an operation nothing can roll back may do this (`may_supersede`). The
    /// entry is restamped at this batch's LSN if `change` changed it.
    ///
    /// `None` when the key does not qualify; the caller then writes a new version.
    pub(crate) fn change_in_place<R>(
        &mut self,
        key: &[u8],
        change: impl FnOnce(&mut Value) -> Option<(R, bool)>,
    ) -> Option<R> {
        let hash = self.staging.hasher.hash_one(key);
        let staging = &mut *self.staging;
        let slot = staging.slots.find_mut(hash, |slot| slot.key() == key)?;
        let SlotState::Live(entry) = &mut slot.state else {
            return None;
        };
        if entry.is_expired(self.now_ms) {
            return None;
        }
        if slot.batch == staging.batch {
            debug_assert_eq!(entry.version(), self.lsn, "the batch wrote the entry");
            return entry
                .change_value_if_unique(change)
                .flatten()
                .map(|(reply, _)| reply);
        }
        if !self.may_supersede {
            return None;
        }
        let back = self
            .pending
            .iter()
            .rev()
            .take(SUPERSEDE_SCAN_OPS)
            .position(|op| matches!(op, OverlayOp::Put(put) if put.is_same(entry)))?;
        let at = self.pending.len() - 1 - back;
        drop(self.pending.remove(at));
        let expiry_before = entry.expires_at_ms();
        match entry.change_value_if_unique(change).flatten() {
            Some((reply, true)) => {
                assert!(entry.restamp_if_unique(self.lsn), "the entry was unique");
                slot.batch = staging.batch;
                staging.touched.push(Touched {
                    hash,
                    id: slot.id,
                    expiry_before,
                });
                Some(reply)
            }
            // Nothing changed: the earlier batch's op goes back where it was.
            unchanged => {
                self.pending.insert(at, OverlayOp::Put(entry.clone()));
                unchanged.map(|(reply, _)| reply)
            }
        }
    }

    /// The current catalog of schemas and collections.
    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        match &self.staging.catalog {
            Some(catalog) => Arc::clone(catalog),
            None => Arc::clone(
                self.published
                    .enter()
                    .expect("the commit thread owns the write handle, so the map is alive")
                    .catalog(),
            ),
        }
    }

    /// Replaces the catalog (published with the batch).
    pub(crate) fn set_catalog(&mut self, catalog: Catalog) {
        let staging = &mut *self.staging;
        staging.undo.push(Undo::Catalog {
            previous: staging.catalog.replace(Arc::new(catalog)),
            changed_in_batch: staging.catalog_changed_in_batch,
        });
        staging.catalog_changed_in_batch = true;
    }

    /// Deletes every key.
    pub(crate) fn flush(&mut self) {
        let staging = &mut *self.staging;
        staging.undo.push(Undo::Flush {
            slots: std::mem::take(&mut staging.slots),
            cleared: staging.cleared,
            touched: std::mem::take(&mut staging.touched),
            flushed_in_batch: staging.flushed_in_batch,
        });
        staging.cleared = true;
        staging.flushed_in_batch = true;
    }

    fn set_slot(&mut self, key: &[u8], state: Option<Entry>) {
        let state = match state {
            Some(entry) => SlotState::Live(entry),
            None => SlotState::Removed(key.into()),
        };
        let hash = self.staging.hasher.hash_one(key);
        let batch = self.staging.batch;
        // An existing slot holds the key's state before this batch (if an earlier
        // batch of the group wrote it); without one, the published map does, and only
        // matters if some key has an expiry at all.
        let staged = self
            .staging
            .slots
            .find(hash, |slot| slot.key() == key)
            .map(|slot| {
                let expiry = slot.entry().and_then(Entry::expires_at_ms);
                (slot.id, slot.batch, expiry)
            });
        // `Some` exactly on the key's first write in this batch.
        let expiry_before = match staged {
            Some((_, slot_batch, _)) if slot_batch == batch => None,
            Some((_, _, expiry)) => Some(expiry),
            // A damaged base entry counts as having had no expiry: an index entry
            // left behind is harmless, as a sweep checks the key's current expiry.
            None if self.expiries_exist && !self.staging.cleared => Some(
                self.published_get(key, hash)
                    .ok()
                    .flatten()
                    .and_then(|entry| entry.expires_at_ms()),
            ),
            None => Some(None),
        };
        let staging = &mut *self.staging;
        let (id, previous) = match staged {
            Some((id, _, _)) => {
                let slot = staging
                    .slots
                    .find_mut(hash, |slot| slot.id == id)
                    .expect("the slot was just found");
                let previous = (std::mem::replace(&mut slot.state, state), slot.batch);
                slot.batch = batch;
                (id, Some(previous))
            }
            None => {
                let id = staging.next_slot_id;
                staging.next_slot_id += 1;
                let slot = Slot {
                    hash,
                    id,
                    state,
                    batch,
                };
                staging.slots.insert_unique(hash, slot, |slot| slot.hash);
                (id, None)
            }
        };
        if let Some(expiry_before) = expiry_before {
            staging.touched.push(Touched {
                hash,
                id,
                expiry_before,
            });
        }
        staging.undo.push(Undo::Slot { hash, id, previous });
    }
}
