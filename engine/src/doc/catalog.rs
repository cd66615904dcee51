//! The catalog: every schema and collection, by name and by number.
//!
//! The catalog changes only through operations in batches (so it goes through the log
//! like any write), copy-on-write: the commit thread builds a new catalog and
//! publishes it through the left-right map with the batch that made it, so a reader
//! sees a collection exactly when it sees the writes of the batch that created it.
//! Numbers are positions: schemas and collections are never removed, so a document
//! names its collection by number for good. Snapshots store the catalog in the
//! encoding below.

use std::collections::HashMap;
use std::sync::Arc;

use crate::doc::codec::{put_field, read_field};
use crate::doc::schema::check_name;
use crate::doc::{Collection, DocError, FieldDef, FieldType, Schema};
use crate::encoding::{DecodeError, Input, put_bytes, put_u64};

/// A collection with what its documents need resolved.
#[derive(Debug, Clone)]
pub(crate) struct CollectionInfo {
    /// The definition.
    pub(crate) def: Collection,
    /// Its schema's number.
    pub(crate) schema: usize,
    /// The key field's position in the schema.
    pub(crate) key_index: usize,
}

/// Every schema and collection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Catalog {
    schemas: Vec<Arc<Schema>>,
    schema_ids: HashMap<Box<str>, usize>,
    collections: Vec<CollectionInfo>,
    collection_ids: HashMap<Box<str>, u32>,
}

impl Catalog {
    /// The schema called `name`, with its number.
    pub(crate) fn schema(&self, name: &str) -> Result<(usize, &Arc<Schema>), DocError> {
        self.schema_ids
            .get(name)
            .map(|&id| (id, &self.schemas[id]))
            .ok_or_else(|| DocError::UnknownSchema(name.into()))
    }

    /// Schema number `id`.
    pub(crate) fn schema_at(&self, id: usize) -> &Arc<Schema> {
        &self.schemas[id]
    }

    /// Every schema, in the order they were created.
    pub(crate) fn schemas(&self) -> &[Arc<Schema>] {
        &self.schemas
    }

    /// The collection called `name`, with its number.
    pub(crate) fn collection(&self, name: &str) -> Result<(u32, &CollectionInfo), DocError> {
        self.collection_ids
            .get(name)
            .map(|&id| (id, &self.collections[id as usize]))
            .ok_or_else(|| DocError::UnknownCollection(name.into()))
    }

    /// Collection number `id`, if there is one (a damaged document may name any).
    pub(crate) fn collection_at(&self, id: u32) -> Option<&CollectionInfo> {
        self.collections.get(id as usize)
    }

    /// Every collection, in the order they were created.
    pub(crate) fn collections(&self) -> impl Iterator<Item = &CollectionInfo> {
        self.collections.iter()
    }

    /// This catalog plus `schema`.
    pub(crate) fn with_schema(
        &self,
        schema: Schema,
        max_value_bytes: usize,
    ) -> Result<Catalog, DocError> {
        if self.schema_ids.contains_key(&schema.name) {
            return Err(DocError::SchemaExists(schema.name));
        }
        schema.check(max_value_bytes)?;
        let mut next = self.clone();
        next.schema_ids
            .insert(schema.name.clone(), next.schemas.len());
        next.schemas.push(Arc::new(schema));
        Ok(next)
    }

    /// This catalog with `field` appended to the schema `schema`: documents written
    /// before read it as its default.
    pub(crate) fn with_field(
        &self,
        schema: &str,
        field: FieldDef,
        max_value_bytes: usize,
    ) -> Result<Catalog, DocError> {
        let (id, current) = self.schema(schema)?;
        if current.field_index(field.name.as_bytes()).is_some() {
            return Err(DocError::FieldExists {
                field: field.name,
                schema: schema.into(),
            });
        }
        if current.fields.len() >= crate::doc::MAX_SCHEMA_FIELDS {
            return Err(DocError::Invalid(format!(
                "schema {schema} has the most fields a schema may have ({})",
                crate::doc::MAX_SCHEMA_FIELDS
            )));
        }
        current.check_field(&field, max_value_bytes)?;
        let mut extended = Schema::clone(current);
        extended.fields.push(field);
        let mut next = self.clone();
        next.schemas[id] = Arc::new(extended);
        Ok(next)
    }

