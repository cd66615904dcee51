//! How records and segments are framed on disk, and how a segment's bytes are read
//! back with every check a torn or corrupt file needs.
//!
//! A segment starts with a 16-byte header: the magic `CHIRALOG`, the format version
//! (u32) and a CRC32C of those 12 bytes. Records follow back to back, each a header
//! then its payload. Format 2 (written since 2026-12-05) has a 24-byte header:
//!
//! ```text
//! offset 0   u32  payload length in bytes (little-endian, like every integer here)
//! offset 4   u64  LSN
//! offset 12  u64  synced LSN: every record up to it was on disk (fdatasync'd) when
//!                 this record was written
//! offset 20  u32  CRC32C of bytes 0..20 and the payload
//! offset 24  the payload (see `codec`)
//! ```
//!
//! Format 1 had no synced LSN (a 16-byte header: length, LSN, CRC32C of bytes 0..12
//! and the payload). Its segments are still read; new records always go to a
//! format 2 segment. The synced LSN is what tells recovery a hole that a power cut
//! left among records not yet on disk from the loss of records that were (see
//! [`crate::wal::recover`]).

use crate::entry::Lsn;

/// The bytes every segment starts with.
pub(crate) const SEGMENT_MAGIC: &[u8; 8] = b"CHIRALOG";
/// The segment format this code writes.
pub(crate) const SEGMENT_VERSION: u32 = 2;
/// The size of a segment header.
pub(crate) const SEGMENT_HEADER_BYTES: usize = 16;
/// The size of a record header in the format this code writes.
pub(crate) const RECORD_HEADER_BYTES: usize = 24;
/// The largest payload a record can hold (its length is a u32).
pub(crate) const MAX_PAYLOAD_BYTES: usize = u32::MAX as usize;

/// A segment's format, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Records without a synced LSN.
    V1,
    /// Records with one (what this code writes).
    V2,
}

impl Format {
    /// The size of a record header.
    pub(crate) fn record_header_bytes(self) -> usize {
        match self {
            Format::V1 => 16,
            Format::V2 => RECORD_HEADER_BYTES,
        }
    }
}

/// A segment's header, in the format this code writes.
pub(crate) fn segment_header() -> [u8; SEGMENT_HEADER_BYTES] {
    segment_header_of(SEGMENT_VERSION)
}

fn segment_header_of(version: u32) -> [u8; SEGMENT_HEADER_BYTES] {
    let mut header = [0u8; SEGMENT_HEADER_BYTES];
    header[..8].copy_from_slice(SEGMENT_MAGIC);
    header[8..12].copy_from_slice(&version.to_le_bytes());
    let crc = crc32c::crc32c(&header[..12]);
    header[12..].copy_from_slice(&crc.to_le_bytes());
    header
}

/// Checks a segment's header: its format, or the reason it is wrong.
pub(crate) fn check_segment_header(bytes: &[u8]) -> Result<Format, &'static str> {
    let Some(header) = bytes.get(..SEGMENT_HEADER_BYTES) else {
        return Err("the segment header is incomplete");
    };
    if &header[..8] != SEGMENT_MAGIC {
        return Err("not a Chiral log segment (bad magic)");
    }
    let crc = u32::from_le_bytes(header[12..16].try_into().expect("4 bytes"));
    if crc != crc32c::crc32c(&header[..12]) {
        return Err("the segment header's checksum does not match");
    }
    match u32::from_le_bytes(header[8..12].try_into().expect("4 bytes")) {
        1 => Ok(Format::V1),
        2 => Ok(Format::V2),
        _ => Err("unsupported log segment format version"),
    }
}

/// Reserves a record header at the end of `out`; returns where the record starts.
/// Append the payload, then call [`seal_record`].
pub(crate) fn begin_record(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0u8; RECORD_HEADER_BYTES]);
    start
}

/// Fills in the header of the record that starts at `start` and runs to the end of
/// `out`: its `lsn`, and `synced_lsn`, below which every record is on disk as this
/// one is written. The caller has checked the payload fits ([`MAX_PAYLOAD_BYTES`]).
pub(crate) fn seal_record(out: &mut [u8], start: usize, lsn: Lsn, synced_lsn: Lsn) {
    assert!(
        synced_lsn < lsn,
        "a record is never on disk before it is written"
    );
    let payload_len = out.len() - start - RECORD_HEADER_BYTES;
    let len = u32::try_from(payload_len).expect("the caller checked the payload size");
    let record = &mut out[start..];
    record[0..4].copy_from_slice(&len.to_le_bytes());
    record[4..12].copy_from_slice(&lsn.to_le_bytes());
    record[12..20].copy_from_slice(&synced_lsn.to_le_bytes());
    let crc = crc32c::crc32c_append(
        crc32c::crc32c(&record[..20]),
        &record[RECORD_HEADER_BYTES..],
    );
    record[20..24].copy_from_slice(&crc.to_le_bytes());
}

