//! Reading the log back at open: every record after the snapshot's LSN, in order,
//! handed to the caller to replay.
//!
//! A crash can leave damage among the records that were not on disk yet: a record
//! cut short or half-written at the end (a torn tail), or, after a power cut, a hole
//! where some of the last records' pages never reached the disk while later ones
//! did (the filesystem writes a file's pages back in no promised order until an
//! fdatasync returns). None of those records was acknowledged as durable, so the log
//! is cut at the damage, with a warning naming the file, the offset and the records
//! dropped after it.
//!
//! Damage to a record that was on disk is different: data the log once held is
//! gone, and the open stops with an error naming the file and offset, unless the
//! caller asked to repair, in which case the log is cut at the damage and everything
//! after it dropped. Which of the two it is, every later record says: each carries
//! the LSN up to which the log was synced when it was written (see [`frame`]). If
//! any valid record after the damage (in its segment or a later one) says the lost
//! record was synced, the loss is corruption; if none does, the lost record may
//! never have reached the disk, and the damage is a crash's. (Format 1 records do
//! not say, and count as saying it was: the strict reading.) A damaged record that
//! was synced with no record after it to say so is taken for a crash's too: only
//! its own sync could have told, and the disk lost that.
//!
//! A segment's file may end in zeros: space the log allocated ahead of its records
//! (see [`crate::wal`]). Zeros from a record's start to the end of the file are the
//! end of the segment's records, not damage. If the segment ended early in its
//! zeros, the next segment's first record does not follow, and the same rule tells
//! a crash's hole from lost data. So it does for a segment whose header is damaged
//! (a rotation syncs the new segment's header in the background): the log ends
//! before it unless a record says its first record was synced.

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::entry::Lsn;
use crate::progress::Progress;
use crate::wal::codec::{self, Payload};
use crate::wal::frame::{self, BadFrame, Format, SEGMENT_HEADER_BYTES};
use crate::wal::{Resume, list_segments};