    /// This catalog plus `collection`.
    pub(crate) fn with_collection(&self, collection: Collection) -> Result<Catalog, DocError> {
        check_name("collection", &collection.name)?;
        if self.collection_ids.contains_key(&collection.name) {
            return Err(DocError::CollectionExists(collection.name));
        }
        let (schema_id, schema) = self.schema(&collection.schema)?;
        let key_index = schema
            .field_index(collection.key_field.as_bytes())
            .ok_or_else(|| DocError::UnknownField {
                field: collection.key_field.clone(),
                schema: schema.name.clone(),
            })?;
        if schema.fields[key_index].ty.max_bytes().is_none() {
            return Err(DocError::Invalid(format!(
                "key field {} must be a string or bytes field, not {}",
                collection.key_field, schema.fields[key_index].ty
            )));
        }
        let mut next = self.clone();
        let id = u32::try_from(next.collections.len())
            .map_err(|_| DocError::Invalid("too many collections".into()))?;
        next.collection_ids.insert(collection.name.clone(), id);
        next.collections.push(CollectionInfo {
            def: collection,
            schema: schema_id,
            key_index,
        });
        Ok(next)
    }

    /// The catalog's bytes, for a snapshot.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_u64(&mut out, self.schemas.len() as u64);
        for schema in &self.schemas {
            put_schema(&mut out, schema);
        }
        put_u64(&mut out, self.collections.len() as u64);
        for collection in &self.collections {
            put_bytes(&mut out, collection.def.name.as_bytes());
            put_bytes(&mut out, collection.def.schema.as_bytes());
            put_bytes(&mut out, collection.def.key_field.as_bytes());
        }
        out
    }

    /// Decodes and checks a catalog's bytes, as a snapshot stores them.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Catalog, String> {
        let malformed = |DecodeError(reason)| format!("the catalog is malformed: {reason}");
        let mut input = Input(bytes);
        let mut catalog = Catalog::default();
        for _ in 0..input.count().map_err(malformed)? {
            let schema = read_schema(&mut input).map_err(malformed)?;
            catalog = catalog
                .with_schema(schema, usize::MAX)
                .map_err(|error| format!("the catalog is invalid: {error}"))?;
        }
        for _ in 0..input.count().map_err(malformed)? {
            let collection = Collection {
                name: text(&mut input).map_err(malformed)?,
                schema: text(&mut input).map_err(malformed)?,
                key_field: text(&mut input).map_err(malformed)?,
            };
            catalog = catalog
                .with_collection(collection)
                .map_err(|error| format!("the catalog is invalid: {error}"))?;
        }
        if !input.0.is_empty() {
            return Err(malformed(DecodeError("bytes after the last collection")));
        }
        Ok(catalog)
    }
}

/// The error for a document found under a key of another collection (it was renamed
/// there).
pub(crate) fn other_collection(catalog: &Catalog, collection_id: u32) -> DocError {
    DocError::OtherCollection(
        catalog
            .collection_at(collection_id)
            .map_or_else(|| "(unknown)".into(), |other| other.def.name.clone()),
    )
}

const TYPE_STRING: u8 = 1;
const TYPE_BYTES: u8 = 2;
const TYPE_UINT64: u8 = 3;
const TYPE_INT64: u8 = 4;
const TYPE_FLOAT64: u8 = 5;
const TYPE_BOOL: u8 = 6;

/// Appends a schema: its name and its fields.
pub(crate) fn put_schema(out: &mut Vec<u8>, schema: &Schema) {
    put_bytes(out, schema.name.as_bytes());
    put_u64(out, schema.fields.len() as u64);
    for field in &schema.fields {
        put_field_def(out, field);
    }
}

/// Reads a schema written by [`put_schema`] (not checked against the rules).
pub(crate) fn read_schema(input: &mut Input<'_>) -> Result<Schema, DecodeError> {
    let name = text(input)?;
    let mut fields = Vec::new();
    for _ in 0..input.count()? {
        fields.push(read_field_def(input)?);
    }
    Ok(Schema { name, fields })
}

