//! Schemas and collections: the names and typed fields documents are checked against.
//!
//! A schema is a name and an ordered list of typed fields; a collection is a name, a
//! schema, and the field that holds each document's key. Names are short ASCII
//! identifiers so that they read well on the wire and in the Boutique language, and
//! so that a collection's name never contains the `:` that separates it from a
//! document's id in the key space.

use crate::doc::DocError;

/// The longest schema, collection or field name, in bytes.
pub const MAX_NAME_BYTES: usize = 64;
/// The most fields a schema may have.
pub const MAX_SCHEMA_FIELDS: usize = 1024;

/// The type of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// UTF-8 text of at most `max_bytes` bytes (`string64`).
    String {
        /// The longest value, in bytes.
        max_bytes: u32,
    },
    /// Arbitrary bytes, at most `max_bytes` of them (`bytes16`).
    Bytes {
        /// The longest value, in bytes.
        max_bytes: u32,
    },
    /// An unsigned 64-bit integer (`uint64`).
    Uint64,
    /// A signed 64-bit integer (`int64`).
    Int64,
    /// A 64-bit float (`float64`); NaN is refused.
    Float64,
    /// `true` or `false` (`bool`).
    Bool,
}

impl FieldType {
    /// Parses a type name: `stringN`, `bytesN` (N from 1 to 2^32 - 1), `uint64`,
    /// `int64`, `float64` or `bool`.
    pub fn parse(name: &str) -> Option<FieldType> {
        let sized = |digits: &str| {
            let valid = !digits.is_empty()
                && !digits.starts_with('0')
                && digits.bytes().all(|b| b.is_ascii_digit());
            valid.then(|| digits.parse::<u32>().ok()).flatten()
        };
        Some(match name {
            "uint64" => FieldType::Uint64,
            "int64" => FieldType::Int64,
            "float64" => FieldType::Float64,
            "bool" => FieldType::Bool,
            _ => {
                if let Some(digits) = name.strip_prefix("string") {
                    FieldType::String {
                        max_bytes: sized(digits)?,
                    }
                } else if let Some(digits) = name.strip_prefix("bytes") {
                    FieldType::Bytes {
                        max_bytes: sized(digits)?,
                    }
                } else {
                    return None;
                }
            }
        })
    }

    /// The type's name, as [`FieldType::parse`] reads it.
    pub fn name(&self) -> String {
        match self {
            FieldType::String { max_bytes } => format!("string{max_bytes}"),
            FieldType::Bytes { max_bytes } => format!("bytes{max_bytes}"),
            FieldType::Uint64 => "uint64".into(),
            FieldType::Int64 => "int64".into(),
            FieldType::Float64 => "float64".into(),
            FieldType::Bool => "bool".into(),
        }
    }

    /// The longest value of a sized type, in bytes.
    pub(crate) fn max_bytes(&self) -> Option<usize> {
        match self {
            FieldType::String { max_bytes } | FieldType::Bytes { max_bytes } => {
                Some(*max_bytes as usize)
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for FieldType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// One field of a schema.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDef {
    /// The field's name.
    pub name: Box<str>,
    /// Its type.
    pub ty: FieldType,
    /// What a document that never had the field reads (a field added to a schema
    /// that already has documents); `None` reads as absent.
    pub default: Option<crate::doc::FieldValue>,
}

impl FieldDef {
    /// A field without a default.
    pub fn new(name: &str, ty: FieldType) -> FieldDef {
        FieldDef {
            name: name.into(),
            ty,
            default: None,
        }
    }
}

/// A named list of typed fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// The schema's name.
    pub name: Box<str>,
    /// Its fields, in order: a document stores its values in this order.
    pub fields: Vec<FieldDef>,
}

impl Schema {
    /// A schema of `fields`.
    pub fn new(name: &str, fields: Vec<FieldDef>) -> Schema {
        Schema {
            name: name.into(),
            fields,
        }
    }

    /// The position of the field called `name`.
    pub fn field_index(&self, name: &[u8]) -> Option<usize> {
        self.fields
            .iter()
            .position(|field| field.name.as_bytes() == name)
    }

    /// Checks names, types, defaults and sizes: what a new schema must satisfy.
    pub(crate) fn check(&self, max_value_bytes: usize) -> Result<(), DocError> {
        check_name("schema", &self.name)?;
        if self.fields.is_empty() || self.fields.len() > MAX_SCHEMA_FIELDS {
            return Err(DocError::Invalid(format!(
                "schema {} must have 1 to {MAX_SCHEMA_FIELDS} fields, not {}",
                self.name,
                self.fields.len()
            )));
        }
        for (index, field) in self.fields.iter().enumerate() {
            self.check_field(field, max_value_bytes)?;
            if self.fields[..index]
                .iter()
                .any(|earlier| earlier.name == field.name)
            {
                return Err(DocError::Invalid(format!(
                    "field {} appears twice in schema {}",
                    field.name, self.name
                )));
            }
        }
        Ok(())
    }

    /// Checks one field's name, size and default.
    pub(crate) fn check_field(
        &self,
        field: &FieldDef,
        max_value_bytes: usize,
    ) -> Result<(), DocError> {
        check_name("field", &field.name)?;
        if let Some(max) = field.ty.max_bytes()
            && max > max_value_bytes
        {
            return Err(DocError::Invalid(format!(
                "field {}: {} is larger than the value limit of {max_value_bytes} bytes",
                field.name, field.ty
            )));
        }
        if let Some(default) = &field.default {
            default.check(&field.name, field.ty)?;
        }
        Ok(())
    }
}

/// A named set of documents of one schema, keyed by one of its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    /// The collection's name: its documents live under the keys `name:id`.
    pub name: Box<str>,
    /// The schema of its documents.
    pub schema: Box<str>,
    /// The field that holds each document's id (filled from the key).
    pub key_field: Box<str>,
}

/// Checks that `name` is a valid name for a `what` (schema, collection, field):
/// 1 to [`MAX_NAME_BYTES`] ASCII letters, digits, `_` or `-`, not starting with a
/// digit or `-`.
pub(crate) fn check_name(what: &str, name: &str) -> Result<(), DocError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !name.starts_with(|c: char| c.is_ascii_digit() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(DocError::Invalid(format!(
            "invalid {what} name {name:?}: use 1 to {MAX_NAME_BYTES} letters, digits, '_' or '-', starting with a letter or '_'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_round_trip() {
        for name in [
            "string64", "bytes16", "uint64", "int64", "float64", "bool", "string1",
        ] {
            assert_eq!(FieldType::parse(name).unwrap().name(), name);
        }
        for bad in [
            "string",
            "string0",
            "string064",
            "bytes-1",
            "uint32",
            "String64",
            "string4294967296",
        ] {
            assert_eq!(FieldType::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_are_identifiers() {
        assert!(check_name("field", "last_login_time").is_ok());
        assert!(check_name("field", "_x-1").is_ok());
        for bad in ["", "1abc", "-a", "a:b", "a b", "é", &"a".repeat(65)] {
            assert!(check_name("field", bad).is_err(), "{bad}");
        }
    }
}
