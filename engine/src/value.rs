//! The values a key can hold, and the string forms of numbers.
//!
//! Integers and floats are strings to every reader (Redis's rule): `GET` of an
//! integer gives its decimal text, `INCR` of the text `"41"` gives 42. Storing them
//! as numbers saves parsing and memory. Lists, sets and hashes past a small size are
//! persistent (structurally shared) collections: a new version of a large list
//! shares all but a few nodes with the old one, so both left-right copies, readers'
//! copies and the change feed hold the same nodes, and a push costs O(log n), not
//! O(n). Small ones are packed into one buffer instead (see `collection`), which a
//! write copies whole.

use std::borrow::Cow;

pub use crate::byte_string::ByteString;
pub use crate::collection::{Hash, List, Set};

/// The value stored under a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A byte string (inline when short: see [`ByteString`]).
    Bytes(ByteString),
    /// An integer, read as its decimal text.
    Int(i64),
    /// A float, read as its shortest round-trip decimal text.
    Float(f64),
    /// A list of byte strings.
    List(Box<List>),
    /// A set of byte strings.
    Set(Box<Set>),
    /// A map from field to value.
    Hash(Box<Hash>),
    /// A document of a collection (written with [`crate::Op::DocSet`]).
    Doc(Box<crate::doc::Doc>),
}

/// The type of a value, as Redis's TYPE names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Bytes, integers and floats.
    String,
    /// Lists.
    List,
    /// Sets.
    Set,
    /// Hashes.
    Hash,
    /// Documents.
    Document,
}

impl Kind {
    /// The name TYPE answers with.
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::List => "list",
            Kind::Set => "set",
            Kind::Hash => "hash",
            Kind::Document => "document",
        }
    }
}

/// Room for the decimal text of any i64 (at most 20 bytes).
pub const INT_TEXT_BYTES: usize = 20;

impl Value {
    /// The value's type.
    pub fn kind(&self) -> Kind {
        match self {
            Value::Bytes(_) | Value::Int(_) | Value::Float(_) => Kind::String,
            Value::List(_) => Kind::List,
            Value::Set(_) => Kind::Set,
            Value::Hash(_) => Kind::Hash,
            Value::Doc(_) => Kind::Document,
        }
    }

    /// Calls `f` with the string form of a string-kind value, without allocating;
    /// `None` for collections.
    /// (Floats allocate: their shortest text has no length bound, 1e300 takes 301 bytes.)
    pub fn with_str<R>(&self, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        match self {
            Value::Bytes(bytes) => Some(f(bytes)),
            Value::Int(n) => Some(f(int_text(&mut [0u8; INT_TEXT_BYTES], *n))),
            Value::Float(x) => Some(f(format_float(*x).as_bytes())),
            _ => None,
        }
    }

    /// The string form of a string-kind value, borrowed for bytes and formatted for
    /// numbers; `None` for collections.
    pub fn str_form(&self) -> Option<Cow<'_, [u8]>> {
        match self {
            Value::Bytes(bytes) => Some(Cow::Borrowed(bytes)),
            Value::Int(_) | Value::Float(_) => self.to_str_bytes().map(Cow::Owned),
            _ => None,
        }
    }

    /// The string form of a string-kind value; `None` for collections.
    pub fn to_str_bytes(&self) -> Option<Vec<u8>> {
        self.with_str(<[u8]>::to_vec)
    }

    /// The value as an integer, for INCR and friends.
    pub(crate) fn to_int(&self) -> Result<i64, crate::OpError> {
        match self {
            Value::Int(n) => Ok(*n),
            Value::Bytes(bytes) => parse_int(bytes).ok_or(crate::OpError::NotInteger),
            // As Redis's text would be: an INCRBYFLOAT to 100 leaves "100".
            Value::Float(x) => {
                parse_int(format_float(*x).as_bytes()).ok_or(crate::OpError::NotInteger)
            }
            _ => Err(crate::OpError::WrongType),
        }
    }

    /// The value as a float, for INCRBYFLOAT.
    pub(crate) fn to_float(&self) -> Result<f64, crate::OpError> {
        match self {
            Value::Int(n) => Ok(*n as f64),
            Value::Float(x) => Ok(*x),
            Value::Bytes(bytes) => parse_float(bytes).ok_or(crate::OpError::NotFloat),
            _ => Err(crate::OpError::WrongType),
        }
    }

    /// The length of a string-kind value's text (STRLEN); `None` for collections.
    pub fn str_len(&self) -> Option<usize> {
        self.with_str(<[u8]>::len)
    }

    /// Calls `visit` with the length of each string in the value: a string's text, or
    /// each element, member, field and value of a collection (for size accounting).
    pub(crate) fn for_each_part_len(&self, mut visit: impl FnMut(usize)) {
        match self {
            Value::List(list) => list.iter().for_each(|item| visit(item.len())),
            Value::Set(set) => set.iter().for_each(|member| visit(member.len())),
            Value::Hash(hash) => hash.iter().for_each(|(field, value)| {
                visit(field.len());
                visit(value.len());
            }),
            Value::Doc(doc) => visit(doc.size_bytes()),
            text => visit(text.str_len().unwrap_or(0)),
        }
    }
}