/// Appends a field's name, type and default.
pub(crate) fn put_field_def(out: &mut Vec<u8>, field: &FieldDef) {
    put_bytes(out, field.name.as_bytes());
    match field.ty {
        FieldType::String { max_bytes } => {
            out.push(TYPE_STRING);
            put_u64(out, u64::from(max_bytes));
        }
        FieldType::Bytes { max_bytes } => {
            out.push(TYPE_BYTES);
            put_u64(out, u64::from(max_bytes));
        }
        FieldType::Uint64 => out.push(TYPE_UINT64),
        FieldType::Int64 => out.push(TYPE_INT64),
        FieldType::Float64 => out.push(TYPE_FLOAT64),
        FieldType::Bool => out.push(TYPE_BOOL),
    }
    match &field.default {
        None => out.push(0),
        Some(default) => {
            out.push(1);
            put_field(out, default.as_ref());
        }
    }
}

/// Reads a field written by [`put_field_def`] (not checked against the rules).
pub(crate) fn read_field_def(input: &mut Input<'_>) -> Result<FieldDef, DecodeError> {
    let name = text(input)?;
    let ty = match input.u8()? {
        TYPE_STRING => FieldType::String {
            max_bytes: sized(input)?,
        },
        TYPE_BYTES => FieldType::Bytes {
            max_bytes: sized(input)?,
        },
        TYPE_UINT64 => FieldType::Uint64,
        TYPE_INT64 => FieldType::Int64,
        TYPE_FLOAT64 => FieldType::Float64,
        TYPE_BOOL => FieldType::Bool,
        _ => return Err(DecodeError("unknown field type")),
    };
    let default = if input.flag()? {
        Some(read_field(input, ty)?.to_value())
    } else {
        None
    };
    Ok(FieldDef { name, ty, default })
}

/// Reads a name.
pub(crate) fn text(input: &mut Input<'_>) -> Result<Box<str>, DecodeError> {
    std::str::from_utf8(input.bytes()?)
        .map(Box::from)
        .map_err(|_| DecodeError("a name is not UTF-8"))
}

fn sized(input: &mut Input<'_>) -> Result<u32, DecodeError> {
    u32::try_from(input.u64()?)
        .ok()
        .filter(|&n| n > 0)
        .ok_or(DecodeError("a field size is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::FieldValue;

    fn user() -> Schema {
        Schema::new(
            "user",
            vec![
                FieldDef::new("id", FieldType::String { max_bytes: 64 }),
                FieldDef::new("last_login_time", FieldType::Uint64),
            ],
        )
    }

    fn users() -> Collection {
        Collection {
            name: "users".into(),
            schema: "user".into(),
            key_field: "id".into(),
        }
    }

    #[test]
    fn rules_of_creation() {
        let catalog = Catalog::default().with_schema(user(), 1024).unwrap();
        assert_eq!(
            catalog.with_schema(user(), 1024).unwrap_err(),
            DocError::SchemaExists("user".into())
        );
        let catalog = catalog.with_collection(users()).unwrap();
        assert_eq!(
            catalog.with_collection(users()).unwrap_err(),
            DocError::CollectionExists("users".into())
        );
        let nosuch = Collection {
            name: "people".into(),
            schema: "nosuchschema".into(),
            key_field: "id".into(),
        };
        assert_eq!(
            catalog.with_collection(nosuch).unwrap_err().to_string(),
            "unknown schema nosuchschema"
        );
        let by_number = Collection {
            key_field: "last_login_time".into(),
            name: "logins".into(),
            ..users()
        };
        assert!(matches!(
            catalog.with_collection(by_number),
            Err(DocError::Invalid(_))
        ));
        let huge = Schema::new(
            "big",
            vec![FieldDef::new("a", FieldType::String { max_bytes: 2048 })],
        );
        assert!(matches!(
            catalog.with_schema(huge, 1024),
            Err(DocError::Invalid(_))
        ));
    }

    #[test]
    fn encoding_round_trips_and_refuses_damage() {
        let catalog = Catalog::default()
            .with_schema(user(), 1024)
            .unwrap()
            .with_collection(users())
            .unwrap()
            .with_field(
                "user",
                FieldDef {
                    default: Some(FieldValue::from("none")),
                    ..FieldDef::new("page", FieldType::String { max_bytes: 64 })
                },
                1024,
            )
            .unwrap();
        let bytes = catalog.encode();
        let back = Catalog::decode(&bytes).unwrap();
        assert_eq!(back.encode(), bytes);
        assert_eq!(back.schema("user").unwrap().1.fields.len(), 3);
        assert_eq!(back.collection("users").unwrap().1.key_index, 0);
        for cut in 0..bytes.len() {
            assert!(Catalog::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }
}
