//! How records and segments are framed on disk, and how a segment's bytes are read
//! back with every check a torn or corrupt file needs.
//!
//! A segment starts with a 16-byte header: the magic `CHIRALOG`, the format version
//! (u32) and a CRC32C of those 12 bytes. Records follow back to back, each a 16-byte
//! header then its payload:
//!
//! ```text
//! offset 0   u32  payload length in bytes (little-endian, like every integer here)
//! offset 4   u64  LSN
//! offset 12  u32  CRC32C of bytes 0..12 and the payload
//! offset 16  the payload (see `codec`)
//! ```

/// The bytes every segment starts with.
pub(crate) const SEGMENT_MAGIC: &[u8; 8] = b"CHIRALOG";
/// The segment format this code writes and reads.
pub(crate) const SEGMENT_VERSION: u32 = 1;
/// The size of a segment header.
pub(crate) const SEGMENT_HEADER_BYTES: usize = 16;
/// The size of a record header.
pub(crate) const RECORD_HEADER_BYTES: usize = 16;
/// The largest payload a record can hold (its length is a u32).
pub(crate) const MAX_PAYLOAD_BYTES: usize = u32::MAX as usize;

/// A segment's header.
pub(crate) fn segment_header() -> [u8; SEGMENT_HEADER_BYTES] {
    let mut header = [0u8; SEGMENT_HEADER_BYTES];
    header[..8].copy_from_slice(SEGMENT_MAGIC);
    header[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    let crc = crc32c::crc32c(&header[..12]);
    header[12..].copy_from_slice(&crc.to_le_bytes());
    header
}

/// Checks a segment's header; the reason it is wrong, if it is.
pub(crate) fn check_segment_header(bytes: &[u8]) -> Result<(), &'static str> {
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
    let version = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
    if version != SEGMENT_VERSION {
        return Err("unsupported log segment format version");
    }
    Ok(())
}

/// Reserves a record header at the end of `out`; returns where the record starts.
/// Append the payload, then call [`seal_record`].
pub(crate) fn begin_record(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0u8; RECORD_HEADER_BYTES]);
    start
}

/// Fills in the header of the record that starts at `start` and runs to the end of
/// `out`. The caller has checked the payload fits ([`MAX_PAYLOAD_BYTES`]).
pub(crate) fn seal_record(out: &mut [u8], start: usize, lsn: u64) {
    let payload_len = out.len() - start - RECORD_HEADER_BYTES;
    let len = u32::try_from(payload_len).expect("the caller checked the payload size");
    let record = &mut out[start..];
    record[0..4].copy_from_slice(&len.to_le_bytes());
    record[4..12].copy_from_slice(&lsn.to_le_bytes());
    let crc = crc32c::crc32c_append(
        crc32c::crc32c(&record[..12]),
        &record[RECORD_HEADER_BYTES..],
    );
    record[12..16].copy_from_slice(&crc.to_le_bytes());
}

/// One record read from a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame<'a> {
    /// Where the record starts in the segment.
    pub(crate) offset: usize,
    /// Its LSN.
    pub(crate) lsn: u64,
    /// Its payload (checksum verified).
    pub(crate) payload: &'a [u8],
}

/// Why the bytes at an offset are not a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadFrame {
    /// Where the bad record starts.
    pub(crate) offset: usize,
    /// What is wrong with it.
    pub(crate) reason: &'static str,
}

/// Reads the record at `offset` of `segment`.
pub(crate) fn read_frame(segment: &[u8], offset: usize) -> Result<Frame<'_>, BadFrame> {
    let bad = |reason| BadFrame { offset, reason };
    let rest = &segment[offset..];
    let Some(header) = rest.get(..RECORD_HEADER_BYTES) else {
        return Err(bad("the record header is incomplete"));
    };
    let len = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
    let lsn = u64::from_le_bytes(header[4..12].try_into().expect("8 bytes"));
    let crc = u32::from_le_bytes(header[12..16].try_into().expect("4 bytes"));
    if len == 0 {
        return Err(bad("the record is empty (zeroed bytes)"));
    }
    let Some(payload) = rest.get(RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + len) else {
        return Err(bad("the record runs past the end of the segment"));
    };
    if crc32c::crc32c_append(crc32c::crc32c(&header[..12]), payload) != crc {
        return Err(bad("the record's checksum does not match"));
    }
    Ok(Frame {
        offset,
        lsn,
        payload,
    })
}

/// Whether a valid record whose LSN lies in `lsns` starts anywhere in
/// `segment[from..]`: what tells a torn tail (nothing valid after the damage: a crash
/// cut the last write short) from corruption in the middle of the log.
pub(crate) fn valid_frame_after(
    segment: &[u8],
    from: usize,
    lsns: std::ops::RangeInclusive<u64>,
) -> Option<usize> {
    (from..segment.len().saturating_sub(RECORD_HEADER_BYTES - 1)).find(|&offset| {
        let header = &segment[offset..offset + RECORD_HEADER_BYTES];
        let lsn = u64::from_le_bytes(header[4..12].try_into().expect("8 bytes"));
        lsns.contains(&lsn) && read_frame(segment, offset).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment_of(records: &[(u64, &[u8])]) -> Vec<u8> {
        let mut out = segment_header().to_vec();
        for (lsn, payload) in records {
            let start = begin_record(&mut out);
            out.extend_from_slice(payload);
            seal_record(&mut out, start, *lsn);
        }
        out
    }

    #[test]
    fn records_read_back() {
        let segment = segment_of(&[(1, b"one"), (2, b"two")]);
        check_segment_header(&segment).unwrap();
        let first = read_frame(&segment, SEGMENT_HEADER_BYTES).unwrap();
        assert_eq!((first.lsn, first.payload), (1, &b"one"[..]));
        let second = read_frame(&segment, SEGMENT_HEADER_BYTES + 19).unwrap();
        assert_eq!((second.lsn, second.payload), (2, &b"two"[..]));
    }

    #[test]
    fn every_flipped_bit_is_caught() {
        let segment = segment_of(&[(7, b"payload")]);
        for bit in 0..(segment.len() - SEGMENT_HEADER_BYTES) * 8 {
            let mut damaged = segment.clone();
            damaged[SEGMENT_HEADER_BYTES + bit / 8] ^= 1 << (bit % 8);
            assert!(
                read_frame(&damaged, SEGMENT_HEADER_BYTES).is_err(),
                "bit {bit}"
            );
        }
        let mut header = segment.clone();
        header[3] ^= 1;
        assert!(check_segment_header(&header).is_err());
    }

    #[test]
    fn a_record_after_damage_is_found() {
        let mut segment = segment_of(&[(1, b"one"), (2, b"two")]);
        segment[SEGMENT_HEADER_BYTES + 17] ^= 0xff;
        assert_eq!(
            valid_frame_after(&segment, SEGMENT_HEADER_BYTES, 1..=10),
            Some(SEGMENT_HEADER_BYTES + 19)
        );
        assert_eq!(
            valid_frame_after(&segment, SEGMENT_HEADER_BYTES, 3..=10),
            None
        );
        segment.truncate(SEGMENT_HEADER_BYTES + 19 + 5);
        assert_eq!(
            valid_frame_after(&segment, SEGMENT_HEADER_BYTES, 1..=10),
            None
        );
    }
}
