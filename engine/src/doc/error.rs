//! What can be wrong with a schema, a collection or a document write: each error names
//! the field and the rule, so one line tells a person what to fix.

use thiserror::Error;

/// Why a schema, collection or document operation was refused. It changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DocError {
    /// No schema has this name.
    #[error("unknown schema {0}")]
    UnknownSchema(Box<str>),
    /// A schema of this name exists already.
    #[error("schema {0} already exists")]
    SchemaExists(Box<str>),
    /// No collection has this name.
    #[error("unknown collection {0}")]
    UnknownCollection(Box<str>),
    /// A collection of this name exists already.
    #[error("collection {0} already exists")]
    CollectionExists(Box<str>),
    /// The schema has no field of this name.
    #[error("unknown field {field} in schema {schema}")]
    UnknownField {
        /// The field asked for.
        field: Box<str>,
        /// The schema.
        schema: Box<str>,
    },
    /// The schema has a field of this name already.
    #[error("field {field} already exists in schema {schema}")]
    FieldExists {
        /// The field.
        field: Box<str>,
        /// The schema.
        schema: Box<str>,
    },
    /// A value does not parse as the field's type.
    #[error("wrong type for field {field}: expected {expected}")]
    WrongType {
        /// The field.
        field: Box<str>,
        /// Its type's name.
        expected: Box<str>,
    },
    /// A value is longer than its field's type allows.
    #[error("value too long for {ty} field {field} ({size_bytes} > {max_bytes} bytes)")]
    TooLong {
        /// The field.
        field: Box<str>,
        /// Its type's name.
        ty: Box<str>,
        /// The value's size.
        size_bytes: usize,
        /// The type's limit.
        max_bytes: usize,
    },
    /// The key field was written with a value other than the document's key.
    #[error("field {field} is the key of collection {collection}: it must equal the document's id")]
    KeyFieldMismatch {
        /// The key field.
        field: Box<str>,
        /// The collection.
        collection: Box<str>,
    },
    /// A field appears twice in one write.
    #[error("field {0} is given twice")]
    DuplicateField(Box<str>),
    /// The key holds a document of another collection (it was renamed there).
    #[error("the key holds a document of collection {0}")]
    OtherCollection(Box<str>),
    /// A stored document does not decode against its schema (a damaged file).
    #[error("document is damaged: {0}")]
    Damaged(&'static str),
    /// A schema or collection definition breaks a rule (names, sizes, key field).
    #[error("{0}")]
    Invalid(String),
}
