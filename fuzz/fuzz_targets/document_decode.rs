//! Stored documents from arbitrary bytes: decoding against a schema ends in values or
//! a clear error, never a panic or an allocation past the input. Every value decoded
//! fits its field (its text parses back as the same value), and re-encoding what was
//! decoded decodes to the same values.
//!
//! The first byte gives the field count (1 to 8); the next bytes, one per field, its
//! type (low bits), size limit (for strings and bytes) and whether it has a default
//! (high bit); the rest is the document.
#![no_main]

use chiral::{FieldDef, FieldType, FieldValue, Schema, decode_document, encode_document};
use libfuzzer_sys::fuzz_target;

fn field(index: usize, byte: u8) -> FieldDef {
    let max_bytes = u32::from((byte >> 3) & 0x0f) + 1;
    let (ty, default) = match byte % 6 {
        0 => (FieldType::String { max_bytes }, FieldValue::from("d")),
        1 => (FieldType::Bytes { max_bytes }, FieldValue::Bytes(Box::new([0]))),
        2 => (FieldType::Uint64, FieldValue::Uint64(7)),
        3 => (FieldType::Int64, FieldValue::Int64(-7)),
        4 => (FieldType::Float64, FieldValue::Float64(0.5)),
        _ => (FieldType::Bool, FieldValue::Bool(true)),
    };
    FieldDef {
        default: (byte & 0x80 != 0).then_some(default),
        ..FieldDef::new(&format!("f{index}"), ty)
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&count, rest)) = data.split_first() else {
        return;
    };
    let count = usize::from(count % 8) + 1;
    if rest.len() < count {
        return;
    }
    let (types, document) = rest.split_at(count);
    let fields = types.iter().enumerate().map(|(i, &b)| field(i, b)).collect();
    let schema = Schema::new("s", fields);
    let Ok(values) = decode_document(&schema, document) else {
        return;
    };
    assert_eq!(values.len(), schema.fields.len());
    for (value, field) in values.iter().zip(&schema.fields) {
        if let Some(value) = value {
            let text = value.text();
            let parsed = FieldValue::parse(&field.name, field.ty, &text)
                .expect("a decoded value fits its field");
            assert_eq!(parsed, value.to_value());
        }
    }
    let again = encode_document(&values);
    assert_eq!(decode_document(&schema, &again).expect("re-encoded"), values);
});
