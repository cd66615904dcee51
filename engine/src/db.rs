//! The database handle: opening, writing, reading, subscribing, closing.
//!
//! [`Db::open`] owns a data directory (its lock), replays the log into the overlay
//! and starts logging; [`Db::open_in_memory`] keeps nothing on disk.
//!
//! `Db` is cheap to clone and shared by every writing thread. Writes travel through
//! the bounded commit queue to the commit thread; reads go through a per-thread
//! [`Reader`]. When the last `Db` clone is dropped (or [`Db::close`] is called), the
//! commit thread finishes what is queued and stops; readers keep reading the final
//! state.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;

use left_right::{ReadHandleFactory, WriteHandle};
use thiserror::Error;

use crate::ack::{self, AckReceiver};
use crate::clock::Clock;
use crate::commit::{self, CommitSlot, Committer, LogFailure, Submission};
use crate::dir::{self, DirLock, LockError};
use crate::error::WriteError;
use crate::feed::{Feed, Subscription, Watch, WatchEvent};
use crate::hash::KeyHasher;
use crate::op::{Ack, Batch, Commit, Op, Reply};
use crate::options::{Limits, Options};
use crate::overlay::{Overlay, OverlayOp};
use crate::queue::{Queue, TryPushError};
use crate::reader::Reader;
use crate::reclaim::{LazyFreeStats, Reclaimer, ReclaimerStats, ReclaimerThread};
use crate::snapshot::{self, Base, CompactionError, SnapshotError, SnapshotInfo};
use crate::sync::{Mutex, lock};
use crate::wal::Log;
use crate::wal::io::{background_backend, open_backend};
use crate::wal::recover::{self, RecoveryError};

/// Why a database could not be opened.
#[derive(Debug, Error)]
pub enum OpenError {
    /// An option is out of range.
    #[error("invalid option: {0}")]
    InvalidOption(&'static str),
    /// The commit thread could not be started.
    #[error("could not start the commit thread: {0}")]
    Spawn(std::io::Error),
    /// Another process owns the data directory.
    #[error(
        "the data directory is locked by {} (lock file {path}); open it read-only to read it meanwhile",
        match owner_pid { Some(pid) => format!("process {pid}"), None => "another process".to_string() }
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// The owner's pid, as its lock file says.
        owner_pid: Option<u32>,
    },
    /// A file of the data directory could not be created, opened or written.
    #[error("I/O error on {path}: {error}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error (in the message, so not also a `source`).
        error: std::io::Error,
    },
    /// The log could not be read back.
    #[error(transparent)]
    Recovery(#[from] RecoveryError),
    /// The newest snapshot could not be opened.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
}

/// What a write's acknowledgement says.
#[derive(Debug, Clone, PartialEq)]
pub enum Receipt {
    /// `Ack::Eventual`: the batch is queued and will commit (or be refused) shortly.
    Queued,
    /// The batch committed and is visible.
    Committed(Commit),
}

impl Receipt {
    /// The commit, if the writer waited for it.
    pub fn commit(self) -> Option<Commit> {
        match self {
            Receipt::Queued => None,
            Receipt::Committed(commit) => Some(commit),
        }
    }
}

/// What the commit thread answers a waiting writer.
type Outcome = Result<Commit, WriteError>;

/// The answer to a write queued by [`Db::submit`]: a future of its [`Receipt`].
#[must_use = "the write is queued either way; await this to learn its outcome"]
pub struct PendingWrite {
    pending: Pending,
    /// Set for a batch [`Db::try_submit_deferred`] queued without committing: what
    /// the first poll does (and dropping the future unpolled, so that nothing
    /// queued is left unseen).
    on_poll: Option<(Deferral, Arc<Inner>)>,
}

/// What the first poll of a deferred write does, with whatever else is queued by
/// then (what `Db::submit` does at once).
#[derive(Clone, Copy)]
enum Deferral {
    /// A `Visible` batch: commit what is queued, if nobody else is committing.
    Commit,
    /// A `Durable` batch: wake the commit thread, whose turn syncs the log.
    WakeCommitThread,
}

enum Pending {
    /// Answered before queueing (an early refusal, or `Ack::Eventual`); `None` once
    /// taken.
    Ready(Option<Result<Receipt, WriteError>>),
    /// Queued; the commit thread answers here.
    Waiting(AckReceiver<Outcome>),
}