/// Why the log could not be recovered.
#[derive(Debug, Error)]
pub enum RecoveryError {
    /// A log file could not be read, listed or repaired.
    #[error("log I/O error on {path}: {error}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error (in the message, so not also a `source`).
        error: std::io::Error,
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
    /// Where appending resumes, if the last segment can take more records (of the
    /// format this code writes: a format 1 segment is left as it is, and the next
    /// record starts a new segment).
    pub(crate) resume: Option<Resume>,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> RecoveryError {
    let path = path.to_path_buf();
    move |error| RecoveryError::Io { path, error }
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
    // Where the records of the last segment read so far end, and its format.
    let mut records_end: Option<(Resume, Format)> = None;
    'segments: for (index, (first_lsn, path)) in segments.iter().enumerate() {
        let is_last = index + 1 == segments.len();
        // A segment the snapshot covers (its successor starts at or before the
        // snapshot's next LSN), left by a crash before its deletion: nothing in it
        // is replayed, and damage in it loses nothing.
        if segments
            .get(index + 1)
            .is_some_and(|(next_first_lsn, _)| *next_first_lsn <= after_lsn + 1)
        {
            continue;
        }
        let data = std::fs::read(path).map_err(io_error(path))?;
        let corrupt = |offset: usize, reason: String| RecoveryError::Corrupt {
            path: path.clone(),
            offset: offset as u64,
            reason,
        };
        let format = match frame::check_segment_header(&data) {
            Ok(format) => format,
            // A crash right after creating the last segment can leave its header short.
            Err(_) if is_last && data.len() < SEGMENT_HEADER_BYTES => {
                tracing::warn!(path = %path.display(), "the last log segment has no complete header; rewriting it");
                if writable {
                    std::fs::remove_file(path).map_err(io_error(path))?;
                }
                // The next record starts a new segment, as it would have.
                records_end = None;
                break;
            }
            // A segment's header is synced in the background after a rotation: a
            // crash can lose it, and then the segment's records were not on disk
            // either, unless a record (its own, read as today's format, or a later
            // segment's) says they were.
            Err(reason) => {
                let later = later_records(segments, index, &data, Format::V2, 0, last_lsn + 1)?;
                if later.prove_synced && !repair {
                    return Err(corrupt(0, reason.into()));
                }
                let previous = records_end.take();
                cut_at(
                    previous.as_ref().map(|(end, _)| end),
                    &segments[index..],
                    later,
                    writable,
                    reason,
                )?;
                records_end = previous;
                break;
            }
        };
        let mut offset = SEGMENT_HEADER_BYTES;
        let mut damage = None;
        while offset < data.len() {
            let frame = match frame::read_frame(&data, offset, format) {
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
                    let reason = format!(
                        "expected LSN {} but found LSN {}: records are missing",
                        last_lsn + 1,
                        frame.lsn
                    );
                    // Records missing at a segment's start: the previous segment
                    // ended early, which a crash can do to records not yet on disk.
                    let Some(previous) = records_end
                        .take()
                        .filter(|_| offset == SEGMENT_HEADER_BYTES)
                    else {
                        return Err(corrupt(offset, reason));
                    };
                    let later =
                        later_records(segments, index, &data, format, offset, last_lsn + 1)?;
                    if later.prove_synced && !repair {
                        return Err(corrupt(offset, reason));
                    }
                    cut_at(
                        Some(&previous.0),
                        &segments[index..],
                        later,
                        writable,
                        &reason,
                    )?;
                    records_end = Some(previous);
                    break 'segments;
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
                bytes += frame.len_bytes as u64;
            } else {
                last_lsn = last_lsn.max(frame.lsn);
            }
            offset = frame.end();
            progress.tick(records, bytes);
        }
        let end = Resume {
            path: path.clone(),
            len_bytes: damage.map_or(data.len(), |bad| bad.offset) as u64,
        };
        let Some(BadFrame { offset, reason }) = damage else {
            records_end = Some((end, format));
            continue;
        };
        if data[offset..].iter().all(|&byte| byte == 0) {
            // Allocated ahead, never written: the end of this segment's records.
            records_end = Some((end, format));
            continue;
        }
        let later = later_records(segments, index, &data, format, offset + 1, last_lsn + 1)?;
        if later.prove_synced && !repair {
            return Err(corrupt(offset, reason.into()));
        }
        cut_at(Some(&end), &segments[index + 1..], later, writable, reason)?;
        records_end = Some((end, format));
        break;
    }
    progress.finish(records, bytes);
    Ok(Recovered {
        resume: records_end
            .filter(|(_, format)| *format == Format::V2)
            .map(|(end, _)| end),
    })
}

/// Checksum bytes a search after damage may compute per byte of the segment it
/// searches (see [`later_records`]).
const SEARCH_BUDGET_PER_BYTE: usize = 16;

/// What the valid records after some damage say about the record it took.
#[derive(Debug, Clone, Copy)]
struct Later {
    /// How many there are (all dropped with the damage).
    records: usize,
    /// Whether one says the lost record was on disk before it was written.
    prove_synced: bool,
}

/// The valid records after the damage at `from` in `segments[index]` (whose bytes
/// are `data`) and in every later segment, and whether one says that the record
/// with LSN `lost` was on disk (see the module doc). Records are searched byte by
/// byte: the damage may have hidden where the next one starts. A segment that costs
/// the search more checksum work than [`SEARCH_BUDGET_PER_BYTE`] times its size
/// (only a file made to: a real record's header rarely matches by chance) counts as
/// proof, the strict reading.
fn later_records(
    segments: &[(Lsn, PathBuf)],
    index: usize,
    data: &[u8],
    format: Format,
    from: usize,
    lost: Lsn,
) -> Result<Later, RecoveryError> {
    let mut later = Later {
        records: 0,
        prove_synced: false,
    };
    let mut scan = |data: &[u8], format: Format, mut from: usize| {
        let lsns = lost..=lost + (1 << 32);
        let mut budget = data.len().saturating_mul(SEARCH_BUDGET_PER_BYTE);
        loop {
            match frame::valid_frame_after(data, from, format, lsns.clone(), &mut budget) {
                Ok(Some(frame)) => {
                    later.records += 1;
                    later.prove_synced |= frame.proves_synced(lost);
                    from = frame.end();
                }
                Ok(None) => break,
                Err(frame::OutOfBudget) => {
                    tracing::warn!(
                        lost,
                        "the log after damage holds too many record headers to check; taking the damage for corruption"
                    );
                    later.prove_synced = true;
                    break;
                }
            }
        }
    };
    scan(data, format, from);
    for (_, path) in &segments[index + 1..] {
        let data = std::fs::read(path).map_err(io_error(path))?;
        if let Ok(format) = frame::check_segment_header(&data) {
            scan(&data, format, SEGMENT_HEADER_BYTES);
        }
    }
    Ok(later)
}

