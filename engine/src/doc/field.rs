//! Field values: owned ([`FieldValue`]) and borrowed in place ([`FieldRef`]), their
//! text forms, and the checks that a value fits its field's type.

use std::borrow::Cow;

use crate::doc::{DocError, FieldType};
use crate::value::{format_float, parse_float, parse_int};

/// A field's value, owned.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// Text (`stringN`).
    String(Box<str>),
    /// Bytes (`bytesN`).
    Bytes(Box<[u8]>),
    /// `uint64`.
    Uint64(u64),
    /// `int64`.
    Int64(i64),
    /// `float64`.
    Float64(f64),
    /// `bool`.
    Bool(bool),
}

/// A field's value, borrowed from where the document is stored (the overlay or the
/// mapped snapshot).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldRef<'a> {
    /// Text (`stringN`).
    String(&'a str),
    /// Bytes (`bytesN`).
    Bytes(&'a [u8]),
    /// `uint64`.
    Uint64(u64),
    /// `int64`.
    Int64(i64),
    /// `float64`.
    Float64(f64),
    /// `bool`.
    Bool(bool),
}

impl FieldValue {
    /// Reads `text` as a value of `ty` for the field `field` (see [`FieldRef::parse`]).
    pub fn parse(field: &str, ty: FieldType, text: &[u8]) -> Result<FieldValue, DocError> {
        FieldRef::parse(field, ty, text).map(FieldRef::to_value)
    }

    /// The value, borrowed.
    pub fn as_ref(&self) -> FieldRef<'_> {
        match self {
            FieldValue::String(text) => FieldRef::String(text),
            FieldValue::Bytes(bytes) => FieldRef::Bytes(bytes),
            FieldValue::Uint64(n) => FieldRef::Uint64(*n),
            FieldValue::Int64(n) => FieldRef::Int64(*n),
            FieldValue::Float64(x) => FieldRef::Float64(*x),
            FieldValue::Bool(b) => FieldRef::Bool(*b),
        }
    }

    /// The text form (see [`FieldRef::text`]).
    pub fn text(&self) -> Cow<'_, [u8]> {
        self.as_ref().text()
    }

    /// Checks that the value is of type `ty` and fits it.
    pub(crate) fn check(&self, field: &str, ty: FieldType) -> Result<(), DocError> {
        self.as_ref().check(field, ty)
    }
}

impl<'a> FieldRef<'a> {
    /// Reads `text` as a value of `ty` for the field `field`, borrowing strings and
    /// bytes from it: decimal numbers (Redis's rules for integers and floats),
    /// `true`/`false` (or `1`/`0`) for bools, UTF-8 for strings, anything for bytes;
    /// sizes are checked.
    pub fn parse(field: &str, ty: FieldType, text: &'a [u8]) -> Result<FieldRef<'a>, DocError> {
        let wrong = || DocError::WrongType {
            field: field.into(),
            expected: ty.name().into(),
        };
        let value = match ty {
            FieldType::String { .. } => {
                FieldRef::String(std::str::from_utf8(text).map_err(|_| wrong())?)
            }
            FieldType::Bytes { .. } => FieldRef::Bytes(text),
            FieldType::Uint64 => FieldRef::Uint64(parse_u64(text).ok_or_else(wrong)?),
            FieldType::Int64 => FieldRef::Int64(parse_int(text).ok_or_else(wrong)?),
            FieldType::Float64 => FieldRef::Float64(parse_float(text).ok_or_else(wrong)?),
            FieldType::Bool => FieldRef::Bool(match text {
                b"true" | b"1" => true,
                b"false" | b"0" => false,
                _ => return Err(wrong()),
            }),
        };
        value.check(field, ty)?;
        Ok(value)
    }

    /// An owned copy.
    pub fn to_value(self) -> FieldValue {
        match self {
            FieldRef::String(text) => FieldValue::String(text.into()),
            FieldRef::Bytes(bytes) => FieldValue::Bytes(bytes.into()),
            FieldRef::Uint64(n) => FieldValue::Uint64(n),
            FieldRef::Int64(n) => FieldValue::Int64(n),
            FieldRef::Float64(x) => FieldValue::Float64(x),
            FieldRef::Bool(b) => FieldValue::Bool(b),
        }
    }

    /// The text form, which [`FieldValue::parse`] reads back as the same value:
    /// borrowed for strings and bytes, decimal for numbers, `true`/`false`.
    pub fn text(self) -> Cow<'a, [u8]> {
        match self {
            FieldRef::String(text) => Cow::Borrowed(text.as_bytes()),
            FieldRef::Bytes(bytes) => Cow::Borrowed(bytes),
            FieldRef::Uint64(n) => Cow::Owned(n.to_string().into_bytes()),
            FieldRef::Int64(n) => Cow::Owned(n.to_string().into_bytes()),
            FieldRef::Float64(x) => Cow::Owned(format_float(x).into_bytes()),
            FieldRef::Bool(b) => Cow::Borrowed(if b { b"true" } else { b"false" }),
        }
    }

