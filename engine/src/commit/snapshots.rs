//! The commit thread's side of snapshots: deciding when to take one, cutting the log
//! at its LSN, handing the work to a background thread, and installing the result
//! (new base, trimmed overlay, old log segments and snapshots deleted).
//!
//! Order matters for a crash at any point: the snapshot file is durable (synced,
//! renamed, directory synced) before any segment it covers is deleted, and recovery
//! always starts from the newest snapshot, so every state on disk recovers.

use std::path::PathBuf;
use std::sync::Arc;

use super::{Committer, Submission};
use crate::ack::AckSender;
use crate::overlay::{Overlay, OverlayOp, SHARD_COUNT};
use crate::snapshot::build::{self, Job};
use crate::snapshot::cut::Cut;
use crate::snapshot::writer::Written;
use crate::snapshot::{self, Base, CompactionError, SnapshotError, SnapshotInfo};
use crate::swap::BaseSwap;
use crate::wal;

/// Overlay entries a commit-loop turn trims at most after a new base is installed
/// (whole shards, at least one): the trim of a large overlay is spread over many
/// short steps instead of one long pause. (A fixed 32 shards per turn was 450k
/// entries at 14M keys: a pause of tens of milliseconds for every writer.)
const TRIM_ENTRIES_PER_TURN: usize = 8192;

type Waiter = AckSender<Result<SnapshotInfo, CompactionError>>;

/// The snapshot bookkeeping of the commit thread.
pub(crate) struct Snapshots {
    /// The data directory; `None` for an in-memory or read-only database.
    dir: Option<PathBuf>,
    /// The installed base.
    base: Option<Arc<Base>>,
    /// A snapshot thread is at work.
    running: Option<std::thread::JoinHandle<()>>,
    /// Writers of `Db::snapshot` waiting for the running snapshot.
    waiting_current: Vec<Waiter>,
    /// Writers waiting for the next one (they asked after the current one started).
    waiting_next: Vec<Waiter>,
    /// The trim after the last base swap, while it is under way.
    trim: Option<BaseSwap>,
    /// Key changes committed since the last snapshot started.
    changes_since: u64,
    /// The log's written bytes when the last snapshot started.
    log_bytes_at_start: u64,
    after_changes: u64,
    after_log_bytes: u64,
    growth_percent: u64,
    on_close: bool,
    validate: bool,
}

impl Snapshots {
    /// Snapshot state for a database in `dir` (none for in-memory or read-only).
    pub(crate) fn new(dir: Option<PathBuf>, options: &crate::Options) -> Self {
        Snapshots {
            dir,
            base: None,
            running: None,
            waiting_current: Vec::new(),
            waiting_next: Vec::new(),
            trim: None,
            changes_since: 0,
            log_bytes_at_start: 0,
            after_changes: options.snapshot_after_changes,
            after_log_bytes: options.snapshot_after_log_bytes,
            growth_percent: options.snapshot_growth_percent,
            on_close: options.snapshot_on_close,
            validate: options.validate_snapshots,
        }
    }

    /// Counts committed key changes (the overlay-size trigger).
    pub(crate) fn count_changes(&mut self, changes: usize) {
        self.changes_since += changes as u64;
    }

    /// Whether trimming is under way (the loop must not sleep).
    pub(crate) fn trimming(&self) -> bool {
        self.trim.is_some()
    }

    /// The key changes and log bytes after which a snapshot is due: the configured
    /// triggers, raised to the growth percentage of the last snapshot.
    fn thresholds(&self) -> (u64, u64) {
        let share = |of: u64| of.saturating_mul(self.growth_percent) / 100;
        let (keys, size_bytes) = self
            .base
            .as_ref()
            .map_or((0, 0), |base| (base.len() as u64, base.size_bytes()));
        (
            self.after_changes.max(share(keys)),
            self.after_log_bytes.max(share(size_bytes)),
        )
    }
}

