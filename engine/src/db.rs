//! The database handle: opening, writing, reading, subscribing, closing.
//!
//! `Db` is cheap to clone and shared by every writing thread. Writes travel through
//! the bounded commit queue to the commit thread; reads go through a per-thread
//! [`Reader`]. When the last `Db` clone is dropped (or [`Db::close`] is called), the
//! commit thread finishes what is queued and stops; readers keep reading the final
//! state.

use std::sync::Arc;
use std::thread::JoinHandle;

use left_right::{ReadHandleFactory, WriteHandle};
use thiserror::Error;

use crate::ack;
use crate::clock::Clock;
use crate::commit::{Committer, Submission};
use crate::error::WriteError;
use crate::feed::{Feed, Subscription, Watch, WatchEvent};
use crate::op::{Ack, Batch, Commit, Op, Reply};
use crate::options::{Limits, Options};
use crate::overlay::{Overlay, OverlayOp};
use crate::queue::Queue;
use crate::reader::Reader;
use crate::sync::{Mutex, lock};

/// Why a database could not be opened.
#[derive(Debug, Error)]
pub enum OpenError {
    /// An option is out of range.
    #[error("invalid option: {0}")]
    InvalidOption(&'static str),
    /// The commit thread could not be started.
    #[error("could not start the commit thread: {0}")]
    Spawn(#[source] std::io::Error),
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

/// State shared by the database handles, readers and the commit thread.
pub(crate) struct Shared {
    pub(crate) clock: Arc<dyn Clock>,
    /// The write handle once the commit thread has stopped, kept so readers can go on
    /// reading the final state.
    parked_writer: Mutex<Option<WriteHandle<Overlay, OverlayOp>>>,
}

struct Inner {
    shared: Arc<Shared>,
    queue: Arc<Queue<Submission>>,
    factory: ReadHandleFactory<Overlay>,
    feed: Arc<Feed>,
    limits: Limits,
    /// Rations spinning among writers waiting for `Visible` acks.
    spin_gate: ack::SpinGate,
    committer: Mutex<Option<JoinHandle<WriteHandle<Overlay, OverlayOp>>>>,
}

/// An open database. Clone it to share it between threads.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

impl Db {
    /// Opens an empty database that lives in memory.
    pub fn open_in_memory(options: Options) -> Result<Db, OpenError> {
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
        let hasher = ahash::RandomState::new();
        let (writer, reader) =
            left_right::new_from_empty::<Overlay, OverlayOp>(Overlay::new(hasher.clone()));
        let queue = Arc::new(Queue::new(options.commit_queue_bytes));
        let feed = Arc::new(Feed::new(options.feed_queue_batches));
        let committer = Committer::new(
            writer,
            hasher,
            Arc::clone(&queue),
            Arc::clone(&feed),
            &options,
        );
        let thread = std::thread::Builder::new()
            .name("chiral-commit".into())
            .spawn(move || committer.run())
            .map_err(OpenError::Spawn)?;
        Ok(Db {
            inner: Arc::new(Inner {
                shared: Arc::new(Shared {
                    clock: options.clock,
                    parked_writer: Mutex::new(None),
                }),
                queue,
                factory: reader.factory(),
                feed,
                limits: options.limits,
                spin_gate: ack::SpinGate::for_this_machine(),
                committer: Mutex::new(Some(thread)),
            }),
        })
    }

    /// A new reader for the calling thread.
    pub fn reader(&self) -> Reader {
        Reader::new(self.inner.factory.handle(), Arc::clone(&self.inner.shared))
    }

    /// Applies `batch` atomically; returns once `ack` holds.
    ///
    /// With `Ack::Visible` the answer carries the batch's LSN and one reply per
    /// operation, and every read that starts afterwards sees the batch. Refusals
    /// (a failed precondition; with `OnError::Abort`, a refused operation) apply
    /// nothing. With `Ack::Eventual` the call returns once the batch is queued and
    /// its refusals are not reported. Either waits while the commit queue is full
    /// ([`Options::commit_queue_bytes`]).
    pub fn write(&self, batch: Batch, ack: Ack) -> Result<Receipt, WriteError> {
        if batch.ops.len() > self.inner.limits.max_batch_ops {
            return Err(WriteError::TooManyOps {
                ops: batch.ops.len(),
                limit: self.inner.limits.max_batch_ops,
            });
        }
        let weight = batch.size_bytes();
        match ack {
            Ack::Eventual => {
                let submission = Submission { batch, ack: None };
                self.inner
                    .queue
                    .push(submission, weight)
                    .map_err(|_| WriteError::Closed)?;
                Ok(Receipt::Queued)
            }
            Ack::Visible => {
                let (sender, receiver) = ack::channel();
                let submission = Submission {
                    batch,
                    ack: Some(sender),
                };
                self.inner
                    .queue
                    .push(submission, weight)
                    .map_err(|_| WriteError::Closed)?;
                let outcome = receiver
                    .wait(&self.inner.spin_gate)
                    .ok_or(WriteError::Closed)?;
                outcome.map(Receipt::Committed)
            }
        }
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
