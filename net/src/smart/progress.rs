//! Write-behind accounting: which writes are answered, for `flush` and for the bound
//! on writes in flight.
//!
//! Writes are numbered as they are queued (under the outbox lock, so numbers follow
//! the wire) and answered in the same order, so one counter says which are done.
//! Waiters sleep on a condition variable that every answer, and closing, wakes.

#[cfg(loom)]
use loom::sync::{Condvar, Mutex, MutexGuard};
#[cfg(not(loom))]
use std::sync::{Condvar, Mutex, MutexGuard};

#[derive(Debug, Default)]
struct Counts {
    /// The last write numbered.
    last: u64,
    /// The last write answered (or failed); every earlier one is too.
    done: u64,
    closed: bool,
}

/// The numbers of writes queued and answered.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    counts: Mutex<Counts>,
    changed: Condvar,
}

impl Progress {
    fn lock(&self) -> MutexGuard<'_, Counts> {
        // The critical sections below cannot panic halfway.
        self.counts
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, Counts>) -> MutexGuard<'a, Counts> {
        self.changed
            .wait(guard)
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Numbers a write being queued.
    pub(crate) fn queued(&self) -> u64 {
        let mut counts = self.lock();
        counts.last += 1;
        counts.last
    }

    /// Write `seq` is answered (writes are answered in order).
    pub(crate) fn answered(&self, seq: u64) {
        let mut counts = self.lock();
        assert!(
            seq == counts.done + 1 && seq <= counts.last,
            "write {seq} answered after {} of {}",
            counts.done,
            counts.last
        );
        counts.done = seq;
        self.changed.notify_all();
    }

    /// No more answers will come: waiters return.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// The number of the last write queued.
    pub(crate) fn last(&self) -> u64 {
        self.lock().last
    }

    /// Waits until write `seq` and all before it are answered, or the client closes.
    pub(crate) fn wait_for(&self, seq: u64) {
        let mut counts = self.lock();
        while counts.done < seq && !counts.closed {
            counts = self.wait(counts);
        }
    }

    /// Waits until fewer than `max` writes are unanswered; `false` if closed.
    pub(crate) fn wait_for_room(&self, max: u64) -> bool {
        let mut counts = self.lock();
        while counts.last - counts.done >= max.max(1) {
            if counts.closed {
                return false;
            }
            counts = self.wait(counts);
        }
        !counts.closed
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::Arc;

    /// A writer bounded to one write in flight queues two and flushes, while the
    /// receive thread answers them: nobody waits for ever, and a flush returns only
    /// once both are answered.
    #[test]
    fn loom_models_flush_and_the_bound_never_miss_an_answer() {
        loom::model(|| {
            let progress = Arc::new(Progress::default());
            let answers = Arc::new(Progress::default());
            let receiver = {
                let progress = Arc::clone(&progress);
                let answers = Arc::clone(&answers);
                loom::thread::spawn(move || {
                    // Answers each write once it is queued (the wire, in the model).
                    for seq in 1..=2 {
                        answers.wait_for(seq);
                        progress.answered(seq);
                    }
                })
            };
            for _ in 0..2 {
                assert!(progress.wait_for_room(1));
                let seq = progress.queued();
                answers.queued();
                answers.answered(seq);
            }
            progress.wait_for(progress.last());
            assert_eq!(progress.lock().done, 2);
            receiver.join().unwrap();
        });
    }

    /// Closing wakes a writer waiting for room and a flush waiting for answers.
    #[test]
    fn loom_models_close_wakes_every_waiter() {
        loom::model(|| {
            let progress = Arc::new(Progress::default());
            progress.queued();
            let flusher = {
                let progress = Arc::clone(&progress);
                loom::thread::spawn(move || progress.wait_for(1))
            };
            let closer = {
                let progress = Arc::clone(&progress);
                loom::thread::spawn(move || progress.close())
            };
            assert!(!progress.wait_for_room(1));
            flusher.join().unwrap();
            closer.join().unwrap();
        });
    }
}
