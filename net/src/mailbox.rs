//! Every connection's queue of messages it did not ask for: client-tracking
//! invalidations and values (its own, or another client's redirected to it), and
//! Pub/Sub messages.
//!
//! Each connection has one mailbox for its whole life. Producers (the tracking feed
//! thread, PUBLISH) hold an [`Outlet`] to it and never wait: when the queue is full
//! the outlet marks the mailbox overflowed and drops the message, and the connection
//! acts on that (a tracking client flushes its cache, a subscriber is disconnected, as
//! Redis does past its Pub/Sub output limit).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use chiral::Lsn;
use tokio::sync::mpsc;

/// Messages queued for one connection before it is overflowed.
pub(crate) const MAILBOX_MESSAGES: usize = 4096;

/// A message for a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Push {
    /// These keys changed (`None`: drop everything cached: a flush, or the feed fell
    /// behind).
    Invalidate(Option<Vec<Box<[u8]>>>),
    /// CHIRAL.SYNC: every change visible when the sync was asked for has been
    /// pushed before this.
    Synced(Bytes),
    /// VALUES mode: a tracked key's new value (`None`: deleted) at `version`.
    Value {
        /// The key.
        key: Box<[u8]>,
        /// Its new string value.
        value: Option<Bytes>,
        /// The LSN of the change.
        version: Lsn,
        /// When the new value expires (Unix ms), if it does.
        expires_at_ms: Option<u64>,
    },
    /// The client this connection's invalidations were redirected to is gone.
    RedirectBroken,
    /// A Pub/Sub message on `channel` (matched by `pattern`, for PSUBSCRIBE).
    Message {
        /// The pattern that matched, for a pattern subscription.
        pattern: Option<Bytes>,
        /// The channel it was published on.
        channel: Bytes,
        /// What was published.
        payload: Bytes,
    },
}

/// What a mailbox yields.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// The next message.
    Push(Push),
    /// Messages were dropped because the queue was full; what is still queued has
    /// been dropped too.
    Overflowed,
}

/// A producer's handle on one connection's mailbox.
#[derive(Debug, Clone)]
pub(crate) struct Outlet {
    sender: mpsc::Sender<Push>,
    overflowed: Arc<AtomicBool>,
}

impl Outlet {
    /// Queues `push`; `false` if the connection is gone.
    pub(crate) fn send(&self, push: Push) -> bool {
        match self.sender.try_send(push) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.overflowed.store(true, Ordering::Release);
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// A connection's end of its mailbox.
pub(crate) struct Mailbox {
    receiver: mpsc::Receiver<Push>,
    overflowed: Arc<AtomicBool>,
}

impl Mailbox {
    /// The next message.
    pub(crate) async fn next(&mut self) -> Delivery {
        if self.overflowed.swap(false, Ordering::AcqRel) {
            while self.receiver.try_recv().is_ok() {}
            return Delivery::Overflowed;
        }
        match self.receiver.recv().await {
            Some(push) => Delivery::Push(push),
            // Every outlet is gone with the registry; nothing more will come.
            None => std::future::pending().await,
        }
    }

    /// Whether the mailbox overflowed (for tests).
    #[cfg(test)]
    pub(crate) fn has_overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Acquire)
    }
}

/// Every connection's outlet, by client id.
#[derive(Default)]
pub(crate) struct Mailboxes {
    outlets: Mutex<HashMap<u64, Outlet>>,
}

impl Mailboxes {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Outlet>> {
        self.outlets
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Opens client `id`'s mailbox.
    pub(crate) fn open(&self, id: u64) -> Mailbox {
        let (sender, receiver) = mpsc::channel(MAILBOX_MESSAGES);
        let overflowed = Arc::new(AtomicBool::new(false));
        let outlet = Outlet {
            sender,
            overflowed: Arc::clone(&overflowed),
        };
        self.lock().insert(id, outlet);
        Mailbox {
            receiver,
            overflowed,
        }
    }

    /// Client `id` left.
    pub(crate) fn close(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// An outlet to client `id`'s mailbox, if it is connected.
    pub(crate) fn outlet(&self, id: u64) -> Option<Outlet> {
        self.lock().get(&id).cloned()
    }
}
