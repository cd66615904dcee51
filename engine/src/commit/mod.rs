//! The commit thread: the database's one writer.
//!
//! Each turn of its loop takes every batch queued since the last turn (a group),
//! then for each batch: checks its preconditions, assigns it the next LSN, applies
//! its operations to staging (all or nothing), and records the changes as left-right
//! ops. Then it deletes keys whose time has come (as one more ordinary batch),
//! publishes once for the whole group, wakes the writers waiting for `Visible`, and
//! hands the committed batches to the change feed.
//!
//! With a log, each batch that changed something is also encoded as one log record
//! while it is applied, and the group's records are written (and synced, when the
//! fsync policy or a `Durable` writer asks) before the group is published: readers
//! never see a write the log does not hold. If the log fails, the group is discarded
//! unpublished, its writers are told, and every later write is refused.

use std::collections::{BTreeSet, VecDeque};
use std::num::NonZeroU64;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use left_right::WriteHandle;

use crate::ack::AckSender;
use crate::clock::Clock;
use crate::entry::{Entry, Lsn, Record};
use crate::error::{OpError, WriteError};
use crate::feed::{Change, ChangeBatch, Feed};
use crate::op::{Batch, Commit, OnError, Precondition};
use crate::ops;
use crate::options::{Limits, Options};
use crate::overlay::{Overlay, OverlayOp};
use crate::queue::{Drained, Queue, Take};
use crate::snapshot::writer::Written;
use crate::snapshot::{Base, CompactionError, SnapshotInfo};
use crate::staging::{StagedChange, Staging, Tx};
use crate::value::ByteString;
use crate::wal::Log;
use crate::wal::codec::{self, Body, Payload};
use crate::wal::frame;

mod acker;
pub(crate) mod combine;
mod fetch_ahead;
mod snapshots;

/// Why the log failed, once it has: shared by the commit thread (which sets it) and
/// every `Db` handle (which refuses writes once it is set).
pub(crate) type LogFailure = Arc<OnceLock<String>>;

/// Work for the commit thread.
pub(crate) enum Submission {
    /// A batch, with the writer's ack slot if it waits.
    Write {
        batch: Batch,
        ack: Option<AckSender<Result<Commit, WriteError>>>,
        /// The writer waits for a sync that covers the batch (`Ack::Durable`).
        durable: bool,
    },
    /// `Db::snapshot`: answered once a snapshot covering every earlier write is
    /// written and installed.
    Snapshot(AckSender<Result<SnapshotInfo, CompactionError>>),
    /// The snapshot thread finished.
    SnapshotDone(Result<(Arc<Base>, Written), String>),
}

/// A waiting writer's answer, held until the group is published (and synced, for
/// `durable` ones).
struct PendingAck {
    ack: AckSender<Result<Commit, WriteError>>,
    outcome: Result<Commit, WriteError>,
    durable: bool,
}

/// `Durable` answers in one group from which the group's answers go to the
/// [`acker::Acker`] thread instead of being sent by the commit thread.
const ACKER_MIN_DURABLE: usize = 8;

/// Replayed records between publishes during recovery (bounds staging's memory).
const REPLAY_PUBLISH_RECORDS: u64 = 65_536;

