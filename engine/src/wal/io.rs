//! The log's I/O layer: how bytes reach a segment file and the disk.
//!
//! Two backends write the same bytes: io_uring (one submission per group: the write
//! linked to its fdatasync) and std (`pwrite` then `fdatasync`). `IoBackend::Auto`
//! probes io_uring at open and falls back to std when the kernel or a container's
//! seccomp profile refuses it. A fault-injecting wrapper ([`Faults`]) sits on top of
//! either for tests.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use crate::options::IoBackend;
use crate::wal::faults::{Faults, FaultyIo};
use crate::wal::uring::UringIo;

/// Writes and syncs segment files.
pub(crate) trait LogIo: Send {
    /// Writes all of `bytes` at `offset` of `file`; then, if `sync`, fdatasyncs it.
    /// On error, how much was written is unknown.
    fn write_at(&mut self, file: &File, bytes: &[u8], offset: u64, sync: bool) -> io::Result<()>;

    /// fdatasyncs `file`. A failed sync is never retried by the caller: the kernel may
    /// have dropped the dirty pages it could not write.
    fn sync(&mut self, file: &File) -> io::Result<()>;

    /// The backend's name, for logs and INFO.
    fn name(&self) -> &'static str;
}

/// The std backend: positioned writes and `File::sync_data`.
pub(crate) struct StdIo;

impl LogIo for StdIo {
    fn write_at(&mut self, file: &File, bytes: &[u8], offset: u64, sync: bool) -> io::Result<()> {
        file.write_all_at(bytes, offset)?;
        if sync {
            file.sync_data()?;
        }
        Ok(())
    }

    fn sync(&mut self, file: &File) -> io::Result<()> {
        file.sync_data()
    }

    fn name(&self) -> &'static str {
        "std"
    }
}

/// The backend of the log's background syncer: plain `fdatasync`, which a thread of
/// its own does as well as a ring would (it has nothing to overlap the sync with),
/// wrapped in `faults` if given.
pub(crate) fn background_backend(faults: Option<&Faults>) -> Box<dyn LogIo> {
    match faults {
        Some(faults) => Box::new(FaultyIo::new(Box::new(StdIo), faults.clone())),
        None => Box::new(StdIo),
    }
}

/// Builds the backend `choice` asks for, wrapped in `faults` if given.
pub(crate) fn open_backend(
    choice: IoBackend,
    faults: Option<&Faults>,
) -> io::Result<Box<dyn LogIo>> {
    let backend: Box<dyn LogIo> = match choice {
        IoBackend::Std => Box::new(StdIo),
        IoBackend::Uring => Box::new(UringIo::new()?),
        IoBackend::Auto => match UringIo::new() {
            Ok(uring) => Box::new(uring),
            Err(error) => {
                tracing::warn!(%error, "io_uring is not available; the log uses std I/O");
                Box::new(StdIo)
            }
        },
    };
    tracing::info!(backend = backend.name(), "log I/O backend chosen");
    Ok(match faults {
        Some(faults) => Box::new(FaultyIo::new(backend, faults.clone())),
        None => backend,
    })
}
