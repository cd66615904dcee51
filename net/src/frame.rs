//! Replies on the wire: RESP values and how each protocol version writes them.
//!
//! The server builds every reply as a [`Frame`] and writes it for the connection's
//! protocol: RESP2 by default, RESP3 after `HELLO 3`. RESP3 types that RESP2 lacks
//! degrade the way Redis degrades them (a map becomes a flat array, a set an array,
//! null a null bulk string or null array, a push an array), so one reply builder
//! serves both.

use bytes::{BufMut, Bytes, BytesMut};

/// The RESP version a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2, what every connection starts with.
    #[default]
    Resp2,
    /// RESP3, after `HELLO 3`.
    Resp3,
}

impl Protocol {
    /// The number `HELLO` names it by.
    pub fn number(self) -> i64 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }
}

/// One reply value.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `+OK`: a short status that holds no CR or LF.
    Simple(&'static str),
    /// `-ERR ...`: an error; the text starts with its code (`ERR`, `WRONGTYPE`, ...).
    Error(String),
    /// `:42`.
    Integer(i64),
    /// `$3\r\nfoo`: binary-safe bytes.
    Bulk(Bytes),
    /// `*2 ...`.
    Array(Vec<Frame>),
    /// A missing value: `$-1` in RESP2, `_` in RESP3.
    Null,
    /// A missing array (EXEC after a failed WATCH, a pop of a missing list with a
    /// count): `*-1` in RESP2, `_` in RESP3.
    NullArray,
    /// Key/value pairs: `%` in RESP3, a flat array in RESP2.
    Map(Vec<(Frame, Frame)>),
    /// Unordered members: `~` in RESP3, an array in RESP2.
    Set(Vec<Frame>),
    /// A floating point number: `,` in RESP3, a bulk string in RESP2.
    Double(f64),
    /// Out-of-band data (tracking invalidations): `>` in RESP3, an array in RESP2.
    Push(Vec<Frame>),
    /// A verbatim text with its format (`txt`): `=` in RESP3, a bulk string in RESP2.
    Verbatim(Bytes),
}

impl Frame {
    /// `+OK`.
    pub const OK: Frame = Frame::Simple("OK");

    /// An error reply; `message` starts with its code.
    pub fn error(message: impl Into<String>) -> Frame {
        Frame::Error(message.into())
    }

    /// A bulk string of `bytes`.
    pub fn bulk(bytes: impl Into<Bytes>) -> Frame {
        Frame::Bulk(bytes.into())
    }

    /// A bulk string, or null.
    pub fn bulk_or_null(bytes: Option<impl Into<Bytes>>) -> Frame {
        bytes.map_or(Frame::Null, Frame::bulk)
    }

    /// An array of bulk strings.
    pub fn bulks<B: Into<Bytes>>(items: impl IntoIterator<Item = B>) -> Frame {
        Frame::Array(items.into_iter().map(Frame::bulk).collect())
    }

    /// Whether this is an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_))
    }

    /// Appends the frame's bytes, as `protocol` writes them, to `out`.
    pub fn encode(&self, protocol: Protocol, out: &mut BytesMut) {
        let resp3 = protocol == Protocol::Resp3;
        match self {
            Frame::Simple(text) => line(out, b'+', text.as_bytes()),
            Frame::Error(text) => line(out, b'-', sanitize(text).as_bytes()),
            Frame::Integer(n) => number_line(out, b':', *n),
            Frame::Bulk(bytes) => bulk(out, b'$', bytes),
            Frame::Array(items) => aggregate(out, b'*', items, protocol),
            Frame::Null if resp3 => out.put_slice(b"_\r\n"),
            Frame::NullArray if resp3 => out.put_slice(b"_\r\n"),
            Frame::Null => out.put_slice(b"$-1\r\n"),
            Frame::NullArray => out.put_slice(b"*-1\r\n"),
            Frame::Map(pairs) => {
                let (tag, count) = if resp3 {
                    (b'%', pairs.len())
                } else {
                    (b'*', pairs.len() * 2)
                };
                length_line(out, tag, count);
                for (key, value) in pairs {
                    key.encode(protocol, out);
                    value.encode(protocol, out);
                }
            }
            Frame::Set(items) => aggregate(out, if resp3 { b'~' } else { b'*' }, items, protocol),
            Frame::Push(items) => aggregate(out, if resp3 { b'>' } else { b'*' }, items, protocol),
            Frame::Double(x) => {
                let text = format_double(*x);
                if resp3 {
                    line(out, b',', text.as_bytes());
                } else {
                    bulk(out, b'$', text.as_bytes());
                }
            }
            Frame::Verbatim(text) => {
                if resp3 {
                    let mut body = Vec::with_capacity(text.len() + 4);
                    body.extend_from_slice(b"txt:");
                    body.extend_from_slice(text);
                    bulk(out, b'=', &body);
                } else {
                    bulk(out, b'$', text);
                }
            }
        }
    }
}