/// How long after the last publish a quiet commit thread publishes once more with
/// nothing new. left-right applies a publish's ops to its second copy only at the next
/// publish, so without this a database that went quiet would keep, in that copy,
/// every entry its last writes replaced or deleted (after a flush, all of them).
const SETTLE_AFTER: Duration = Duration::from_millis(100);

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
    /// Where each op of the batch being committed lies in its log record: a buffer
    /// kept between batches.
    op_bounds: Vec<usize>,
    /// Whether ops were recorded since the last publish. (left-right's own
    /// `has_pending_operations` is false before the first publish, whose appends go
    /// straight to the write copy, so it cannot tell.)
    unpublished: bool,
    /// When the last publish with ops happened, until a publish brings the second
    /// copy up to date (`None`: both copies hold the published state).
    second_copy_behind_since: Option<Instant>,
    /// The group's left-right ops, appended once the log holds the group.
    pending: Vec<OverlayOp>,
    /// The log, for a database on disk.
    log: Option<Log>,
    /// Set once the log fails.
    failure: LogFailure,
    /// Whether the commit thread deletes expired keys (not in a read-only database).
    sweeps: bool,
    /// Snapshot triggers, the running snapshot, the trim after one.
    snapshots: snapshots::Snapshots,
    /// The submissions of the turn under way (a buffer kept between turns).
    group: VecDeque<Submission>,
    /// The turn's answers, held until its group is published.
    acks: Vec<PendingAck>,
    /// The turn's committed batches, for the change feed.
    committed: Vec<Arc<ChangeBatch>>,
    /// The thread that sends large groups of `Durable` answers (`None` before the
    /// commit thread starts, or if it could not start that thread).
    acker: Option<acker::Acker<Result<Commit, WriteError>>>,
    /// When the commit thread wakes next if nothing arrives (`None`: only then).
    thread_wakes_at: Option<Instant>,
    /// A turn panicked: the database takes no more writes.
    panicked: bool,
}

/// The committer's slot, taken by the commit thread and by combining writers for
/// each turn.
pub(crate) type CommitSlot = combine::CommitterSlot<Committer>;

/// The commit thread: takes turns until the queue is closed and drained, then stops
/// the slot and returns the committer's write handle, so the final state stays
/// readable. A panic in a turn stops the database's writes (see
/// [`Committer::stop_after_panic`]).
pub(crate) fn run(slot: &CommitSlot, queue: &Queue<Submission>) -> WriteHandle<Overlay, OverlayOp> {
    const RUNS_ALONE: &str = "only the commit thread stops the slot";
    let mut committer = slot.take().expect(RUNS_ALONE);
    // Dropped after the last turn: answers everything handed to it first.
    committer.acker = acker::Acker::spawn()
        .inspect_err(|error| {
            tracing::warn!(%error, "no thread for answers: the commit thread sends them all");
        })
        .ok();
    loop {
        let wait = committer.plan_sleep();
        drop(committer);
        queue.wait_for_work(wait);
        committer = slot.take().expect(RUNS_ALONE);
        if committer.panicked {
            break;
        }
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| committer.thread_turn())) {
            Ok(false) => {}
            Ok(true) => break,
            Err(panic) => {
                committer.stop_after_panic(panic.as_ref());
                break;
            }
        }
    }
    let committer = committer.stop();
    drop(committer.acker);
    committer.writer
}

impl combine::Combiner for Committer {
    type Item = Submission;

    /// Commits what is queued, unless something in it needs the commit thread: a
    /// `Durable` batch (its fsync), a snapshot request, or any write while the log
    /// syncs every group or waits for its full segment to be rotated.
    fn combined_turn(&mut self, queue: &Queue<Submission>) -> combine::Turn {
        if self.panicked {
            return combine::Turn::Done;
        }
        if self
            .log
            .as_ref()
            .is_some_and(|log| log.syncs_every_group() || log.full())
        {
            return combine::Turn::NeedsThread;
        }
        let mine = |submission: &Submission| {
            matches!(submission, Submission::Write { durable: false, .. })
        };
        match queue.take_all_if(&mut self.group, mine) {
            Take::Items => {}
            Take::Empty => return combine::Turn::Done,
            Take::Refused => return combine::Turn::NeedsThread,
        }
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.turn(false))) {
            Ok(()) if self.needs_thread() => combine::Turn::NeedsThread,
            Ok(()) => combine::Turn::Done,
            Err(panic) => {
                self.stop_after_panic(panic.as_ref());
                combine::Turn::NeedsThread
            }
        }
    }
}