impl Committer {
    /// Starts from a base recovered at open: its LSN is the last committed one. An
    /// error if the entries that expire cannot be read.
    pub(crate) fn start_from(&mut self, base: &Arc<Base>) -> Result<(), SnapshotError> {
        self.last_lsn = base.lsn();
        let expiring = base.expiring().map_err(|error| SnapshotError::Invalid {
            path: base.path().to_path_buf(),
            reason: error.to_string(),
        })?;
        for (at, key) in expiring {
            self.expiries.insert((at, key.into()));
        }
        self.snapshots.base = Some(Arc::clone(base));
        Ok(())
    }

    /// `Db::snapshot` asked for a snapshot.
    pub(super) fn request_snapshot(&mut self, ack: Waiter) {
        if let Some(reason) = self.failure.get() {
            ack.send(Err(CompactionError::Failed(reason.clone())));
        } else if self.snapshots.dir.is_none() || self.log.is_none() {
            ack.send(Err(if self.sweeps {
                CompactionError::InMemory
            } else {
                CompactionError::ReadOnly
            }));
        } else {
            self.snapshots.waiting_next.push(ack);
        }
    }

    /// Whether a snapshot should start: one was asked for or a trigger fired, and
    /// none is running.
    pub(super) fn snapshot_due(&self) -> bool {
        let state = &self.snapshots;
        let Some(log) = &self.log else { return false };
        if state.running.is_some() || state.dir.is_none() {
            return false;
        }
        let (after_changes, after_log_bytes) = state.thresholds();
        let grown = state.changes_since >= after_changes
            || log.written_bytes() - state.log_bytes_at_start >= after_log_bytes;
        grown || !state.waiting_next.is_empty()
    }

    /// At the end of a group (its records written): starts a snapshot if one was
    /// asked for or a trigger fired, unless one is running.
    pub(super) fn maybe_start_snapshot(&mut self) {
        if !self.snapshot_due() {
            return;
        }
        let state = &self.snapshots;
        let upto_lsn = self.last_lsn;
        if let Some(base) = &state.base
            && base.lsn() == upto_lsn
        {
            // Nothing new since the installed snapshot: it is the answer.
            let info = info_of(base);
            for waiter in self.snapshots.waiting_next.drain(..) {
                waiter.send(Ok(info.clone()));
            }
            return;
        }
        if let Err(error) = self.log.as_mut().expect("checked above").cut(upto_lsn + 1) {
            let reason = self.fail_log(&error, "rotation for a snapshot");
            self.answer_snapshot_waiters(&Err(CompactionError::Failed(reason)), true);
            return;
        }
        let dir = self.snapshots.dir.clone().expect("checked above");
        // Everything up to `upto_lsn` is published (this runs after the group's
        // publish), so the walk starts from the state at the cut or later; the cut
        // reaches the map ahead of every later change.
        debug_assert!(!self.unpublished);
        let cut = Arc::new(Cut::new(upto_lsn));
        let (base, catalog) = {
            let map = self
                .writer
                .enter()
                .expect("the commit thread owns the write handle, so the map is alive");
            let base = map.base().filter(|_| !map.base_hidden()).cloned();
            (base, Arc::clone(map.catalog()))
        };
        self.writer
            .append(OverlayOp::SetCut(Some(Arc::clone(&cut))));
        let job = Job {
            dir,
            map: (*self.writer).clone(),
            cut,
            base,
            catalog,
            hasher: self.staging.hasher(),
            validate: self.snapshots.validate,
        };
        let queue = Arc::clone(&self.queue);
        let spawned = std::thread::Builder::new()
            .name("chiral-snapshot".into())
            .spawn(move || {
                let outcome = job.run();
                // A closed queue means the database is closing; the file, if written,
                // is picked up at the next open.
                let _ = queue.push(Submission::SnapshotDone(outcome), 0);
            });
        match spawned {
            Ok(thread) => {
                tracing::info!(lsn = upto_lsn, "snapshot started");
                let state = &mut self.snapshots;
                state.running = Some(thread);
                state.changes_since = 0;
                state.log_bytes_at_start = log_bytes(&self.log);
                state.waiting_current = std::mem::take(&mut state.waiting_next);
            }
            Err(error) => {
                let reason = format!("could not start the snapshot thread: {error}");
                self.answer_snapshot_waiters(&Err(CompactionError::Failed(reason)), true);
            }
        }
    }

