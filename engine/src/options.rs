//! How a database is configured: its limits, queue depths and clock.
//!
//! Every limit the engine enforces lives here, with its default, so that input past
//! a limit is refused with an error that names it instead of exhausting memory.

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::wal::faults::Faults;

/// When the log is fdatasync'd. A `Durable` write waits for a sync that covers it
/// whatever the policy; the policy decides what happens for everyone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// After every group of batches, before any of them is acknowledged.
    Always,
    /// At most this many milliseconds after a write (Redis's `everysec` is 1000):
    /// a crash loses at most about that much of what was not written `Durable`.
    Interval {
        /// Milliseconds between syncs.
        ms: u64,
    },
    /// Only when a `Durable` write asks (and on rotation and clean close); the
    /// kernel writes the rest back when it likes.
    Never,
}

impl Default for FsyncPolicy {
    fn default() -> Self {
        FsyncPolicy::Interval { ms: 1000 }
    }
}

/// How the log does its I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IoBackend {
    /// io_uring if the kernel allows it, else std (the choice is logged).
    #[default]
    Auto,
    /// io_uring, or an open error if it is refused.
    Uring,
    /// Plain positioned writes and `fdatasync`.
    Std,
}

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

/// Options for [`crate::Db::open`] and [`crate::Db::open_in_memory`] (which ignores
/// the durability ones).
#[derive(Clone)]
pub struct Options {
    /// Size limits on keys, values and batches.
    pub limits: Limits,
    /// Bytes of batches (keys, values and bookkeeping, estimated) the commit queue holds
    /// before writers wait (backpressure). A batch larger than this is taken alone.
    /// Default 8 MiB: enough to keep the commit thread fed, small enough that a drained
    /// group stays cache-friendly.
    pub commit_queue_bytes: usize,
    /// A writer waiting for an `Ack::Visible` answer commits what is queued itself,
    /// on its own thread, when the commit thread is not committing (flat
    /// combining): its answer then costs no thread hand-off. Work that waits on the
    /// disk (`Durable` fsyncs, segment rotation) and background duties (snapshots,
    /// expiry sweeps, interval syncs) stay on the commit thread. Turn it off to keep
    /// all commit work there. Default true.
    pub combine_writes: bool,
    /// Committed batches a change-feed subscriber may fall behind before it is cut off
    /// as lagged. Default 4096.
    pub feed_queue_batches: usize,
    /// Most expired keys the commit thread deletes in one sweep batch. Default 1024.
    pub expiry_sweep_keys: usize,
    /// The clock that decides expiry. Default: the system clock.
    pub clock: Arc<dyn Clock>,
    /// When the log is synced. Default: every 1000 ms.
    pub fsync: FsyncPolicy,
    /// How the log writes. Default: io_uring if available.
    pub io_backend: IoBackend,
    /// The size at which a log segment is closed and a new one started, in bytes.
    /// Default 64 MiB.
    pub log_segment_bytes: u64,
    /// Open without taking ownership: read the data, refuse every write, change no
    /// file. Works while another process owns the directory. Default false.
    pub read_only: bool,
    /// If the log holds a damaged record that was on disk (not damage a crash left
    /// among records not yet synced, which is always cut off), cut it at the damage
    /// (losing everything after it) instead of refusing to open. Default false.
    pub repair: bool,
    /// Fault injection for the log's I/O, for tests. Default none.
    pub faults: Option<Faults>,
    /// Take a snapshot once this many key changes were committed since the last one
    /// (the overlay-size trigger). Default 1,000,000.
    pub snapshot_after_changes: u64,
    /// Take a snapshot once the log grew by this many bytes since the last one.
    /// Default 256 MiB.
    pub snapshot_after_log_bytes: u64,
    /// Raises both triggers above to this percentage of the last snapshot (its
    /// keys, its size in bytes), as Redis's `auto-aof-rewrite-percentage`: a
    /// snapshot costs time proportional to the data, so a database of 10M keys is
    /// not rewritten after every million changes, and snapshots take a bounded share
    /// of the machine whatever the data's size. The log between snapshots, replayed
    /// at open, stays within this share of the snapshot. 0 turns the floor off.
    /// Default 100.
    pub snapshot_growth_percent: u64,
    /// Take a snapshot at a clean close, so that the next open replays nothing.
    /// Default true.
    pub snapshot_on_close: bool,
    /// Check every block of a snapshot and validate the archive fully (rkyv
    /// bytecheck) when mapping it, instead of checking each block when a read first
    /// touches it: for files of unknown origin. Costs time proportional to the file
    /// at open. Default false.
    pub validate_snapshots: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limits: Limits::default(),
            commit_queue_bytes: 8 * 1024 * 1024,
            combine_writes: true,
            feed_queue_batches: 4096,
            expiry_sweep_keys: 1024,
            clock: Arc::new(SystemClock),
            fsync: FsyncPolicy::default(),
            io_backend: IoBackend::default(),
            log_segment_bytes: 64 * 1024 * 1024,
            read_only: false,
            repair: false,
            faults: None,
            snapshot_after_changes: 1_000_000,
            snapshot_after_log_bytes: 256 * 1024 * 1024,
            snapshot_growth_percent: 100,
            snapshot_on_close: true,
            validate_snapshots: false,
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("limits", &self.limits)
            .field("commit_queue_bytes", &self.commit_queue_bytes)
            .field("combine_writes", &self.combine_writes)
            .field("feed_queue_batches", &self.feed_queue_batches)
            .field("expiry_sweep_keys", &self.expiry_sweep_keys)
            .field("fsync", &self.fsync)
            .field("io_backend", &self.io_backend)
            .field("log_segment_bytes", &self.log_segment_bytes)
            .field("read_only", &self.read_only)
            .field("repair", &self.repair)
            .field("faults", &self.faults.is_some())
            .field("snapshot_after_changes", &self.snapshot_after_changes)
            .field("snapshot_after_log_bytes", &self.snapshot_after_log_bytes)
            .field("snapshot_growth_percent", &self.snapshot_growth_percent)
            .field("snapshot_on_close", &self.snapshot_on_close)
            .field("validate_snapshots", &self.validate_snapshots)
            .finish_non_exhaustive()
    }
}
