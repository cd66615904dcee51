//! Schema, collection and document commands, Redis-module style:
//!
//! ```text
//! SCHEMA.CREATE name field type [field type ...]     -> OK
//! SCHEMA.ADDFIELD name field type [DEFAULT value]    -> OK
//! SCHEMA.LIST                                        -> names
//! SCHEMA.GET name                                    -> [field, type, default|nil] per field
//! COLL.CREATE name schema key-field                  -> OK
//! COLL.LIST                                          -> [name, schema, key-field] per collection
//! DOC.SET coll id field value [field value ...]      -> 1 created, 0 updated
//! DOC.GET coll id [field ...]                        -> every field (a map), or the fields asked (an array); nil if none
//! DOC.DEL coll id [id ...]                           -> documents deleted
//! DOC.SCAN coll cursor [COUNT n]                     -> [cursor, ids]
//! ```
//!
//! A document of collection `coll` with id `id` is the key `coll:id`: ACL key
//! patterns, DEL, EXPIRE, TYPE and SCAN see it under that name.

use bytes::Bytes;
use chiral::{ByteString, Collection, FieldDef, FieldType, FieldValue, Op, OpError, Reader, Schema, doc_key};

use super::keys::{ScanOptions, cursor, scan_options};
use super::{Parsed, Shape, Write, read, write};
use crate::args::{Args, syntax_error};
use crate::frame::Frame;

/// A read of documents or of the catalog.
#[derive(Debug)]
pub(crate) enum Read {
    /// SCHEMA.LIST.
    SchemaList,
    /// SCHEMA.GET.
    SchemaGet(Box<str>),
    /// COLL.LIST.
    CollList,
    /// DOC.GET: collection, id, the fields asked for (all if empty), and the key.
    DocGet {
        collection: Box<str>,
        id: Bytes,
        fields: Vec<Box<str>>,
        key: ByteString,
    },
    /// DOC.SCAN.
    DocScan {
        collection: Box<str>,
        cursor: u64,
        options: ScanOptions,
    },
}

impl Read {
    pub(super) fn run(&self, reader: &Reader) -> Result<Frame, OpError> {
        Ok(match self {
            Read::SchemaList => Frame::bulks(
                reader
                    .schemas()
                    .into_iter()
                    .map(|schema| schema.name.to_string()),
            ),
            Read::SchemaGet(name) => Frame::Array(
                reader
                    .schema(name)?
                    .fields
                    .into_iter()
                    .map(|field| {
                        Frame::Array(vec![
                            Frame::bulk(field.name.to_string()),
                            Frame::bulk(field.ty.name()),
                            Frame::bulk_or_null(field.default.map(|value| text(&value))),
                        ])
                    })
                    .collect(),
            ),
            Read::CollList => Frame::Array(
                reader
                    .collections()
                    .into_iter()
                    .map(
                        |Collection {
                             name,
                             schema,
                             key_field,
                         }| {
                            Frame::bulks([
                                name.to_string(),
                                schema.to_string(),
                                key_field.to_string(),
                            ])
                        },
                    )
                    .collect(),
            ),
            Read::DocGet {
                collection,
                id,
                fields,
                ..
            } => {
                let names: Vec<&str> = fields.iter().map(|name| &**name).collect();
                match reader.document(collection, id, &names)? {
                    None => Frame::Null,
                    Some(doc) if fields.is_empty() => Frame::Map(
                        doc.fields
                            .into_iter()
                            .filter_map(|(name, value)| {
                                Some((Frame::bulk(name.to_string()), Frame::bulk(text(&value?))))
                            })
                            .collect(),
                    ),
                    Some(doc) => Frame::Array(
                        doc.fields
                            .into_iter()
                            .map(|(_, value)| Frame::bulk_or_null(value.map(|value| text(&value))))
                            .collect(),
                    ),
                }
            }
            Read::DocScan {
                collection,
                cursor,
                options,
            } => {
                let page = reader.scan_documents(collection, *cursor, options.count)?;
                let ids = page.keys.into_iter().filter(|id| {
                    options
                        .pattern
                        .as_ref()
                        .is_none_or(|pattern| chiral::glob_match(pattern, id))
                });
                Frame::Array(vec![
                    Frame::bulk(page.cursor.to_string()),
                    Frame::bulks(ids.map(Vec::from)),
                ])
            }
        })
    }

    pub(super) fn keys(&self) -> Vec<&[u8]> {
        match self {
            Read::DocGet { key, .. } => vec![key],
            _ => Vec::new(),
        }
    }
}

/// A value's text, as replies carry it.
fn text(value: &FieldValue) -> Bytes {
    Bytes::from(value.text().into_owned())
}