    /// The snapshot thread finished: install its base, or report its failure.
    pub(super) fn install_snapshot(&mut self, outcome: Result<(Arc<Base>, Written), String>) {
        if let Some(thread) = self.snapshots.running.take() {
            let _ = thread.join();
        }
        // Its pre-images were taken: the copies stop recording at their next publish.
        self.writer.append(OverlayOp::SetCut(None));
        match outcome {
            Ok((base, written)) => {
                self.install_base(&base);
                tracing::info!(
                    lsn = base.lsn(),
                    keys = written.keys,
                    size_bytes = written.size_bytes,
                    "snapshot installed"
                );
                self.answer_snapshot_waiters(&Ok(info_of(&base)), false);
            }
            Err(reason) => {
                tracing::error!(%reason, "snapshot failed; the log keeps everything");
                self.answer_snapshot_waiters(&Err(CompactionError::Failed(reason)), false);
            }
        }
    }

    /// Swaps in `base` (published with the group), schedules the trim, and deletes
    /// the log segments and snapshots it makes redundant.
    fn install_base(&mut self, base: &Arc<Base>) {
        // Straight into the oplog, ahead of the group's own ops: those wait for the
        // log write, and if it fails they are dropped, but the base stands.
        self.snapshots.trim = Some(BaseSwap::begin(&mut self.writer, base));
        self.unpublished = true;
        self.snapshots.base = Some(Arc::clone(base));
        let Some(dir) = self.snapshots.dir.clone() else {
            return;
        };
        let deletions = wal::list_segments(&dir).map(|segments| {
            segments
                .into_iter()
                .filter(|(first, _)| *first <= base.lsn())
                .map(|(_, path)| path)
                .chain(
                    snapshot::list(&dir)
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|(lsn, _)| *lsn < base.lsn())
                        .map(|(_, path)| path),
                )
                .collect::<Vec<_>>()
        });
        // Failing to delete only costs disk space: the next open starts from the
        // newest snapshot and skips records it covers. The log's background thread
        // deletes them: unlinking a large segment can take milliseconds.
        match (deletions, &self.log) {
            (Ok(paths), Some(log)) => log.delete_in_background(paths),
            (Ok(paths), None) => wal::delete_files(paths),
            (Err(error), _) => tracing::warn!(%error, "could not list the log segments to delete"),
        }
    }

    /// Trims the next slice of shards after a new base (one step per loop turn).
    pub(super) fn trim_step(&mut self) {
        if let Some(swap) = self.snapshots.trim.take() {
            let shards = {
                let map = self
                    .writer
                    .enter()
                    .expect("the commit thread owns the write handle, so the map is alive");
                shards_within(&map, swap.next_shard(), TRIM_ENTRIES_PER_TURN)
            };
            self.snapshots.trim = swap.step(&mut self.writer, shards);
            self.unpublished = true;
        }
    }

    /// On a clean close: waits for a running snapshot, then snapshots whatever is
    /// newer than the last one, so the next open replays nothing.
    pub(super) fn snapshot_at_close(&mut self) {
        if let Some(thread) = self.snapshots.running.take() {
            let _ = thread.join();
        }
        let Some(dir) = self.snapshots.dir.clone() else {
            return;
        };
        if self.log.is_none() || self.failure.get().is_some() {
            return;
        }
        if !self.snapshots.on_close {
            self.answer_snapshot_waiters(&Err(CompactionError::Closed), true);
            return;
        }
        let newest = snapshot::list(&dir)
            .ok()
            .and_then(|found| found.last().map(|(lsn, _)| *lsn));
        if newest.is_some_and(|lsn| lsn >= self.last_lsn) || self.last_lsn == 0 {
            let outcome = match &self.snapshots.base {
                Some(base) if base.lsn() >= self.last_lsn => Ok(info_of(base)),
                _ => Err(CompactionError::Closed),
            };
            self.answer_snapshot_waiters(&outcome, true);
            return;
        }
        // Nothing writes any more and everything is published: the live map is the
        // state at `upto_lsn`, so it is written as it stands (no log replay).
        let upto_lsn = self.last_lsn;
        let hasher = self.staging.hasher();
        let outcome = self
            .log
            .as_mut()
            .expect("checked above")
            .cut(upto_lsn + 1)
            .map_err(|error| error.to_string())
            .and_then(|()| {
                tracing::info!(lsn = upto_lsn, "snapshot at close");
                let map = self
                    .writer
                    .enter()
                    .expect("the commit thread owns the write handle, so the map is alive");
                let (overlay, base) = build::collect(&map, hasher);
                let catalog = Arc::clone(map.catalog());
                drop(map);
                let entries = build::merge(overlay, base.as_deref())?;
                build::write_and_map(
                    &dir,
                    upto_lsn,
                    hasher,
                    entries,
                    &catalog,
                    self.snapshots.validate,
                )
            });
        match outcome {
            Ok((base, _)) => {
                self.install_base(&base);
                self.answer_snapshot_waiters(&Ok(info_of(&base)), true);
            }
            Err(reason) => {
                tracing::error!(%reason, "snapshot at close failed; the log keeps everything");
                self.answer_snapshot_waiters(&Err(CompactionError::Failed(reason)), true);
            }
        }
    }

    /// The log failed: no snapshot starts from now on, so the requests waiting for
    /// the next one are refused with `reason`. (A running snapshot still answers
    /// those waiting for it when it finishes.)
    pub(super) fn refuse_next_snapshots(&mut self, reason: &str) {
        for waiter in self.snapshots.waiting_next.drain(..) {
            waiter.send(Err(CompactionError::Failed(reason.to_owned())));
        }
    }

    /// Answers the writers waiting for the current snapshot (and, with `all`, those
    /// waiting for the next one too).
    fn answer_snapshot_waiters(
        &mut self,
        outcome: &Result<SnapshotInfo, CompactionError>,
        all: bool,
    ) {
        let state = &mut self.snapshots;
        let mut waiters = std::mem::take(&mut state.waiting_current);
        if all {
            waiters.append(&mut state.waiting_next);
        }
        for waiter in waiters {
            waiter.send(outcome.clone());
        }
    }
}

