//! A bounded queue: many producers, one consumer that takes everything queued at once.
//!
//! The commit queue and every change-feed subscription are one of these. They need
//! backpressure when full (a producer waits, or is told the queue is full), a consumer
//! that drains a whole group under one lock (group commit), and a close that wakes
//! everyone. A Mutex and two Condvars do all of it in a few lines that loom can check.
//!
//! Each item has a weight (the commit queue weighs batches by their bytes, the feed
//! counts batches) and the queue holds at most `capacity` of weight. One item heavier
//! than the whole capacity is let into an empty queue, alone, so it cannot wait
//! forever.
//!
//! Invariant at every unlock: `weight == sum(weights)`, and `weight <= capacity` or
//! the queue holds a single item.

use std::collections::VecDeque;
use std::time::Duration;

use crate::sync::{Condvar, Mutex, MutexGuard, lock, wait as wait_on, wait_timeout};

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
    /// The weight of each item in `items`, in the same order.
    weights: VecDeque<usize>,
    /// The sum of `weights`.
    weight: usize,
    closed: bool,
    /// The consumer sleeps on `not_empty`: a producer must wake it.
    consumer_waiting: bool,
    /// Producers sleeping on `not_full`: the consumer must wake them after draining.
    producers_waiting: usize,
    /// Someone asked the consumer to take a turn even if nothing is queued
    /// ([`Queue::nudge`]); cleared when its wait ends.
    nudged: bool,
}

/// Why `try_push` gave the item back.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TryPushError<T> {
    /// The item does not fit in the room left.
    Full(T),
    /// The queue was closed.
    Closed(T),
}

