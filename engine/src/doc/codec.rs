//! The bytes of a stored document: compact, with no field names.
//!
//! ```text
//! varint  n: the number of fields the schema had when the document was written
//! bytes   presence bitmap: ceil(n / 8) bytes, bit i set when field i has a value
//! then    each present field's value, in schema order:
//!           uint64, int64, float64: 8 bytes little-endian; bool: 1 byte (0 or 1);
//!           stringN, bytesN: varint length, then the bytes
//! ```
//!
//! Fields are only ever appended to a schema, so a document written under an older
//! schema (a smaller `n`) decodes under the current one: the fields it never had read
//! as their defaults. Decoding trusts nothing, as a snapshot file may be damaged or
//! hostile: every length is checked, text must be UTF-8 and fit its type.

use crate::doc::{DocError, FieldRef, FieldType, Schema};
use crate::encoding::{DecodeError, Input, put_bytes, put_u64};

/// Encodes `values` (one per schema field, in order; `None` for absent).
pub(crate) fn encode(values: &[Option<FieldRef<'_>>]) -> Box<[u8]> {
    // Sized exactly up front: no growth, and no copy when it becomes a box.
    let values_bytes: usize = values
        .iter()
        .flatten()
        .map(|value| field_bytes(*value))
        .sum();
    let size_bytes = varint_bytes(values.len()) + values.len().div_ceil(8) + values_bytes;
    let mut out = Vec::with_capacity(size_bytes);
    put_u64(&mut out, values.len() as u64);
    let bitmap_start = out.len();
    out.resize(bitmap_start + values.len().div_ceil(8), 0);
    for (index, value) in values.iter().enumerate() {
        if let Some(value) = value {
            out[bitmap_start + index / 8] |= 1 << (index % 8);
            put_field(&mut out, *value);
        }
    }
    debug_assert_eq!(out.len(), size_bytes);
    out.into_boxed_slice()
}

/// Decodes a document stored as `data` against `schema`: one value per schema
/// field, borrowed from `data` (or from the schema's defaults).
pub(crate) fn decode<'a>(
    schema: &'a Schema,
    data: &'a [u8],
) -> Result<Vec<Option<FieldRef<'a>>>, DocError> {
    let damaged = |DecodeError(reason)| DocError::Damaged(reason);
    let mut input = Input(data);
    let stored = input.usize().map_err(damaged)?;
    if stored > schema.fields.len() {
        return Err(DocError::Damaged("more fields than its schema"));
    }
    let bitmap = input.take(stored.div_ceil(8)).map_err(damaged)?;
    let mut values = Vec::with_capacity(schema.fields.len());
    for (index, field) in schema.fields.iter().enumerate() {
        let value = if index >= stored {
            field.default.as_ref().map(|default| default.as_ref())
        } else if bitmap[index / 8] & (1 << (index % 8)) != 0 {
            let value = read_field(&mut input, field.ty).map_err(damaged)?;
            value
                .check(&field.name, field.ty)
                .map_err(|_| DocError::Damaged("a value does not fit its field"))?;
            Some(value)
        } else {
            None
        };
        values.push(value);
    }
    if !input.0.is_empty() {
        return Err(DocError::Damaged("bytes after the last field"));
    }
    Ok(values)
}

/// The bytes of `n` as a varint.
fn varint_bytes(n: usize) -> usize {
    (usize::BITS - n.leading_zeros()).max(1).div_ceil(7) as usize
}

/// The bytes [`put_field`] appends for `value`.
fn field_bytes(value: FieldRef<'_>) -> usize {
    match value {
        FieldRef::String(text) => varint_bytes(text.len()) + text.len(),
        FieldRef::Bytes(bytes) => varint_bytes(bytes.len()) + bytes.len(),
        FieldRef::Uint64(_) | FieldRef::Int64(_) | FieldRef::Float64(_) => 8,
        FieldRef::Bool(_) => 1,
    }
}

