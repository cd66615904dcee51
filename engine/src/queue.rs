//! A bounded queue: many producers, one consumer that takes everything queued at once.
//!
//! The commit queue and every change-feed subscription are one of these. They need
//! backpressure when full (a producer waits, or is told the queue is full), a consumer
//! that drains a whole group under one lock (group commit), and a close that wakes
//! everyone. A Mutex and two Condvars do all of it in a few lines that loom can check.
//!
//! Invariant: `items.len() <= capacity` at every unlock.

use std::collections::VecDeque;
use std::time::Duration;

use crate::sync::{Condvar, Mutex, MutexGuard, lock, wait, wait_timeout};

/// A bounded multi-producer, single-consumer queue.
pub(crate) struct Queue<T> {
    state: Mutex<State<T>>,
    /// Signalled when an item arrives or the queue closes; the consumer waits on it.
    not_empty: Condvar,
    /// Signalled when the consumer makes room or the queue closes; producers wait on it.
    not_full: Condvar,
    capacity: usize,
}

struct State<T> {
    items: VecDeque<T>,
    closed: bool,
    /// The consumer sleeps on `not_empty`: a producer must wake it.
    consumer_waiting: bool,
    /// Producers sleeping on `not_full`: the consumer must wake them after draining.
    producers_waiting: usize,
}

/// Why `try_push` gave the item back.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TryPushError<T> {
    /// The queue holds `capacity` items.
    Full(T),
    /// The queue was closed.
    Closed(T),
}

/// What a wait for items ended with.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Drained {
    /// At least one item was moved out.
    Items,
    /// The timeout passed with the queue empty.
    TimedOut,
    /// The queue is closed and empty: nothing will ever arrive.
    Closed,
}

