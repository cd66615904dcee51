//! Flat combining: a writer that waits for its answer commits its group itself when
//! nobody else is committing.
//!
//! Handing a write to the commit thread and its answer back costs two thread
//! wake-ups (system calls and context switches), several times the cost of applying
//! and publishing a single-key write. So the committer waits in a slot between
//! turns: the commit thread takes it for each of its turns, and a writer that queued
//! a `Visible` batch takes it too when it is free. The writer commits whatever is
//! queued, its own batch among it, on its own thread, and finds its answer ready.
//!
//! The protocol, through which no queued item can slip unseen:
//! - A combining writer queues its item quietly (without waking the commit thread),
//!   then tries to take the committer. If someone has it, the writer leaves: the
//!   holder will see the item.
//! - Every holder checks the queue after putting the committer back. The commit
//!   thread does so by waiting for work, which returns at once while anything is
//!   queued. A combining writer takes the committer again, at most [`MAX_TURNS`]
//!   times, then nudges the commit thread.
//! - A writer commits only what it may on its thread ([`Combiner::combined_turn`]
//!   says what): work that waits on the disk (a `Durable` batch's fsync, a segment
//!   rotation) or belongs to the commit thread (snapshots, expiry sweeps, the log's
//!   interval syncs) is left to the commit thread, which the writer nudges.

use std::ops::{Deref, DerefMut};

use crate::queue::Queue;
use crate::sync::{Condvar, Mutex, lock, wait};

/// Turns one combining writer takes at most before it leaves what is still queued
/// to the commit thread (it has connections of its own to serve).
const MAX_TURNS: usize = 4;

/// What a combining writer's turn left to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Turn {
    /// Nothing for the commit thread.
    Done,
    /// The commit thread must take a turn: something queued is its to commit, or
    /// the turn made work for it.
    NeedsThread,
}

/// A committer a writer may run a turn of on its own thread.
pub(crate) trait Combiner {
    /// What the commit queue holds.
    type Item;

    /// Takes what is queued, if all of it may be committed on this thread, commits
    /// it and answers its writers.
    fn combined_turn(&mut self, queue: &Queue<Self::Item>) -> Turn;
}

/// Where the committer waits between turns: taken whole by whoever commits (the
/// commit thread, or a combining writer), put back after.
///
/// A lock with a flag rather than a `Mutex` held across the turn: a writer must be
/// able to try it without waiting, and a `Mutex`'s `try_lock` is not fully explored
/// by loom (tokio-rs/loom#376), which checks this protocol.
pub(crate) struct CommitterSlot<C> {
    state: Mutex<Slot<C>>,
    /// Signalled when the committer is put back while the commit thread waits for it.
    returned: Condvar,
}

enum Slot<C> {
    /// Nobody is committing.
    Free(Box<C>),
    /// Someone is committing; `thread_waiting` if the commit thread waits for it.
    Taken { thread_waiting: bool },
    /// The commit thread has stopped: nobody commits again.
    Stopped,
}

impl<C> CommitterSlot<C> {
    /// A slot holding `committer`, free.
    pub(crate) fn new(committer: C) -> Self {
        CommitterSlot {
            state: Mutex::new(Slot::Free(Box::new(committer))),
            returned: Condvar::new(),
        }
    }

    /// Takes the committer if nobody is committing (a combining writer).
    pub(crate) fn try_take(&self) -> Option<Held<'_, C>> {
        let mut state = lock(&self.state);
        match std::mem::replace(&mut *state, Slot::Stopped) {
            Slot::Free(committer) => {
                *state = Slot::Taken {
                    thread_waiting: false,
                };
                Some(Held {
                    slot: self,
                    committer: Some(committer),
                })
            }
            other => {
                *state = other;
                None
            }
        }
    }

    /// Takes the committer, waiting while someone commits (the commit thread, the
    /// only one that waits). `None` once stopped.
    pub(crate) fn take(&self) -> Option<Held<'_, C>> {
        let mut state = lock(&self.state);
        loop {
            match std::mem::replace(&mut *state, Slot::Stopped) {
                Slot::Free(committer) => {
                    *state = Slot::Taken {
                        thread_waiting: false,
                    };
                    return Some(Held {
                        slot: self,
                        committer: Some(committer),
                    });
                }
                Slot::Taken { .. } => {
                    *state = Slot::Taken {
                        thread_waiting: true,
                    };
                    state = wait(&self.returned, state);
                }
                Slot::Stopped => return None,
            }
        }
    }

    fn put_back(&self, committer: Box<C>) {
        let mut state = lock(&self.state);
        let waiting = matches!(
            *state,
            Slot::Taken {
                thread_waiting: true
            }
        );
        debug_assert!(
            matches!(*state, Slot::Taken { .. }),
            "only a holder puts back"
        );
        *state = Slot::Free(committer);
        drop(state);
        if waiting {
            self.returned.notify_one();
        }
    }
}