/// Cuts the log at `at` (with `writable`; else only stops reading there): the
/// segment is cut to that length and the segments `after` it are deleted (`None`:
/// the log's first segment is among them). A cut that dropped records a later one
/// says were synced is a repair.
fn cut_at(
    at: Option<&Resume>,
    after: &[(Lsn, PathBuf)],
    later: Later,
    writable: bool,
    reason: &str,
) -> Result<(), RecoveryError> {
    let (path, offset) = match (at, after.first()) {
        (Some(at), _) => (at.path.display(), at.len_bytes),
        (None, Some((_, first))) => (first.display(), 0),
        (None, None) => return Ok(()),
    };
    match (later.prove_synced, later.records) {
        (true, dropped_records) => tracing::error!(
            %path, offset, dropped_records, reason,
            "repairing the log: cutting it at a corrupt record; everything after it is lost"
        ),
        (false, 0) => tracing::warn!(
            %path, offset, reason,
            "cutting off a torn tail of the log (a write the crash interrupted, never acknowledged as durable)"
        ),
        (false, dropped_records) => tracing::warn!(
            %path, offset, dropped_records, reason,
            "cutting the log at a hole a crash left among records not yet on disk (none of them acknowledged as durable); the records after it are dropped"
        ),
    }
    if writable {
        if let Some(at) = at {
            cut(&at.path, at.len_bytes).map_err(io_error(&at.path))?;
        }
        for (_, later_path) in after {
            std::fs::remove_file(later_path).map_err(io_error(later_path))?;
        }
    }
    Ok(())
}

