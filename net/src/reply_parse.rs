//! Reading replies off the wire, as a client: every RESP2 and RESP3 type.
//!
//! The client side of `parse`: the server's bytes are trusted no more than a
//! client's. Every declared size is checked against [`ReplyLimits`] before anything
//! is allocated for it, nesting is bounded, and a reply is taken only once all of it
//! has arrived (`Ok(None)` until then, consuming nothing).

use bytes::{Buf, Bytes, BytesMut};
use thiserror::Error;

/// A reply, or a push.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `+OK`.
    Simple(String),
    /// `-ERR ...` or `!<len>` (RESP3 blob error): the whole message, code first.
    Error(String),
    /// `:42`.
    Integer(i64),
    /// `$3\r\nabc`.
    Bulk(Bytes),
    /// `$-1`, `*-1` or `_`.
    Null,
    /// `*N` elements.
    Array(Vec<Value>),
    /// `%N` pairs (RESP3).
    Map(Vec<(Value, Value)>),
    /// `~N` members (RESP3).
    Set(Vec<Value>),
    /// `,1.5` (RESP3).
    Double(f64),
    /// `#t` or `#f` (RESP3).
    Boolean(bool),
    /// `(123...` (RESP3), as its digits.
    BigNumber(String),
    /// `=N\r\ntxt:...` (RESP3), without the format prefix.
    Verbatim(Bytes),
    /// `>N` (RESP3): out-of-band data such as an `invalidate` message.
    Push(Vec<Value>),
}

/// The sizes a reply may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyLimits {
    /// Largest string, in bytes.
    pub max_bulk_bytes: usize,
    /// Most elements in one aggregate (pairs count twice).
    pub max_elements: usize,
    /// Deepest nesting of aggregates.
    pub max_depth: usize,
}

impl Default for ReplyLimits {
    fn default() -> Self {
        ReplyLimits {
            max_bulk_bytes: 512 << 20,
            max_elements: 1 << 24,
            max_depth: 64,
        }
    }
}

/// Why the server's bytes cannot be read as replies. The connection is then out of
/// step and must be closed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReplyError {
    /// A type byte no RESP version has.
    #[error("protocol error: unknown reply type {0:#04x}")]
    UnknownType(u8),
    /// A length or number that does not parse, or is out of range.
    #[error("protocol error: invalid {0}")]
    Invalid(&'static str),
    /// A declared size over its limit.
    #[error("protocol error: {what} of {size} over the limit of {limit}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        size: u64,
        /// The limit.
        limit: usize,
    },
    /// Aggregates nested deeper than [`ReplyLimits::max_depth`].
    #[error("protocol error: replies nested deeper than {0}")]
    TooDeep(usize),
    /// A line or string not ended by CRLF.
    #[error("protocol error: missing CRLF")]
    MissingCrlf,
}

/// The longest header or simple line read before the limit applies.
const MAX_LINE_BYTES: usize = 64 * 1024;

/// Takes one whole reply from the front of `buf`, if it holds one.
pub fn parse_reply(buf: &mut BytesMut, limits: &ReplyLimits) -> Result<Option<Value>, ReplyError> {
    let mut cursor = Cursor { buf, at: 0 };
    match cursor.value(limits, 0)? {
        Some(value) => {
            let used = cursor.at;
            buf.advance(used);
            Ok(Some(value))
        }
        None => Ok(None),
    }
}

/// A position in the buffer; nothing is consumed until a whole reply is read.
struct Cursor<'b> {
    buf: &'b BytesMut,
    at: usize,
}

