//! The change feed: every committed batch, in commit order, to whoever subscribed.
//!
//! The commit thread hands each committed batch to every subscriber's bounded queue
//! without waiting. A subscriber whose queue is full has fallen behind: it is cut off
//! and, after reading what was already queued, told it lagged, so it can resync from
//! a read of the current state. The commit thread never slows down for a subscriber.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use thiserror::Error;

use crate::entry::{Lsn, Record};
use crate::queue::{Drained, Queue, TryPushError};
use crate::sync::{AtomicBool, AtomicUsize, Mutex, Ordering, lock};

/// One key's change in a committed batch.
#[derive(Debug, Clone)]
pub enum Change {
    /// The key was written: its new record.
    Put(Record),
    /// The key was deleted (or expired).
    Delete(Box<[u8]>),
    /// Every key was deleted. Comes before the batch's other changes.
    Flush,
}

impl Change {
    /// The key changed; `None` for a flush.
    pub fn key(&self) -> Option<&[u8]> {
        match self {
            Change::Put(record) => Some(record.key()),
            Change::Delete(key) => Some(key),
            Change::Flush => None,
        }
    }
}

/// A committed batch as the feed delivers it.
#[derive(Debug)]
pub struct ChangeBatch {
    /// The batch's LSN.
    pub lsn: Lsn,
    /// Who wrote it, if the writer said ([`crate::Batch::origin`]); `None` for
    /// expiries and recovery.
    pub origin: Option<u64>,
    /// What it changed, one entry per key.
    pub changes: Vec<Change>,
}

/// Why a subscription ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FeedError {
    /// The subscriber fell behind by more than its queue holds and was cut off. Read
    /// the current state and subscribe again.
    #[error("the subscriber fell behind the change feed and was cut off")]
    Lagged,
    /// The database closed.
    #[error("the database is closed")]
    Closed,
}

struct Subscriber {
    queue: Queue<Arc<ChangeBatch>>,
    /// Set before the queue is closed for lagging; read after seeing it closed.
    lagged: AtomicBool,
}

/// The subscribers of one database.
pub(crate) struct Feed {
    subscribers: Mutex<Vec<Arc<Subscriber>>>,
    /// How many subscribers there are, so the commit thread can skip building
    /// change batches nobody reads.
    count: AtomicUsize,
    queue_batches: usize,
    closed: AtomicBool,
}

impl Feed {
    pub(crate) fn new(queue_batches: usize) -> Self {
        Feed {
            subscribers: Mutex::new(Vec::new()),
            count: AtomicUsize::new(0),
            queue_batches,
            closed: AtomicBool::new(false),
        }
    }

    pub(crate) fn subscribe(&self) -> Subscription {
        let subscriber = Arc::new(Subscriber {
            queue: Queue::new(self.queue_batches),
            lagged: AtomicBool::new(false),
        });
        let mut subscribers = lock(&self.subscribers);
        if self.closed.load(Ordering::Acquire) {
            subscriber.queue.close();
        } else {
            subscribers.push(Arc::clone(&subscriber));
            self.count.store(subscribers.len(), Ordering::Release);
        }
        Subscription { subscriber }
    }

    /// Whether anyone listens.
    pub(crate) fn has_subscribers(&self) -> bool {
        self.count.load(Ordering::Acquire) > 0
    }

    /// Hands `batches` to every subscriber, cutting off the ones that are full.
    pub(crate) fn publish(&self, batches: &mut Vec<Arc<ChangeBatch>>) {
        if batches.is_empty() {
            return;
        }
        let mut subscribers = lock(&self.subscribers);
        subscribers.retain(|subscriber| {
            for batch in batches.iter() {
                match subscriber.queue.try_push(Arc::clone(batch), 1) {
                    Ok(()) => {}
                    Err(TryPushError::Full(_)) => {
                        tracing::debug!("change-feed subscriber lagged; cutting it off");
                        subscriber.lagged.store(true, Ordering::Release);
                        subscriber.queue.close();
                        return false;
                    }
                    Err(TryPushError::Closed(_)) => return false,
                }
            }
            true
        });
        self.count.store(subscribers.len(), Ordering::Release);
        batches.clear();
    }

    /// Ends every subscription (after it reads what is queued) and refuses new ones.
    pub(crate) fn close(&self) {
        let mut subscribers = lock(&self.subscribers);
        self.closed.store(true, Ordering::Release);
        for subscriber in subscribers.drain(..) {
            subscriber.queue.close();
        }
        self.count.store(0, Ordering::Release);
    }
}

/// A stream of committed batches, from [`crate::Db::subscribe`]. Dropping it
/// unsubscribes.
pub struct Subscription {
    subscriber: Arc<Subscriber>,
}

impl Subscription {
    /// The next committed batch, waiting for one.
    pub fn recv(&self) -> Result<Arc<ChangeBatch>, FeedError> {
        self.subscriber
            .queue
            .pop(None)
            .map_err(|_| self.end_reason())
    }

    /// The next committed batch, waiting at most `timeout`; `Ok(None)` on timeout.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Arc<ChangeBatch>>, FeedError> {
        match self.subscriber.queue.pop(Some(timeout)) {
            Ok(batch) => Ok(Some(batch)),
            Err(Drained::TimedOut | Drained::Items) => Ok(None),
            Err(Drained::Closed) => Err(self.end_reason()),
        }
    }

    fn end_reason(&self) -> FeedError {
        if self.subscriber.lagged.load(Ordering::Acquire) {
            FeedError::Lagged
        } else {
            FeedError::Closed
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // The commit thread drops closed subscribers at its next publish.
        self.subscriber.queue.close();
    }
}

/// What a watch callback is told.
#[derive(Debug)]
pub enum WatchEvent<'a> {
    /// A key under the watched prefix changed (or all keys were flushed) in the batch
    /// committed at `lsn`.
    Change {
        /// The batch's LSN.
        lsn: Lsn,
        /// The change.
        change: &'a Change,
    },
    /// The watcher fell behind and missed changes; it has resubscribed and goes on
    /// from the next commit. Re-read what you track.
    Lagged,
}

/// A running watch, from [`crate::Db::watch`]. Dropping it stops the callback (and
/// waits for a call in flight to return).
pub struct Watch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// How often a watch thread looks at its stop flag while no change arrives.
const WATCH_POLL: Duration = Duration::from_millis(20);

impl Watch {
    pub(crate) fn spawn<F>(
        subscribe: impl Fn() -> Subscription + Send + 'static,
        prefix: Vec<u8>,
        mut callback: F,
    ) -> std::io::Result<Watch>
    where
        F: FnMut(WatchEvent<'_>) + Send + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let mut subscription = subscribe();
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("chiral-watch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Acquire) {
                        match subscription.recv_timeout(WATCH_POLL) {
                            Ok(Some(batch)) => {
                                for change in &batch.changes {
                                    if change.key().is_none_or(|key| key.starts_with(&prefix)) {
                                        callback(WatchEvent::Change {
                                            lsn: batch.lsn,
                                            change,
                                        });
                                    }
                                }
                            }
                            Ok(None) => {}
                            Err(FeedError::Lagged) => {
                                subscription = subscribe();
                                callback(WatchEvent::Lagged);
                            }
                            Err(FeedError::Closed) => return,
                        }
                    }
                })?
        };
        Ok(Watch {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            // Dropping a watch from inside its own callback must not wait for itself.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}
