//! Schema, collection and document operations: SCHEMA.CREATE, SCHEMA.ADDFIELD,
//! COLL.CREATE, DOC.SET, DOC.DEL.
//!
//! Catalog changes build a new catalog and stage it (published with the batch). A
//! document write checks every field against the schema before it writes anything,
//! merges the fields given into the stored document, and stores the result as one
//! new value: readers see the old document or the new one, never a mix.

use bytes::Bytes;

use super::{get_kind, kept_expiry};
use crate::doc::catalog::{Catalog, CollectionInfo, other_collection};
use crate::doc::{Collection, Doc, DocError, FieldDef, FieldRef, Schema, codec, doc_key};
use crate::entry::Entry;
use crate::error::OpError;
use crate::op::Reply;
use crate::options::Limits;
use crate::staging::Tx;
use crate::value::{Kind, Value};

pub(super) fn create_schema(
    tx: &mut Tx<'_>,
    schema: Schema,
    limits: &Limits,
) -> Result<Reply, OpError> {
    let next = tx.catalog().with_schema(schema, limits.max_value_bytes)?;
    tx.set_catalog(next);
    Ok(Reply::Ok)
}

pub(super) fn add_field(
    tx: &mut Tx<'_>,
    schema: &str,
    field: FieldDef,
    limits: &Limits,
) -> Result<Reply, OpError> {
    let next = tx
        .catalog()
        .with_field(schema, field, limits.max_value_bytes)?;
    tx.set_catalog(next);
    Ok(Reply::Ok)
}

pub(super) fn create_collection(tx: &mut Tx<'_>, collection: Collection) -> Result<Reply, OpError> {
    let next = tx.catalog().with_collection(collection)?;
    tx.set_catalog(next);
    Ok(Reply::Ok)
}

pub(super) fn set(
    tx: &mut Tx<'_>,
    collection: &str,
    id: &[u8],
    fields: &[(Bytes, Bytes)],
    limits: &Limits,
) -> Result<Reply, OpError> {
    let catalog = tx.catalog();
    let (collection_id, info) = catalog.collection(collection)?;
    let schema = catalog.schema_at(info.schema);
    let key = checked_key(collection, id, limits)?;
    check_id(info, schema, id)?;
    // Every field is checked before anything is written.
    let mut given: Vec<Option<FieldRef<'_>>> = vec![None; schema.fields.len()];
    for (name, text) in fields {
        let index = schema
            .field_index(name)
            .ok_or_else(|| DocError::UnknownField {
                field: String::from_utf8_lossy(name).into(),
                schema: schema.name.clone(),
            })?;
        let field = &schema.fields[index];
        if index == info.key_index {
            if text[..] != *id {
                return Err(DocError::KeyFieldMismatch {
                    field: field.name.clone(),
                    collection: collection.into(),
                }
                .into());
            }
            continue;
        }
        if given[index].is_some() {
            return Err(DocError::DuplicateField(field.name.clone()).into());
        }
        given[index] = Some(FieldRef::parse(&field.name, field.ty, text)?);
    }
    let old = stored(tx, &catalog, collection_id, &key)?;
    let mut values = match &old {
        Some(entry) => decode(&catalog, collection_id, entry)?,
        None => vec![None; schema.fields.len()],
    };
    for (value, new) in values.iter_mut().zip(given) {
        if new.is_some() {
            *value = new;
        }
    }
    // The key holds the key field's value: it is not stored twice.
    values[info.key_index] = None;
    let doc = Doc {
        collection: collection_id,
        data: codec::encode(&values),
    };
    let created = old.is_none();
    let expiry = kept_expiry(old.as_ref());
    tx.write(&key, Value::Doc(Box::new(doc)), expiry);
    Ok(Reply::Int(i64::from(created)))
}

pub(super) fn delete(
    tx: &mut Tx<'_>,
    collection: &str,
    id: &[u8],
    limits: &Limits,
) -> Result<Reply, OpError> {
    let catalog = tx.catalog();
    let (collection_id, _) = catalog.collection(collection)?;
    let key = checked_key(collection, id, limits)?;
    let existed = stored(tx, &catalog, collection_id, &key)?.is_some();
    if existed {
        tx.remove(&key);
    }
    Ok(Reply::Int(i64::from(existed)))
}

/// The document's key, within the key size limit.
fn checked_key(collection: &str, id: &[u8], limits: &Limits) -> Result<Vec<u8>, OpError> {
    let key = doc_key(collection, id);
    if key.len() > limits.max_key_bytes {
        return Err(OpError::KeyTooLarge {
            size_bytes: key.len(),
            limit_bytes: limits.max_key_bytes,
        });
    }
    Ok(key)
}

/// Checks that `id` is a value of the collection's key field.
fn check_id(info: &CollectionInfo, schema: &Schema, id: &[u8]) -> Result<(), DocError> {
    let field = &schema.fields[info.key_index];
    FieldRef::parse(&field.name, field.ty, id).map(drop)
}

/// The key's document, if it holds one of collection `collection_id`; an error if it
/// holds another value or another collection's document.
fn stored(
    tx: &Tx<'_>,
    catalog: &Catalog,
    collection_id: u32,
    key: &[u8],
) -> Result<Option<Entry>, OpError> {
    let Some(entry) = get_kind(tx, key, Kind::Document)? else {
        return Ok(None);
    };
    match entry.stored_value() {
        Some(Value::Doc(doc)) if doc.collection == collection_id => Ok(Some(entry)),
        Some(Value::Doc(doc)) => Err(other_collection(catalog, doc.collection).into()),
        _ => unreachable!("get_kind checked the kind"),
    }
}

/// The stored document's values, in schema order.
fn decode<'a>(
    catalog: &'a Catalog,
    collection_id: u32,
    entry: &'a Entry,
) -> Result<Vec<Option<FieldRef<'a>>>, OpError> {
    let Some(Value::Doc(doc)) = entry.stored_value() else {
        unreachable!("stored() checked the kind")
    };
    let info = catalog
        .collection_at(collection_id)
        .expect("the collection was looked up by name");
    Ok(codec::decode(catalog.schema_at(info.schema), &doc.data)?)
}
