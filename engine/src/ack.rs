//! The one-shot handoff of a batch's result from the commit thread to its writer.
//!
//! A writer that asked for `Ack::Visible` sleeps here until the commit thread has
//! published its batch. If the commit thread drops the sender without answering (the
//! database is closing), the writer wakes with `None` instead of sleeping forever.
//!
//! A commit takes a few microseconds, less than the cost of being put to sleep and
//! woken, so the writer first spins briefly on a flag and only then sleeps. Spinning
//! writers take CPU from the commit thread, so a [`SpinGate`] lets at most one per
//! spare core spin; the others sleep at once (measured: 8 writers on 2 cores went from
//! 121k to 80k acks/s when all of them spun). A writer that waits for an fsync
//! (`Ack::Durable`, a snapshot) does not spin at all: its answer is hundreds of
//! microseconds away (64 `Durable` writers spent a third of their CPU spinning).
//!
//! The flag is an optimization only: the answer always travels under the mutex,
//! which is what the loom models check (the spin is compiled out under loom).
//!
//! An async writer (the server) does not sleep on the condvar: it polls the receiver
//! as a future, which leaves its task's waker in the slot; settling wakes it.

use std::task::{Context, Poll, Waker};

use crate::sync::{Arc, AtomicBool, Condvar, Mutex, Ordering, lock, wait};

struct Slot<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
    /// Set (after `state` leaves `Waiting`) so a spinning writer can skip the sleep.
    settled: AtomicBool,
}

/// How long a writer polls `settled` before sleeping. Bounded in time, not in polls:
/// a spin-loop hint costs from a few to ~140 cycles depending on the CPU.
#[cfg(not(loom))]
const SPIN: std::time::Duration = std::time::Duration::from_micros(20);

enum State<T> {
    /// No answer yet: the waker of the task that last polled, if any, and whether a
    /// thread sleeps on the condvar (only then does settling notify it: a notify is a
    /// system call even with no one to wake).
    Waiting {
        waker: Option<Waker>,
        sleeping: bool,
    },
    Answered(T),
    Abandoned,
}

/// The commit thread's end: answers once, or abandons on drop.
pub(crate) struct AckSender<T> {
    slot: Option<Arc<Slot<T>>>,
}

/// The writer's end.
pub(crate) struct AckReceiver<T> {
    slot: Arc<Slot<T>>,
}

/// Creates a connected sender and receiver.
pub(crate) fn channel<T>() -> (AckSender<T>, AckReceiver<T>) {
    let slot = Arc::new(Slot {
        state: Mutex::new(State::Waiting {
            waker: None,
            sleeping: false,
        }),
        ready: Condvar::new(),
        settled: AtomicBool::new(false),
    });
    (
        AckSender {
            slot: Some(Arc::clone(&slot)),
        },
        AckReceiver { slot },
    )
}

impl<T> AckSender<T> {
    /// Hands `value` to the receiver and wakes it.
    pub(crate) fn send(mut self, value: T) {
        if let Some(slot) = self.slot.take() {
            settle(&slot, State::Answered(value));
        }
    }
}

impl<T> Drop for AckSender<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            settle(&slot, State::Abandoned);
        }
    }
}

fn settle<T>(slot: &Slot<T>, outcome: State<T>) {
    let mut state = lock(&slot.state);
    let State::Waiting { waker, sleeping } = std::mem::replace(&mut *state, outcome) else {
        unreachable!("an ack is settled once");
    };
    slot.settled.store(true, Ordering::Release);
    drop(state);
    if sleeping {
        slot.ready.notify_one();
    }
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// Rations spinning among waiting writers: at most `max_spinners` at a time.
// Under loom the spin is compiled out and the gate is carried but never read.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) struct SpinGate {
    spinners: crate::sync::AtomicUsize,
    max_spinners: usize,
}

impl SpinGate {
    /// A gate for this machine: one spinner per core beyond the commit thread's.
    pub(crate) fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        SpinGate {
            spinners: crate::sync::AtomicUsize::new(0),
            max_spinners: cores.saturating_sub(1),
        }
    }
}

impl<T> AckReceiver<T> {
    /// Spins for the answer if `gate` has room for one more spinner.
    #[cfg(not(loom))]
    fn spin_if_allowed(&self, gate: &SpinGate) {
        if gate.spinners.fetch_add(1, Ordering::AcqRel) < gate.max_spinners {
            self.spin();
        }
        gate.spinners.fetch_sub(1, Ordering::AcqRel);
    }

