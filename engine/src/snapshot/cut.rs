//! A cut: what a snapshot at LSN L needs from the commit thread while it is taken
//! from the live map.
//!
//! The snapshot thread walks the published map while writes go on, so a key it
//! reaches may already hold a value written after L. The entry that value replaced
//! is the key's state at L, and only the commit thread sees it go: before it applies
//! a change after L to the map, it records here the entry the change replaces, if
//! that entry was written at or before L (its pre-image). A key's state at L is then
//! its pre-image if one was recorded, else its overlay entry if that was written at
//! or before L, else the base's entry (the overlay had none at L).
//!
//! Invariant: a pre-image is recorded before the change that replaces it is
//! published, so once the walk has seen a change, its pre-image is here.

use crate::entry::{Entry, Lsn};
use crate::entry_table::EntryTable;
use crate::sync::{Mutex, lock};

/// The pre-images of the changes after one LSN.
pub(crate) struct Cut {
    lsn: Lsn,
    /// `None` once the snapshot took them: later changes no longer matter.
    pre_images: Mutex<Option<PreImages>>,
}

impl std::fmt::Debug for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cut").field("lsn", &self.lsn).finish()
    }
}

/// What changes after the cut replaced.
#[derive(Default)]
struct PreImages {
    /// Entries replaced one by one.
    entries: Vec<Entry>,
    /// Whole tables a flush let go of, as they were just before it: their entries
    /// written at or before the cut are pre-images. Kept whole rather than copied
    /// entry by entry, so a flush costs the commit thread no more during a snapshot
    /// than at any other time.
    flushed: Vec<Box<[EntryTable]>>,
}

impl Cut {
    /// A cut at `lsn`, recording nothing yet.
    pub(crate) fn new(lsn: Lsn) -> Self {
        Cut {
            lsn,
            pre_images: Mutex::new(Some(PreImages::default())),
        }
    }

    /// The LSN the snapshot is taken at.
    pub(crate) fn lsn(&self) -> Lsn {
        self.lsn
    }

    /// Records the pre-images in `entries` (each written at or before the cut's LSN
    /// and replaced by a change after it).
    pub(crate) fn record(&self, entries: Vec<Entry>) {
        debug_assert!(entries.iter().all(|entry| entry.version() <= self.lsn));
        if let Some(pre_images) = lock(&self.pre_images).as_mut() {
            pre_images.entries.extend(entries);
        }
    }

    /// Keeps the tables a flush after the cut let go of; gives them back if the
    /// snapshot already took its pre-images.
    pub(crate) fn record_flushed(&self, tables: Box<[EntryTable]>) -> Option<Box<[EntryTable]>> {
        match lock(&self.pre_images).as_mut() {
            Some(pre_images) => {
                pre_images.flushed.push(tables);
                None
            }
            None => Some(tables),
        }
    }

    /// Takes every pre-image recorded so far and stops recording. Runs on the
    /// snapshot's thread, which also frees the flushed tables.
    pub(crate) fn take(&self) -> Vec<Entry> {
        let PreImages {
            mut entries,
            flushed,
        } = lock(&self.pre_images).take().unwrap_or_default();
        let at_cut = |entry: &&Entry| entry.version() <= self.lsn;
        for tables in &flushed {
            entries.extend(
                tables
                    .iter()
                    .flat_map(EntryTable::iter)
                    .filter(at_cut)
                    .cloned(),
            );
        }
        entries
    }
}
