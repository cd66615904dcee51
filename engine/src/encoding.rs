//! The byte-level pieces of Chiral's own binary formats (log records, documents, the
//! catalog): LEB128 varints (signed ones zigzagged), little-endian floats, and
//! length-prefixed strings, with a reader that trusts nothing. Every length is
//! checked against the bytes that remain before anything is allocated.

use thiserror::Error;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("malformed encoding: {0}")]
pub struct DecodeError(pub(crate) &'static str);

pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u64(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

pub(crate) fn put_i64(out: &mut Vec<u8>, n: i64) {
    put_u64(out, ((n << 1) ^ (n >> 63)) as u64);
}

pub(crate) fn put_u64(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// The bytes not decoded yet.
pub(crate) struct Input<'a>(pub(crate) &'a [u8]);

impl<'a> Input<'a> {
    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        let (&first, rest) = self
            .0
            .split_first()
            .ok_or(DecodeError("payload ends early"))?;
        self.0 = rest;
        Ok(first)
    }

    pub(crate) fn flag(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError("bad flag byte")),
        }
    }

    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(DecodeError("varint overflows 64 bits"));
            }
            n |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(DecodeError("varint overflows 64 bits"))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, DecodeError> {
        let n = self.u64()?;
        Ok(((n >> 1) as i64) ^ -((n & 1) as i64))
    }

    pub(crate) fn usize(&mut self) -> Result<usize, DecodeError> {
        usize::try_from(self.u64()?).map_err(|_| DecodeError("number too large for usize"))
    }

    pub(crate) fn f64(&mut self) -> Result<f64, DecodeError> {
        let (bytes, rest) = self
            .0
            .split_first_chunk::<8>()
            .ok_or(DecodeError("payload ends early"))?;
        self.0 = rest;
        Ok(f64::from_le_bytes(*bytes))
    }

    /// A count of items that each take at least one byte: never more than remain,
    /// so a hostile count cannot make us allocate.
    pub(crate) fn count(&mut self) -> Result<usize, DecodeError> {
        let count = self.u64()?;
        if count > self.0.len() as u64 {
            return Err(DecodeError("item count exceeds the payload"));
        }
        Ok(count as usize)
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.u64()?;
        if len > self.0.len() as u64 {
            return Err(DecodeError("string length exceeds the payload"));
        }
        let (bytes, rest) = self.0.split_at(len as usize);
        self.0 = rest;
        Ok(bytes)
    }
}

impl<'a> Input<'a> {
    /// The next `len` bytes.
    pub(crate) fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        if len > self.0.len() {
            return Err(DecodeError("ends early"));
        }
        let (bytes, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(bytes)
    }
}
