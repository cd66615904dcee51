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
use crate::sync::{Mutex, lock};

/// The pre-images of the changes after one LSN.
#[derive(Debug)]
pub(crate) struct Cut {
    lsn: Lsn,
    /// `None` once the snapshot took them: later changes no longer matter.
    pre_images: Mutex<Option<Vec<Entry>>>,
}

impl Cut {
    /// A cut at `lsn`, recording nothing yet.
    pub(crate) fn new(lsn: Lsn) -> Self {
        Cut {
            lsn,
            pre_images: Mutex::new(Some(Vec::new())),
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
        let mut pre_images = lock(&self.pre_images);
        if let Some(pre_images) = pre_images.as_mut() {
            pre_images.extend(entries);
        }
    }

    /// Takes every pre-image recorded so far and stops recording.
    pub(crate) fn take(&self) -> Vec<Entry> {
        let mut pre_images = lock(&self.pre_images);
        pre_images.take().unwrap_or_default()
    }
}
