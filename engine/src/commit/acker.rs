//! Answering writers off the commit thread.
//!
//! Waking a sleeping writer is a system call, and the kernel's wake-up of its thread
//! costs the waker a few microseconds of CPU. Woken one after the other by the commit
//! thread, 64 `Durable` writers kept it busy between one fsync and the next while the
//! disk sat idle (`try_to_wake_up` was 30% of all samples). Large groups of such
//! answers go to this thread instead, which wakes their writers while the commit
//! thread writes and syncs the next group. Small groups, and `Visible` answers (the
//! server's), are still sent by the commit thread: a handoff would add latency where
//! there is little to win.
//!
//! An answer is handed over only once its batch is published and synced, so it tells
//! nothing the commit thread has not done. Closing answers everything handed over
//! before the thread exits (a closed queue still drains).

use std::collections::VecDeque;

use crate::ack::AckSender;
use crate::queue::{Drained, Queue};
use crate::sync::Arc;

/// Groups waiting for the thread at most (the commit thread waits for room beyond).
const GROUPS_QUEUED: usize = 64;

/// Answers and who they go to.
type Group<T> = Vec<(AckSender<T>, T)>;

/// The thread that sends handed-over answers; dropping it closes and joins it.
pub(super) struct Acker<T> {
    queue: Arc<Queue<Group<T>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl<T: Send + 'static> Acker<T> {
    /// Starts the thread.
    pub(super) fn spawn() -> std::io::Result<Self> {
        let queue = Arc::new(Queue::new(GROUPS_QUEUED));
        let thread = {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name("chiral-acks".into())
                .spawn(move || answer_all(&queue))?
        };
        Ok(Acker {
            queue,
            thread: Some(thread),
        })
    }

    /// Hands `group` to the thread.
    pub(super) fn send(&self, group: Group<T>) {
        if let Err(group) = self.queue.push(group, 1) {
            // The queue closes only in `drop`, after the last send; answer here anyway.
            answer(group);
        }
    }
}

impl<T> Drop for Acker<T> {
    fn drop(&mut self) {
        self.queue.close();
        if let Some(thread) = self.thread.take() {
            // The thread only sends answers: a panic there abandoned its writers,
            // who were woken with `None` by the dropped senders.
            let _ = thread.join();
        }
    }
}

/// The thread's loop: answers every group handed over, until the queue is closed
/// and empty.
fn answer_all<T>(queue: &Queue<Group<T>>) {
    let mut groups = VecDeque::new();
    loop {
        let drained = queue.drain_into(&mut groups, None);
        groups.drain(..).for_each(answer);
        if drained == Drained::Closed {
            return;
        }
    }
}

fn answer<T>(group: Group<T>) {
    for (ack, value) in group {
        ack.send(value);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::ack::{SpinGate, channel};

    #[test]
    fn every_handed_answer_arrives_and_close_waits_for_them() {
        let acker = Acker::spawn().unwrap();
        let mut receivers = Vec::new();
        for group in 0..100u32 {
            let (senders, rx): (Vec<_>, Vec<_>) = (0..8u32)
                .map(|i| {
                    let (tx, rx) = channel();
                    ((tx, group * 8 + i), rx)
                })
                .unzip();
            acker.send(senders);
            receivers.extend(rx);
        }
        drop(acker);
        let gate = SpinGate::for_this_machine();
        for (expected, rx) in receivers.into_iter().enumerate() {
            assert_eq!(rx.wait(Some(&gate)), Some(expected as u32));
        }
    }
}

#[cfg(all(loom, test))]
mod loom_models {
    use super::*;

    /// An answer handed over just before the close still reaches its writer.
    #[test]
    fn handed_answers_arrive_even_when_closing() {
        loom::model(|| {
            let queue = Arc::new(Queue::new(GROUPS_QUEUED));
            let (tx, rx) = crate::ack::channel();
            let thread = {
                let queue = Arc::clone(&queue);
                loom::thread::spawn(move || answer_all(&queue))
            };
            if let Err(group) = queue.push(vec![(tx, 7u32)], 1) {
                answer(group);
            }
            queue.close();
            assert_eq!(rx.wait(None), Some(7));
            thread.join().unwrap();
        });
    }
}
