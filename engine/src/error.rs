//! Errors, split by what failed: one operation, or a whole write.
//!
//! Messages follow Redis's wording where Redis has the same error, because the server
//! passes them on to Redis clients that match on them.

use thiserror::Error;

/// Why one operation was refused. A refused operation changes nothing.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum OpError {
    /// The key holds a value of another type (Redis's WRONGTYPE).
    #[error("Operation against a key holding the wrong kind of value")]
    WrongType,
    /// The value is not a 64-bit signed integer.
    #[error("value is not an integer or out of range")]
    NotInteger,
    /// The value is not a number.
    #[error("value is not a valid float")]
    NotFloat,
    /// The hash field's value is not a 64-bit signed integer.
    #[error("hash value is not an integer")]
    HashNotInteger,
    /// The hash field's value is not a number.
    #[error("hash value is not a float")]
    HashNotFloat,
    /// The integer result would not fit in 64 bits.
    #[error("increment or decrement would overflow")]
    Overflow,
    /// The float result would be NaN or infinite.
    #[error("increment would produce NaN or Infinity")]
    NotFinite,
    /// The operation needs a key that does not exist.
    #[error("no such key")]
    NoSuchKey,
    /// A list index past either end.
    #[error("index out of range")]
    IndexOutOfRange,
    /// A key longer than [`crate::Limits::max_key_bytes`].
    #[error("key is {size_bytes} bytes, over the limit of {limit_bytes}")]
    KeyTooLarge {
        /// The key's size.
        size_bytes: usize,
        /// The limit it broke.
        limit_bytes: usize,
    },
    /// A value (or a string an operation would build) longer than
    /// [`crate::Limits::max_value_bytes`].
    #[error("string exceeds maximum allowed size ({size_bytes} > {limit_bytes} bytes)")]
    ValueTooLarge {
        /// The size the value would have.
        size_bytes: usize,
        /// The limit it broke.
        limit_bytes: usize,
    },
    /// The snapshot file under the database is damaged where this operation had to
    /// read it (a block failed its checksum, or a reference leads outside the file).
    /// Nothing was changed; keys stored elsewhere in the file stay readable. What the
    /// damaged bytes held is lost unless the file is restored from a backup.
    #[error("snapshot {} is damaged at byte {file_offset}: {reason}", path.display())]
    SnapshotDamaged {
        /// The snapshot file.
        path: std::path::PathBuf,
        /// Where in the file.
        file_offset: u64,
        /// What is wrong there.
        reason: &'static str,
    },
    /// A schema, collection or document rule was broken (the error names the field
    /// and the rule).
    #[error(transparent)]
    Doc(#[from] crate::doc::DocError),
}

/// Why a batch was not applied. Nothing of the batch is visible.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum WriteError {
    /// The database is closed (or closing) and takes no more writes.
    #[error("the database is closed")]
    Closed,
    /// The batch holds more operations than [`crate::Limits::max_batch_ops`].
    #[error("batch has {ops} operations, over the limit of {limit}")]
    TooManyOps {
        /// Operations in the batch.
        ops: usize,
        /// The limit it broke.
        limit: usize,
    },
    /// Precondition number `index` did not hold.
    #[error("precondition {index} failed")]
    PreconditionFailed {
        /// The position of the failed precondition in the batch.
        index: usize,
    },
    /// Precondition number `index` could not be checked: reading its key failed
    /// (a damaged snapshot). Nothing was applied.
    #[error("precondition {index} could not be checked: {error}")]
    PreconditionUnreadable {
        /// Which precondition, counting from 0.
        index: usize,
        /// Why its key could not be read.
        error: OpError,
    },
    /// The log failed (an I/O error or a failed fsync): the database refuses writes
    /// until it is reopened. Reads go on.
    #[error("{0}")]
    LogFailed(String),
    /// The database was opened read-only.
    #[error("the database is open read-only")]
    ReadOnly,
    /// The batch's log record would exceed the largest record the log can hold.
    #[error("batch needs a {size_bytes}-byte log record, over the limit of {limit_bytes}")]
    BatchTooLarge {
        /// The record's payload size.
        size_bytes: usize,
        /// The limit it broke.
        limit_bytes: usize,
    },
    /// Operation number `index` was refused, so the whole batch was.
    #[error("operation {index} failed: {error}")]
    Op {
        /// The position of the failed operation in the batch.
        index: usize,
        /// Why it failed.
        error: OpError,
    },
}
