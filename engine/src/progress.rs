//! Progress reports for long work (log replay, snapshots): a line at most every
//! [`INTERVAL`] while it runs and one with the totals when it is done, so whoever
//! watches a long open or snapshot sees that it moves, and how fast.

use std::time::{Duration, Instant};

/// The least time between two reports of one task.
const INTERVAL: Duration = Duration::from_secs(2);

/// One long task's reporter.
pub(crate) struct Progress {
    task: &'static str,
    started: Instant,
    last_report: Instant,
}

impl Progress {
    /// Starts timing `task` (named in every report, e.g. "log replay").
    pub(crate) fn start(task: &'static str) -> Self {
        let now = Instant::now();
        Progress {
            task,
            started: now,
            last_report: now,
        }
    }

    /// Reports `items` and `bytes` done so far, if the last report is old enough.
    /// Cheap enough to call per item.
    pub(crate) fn tick(&mut self, items: u64, bytes: u64) {
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
