//! Checking a snapshot's body block by block, the first time a read touches each
//! block, so that opening a snapshot costs a check of its block table, not a read of
//! the whole file: the time to the first answered read does not grow with the data.
//!
//! Every read of the base passes each byte range it is about to read through
//! [`Blocks::check`]: bytes are read as archived types only after their block's
//! CRC32C matched the table. The verified bits cache a pure function of immutable
//! bytes (the mapping never changes), so relaxed atomics suffice: two threads
//! checking one block at once compute the same answer, and a bit seen set means some
//! thread saw the checksum match. These are std atomics even under loom: nothing is
//! handed off through them.

use std::sync::atomic::{AtomicU64, Ordering};

/// Where a snapshot's bytes are damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Damage {
    /// The offset in the body (add the header's 64 bytes for the file offset).
    pub(crate) offset: u64,
    /// What is wrong there.
    pub(crate) reason: &'static str,
}

/// The block checksums of one body and which blocks have matched theirs.
pub(crate) struct Blocks {
    block_bits: u32,
    /// The CRC32C of each block.
    table: Box<[u32]>,
    /// Bit `b` set: block `b` matched its checksum.
    verified: Box<[AtomicU64]>,
}

impl Blocks {
    /// The checksums in `table` (little-endian u32s, already checked against the
    /// header) for blocks of `2^block_bits` bytes.
    pub(crate) fn new(table: &[u8], block_bits: u32) -> Self {
        let table: Box<[u32]> = table
            .chunks_exact(4)
            .map(|crc| u32::from_le_bytes(crc.try_into().expect("4 bytes")))
            .collect();
        let verified = (0..table.len().div_ceil(64))
            .map(|_| AtomicU64::new(0))
            .collect();
        Blocks {
            block_bits,
            table,
            verified,
        }
    }

    /// Checks that `body[start..start + len_bytes]` lies in the body and that every
    /// block it touches matches its checksum (reading those not checked before).
    pub(crate) fn check(&self, body: &[u8], start: usize, len_bytes: usize) -> Result<(), Damage> {
        let end = start
            .checked_add(len_bytes)
            .filter(|end| *end <= body.len())
            .ok_or(Damage {
                offset: start as u64,
                reason: "a reference points outside the snapshot body",
            })?;
        if len_bytes == 0 {
            return Ok(());
        }
        for block in (start >> self.block_bits)..=((end - 1) >> self.block_bits) {
            self.check_block(body, block)?;
        }
        Ok(())
    }

    /// Checks every block (for work that reads the whole body anyway).
    pub(crate) fn check_all(&self, body: &[u8]) -> Result<(), Damage> {
        (0..self.table.len()).try_for_each(|block| self.check_block(body, block))
    }

    fn check_block(&self, body: &[u8], block: usize) -> Result<(), Damage> {
        let (word, bit) = (block / 64, 1u64 << (block % 64));
        if self.verified[word].load(Ordering::Relaxed) & bit != 0 {
            return Ok(());
        }
        let start = block << self.block_bits;
        let end = (start + (1 << self.block_bits)).min(body.len());
        if crc32c::crc32c(&body[start..end]) != self.table[block] {
            return Err(Damage {
                offset: start as u64,
                reason: "a block of the body does not match its checksum",
            });
        }
        self.verified[word].fetch_or(bit, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::writer::block_table;

    #[test]
    fn blocks_are_checked_where_touched_and_only_there() {
        let mut body: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let blocks = Blocks::new(&block_table(&body, 12), 12);
        // Damage block 1 (bytes 4096..8192) after the table was made.
        body[5000] ^= 1;
        assert_eq!(blocks.check(&body, 0, 4096), Ok(()));
        assert_eq!(blocks.check(&body, 8192, 10_000 - 8192), Ok(()));
        let damage = Damage {
            offset: 4096,
            reason: "a block of the body does not match its checksum",
        };
        assert_eq!(blocks.check(&body, 4095, 2), Err(damage));
        assert_eq!(
            blocks.check(&body, 6000, 0),
            Ok(()),
            "an empty range reads nothing"
        );
        assert_eq!(blocks.check_all(&body), Err(damage));
        assert_eq!(
            blocks.check(&body, 9_999, 2).unwrap_err().reason,
            "a reference points outside the snapshot body"
        );
        assert!(blocks.check(&body, usize::MAX, 1).is_err());
        body[5000] ^= 1;
        assert_eq!(blocks.check_all(&body), Ok(()));
    }
}
