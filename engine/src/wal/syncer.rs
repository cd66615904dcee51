//! The log's background thread: disk work no writer waits for, kept off the commit
//! path.
//!
//! An fdatasync of a second's worth of writes can take tens of milliseconds, and so
//! can deleting a large segment. On the commit thread, each would stall every writer
//! for its length: writers that commit their own groups (flat combining) wait for
//! the committer while it syncs. So the interval policy's syncs, the sync of a
//! segment closed by a rotation, the syncs that make a new segment durable (its
//! header, its directory entry) and the deletion of files a snapshot made redundant
//! run here, in order, as Redis's background I/O thread runs its `everysec` fsyncs.
//!
//! Invariants: jobs run in the order they were queued; [`Syncer::wait_idle`]
//! returns only once every job queued before it ran, so a `Durable` sync that first
//! waits here covers every closed segment (and the active one's creation) too; a
//! failed sync is reported once, and
//! the log that learns of it fails for good (a failed fsync is never retried).

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::path::PathBuf;

use crate::entry::Lsn;
use crate::sync::{Arc, AtomicBool, AtomicU64, Condvar, Mutex, Ordering, lock, thread, wait};
use crate::wal::io::LogIo;

/// Work for the background thread.
enum Job {
    /// fdatasync this segment file, which holds the records up to `through_lsn`.
    Sync {
        file: Arc<File>,
        path: PathBuf,
        through_lsn: Lsn,
    },
    /// fsync this directory (a segment was created in it).
    SyncDir(PathBuf),
    /// Delete these files (a failure only costs disk space, and is logged).
    Delete(Vec<PathBuf>),
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    /// A job is running (taken off `jobs`).
    running: bool,
    /// The first failed sync not yet reported.
    failure: Option<io::Error>,
    /// The syncer is dropped: finish the jobs, then exit.
    stopping: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Set with `State::failure`, so that the log's check before every group
    /// write takes no lock while nothing failed.
    failed: AtomicBool,
    /// Every record up to this LSN is on disk: the `through_lsn` of the last sync
    /// that succeeded with every job before it (jobs run in order, and a segment's
    /// records are all written before its sync is queued). Never moves after a
    /// failure.
    synced_lsn: AtomicU64,
    /// Signalled when a job is queued or the syncer stops.
    work: Condvar,
    /// Signalled when the thread finishes a job.
    done: Condvar,
}