/// Truncates `path` to `len` bytes and syncs it.
fn cut(path: &Path, len: u64) -> std::io::Result<()> {
    let file = std::fs::OpenOptions::new().write(true).open(path)?;
    file.set_len(len)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::segment_name;

    /// One record: its LSN and the synced LSN its header carries.
    type Record = (Lsn, Lsn);

    /// A segment of `records`; where each starts.
    fn segment(records: &[Record]) -> (Vec<u8>, Vec<usize>) {
        let mut out = frame::segment_header().to_vec();
        let mut starts = Vec::new();
        for &(lsn, synced_lsn) in records {
            let start = frame::begin_record(&mut out);
            codec::begin_sweep(&mut out, 0);
            codec::encode_swept_key(&mut out, format!("key{lsn}").as_bytes());
            frame::seal_record(&mut out, start, lsn, synced_lsn);
            starts.push(start);
        }
        (out, starts)
    }

    /// Writes `segments` (each named for its first LSN) into a new directory.
    fn log_dir(segments: &[(Lsn, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (first_lsn, bytes) in segments {
            std::fs::write(dir.path().join(segment_name(*first_lsn)), bytes).unwrap();
        }
        dir
    }

    /// The LSNs replayed, and where appending resumes.
    fn replayed(dir: &Path, writable: bool) -> Result<(Vec<Lsn>, Option<u64>), RecoveryError> {
        replayed_after(dir, 0, writable)
    }

    /// The same, over a snapshot at `after_lsn`.
    fn replayed_after(
        dir: &Path,
        after_lsn: Lsn,
        writable: bool,
    ) -> Result<(Vec<Lsn>, Option<u64>), RecoveryError> {
        let mut lsns = Vec::new();
        let recovered = recover(dir, after_lsn, writable, false, |lsn, _| {
            lsns.push(lsn);
            Ok(())
        })?;
        Ok((lsns, recovered.resume.map(|resume| resume.len_bytes)))
    }

    /// Zeros from `at` to the end of the 4 KiB page it is in (or of the data): a page
    /// whose write never reached the disk reads back as the zeros allocated for it.
    fn unwritten_page(bytes: &mut [u8], at: usize) {
        let end = (((at / 4096) + 1) * 4096).min(bytes.len());
        bytes[at..end].fill(0);
    }

    #[test]
    fn a_hole_among_records_not_yet_synced_ends_the_log_there() {
        // Records 4.. were written after the sync of 1..3 and before any other.
        let records: Vec<Record> = (1..=6).map(|lsn| (lsn, (lsn - 1).min(3))).collect();
        let (mut bytes, starts) = segment(&records);
        let intact = bytes.clone();
        bytes[starts[3]..starts[4]].fill(0);
        let dir = log_dir(&[(1, &bytes)]);
        let path = dir.path().join(segment_name(1));
        // Read-only: replays up to the hole, cuts nothing.
        assert_eq!(replayed(dir.path(), false).unwrap().0, vec![1, 2, 3]);
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        let (lsns, resume) = replayed(dir.path(), true).unwrap();
        assert_eq!(lsns, vec![1, 2, 3]);
        assert_eq!(
            resume,
            Some(starts[3] as u64),
            "appending goes on at the hole"
        );
        assert_eq!(std::fs::read(&path).unwrap(), &intact[..starts[3]]);
        // A record after the hole that was written once the lost one was synced
        // proves the loss is not a crash's.
        let mut records = records;
        records[5].1 = 4;
        let (mut bytes, starts) = segment(&records);
        bytes[starts[3]..starts[4]].fill(0);
        let dir = log_dir(&[(1, &bytes)]);
        match replayed(dir.path(), true) {
            Err(RecoveryError::Corrupt { offset, .. }) => assert_eq!(offset, starts[3] as u64),
            other => panic!("expected corruption, got {:?}", other.map(|(lsns, _)| lsns)),
        }
        assert_eq!(
            std::fs::read(dir.path().join(segment_name(1))).unwrap(),
            bytes
        );
    }

    #[test]
    fn a_page_lost_inside_a_record_is_a_hole_too() {
        // Enough records to fill three pages, none synced.
        let records: Vec<Record> = (1..=500).map(|lsn| (lsn, 0)).collect();
        let (mut bytes, starts) = segment(&records);
        assert!(bytes.len() > 3 * 4096);
        let page = 4096 + 100;
        let hit = starts.iter().rposition(|&start| start <= page).unwrap();
        unwritten_page(&mut bytes, page);
        let dir = log_dir(&[(1, &bytes)]);
        let (lsns, resume) = replayed(dir.path(), true).unwrap();
        assert_eq!(lsns, (1..=hit as u64).collect::<Vec<_>>());
        assert_eq!(resume, Some(starts[hit] as u64));
    }

    #[test]
    fn a_segment_a_crash_cut_short_ends_the_log_unless_a_later_record_says_it_was_synced() {
        // Records 1..4 in a closed segment whose last two never reached the disk;
        // the next segment was written before any sync.
        let (mut first, starts) = segment(&[(1, 0), (2, 0), (3, 0), (4, 0)]);
        first[starts[2]..].fill(0);
        let (second, _) = segment(&[(5, 0), (6, 0)]);
        let dir = log_dir(&[(1, &first), (5, &second)]);
        let (lsns, resume) = replayed(dir.path(), true).unwrap();
        assert_eq!(lsns, vec![1, 2]);
        assert_eq!(resume, Some(starts[2] as u64));
        assert_eq!(
            std::fs::read(dir.path().join(segment_name(1))).unwrap(),
            &first[..starts[2]]
        );
        assert!(
            !dir.path().join(segment_name(5)).exists(),
            "the segment after the hole is gone"
        );
        // The same, but a record of the next segment was written after record 3
        // was synced: records the disk held are missing.
        let (second, _) = segment(&[(5, 0), (6, 3)]);
        let dir = log_dir(&[(1, &first), (5, &second)]);
        match replayed(dir.path(), true) {
            Err(RecoveryError::Corrupt { path, reason, .. }) => {
                assert_eq!(path, dir.path().join(segment_name(5)));
                assert!(reason.contains("records are missing"), "{reason}");
            }
            other => panic!("expected corruption, got {:?}", other.map(|(lsns, _)| lsns)),
        }
        assert!(
            dir.path().join(segment_name(5)).exists(),
            "nothing was deleted"
        );
    }

    #[test]
    fn a_segment_whose_header_a_crash_lost_is_dropped_unless_proven_synced() {
        let (first, _) = segment(&[(1, 0), (2, 1)]);
        let (mut second, _) = segment(&[(3, 2), (4, 2)]);
        second[..SEGMENT_HEADER_BYTES].fill(0);
        let (third, _) = segment(&[(5, 2)]);
        let dir = log_dir(&[(1, &first), (3, &second), (5, &third)]);
        let (lsns, resume) = replayed(dir.path(), true).unwrap();
        assert_eq!(lsns, vec![1, 2]);
        assert_eq!(resume, Some(first.len() as u64));
        for lsn in [3, 5] {
            assert!(!dir.path().join(segment_name(lsn)).exists());
        }
        // A record written once record 3 was synced: the header was on disk too.
        let (third, _) = segment(&[(5, 3)]);
        let dir = log_dir(&[(1, &first), (3, &second), (5, &third)]);
        match replayed(dir.path(), true) {
            Err(RecoveryError::Corrupt { path, offset, .. }) => {
                assert_eq!((path, offset), (dir.path().join(segment_name(3)), 0));
            }
            other => panic!("expected corruption, got {:?}", other.map(|(lsns, _)| lsns)),
        }
        // The log's first segment: nothing is left, and a new segment starts.
        let (mut only, _) = segment(&[(1, 0), (2, 0)]);
        only[..SEGMENT_HEADER_BYTES].fill(0);
        let dir = log_dir(&[(1, &only)]);
        assert_eq!(replayed(dir.path(), true).unwrap(), (vec![], None));
        assert!(!dir.path().join(segment_name(1)).exists());
    }

    #[test]
    fn a_search_through_a_hostile_segment_stops_and_counts_as_proof() {
        // After one record, a megabyte of record headers that each name the next LSN
        // and claim 64 KiB: each a checksum of 64 KiB, 40,000 of them.
        let (mut bytes, _) = segment(&[(1, 0)]);
        let mut header = [0u8; frame::RECORD_HEADER_BYTES];
        header[..4].copy_from_slice(&(1u32 << 16).to_le_bytes());
        header[4..12].copy_from_slice(&2u64.to_le_bytes());
        while bytes.len() < 1 << 20 {
            bytes.extend_from_slice(&header);
        }
        let dir = log_dir(&[(1, &bytes)]);
        assert!(matches!(
            replayed(dir.path(), true),
            Err(RecoveryError::Corrupt { .. })
        ));
    }

    #[test]
    fn segments_a_snapshot_covers_are_not_read() {
        // A snapshot at LSN 4; its segments' deletion did not happen before a crash,
        // and one of them is damaged past any reading.
        let (first, _) = segment(&[(1, 0), (2, 0)]);
        let (mut second, _) = segment(&[(3, 2), (4, 2)]);
        second.iter_mut().for_each(|byte| *byte ^= 0x5a);
        let (third, _) = segment(&[(5, 4), (6, 4)]);
        let dir = log_dir(&[(1, &first), (3, &second), (5, &third)]);
        let (lsns, resume) = replayed_after(dir.path(), 4, true).unwrap();
        assert_eq!(lsns, vec![5, 6]);
        assert_eq!(resume, Some(third.len() as u64));
        assert!(dir.path().join(segment_name(3)).exists(), "nothing was cut");
    }

    #[test]
    fn format_1_segments_are_read_and_never_appended_to() {
        // A format 1 segment (16-byte record headers without a synced LSN).
        let mut payload = Vec::new();
        codec::begin_sweep(&mut payload, 0);
        codec::encode_swept_key(&mut payload, b"key");
        let bytes = frame::tests::v1_segment_of(&[(1, &payload), (2, &payload), (3, &payload)]);
        let starts: Vec<_> = (0..3)
            .map(|index| SEGMENT_HEADER_BYTES + index * (16 + payload.len()))
            .collect();
        let dir = log_dir(&[(1, &bytes)]);
        assert_eq!(replayed(dir.path(), true).unwrap(), (vec![1, 2, 3], None));
        // Format 1 cannot say what was synced, so damage before a valid record is
        // taken for corruption, as it always was.
        let mut damaged = bytes.clone();
        damaged[starts[1]..starts[2]].fill(0);
        let dir = log_dir(&[(1, &damaged)]);
        assert!(matches!(
            replayed(dir.path(), true),
            Err(RecoveryError::Corrupt { .. })
        ));
    }
}
