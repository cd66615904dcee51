//! The commit thread: the database's one writer.
//!
//! Each turn of its loop takes every batch queued since the last turn (a group),
//! then for each batch: checks its preconditions, assigns it the next LSN, applies
//! its operations to staging (all or nothing), and records the changes as left-right
//! ops. Then it deletes keys whose time has come (as one more ordinary batch),
//! publishes once for the whole group, wakes the writers waiting for `Visible`, and
//! hands the committed batches to the change feed. The write-ahead log slots in
//! between "records the changes" and "publishes": the group is what one log write
//! and one fsync cover.

use std::collections::{BTreeSet, VecDeque};
use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::Duration;

use left_right::WriteHandle;

use crate::ack::AckSender;
use crate::clock::Clock;
use crate::entry::{Lsn, Record};
use crate::error::WriteError;
use crate::feed::{Change, ChangeBatch, Feed};
use crate::op::{Batch, Commit, OnError, Precondition};
use crate::ops;
use crate::options::{Limits, Options};
use crate::overlay::{Overlay, OverlayOp};
use crate::queue::{Drained, Queue};
use crate::staging::{StagedChange, Staging, Tx};

/// A batch on its way to the commit thread, with the writer's ack slot if it waits.
pub(crate) struct Submission {
    pub(crate) batch: Batch,
    pub(crate) ack: Option<AckSender<Result<Commit, WriteError>>>,
}

/// The longest the commit thread sleeps while keys wait to expire (their clock may be
/// moved by hand: see `ManualClock`).
const SWEEP_INTERVAL: Duration = Duration::from_millis(100);

/// The commit thread's state.
pub(crate) struct Committer {
    writer: WriteHandle<Overlay, OverlayOp>,
    staging: Staging,
    queue: Arc<Queue<Submission>>,
    feed: Arc<Feed>,
    clock: Arc<dyn Clock>,
    limits: Limits,
    expiry_sweep_keys: usize,
    /// Every key with an expiry, by expiry time. Invariant: holds `(t, key)` exactly
    /// when the committed entry of `key` expires at `t`.
    expiries: BTreeSet<(NonZeroU64, Box<[u8]>)>,
    /// The LSN of the last batch that changed anything.
    last_lsn: Lsn,
    /// The changes of the batch being committed: a buffer kept between batches.
    changes: Vec<StagedChange>,
    /// Whether ops were appended since the last publish. (left-right's own
    /// `has_pending_operations` is false before the first publish, whose appends go
    /// straight to the write copy, so it cannot tell.)
    unpublished: bool,
}

impl Committer {
    pub(crate) fn new(
        writer: WriteHandle<Overlay, OverlayOp>,
        hasher: ahash::RandomState,
        queue: Arc<Queue<Submission>>,
        feed: Arc<Feed>,
        options: &Options,
    ) -> Self {
        Committer {
            writer,
            staging: Staging::new(hasher),
            queue,
            feed,
            clock: Arc::clone(&options.clock),
            limits: options.limits.clone(),
            expiry_sweep_keys: options.expiry_sweep_keys.max(1),
            expiries: BTreeSet::new(),
            last_lsn: 0,
            unpublished: false,
            changes: Vec::new(),
        }
    }

