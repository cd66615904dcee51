//! Reading requests off the wire: RESP multibulk arrays and inline commands.
//!
//! A request is a list of binary-safe arguments. Clients send it as a RESP array of
//! bulk strings (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`), or as one line of words (what a
//! person types into `nc` or telnet). The parser takes bytes as they arrive and
//! yields a request once all of it is there; the arguments are slices of the read
//! buffer, not copies.
//!
//! Every size a client declares is checked against [`ParseLimits`] before anything is
//! allocated for it, so a client cannot make the server reserve memory by claiming
//! large sizes. A malformed request is a [`ProtocolError`]; the connection answers
//! it with Redis's message and closes, as Redis does, because the byte stream can no
//! longer be trusted to be in step.

use bytes::{Buf, Bytes, BytesMut};
use thiserror::Error;

/// The sizes a request may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Most arguments in one request (Redis allows 1,048,576 in a multibulk).
    pub max_args: usize,
    /// Largest argument, in bytes (Redis's `proto-max-bulk-len`, 512 MiB).
    pub max_bulk_bytes: usize,
    /// Longest inline command line, in bytes (Redis: 64 KiB).
    pub max_inline_bytes: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_args: 1 << 20,
            max_bulk_bytes: 512 << 20,
            max_inline_bytes: 64 << 10,
        }
    }
}

/// A request the server cannot read. The message is Redis's, after `ERR `.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// `*N` with N not a number, negative, or over [`ParseLimits::max_args`].
    #[error("Protocol error: invalid multibulk length")]
    MultibulkLength,
    /// `$N` with N not a number, negative, or over [`ParseLimits::max_bulk_bytes`].
    #[error("Protocol error: invalid bulk length")]
    BulkLength,
    /// An element of the array that is not a bulk string.
    #[error("Protocol error: expected '$', got '{0}'")]
    ExpectedBulk(char),
    /// A bulk string not followed by CRLF.
    #[error("Protocol error: bulk string not terminated by CRLF")]
    BulkTerminator,
    /// An inline line or header line past [`ParseLimits::max_inline_bytes`].
    #[error("Protocol error: too big inline request")]
    InlineTooLong,
    /// An inline line of more words than [`ParseLimits::max_args`].
    #[error("Protocol error: too many arguments in inline request")]
    InlineTooManyArgs,
    /// An inline line with an unterminated quote.
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
}

/// Takes one whole request from the front of `buf`, if it holds one.
///
/// `Ok(None)`: more bytes are needed (nothing consumed). `Ok(Some(args))`: the request
/// is removed from `buf`; `args` may be empty for a blank inline line, which the caller
/// skips. `Err`: the stream is malformed.
pub fn parse_request(
    buf: &mut BytesMut,
    limits: &ParseLimits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    if buf.is_empty() {
        return Ok(None);
    }
    if buf[0] == b'*' {
        parse_multibulk(buf, limits)
    } else {
        parse_inline(buf, limits)
    }
}

/// Digits a header's number may have: 19 always fit a u64.
const MAX_HEADER_DIGITS: usize = 19;

/// The number of a `*N` or `$N` header line: the digits from `from` up to the line's
/// `\r\n`. `Ok(Some((number, next)))`, `next` just past the `\r\n`; `Ok(None)` if the
/// line has not all arrived; `Err(())` if the line is not 1 to [`MAX_HEADER_DIGITS`]
/// digits, or the number is over `max`. Digits and the line end are read in one pass:
/// this runs for every argument of every request.
fn header_number(buf: &[u8], from: usize, max: usize) -> Result<Option<(usize, usize)>, ()> {
    let mut number = 0u64;
    let mut at = from;
    loop {
        let Some(&byte) = buf.get(at) else {
            return Ok(None);
        };
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        if at - from == MAX_HEADER_DIGITS {
            return Err(());
        }
        number = number * 10 + u64::from(digit);
        at += 1;
    }
    if at == from || buf[at] != b'\r' {
        return Err(());
    }
    match buf.get(at + 1) {
        None => Ok(None),
        Some(b'\n') => match usize::try_from(number) {
            Ok(number) if number <= max => Ok(Some((number, at + 2))),
            _ => Err(()),
        },
        Some(_) => Err(()),
    }
}