/// How [`Db::enqueue`] queues a batch.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Enqueue {
    /// Waiting for room; a `Visible` batch is committed at once (combining).
    Wait,
    /// Giving the batch back if there is no room; committed at once likewise.
    Try,
    /// As `Try`, but a `Visible` or `Durable` batch is left queued for
    /// [`PendingWrite`]'s first poll to commit or to wake the commit thread for.
    TryDeferred,
}

/// A batch queued (with the receiver of its answer, unless `Eventual`) or refused.
type Queued = Result<Option<AckReceiver<Outcome>>, WriteError>;

impl PendingWrite {
    fn of(queued: Queued, on_poll: Option<(Deferral, Arc<Inner>)>) -> Self {
        let pending = match queued {
            Ok(Some(receiver)) => Pending::Waiting(receiver),
            Ok(None) => Pending::Ready(Some(Ok(Receipt::Queued))),
            Err(error) => Pending::Ready(Some(Err(error))),
        };
        PendingWrite { pending, on_poll }
    }

    /// Has what is queued, this batch among it, committed if the batch was
    /// deferred: by this thread if nobody else is committing (see
    /// [`commit::combine`]), or by the commit thread.
    fn commit_deferred(&mut self) {
        match self.on_poll.take() {
            None => {}
            Some((Deferral::Commit, inner)) => {
                commit::combine::combine(&inner.commit, &inner.queue);
            }
            Some((Deferral::WakeCommitThread, inner)) => inner.queue.wake_consumer_if_waiting(),
        }
    }
}

impl Drop for PendingWrite {
    fn drop(&mut self) {
        self.commit_deferred();
    }
}

impl Future for PendingWrite {
    type Output = Result<Receipt, WriteError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.commit_deferred();
        match &mut this.pending {
            Pending::Ready(answer) => Poll::Ready(
                answer
                    .take()
                    .expect("a PendingWrite is not polled after it completed"),
            ),
            Pending::Waiting(receiver) => receiver
                .poll(cx)
                .map(|outcome| outcome.ok_or(WriteError::Closed)?.map(Receipt::Committed)),
        }
    }
}

impl std::fmt::Debug for PendingWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingWrite")
    }
}

/// State shared by the database handles, readers and the commit thread.
pub(crate) struct Shared {
    pub(crate) clock: Arc<dyn Clock>,
    /// The write handle once the commit thread has stopped, kept so readers can go on
    /// reading the final state.
    parked_writer: Mutex<Option<WriteHandle<Overlay, OverlayOp>>>,
    /// Joined when the last reader or database handle goes: declared after
    /// `parked_writer`, whose overlay copies hold the reclaimer, so it drops after it.
    _reclaimer_thread: ReclaimerThread,
}

struct Inner {
    shared: Arc<Shared>,
    /// Set once the log fails: writes are refused from then on.
    failure: LogFailure,
    read_only: bool,
    /// The data directory's lock, held while the database is open.
    _lock: Option<DirLock>,
    /// Which history this is ([`Db::dataset_id`]).
    dataset_id: u64,
    queue: Arc<Queue<Submission>>,
    factory: ReadHandleFactory<Overlay>,
    feed: Arc<Feed>,
    limits: Limits,
    /// Rations spinning among writers waiting for `Visible` acks.
    spin_gate: ack::SpinGate,
    /// The committer, taken by the commit thread and by combining writers.
    commit: Arc<CommitSlot>,
    /// Whether `Visible` writers combine ([`Options::combine_writes`]).
    combine_writes: bool,
    /// The commit thread, which returns the write handle when it stops.
    committer: Mutex<Option<JoinHandle<WriteHandle<Overlay, OverlayOp>>>>,
    /// The counts of values freed in the background.
    lazy_free: ReclaimerStats,
}

/// An open database. Clone it to share it between threads.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

impl Db {
    /// Opens an empty database that lives in memory.
    pub fn open_in_memory(options: Options) -> Result<Db, OpenError> {
        let parts = Parts::new(&options, KeyHasher::random(), None, None)?;
        parts.start(options, None, crate::hash::random_u64())
    }

