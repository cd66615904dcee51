//! Fault injection for the log's I/O: make writes fail, syncs fail, or the disk run
//! out of space after a number of bytes, on command; and a record of how much of each
//! file is on disk, from which a test builds what a power cut could leave. Crash and
//! fault tests use it to prove the log's failure handling; it is off unless
//! [`crate::Options::faults`] is set.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::wal::io::LogIo;

/// A switchboard of I/O faults, shared by a test and the log it controls.
#[derive(Clone, Debug, Default)]
pub struct Faults(Arc<FaultState>);

#[derive(Debug)]
struct FaultState {
    fail_writes: AtomicBool,
    fail_syncs: AtomicBool,
    /// Bytes that may still be written before writes fail with ENOSPC.
    space_bytes: AtomicU64,
    /// fdatasyncs that succeeded.
    syncs: AtomicU64,
    /// Per file, by inode number: where its furthest write ends, and where its
    /// furthest write ended when a sync of it last succeeded.
    files: Mutex<HashMap<u64, Extent>>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Extent {
    written_end: u64,
    synced_end: u64,
}

impl Default for FaultState {
    fn default() -> Self {
        FaultState {
            fail_writes: AtomicBool::new(false),
            fail_syncs: AtomicBool::new(false),
            space_bytes: AtomicU64::new(u64::MAX),
            syncs: AtomicU64::new(0),
            files: Mutex::new(HashMap::new()),
        }
    }
}

impl Faults {
    /// No faults, until told otherwise.
    pub fn new() -> Self {
        Faults::default()
    }

    /// Makes every write fail with EIO (writing nothing) while `on`.
    pub fn fail_writes(&self, on: bool) {
        self.0.fail_writes.store(on, Ordering::SeqCst);
    }

    /// Makes every fdatasync fail with EIO while `on`.
    pub fn fail_syncs(&self, on: bool) {
        self.0.fail_syncs.store(on, Ordering::SeqCst);
    }

    /// Lets `bytes` more bytes be written, then fails writes with ENOSPC (a write that
    /// crosses the limit writes its first bytes up to it, as a full disk does).
    pub fn no_space_after(&self, bytes: u64) {
        self.0.space_bytes.store(bytes, Ordering::SeqCst);
    }

    /// How many fdatasyncs (alone or with a write) have succeeded so far.
    pub fn syncs(&self) -> u64 {
        self.0.syncs.load(Ordering::SeqCst)
    }

    /// How many bytes at the start of the file at `path` are on disk: every write
    /// into them came before a sync of the file that succeeded. After a power cut the
    /// rest may hold any mix of what was written and what was there before. (0 for a
    /// file the log never synced.)
    pub fn synced_len(&self, path: &Path) -> io::Result<u64> {
        let inode = std::fs::metadata(path)?.ino();
        Ok(self.0.extent(inode).synced_end)
    }
}

impl FaultState {
    fn extent(&self, inode: u64) -> Extent {
        let files = self
            .files
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        files.get(&inode).copied().unwrap_or_default()
    }

    /// Records a write of `file` that succeeded (and its sync, if `synced`).
    fn wrote(&self, file: &File, end: u64, synced: bool) -> io::Result<()> {
        let inode = file.metadata()?.ino();
        let mut files = self
            .files
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let extent = files.entry(inode).or_default();
        extent.written_end = extent.written_end.max(end);
        if synced {
            extent.synced_end = extent.written_end;
        }
        Ok(())
    }
}

/// A backend wrapped so that [`Faults`] can break it.
pub(crate) struct FaultyIo {
    inner: Box<dyn LogIo>,
    faults: Faults,
}

impl FaultyIo {
    pub(crate) fn new(inner: Box<dyn LogIo>, faults: Faults) -> Self {
        FaultyIo { inner, faults }
    }
}

impl LogIo for FaultyIo {
    fn write_at(&mut self, file: &File, bytes: &[u8], offset: u64, sync: bool) -> io::Result<()> {
        let state = &self.faults.0;
        if state.fail_writes.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        let space = state.space_bytes.load(Ordering::SeqCst);
        if (bytes.len() as u64) > space {
            state.space_bytes.store(0, Ordering::SeqCst);
            let fits = &bytes[..space as usize];
            if !fits.is_empty() {
                self.inner.write_at(file, fits, offset, false)?;
                state.wrote(file, offset + space, false)?;
            }
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        if space != u64::MAX {
            state
                .space_bytes
                .store(space - bytes.len() as u64, Ordering::SeqCst);
        }
        if sync && state.fail_syncs.load(Ordering::SeqCst) {
            self.inner.write_at(file, bytes, offset, false)?;
            state.wrote(file, offset + bytes.len() as u64, false)?;
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        self.inner.write_at(file, bytes, offset, sync)?;
        if sync {
            state.syncs.fetch_add(1, Ordering::SeqCst);
        }
        state.wrote(file, offset + bytes.len() as u64, sync)
    }

    fn sync(&mut self, file: &File) -> io::Result<()> {
        if self.faults.0.fail_syncs.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        self.inner.sync(file)?;
        self.faults.0.syncs.fetch_add(1, Ordering::SeqCst);
        self.faults.0.wrote(file, 0, true)
    }

    fn name(&self) -> &'static str {
        self.inner.name()
    }
}
