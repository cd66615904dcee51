//! The data directory: its lock, and the numbered files it holds (log segments
//! `wal-<first LSN>.log`, snapshots `snap-<LSN>.chiral`).
//!
//! One process owns a directory at a time.
//! The owner holds an exclusive advisory lock on `LOCK` for as long as the database
//! is open, and writes its pid into the file so that a second opener can say who has
//! it. The kernel drops the lock when the owner exits, however it exits, so a crash
//! never leaves a stale lock behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file's name in the data directory.
pub(crate) const LOCK_FILE: &str = "LOCK";
/// The file that names the data's history: a random id in 16 hex digits.
pub(crate) const DATASET_FILE: &str = "DATASET";

/// Why the directory could not be locked.
pub(crate) enum LockError {
    /// Another process holds it; its pid, if the file names one.
    Held {
        path: PathBuf,
        owner_pid: Option<u32>,
    },
    /// The lock file could not be opened, locked or written.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The held lock; dropping it releases the directory.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

/// Takes the lock of `dir` and records our pid in it.
pub(crate) fn lock(dir: &Path) -> Result<DirLock, LockError> {
    let path = dir.join(LOCK_FILE);
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            let owner_pid = file
                .read_to_string(&mut text)
                .ok()
                .and_then(|_| text.trim().parse().ok());
            return Err(LockError::Held { path, owner_pid });
        }
        Err(TryLockError::Error(source)) => return Err(io(source)),
    }
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(DirLock { _file: file })
}

/// The id of the data in `dir`: read from its [`DATASET_FILE`], or, in a directory
/// without one, drawn at random and written durably (temporary file, fsync, rename,
/// directory fsync) unless `read_only`.
pub(crate) fn dataset_id(dir: &Path, read_only: bool) -> std::io::Result<u64> {
    let path = dir.join(DATASET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let text = text.trim();
            if text.len() != 16 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "the dataset id is not 16 hex digits",
                ));
            }
            u64::from_str_radix(text, 16).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "the dataset id is not 16 hex digits",
                )
            })
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let id = crate::hash::random_u64();
            if !read_only {
                let temporary = dir.join(format!("{DATASET_FILE}.tmp"));
                let mut file = File::create(&temporary)?;
                writeln!(file, "{id:016x}")?;
                file.sync_all()?;
                std::fs::rename(&temporary, &path)?;
                crate::wal::sync_dir(dir)?;
            }
            Ok(id)
        }
        Err(error) => Err(error),
    }
}

/// The name of a numbered file: `prefix`, the number in 20 digits, `suffix`.
pub(crate) fn numbered_name(prefix: &str, number: u64, suffix: &str) -> String {
    format!("{prefix}{number:020}{suffix}")
}

/// The number in a file name made by [`numbered_name`] with this prefix and suffix.
pub(crate) fn parse_numbered(name: &str, prefix: &str, suffix: &str) -> Option<u64> {
    let digits = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The numbered files of one kind in `dir`, by number, as (number, path).
pub(crate) fn list_numbered(
    dir: &Path,
    prefix: &str,
    suffix: &str,
) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(number) = entry
            .file_name()
            .to_str()
            .and_then(|name| parse_numbered(name, prefix, suffix))
        {
            found.push((number, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}