    /// Opens the database in `dir`, creating the directory if needed, and recovers
    /// what it holds: the newest snapshot is mapped (its keys are read in place,
    /// nothing is loaded) and the log after it replayed, a torn tail cut off. The directory belongs
    /// to this process until the database is closed; a second opener gets
    /// [`OpenError::Locked`] unless it opens read-only ([`Options::read_only`]).
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<Db, OpenError> {
        let dir = dir.as_ref();
        let io_error = |error| OpenError::Io {
            path: dir.to_path_buf(),
            error,
        };
        let lock = if options.read_only {
            None
        } else {
            std::fs::create_dir_all(dir).map_err(io_error)?;
            Some(dir::lock(dir).map_err(|error| match error {
                LockError::Held { path, owner_pid } => OpenError::Locked { path, owner_pid },
                LockError::Io { path, source } => OpenError::Io {
                    path,
                    error: source,
                },
            })?)
        };
        if options.read_only && !dir.is_dir() {
            return Err(io_error(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such data directory",
            )));
        }
        let dataset_id =
            dir::dataset_id(dir, options.read_only).map_err(|error| OpenError::Io {
                path: dir.join(dir::DATASET_FILE),
                error,
            })?;
        let base = open_newest_snapshot(dir, &options)?;
        let hasher = base
            .as_ref()
            .map_or_else(KeyHasher::random, |base| KeyHasher::with_seed(base.seed()));
        let on_disk = (!options.read_only).then(|| dir.to_path_buf());
        let mut parts = Parts::new(&options, hasher, base.clone(), on_disk)?;
        let committer = &mut parts.committer;
        if let Some(base) = &base {
            committer.start_from(base)?;
        }
        let recovered = recover::recover(
            dir,
            committer.last_lsn(),
            !options.read_only,
            options.repair,
            |lsn, payload| committer.replay(lsn, payload),
        )?;
        committer.publish_replayed();
        if !options.read_only {
            let backend =
                open_backend(options.io_backend, options.faults.as_ref()).map_err(io_error)?;
            let log = Log::open(
                dir,
                backend,
                background_backend(options.faults.as_ref()),
                recovered.resume,
                committer.last_lsn() + 1,
                options.log_segment_bytes,
                options.fsync,
            )
            .map_err(io_error)?;
            committer.attach_log(log);
        }
        parts.start(options, lock, dataset_id)
    }

    /// How many large values (collections of at least 1,024 items) and flushed
    /// tables were handed to the background thread that frees them, and how many it
    /// freed: a delete, overwrite or flush of a large value answers without waiting
    /// for its memory to be freed (Redis's lazyfree).
    pub fn lazy_free_stats(&self) -> LazyFreeStats {
        self.inner.lazy_free.read()
    }

    /// The id of this database's history: the versions (LSNs) of two databases mean
    /// the same writes only if their ids are equal. On disk it is drawn at random
    /// when the directory is first used and kept in its `DATASET` file; in memory
    /// (and for a read-only opening of a directory without one) it is drawn anew at
    /// each opening. A cache that outlives a server restart compares it before it
    /// trusts the versions it holds. (A directory restored from an older copy keeps
    /// its id with an older history: replace the `DATASET` file when restoring.)
    pub fn dataset_id(&self) -> u64 {
        self.inner.dataset_id
    }

    /// A new reader for the calling thread.
    pub fn reader(&self) -> Reader {
        Reader::new(self.inner.factory.handle(), Arc::clone(&self.inner.shared))
    }

    /// Applies `batch` atomically; returns once `ack` holds.
    ///
    /// With `Ack::Visible` the answer carries the batch's LSN and one reply per
    /// operation, and every read that starts afterwards sees the batch; with
    /// `Ack::Durable`, the batch is also on disk (fdatasync'd) when the call returns. Refusals
    /// (a failed precondition; with `OnError::Abort`, a refused operation) apply
    /// nothing. With `Ack::Eventual` the call returns once the batch is queued and
    /// its refusals are not reported. Either waits while the commit queue is full
    /// ([`Options::commit_queue_bytes`]).
    pub fn write(&self, batch: Batch, ack: Ack) -> Result<Receipt, WriteError> {
        let queued = match self.enqueue(batch, ack, Enqueue::Wait) {
            Ok(queued) => queued,
            Err(_) => unreachable!("a waiting enqueue never gives the batch back"),
        };
        // A `Durable` answer waits for an fsync: far too long to spin for.
        let spin = (ack != Ack::Durable).then_some(&self.inner.spin_gate);
        match queued? {
            None => Ok(Receipt::Queued),
            Some(receiver) => receiver
                .wait(spin)
                .ok_or(WriteError::Closed)?
                .map(Receipt::Committed),
        }
    }

    /// Queues `batch` like [`Db::write`] but returns at once with a future of the
    /// answer, for async callers: awaiting it parks the task, not the thread. The
    /// call itself still waits while the commit queue is full (backpressure), which
    /// is brief: the commit thread drains the queue whole. A batch refused before it
    /// is queued (read-only, failed log, too many operations) gives a future that is
    /// ready with that error. Dropping the future does not cancel the write.
    pub fn submit(&self, batch: Batch, ack: Ack) -> PendingWrite {
        match self.enqueue(batch, ack, Enqueue::Wait) {
            Ok(queued) => PendingWrite::of(queued, None),
            Err(_) => unreachable!("a waiting enqueue never gives the batch back"),
        }
    }

    /// [`Db::submit`] that never waits: when the commit queue has no room for the
    /// batch it comes back as `Err`, for a caller that must not block its thread (an
    /// async server moves the wait elsewhere, then calls [`Db::submit`]).
    pub fn try_submit(&self, batch: Batch, ack: Ack) -> Result<PendingWrite, Batch> {
        self.enqueue(batch, ack, Enqueue::Try)
            .map(|queued| PendingWrite::of(queued, None))
    }

    /// [`Db::try_submit`] that leaves a `Visible` or `Durable` batch queued,
    /// uncommitted, until the future is first polled (or dropped). A caller that
    /// lets other writers queue theirs in between (an async server yielding to its
    /// other connections before it awaits) has them committed as one group: one
    /// publish, and one log write (and fsync) instead of one each.
    pub fn try_submit_deferred(&self, batch: Batch, ack: Ack) -> Result<PendingWrite, Batch> {
        let deferral = self.deferral(ack);
        self.enqueue(batch, ack, Enqueue::TryDeferred)
            .map(|queued| {
                let on_poll = match queued {
                    Ok(Some(_)) => deferral.map(|deferral| (deferral, Arc::clone(&self.inner))),
                    _ => None,
                };
                PendingWrite::of(queued, on_poll)
            })
    }

    /// Checks `batch` against what refuses it before it is queued, then queues it,
    /// waiting for room if `wait` (else giving it back when there is none). The
    /// outcome: the receiver of its answer unless `ack` is `Eventual`, or why it was
    /// refused.
    fn enqueue(&self, batch: Batch, ack: Ack, how: Enqueue) -> Result<Queued, Batch> {
        let wait = how == Enqueue::Wait;
        if let Err(error) = self.admit(&batch) {
            return Ok(Err(error));
        }
        let weight = batch.size_bytes();
        let (sender, receiver) = match ack {
            Ack::Eventual => (None, None),
            Ack::Visible | Ack::Durable => {
                let (sender, receiver) = ack::channel();
                (Some(sender), Some(receiver))
            }
        };
        let submission = Submission::Write {
            batch,
            ack: sender,
            durable: ack == Ack::Durable,
        };
        let queue = &self.inner.queue;
        let combine = self.combines(ack);
        let quietly = combine || (how == Enqueue::TryDeferred && self.deferral(ack).is_some());
        let pushed = if quietly {
            queue.push_quietly(submission, weight, wait)
        } else if wait {
            queue.push(submission, weight).map_err(TryPushError::Closed)
        } else {
            queue.try_push(submission, weight)
        };
        match pushed {
            Ok(()) => {
                if combine && how != Enqueue::TryDeferred {
                    commit::combine::combine(&self.inner.commit, queue);
                }
                Ok(Ok(receiver))
            }
            Err(TryPushError::Closed(_)) => Ok(Err(WriteError::Closed)),
            Err(TryPushError::Full(Submission::Write { batch, .. })) => Err(batch),
            Err(TryPushError::Full(_)) => unreachable!("a write was pushed"),
        }
    }

    /// Whether a batch acknowledged with `ack` is committed by its writer (flat
    /// combining) rather than handed to the commit thread.
    fn combines(&self, ack: Ack) -> bool {
        ack == Ack::Visible && self.inner.combine_writes
    }

    /// What the first poll of a batch acknowledged with `ack` does when
    /// [`Db::try_submit_deferred`] leaves it queued; `None` if it is not left (an
    /// `Eventual` batch, or a `Visible` one when writers do not combine). The one
    /// place that decides both that the batch is queued quietly and who commits it.
    fn deferral(&self, ack: Ack) -> Option<Deferral> {
        match ack {
            Ack::Durable => Some(Deferral::WakeCommitThread),
            Ack::Visible if self.combines(ack) => Some(Deferral::Commit),
            _ => None,
        }
    }

    /// Why `batch` is refused before it is queued, if it is.
    fn admit(&self, batch: &Batch) -> Result<(), WriteError> {
        if self.inner.read_only {
            return Err(WriteError::ReadOnly);
        }
        if let Some(reason) = self.inner.failure.get() {
            return Err(WriteError::LogFailed(reason.clone()));
        }
        let ops = batch.ops.len() + batch.captured_keys();
        if ops > self.inner.limits.max_batch_ops {
            return Err(WriteError::TooManyOps {
                ops,
                limit: self.inner.limits.max_batch_ops,
            });
        }
        Ok(())
    }

    /// Applies one operation and waits until it is visible; returns its reply.
    pub fn apply(&self, op: Op) -> Result<Reply, WriteError> {
        let receipt = self.write(Batch::of(op), Ack::Visible)?;
        let mut commit = receipt
            .commit()
            .expect("a visible write answers with its commit");
        commit
            .replies
            .pop()
            .expect("one reply per operation")
            .map_err(|error| WriteError::Op { index: 0, error })
    }

    /// Sets `key` to `value` (clearing any expiry) and waits until it is visible.
    pub fn set(&self, key: &[u8], value: &[u8]) -> Result<(), WriteError> {
        self.apply(Op::set(key, value)).map(drop)
    }

    /// Deletes `key` and waits until it is visible; whether it existed.
    pub fn delete(&self, key: &[u8]) -> Result<bool, WriteError> {
        Ok(self.apply(Op::delete(key))? == Reply::Int(1))
    }

    /// Takes a snapshot now and waits for it: the whole state is written to a new
    /// snapshot file in the background (writes go on meanwhile), which then becomes
    /// the base that reads are served from, and the log it covers is deleted.
    /// Snapshots are also taken on their own as the log grows
    /// ([`Options::snapshot_after_changes`], [`Options::snapshot_after_log_bytes`])
    /// and at a clean close.
    pub fn snapshot(&self) -> Result<SnapshotInfo, CompactionError> {
        if self.inner.read_only {
            return Err(CompactionError::ReadOnly);
        }
        let (sender, receiver) = ack::channel();
        self.inner
            .queue
            .push(Submission::Snapshot(sender), 0)
            .map_err(|_| CompactionError::Closed)?;
        // A snapshot takes far too long to spin for.
        receiver.wait(None).ok_or(CompactionError::Closed)?
    }

    /// A stream of every batch committed from now on.
    pub fn subscribe(&self) -> Subscription {
        self.inner.feed.subscribe()
    }

    /// Calls `callback` on a thread of its own for every change to a key starting with
    /// `prefix` (and every flush), in commit order. Stops when the returned [`Watch`]
    /// is dropped. A callback that falls far behind is told [`WatchEvent::Lagged`].
    pub fn watch<F>(&self, prefix: &[u8], callback: F) -> std::io::Result<Watch>
    where
        F: FnMut(WatchEvent<'_>) + Send + 'static,
    {
        let feed = Arc::clone(&self.inner.feed);
        Watch::spawn(move || feed.subscribe(), prefix.to_vec(), callback)
    }

    /// Stops taking writes, commits everything already queued, and stops the commit
    /// thread. Readers keep reading the final state. Called on drop of the last clone.
    pub fn close(&self) {
        self.inner.close();
    }
}