/// What [`Queue::take_all_if`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Take {
    /// Every queued item was moved out.
    Items,
    /// Nothing was queued.
    Empty,
    /// Some queued item was not accepted: nothing was moved.
    Refused,
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
    /// Creates a queue that holds at most `capacity` of weight.
    pub(crate) fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "a queue needs room for one item");
        Queue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                weights: VecDeque::new(),
                weight: 0,
                closed: false,
                consumer_waiting: false,
                producers_waiting: 0,
                nudged: false,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            capacity,
        }
    }

    /// Appends `item` of `weight`, waiting until it fits. Gives the item back if the
    /// queue is (or becomes) closed.
    pub(crate) fn push(&self, item: T, weight: usize) -> Result<(), T> {
        match self.push_and_wake(item, weight, true) {
            Ok(()) => Ok(()),
            Err(TryPushError::Closed(item) | TryPushError::Full(item)) => Err(item),
        }
    }

    /// Appends `item` of `weight` if it fits now, without waiting.
    pub(crate) fn try_push(&self, item: T, weight: usize) -> Result<(), TryPushError<T>> {
        self.push_and_wake(item, weight, false)
    }

    /// Appends `item` of `weight` (waiting for room if `wait`, else giving it back
    /// when there is none) without waking the consumer: for a producer that takes
    /// its item out itself (flat combining, see `commit::combine`) and wakes the
    /// consumer only if it does not.
    pub(crate) fn push_quietly(
        &self,
        item: T,
        weight: usize,
        wait: bool,
    ) -> Result<(), TryPushError<T>> {
        self.append_with_room(item, weight, wait).map(drop)
    }

    fn push_and_wake(&self, item: T, weight: usize, wait: bool) -> Result<(), TryPushError<T>> {
        let state = self.append_with_room(item, weight, wait)?;
        self.wake_consumer(state);
        Ok(())
    }

    /// Appends `item` once it fits (waiting if `wait`); returns the still locked state.
    fn append_with_room(
        &self,
        item: T,
        weight: usize,
        wait: bool,
    ) -> Result<MutexGuard<'_, State<T>>, TryPushError<T>> {
        let mut state = lock(&self.state);
        while wait && !self.fits(&state, weight) && !state.closed {
            state.producers_waiting += 1;
            state = wait_on(&self.not_full, state);
            state.producers_waiting -= 1;
        }
        if state.closed {
            return Err(TryPushError::Closed(item));
        }
        if !self.fits(&state, weight) {
            return Err(TryPushError::Full(item));
        }
        Self::append(&mut state, item, weight);
        Ok(state)
    }

    /// Whether an item of `weight` may enter: it fits in the room left, or the queue
    /// is empty (an item heavier than the capacity goes in alone).
    fn fits(&self, state: &State<T>, weight: usize) -> bool {
        state.items.is_empty() || state.weight.saturating_add(weight) <= self.capacity
    }

    fn append(state: &mut State<T>, item: T, weight: usize) {
        state.items.push_back(item);
        state.weights.push_back(weight);
        state.weight += weight;
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
        let state = self.wait_for_items(timeout);
        if state.items.is_empty() {
            return Self::empty_reason(&state);
        }
        self.move_all(state, out);
        Drained::Items
    }

    /// Moves every queued item to the back of `out` if `accept` takes each of them,
    /// else none; never waits. (A writer that commits its own batch takes only what
    /// it may commit on its thread.)
    pub(crate) fn take_all_if(&self, out: &mut VecDeque<T>, accept: impl Fn(&T) -> bool) -> Take {
        let state = lock(&self.state);
        if state.items.is_empty() {
            return Take::Empty;
        }
        if !state.items.iter().all(accept) {
            return Take::Refused;
        }
        self.move_all(state, out);
        Take::Items
    }

    /// Moves every item to the back of `out`, then unlocks and wakes waiting producers.
    fn move_all(&self, mut state: MutexGuard<'_, State<T>>, out: &mut VecDeque<T>) {
        if out.is_empty() {
            std::mem::swap(out, &mut state.items);
        } else {
            out.append(&mut state.items);
        }
        state.weights.clear();
        state.weight = 0;
        self.wake_producers(state);
    }

    /// Whether anything is queued.
    pub(crate) fn has_items(&self) -> bool {
        !lock(&self.state).items.is_empty()
    }

    /// Waits up to `timeout` (forever with `None`) until an item is queued, the queue
    /// closes or a producer nudges; takes nothing. A timed wait may end early: the
    /// caller takes what there is, which may be nothing.
    pub(crate) fn wait_for_work(&self, timeout: Option<Duration>) {
        let mut state = self.wait_while(timeout, |state| {
            state.items.is_empty() && !state.closed && !state.nudged
        });
        state.nudged = false;
    }

    /// Wakes the consumer if it waits: for items pushed quietly
    /// ([`Queue::push_quietly`]) that the producer leaves to the consumer after all.
    pub(crate) fn wake_consumer_if_waiting(&self) {
        self.wake_consumer(lock(&self.state));
    }

    /// Makes the consumer's current or next [`Queue::wait_for_work`] return, even
    /// with nothing queued: for work only the consumer does.
    pub(crate) fn nudge(&self) {
        let mut state = lock(&self.state);
        state.nudged = true;
        self.wake_consumer(state);
    }

    /// Takes the oldest item, waiting up to `timeout` (forever with `None`) while empty.
    /// `Err(Drained::Closed)` once the queue is closed and empty.
    pub(crate) fn pop(&self, timeout: Option<Duration>) -> Result<T, Drained> {
        let mut state = self.wait_for_items(timeout);
        let Some(item) = state.items.pop_front() else {
            return Err(Self::empty_reason(&state));
        };
        let weight = state.weights.pop_front().expect("one weight per item");
        state.weight -= weight;
        self.wake_producers(state);
        Ok(item)
    }

    /// Locks the state, waiting up to `timeout` (forever with `None`) while the queue
    /// is empty and open. A timed wait may end early (spuriously): callers recheck.
    fn wait_for_items(&self, timeout: Option<Duration>) -> MutexGuard<'_, State<T>> {
        self.wait_while(timeout, |state| state.items.is_empty() && !state.closed)
    }

    /// Locks the state, waiting on `not_empty` up to `timeout` (forever with `None`)
    /// while `idle` holds. A timed wait may end early (spuriously).
    fn wait_while(
        &self,
        timeout: Option<Duration>,
        idle: impl Fn(&State<T>) -> bool,
    ) -> MutexGuard<'_, State<T>> {
        let mut state = lock(&self.state);
        // (A zero timeout takes what there is; loom's timed waits never time out.)
        if idle(&state) && timeout != Some(Duration::ZERO) {
            state.consumer_waiting = true;
            state = match timeout {
                Some(timeout) => wait_timeout(&self.not_empty, state, timeout),
                None => {
                    while idle(&state) {
                        state = wait_on(&self.not_empty, state);
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
            queue.push(i, 1).unwrap();
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
        queue.try_push(1, 1).unwrap();
        queue.try_push(2, 1).unwrap();
        assert_eq!(queue.try_push(3, 1), Err(TryPushError::Full(3)));
    }

    #[test]
    fn weights_bound_the_queue_and_a_heavy_item_enters_alone() {
        let queue = Queue::new(10);
        queue.try_push("a", 6).unwrap();
        assert_eq!(queue.try_push("b", 5), Err(TryPushError::Full("b")));
        queue.try_push("c", 4).unwrap();
        assert_eq!(queue.pop(None), Ok("a"));
        queue.try_push("b", 5).unwrap();
        let mut out = VecDeque::new();
        queue.drain_into(&mut out, None);
        assert_eq!(out, ["c", "b"]);
        // Heavier than the whole capacity: refused while anything is queued, let in alone.
        queue.try_push("small", 1).unwrap();
        assert_eq!(queue.try_push("huge", 50), Err(TryPushError::Full("huge")));
        out.clear();
        queue.drain_into(&mut out, None);
        queue.try_push("huge", 50).unwrap();
        assert_eq!(queue.try_push("next", 1), Err(TryPushError::Full("next")));
    }

    #[test]
    fn push_waits_for_room() {
        let queue = Arc::new(Queue::new(1));
        queue.push(1, 1).unwrap();
        let producer = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || queue.push(2, 1))
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
        queue.push(1, 1).unwrap();
        queue.close();
        assert_eq!(queue.push(2, 1), Err(2));
        assert_eq!(queue.try_push(3, 1), Err(TryPushError::Closed(3)));
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
                        queue.push(p * 10, 1).unwrap();
                        queue.push(p * 10 + 1, 1).unwrap();
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
            queue.push(0, 1).unwrap();
            let producer = {
                let queue = Arc::clone(&queue);
                thread::spawn(move || queue.push(1, 1))
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
            if queue.push((21, sender), 1).is_ok() {
                assert_eq!(
                    receiver.wait(Some(&crate::ack::SpinGate::for_this_machine())),
                    Some(42)
                );
            }
            closer.join().unwrap();
            committer.join().unwrap();
        });
    }
}