/// One record read from a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame<'a> {
    /// Where the record starts in the segment.
    pub(crate) offset: usize,
    /// Its LSN.
    pub(crate) lsn: Lsn,
    /// Every record up to this LSN was on disk when this one was written; `None` in
    /// format 1, which did not say.
    pub(crate) synced_lsn: Option<Lsn>,
    /// Its payload (checksum verified).
    pub(crate) payload: &'a [u8],
    /// Header and payload.
    pub(crate) len_bytes: usize,
}

impl Frame<'_> {
    /// Where the next record starts.
    pub(crate) fn end(&self) -> usize {
        self.offset + self.len_bytes
    }

    /// Whether this record proves that the record with LSN `lsn` was on disk before
    /// it: it says so, or (format 1) it cannot say, and is taken to.
    pub(crate) fn proves_synced(&self, lsn: Lsn) -> bool {
        self.synced_lsn.is_none_or(|synced| synced >= lsn)
    }
}

/// Why the bytes at an offset are not a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadFrame {
    /// Where the bad record starts.
    pub(crate) offset: usize,
    /// What is wrong with it.
    pub(crate) reason: &'static str,
}

/// Reads the record at `offset` of `segment`, a segment of format `format`.
pub(crate) fn read_frame(
    segment: &[u8],
    offset: usize,
    format: Format,
) -> Result<Frame<'_>, BadFrame> {
    let bad = |reason| BadFrame { offset, reason };
    let header_bytes = format.record_header_bytes();
    let rest = &segment[offset..];
    let Some(header) = rest.get(..header_bytes) else {
        return Err(bad("the record header is incomplete"));
    };
    let len = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
    let lsn = u64::from_le_bytes(header[4..12].try_into().expect("8 bytes"));
    let synced_lsn = match format {
        Format::V1 => None,
        Format::V2 => Some(u64::from_le_bytes(
            header[12..20].try_into().expect("8 bytes"),
        )),
    };
    let crc_at = header_bytes - 4;
    let crc = u32::from_le_bytes(header[crc_at..].try_into().expect("4 bytes"));
    if len == 0 {
        return Err(bad("the record is empty (zeroed bytes)"));
    }
    let Some(payload) = rest.get(header_bytes..header_bytes + len) else {
        return Err(bad("the record runs past the end of the segment"));
    };
    if crc32c::crc32c_append(crc32c::crc32c(&header[..crc_at]), payload) != crc {
        return Err(bad("the record's checksum does not match"));
    }
    if synced_lsn.is_some_and(|synced| synced >= lsn) {
        return Err(bad(
            "the record claims to have been on disk before it was written",
        ));
    }
    Ok(Frame {
        offset,
        lsn,
        synced_lsn,
        payload,
        len_bytes: header_bytes + len,
    })
}

/// The first valid record whose LSN lies in `lsns` that starts anywhere in
/// `segment[from..]`, searched byte by byte: what recovery looks for after damage,
/// to tell a torn tail from corruption in the middle of the log.
///
/// Each candidate (a header whose LSN is in range, and whose length fits) costs a
/// checksum over the length it claims, taken from `budget_bytes`: a hostile file of such headers would
/// otherwise cost time quadratic in its size. A candidate the budget cannot pay for
/// stops the search with [`OutOfBudget`].
pub(crate) fn valid_frame_after<'a>(
    segment: &'a [u8],
    from: usize,
    format: Format,
    lsns: std::ops::RangeInclusive<Lsn>,
    budget_bytes: &mut usize,
) -> Result<Option<Frame<'a>>, OutOfBudget> {
    let header_bytes = format.record_header_bytes();
    for offset in from..segment.len().saturating_sub(header_bytes - 1) {
        let header = &segment[offset..offset + header_bytes];
        let lsn = u64::from_le_bytes(header[4..12].try_into().expect("8 bytes"));
        if !lsns.contains(&lsn) {
            continue;
        }
        // Only a length that fits is checksummed: a shifted view of a real header
        // (its LSN bytes in range) mostly claims one that does not, at no cost.
        let claimed = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
        let fits = header_bytes + claimed <= segment.len() - offset;
        let cost = if fits { claimed } else { 0 };
        *budget_bytes = budget_bytes.checked_sub(cost).ok_or(OutOfBudget)?;
        if let Ok(frame) = read_frame(segment, offset, format) {
            return Ok(Some(frame));
        }
    }
    Ok(None)
}

