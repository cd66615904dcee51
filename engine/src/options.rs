//! How a database is configured: its limits, queue depths and clock.
//!
//! Every limit the engine enforces lives here, with its default, so that input past
//! a limit is refused with an error that names it instead of exhausting memory.

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};

/// Limits on what one write may ask the engine to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest key, in bytes. Default 64 KiB.
    pub max_key_bytes: usize,
    /// Largest string value, list element, set member, hash field or hash value, in
    /// bytes; also the largest string that APPEND or SETRANGE may build. Default 512 MiB,
    /// Redis's `proto-max-bulk-len`.
    pub max_value_bytes: usize,
    /// Most operations in one batch. Default 1,048,576.
    pub max_batch_ops: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_key_bytes: 64 * 1024,
            max_value_bytes: 512 * 1024 * 1024,
            max_batch_ops: 1 << 20,
        }
    }
}

/// Options for [`crate::Db::open_in_memory`].
#[derive(Clone)]
pub struct Options {
    /// Size limits on keys, values and batches.
    pub limits: Limits,
    /// Bytes of batches (keys, values and bookkeeping, estimated) the commit queue holds
    /// before writers wait (backpressure). A batch larger than this is taken alone.
    /// Default 8 MiB: enough to keep the commit thread fed, small enough that a drained
    /// group stays cache-friendly.
    pub commit_queue_bytes: usize,
    /// Committed batches a change-feed subscriber may fall behind before it is cut off
    /// as lagged. Default 4096.
    pub feed_queue_batches: usize,
    /// Most expired keys the commit thread deletes in one sweep batch. Default 1024.
    pub expiry_sweep_keys: usize,
    /// The clock that decides expiry. Default: the system clock.
    pub clock: Arc<dyn Clock>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limits: Limits::default(),
            commit_queue_bytes: 8 * 1024 * 1024,
            feed_queue_batches: 4096,
            expiry_sweep_keys: 1024,
            clock: Arc::new(SystemClock),
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("limits", &self.limits)
            .field("commit_queue_bytes", &self.commit_queue_bytes)
            .field("feed_queue_batches", &self.feed_queue_batches)
            .field("expiry_sweep_keys", &self.expiry_sweep_keys)
            .finish_non_exhaustive()
    }
}