impl From<&[u8]> for Value {
    fn from(bytes: &[u8]) -> Self {
        Value::Bytes(bytes.into())
    }
}

impl From<Vec<u8>> for Value {
    fn from(bytes: Vec<u8>) -> Self {
        Value::Bytes(bytes.into())
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Value::Bytes(text.as_bytes().into())
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}

/// Writes the decimal text of `n` at the end of `buffer` and returns it, without
/// allocating (the server writes every number of its replies with it).
pub fn int_text(buffer: &mut [u8; INT_TEXT_BYTES], n: i64) -> &[u8] {
    let mut magnitude = n.unsigned_abs();
    let mut start = buffer.len();
    loop {
        start -= 1;
        buffer[start] = b'0' + (magnitude % 10) as u8;
        magnitude /= 10;
        if magnitude == 0 {
            break;
        }
    }
    if n < 0 {
        start -= 1;
        buffer[start] = b'-';
    }
    &buffer[start..]
}

/// Parses a 64-bit signed integer the way Redis does: optional `-`, digits, no `+`,
/// no spaces, no leading zeros.
pub fn parse_int(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    match digits {
        [] => return None,
        [b'0'] => return (!negative).then_some(0),
        [b'0', ..] => return None,
        _ => {}
    }
    let mut magnitude: u64 = 0;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(u64::from(digit - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Parses a float the way Redis does: decimal or exponent notation, no spaces, no NaN.
pub fn parse_float(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(text).ok()?;
    let first_is_space = text.starts_with(|c: char| c.is_ascii_whitespace());
    let last_is_space = text.ends_with(|c: char| c.is_ascii_whitespace());
    if text.is_empty() || first_is_space || last_is_space {
        return None;
    }
    let x: f64 = text.parse().ok()?;
    (!x.is_nan()).then_some(x)
}

/// The text of a float: the shortest decimal that reads back as the same number.
pub fn format_float(x: f64) -> String {
    format!("{x}")
}

/// How many decimal places two addends' last digits may lie apart for their exact
/// sum: aligned this far, both mantissas (17 digits at most) fit an `i128`. Farther
/// apart, the exact sum has more digits than a 64-bit float keeps, so the binary
/// sum is as good.
const MAX_DECIMAL_SHIFT: i32 = 20;

/// INCRBYFLOAT's sum: the exact sum of the two numbers' texts (each the shortest
/// decimal of its float, as [`format_float`] writes it), rounded once to the nearest
/// float; `None` if it is not finite. Redis adds in long double and writes the sum
/// with 17 decimals, so 0.1 + 0.2 reads "0.3" there; a binary sum would store
/// 0.30000000000000004, and every later increment would carry that error on.
pub(crate) fn add_floats(a: f64, b: f64) -> Option<f64> {
    let binary = a + b;
    if !binary.is_finite() {
        return None;
    }
    let (Some((mantissa_a, exponent_a)), Some((mantissa_b, exponent_b))) =
        (decimal_of(a), decimal_of(b))
    else {
        return Some(binary);
    };
    let exponent = exponent_a.min(exponent_b);
    let aligned = |mantissa: i128, from: i32| {
        let shift = u32::try_from(from - exponent).ok()?;
        (from - exponent <= MAX_DECIMAL_SHIFT).then(|| mantissa * 10i128.pow(shift))
    };
    let (Some(a), Some(b)) = (
        aligned(mantissa_a, exponent_a),
        aligned(mantissa_b, exponent_b),
    ) else {
        return Some(binary);
    };
    let sum: f64 = format!("{}e{exponent}", a + b).parse().ok()?;
    // `+ 0.0` turns a negative zero into zero, as Redis writes it.
    sum.is_finite().then_some(sum + 0.0)
}

/// `x`'s shortest decimal as an integer mantissa and a power of ten; `None` for a
/// number that is not finite.
fn decimal_of(x: f64) -> Option<(i128, i32)> {
    if !x.is_finite() {
        return None;
    }
    // The shortest digits, in scientific form: "-1.25e-3", "3e0".
    let text = format!("{x:e}");
    let (digits, exponent) = text.split_once('e')?;
    let exponent: i32 = exponent.parse().ok()?;
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let mantissa: i128 = format!("{whole}{fraction}").parse().ok()?;
    let fraction_digits = i32::try_from(fraction.len()).ok()?;
    Some((mantissa, exponent - fraction_digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_int_follows_redis() {
        assert_eq!(parse_int(b"0"), Some(0));
        assert_eq!(parse_int(b"-12"), Some(-12));
        assert_eq!(parse_int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b"01",
            b"-0",
            b" 1",
            b"1 ",
            b"1.0",
            b"9223372036854775808",
        ] {
            assert_eq!(parse_int(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    /// The sums Redis's INCRBYFLOAT writes (7.0.15, long double and 17 decimals),
    /// where a 64-bit float holds them.
    #[test]
    fn floats_add_as_their_decimal_texts() {
        let sum = |a: f64, b: f64| add_floats(a, b).map(format_float);
        let text = |t: &str| Some(t.to_string());
        assert_eq!(sum(0.1, 0.2), text("0.3"));
        assert_eq!(sum(0.2, 0.1), text("0.3"));
        assert_eq!(sum(0.7, 0.1), text("0.8"));
        assert_eq!(sum(16.0, 0.1), text("16.1"));
        assert_eq!(sum(3.0, 1.5e-5), text("3.000015"));
        assert_eq!(sum(-0.1, 0.1), text("0"));
        assert_eq!(sum(1.1, -2.2), text("-1.1"));
        assert_eq!(sum(10.5, 1e3), text("1010.5"));
        assert_eq!(sum(0.0, -0.0), text("0"));
        // Too far apart for the decimal sum: the binary one drops the smaller.
        assert_eq!(sum(1e30, 0.5), text(&format_float(1e30)));
        assert_eq!(sum(f64::MAX, f64::MAX), None);
        assert_eq!(sum(f64::INFINITY, 1.0), None);
    }

    #[test]
    fn a_float_with_an_integer_text_is_an_integer() {
        assert_eq!(Value::Float(100.0).to_int(), Ok(100));
        assert_eq!(Value::Float(-7.0).to_int(), Ok(-7));
        assert_eq!(Value::Float(16.1).to_int(), Err(crate::OpError::NotInteger));
        assert_eq!(Value::Float(1e20).to_int(), Err(crate::OpError::NotInteger));
    }

    #[test]
    fn parse_float_refuses_nan_and_spaces() {
        assert_eq!(parse_float(b"1.5"), Some(1.5));
        assert_eq!(parse_float(b"5e3"), Some(5000.0));
        for bad in [&b""[..], b"nan", b" 1", b"1 ", b"abc"] {
            assert_eq!(parse_float(bad), None);
        }
    }

    #[test]
    fn numbers_read_as_text() {
        assert_eq!(Value::Int(-42).to_str_bytes().unwrap(), b"-42");
        assert_eq!(
            Value::Int(i64::MIN).to_str_bytes().unwrap(),
            b"-9223372036854775808"
        );
        assert_eq!(Value::Float(10.5).to_str_bytes().unwrap(), b"10.5");
        assert_eq!(Value::Float(3.0).to_str_bytes().unwrap(), b"3");
        assert_eq!(Value::List(Box::default()).to_str_bytes(), None);
    }
}