/// Where a request's arguments lie in the read buffer: on the stack for the usual
/// few, in a vector beyond.
#[derive(Default)]
struct Ranges {
    count: usize,
    inline: [(usize, usize); INLINE_RANGES],
    spilled: Vec<(usize, usize)>,
}

/// Arguments whose places a parse keeps without allocating.
const INLINE_RANGES: usize = 8;

impl Ranges {
    fn push(&mut self, start: usize, stop: usize) {
        if self.count < INLINE_RANGES {
            self.inline[self.count] = (start, stop);
        } else {
            self.spilled.push((start, stop));
        }
        self.count += 1;
    }

    fn iter(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let inline = &self.inline[..self.count.min(INLINE_RANGES)];
        inline.iter().chain(&self.spilled).copied()
    }
}

fn parse_multibulk(
    buf: &mut BytesMut,
    limits: &ParseLimits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    // Redis reads `*-1` and `*0` as an empty request.
    if buf.get(1) == Some(&b'-') {
        return match header_number(buf, 2, usize::MAX) {
            Ok(Some((_, next))) => {
                let _ = buf.split_to(next);
                Ok(Some(Vec::new()))
            }
            Ok(None) => Ok(None),
            Err(()) => Err(ProtocolError::MultibulkLength),
        };
    }
    let Some((count, mut at)) =
        header_number(buf, 1, limits.max_args).map_err(|()| ProtocolError::MultibulkLength)?
    else {
        return Ok(None);
    };
    let mut ranges = Ranges::default();
    for _ in 0..count {
        if at >= buf.len() {
            return Ok(None);
        }
        if buf[at] != b'$' {
            return Err(ProtocolError::ExpectedBulk(char::from(buf[at])));
        }
        let Some((len, start)) = header_number(buf, at + 1, limits.max_bulk_bytes)
            .map_err(|()| ProtocolError::BulkLength)?
        else {
            return Ok(None);
        };
        let stop = start + len;
        if buf.len() < stop + 2 {
            // Make room for the rest of a large argument in one allocation.
            buf.reserve(stop + 2 - buf.len());
            return Ok(None);
        }
        if &buf[stop..stop + 2] != b"\r\n" {
            return Err(ProtocolError::BulkTerminator);
        }
        ranges.push(start, stop);
        at = stop + 2;
    }
    let mut request = buf.split_to(at).freeze();
    let mut args = Vec::with_capacity(count);
    let last = count.saturating_sub(1);
    args.extend(
        ranges
            .iter()
            .take(last)
            .map(|(start, stop)| request.slice(start..stop)),
    );
    // The last argument takes the request's own reference to the buffer, which saves
    // a reference count's increment and decrement (locked instructions) per request.
    if let Some((start, stop)) = ranges.iter().nth(last) {
        request.truncate(stop);
        request.advance(start);
        args.push(request);
    }
    Ok(Some(args))
}

fn parse_inline(
    buf: &mut BytesMut,
    limits: &ParseLimits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let window = &buf[..buf.len().min(limits.max_inline_bytes)];
    let Some(newline) = window.iter().position(|&b| b == b'\n') else {
        return if buf.len() >= limits.max_inline_bytes {
            Err(ProtocolError::InlineTooLong)
        } else {
            Ok(None)
        };
    };
    let line = buf.split_to(newline + 1);
    let text = line.strip_suffix(b"\n").unwrap_or(&line);
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    let words = split_words(text)?;
    if words.len() > limits.max_args {
        return Err(ProtocolError::InlineTooManyArgs);
    }
    Ok(Some(words))
}