/// The committer, taken from its slot; put back when dropped (unwinding too).
pub(crate) struct Held<'a, C> {
    slot: &'a CommitterSlot<C>,
    /// `Some` until dropped or stopped.
    committer: Option<Box<C>>,
}

impl<C> Held<'_, C> {
    /// Keeps the committer: the slot is stopped, and nobody takes it again.
    pub(crate) fn stop(mut self) -> Box<C> {
        *lock(&self.slot.state) = Slot::Stopped;
        self.committer.take().expect("held until stopped")
    }
}

impl<C> Deref for Held<'_, C> {
    type Target = C;

    fn deref(&self) -> &C {
        self.committer.as_ref().expect("held until stopped")
    }
}

impl<C> DerefMut for Held<'_, C> {
    fn deref_mut(&mut self) -> &mut C {
        self.committer.as_mut().expect("held until stopped")
    }
}

impl<C> Drop for Held<'_, C> {
    fn drop(&mut self) {
        if let Some(committer) = self.committer.take() {
            self.slot.put_back(committer);
        }
    }
}

/// Called by a writer right after it queued an item with
/// [`Queue::push_quietly`]: commits what is queued if nobody is committing, and
/// makes sure that the item is committed by someone either way.
pub(crate) fn combine<C: Combiner>(slot: &CommitterSlot<C>, queue: &Queue<C::Item>) {
    for _ in 0..MAX_TURNS {
        // If someone is committing, they check the queue after putting it back.
        let Some(mut committer) = slot.try_take() else {
            return;
        };
        let turn = committer.combined_turn(queue);
        drop(committer);
        if turn == Turn::NeedsThread {
            queue.nudge();
            return;
        }
        if !queue.has_items() {
            return;
        }
    }
    queue.nudge();
}

#[cfg(all(test, loom))]
mod loom_models {
    use std::collections::VecDeque;

    use super::*;
    use crate::ack::{AckSender, channel};
    use crate::queue::{Drained, Take};
    use crate::sync::Arc;
    use loom::thread;

    /// A committer that answers each value doubled; odd values are the commit
    /// thread's to commit.
    struct Doubler {
        group: VecDeque<(u32, AckSender<u32>)>,
    }

    impl Doubler {
        fn answer(&mut self) {
            for (value, ack) in self.group.drain(..) {
                ack.send(value * 2);
            }
        }
    }

    impl Combiner for Doubler {
        type Item = (u32, AckSender<u32>);

        fn combined_turn(&mut self, queue: &Queue<Self::Item>) -> Turn {
            match queue.take_all_if(&mut self.group, |(value, _)| value % 2 == 0) {
                Take::Items => {
                    self.answer();
                    Turn::Done
                }
                Take::Empty => Turn::Done,
                Take::Refused => Turn::NeedsThread,
            }
        }
    }

    /// The commit thread's loop: wait for work, take the committer, drain, answer.
    fn commit_thread(slot: &CommitterSlot<Doubler>, queue: &Queue<(u32, AckSender<u32>)>) {
        loop {
            queue.wait_for_work(None);
            let mut doubler = slot.take().expect("only this thread stops it");
            let drained = queue.drain_into(&mut doubler.group, Some(std::time::Duration::ZERO));
            doubler.answer();
            if drained == Drained::Closed {
                doubler.stop();
                return;
            }
        }
    }

    /// Two writers combine while the commit thread runs; one of them queues an item
    /// only the commit thread may commit. Every writer gets its answer (a lost item
    /// would leave its writer waiting forever, which loom reports as a deadlock).
    #[test]
    fn combined_writes_are_always_answered() {
        loom::model(|| {
            let queue = Arc::new(Queue::new(4));
            let committer = Arc::new(CommitterSlot::new(Doubler {
                group: VecDeque::new(),
            }));
            let thread = {
                let (committer, queue) = (Arc::clone(&committer), Arc::clone(&queue));
                thread::spawn(move || commit_thread(&committer, &queue))
            };
            let writers: Vec<_> = [2, 3]
                .into_iter()
                .map(|value| {
                    let (committer, queue) = (Arc::clone(&committer), Arc::clone(&queue));
                    thread::spawn(move || {
                        let (sender, receiver) = channel();
                        if queue.push_quietly((value, sender), 1, true).is_ok() {
                            combine(&committer, &queue);
                            assert_eq!(receiver.wait(None), Some(value * 2));
                        }
                    })
                })
                .collect();
            for writer in writers {
                writer.join().unwrap();
            }
            queue.close();
            thread.join().unwrap();
        });
    }
}
