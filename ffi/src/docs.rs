//! Schemas, collections and documents from C: create a schema (fields and type
//! names), a collection, write a document's fields as text, read one field, delete.
//!
//! Values cross the boundary as text, as on the wire: numbers in decimal, bools as
//! `true`/`false`, strings and bytes as they are. Every rule a write breaks is
//! `CHIRAL_ERR_SCHEMA` with a message naming the field and the rule.

use std::ffi::c_char;

use bytes::Bytes;
use chiral::{FieldDef, FieldType, Op, Reply, Schema};

use crate::args::{ack, bytes, chiral_ack, chiral_slice, handle, out, text, write};
use crate::db::chiral_db;
use crate::read::{chiral_reader, copy_out};
use crate::status::{CHIRAL_NOT_FOUND, CHIRAL_OK, Failure, FfiResult, call, chiral_status};
use crate::write::apply;

/// A named value: a document field and its value as text (for a schema, a field and
/// its type name).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct chiral_field {
    /// The field's name: NUL-terminated UTF-8.
    pub name: *const c_char,
    /// The value (or type name) as text; may be NULL when `len` is 0.
    pub value: chiral_slice,
}

/// The `count` fields at `ptr`, each checked: (name, value).
///
/// # Safety
/// `ptr` must be NULL (only with `count == 0`) or point to `count` fields whose
/// names are NUL-terminated and whose values are valid slices, for `'a`.
unsafe fn fields<'a>(
    ptr: *const chiral_field,
    count: usize,
) -> FfiResult<Vec<(&'a str, &'a [u8])>> {
    if ptr.is_null() && count > 0 {
        return Err(Failure::argument(format!(
            "fields is NULL with {count} items"
        )));
    }
    (0..count)
        .map(|i| {
            // SAFETY: `i < count`, and the caller promises `count` readable fields.
            let field = unsafe { ptr.add(i).read() };
            // SAFETY: the caller promises a NUL-terminated name and a valid slice.
            unsafe {
                Ok((
                    text(field.name, "a field's name")?,
                    bytes(field.value.data, field.value.len, "a field's value")?,
                ))
            }
        })
        .collect()
}

/// SCHEMA.CREATE: a schema `name` whose fields are `fields` (each value a type name:
/// `stringN`, `bytesN`, `uint64`, `int64`, `float64` or `bool`), visible when it
/// returns. `CHIRAL_ERR_SCHEMA` if the name is taken or a rule is broken;
/// `CHIRAL_ERR_ARGUMENT` for an unknown type name.
///
/// # Safety
/// `db` NULL or a live database; `name` NULL or NUL-terminated; `fields` as
/// `count` valid fields (or NULL with `count` 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_schema_create(
    db: *const chiral_db,
    name: *const c_char,
    fields: *const chiral_field,
    count: usize,
) -> chiral_status {
    call(|| {
        // SAFETY: as the caller promises.
        let (db, name, fields) = unsafe {
            (
                handle(db, "db")?,
                text(name, "name")?,
                self::fields(fields, count)?,
            )
        };
        let fields = fields
            .into_iter()
            .map(|(field, type_name)| {
                let ty = std::str::from_utf8(type_name)
                    .ok()
                    .and_then(FieldType::parse)
                    .ok_or_else(|| {
                        Failure::argument(format!(
                            "field {field}: '{}' is not a type (stringN, bytesN, uint64, int64, float64 or bool)",
                            String::from_utf8_lossy(type_name)
                        ))
                    })?;
                Ok(FieldDef::new(field, ty))
            })
            .collect::<FfiResult<Vec<_>>>()?;
        apply(
            db,
            Op::create_schema(Schema::new(name, fields)),
            chiral::Ack::Visible,
        )?;
        Ok(CHIRAL_OK)
    })
}

/// COLL.CREATE: a collection `name` of documents of `schema`, whose ids are the
/// values of `key_field` (a string or bytes field), visible when it returns.
///
/// # Safety
/// `db` NULL or a live database; the three names NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_collection_create(
    db: *const chiral_db,
    name: *const c_char,
    schema: *const c_char,
    key_field: *const c_char,
) -> chiral_status {
    call(|| {
        // SAFETY: as the caller promises.
        let (db, name, schema, key_field) = unsafe {
            (
                handle(db, "db")?,
                text(name, "name")?,
                text(schema, "schema")?,
                text(key_field, "key_field")?,
            )
        };
        apply(
            db,
            Op::create_collection(name, schema, key_field),
            chiral::Ack::Visible,
        )?;
        Ok(CHIRAL_OK)
    })
}

