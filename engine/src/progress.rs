//! Progress reports for long work (log replay, snapshots): a line at most every
//! [`INTERVAL`] while it runs and one with the totals when it is done, so whoever
//! watches a long open or snapshot sees that it moves, and how fast.

use std::time::{Duration, Instant};

/// The least time between two reports of one task.
const INTERVAL: Duration = Duration::from_secs(2);

/// Ticks between two looks at the clock: a clock read per item was 6% of a
/// snapshot's time.
const TICKS_PER_CLOCK_READ: u32 = 1024;

/// One long task's reporter.
pub(crate) struct Progress {
    task: &'static str,
    started: Instant,
    last_report: Instant,
    /// Ticks since the clock was last read.
    ticks: u32,
}

impl Progress {
    /// Starts timing `task` (named in every report, e.g. "log replay").
    pub(crate) fn start(task: &'static str) -> Self {
        let now = Instant::now();
        Progress {
            task,
            started: now,
            last_report: now,
            ticks: 0,
        }
    }

    /// Reports `items` and `bytes` done so far, if the last report is old enough.
    /// Cheap enough to call per item: it reads the clock once every
    /// [`TICKS_PER_CLOCK_READ`] calls.
    pub(crate) fn tick(&mut self, items: u64, bytes: u64) {
        self.ticks += 1;
        if self.ticks < TICKS_PER_CLOCK_READ {
            return;
        }
        self.ticks = 0;
        if self.last_report.elapsed() >= INTERVAL {
            self.last_report = Instant::now();
            self.report("in progress", items, bytes);
        }
    }

    /// Reports the totals.
    pub(crate) fn finish(self, items: u64, bytes: u64) {
        self.report("done", items, bytes);
    }

    fn report(&self, state: &'static str, items: u64, bytes: u64) {
        let seconds = self.started.elapsed().as_secs_f64();
        let per_second = |count: u64| {
            if seconds > 0.0 {
                (count as f64 / seconds).round()
            } else {
                0.0
            }
        };
        tracing::info!(
            task = self.task,
            items,
            bytes,
            seconds,
            items_per_s = per_second(items),
            bytes_per_s = per_second(bytes),
            "{state}"
        );
    }
}
