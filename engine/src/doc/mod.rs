//! Documents: flat, typed records checked against a schema and stored compactly.
//!
//! A schema ([`Schema`]) is a name and typed fields; a collection ([`Collection`]) is
//! a name, a schema and a key field. A document of collection `users` with id `u1`
//! lives under the key `users:u1` of the ordinary key space (as values of Redis
//! modules do), so it has a version and can expire, be deleted, scanned and watched
//! like any key. Its value ([`Doc`]) holds the collection's number and the field
//! values in schema order, without names; its key field is not stored at all, as the
//! key holds it. The catalog of schemas and collections is published with the map,
//! logged through ordinary operations and kept in snapshots.

pub(crate) mod catalog;
pub(crate) mod codec;
mod error;
mod field;
mod schema;

pub use error::DocError;
pub use field::{FieldRef, FieldValue};
pub use schema::{Collection, FieldDef, FieldType, MAX_NAME_BYTES, MAX_SCHEMA_FIELDS, Schema};

/// A stored document: its collection's number and its encoded fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doc {
    pub(crate) collection: u32,
    pub(crate) data: Box<[u8]>,
}

impl Doc {
    /// The encoded fields' size in bytes.
    pub fn size_bytes(&self) -> usize {
        self.data.len()
    }
}

/// Decodes a document's stored bytes against `schema`: one value per schema field,
/// borrowed in place; fields the document never had read as their defaults. This is
/// the check every read of a stored document goes through (the bytes may come from a
/// damaged or hostile snapshot): an error, never a panic.
pub fn decode_document<'a>(
    schema: &'a Schema,
    data: &'a [u8],
) -> Result<Vec<Option<FieldRef<'a>>>, DocError> {
    codec::decode(schema, data)
}

/// Encodes one value per schema field (`None` for absent) as a document is stored.
pub fn encode_document(values: &[Option<FieldRef<'_>>]) -> Box<[u8]> {
    codec::encode(values)
}

/// The key a collection's document is stored under: `collection:id`.
pub fn doc_key(collection: &str, id: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(collection.len() + 1 + id.len());
    key.extend_from_slice(collection.as_bytes());
    key.push(b':');
    key.extend_from_slice(id);
    key
}

/// A document as a read returns it: the fields asked for, by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The LSN of the document's last write.
    pub version: crate::Lsn,
    /// Field names and values: every field of the schema in order (projection
    /// empty), or the fields asked for in the order asked; `None` for a field the
    /// document has no value for.
    pub fields: Vec<(Box<str>, Option<FieldValue>)>,
}

impl Document {
    /// The value of the field called `name`, if the document has one.
    pub fn get(&self, name: &str) -> Option<&FieldValue> {
        self.fields
            .iter()
            .find(|(field, _)| &**field == name)
            .and_then(|(_, value)| value.as_ref())
    }
}