/// Splits an inline line into words as Redis's `sdssplitargs` does: spaces separate;
/// `"..."` holds escapes (`\n`, `\r`, `\t`, `\b`, `\a`, `\\`, `\"`, `\xHH`); `'...'`
/// holds only `\'`; a closing quote must be followed by a space or the end.
pub fn split_words(text: &[u8]) -> Result<Vec<Bytes>, ProtocolError> {
    let mut words = Vec::new();
    let mut i = 0;
    loop {
        while i < text.len() && text[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == text.len() {
            return Ok(words);
        }
        let mut word = Vec::new();
        match text[i] {
            b'"' => {
                i += 1;
                loop {
                    match text.get(i) {
                        None => return Err(ProtocolError::UnbalancedQuotes),
                        Some(b'"') => break,
                        Some(b'\\')
                            if text.get(i + 1) == Some(&b'x')
                                && text.get(i + 3).is_some()
                                && hex_pair(text[i + 2], text[i + 3]).is_some() =>
                        {
                            word.push(hex_pair(text[i + 2], text[i + 3]).expect("checked"));
                            i += 3;
                        }
                        Some(b'\\') if i + 1 < text.len() => {
                            i += 1;
                            word.push(match text[i] {
                                b'n' => b'\n',
                                b'r' => b'\r',
                                b't' => b'\t',
                                b'b' => 8,
                                b'a' => 7,
                                other => other,
                            });
                        }
                        Some(&byte) => word.push(byte),
                    }
                    i += 1;
                }
                i += 1;
                if text.get(i).is_some_and(|b| !b.is_ascii_whitespace()) {
                    return Err(ProtocolError::UnbalancedQuotes);
                }
            }
            b'\'' => {
                i += 1;
                loop {
                    match text.get(i) {
                        None => return Err(ProtocolError::UnbalancedQuotes),
                        Some(b'\'') => break,
                        Some(b'\\') if text.get(i + 1) == Some(&b'\'') => {
                            word.push(b'\'');
                            i += 1;
                        }
                        Some(&byte) => word.push(byte),
                    }
                    i += 1;
                }
                i += 1;
                if text.get(i).is_some_and(|b| !b.is_ascii_whitespace()) {
                    return Err(ProtocolError::UnbalancedQuotes);
                }
            }
            _ => {
                while i < text.len() && !text[i].is_ascii_whitespace() {
                    word.push(text[i]);
                    i += 1;
                }
            }
        }
        words.push(Bytes::from(word));
    }
}

fn hex_pair(high: u8, low: u8) -> Option<u8> {
    let digit = |c: u8| char::from(c).to_digit(16);
    Some((digit(high)? * 16 + digit(low)?) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8], limits: &ParseLimits) -> Result<Vec<Vec<Bytes>>, ProtocolError> {
        let mut buf = BytesMut::from(input);
        let mut requests = Vec::new();
        while let Some(args) = parse_request(&mut buf, limits)? {
            requests.push(args);
        }
        assert!(buf.is_empty(), "whole requests only: {buf:?}");
        Ok(requests)
    }

    fn words(items: &[&str]) -> Vec<Bytes> {
        items
            .iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    #[test]
    fn multibulk_requests_pipelined() {
        let input = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n";
        let requests = parse_all(input, &ParseLimits::default()).unwrap();
        assert_eq!(
            requests,
            vec![words(&["GET", "k"]), words(&["SET", "k", "a\r\nb"])]
        );
    }

    #[test]
    fn every_split_point_waits_then_yields_the_same_request() {
        let input = b"*2\r\n$3\r\nGET\r\n$10\r\n0123456789\r\n";
        for split in 0..input.len() {
            let mut buf = BytesMut::from(&input[..split]);
            assert_eq!(
                parse_request(&mut buf, &ParseLimits::default()),
                Ok(None),
                "{split}"
            );
            assert_eq!(buf.len(), split, "nothing consumed while incomplete");
            buf.extend_from_slice(&input[split..]);
            let args = parse_request(&mut buf, &ParseLimits::default())
                .unwrap()
                .unwrap();
            assert_eq!(args, words(&["GET", "0123456789"]));
        }
    }

    #[test]
    fn inline_commands_with_quotes() {
        let requests = parse_all(
            b"PING\r\nset k \"a b\\x41\\n\" 'it\\'s'\n\r\n",
            &ParseLimits::default(),
        )
        .unwrap();
        assert_eq!(requests[0], words(&["PING"]));
        assert_eq!(requests[1], words(&["set", "k", "a bA\n", "it's"]));
        assert!(requests[2].is_empty(), "a blank line is an empty request");
        for bad in [&b"get \"k\n"[..], b"get 'k\n", b"get \"k\"x\n"] {
            assert_eq!(
                parse_all(bad, &ParseLimits::default()),
                Err(ProtocolError::UnbalancedQuotes)
            );
        }
    }

    #[test]
    fn limits_are_checked_at_their_edge_before_allocating() {
        let limits = ParseLimits {
            max_args: 3,
            max_bulk_bytes: 5,
            max_inline_bytes: 10,
        };
        assert!(parse_all(b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", &limits).is_ok());
        assert_eq!(
            parse_all(b"*4\r\n", &limits),
            Err(ProtocolError::MultibulkLength)
        );
        assert!(parse_all(b"*1\r\n$5\r\nabcde\r\n", &limits).is_ok());
        assert_eq!(
            parse_all(b"*1\r\n$6\r\n", &limits),
            Err(ProtocolError::BulkLength)
        );
        assert!(parse_all(b"12345678\r\n", &limits).is_ok());
        assert!(parse_all(b"a b c\r\n", &limits).is_ok());
        assert_eq!(
            parse_all(b"a b c d\r\n", &limits),
            Err(ProtocolError::InlineTooManyArgs)
        );
        assert_eq!(
            parse_all(b"123456789\r\n", &limits),
            Err(ProtocolError::InlineTooLong)
        );
        // A huge declared count or length is refused, not reserved.
        let defaults = ParseLimits::default();
        assert_eq!(
            parse_all(b"*99999999999999\r\n", &defaults),
            Err(ProtocolError::MultibulkLength)
        );
        assert_eq!(
            parse_all(b"*1\r\n$99999999999\r\n", &defaults),
            Err(ProtocolError::BulkLength)
        );
    }

    #[test]
    fn malformed_multibulk_is_refused() {
        let limits = ParseLimits::default();
        for (input, error) in [
            (&b"*x\r\n"[..], ProtocolError::MultibulkLength),
            (b"*1\r\n:1\r\n", ProtocolError::ExpectedBulk(':')),
            (b"*1\r\n$-1\r\n", ProtocolError::BulkLength),
            (b"*1\r\n$1\r\nab\r\n", ProtocolError::BulkTerminator),
            (
                b"*1\r\n$123456789012345678901234567890123\r\n",
                ProtocolError::BulkLength,
            ),
        ] {
            assert_eq!(parse_all(input, &limits), Err(error), "{input:?}");
        }
        assert_eq!(
            parse_all(b"*0\r\n*-1\r\n", &limits),
            Ok(vec![vec![], vec![]])
        );
    }

    #[test]
    fn header_numbers_at_their_edges() {
        let limits = ParseLimits::default();
        // 19 digits is the most a header number may have; 20 is refused at once.
        assert_eq!(
            parse_all(b"*-9999999999999999999\r\n", &limits),
            Ok(vec![vec![]])
        );
        let mut twenty = BytesMut::from(&b"*-99999999999999999999"[..]);
        assert_eq!(
            parse_request(&mut twenty, &limits),
            Err(ProtocolError::MultibulkLength)
        );
        for (input, error) in [
            (&b"*\r\n"[..], ProtocolError::MultibulkLength),
            (b"*-\r\n", ProtocolError::MultibulkLength),
            (b"*1\r\n$\r\n", ProtocolError::BulkLength),
            (b"*1\r\n$1\rx\r\n", ProtocolError::BulkLength),
            (b"*1 \r\n", ProtocolError::MultibulkLength),
        ] {
            assert_eq!(parse_all(input, &limits), Err(error), "{input:?}");
        }
        // A header cut just before or inside its line end waits for the rest.
        for partial in [&b"*1"[..], b"*1\r", b"*1\r\n$3", b"*1\r\n$3\r"] {
            let mut buf = BytesMut::from(partial);
            assert_eq!(parse_request(&mut buf, &limits), Ok(None), "{partial:?}");
        }
    }

    #[test]
    fn requests_of_more_arguments_than_kept_on_the_stack() {
        for count in [INLINE_RANGES - 1, INLINE_RANGES, INLINE_RANGES + 1, 100] {
            let args: Vec<String> = (0..count).map(|i| format!("arg{i}")).collect();
            let mut input = format!("*{count}\r\n");
            for arg in &args {
                input.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
            }
            let requests = parse_all(input.as_bytes(), &ParseLimits::default()).unwrap();
            let expected: Vec<&str> = args.iter().map(String::as_str).collect();
            assert_eq!(requests, vec![words(&expected)], "{count} arguments");
        }
    }
}