    /// Whether the value is of type `ty` (any size).
    pub(crate) fn is_of(self, ty: FieldType) -> bool {
        matches!(
            (self, ty),
            (FieldRef::String(_), FieldType::String { .. })
                | (FieldRef::Bytes(_), FieldType::Bytes { .. })
                | (FieldRef::Uint64(_), FieldType::Uint64)
                | (FieldRef::Int64(_), FieldType::Int64)
                | (FieldRef::Float64(_), FieldType::Float64)
                | (FieldRef::Bool(_), FieldType::Bool)
        )
    }

    /// Checks that the value is of type `ty` and fits it.
    pub(crate) fn check(self, field: &str, ty: FieldType) -> Result<(), DocError> {
        if !self.is_of(ty) || matches!(self, FieldRef::Float64(x) if x.is_nan()) {
            return Err(DocError::WrongType {
                field: field.into(),
                expected: ty.name().into(),
            });
        }
        let size_bytes = match self {
            FieldRef::String(text) => text.len(),
            FieldRef::Bytes(bytes) => bytes.len(),
            _ => 0,
        };
        match ty.max_bytes() {
            Some(max_bytes) if size_bytes > max_bytes => Err(DocError::TooLong {
                field: field.into(),
                ty: ty.name().into(),
                size_bytes,
                max_bytes,
            }),
            _ => Ok(()),
        }
    }
}

/// Parses an unsigned decimal: digits only, no sign, no leading zeros.
fn parse_u64(text: &[u8]) -> Option<u64> {
    match text {
        [] => None,
        [b'0'] => Some(0),
        [b'0', ..] => None,
        _ if text.iter().all(u8::is_ascii_digit) => std::str::from_utf8(text).ok()?.parse().ok(),
        _ => None,
    }
}

impl From<&str> for FieldValue {
    fn from(text: &str) -> Self {
        FieldValue::String(text.into())
    }
}

impl From<u64> for FieldValue {
    fn from(n: u64) -> Self {
        FieldValue::Uint64(n)
    }
}

impl From<i64> for FieldValue {
    fn from(n: i64) -> Self {
        FieldValue::Int64(n)
    }
}

impl From<f64> for FieldValue {
    fn from(x: f64) -> Self {
        FieldValue::Float64(x)
    }
}

impl From<bool> for FieldValue {
    fn from(b: bool) -> Self {
        FieldValue::Bool(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_through_parse() {
        let cases = [
            (
                FieldType::String { max_bytes: 8 },
                FieldValue::from("héllo"),
            ),
            (
                FieldType::Bytes { max_bytes: 3 },
                FieldValue::Bytes(Box::new([0, 255, 7])),
            ),
            (FieldType::Uint64, FieldValue::Uint64(u64::MAX)),
            (FieldType::Int64, FieldValue::Int64(i64::MIN)),
            (FieldType::Float64, FieldValue::Float64(0.1)),
            (FieldType::Bool, FieldValue::Bool(false)),
        ];
        for (ty, value) in cases {
            assert_eq!(FieldValue::parse("f", ty, &value.text()).unwrap(), value);
        }
    }

    #[test]
    fn parse_refuses_what_does_not_fit() {
        let wrong = |ty| FieldValue::parse("f", ty, b"abc").unwrap_err();
        assert_eq!(
            wrong(FieldType::Uint64).to_string(),
            "wrong type for field f: expected uint64"
        );
        assert!(matches!(wrong(FieldType::Bool), DocError::WrongType { .. }));
        assert!(matches!(
            wrong(FieldType::Float64),
            DocError::WrongType { .. }
        ));
        for bad in [&b"-1"[..], b"01", b"+1", b"18446744073709551616", b""] {
            assert!(FieldValue::parse("f", FieldType::Uint64, bad).is_err());
        }
        assert!(FieldValue::parse("f", FieldType::String { max_bytes: 8 }, &[0xff]).is_err());
        let long = FieldValue::parse("page", FieldType::String { max_bytes: 64 }, &[b'a'; 65]);
        assert_eq!(
            long.unwrap_err().to_string(),
            "value too long for string64 field page (65 > 64 bytes)"
        );
        assert!(
            FieldValue::parse("page", FieldType::String { max_bytes: 64 }, &[b'a'; 64]).is_ok()
        );
    }
}
