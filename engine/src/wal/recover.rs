//! Reading the log back at open: every record after the snapshot's LSN, in order,
//! handed to the caller to replay.
//!
//! A crash can leave the last segment with a torn tail: a record cut short or
//! half-written, with nothing valid after it. That tail was never acknowledged as
//! durable, so it is cut off, with a warning naming the file and offset. Damage
//! anywhere else (a bad record followed by valid ones, a bad record in an older
//! segment, a gap in the LSNs) means data the log once held is gone: the open stops
//! with an error naming the file and offset, unless the caller asked to repair, in
//! which case the log is cut at the damage and everything after it dropped.
//!
//! A segment's file may end in zeros: space the log allocated ahead of its records
//! (see [`crate::wal`]). Zeros from a record's start to the end of the file are the
//! end of the segment's records, not damage. Zeros followed by anything else are
//! damage as above; and a segment that ended early in its zeros is caught by the
//! next one, whose first record's LSN would then not follow.

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::entry::Lsn;
use crate::progress::Progress;
use crate::wal::codec::{self, Payload};
use crate::wal::frame::{self, BadFrame, SEGMENT_HEADER_BYTES};
use crate::wal::{Resume, list_segments};

/// Why the log could not be recovered.
#[derive(Debug, Error)]
pub enum RecoveryError {
    /// A log file could not be read, listed or repaired.
    #[error("log I/O error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A damaged record (or segment header) that is not a torn tail.
    #[error(
        "corrupt log record in {path} at offset {offset}: {reason} (open with `repair` to cut the log there, losing everything after it)"
    )]
    Corrupt {
        /// The segment.
        path: PathBuf,
        /// Where the damage starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A record that decodes but cannot be applied: the log does not match the state
    /// it is replayed onto.
    #[error("log record LSN {lsn} in {path} at offset {offset} cannot be replayed: {reason}")]
    Replay {
        /// The segment.
        path: PathBuf,
        /// Where the record starts.
        offset: u64,
        /// Its LSN.
        lsn: Lsn,
        /// Why it failed.
        reason: String,
    },
}

/// What recovery found.
pub(crate) struct Recovered {
    /// Where appending resumes, if the last segment can take more records.
    pub(crate) resume: Option<Resume>,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> RecoveryError {
    let path = path.to_path_buf();
    move |source| RecoveryError::Io { path, source }
}

/// Replays every record of the log in `dir` with an LSN after `after_lsn` through
/// `apply`. With `writable`, a torn tail is cut off the file (and, with `repair`,
/// damage elsewhere too); without, the file is left as it is.
pub(crate) fn recover(
    dir: &Path,
    after_lsn: Lsn,
    writable: bool,
    repair: bool,
    apply: impl FnMut(Lsn, Payload) -> Result<(), String>,
) -> Result<Recovered, RecoveryError> {
    let segments = list_segments(dir).map_err(io_error(dir))?;
    replay(&segments, after_lsn, writable, repair, apply)
}

fn replay(
    segments: &[(Lsn, PathBuf)],
    after_lsn: Lsn,
    writable: bool,
    repair: bool,
    mut apply: impl FnMut(Lsn, Payload) -> Result<(), String>,
) -> Result<Recovered, RecoveryError> {
    let mut progress = Progress::start("log replay");
    let (mut records, mut bytes) = (0u64, 0u64);
    let mut last_lsn = after_lsn;
    let mut resume = None;
    let count = segments.len();
    for (index, (first_lsn, path)) in segments.iter().enumerate() {
        let is_last = index + 1 == count;
        let data = std::fs::read(path).map_err(io_error(path))?;
        let corrupt = |offset: usize, reason: String| RecoveryError::Corrupt {
            path: path.clone(),
            offset: offset as u64,
            reason,
        };
        if let Err(reason) = frame::check_segment_header(&data) {
            // A crash right after creating the last segment can leave its header short.
            if is_last && data.len() < SEGMENT_HEADER_BYTES {
                tracing::warn!(path = %path.display(), "the last log segment has no complete header; rewriting it");
                if writable {
                    std::fs::remove_file(path).map_err(io_error(path))?;
                }
                break;
            }
            return Err(corrupt(0, reason.into()));
        }
        let mut offset = SEGMENT_HEADER_BYTES;
        let mut damage = None;
        while offset < data.len() {
            let frame = match frame::read_frame(&data, offset) {
                Ok(frame) => frame,
                Err(bad) => {
                    damage = Some(bad);
                    break;
                }
            };
            if offset == SEGMENT_HEADER_BYTES && frame.lsn != *first_lsn {
                return Err(corrupt(
                    offset,
                    format!(
                        "the segment is named for LSN {first_lsn} but starts at LSN {}",
                        frame.lsn
                    ),
                ));
            }
            if frame.lsn > after_lsn {
                if frame.lsn != last_lsn + 1 {
                    return Err(corrupt(
                        offset,
                        format!(
                            "expected LSN {} but found LSN {}: records are missing",
                            last_lsn + 1,
                            frame.lsn
                        ),
                    ));
                }
                let replay_error = |reason: String| RecoveryError::Replay {
                    path: path.clone(),
                    offset: offset as u64,
                    lsn: frame.lsn,
                    reason,
                };
                let payload = codec::decode(frame.payload)
                    .map_err(|error| replay_error(error.to_string()))?;
                apply(frame.lsn, payload).map_err(replay_error)?;
                last_lsn = frame.lsn;
                records += 1;
                bytes += (frame::RECORD_HEADER_BYTES + frame.payload.len()) as u64;
            } else {
                last_lsn = last_lsn.max(frame.lsn);
            }
            offset += frame::RECORD_HEADER_BYTES + frame.payload.len();
            progress.tick(records, bytes);
        }
        if let Some(BadFrame { offset, .. }) = damage
            && data[offset..].iter().all(|&byte| byte == 0)
        {
            // Allocated ahead, never written: the end of this segment's records.
            if is_last {
                resume = Some(Resume {
                    path: path.clone(),
                    len_bytes: offset as u64,
                });
            }
            continue;
        }
        if let Some(BadFrame { offset, reason }) = damage {
            let later =
                frame::valid_frame_after(&data, offset + 1, last_lsn + 1..=last_lsn + (1 << 32));
            let torn = is_last && later.is_none();
            if !torn && !repair {
                return Err(corrupt(offset, reason.into()));
            }
            if torn {
                tracing::warn!(
                    path = %path.display(),
                    offset,
                    dropped_bytes = data.len() - offset,
                    reason,
                    "cutting off a torn tail of the log (a write the crash interrupted, never acknowledged as durable)"
                );
            } else {
                tracing::error!(
                    path = %path.display(),
                    offset,
                    reason,
                    "repairing the log: cutting it at corrupt record; everything after it is lost"
                );
            }
            if writable {
                cut(path, offset as u64).map_err(io_error(path))?;
                for (_, later_path) in &segments[index + 1..] {
                    std::fs::remove_file(later_path).map_err(io_error(later_path))?;
                }
            }
            resume = Some(Resume {
                path: path.clone(),
                len_bytes: offset as u64,
            });
            break;
        }
        if is_last {
            resume = Some(Resume {
                path: path.clone(),
                len_bytes: data.len() as u64,
            });
        }
    }
    progress.finish(records, bytes);
    Ok(Recovered { resume })
}

/// Truncates `path` to `len` bytes and syncs it.
fn cut(path: &Path, len: u64) -> std::io::Result<()> {
    let file = std::fs::OpenOptions::new().write(true).open(path)?;
    file.set_len(len)?;
    file.sync_all()
}