/// Maps the newest snapshot in `dir`, if there is one; removes the temporary file
/// of a snapshot a crash interrupted.
fn open_newest_snapshot(dir: &Path, options: &Options) -> Result<Option<Arc<Base>>, OpenError> {
    let io_error = |error| OpenError::Io {
        path: dir.to_path_buf(),
        error,
    };
    if !options.read_only {
        for entry in std::fs::read_dir(dir).map_err(io_error)? {
            let path = entry.map_err(io_error)?.path();
            if path.extension().is_some_and(|ext| ext == "tmp") {
                tracing::warn!(path = %path.display(), "removing an unfinished snapshot");
                std::fs::remove_file(&path).map_err(io_error)?;
            }
        }
    }
    let Some((_, path)) = snapshot::list(dir).map_err(io_error)?.pop() else {
        return Ok(None);
    };
    let started = std::time::Instant::now();
    let base = snapshot::open_converting(&path, options.validate_snapshots, options.read_only)?;
    tracing::info!(
        path = %path.display(),
        lsn = base.lsn(),
        keys = base.len(),
        size_bytes = base.size_bytes(),
        seconds = started.elapsed().as_secs_f64(),
        "snapshot mapped"
    );
    Ok(Some(Arc::new(base)))
}

/// A database assembled but not started: recovery replays into its committer.
struct Parts {
    committer: Committer,
    queue: Arc<Queue<Submission>>,
    factory: ReadHandleFactory<Overlay>,
    feed: Arc<Feed>,
    failure: LogFailure,
    lazy_free: ReclaimerStats,
    reclaimer_thread: ReclaimerThread,
}