/// A search for a valid record ran out of its budget (see [`valid_frame_after`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutOfBudget;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const H: usize = RECORD_HEADER_BYTES;

    fn segment_of(records: &[(Lsn, &[u8])]) -> Vec<u8> {
        let mut out = segment_header().to_vec();
        for (lsn, payload) in records {
            let start = begin_record(&mut out);
            out.extend_from_slice(payload);
            seal_record(&mut out, start, *lsn, lsn - 1);
        }
        out
    }

    /// A format 1 segment, as the log wrote them before the synced LSN.
    pub(crate) fn v1_segment_of(records: &[(Lsn, &[u8])]) -> Vec<u8> {
        let mut out = segment_header_of(1).to_vec();
        for (lsn, payload) in records {
            let mut head = (payload.len() as u32).to_le_bytes().to_vec();
            head.extend_from_slice(&lsn.to_le_bytes());
            let crc = crc32c::crc32c_append(crc32c::crc32c(&head), payload);
            out.extend_from_slice(&head);
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(payload);
        }
        out
    }

    #[test]
    fn records_read_back() {
        let segment = segment_of(&[(1, b"one"), (2, b"two")]);
        assert_eq!(check_segment_header(&segment), Ok(Format::V2));
        let first = read_frame(&segment, SEGMENT_HEADER_BYTES, Format::V2).unwrap();
        assert_eq!(
            (first.lsn, first.synced_lsn, first.payload),
            (1, Some(0), &b"one"[..])
        );
        assert_eq!(first.end(), SEGMENT_HEADER_BYTES + H + 3);
        let second = read_frame(&segment, first.end(), Format::V2).unwrap();
        assert_eq!(
            (second.lsn, second.synced_lsn, second.payload),
            (2, Some(1), &b"two"[..])
        );
        assert!(second.proves_synced(1) && !second.proves_synced(2));
    }

    #[test]
    fn format_1_segments_read_back_and_prove_everything_before_them() {
        let segment = v1_segment_of(&[(5, b"five"), (6, b"six")]);
        assert_eq!(check_segment_header(&segment), Ok(Format::V1));
        let first = read_frame(&segment, SEGMENT_HEADER_BYTES, Format::V1).unwrap();
        assert_eq!(
            (first.lsn, first.synced_lsn, first.payload),
            (5, None, &b"five"[..])
        );
        let second = read_frame(&segment, first.end(), Format::V1).unwrap();
        assert_eq!((second.lsn, second.payload), (6, &b"six"[..]));
        assert!(
            second.proves_synced(6),
            "format 1 cannot tell, so it counts as proof"
        );
        let mut unknown = segment.clone();
        unknown[..SEGMENT_HEADER_BYTES].copy_from_slice(&segment_header_of(3));
        assert!(check_segment_header(&unknown).is_err());
    }

    #[test]
    fn every_flipped_bit_is_caught() {
        let segment = segment_of(&[(7, b"payload")]);
        for bit in 0..(segment.len() - SEGMENT_HEADER_BYTES) * 8 {
            let mut damaged = segment.clone();
            damaged[SEGMENT_HEADER_BYTES + bit / 8] ^= 1 << (bit % 8);
            assert!(
                read_frame(&damaged, SEGMENT_HEADER_BYTES, Format::V2).is_err(),
                "bit {bit}"
            );
        }
        let mut header = segment.clone();
        header[3] ^= 1;
        assert!(check_segment_header(&header).is_err());
    }

    #[test]
    fn a_record_synced_before_it_was_written_is_refused() {
        let mut segment = segment_header().to_vec();
        let start = begin_record(&mut segment);
        segment.extend_from_slice(b"x");
        seal_record(&mut segment, start, 3, 2);
        // Rewrite the synced LSN to the record's own, with a matching checksum.
        segment[start + 12..start + 20].copy_from_slice(&3u64.to_le_bytes());
        let crc = crc32c::crc32c_append(
            crc32c::crc32c(&segment[start..start + 20]),
            &segment[start + H..],
        );
        segment[start + 20..start + 24].copy_from_slice(&crc.to_le_bytes());
        assert!(read_frame(&segment, start, Format::V2).is_err());
    }

    #[test]
    fn a_record_after_damage_is_found() {
        let mut segment = segment_of(&[(1, b"one"), (2, b"two")]);
        let second = SEGMENT_HEADER_BYTES + H + 3;
        segment[SEGMENT_HEADER_BYTES + H + 1] ^= 0xff;
        let after = |segment: &[u8], lsns| {
            let mut budget = usize::MAX;
            valid_frame_after(segment, SEGMENT_HEADER_BYTES, Format::V2, lsns, &mut budget)
                .unwrap()
                .map(|frame| (frame.offset, frame.lsn))
        };
        assert_eq!(after(&segment, 1..=10), Some((second, 2)));
        assert_eq!(after(&segment, 3..=10), None);
        segment.truncate(second + 5);
        assert_eq!(after(&segment, 1..=10), None);
    }

    #[test]
    fn a_search_stops_when_its_budget_cannot_pay_a_checksum() {
        let mut segment = segment_of(&[(1, b"one"), (2, b"two")]);
        let second = SEGMENT_HEADER_BYTES + H + 3;
        segment[SEGMENT_HEADER_BYTES + H + 1] ^= 0xff;
        // The damaged first record claims 3 bytes, the second 3: 6 pay for both.
        let search = |budget: &mut usize| {
            valid_frame_after(&segment, SEGMENT_HEADER_BYTES, Format::V2, 1..=2, budget)
                .map(|found| found.map(|frame| frame.offset))
        };
        let mut budget = 6;
        assert_eq!((search(&mut budget), budget), (Ok(Some(second)), 0));
        let mut budget = 5;
        assert_eq!(
            search(&mut budget),
            Err(OutOfBudget),
            "stopped, not searched through"
        );
    }
}
