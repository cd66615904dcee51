//! One key's record: key, value, version and expiry in a single shared allocation.
//!
//! Both left-right copies, the commit thread's staging area, readers that asked for a
//! [`Record`] and the change feed all hold the same [`Entry`]: the copies cost a
//! pointer each, not the data. The key's bytes live in the entry's own allocation
//! (a thin, weak-less `Arc` of header + bytes), so a lookup that finds the slot reads
//! the key to compare from the same block, without another pointer to chase. An entry
//! never changes once anyone but its builder holds it; a write builds a new one.
//!
//! Most keys never expire, so an entry spends 8 bytes on an expiry time only when it
//! has one: then its bytes start with the time, before the key, and a flag in the
//! version word says so.

use std::num::NonZeroU64;

use triomphe::ThinArc;

use crate::value::Value;

/// A log sequence number: the position of a committed batch in commit order. A key's
/// version is the LSN of the batch that last wrote it. The first batch gets LSN 1.
pub type Lsn = u64;

#[derive(Debug)]
struct Header {
    value: Value,
    /// The version, with [`HAS_EXPIRY`] set if the entry's bytes start with its
    /// expiry time.
    stamp: u64,
}

/// The flag in [`Header::stamp`] that says the entry's bytes start with an expiry
/// time (milliseconds since the Unix epoch, little-endian), then the key. Versions
/// are LSNs, which stay far below it.
const HAS_EXPIRY: u64 = 1 << 63;
/// The size of a stored expiry time.
const EXPIRY_BYTES: usize = size_of::<u64>();

/// One key's current state; cloning shares it (a reference count).
#[derive(Clone)]
pub(crate) struct Entry(ThinArc<Header, u8>);

impl Entry {
    pub(crate) fn new(
        key: &[u8],
        value: Value,
        version: Lsn,
        expires_at_ms: Option<NonZeroU64>,
    ) -> Self {
        assert!(version & HAS_EXPIRY == 0, "LSN {version} is out of range");
        match expires_at_ms {
            None => Entry(ThinArc::from_header_and_slice(
                Header {
                    value,
                    stamp: version,
                },
                key,
            )),
            Some(at) => {
                let at = at.get().to_le_bytes();
                let bytes = (0..EXPIRY_BYTES + key.len()).map(|index| match index {
                    ..EXPIRY_BYTES => at[index],
                    _ => key[index - EXPIRY_BYTES],
                });
                let header = Header {
                    value,
                    stamp: version | HAS_EXPIRY,
                };
                Entry(ThinArc::from_header_and_iter(header, bytes))
            }
        }
    }

    fn stamp(&self) -> u64 {
        self.0.header.header.stamp
    }

    pub(crate) fn key(&self) -> &[u8] {
        // The expiry time's bytes, if any, come first: skip them without a branch.
        let skipped = (self.stamp() >> 63) as usize * EXPIRY_BYTES;
        &self.0.slice[skipped..]
    }

    pub(crate) fn value(&self) -> &Value {
        &self.0.header.header.value
    }

    pub(crate) fn version(&self) -> Lsn {
        self.stamp() & !HAS_EXPIRY
    }

    pub(crate) fn expires_at_ms(&self) -> Option<NonZeroU64> {
        if self.stamp() & HAS_EXPIRY == 0 {
            return None;
        }
        let bytes = self.0.slice[..EXPIRY_BYTES].try_into().expect("8 bytes");
        NonZeroU64::new(u64::from_le_bytes(bytes))
    }

    /// Runs `change` on the value if nothing else holds this entry, so no one can see
    /// the value change; `None`, without running `change`, if the entry is shared.
    pub(crate) fn change_value_if_unique<R>(
        &mut self,
        change: impl FnOnce(&mut Value) -> R,
    ) -> Option<R> {
        self.0.with_arc_mut(|arc| {
            triomphe::Arc::get_mut(arc).map(|inner| change(&mut inner.header_mut().value))
        })
    }

    /// Whether this is the entry's only reference: dropping it frees the entry.
    pub(crate) fn is_unique(&self) -> bool {
        self.0.with_arc(|arc| arc.is_unique())
    }