/// The handle on the background thread; dropping it runs what is queued, then stops
/// the thread.
pub(crate) struct Syncer {
    shared: Arc<Shared>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Syncer {
    /// Starts the thread, which syncs through `io`.
    pub(crate) fn start(io: Box<dyn LogIo>) -> io::Result<Syncer> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            failed: AtomicBool::new(false),
            synced_lsn: AtomicU64::new(0),
            work: Condvar::new(),
            done: Condvar::new(),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("chiral-log-sync".into())
                .spawn(move || run(&shared, io))?
        };
        Ok(Syncer {
            shared,
            thread: Some(thread),
        })
    }

    /// Queues an fdatasync of `file` (at `path`, for messages), whose records run up
    /// to `through_lsn`, unless one is queued and not started yet: that one will
    /// cover what was written since, and now says so.
    pub(crate) fn sync(&self, file: &Arc<File>, path: &std::path::Path, through_lsn: Lsn) {
        let mut state = lock(&self.shared.state);
        let queued = state.jobs.iter_mut().find_map(|job| match job {
            Job::Sync {
                file: queued,
                through_lsn,
                ..
            } if Arc::ptr_eq(queued, file) => Some(through_lsn),
            _ => None,
        });
        match queued {
            Some(queued_through) => *queued_through = through_lsn.max(*queued_through),
            None => {
                state.jobs.push_back(Job::Sync {
                    file: Arc::clone(file),
                    path: path.to_path_buf(),
                    through_lsn,
                });
                self.shared.work.notify_one();
            }
        }
    }

    /// Every record up to this LSN is on disk, by the background syncs alone.
    pub(crate) fn synced_lsn(&self) -> Lsn {
        self.shared.synced_lsn.load(Ordering::Acquire)
    }

    /// Queues an fsync of the directory `dir`, so that a segment created in it
    /// survives a crash.
    pub(crate) fn sync_dir(&self, dir: &std::path::Path) {
        lock(&self.shared.state)
            .jobs
            .push_back(Job::SyncDir(dir.to_path_buf()));
        self.shared.work.notify_one();
    }

    /// Queues the deletion of `paths`.
    pub(crate) fn delete(&self, paths: Vec<PathBuf>) {
        if paths.is_empty() {
            return;
        }
        lock(&self.shared.state).jobs.push_back(Job::Delete(paths));
        self.shared.work.notify_one();
    }

    /// Whether queued work is not done yet.
    pub(crate) fn busy(&self) -> bool {
        let state = lock(&self.shared.state);
        state.running || !state.jobs.is_empty()
    }

    /// Waits until every job queued so far has run; the failure of a sync among
    /// them (or earlier, not yet reported), if any.
    pub(crate) fn wait_idle(&self) -> io::Result<()> {
        let mut state = lock(&self.shared.state);
        while state.running || !state.jobs.is_empty() {
            state = wait(&self.shared.done, state);
        }
        state.failure.take().map_or(Ok(()), Err)
    }

    /// The failure of a background sync not yet reported, if any.
    pub(crate) fn take_failure(&self) -> Option<io::Error> {
        if !self.shared.failed.load(Ordering::Acquire) {
            return None;
        }
        lock(&self.shared.state).failure.take()
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        lock(&self.shared.state).stopping = true;
        self.shared.work.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Deletes `paths`, files a snapshot made redundant: a failure only costs disk
/// space (the next open starts from the newest snapshot), so it is logged.
pub(crate) fn delete_files(paths: Vec<PathBuf>) {
    for path in paths {
        if let Err(error) = std::fs::remove_file(&path) {
            tracing::warn!(path = %path.display(), %error, "could not delete a file a snapshot made redundant");
        }
    }
}

/// The thread: runs jobs in order until stopped with none left.
fn run(shared: &Shared, mut io: Box<dyn LogIo>) {
    let mut state = lock(&shared.state);
    loop {
        let Some(job) = state.jobs.pop_front() else {
            if state.stopping {
                return;
            }
            state = wait(&shared.work, state);
            continue;
        };
        state.running = true;
        drop(state);
        let mut synced_through = None;
        let failure = match job {
            Job::Sync {
                file,
                path,
                through_lsn,
            } => {
                let failure = io.sync(&file).err().map(|error| {
                    let path = path.display();
                    io::Error::new(error.kind(), format!("background sync of {path}: {error}"))
                });
                synced_through = Some(through_lsn).filter(|_| failure.is_none());
                failure
            }
            Job::SyncDir(dir) => super::sync_dir(&dir).err().map(|error| {
                let dir = dir.display();
                io::Error::new(error.kind(), format!("background sync of {dir}: {error}"))
            }),
            Job::Delete(paths) => {
                delete_files(paths);
                None
            }
        };
        state = lock(&shared.state);
        state.running = false;
        if let Some(error) = failure {
            state.failure.get_or_insert(error);
            shared.failed.store(true, Ordering::Release);
        }
        if let Some(lsn) = synced_through
            && !shared.failed.load(Ordering::Acquire)
        {
            shared.synced_lsn.fetch_max(lsn, Ordering::AcqRel);
        }
        shared.done.notify_all();
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::sync::{AtomicUsize, Ordering};

    /// Counts syncs; fails them when told.
    struct CountingIo {
        syncs: Arc<AtomicUsize>,
        fail: bool,
    }

    impl LogIo for CountingIo {
        fn write_at(&mut self, _: &File, _: &[u8], _: u64, _: bool) -> io::Result<()> {
            Ok(())
        }

        fn sync(&mut self, _: &File) -> io::Result<()> {
            self.syncs.fetch_add(1, Ordering::SeqCst);
            match self.fail {
                true => Err(io::Error::from_raw_os_error(libc::EIO)),
                false => Ok(()),
            }
        }

        fn name(&self) -> &'static str {
            "counting"
        }
    }

    /// Two segments' syncs queued in a row: once `wait_idle` returns, both ran, the
    /// records they hold count as synced unless one failed, and a failure among them
    /// is reported there, exactly once.
    #[test]
    fn wait_idle_covers_every_queued_sync() {
        for fail in [false, true] {
            loom::model(move || {
                let dir = std::env::temp_dir();
                let file = Arc::new(File::open(&dir).unwrap());
                let other = Arc::new(File::open(&dir).unwrap());
                let syncs = Arc::new(AtomicUsize::new(0));
                let io = CountingIo {
                    syncs: Arc::clone(&syncs),
                    fail,
                };
                let syncer = Syncer::start(Box::new(io)).unwrap();
                syncer.sync(&file, &dir, 1);
                syncer.sync(&other, &dir, 2);
                let outcome = syncer.wait_idle();
                assert_eq!(syncs.load(Ordering::SeqCst), 2);
                let synced = if fail { 0 } else { 2 };
                assert_eq!(
                    syncer.synced_lsn(),
                    synced,
                    "nothing counts as synced after a failure"
                );
                assert!(!syncer.busy());
                assert_eq!(outcome.is_err(), fail);
                assert!(syncer.take_failure().is_none(), "reported once");
            });
        }
    }
}