impl Committer {
    pub(crate) fn new(
        writer: WriteHandle<Overlay, OverlayOp>,
        hasher: crate::hash::KeyHasher,
        queue: Arc<Queue<Submission>>,
        feed: Arc<Feed>,
        failure: LogFailure,
        dir: Option<std::path::PathBuf>,
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
            second_copy_behind_since: None,
            changes: Vec::new(),
            op_bounds: Vec::new(),
            pending: Vec::new(),
            log: None,
            failure,
            sweeps: !options.read_only,
            snapshots: snapshots::Snapshots::new(dir, options),
            group: VecDeque::new(),
            acks: Vec::new(),
            committed: Vec::new(),
            acker: None,
            thread_wakes_at: None,
            panicked: false,
        }
    }

    /// Replays one log record during recovery: applies it at its LSN and time, as
    /// the batch was applied before. Every operation in a record succeeded when it
    /// was logged, so a refusal now means the log does not fit the state.
    pub(crate) fn replay(&mut self, lsn: Lsn, payload: Payload) -> Result<(), String> {
        self.staging.begin_batch();
        let mut tx = Tx {
            staging: &mut self.staging,
            published: &self.writer,
            lsn,
            now_ms: payload.now_ms,
            expiries_exist: !self.expiries.is_empty(),
            pending: &mut self.pending,
            may_supersede: false,
        };
        match payload.body {
            Body::Ops(ops) => {
                let start = tx.staging.savepoint();
                for (index, op) in ops.into_iter().enumerate() {
                    if let Err(error) = ops::apply(&mut tx, op, &self.limits) {
                        tx.staging.rollback(start);
                        tx.staging.commit_batch(&mut Vec::new());
                        return Err(format!("operation {index} is refused: {error}"));
                    }
                }
            }
            Body::Sweep(keys) => keys.iter().for_each(|key| tx.remove(key)),
        }
        let mut changes = std::mem::take(&mut self.changes);
        self.staging.commit_batch(&mut changes);
        self.last_lsn = lsn;
        self.record(lsn, None, &mut changes, &mut Vec::new());
        self.changes = changes;
        if lsn.is_multiple_of(REPLAY_PUBLISH_RECORDS) {
            self.publish_replayed();
        }
        Ok(())
    }

    /// Hands the ops recorded since the last publish to left-right, as one group when
    /// there are several, so applying them overlaps their cache misses.
    fn append_pending(&mut self) {
        match self.pending.len() {
            0 => {}
            1 => self.writer.extend(self.pending.drain(..)),
            _ => {
                // The next group will likely be about as large: start it at this size.
                let capacity = self.pending.capacity();
                let group = std::mem::replace(&mut self.pending, Vec::with_capacity(capacity));
                self.writer.append(OverlayOp::Group(group));
            }
        }
    }

    /// Publishes what replay applied so far.
    pub(crate) fn publish_replayed(&mut self) {
        self.append_pending();
        self.publish_if_unpublished();
        self.staging.reset();
    }

    /// Publishes the ops recorded since the last publish, if any.
    fn publish_if_unpublished(&mut self) {
        if std::mem::take(&mut self.unpublished) {
            self.writer.publish();
            self.second_copy_behind_since = Some(Instant::now());
        }
    }

    /// Once nothing was published for [`SETTLE_AFTER`], publishes with nothing new:
    /// the second copy absorbs the last ops and drops what they replaced.
    fn settle_if_quiet(&mut self) {
        if !self.unpublished
            && self
                .second_copy_behind_since
                .is_some_and(|since| since.elapsed() >= SETTLE_AFTER)
        {
            self.writer.publish();
            self.second_copy_behind_since = None;
        }
    }

    /// The LSN of the last committed batch.
    pub(crate) fn last_lsn(&self) -> Lsn {
        self.last_lsn
    }

    /// Starts logging: every batch committed from now on goes to `log`.
    pub(crate) fn attach_log(&mut self, log: Log) {
        tracing::info!(
            backend = log.backend_name(),
            next_lsn = self.last_lsn + 1,
            "log open"
        );
        self.log = Some(log);
    }

    /// The commit thread's turn: commits what is queued, and does the work that is
    /// the commit thread's alone (see [`Committer::turn`]). Returns whether the
    /// queue is closed and drained, after the final snapshot and sync.
    fn thread_turn(&mut self) -> bool {
        let drained = self.queue.drain_into(&mut self.group, Some(Duration::ZERO));
        self.turn(true);
        self.settle_if_quiet();
        if drained == Drained::Closed {
            self.snapshot_at_close();
            self.close_log();
            return true;
        }
        false
    }

    /// One turn: commits the submissions in `self.group`, writes their records,
    /// publishes, answers the writers and feeds subscribers. The commit thread's
    /// turns (`on_thread`) also sweep expired keys, rotate and sync the log, trim
    /// after a snapshot and start the next one: a writer combining on its own
    /// thread leaves that work to the commit thread (see [`combine`]).
    fn turn(&mut self, on_thread: bool) {
        let mut group = std::mem::take(&mut self.group);
        let mut acks = std::mem::take(&mut self.acks);
        let mut committed = std::mem::take(&mut self.committed);
        let now_ms = self.clock.now_ms();
        let group_start_lsn = self.last_lsn;
        fetch_ahead::collection_items(&self.writer, &group);
        for submission in group.drain(..) {
            let (batch, ack, durable) = match submission {
                Submission::Write {
                    batch,
                    ack,
                    durable,
                } => (batch, ack, durable),
                Submission::Snapshot(ack) => {
                    self.request_snapshot(ack);
                    continue;
                }
                Submission::SnapshotDone(outcome) => {
                    self.install_snapshot(outcome);
                    continue;
                }
            };
            let outcome = self.apply_batch(batch, now_ms, &mut committed);
            match ack {
                Some(ack) => acks.push(PendingAck {
                    ack,
                    outcome,
                    durable,
                }),
                None => {
                    if let Err(error) = outcome {
                        tracing::debug!(%error, "an eventual write was refused");
                    }
                }
            }
        }
        if on_thread && self.sweeps && self.failure.get().is_none() {
            self.sweep_expired(now_ms, &mut committed);
        }
        let durable_waiting = acks
            .iter()
            .any(|pending: &PendingAck| pending.durable && pending.outcome.is_ok());
        debug_assert!(on_thread || !durable_waiting, "a writer's turn never syncs");
        if let Err(reason) = self.write_log(durable_waiting, on_thread) {
            // Nothing of the group reaches readers, subscribers or the log.
            self.staging.reset();
            self.pending.clear();
            committed.clear();
            self.last_lsn = group_start_lsn;
            for pending in &mut acks {
                if pending.outcome.is_ok() {
                    pending.outcome = Err(WriteError::LogFailed(reason.clone()));
                }
            }
        }
        if on_thread {
            self.trim_step();
        }
        self.append_pending();
        self.publish_if_unpublished();
        self.staging.reset();
        if on_thread {
            // After the publish: a snapshot is taken from the published map.
            self.maybe_start_snapshot();
        }
        let durable_acks = acks.iter().filter(|pending| pending.durable).count();
        let answers = acks.drain(..).map(|pending| (pending.ack, pending.outcome));
        match &self.acker {
            Some(acker) if durable_acks >= ACKER_MIN_DURABLE => acker.send(answers.collect()),
            _ => answers.for_each(|(ack, outcome)| ack.send(outcome)),
        }
        self.feed.publish(&mut committed);
        if on_thread
            && let Some(log) = &mut self.log
            && let Err(error) = log.sync_if_due()
        {
            self.fail_log(&error, "sync");
        }
        self.group = group;
        self.acks = acks;
        self.committed = committed;
    }

    /// Writes the group's records; syncs them too if the policy or a `Durable`
    /// writer asks; on the commit thread (`rotate`), starts the next segment if the
    /// active one is full. On failure the log is failed and the reason returned.
    fn write_log(&mut self, durable_waiting: bool, rotate: bool) -> Result<(), String> {
        let Some(log) = &mut self.log else {
            return Ok(());
        };
        let sync = log.syncs_every_group() || (durable_waiting && log.unsynced());
        match log.write_group(sync, rotate, self.last_lsn + 1) {
            Ok(()) => Ok(()),
            Err(error) => Err(self.fail_log(&error, if sync { "write and sync" } else { "write" })),
        }
    }

    /// How long the commit thread may sleep (see [`Committer::loop_wait`]); notes
    /// when it will wake, for writers whose turns need it sooner.
    fn plan_sleep(&mut self) -> Option<Duration> {
        let wait = self.loop_wait();
        self.thread_wakes_at = wait.and_then(|wait| Instant::now().checked_add(wait));
        wait
    }

    /// Whether a writer's turn left work the commit thread would not get to soon
    /// enough on its own: a full log segment, a due snapshot, or a sync or expiry
    /// due before the thread's planned wake.
    fn needs_thread(&self) -> bool {
        if self.log.as_ref().is_some_and(Log::full) || self.snapshot_due() {
            return true;
        }
        let Some(wait) = self.loop_wait() else {
            return false;
        };
        match self.thread_wakes_at {
            None => true,
            // (The clocks' rounding moves a due time by under a millisecond.)
            Some(at) => Instant::now() + wait + Duration::from_millis(1) < at,
        }
    }

    /// After a panic in a turn (a bug, or user code such as a [`Clock`] panicking):
    /// the database stops taking writes. The queue is closed, what was queued or
    /// held is abandoned (its writers wake with `WriteError::Closed` instead of
    /// waiting forever), the feed ends, and readers go on reading the last published
    /// state.
    fn stop_after_panic(&mut self, panic: &(dyn std::any::Any + Send)) {
        let reason = panic
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        tracing::error!(
            reason,
            "a commit turn panicked; writes are refused from now on, reads go on"
        );
        self.panicked = true;
        self.queue.close();
        self.group.clear();
        self.acks.clear();
        self.committed.clear();
        while self.queue.drain_into(&mut self.group, Some(Duration::ZERO)) == Drained::Items {
            self.group.clear();
        }
        self.feed.close();
    }

    /// Puts the log in the failed state and lets go of it (nothing is written or
    /// synced again, so no later sync can pass for a retry of the failed one);
    /// returns the reason writers are told.
    fn fail_log(&mut self, error: &std::io::Error, what: &str) -> String {
        self.log = None;
        let reason = format!(
            "the log {what} failed ({error}); writes are refused until the database is reopened, and writes not acknowledged as durable may be lost"
        );
        if self.failure.set(reason.clone()).is_ok() {
            tracing::error!(%error, what, "the log failed; refusing writes from now on, reads go on");
        }
        let reason = self.failure.get().cloned().unwrap_or(reason);
        self.refuse_next_snapshots(&reason);
        reason
    }

    /// On a clean close, syncs whatever the policy left unsynced.
    fn close_log(&mut self) {
        if let Some(log) = &mut self.log
            && log.unsynced()
            && let Err(error) = log.sync()
        {
            self.fail_log(&error, "sync at close");
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
        if let Some(reason) = self.failure.get() {
            return Err(WriteError::LogFailed(reason.clone()));
        }
        self.staging.begin_batch();
        let origin = batch.origin;
        let lsn = self.last_lsn + 1;
        let mut tx = Tx {
            staging: &mut self.staging,
            published: &self.writer,
            lsn,
            now_ms,
            expiries_exist: !self.expiries.is_empty(),
            pending: &mut self.pending,
            may_supersede: false,
        };
        for (index, precondition) in batch.preconditions.iter().enumerate() {
            match holds(&tx, precondition) {
                Ok(true) => {}
                Ok(false) => return Err(WriteError::PreconditionFailed { index }),
                Err(error) => return Err(WriteError::PreconditionUnreadable { index, error }),
            }
        }
        // The batch's record, every operation encoded before any is applied (a
        // refused one is cut back out): a batch too large for one record is refused
        // having changed nothing, and no check after an operation succeeded can roll
        // it back. `None` without a log; operation i's bytes are at
        // `op_bounds[i]..op_bounds[i + 1]`.
        let mut record = self.log.as_mut().map(|log| {
            let synced_lsn = log.synced_lsn();
            let group = log.group();
            let start = frame::begin_record(group);
            codec::begin_ops(group, now_ms);
            (group, start, synced_lsn)
        });
        let mut op_bounds = std::mem::take(&mut self.op_bounds);
        op_bounds.clear();
        if let Some((group, start, _)) = &mut record {
            op_bounds.push(group.len());
            for op in &batch.ops {
                codec::encode_op(group, op);
                op_bounds.push(group.len());
            }
            let payload_bytes = group.len() - *start - frame::RECORD_HEADER_BYTES;
            if payload_bytes > frame::MAX_PAYLOAD_BYTES {
                group.truncate(*start);
                return Err(WriteError::BatchTooLarge {
                    size_bytes: payload_bytes,
                    limit_bytes: frame::MAX_PAYLOAD_BYTES,
                });
            }
        }
        let batch_start = tx.staging.savepoint();
        let mut replies = Vec::with_capacity(batch.ops.len());
        let mut refused = Vec::new();
        // Captures by index, not through an iterator: most batches have none, and
        // each write paid for the empty iterator's setup and drop.
        let captures = &batch.captures;
        let mut captured = Vec::with_capacity(captures.len());
        let last_op = batch.ops.len().saturating_sub(1);
        for (index, op) in batch.ops.into_iter().enumerate() {
            while let Some((at, keys)) = captures.get(captured.len())
                && *at == index
            {
                captured.push(capture(&tx, keys));
            }
            let op_start = tx.staging.savepoint();
            // Once this op succeeds, only a later op of an aborting batch could roll
            // the batch back: otherwise it may change an earlier batch's entry in
            // place.
            tx.may_supersede = batch.on_error == OnError::Continue || index == last_op;
            match ops::apply(&mut tx, op, &self.limits) {
                Ok(reply) => replies.push(Ok(reply)),
                Err(error) => {
                    tx.staging.rollback(op_start);
                    if batch.on_error == OnError::Abort {
                        tx.staging.rollback(batch_start);
                        if let Some((group, start, _)) = record {
                            group.truncate(start);
                        }
                        return Err(WriteError::Op { index, error });
                    }
                    refused.push(index);
                    replies.push(Err(error));
                }
            }
        }
        for (_, keys) in &captures[captured.len()..] {
            captured.push(capture(&tx, keys));
        }
        if let Some((group, _, _)) = &mut record {
            // Last first, so the earlier ops' bounds stay where they were.
            for &index in refused.iter().rev() {
                group.drain(op_bounds[index]..op_bounds[index + 1]);
            }
        }
        self.op_bounds = op_bounds;
        let mut changes = std::mem::take(&mut self.changes);
        self.staging.commit_batch(&mut changes);
        let lsn = if changes.is_empty() {
            if let Some((group, start, _)) = record {
                group.truncate(start);
            }
            self.last_lsn
        } else {
            if let Some((group, start, synced_lsn)) = record {
                frame::seal_record(group, start, lsn, synced_lsn);
            }
            self.last_lsn = lsn;
            self.record(lsn, origin, &mut changes, committed);
            lsn
        };
        self.changes = changes;
        Ok(Commit {
            lsn,
            replies,
            captures: captured,
        })
    }

    /// Turns a committed batch's changes into left-right ops, expiry-index updates and
    /// (if anyone listens) a change-feed batch.
    fn record(
        &mut self,
        lsn: Lsn,
        origin: Option<u64>,
        changes: &mut Vec<StagedChange>,
        committed: &mut Vec<Arc<ChangeBatch>>,
    ) {
        self.unpublished = true;
        self.snapshots.count_changes(changes.len());
        let feed = self.feed.has_subscribers();
        let mut feed_changes = Vec::with_capacity(if feed { changes.len() } else { 0 });
        for change in changes.drain(..) {
            match change {
                StagedChange::Flush => {
                    self.expiries.clear();
                    self.pending.push(OverlayOp::Clear(lsn));
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
                    self.pending.push(OverlayOp::Put(entry));
                }
                StagedChange::Remove(key, expiry_before) => {
                    if let Some(before) = expiry_before {
                        self.expiries.remove(&(before, key.clone()));
                    }
                    if feed {
                        feed_changes.push(Change::Delete(key.clone()));
                    }
                    self.pending
                        .push(OverlayOp::Remove(Entry::tombstone(&key, lsn)));
                }
                StagedChange::Catalog(catalog) => {
                    self.pending.push(OverlayOp::SetCatalog(catalog));
                }
            }
        }
        if feed {
            committed.push(Arc::new(ChangeBatch {
                lsn,
                origin,
                changes: feed_changes,
            }));
        }
    }

    /// How long the loop may sleep waiting for writes: until the log's interval
    /// sync is due, the next key expires, or the second copy should settle
    /// ([`SETTLE_AFTER`]), whichever comes first.
    fn loop_wait(&self) -> Option<Duration> {
        if self.snapshots.trimming() {
            return Some(Duration::ZERO);
        }
        let sync = self.log.as_ref().and_then(Log::sync_wait);
        let sweep = self.sweep_wait().filter(|_| self.sweeps);
        let settle = self
            .second_copy_behind_since
            .map(|since| SETTLE_AFTER.saturating_sub(since.elapsed()));
        [sync, sweep, settle].into_iter().flatten().min()
    }

    /// How long until the next key is due (zero while keys are overdue, so a backlog
    /// is swept sweep after sweep), at most [`SWEEP_INTERVAL`]; `None` if no key has
    /// an expiry.
    fn sweep_wait(&self) -> Option<Duration> {
        let (next_at, _) = self.expiries.first()?;
        let now_ms = self.clock.now_ms();
        let until_due = Duration::from_millis(next_at.get().saturating_sub(now_ms));
        Some(until_due.min(SWEEP_INTERVAL))
    }

    /// Deletes up to `expiry_sweep_keys` keys whose expiry time has passed, as one
    /// ordinary batch (so the feed and the log see the deletes).
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
            pending: &mut self.pending,
            may_supersede: false,
        };
        let mut record = self.log.as_mut().map(|log| {
            let synced_lsn = log.synced_lsn();
            let group = log.group();
            let start = frame::begin_record(group);
            codec::begin_sweep(group, now_ms);
            (group, start, synced_lsn)
        });
        let mut swept = 0;
        let mut seen = self.expiries.iter();
        while swept < self.expiry_sweep_keys {
            let Some((at, key)) = seen.next().filter(|(at, _)| at.get() <= now_ms) else {
                break;
            };
            // (A key in a damaged part of the base cannot be checked; it is swept.)
            debug_assert!(
                !matches!(tx.get_raw(key), Ok(entry)
                    if entry.as_ref().and_then(Entry::expires_at_ms) != Some(*at)),
                "the expiry index matches the committed state"
            );
            tx.remove(key);
            if let Some((group, _, _)) = &mut record {
                codec::encode_swept_key(group, key);
            }
            swept += 1;
        }
        let mut changes = std::mem::take(&mut self.changes);
        self.staging.commit_batch(&mut changes);
        if changes.is_empty() {
            if let Some((group, start, _)) = record {
                group.truncate(start);
            }
        } else {
            if let Some((group, start, synced_lsn)) = record {
                frame::seal_record(group, start, lsn, synced_lsn);
            }
            self.last_lsn = lsn;
            self.record(lsn, None, &mut changes, committed);
        }
        self.changes = changes;
    }
}

/// Whether `precondition` holds in `tx`'s view.
fn holds(tx: &Tx<'_>, precondition: &Precondition) -> Result<bool, OpError> {
    Ok(match precondition {
        Precondition::Version { key, version } => {
            tx.get(key)?.map_or(0, |entry| entry.version()) == *version
        }
        Precondition::Absent(key) => tx.get(key)?.is_none(),
        Precondition::Present(key) => tx.get(key)?.is_some(),
    })
}

/// The records of `keys` as the batch in `tx` has them now (absent keys left out).
fn capture(tx: &Tx<'_>, keys: &[ByteString]) -> crate::op::Capture {
    keys.iter()
        .filter_map(|key| tx.get(key).transpose())
        .map(|entry| entry.map(crate::Record))
        .collect()
}
