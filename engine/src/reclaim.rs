//! Freeing large values on a thread of their own (Redis's lazyfree).
//!
//! A value's memory is freed where its last reference is dropped, which for a
//! replaced or deleted key is inside a left-right publish: on the commit thread, or
//! on the thread of a writer committing its own group (a server connection's
//! worker). Freeing a collection of a million items takes tens of milliseconds, and
//! every write waits behind it. So when a publish drops the last reference to a
//! large collection, or a flush drops whole tables, the overlay hands them to the
//! reclaimer's thread instead, which frees them while writes go on.
//!
//! Only the last reference is handed over: a value still held by the other
//! left-right copy, a reader or the change feed is just released, and freed by
//! whoever releases it last. And only a value that goes away whole: the old version
//! of a collection that a write changed shares nearly all its nodes with the new
//! one, so it is released where it is. The reclaimer's thread ends when the last overlay copy
//! holding its sender is dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use crate::entry::Entry;
use crate::entry_table::EntryTable;
use crate::value::Value;

/// Collections with at least this many items are freed by the reclaimer: below it,
/// freeing costs about what the hand-over does.
pub(crate) const LAZY_FREE_MIN_ITEMS: usize = 1024;

/// Something to free.
enum Garbage {
    /// An entry whose value is a large collection, no longer referenced elsewhere.
    Entry(Entry),
    /// The tables of a flushed overlay copy, with every entry they hold.
    Tables(Box<[EntryTable]>),
}

/// Counts of background frees, as Redis's INFO reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LazyFreeStats {
    /// Values and tables handed to the reclaimer and not freed yet.
    pub pending_objects: u64,
    /// Values and tables the reclaimer has freed since the database opened.
    pub freed_objects: u64,
}

#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    freed: AtomicU64,
}

/// The overlay's handle on the reclaimer thread; cloning shares it.
#[derive(Clone)]
pub(crate) struct Reclaimer {
    sender: mpsc::Sender<Garbage>,
    counters: Arc<Counters>,
}

/// The reclaimer's thread, joined on drop: drop it after every [`Reclaimer`] (the
/// overlay copies), so that the thread has ended or is about to, and a closed
/// database leaves no thread behind.
pub(crate) struct ReclaimerThread(Option<std::thread::JoinHandle<()>>);

impl Drop for ReclaimerThread {
    fn drop(&mut self) {
        if let Some(thread) = self.0.take()
            && thread.join().is_err()
        {
            tracing::error!("the reclaimer's thread panicked");
        }
    }
}

/// Reads the reclaimer's counters (held by the database handle).
#[derive(Clone)]
pub(crate) struct ReclaimerStats(Arc<Counters>);

impl ReclaimerStats {
    /// The counts now.
    pub(crate) fn read(&self) -> LazyFreeStats {
        // Freed first: a free counted after this read cannot make pending negative.
        let freed = self.0.freed.load(Ordering::Acquire);
        let sent = self.0.sent.load(Ordering::Acquire);
        LazyFreeStats {
            pending_objects: sent.saturating_sub(freed),
            freed_objects: freed,
        }
    }
}

impl Reclaimer {
    /// Starts the reclaimer's thread.
    pub(crate) fn start() -> std::io::Result<(Reclaimer, ReclaimerStats, ReclaimerThread)> {
        let (sender, receiver) = mpsc::channel::<Garbage>();
        let counters = Arc::new(Counters::default());
        let thread_counters = Arc::clone(&counters);
        let thread = std::thread::Builder::new()
            .name("chiral-free".into())
            .spawn(move || {
                for garbage in receiver {
                    match garbage {
                        Garbage::Entry(entry) => drop(entry),
                        Garbage::Tables(tables) => drop(tables),
                    }
                    thread_counters.freed.fetch_add(1, Ordering::AcqRel);
                }
            })?;
        let stats = ReclaimerStats(Arc::clone(&counters));
        Ok((
            Reclaimer { sender, counters },
            stats,
            ReclaimerThread(Some(thread)),
        ))
    }

    /// Drops `entry`, which `replacement` (if any) took the place of: on the
    /// reclaimer's thread if this is its last reference, its value is a large
    /// collection, and the replacement is not another version of that collection. A
    /// new version (a push, an added field) shares all but a path of the old one's
    /// nodes, so dropping the old one frees little and stays here.
    pub(crate) fn release(&self, entry: Entry, replacement: Option<&Entry>) {
        let same_kind = |other: &Entry| other.kind() == entry.kind();
        // The reference count is read last: most entries are small.
        if entry.stored_value().is_some_and(is_large)
            && !replacement.is_some_and(same_kind)
            && entry.is_unique()
        {
            self.send(Garbage::Entry(entry));
        }
    }

    /// Drops a flushed copy's tables on the reclaimer's thread.
    pub(crate) fn release_tables(&self, tables: Box<[EntryTable]>) {
        if tables.iter().any(|table| table.capacity() > 0) {
            self.send(Garbage::Tables(tables));
        }
    }

    fn send(&self, garbage: Garbage) {
        self.counters.sent.fetch_add(1, Ordering::AcqRel);
        if let Err(mpsc::SendError(garbage)) = self.sender.send(garbage) {
            // The thread is gone (it only ends when every sender is): free it here.
            self.counters.freed.fetch_add(1, Ordering::AcqRel);
            drop(garbage);
        }
    }
}

/// Whether freeing `value` is worth a hand-over.
fn is_large(value: &Value) -> bool {
    let items = match value {
        Value::List(list) => list.len(),
        Value::Set(set) => set.len(),
        Value::Hash(hash) => hash.len(),
        Value::Bytes(_) | Value::Int(_) | Value::Float(_) | Value::Doc(_) => 0,
    };
    items >= LAZY_FREE_MIN_ITEMS
}