fn line(out: &mut BytesMut, tag: u8, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.put_u8(tag);
    out.put_slice(text);
    out.put_slice(b"\r\n");
}

fn bulk(out: &mut BytesMut, tag: u8, bytes: &[u8]) {
    length_line(out, tag, bytes.len());
    out.reserve(bytes.len() + 2);
    out.put_slice(bytes);
    out.put_slice(b"\r\n");
}

fn aggregate(out: &mut BytesMut, tag: u8, items: &[Frame], protocol: Protocol) {
    length_line(out, tag, items.len());
    for item in items {
        item.encode(protocol, out);
    }
}

/// Appends a line of `tag` and the decimal text of `n`.
fn number_line(out: &mut BytesMut, tag: u8, n: i64) {
    line(
        out,
        tag,
        chiral::int_text(&mut [0; chiral::INT_TEXT_BYTES], n),
    );
}

/// Appends a line of `tag` and the length `len`. (A length fits an i64: Rust's
/// allocations hold at most `isize::MAX` bytes.)
fn length_line(out: &mut BytesMut, tag: u8, len: usize) {
    number_line(out, tag, i64::try_from(len).unwrap_or(i64::MAX));
}

/// An error or status line may not hold CR or LF: they would end it early and the
/// rest would be read as another reply.
fn sanitize(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains(['\r', '\n']) {
        text.replace(['\r', '\n'], " ").into()
    } else {
        text.into()
    }
}

/// A double as RESP3 writes it: `inf`, `-inf`, `nan`, or the shortest text that reads
/// back as the same number.
fn format_double(x: f64) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        chiral::format_float(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(frame: &Frame) -> (String, String) {
        let mut two = BytesMut::new();
        let mut three = BytesMut::new();
        frame.encode(Protocol::Resp2, &mut two);
        frame.encode(Protocol::Resp3, &mut three);
        (
            String::from_utf8(two.to_vec()).unwrap(),
            String::from_utf8(three.to_vec()).unwrap(),
        )
    }

    #[test]
    fn each_type_in_each_protocol() {
        let cases = [
            (Frame::OK, "+OK\r\n", "+OK\r\n"),
            (Frame::error("ERR x"), "-ERR x\r\n", "-ERR x\r\n"),
            (Frame::Integer(-7), ":-7\r\n", ":-7\r\n"),
            (Frame::bulk("ab"), "$2\r\nab\r\n", "$2\r\nab\r\n"),
            (Frame::bulk(""), "$0\r\n\r\n", "$0\r\n\r\n"),
            (Frame::Null, "$-1\r\n", "_\r\n"),
            (Frame::NullArray, "*-1\r\n", "_\r\n"),
            (
                Frame::Array(vec![Frame::Integer(1), Frame::Null]),
                "*2\r\n:1\r\n$-1\r\n",
                "*2\r\n:1\r\n_\r\n",
            ),
            (
                Frame::Map(vec![(Frame::bulk("k"), Frame::Integer(1))]),
                "*2\r\n$1\r\nk\r\n:1\r\n",
                "%1\r\n$1\r\nk\r\n:1\r\n",
            ),
            (
                Frame::Set(vec![Frame::bulk("m")]),
                "*1\r\n$1\r\nm\r\n",
                "~1\r\n$1\r\nm\r\n",
            ),
            (Frame::Double(1.5), "$3\r\n1.5\r\n", ",1.5\r\n"),
            (Frame::Double(f64::INFINITY), "$3\r\ninf\r\n", ",inf\r\n"),
            (
                Frame::Push(vec![Frame::bulk("x")]),
                "*1\r\n$1\r\nx\r\n",
                ">1\r\n$1\r\nx\r\n",
            ),
            (
                Frame::Verbatim("hi".into()),
                "$2\r\nhi\r\n",
                "=6\r\ntxt:hi\r\n",
            ),
        ];
        for (frame, two, three) in cases {
            assert_eq!(
                both(&frame),
                (two.to_string(), three.to_string()),
                "{frame:?}"
            );
        }
    }

    #[test]
    fn numbers_are_written_as_to_string_writes_them() {
        let integers = [0, 1, -1, 9, 10, -10, 99, 100, 12345, i64::MAX, i64::MIN];
        for n in integers.into_iter().chain((-1000..1000).map(|i| i * 7919)) {
            assert_eq!(both(&Frame::Integer(n)).0, format!(":{n}\r\n"));
        }
        for len in [0, 1, 10, 1000] {
            let text = "x".repeat(len);
            assert_eq!(
                both(&Frame::bulk(text.clone())).0,
                format!("${len}\r\n{text}\r\n")
            );
        }
        let (two, _) = both(&Frame::Integer(i64::MIN));
        assert_eq!(two, ":-9223372036854775808\r\n");
    }

    #[test]
    fn an_error_cannot_break_the_stream() {
        let (two, _) = both(&Frame::error("ERR bad\r\n+OK"));
        assert_eq!(two, "-ERR bad  +OK\r\n");
    }
}