impl<T> Queue<T> {
    /// Creates a queue that holds at most `capacity` items.
    pub(crate) fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "a queue needs room for one item");
        Queue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: false,
                consumer_waiting: false,
                producers_waiting: 0,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            capacity,
        }
    }

    /// Appends `item`, waiting while the queue is full. Gives the item back if the queue
    /// is (or becomes) closed.
    pub(crate) fn push(&self, item: T) -> Result<(), T> {
        let mut state = lock(&self.state);
        while state.items.len() >= self.capacity && !state.closed {
            state.producers_waiting += 1;
            state = wait(&self.not_full, state);
            state.producers_waiting -= 1;
        }
        if state.closed {
            return Err(item);
        }
        state.items.push_back(item);
        self.wake_consumer(state);
        Ok(())
    }

    /// Appends `item` if there is room, without waiting.
    pub(crate) fn try_push(&self, item: T) -> Result<(), TryPushError<T>> {
        let mut state = lock(&self.state);
        if state.closed {
            return Err(TryPushError::Closed(item));
        }
        if state.items.len() >= self.capacity {
            return Err(TryPushError::Full(item));
        }
        state.items.push_back(item);
        self.wake_consumer(state);
        Ok(())
    }

    fn wake_consumer(&self, state: MutexGuard<'_, State<T>>) {
        let wake = state.consumer_waiting;
        drop(state);
        if wake {
            self.not_empty.notify_one();
        }
    }

    /// Moves every queued item to the back of `out`. While the queue is empty, waits up
    /// to `timeout` (forever with `None`) for an item or a close.
    pub(crate) fn drain_into(&self, out: &mut VecDeque<T>, timeout: Option<Duration>) -> Drained {
        let mut state = self.wait_for_items(timeout);
        if state.items.is_empty() {
            return Self::empty_reason(&state);
        }
        if out.is_empty() {
            std::mem::swap(out, &mut state.items);
        } else {
            out.append(&mut state.items);
        }
        self.wake_producers(state);
        Drained::Items
    }

    /// Takes the oldest item, waiting up to `timeout` (forever with `None`) while empty.
    /// `Err(Drained::Closed)` once the queue is closed and empty.
    pub(crate) fn pop(&self, timeout: Option<Duration>) -> Result<T, Drained> {
        let mut state = self.wait_for_items(timeout);
        let Some(item) = state.items.pop_front() else {
            return Err(Self::empty_reason(&state));
        };
        self.wake_producers(state);
        Ok(item)
    }

    /// Locks the state, waiting up to `timeout` (forever with `None`) while the queue
    /// is empty and open. A timed wait may end early (spuriously): callers recheck.
    fn wait_for_items(&self, timeout: Option<Duration>) -> MutexGuard<'_, State<T>> {
        let mut state = lock(&self.state);
        if state.items.is_empty() && !state.closed {
            state.consumer_waiting = true;
            state = match timeout {
                Some(timeout) => wait_timeout(&self.not_empty, state, timeout),
                None => {
                    while state.items.is_empty() && !state.closed {
                        state = wait(&self.not_empty, state);
                    }
                    state
                }
            };
            state.consumer_waiting = false;
        }
        state
    }

    /// Why an empty queue gave nothing.
    fn empty_reason(state: &State<T>) -> Drained {
        if state.closed {
            Drained::Closed
        } else {
            Drained::TimedOut
        }
    }

    /// Unlocks, then wakes producers waiting for room, if any.
    fn wake_producers(&self, state: MutexGuard<'_, State<T>>) {
        let wake = state.producers_waiting > 0;
        drop(state);
        if wake {
            self.not_full.notify_all();
        }
    }

    /// Refuses all further pushes and wakes every waiter. Items already queued can still
    /// be drained.
    pub(crate) fn close(&self) {
        let mut state = lock(&self.state);
        state.closed = true;
        drop(state);
        self.not_empty.notify_all();
        self.not_full.notify_all();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::thread;

    #[test]
    fn drains_in_fifo_order() {
        let queue = Queue::new(4);
        for i in 0..3 {
            queue.push(i).unwrap();
        }
        let mut out = VecDeque::new();
        assert_eq!(queue.drain_into(&mut out, None), Drained::Items);
        assert_eq!(out, [0, 1, 2]);
        assert_eq!(
            queue.drain_into(&mut out, Some(Duration::ZERO)),
            Drained::TimedOut
        );
    }

    #[test]
    fn try_push_reports_full_at_capacity() {
        let queue = Queue::new(2);
        queue.try_push(1).unwrap();
        queue.try_push(2).unwrap();
        assert_eq!(queue.try_push(3), Err(TryPushError::Full(3)));
    }

    #[test]
    fn push_waits_for_room() {
        let queue = Arc::new(Queue::new(1));
        queue.push(1).unwrap();
        let producer = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || queue.push(2))
        };
        let mut out = VecDeque::new();
        let mut seen = Vec::new();
        while seen.len() < 2 {
            queue.drain_into(&mut out, Some(Duration::from_millis(10)));
            seen.extend(out.drain(..));
        }
        producer.join().unwrap().unwrap();
        assert_eq!(seen, [1, 2]);
    }

    #[test]
    fn close_refuses_pushes_but_keeps_queued_items() {
        let queue = Queue::new(4);
        queue.push(1).unwrap();
        queue.close();
        assert_eq!(queue.push(2), Err(2));
        assert_eq!(queue.try_push(3), Err(TryPushError::Closed(3)));
        assert_eq!(queue.pop(None), Ok(1));
        assert_eq!(queue.pop(None), Err(Drained::Closed));
    }

    #[test]
    fn empty_wait_times_out() {
        let queue: Queue<u8> = Queue::new(1);
        let mut out = VecDeque::new();
        assert_eq!(
            queue.drain_into(&mut out, Some(Duration::from_millis(1))),
            Drained::TimedOut
        );
        assert_eq!(
            queue.pop(Some(Duration::from_millis(1))),
            Err(Drained::TimedOut)
        );
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::sync::Arc;
    use loom::thread;

    /// Two producers and the consumer: every item arrives exactly once, in each
    /// producer's order, and a full queue never loses a wakeup.
    #[test]
    fn two_producers_one_consumer() {
        loom::model(|| {
            let queue = Arc::new(Queue::new(1));
            let producers: Vec<_> = (0..2)
                .map(|p| {
                    let queue = Arc::clone(&queue);
                    thread::spawn(move || {
                        queue.push(p * 10).unwrap();
                        queue.push(p * 10 + 1).unwrap();
                    })
                })
                .collect();
            let mut seen = Vec::new();
            let mut out = VecDeque::new();
            while seen.len() < 4 {
                assert_eq!(queue.drain_into(&mut out, None), Drained::Items);
                seen.extend(out.drain(..));
            }
            for producer in producers {
                producer.join().unwrap();
            }
            let first: Vec<_> = seen.iter().filter(|v| **v < 10).collect();
            let second: Vec<_> = seen.iter().filter(|v| **v >= 10).collect();
            assert_eq!(first, [&0, &1]);
            assert_eq!(second, [&10, &11]);
        });
    }

    /// A close while a producer waits for room and the consumer waits for items wakes
    /// both: nobody sleeps forever on a closed queue.
    #[test]
    fn close_wakes_waiters() {
        loom::model(|| {
            let queue = Arc::new(Queue::new(1));
            queue.push(0).unwrap();
            let producer = {
                let queue = Arc::clone(&queue);
                thread::spawn(move || queue.push(1))
            };
            let closer = {
                let queue = Arc::clone(&queue);
                thread::spawn(move || queue.close())
            };
            let mut got = Vec::new();
            while let Ok(item) = queue.pop(None) {
                got.push(item);
            }
            let pushed = producer.join().unwrap();
            closer.join().unwrap();
            assert_eq!(got[0], 0);
            assert_eq!(pushed.is_ok(), got.len() == 2);
        });
    }

    /// The commit path end to end: a writer queues a submission carrying its ack
    /// sender and waits; the committer drains and answers; a close races both. A
    /// submission the queue accepted is always answered (the committer drains
    /// everything before it sees `Closed`), and nobody waits forever.
    #[test]
    fn queued_writes_are_answered_even_when_closing() {
        loom::model(|| {
            let queue: Arc<Queue<(u32, crate::ack::AckSender<u32>)>> = Arc::new(Queue::new(1));
            let committer = {
                let queue = Arc::clone(&queue);
                thread::spawn(move || {
                    let mut group = VecDeque::new();
                    while queue.drain_into(&mut group, None) == Drained::Items {
                        for (value, ack) in group.drain(..) {
                            ack.send(value * 2);
                        }
                    }
                })
            };
            let closer = {
                let queue = Arc::clone(&queue);
                thread::spawn(move || queue.close())
            };
            let (sender, receiver) = crate::ack::channel();
            if queue.push((21, sender)).is_ok() {
                assert_eq!(
                    receiver.wait(&crate::ack::SpinGate::for_this_machine()),
                    Some(42)
                );
            }
            closer.join().unwrap();
            committer.join().unwrap();
        });
    }
}