    /// Polls for the answer for up to [`SPIN`], checking the clock every 64 polls.
    #[cfg(not(loom))]
    fn spin(&self) {
        let deadline = std::time::Instant::now() + SPIN;
        loop {
            for _ in 0..64 {
                if self.slot.settled.load(Ordering::Acquire) {
                    return;
                }
                std::hint::spin_loop();
            }
            if std::time::Instant::now() >= deadline {
                return;
            }
        }
    }

    /// Waits for the answer; `None` if the sender was dropped without one. Spins first
    /// if given a gate and it allows; without one, sleeps at once.
    pub(crate) fn wait(self, spin: Option<&SpinGate>) -> Option<T> {
        #[cfg(not(loom))]
        if let Some(gate) = spin {
            self.spin_if_allowed(gate);
        }
        #[cfg(loom)]
        let _ = spin;
        let mut state = lock(&self.slot.state);
        loop {
            match std::mem::replace(&mut *state, State::Abandoned) {
                State::Waiting { waker, .. } => {
                    *state = State::Waiting {
                        waker,
                        sleeping: true,
                    };
                    state = wait(&self.slot.ready, state);
                }
                State::Answered(value) => return Some(value),
                State::Abandoned => return None,
            }
        }
    }

    /// Polls for the answer without blocking: `Ready(None)` if the sender was
    /// dropped without one; `Pending` leaves `cx`'s waker to be woken by the answer.
    /// After `Ready`, the answer is gone: later polls give `Ready(None)`.
    pub(crate) fn poll(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut state = lock(&self.slot.state);
        match std::mem::replace(&mut *state, State::Abandoned) {
            State::Waiting { waker, sleeping } => {
                let waker = match waker {
                    Some(waker) if waker.will_wake(cx.waker()) => waker,
                    _ => cx.waker().clone(),
                };
                *state = State::Waiting {
                    waker: Some(waker),
                    sleeping,
                };
                Poll::Pending
            }
            State::Answered(value) => Poll::Ready(Some(value)),
            State::Abandoned => Poll::Ready(None),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn answer_reaches_receiver() {
        let (tx, rx) = channel();
        std::thread::spawn(move || tx.send(7));
        assert_eq!(rx.wait(Some(&SpinGate::for_this_machine())), Some(7));
    }

    #[test]
    fn dropped_sender_wakes_receiver_with_none() {
        let (tx, rx) = channel::<u8>();
        std::thread::spawn(move || drop(tx));
        assert_eq!(rx.wait(Some(&SpinGate::for_this_machine())), None);
    }

    #[test]
    fn a_polled_receiver_is_woken_by_the_answer() {
        use std::sync::atomic::AtomicUsize;
        use std::task::Wake;
        struct Count(AtomicUsize);
        impl Wake for Count {
            fn wake(self: std::sync::Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let count = std::sync::Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(std::sync::Arc::clone(&count));
        let mut cx = Context::from_waker(&waker);
        let (tx, rx) = channel();
        assert_eq!(rx.poll(&mut cx), Poll::Pending);
        assert_eq!(
            rx.poll(&mut cx),
            Poll::Pending,
            "polling again keeps waiting"
        );
        tx.send(5);
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            1,
            "the answer woke the task"
        );
        assert_eq!(rx.poll(&mut cx), Poll::Ready(Some(5)));
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::thread;

    /// The receiver always wakes with the answer, whether it starts waiting before or
    /// after the commit thread answers.
    #[test]
    fn answer_is_never_lost() {
        loom::model(|| {
            let (tx, rx) = channel();
            let committer = thread::spawn(move || tx.send(42u32));
            assert_eq!(rx.wait(Some(&SpinGate::for_this_machine())), Some(42));
            committer.join().unwrap();
        });
    }

    /// A receiver polled as a future gets the answer, whether the commit thread
    /// answers before the first poll, between polls or after: the waker left by a
    /// `Pending` poll is always woken.
    #[test]
    fn polled_answer_is_never_lost() {
        loom::model(|| {
            let (tx, rx) = channel();
            let committer = thread::spawn(move || tx.send(42u32));
            let answer = loom::future::block_on(std::future::poll_fn(|cx| rx.poll(cx)));
            assert_eq!(answer, Some(42));
            committer.join().unwrap();
        });
    }

    /// A sender dropped unanswered (shutdown) wakes the receiver with `None`.
    #[test]
    fn abandoned_sender_wakes_receiver() {
        loom::model(|| {
            let (tx, rx) = channel::<u32>();
            let committer = thread::spawn(move || drop(tx));
            assert_eq!(rx.wait(Some(&SpinGate::for_this_machine())), None);
            committer.join().unwrap();
        });
    }
}