impl Parts {
    fn new(
        options: &Options,
        hasher: KeyHasher,
        base: Option<Arc<Base>>,
        dir: Option<PathBuf>,
    ) -> Result<Parts, OpenError> {
        if options.commit_queue_bytes == 0 {
            return Err(OpenError::InvalidOption(
                "commit_queue_bytes must be at least 1",
            ));
        }
        if options.feed_queue_batches == 0 {
            return Err(OpenError::InvalidOption(
                "feed_queue_batches must be at least 1",
            ));
        }
        if options.log_segment_bytes == 0 {
            return Err(OpenError::InvalidOption(
                "log_segment_bytes must be at least 1",
            ));
        }
        let on_disk = dir.is_some() || base.is_some();
        let (reclaimer, lazy_free, reclaimer_thread) =
            Reclaimer::start().map_err(OpenError::Spawn)?;
        let overlay = Overlay::new(hasher, base, on_disk).reclaiming(reclaimer);
        let (writer, reader) = left_right::new_from_empty::<Overlay, OverlayOp>(overlay);
        let queue = Arc::new(Queue::new(options.commit_queue_bytes));
        let feed = Arc::new(Feed::new(options.feed_queue_batches));
        let failure = LogFailure::default();
        let committer = Committer::new(
            writer,
            hasher,
            Arc::clone(&queue),
            Arc::clone(&feed),
            Arc::clone(&failure),
            dir,
            options,
        );
        Ok(Parts {
            committer,
            queue,
            factory: reader.factory(),
            feed,
            failure,
            lazy_free,
            reclaimer_thread,
        })
    }