    /// Asks the CPU to start loading the entry's first two cache lines (its header
    /// and, for short keys, its key), for a lookup that will compare its key soon.
    pub(crate) fn prefetch(&self) {
        let start = self.0.ptr().cast::<u8>();
        crate::prefetch::prefetch(start);
        crate::prefetch::prefetch(start.wrapping_add(64));
    }

    /// Whether the entry is expired at `now_ms`: expired entries are invisible.
    pub(crate) fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms().is_some_and(|at| at.get() <= now_ms)
    }

    /// A tombstone: the overlay's record that `key` was deleted at `version`, which
    /// hides the key's entry in the base. It is an entry that expired at the dawn of
    /// time, so every read treats it as absent with no extra check.
    pub(crate) fn tombstone(key: &[u8], version: Lsn) -> Self {
        Entry::new(key, Value::Int(0), version, Some(TOMBSTONE_EXPIRY))
    }

    /// Whether this entry is a tombstone.
    pub(crate) fn is_tombstone(&self) -> bool {
        self.expires_at_ms() == Some(TOMBSTONE_EXPIRY)
    }
}

/// A tombstone's expiry time: 1 ms after the epoch (any key that expired then is
/// absent now, tombstone or not).
const TOMBSTONE_EXPIRY: NonZeroU64 = NonZeroU64::MIN;

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &String::from_utf8_lossy(self.key()))
            .field("value", self.value())
            .field("version", &self.version())
            .field("expires_at_ms", &self.expires_at_ms())
            .finish()
    }
}

/// A read-only view of one key's record: key, value, version and expiry.
///
/// Cloning is cheap (a reference count). Holding a record pins only that one record,
/// never the database: writers go on.
#[derive(Debug, Clone)]
pub struct Record(pub(crate) Entry);

impl PartialEq for Record {
    fn eq(&self, other: &Record) -> bool {
        self.key() == other.key()
            && self.version() == other.version()
            && self.expires_at_ms() == other.expires_at_ms()
            && self.value() == other.value()
    }
}

impl Record {
    /// The key.
    pub fn key(&self) -> &[u8] {
        self.0.key()
    }

    /// The value.
    pub fn value(&self) -> &Value {
        self.0.value()
    }

    /// The LSN of the batch that last wrote this key.
    pub fn version(&self) -> Lsn {
        self.0.version()
    }

    /// When the key expires, in milliseconds since the Unix epoch; `None` if never.
    pub fn expires_at_ms(&self) -> Option<u64> {
        self.0.expires_at_ms().map(NonZeroU64::get)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expiry_time_is_stored_only_when_there_is_one() {
        let plain = Entry::new(b"key", Value::Int(1), 5, None);
        let expiring = Entry::new(b"key", Value::Int(1), 5, NonZeroU64::new(u64::MAX - 1));
        for entry in [&plain, &expiring] {
            assert_eq!((entry.key(), entry.version()), (&b"key"[..], 5));
        }
        assert_eq!(plain.expires_at_ms(), None);
        assert_eq!(expiring.expires_at_ms(), NonZeroU64::new(u64::MAX - 1));
        assert_eq!(plain.0.slice.len() + EXPIRY_BYTES, expiring.0.slice.len());
        let tombstone = Entry::tombstone(b"", 9);
        assert!(tombstone.is_tombstone() && tombstone.key().is_empty());
        assert_eq!(tombstone.version(), 9);
    }

    #[test]
    fn only_an_unshared_entry_changes_in_place() {
        let mut entry = Entry::new(b"k", Value::Int(1), 7, None);
        assert_eq!(
            entry.change_value_if_unique(|value| *value = Value::Int(2)),
            Some(())
        );
        assert_eq!(entry.value(), &Value::Int(2));
        let held = entry.clone();
        assert_eq!(
            entry.change_value_if_unique(|_| unreachable!("shared")),
            None
        );
        drop(held);
        assert_eq!(entry.change_value_if_unique(|_| ()), Some(()));
        assert_eq!((entry.key(), entry.version()), (&b"k"[..], 7));
    }
}