    /// Runs until the queue is closed and drained; returns the write handle so the
    /// final state stays readable.
    ///
    /// If the loop panics (a bug, or user code such as a [`Clock`] panicking), the
    /// database stops taking writes: the queue is closed, what was queued is abandoned
    /// (its writers wake with `WriteError::Closed` instead of waiting forever), the feed
    /// ends, and readers go on reading the last published state.
    pub(crate) fn run(mut self) -> WriteHandle<Overlay, OverlayOp> {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.commit_loop()));
        if let Err(panic) = outcome {
            let reason = panic
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(no message)");
            tracing::error!(
                reason,
                "the commit thread panicked; writes are refused from now on, reads go on"
            );
            self.queue.close();
            let mut abandoned = VecDeque::new();
            while self.queue.drain_into(&mut abandoned, Some(Duration::ZERO)) == Drained::Items {
                abandoned.clear();
            }
            self.feed.close();
        }
        self.writer
    }

    /// The commit loop proper: returns once the queue is closed and drained.
    fn commit_loop(&mut self) {
        let mut group = VecDeque::new();
        let mut acks = Vec::new();
        let mut committed = Vec::new();
        loop {
            let wait = self.sweep_wait();
            let drained = self.queue.drain_into(&mut group, wait);
            let now_ms = self.clock.now_ms();
            for Submission { batch, ack } in group.drain(..) {
                let outcome = self.apply_batch(batch, now_ms, &mut committed);
                match ack {
                    Some(ack) => acks.push((ack, outcome)),
                    None => {
                        if let Err(error) = outcome {
                            tracing::debug!(%error, "an eventual write was refused");
                        }
                    }
                }
            }
            self.sweep_expired(now_ms, &mut committed);
            if std::mem::take(&mut self.unpublished) {
                self.writer.publish();
            }
            self.staging.reset();
            for (ack, outcome) in acks.drain(..) {
                ack.send(outcome);
            }
            self.feed.publish(&mut committed);
            if drained == Drained::Closed {
                return;
            }
        }
    }

    fn apply_batch(
        &mut self,
        batch: Batch,
        now_ms: u64,
        committed: &mut Vec<Arc<ChangeBatch>>,
    ) -> Result<Commit, WriteError> {
        debug_assert!(
            batch.ops.len() <= self.limits.max_batch_ops,
            "Db::write checks the limit"
        );
        self.staging.begin_batch();
        let lsn = self.last_lsn + 1;
        let mut tx = Tx {
            staging: &mut self.staging,
            published: &self.writer,
            lsn,
            now_ms,
            expiries_exist: !self.expiries.is_empty(),
        };
        for (index, precondition) in batch.preconditions.iter().enumerate() {
            if !holds(&tx, precondition) {
                return Err(WriteError::PreconditionFailed { index });
            }
        }
        let batch_start = tx.staging.savepoint();
        let mut replies = Vec::with_capacity(batch.ops.len());
        for (index, op) in batch.ops.into_iter().enumerate() {
            let op_start = tx.staging.savepoint();
            match ops::apply(&mut tx, op, &self.limits) {
                Ok(reply) => replies.push(Ok(reply)),
                Err(error) => {
                    tx.staging.rollback(op_start);
                    if batch.on_error == OnError::Abort {
                        tx.staging.rollback(batch_start);
                        return Err(WriteError::Op { index, error });
                    }
                    replies.push(Err(error));
                }
            }
        }
        let mut changes = std::mem::take(&mut self.changes);
        self.staging.commit_batch(&mut changes);
        let lsn = if changes.is_empty() {
            self.last_lsn
        } else {
            self.last_lsn = lsn;
            self.record(lsn, &mut changes, committed);
            lsn
        };
        self.changes = changes;
        Ok(Commit { lsn, replies })
    }

    /// Turns a committed batch's changes into left-right ops, expiry-index updates and
    /// (if anyone listens) a change-feed batch.
    fn record(
        &mut self,
        lsn: Lsn,
        changes: &mut Vec<StagedChange>,
        committed: &mut Vec<Arc<ChangeBatch>>,
    ) {
        self.unpublished = true;
        let feed = self.feed.has_subscribers();
        let mut feed_changes = Vec::with_capacity(if feed { changes.len() } else { 0 });
        for change in changes.drain(..) {
            match change {
                StagedChange::Flush => {
                    self.expiries.clear();
                    self.writer.append(OverlayOp::Clear);
                    if feed {
                        feed_changes.push(Change::Flush);
                    }
                }
                StagedChange::Put(entry, expiry_before) => {
                    if let Some(before) = expiry_before {
                        self.expiries.remove(&(before, entry.key().into()));
                    }
                    if let Some(after) = entry.expires_at_ms() {
                        self.expiries.insert((after, entry.key().into()));
                    }
                    if feed {
                        feed_changes.push(Change::Put(Record(entry.clone())));
                    }
                    self.writer.append(OverlayOp::Put(entry));
                }
                StagedChange::Remove(key, expiry_before) => {
                    if let Some(before) = expiry_before {
                        self.expiries.remove(&(before, key.clone()));
                    }
                    if feed {
                        feed_changes.push(Change::Delete(key.clone()));
                    }
                    self.writer.append(OverlayOp::Remove(key));
                }
            }
        }
        if feed {
            committed.push(Arc::new(ChangeBatch {
                lsn,
                changes: feed_changes,
            }));
        }
    }

    /// How long the loop may sleep waiting for writes: until the next key is due (not
    /// at all while keys are overdue, so a backlog is swept sweep after sweep), at
    /// most [`SWEEP_INTERVAL`]; forever if no key has an expiry.
    fn sweep_wait(&self) -> Option<Duration> {
        let (next_at, _) = self.expiries.first()?;
        let now_ms = self.clock.now_ms();
        let until_due = Duration::from_millis(next_at.get().saturating_sub(now_ms));
        Some(until_due.min(SWEEP_INTERVAL))
    }

    /// Deletes up to `expiry_sweep_keys` keys whose expiry time has passed, as one
    /// ordinary batch (so the feed, and later the log, see the deletes).
    fn sweep_expired(&mut self, now_ms: u64, committed: &mut Vec<Arc<ChangeBatch>>) {
        let due = |expiries: &BTreeSet<(NonZeroU64, Box<[u8]>)>| {
            expiries.first().is_some_and(|(at, _)| at.get() <= now_ms)
        };
        if !due(&self.expiries) {
            return;
        }
        self.staging.begin_batch();
        let lsn = self.last_lsn + 1;
        let mut tx = Tx {
            staging: &mut self.staging,
            published: &self.writer,
            lsn,
            now_ms,
            expiries_exist: !self.expiries.is_empty(),
        };
        let mut swept = 0;
        let mut seen = self.expiries.iter();
        while swept < self.expiry_sweep_keys {
            let Some((at, key)) = seen.next().filter(|(at, _)| at.get() <= now_ms) else {
                break;
            };
            debug_assert_eq!(
                tx.get_raw(key).and_then(|entry| entry.expires_at_ms()),
                Some(*at),
                "the expiry index matches the committed state"
            );
            tx.remove(key);
            swept += 1;
        }
        let mut changes = std::mem::take(&mut self.changes);
        self.staging.commit_batch(&mut changes);
        if !changes.is_empty() {
            self.last_lsn = lsn;
            self.record(lsn, &mut changes, committed);
        }
        self.changes = changes;
    }
}

/// Whether `precondition` holds in `tx`'s view.
fn holds(tx: &Tx<'_>, precondition: &Precondition) -> bool {
    match precondition {
        Precondition::Version { key, version } => {
            tx.get(key).map_or(0, |entry| entry.version()) == *version
        }
        Precondition::Absent(key) => tx.get(key).is_none(),
        Precondition::Present(key) => tx.get(key).is_some(),
    }
}
