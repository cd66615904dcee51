//! One key's record: its value, version and expiry, allocated once and shared.
//!
//! Both left-right copies, the commit thread's staging area, readers that asked for a
//! [`Record`] and the change feed all point at the same `Arc<Entry>`: the copies cost
//! a pointer each, not the data. An entry never changes after it is built; a write
//! builds a new one.

use std::num::NonZeroU64;
use std::sync::Arc;

use crate::value::Value;

/// A log sequence number: the position of a committed batch in commit order. A key's
/// version is the LSN of the batch that last wrote it. The first batch gets LSN 1.
pub type Lsn = u64;

/// One key's current state.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) key: Box<[u8]>,
    pub(crate) value: Value,
    pub(crate) version: Lsn,
    /// When the key expires, in milliseconds since the Unix epoch.
    pub(crate) expires_at_ms: Option<NonZeroU64>,
}

impl Entry {
    /// Whether the entry is expired at `now_ms`: expired entries are invisible.
    pub(crate) fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_some_and(|at| at.get() <= now_ms)
    }
}

/// A read-only view of one key's record: key, value, version and expiry.
///
/// Cloning is cheap (a reference count). Holding a record pins only that one record,
/// never the database: writers go on.
#[derive(Debug, Clone)]
pub struct Record(pub(crate) Arc<Entry>);

impl Record {
    /// The key.
    pub fn key(&self) -> &[u8] {
        &self.0.key
    }

    /// The value.
    pub fn value(&self) -> &Value {
        &self.0.value
    }

    /// The LSN of the batch that last wrote this key.
    pub fn version(&self) -> Lsn {
        self.0.version
    }

    /// When the key expires, in milliseconds since the Unix epoch; `None` if never.
    pub fn expires_at_ms(&self) -> Option<u64> {
        self.0.expires_at_ms.map(NonZeroU64::get)
    }
}