    /// Starts the commit thread and hands out the database.
    fn start(
        self,
        options: Options,
        lock: Option<DirLock>,
        dataset_id: u64,
    ) -> Result<Db, OpenError> {
        let commit = Arc::new(CommitSlot::new(self.committer));
        let thread = {
            let (commit, queue) = (Arc::clone(&commit), Arc::clone(&self.queue));
            std::thread::Builder::new()
                .name("chiral-commit".into())
                .spawn(move || commit::run(&commit, &queue))
                .map_err(OpenError::Spawn)?
        };
        Ok(Db {
            inner: Arc::new(Inner {
                shared: Arc::new(Shared {
                    clock: options.clock,
                    parked_writer: Mutex::new(None),
                    _reclaimer_thread: self.reclaimer_thread,
                }),
                failure: self.failure,
                read_only: options.read_only,
                _lock: lock,
                dataset_id,
                queue: self.queue,
                factory: self.factory,
                feed: self.feed,
                limits: options.limits,
                spin_gate: ack::SpinGate::for_this_machine(),
                commit,
                combine_writes: options.combine_writes,
                committer: Mutex::new(Some(thread)),
                lazy_free: self.lazy_free,
            }),
        })
    }
}

impl Inner {
    fn close(&self) {
        self.queue.close();
        let thread = lock(&self.committer).take();
        if let Some(thread) = thread {
            match thread.join() {
                Ok(writer) => *lock(&self.shared.parked_writer) = Some(writer),
                Err(_) => tracing::error!("the commit thread panicked"),
            }
        }
        self.feed.close();
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.close();
    }
}