/// Appends one value.
pub(crate) fn put_field(out: &mut Vec<u8>, value: FieldRef<'_>) {
    match value {
        FieldRef::String(text) => put_bytes(out, text.as_bytes()),
        FieldRef::Bytes(bytes) => put_bytes(out, bytes),
        FieldRef::Uint64(n) => out.extend_from_slice(&n.to_le_bytes()),
        FieldRef::Int64(n) => out.extend_from_slice(&n.to_le_bytes()),
        FieldRef::Float64(x) => out.extend_from_slice(&x.to_le_bytes()),
        FieldRef::Bool(b) => out.push(u8::from(b)),
    }
}

/// Reads one value of type `ty` (its size is not checked here).
pub(crate) fn read_field<'a>(
    input: &mut Input<'a>,
    ty: FieldType,
) -> Result<FieldRef<'a>, DecodeError> {
    let eight = |input: &mut Input<'a>| -> Result<[u8; 8], DecodeError> {
        Ok(input.take(8)?.try_into().expect("8 bytes"))
    };
    Ok(match ty {
        FieldType::String { .. } => FieldRef::String(
            std::str::from_utf8(input.bytes()?).map_err(|_| DecodeError("text is not UTF-8"))?,
        ),
        FieldType::Bytes { .. } => FieldRef::Bytes(input.bytes()?),
        FieldType::Uint64 => FieldRef::Uint64(u64::from_le_bytes(eight(input)?)),
        FieldType::Int64 => FieldRef::Int64(i64::from_le_bytes(eight(input)?)),
        FieldType::Float64 => FieldRef::Float64(f64::from_le_bytes(eight(input)?)),
        FieldType::Bool => FieldRef::Bool(input.flag()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::{FieldDef, FieldValue};

    fn schema() -> Schema {
        Schema::new(
            "s",
            vec![
                FieldDef::new("id", FieldType::String { max_bytes: 8 }),
                FieldDef::new("n", FieldType::Uint64),
                FieldDef::new("b", FieldType::Bool),
                FieldDef::new("x", FieldType::Float64),
                FieldDef::new("raw", FieldType::Bytes { max_bytes: 4 }),
            ],
        )
    }

    #[test]
    fn round_trip_with_absent_fields() {
        let schema = schema();
        let values = [
            None,
            Some(FieldRef::Uint64(7)),
            None,
            Some(FieldRef::Float64(-0.5)),
            Some(FieldRef::Bytes(&[1, 2])),
        ];
        let data = encode(&values);
        // 1 count byte, 1 bitmap byte, 8 + 8 + 1 + 2 value bytes: no names.
        assert_eq!(data.len(), 21);
        assert_eq!(decode(&schema, &data).unwrap(), values);
    }

    #[test]
    fn older_documents_read_new_fields_as_defaults() {
        let mut schema = schema();
        let data = encode(&[None, Some(FieldRef::Uint64(1)), None, None, None]);
        schema.fields.push(FieldDef {
            default: Some(FieldValue::Int64(-3)),
            ..FieldDef::new("added", FieldType::Int64)
        });
        schema.fields.push(FieldDef::new("bare", FieldType::Bool));
        let values = decode(&schema, &data).unwrap();
        assert_eq!(values[5], Some(FieldRef::Int64(-3)));
        assert_eq!(values[6], None);
    }

    #[test]
    fn sizes_are_exact() {
        for len in [0, 1, 127, 128, 16_383, 16_384, 70_000] {
            let text = "a".repeat(len);
            let data = encode(&[Some(FieldRef::String(&text)), Some(FieldRef::Bool(true))]);
            assert_eq!(data.len(), 1 + 1 + varint_bytes(len) + len + 1);
        }
    }

    #[test]
    fn damage_is_an_error() {
        let schema = schema();
        let good = encode(&[Some(FieldRef::String("abc")), None, None, None, None]);
        for cut in 0..good.len() {
            assert!(decode(&schema, &good[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = good.to_vec();
        extra.push(0);
        assert!(decode(&schema, &extra).is_err());
        // A string longer than its type, and one that is not UTF-8.
        let long = encode(&[Some(FieldRef::String("123456789")), None, None, None, None]);
        assert!(decode(&schema, &long).is_err());
        let mut bad_utf8 = good.to_vec();
        bad_utf8[3] = 0xff;
        assert!(decode(&schema, &bad_utf8).is_err());
        assert!(decode(&schema, &[9, 0xff, 0xff]).is_err());
    }
}