/// How many shards from `first` hold at most `entries` entries in all (at least one).
fn shards_within(map: &Overlay, first: usize, entries: usize) -> usize {
    let mut total = 0;
    let count = (first..SHARD_COUNT)
        .take_while(|&shard| {
            total += map.shard_len(shard);
            total <= entries
        })
        .count();
    count.max(1)
}

fn log_bytes(log: &Option<wal::Log>) -> u64 {
    log.as_ref().map_or(0, wal::Log::written_bytes)
}

fn info_of(base: &Base) -> SnapshotInfo {
    SnapshotInfo {
        lsn: base.lsn(),
        keys: base.len(),
        path: base.path().to_path_buf(),
        size_bytes: base.size_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Entry;
    use crate::hash::KeyHasher;
    use crate::value::Value;

    /// A trim step takes whole shards up to the entry budget, at least one, and
    /// never runs past the last shard.
    #[test]
    fn a_trim_step_takes_shards_up_to_its_entry_budget() {
        let (mut writer, reader) = left_right::new_from_empty::<Overlay, OverlayOp>(Overlay::new(
            KeyHasher::with_seed(1),
            None,
            false,
        ));
        for i in 0..20_000 {
            let key = format!("k{i}");
            writer.append(OverlayOp::Put(Entry::new(
                key.as_bytes(),
                Value::Int(i),
                1,
                None,
            )));
        }
        writer.publish();
        let map = reader.enter().unwrap();
        let lens = |first: usize, count: usize| -> usize {
            (first..first + count)
                .map(|shard| map.shard_len(shard))
                .sum()
        };
        for (first, budget) in [
            (0, 100),
            (10, 1_000),
            (500, 0),
            (SHARD_COUNT - 3, 1_000_000),
        ] {
            let count = shards_within(&map, first, budget);
            assert!(count >= 1 && first + count <= SHARD_COUNT);
            assert!(count == 1 || lens(first, count) <= budget);
            assert!(first + count == SHARD_COUNT || lens(first, count + 1) > budget);
        }
    }
}