impl Cursor<'_> {
    /// The line at the cursor without its CRLF, if all of it is there.
    fn line(&mut self) -> Result<Option<&[u8]>, ReplyError> {
        let rest = &self.buf[self.at..];
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            if rest.len() > MAX_LINE_BYTES {
                return Err(ReplyError::TooLarge {
                    what: "line",
                    size: rest.len() as u64,
                    limit: MAX_LINE_BYTES,
                });
            }
            return Ok(None);
        };
        if end == 0 || rest[end - 1] != b'\r' {
            return Err(ReplyError::MissingCrlf);
        }
        self.at += end + 1;
        Ok(Some(&rest[..end - 1]))
    }

    /// A declared length: -1 (null) or 0..=limit.
    fn length(line: &[u8], what: &'static str, limit: usize) -> Result<Option<usize>, ReplyError> {
        let text = std::str::from_utf8(line).map_err(|_| ReplyError::Invalid(what))?;
        let n: i64 = text.parse().map_err(|_| ReplyError::Invalid(what))?;
        match n {
            -1 => Ok(None),
            n if n < 0 => Err(ReplyError::Invalid(what)),
            n if n as u64 > limit as u64 => Err(ReplyError::TooLarge {
                what,
                size: n as u64,
                limit,
            }),
            n => Ok(Some(n as usize)),
        }
    }

    /// `len` bytes and their CRLF, if all there.
    fn blob(&mut self, len: usize) -> Result<Option<Bytes>, ReplyError> {
        let rest = &self.buf[self.at..];
        if rest.len() < len + 2 {
            return Ok(None);
        }
        if &rest[len..len + 2] != b"\r\n" {
            return Err(ReplyError::MissingCrlf);
        }
        let bytes = Bytes::copy_from_slice(&rest[..len]);
        self.at += len + 2;
        Ok(Some(bytes))
    }

    fn text(line: &[u8]) -> String {
        String::from_utf8_lossy(line).into_owned()
    }

    /// `count` values (the elements of an aggregate).
    fn values(
        &mut self,
        count: usize,
        limits: &ReplyLimits,
        depth: usize,
    ) -> Result<Option<Vec<Value>>, ReplyError> {
        // Each element takes at least 3 bytes: never reserve more than could be there.
        let mut values = Vec::with_capacity(count.min((self.buf.len() - self.at) / 3));
        for _ in 0..count {
            match self.value(limits, depth + 1)? {
                Some(value) => values.push(value),
                None => return Ok(None),
            }
        }
        Ok(Some(values))
    }

    fn value(&mut self, limits: &ReplyLimits, depth: usize) -> Result<Option<Value>, ReplyError> {
        if depth > limits.max_depth {
            return Err(ReplyError::TooDeep(limits.max_depth));
        }
        let Some(&kind) = self.buf.get(self.at) else {
            return Ok(None);
        };
        let start = self.at;
        self.at += 1;
        let Some(line) = self.line()? else {
            self.at = start;
            return Ok(None);
        };
        let line = line.to_vec();
        let value = match kind {
            b'+' => Some(Value::Simple(Self::text(&line))),
            b'-' => Some(Value::Error(Self::text(&line))),
            b':' => Some(Value::Integer(
                std::str::from_utf8(&line)
                    .ok()
                    .and_then(|text| text.parse().ok())
                    .ok_or(ReplyError::Invalid("integer"))?,
            )),
            b'_' if line.is_empty() => Some(Value::Null),
            b'_' => return Err(ReplyError::Invalid("null")),
            b'#' => Some(Value::Boolean(match &line[..] {
                b"t" => true,
                b"f" => false,
                _ => return Err(ReplyError::Invalid("boolean")),
            })),
            b',' => Some(Value::Double(
                std::str::from_utf8(&line)
                    .ok()
                    .and_then(|text| match text {
                        "inf" => Some(f64::INFINITY),
                        "-inf" => Some(f64::NEG_INFINITY),
                        text => text.parse().ok(),
                    })
                    .ok_or(ReplyError::Invalid("double"))?,
            )),
            b'(' => {
                let digits = line.strip_prefix(b"-").unwrap_or(&line);
                if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                    return Err(ReplyError::Invalid("big number"));
                }
                Some(Value::BigNumber(Self::text(&line)))
            }
            b'$' | b'!' | b'=' => {
                match Self::length(&line, "string length", limits.max_bulk_bytes)? {
                    None if kind == b'$' => Some(Value::Null),
                    None => return Err(ReplyError::Invalid("string length")),
                    Some(len) => self
                        .blob(len)?
                        .map(|bytes| match kind {
                            b'$' => Ok(Value::Bulk(bytes)),
                            b'!' => Ok(Value::Error(Self::text(&bytes))),
                            _ => match bytes.get(3) {
                                Some(b':') => Ok(Value::Verbatim(bytes.slice(4..))),
                                _ => Err(ReplyError::Invalid("verbatim string")),
                            },
                        })
                        .transpose()?,
                }
            }
            b'*' | b'~' | b'>' | b'%' => {
                let pairs = kind == b'%';
                let limit = if pairs {
                    limits.max_elements / 2
                } else {
                    limits.max_elements
                };
                match Self::length(&line, "aggregate length", limit)? {
                    None if kind == b'*' => Some(Value::Null),
                    None => return Err(ReplyError::Invalid("aggregate length")),
                    Some(count) => {
                        let count = if pairs { count * 2 } else { count };
                        self.values(count, limits, depth)?.map(|values| match kind {
                            b'*' => Value::Array(values),
                            b'~' => Value::Set(values),
                            b'>' => Value::Push(values),
                            _ => {
                                let mut values = values.into_iter();
                                let mut map = Vec::with_capacity(count / 2);
                                while let (Some(key), Some(value)) = (values.next(), values.next())
                                {
                                    map.push((key, value));
                                }
                                Value::Map(map)
                            }
                        })
                    }
                }
            }
            other => return Err(ReplyError::UnknownType(other)),
        };
        if value.is_none() {
            self.at = start;
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Option<Value>, ReplyError> {
        parse_reply(&mut BytesMut::from(bytes), &ReplyLimits::default())
    }

    #[test]
    fn every_type_reads() {
        let cases: Vec<(&[u8], Value)> = vec![
            (b"+OK\r\n", Value::Simple("OK".into())),
            (b"-ERR no\r\n", Value::Error("ERR no".into())),
            (b":-7\r\n", Value::Integer(-7)),
            (
                b"$3\r\na\r\n\r\n",
                Value::Bulk(Bytes::from_static(b"a\r\n")),
            ),
            (b"$-1\r\n", Value::Null),
            (b"*-1\r\n", Value::Null),
            (b"_\r\n", Value::Null),
            (b"#t\r\n", Value::Boolean(true)),
            (b",1.5\r\n", Value::Double(1.5)),
            (b",-inf\r\n", Value::Double(f64::NEG_INFINITY)),
            (
                b"(123456789012345678901234567890\r\n",
                Value::BigNumber("123456789012345678901234567890".into()),
            ),
            (b"!5\r\nERR x\r\n", Value::Error("ERR x".into())),
            (
                b"=7\r\ntxt:abc\r\n",
                Value::Verbatim(Bytes::from_static(b"abc")),
            ),
            (
                b"*2\r\n:1\r\n*1\r\n+a\r\n",
                Value::Array(vec![
                    Value::Integer(1),
                    Value::Array(vec![Value::Simple("a".into())]),
                ]),
            ),
            (
                b"%1\r\n+k\r\n:1\r\n",
                Value::Map(vec![(Value::Simple("k".into()), Value::Integer(1))]),
            ),
            (b"~1\r\n:1\r\n", Value::Set(vec![Value::Integer(1)])),
            (
                b">2\r\n$10\r\ninvalidate\r\n_\r\n",
                Value::Push(vec![
                    Value::Bulk(Bytes::from_static(b"invalidate")),
                    Value::Null,
                ]),
            ),
        ];
        for (bytes, value) in cases {
            assert_eq!(
                parse(bytes),
                Ok(Some(value.clone())),
                "{}",
                String::from_utf8_lossy(bytes)
            );
            // Any prefix is "not yet", consuming nothing.
            for cut in 0..bytes.len() {
                let mut buf = BytesMut::from(&bytes[..cut]);
                assert_eq!(parse_reply(&mut buf, &ReplyLimits::default()), Ok(None));
                assert_eq!(buf.len(), cut);
            }
        }
    }

    #[test]
    fn bad_bytes_and_limits_are_errors() {
        assert_eq!(parse(b"?x\r\n"), Err(ReplyError::UnknownType(b'?')));
        assert_eq!(parse(b":x\r\n"), Err(ReplyError::Invalid("integer")));
        assert_eq!(parse(b"+a\n"), Err(ReplyError::MissingCrlf));
        assert_eq!(parse(b"$1\r\nab\r\n"), Err(ReplyError::MissingCrlf));
        assert_eq!(parse(b"$-2\r\n"), Err(ReplyError::Invalid("string length")));
        let limits = ReplyLimits {
            max_bulk_bytes: 4,
            max_elements: 2,
            max_depth: 1,
        };
        let parse_with = |bytes: &[u8]| parse_reply(&mut BytesMut::from(bytes), &limits);
        assert!(matches!(
            parse_with(b"$5\r\n"),
            Err(ReplyError::TooLarge { .. })
        ));
        assert!(parse_with(b"$4\r\nabcd\r\n").unwrap().is_some());
        assert!(matches!(
            parse_with(b"*3\r\n"),
            Err(ReplyError::TooLarge { .. })
        ));
        assert!(matches!(
            parse_with(b"%2\r\n"),
            Err(ReplyError::TooLarge { .. })
        ));
        assert_eq!(
            parse_with(b"*1\r\n*1\r\n*1\r\n:1\r\n"),
            Err(ReplyError::TooDeep(1))
        );
        // A declared size never reserves memory ahead of the bytes.
        assert!(matches!(parse(b"*16777216\r\n"), Ok(None)));
    }
}