/// DOC.SET: writes `fields` (values as text) of the document `id` of `collection`,
/// creating it or keeping the fields not given, atomically. `*out_created` (if not
/// NULL) is true when the document is new; with `CHIRAL_ACK_EVENTUAL` it is not
/// known and not written.
///
/// # Safety
/// `db` NULL or a live database; `collection` NULL or NUL-terminated; `id` NULL
/// (with `id_len` 0) or readable; `fields` as `count` valid fields; `out_created`
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_doc_set(
    db: *const chiral_db,
    collection: *const c_char,
    id: *const u8,
    id_len: usize,
    fields: *const chiral_field,
    count: usize,
    ack_mode: chiral_ack,
    out_created: *mut bool,
) -> chiral_status {
    call(|| {
        let ack_mode = ack(ack_mode)?;
        // SAFETY: as the caller promises.
        let (db, collection, id, fields) = unsafe {
            (
                handle(db, "db")?,
                text(collection, "collection")?,
                bytes(id, id_len, "id")?,
                self::fields(fields, count)?,
            )
        };
        let op = Op::DocSet {
            collection: collection.into(),
            id: id.into(),
            fields: fields
                .into_iter()
                .map(|(name, value)| {
                    (
                        Bytes::copy_from_slice(name.as_bytes()),
                        Bytes::copy_from_slice(value),
                    )
                })
                .collect(),
        };
        if let Some(reply) = apply(db, op, ack_mode)? {
            // SAFETY: NULL or writable, as the caller promises.
            unsafe { write(out_created, reply == Reply::Int(1)) };
        }
        Ok(CHIRAL_OK)
    })
}

/// DOC.GET of one field: copies the text of `field` of the document `id` of
/// `collection` into `buf` (as `chiral_get` does, with its buffer rules).
/// `CHIRAL_NOT_FOUND` if there is no such document or the field has no value;
/// `CHIRAL_ERR_SCHEMA` for an unknown collection or field.
///
/// # Safety
/// `reader` NULL or a live reader owned by this thread; `collection` and `field`
/// NULL or NUL-terminated; `id` NULL (with `id_len` 0) or readable; `buf` NULL or
/// `capacity` writable bytes; `out_len` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_doc_get(
    reader: *const chiral_reader,
    collection: *const c_char,
    id: *const u8,
    id_len: usize,
    field: *const c_char,
    buf: *mut u8,
    capacity: usize,
    out_len: *mut usize,
) -> chiral_status {
    call(|| {
        let out_len = out(out_len, "out_len")?;
        // SAFETY: as the caller promises.
        let (reader, collection, id, field) = unsafe {
            (
                handle(reader, "reader")?,
                text(collection, "collection")?,
                bytes(id, id_len, "id")?,
                text(field, "field")?,
            )
        };
        let document = reader.reader.document(collection, id, &[field])?;
        match document.and_then(|document| document.fields.into_iter().next()?.1) {
            // SAFETY: `buf` and `out_len` as the caller promises.
            Some(value) => unsafe { copy_out(&value.text(), buf, capacity, out_len) },
            None => Ok(CHIRAL_NOT_FOUND),
        }
    })
}

/// DOC.DEL: deletes the document `id` of `collection`. `CHIRAL_OK` if it existed,
/// `CHIRAL_NOT_FOUND` if not (with `CHIRAL_ACK_EVENTUAL`: `CHIRAL_OK`, not knowing).
///
/// # Safety
/// `db` NULL or a live database; `collection` NULL or NUL-terminated; `id` NULL
/// (with `id_len` 0) or readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_doc_delete(
    db: *const chiral_db,
    collection: *const c_char,
    id: *const u8,
    id_len: usize,
    ack_mode: chiral_ack,
) -> chiral_status {
    call(|| {
        let ack_mode = ack(ack_mode)?;
        // SAFETY: as the caller promises.
        let (db, collection, id) = unsafe {
            (
                handle(db, "db")?,
                text(collection, "collection")?,
                bytes(id, id_len, "id")?,
            )
        };
        Ok(match apply(db, Op::doc_delete(collection, id), ack_mode)? {
            Some(Reply::Int(0)) => CHIRAL_NOT_FOUND,
            _ => CHIRAL_OK,
        })
    })
}