fn docs_read(read_cmd: Read) -> Parsed {
    read(super::Read::Docs(read_cmd))
}

/// The next argument as a name (schema, collection or field): UTF-8 text.
fn name(args: &mut Args) -> Result<Box<str>, Frame> {
    let bytes = args.bytes()?;
    std::str::from_utf8(&bytes)
        .map(Box::from)
        .map_err(|_| Frame::error("ERR names are UTF-8 text"))
}

/// The next two arguments as a field's name and type.
fn field(args: &mut Args) -> Result<FieldDef, Frame> {
    let field_name = name(args)?;
    let type_name = args.bytes()?;
    let ty = std::str::from_utf8(&type_name)
        .ok()
        .and_then(FieldType::parse)
        .ok_or_else(|| {
            Frame::error(format!(
                "ERR unknown type '{}' for field {field_name}: use stringN, bytesN, uint64, int64, float64 or bool",
                String::from_utf8_lossy(&type_name)
            ))
        })?;
    Ok(FieldDef::new(&field_name, ty))
}

/// SCHEMA.CREATE name field type [field type ...].
pub(crate) fn schema_create(mut args: Args) -> Parsed {
    let schema_name = name(&mut args)?;
    if !args.remaining().is_multiple_of(2) {
        return Err(super::wrong_arity("schema.create"));
    }
    let mut fields = Vec::with_capacity(args.remaining() / 2);
    while !args.is_empty() {
        fields.push(field(&mut args)?);
    }
    write(Write::one(Op::create_schema(Schema::new(
        &schema_name,
        fields,
    ))))
}

/// SCHEMA.ADDFIELD name field type [DEFAULT value].
pub(crate) fn schema_addfield(mut args: Args) -> Parsed {
    let schema = name(&mut args)?;
    let mut field = field(&mut args)?;
    if !args.is_empty() {
        if args.keyword()? != b"DEFAULT" || args.remaining() != 1 {
            return Err(syntax_error());
        }
        let default = FieldValue::parse(&field.name, field.ty, &args.bytes()?)
            .map_err(|error| Frame::error(format!("ERR {error}")))?;
        field.default = Some(default);
    }
    write(Write::one(Op::AddField { schema, field }))
}

/// SCHEMA.LIST.
pub(crate) fn schema_list(_: Args) -> Parsed {
    docs_read(Read::SchemaList)
}

/// SCHEMA.GET name.
pub(crate) fn schema_get(mut args: Args) -> Parsed {
    docs_read(Read::SchemaGet(name(&mut args)?))
}

/// COLL.CREATE name schema key-field.
pub(crate) fn coll_create(mut args: Args) -> Parsed {
    let (collection, schema, key_field) = (name(&mut args)?, name(&mut args)?, name(&mut args)?);
    write(Write::one(Op::create_collection(
        &collection,
        &schema,
        &key_field,
    )))
}

/// COLL.LIST.
pub(crate) fn coll_list(_: Args) -> Parsed {
    docs_read(Read::CollList)
}

/// DOC.SET coll id field value [field value ...].
pub(crate) fn doc_set(mut args: Args) -> Parsed {
    let collection = name(&mut args)?;
    let id = args.bytes()?;
    if !args.remaining().is_multiple_of(2) {
        return Err(super::wrong_arity("doc.set"));
    }
    let mut fields = Vec::with_capacity(args.remaining() / 2);
    while !args.is_empty() {
        fields.push((args.bytes()?, args.bytes()?));
    }
    write(Write::one(Op::DocSet {
        collection,
        id: id.as_ref().into(),
        fields,
    }))
}

/// DOC.GET coll id [field ...].
pub(crate) fn doc_get(mut args: Args) -> Parsed {
    let collection = name(&mut args)?;
    let id = args.bytes()?;
    let mut fields = Vec::with_capacity(args.remaining());
    while !args.is_empty() {
        fields.push(name(&mut args)?);
    }
    let key = doc_key(&collection, &id).into();
    docs_read(Read::DocGet {
        collection,
        id,
        fields,
        key,
    })
}

/// DOC.DEL coll id [id ...].
pub(crate) fn doc_del(mut args: Args) -> Parsed {
    let collection = name(&mut args)?;
    let ops = args
        .rest()
        .into_iter()
        .map(|id| Op::doc_delete(&collection, id))
        .collect();
    write(Write::shaped(ops, Shape::Sum))
}

/// DOC.SCAN coll cursor [COUNT n] [MATCH pattern]: MATCH filters ids.
pub(crate) fn doc_scan(mut args: Args) -> Parsed {
    let collection = name(&mut args)?;
    let cursor = cursor(&mut args)?;
    let options = scan_options(&mut args, false)?;
    docs_read(Read::DocScan {
        collection,
        cursor,
        options,
    })
}
