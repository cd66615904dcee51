//! What a write can ask for: operations, batches of them, and preconditions.
//!
//! A [`Batch`] is the unit of atomicity: readers see all of it or none of it. Each
//! operation answers with a [`Reply`] once the batch commits.
//!
//! Items of lists, sets and hashes are [`Bytes`], stored as given: an item that is a
//! slice of a larger buffer keeps that whole buffer alive for as long as the item is
//! stored. Copy items out of a large buffer (`Bytes::copy_from_slice`, or one copy of
//! all of a batch's items, as the server does) before handing them over.

use bytes::Bytes;

use crate::doc::{Collection, FieldDef, Schema};
use crate::entry::Lsn;
use crate::value::{ByteString, Value};

/// When SET writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SetCondition {
    /// Always (plain SET).
    #[default]
    Always,
    /// Only if the key does not exist (NX).
    IfAbsent,
    /// Only if the key exists (XX).
    IfPresent,
}

/// What a write does to the key's expiry time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expiry {
    /// Remove any expiry: the key lives until deleted (what plain SET does).
    #[default]
    Never,
    /// Leave the expiry as it is (KEEPTTL; GETEX without options).
    Keep,
    /// Expire at this time, in milliseconds since the Unix epoch. A time that has
    /// already passed deletes the key.
    AtMs(u64),
}

/// When EXPIRE changes the expiry time (Redis 7's NX/XX/GT/LT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpireCondition {
    /// Always.
    #[default]
    Always,
    /// Only if the key has no expiry.
    IfNone,
    /// Only if the key has an expiry.
    IfSome,
    /// Only if the new time is later than the current one (no expiry counts as later
    /// than any time).
    IfLater,
    /// Only if the new time is earlier than the current one (no expiry counts as
    /// later than any time, so a key without one gets it).
    IfEarlier,
    /// Only if the key has an expiry and the new time is earlier (XX and LT).
    IfSomeAndEarlier,
}

/// An end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The head (LPUSH, LPOP).
    Front,
    /// The tail (RPUSH, RPOP).
    Back,
}

/// One write operation. Each names the Redis command it serves.
///
/// What an op stores is copied: a committed write keeps no reference to the op's
/// buffers, so its `Bytes` may be slices of a larger buffer (a connection's read
/// buffer) without keeping that buffer alive.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// SET: replies `Ok`, or `Nil` when the condition stopped it; with `get_old`,
    /// replies the old string (or `Nil`) instead, and refuses a non-string old value.
    Set {
        /// The key.
        key: ByteString,
        /// The new value.
        value: Value,
        /// When to write.
        condition: SetCondition,
        /// The new expiry.
        expiry: Expiry,
        /// Reply with the old value (SET ... GET).
        get_old: bool,
    },
    /// DEL: replies `Int(1)` if the key existed, else `Int(0)`.
    Delete {
        /// The key.
        key: ByteString,
    },
    /// EXPIRE/PEXPIRE/EXPIREAT/PERSIST: `at_ms: None` removes the expiry. Replies
    /// `Int(1)` if it changed the key, `Int(0)` if the key is missing or the condition
    /// did not hold.
    Expire {
        /// The key.
        key: ByteString,
        /// The new expiry time in ms since the epoch; `None` to persist.
        at_ms: Option<u64>,
        /// When to change it.
        condition: ExpireCondition,
    },
    /// INCRBY: replies the new `Int`.
    IncrBy {
        /// The key.
        key: ByteString,
        /// The amount to add.
        delta: i64,
    },
    /// INCRBYFLOAT: replies the new value as `Bytes`.
    IncrByFloat {
        /// The key.
        key: ByteString,
        /// The amount to add. NaN is refused as not a valid float, an infinity as
        /// producing one, either after the key's type and value are checked.
        delta: f64,
    },
    /// APPEND: replies the new length.
    Append {
        /// The key.
        key: ByteString,
        /// The bytes to append.
        value: Box<[u8]>,
    },
    /// SETRANGE: replies the new length.
    SetRange {
        /// The key.
        key: ByteString,
        /// Where to write, zero-padding the string up to it.
        offset: usize,
        /// The bytes to write.
        value: Box<[u8]>,
    },
    /// GETDEL: replies the old string or `Nil`.
    GetDelete {
        /// The key.
        key: ByteString,
    },
    /// GETEX: replies the string or `Nil`, and sets the expiry (`Keep` leaves it).
    GetExpire {
        /// The key.
        key: ByteString,
        /// The new expiry.
        expiry: Expiry,
    },
    /// RENAME/RENAMENX: moves the value and its expiry. Replies `Ok` (or `Int(1)` with
    /// `only_if_absent`), `Int(0)` when `only_if_absent` and `to` exists; refuses a
    /// missing `from` with `NoSuchKey`.
    Rename {
        /// The key to move.
        from: ByteString,
        /// The new name.
        to: ByteString,
        /// RENAMENX: do nothing if `to` exists.
        only_if_absent: bool,
    },
    /// MSETNX: sets every key to its value (clearing any expiry), only if none of the
    /// keys exists: all or nothing, as one operation, so it keeps its meaning inside a
    /// larger batch (MULTI/EXEC). Replies `Int(1)` if it set them, `Int(0)` if not.
    SetAllIfAbsent {
        /// Key/value pairs, written in order (a repeated key keeps its last value).
        pairs: Vec<(Bytes, Bytes)>,
    },
    /// FLUSHALL: removes every key. Replies `Ok`.
    Flush,
    /// LPUSH/RPUSH (and LPUSHX/RPUSHX with `only_if_exists`): replies the new length.
    Push {
        /// The key.
        key: ByteString,
        /// Which end.
        end: End,
        /// The elements, pushed one after another.
        values: Vec<Bytes>,
        /// Do nothing if the list does not exist.
        only_if_exists: bool,
    },
    /// LPOP/RPOP: without `count`, replies the element or `Nil`; with it, an `Array`
    /// of up to `count` elements, or `Nil` if the key is missing.
    Pop {
        /// The key.
        key: ByteString,
        /// Which end.
        end: End,
        /// How many.
        count: Option<usize>,
    },
    /// LSET: replies `Ok`.
    ListSet {
        /// The key.
        key: ByteString,
        /// The index (negative counts from the tail).
        index: i64,
        /// The new element.
        value: Bytes,
    },
    /// LREM: removes `count` matches from the head (`count > 0`), from the tail
    /// (`count < 0`) or all (`0`). Replies how many.
    ListRemove {
        /// The key.
        key: ByteString,
        /// How many and from where.
        count: i64,
        /// The element to remove.
        value: Bytes,
    },
    /// LTRIM: keeps elements `start..=stop` (negative counts from the tail). Replies `Ok`.
    ListTrim {
        /// The key.
        key: ByteString,
        /// First index kept.
        start: i64,
        /// Last index kept.
        stop: i64,
    },
    /// SADD: replies how many members were new.
    SetAdd {
        /// The key.
        key: ByteString,
        /// The members.
        members: Vec<Bytes>,
    },
    /// SREM: replies how many members were removed.
    SetRemove {
        /// The key.
        key: ByteString,
        /// The members.
        members: Vec<Bytes>,
    },
    /// HSET (HSETNX with `only_if_absent`): replies how many fields were new.
    HashSet {
        /// The key.
        key: ByteString,
        /// Field/value pairs, written in order.
        pairs: Vec<(Bytes, Bytes)>,
        /// Write each field only if it does not exist.
        only_if_absent: bool,
    },
    /// HDEL: replies how many fields were removed.
    HashDelete {
        /// The key.
        key: ByteString,
        /// The fields.
        fields: Vec<Bytes>,
    },
    /// HINCRBY: replies the new `Int`.
    HashIncrBy {
        /// The key.
        key: ByteString,
        /// The field.
        field: Bytes,
        /// The amount to add.
        delta: i64,
    },
    /// HINCRBYFLOAT: replies the new value as `Bytes`.
    HashIncrByFloat {
        /// The key.
        key: ByteString,
        /// The field.
        field: Bytes,
        /// The amount to add.
        delta: f64,
    },
    /// SCHEMA.CREATE: adds a schema to the catalog. Replies `Ok`; refuses a name in
    /// use and a schema that breaks the rules (names, sizes, duplicate fields).
    CreateSchema {
        /// The schema.
        schema: Schema,
    },
    /// SCHEMA.ADDFIELD: appends a field to a schema, online: documents written before
    /// read it as its default. Replies `Ok`.
    AddField {
        /// The schema's name.
        schema: Box<str>,
        /// The new field.
        field: FieldDef,
    },
    /// COLL.CREATE: adds a collection of documents of a schema. Replies `Ok`.
    CreateCollection {
        /// The collection.
        collection: Collection,
    },
    /// DOC.SET: creates the document `id` of `collection`, or updates the fields
    /// given and keeps the others, atomically. Values are text, read as each field's
    /// type; the key field is filled from `id` (writing it with another value is an
    /// error). Replies `Int(1)` if it created the document, `Int(0)` if it updated it.
    DocSet {
        /// The collection's name.
        collection: Box<str>,
        /// The document's id (its key field's value).
        id: ByteString,
        /// Field names and values, as text.
        fields: Vec<(Bytes, Bytes)>,
    },
    /// DOC.DEL: deletes the document `id` of `collection`. Replies `Int(1)` if it
    /// existed, else `Int(0)`.
    DocDelete {
        /// The collection's name.
        collection: Box<str>,
        /// The document's id.
        id: ByteString,
    },
}

impl Op {
    /// A plain SET: write `value`, clear any expiry.
    pub fn set(key: impl AsRef<[u8]>, value: impl Into<Value>) -> Op {
        Op::Set {
            key: key.as_ref().into(),
            value: value.into(),
            condition: SetCondition::Always,
            expiry: Expiry::Never,
            get_old: false,
        }
    }

    /// DEL of one key.
    pub fn delete(key: impl AsRef<[u8]>) -> Op {
        Op::Delete {
            key: key.as_ref().into(),
        }
    }

    /// INCRBY.
    pub fn incr_by(key: impl AsRef<[u8]>, delta: i64) -> Op {
        Op::IncrBy {
            key: key.as_ref().into(),
            delta,
        }
    }

    /// SCHEMA.CREATE.
    pub fn create_schema(schema: Schema) -> Op {
        Op::CreateSchema { schema }
    }

    /// COLL.CREATE: a collection `name` of documents of `schema`, keyed by `key_field`.
    pub fn create_collection(name: &str, schema: &str, key_field: &str) -> Op {
        Op::CreateCollection {
            collection: Collection {
                name: name.into(),
                schema: schema.into(),
                key_field: key_field.into(),
            },
        }
    }

    /// DOC.SET: writes the fields given (name and text value) of the document `id`.
    pub fn doc_set<N: AsRef<[u8]>, V: AsRef<[u8]>>(
        collection: &str,
        id: impl AsRef<[u8]>,
        fields: impl IntoIterator<Item = (N, V)>,
    ) -> Op {
        Op::DocSet {
            collection: collection.into(),
            id: id.as_ref().into(),
            fields: fields
                .into_iter()
                .map(|(name, value)| {
                    (
                        Bytes::copy_from_slice(name.as_ref()),
                        Bytes::copy_from_slice(value.as_ref()),
                    )
                })
                .collect(),
        }
    }

    /// DOC.DEL of one document.
    pub fn doc_delete(collection: &str, id: impl AsRef<[u8]>) -> Op {
        Op::DocDelete {
            collection: collection.into(),
            id: id.as_ref().into(),
        }
    }

    /// The keys the operation writes, for limit checks.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &[u8]> {
        let many: &[(Bytes, Bytes)] = match self {
            Op::SetAllIfAbsent { pairs } => pairs,
            _ => &[],
        };
        let (first, second): (Option<&[u8]>, Option<&[u8]>) = match self {
            Op::Flush
            | Op::SetAllIfAbsent { .. }
            | Op::CreateSchema { .. }
            | Op::AddField { .. }
            | Op::CreateCollection { .. } => (None, None),
            // A document's key is `collection:id`; the op checks its whole length.
            Op::DocSet { id, .. } | Op::DocDelete { id, .. } => (Some(id), None),
            Op::Rename { from, to, .. } => (Some(from), Some(to)),
            Op::Set { key, .. }
            | Op::Delete { key }
            | Op::Expire { key, .. }
            | Op::IncrBy { key, .. }
            | Op::IncrByFloat { key, .. }
            | Op::Append { key, .. }
            | Op::SetRange { key, .. }
            | Op::GetDelete { key }
            | Op::GetExpire { key, .. }
            | Op::Push { key, .. }
            | Op::Pop { key, .. }
            | Op::ListSet { key, .. }
            | Op::ListRemove { key, .. }
            | Op::ListTrim { key, .. }
            | Op::SetAdd { key, .. }
            | Op::SetRemove { key, .. }
            | Op::HashSet { key, .. }
            | Op::HashDelete { key, .. }
            | Op::HashIncrBy { key, .. }
            | Op::HashIncrByFloat { key, .. } => (Some(key), None),
        };
        first
            .into_iter()
            .chain(second)
            .chain(many.iter().map(|(key, _)| &key[..]))
    }

    /// The set members or hash fields the operation finds in its key's collection,
    /// with that key: what the commit thread fetches ahead of applying a group.
    pub(crate) fn items(&self) -> Option<(&[u8], impl Iterator<Item = &[u8]>)> {
        let (key, members, pairs, field): (_, &[Bytes], &[(Bytes, Bytes)], _) = match self {
            Op::SetAdd { key, members } | Op::SetRemove { key, members } => {
                (key, members, &[], None)
            }
            Op::HashSet { key, pairs, .. } => (key, &[], pairs, None),
            Op::HashDelete { key, fields } => (key, fields, &[], None),
            Op::HashIncrBy { key, field, .. } | Op::HashIncrByFloat { key, field, .. } => {
                (key, &[], &[], Some(field))
            }
            _ => return None,
        };
        let items = members
            .iter()
            .chain(pairs.iter().map(|(field, _)| field))
            .chain(field)
            .map(|item| &item[..]);
        Some((&key[..], items))
    }

    /// Calls `visit` with the length of each string the operation carries besides
    /// its keys (values, elements, members, fields): the one walk behind
    /// [`Op::size_bytes`] and [`Op::largest_value_bytes`].
    fn for_each_payload_len(&self, mut visit: impl FnMut(usize)) {
        let mut each = |items: &[Bytes]| items.iter().for_each(|item| visit(item.len()));
        match self {
            Op::Set { value, .. } => value.for_each_part_len(visit),
            Op::Append { value, .. } | Op::SetRange { value, .. } => visit(value.len()),
            Op::Push { values, .. } => each(values),
            Op::SetAdd { members, .. } | Op::SetRemove { members, .. } => each(members),
            Op::HashDelete { fields, .. } => each(fields),
            Op::ListSet { value, .. } | Op::ListRemove { value, .. } => visit(value.len()),
            Op::HashSet { pairs, .. } => pairs.iter().for_each(|(field, value)| {
                visit(field.len());
                visit(value.len());
            }),
            Op::HashIncrBy { field, .. } | Op::HashIncrByFloat { field, .. } => visit(field.len()),
            Op::SetAllIfAbsent { pairs } => pairs.iter().for_each(|(_, value)| visit(value.len())),
            Op::DocSet { fields, .. } => fields.iter().for_each(|(name, value)| {
                visit(name.len());
                visit(value.len());
            }),
            _ => {}
        }
    }

    /// Roughly the memory the operation holds (its own size plus the bytes of its
    /// keys and values), for the commit queue's bound.
    pub(crate) fn size_bytes(&self) -> usize {
        let mut payload = 0;
        self.for_each_payload_len(|len| payload += len);
        std::mem::size_of::<Op>() + self.keys().map(<[u8]>::len).sum::<usize>() + payload
    }

    /// The largest single string the operation carries, for limit checks.
    pub(crate) fn largest_value_bytes(&self) -> usize {
        let mut largest = 0;
        self.for_each_payload_len(|len| largest = largest.max(len));
        largest
    }
}

/// A condition a batch checks before it applies anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// The key exists and was last written at `version`; version 0 means the key
    /// does not exist (WATCH).
    Version {
        /// The key.
        key: ByteString,
        /// The expected version.
        version: Lsn,
    },
    /// The key does not exist.
    Absent(ByteString),
    /// The key exists.
    Present(ByteString),
}

/// What a batch does when one of its operations is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Refuse the whole batch: nothing of it is applied.
    #[default]
    Abort,
    /// Skip the refused operation (it changes nothing) and apply the others; its reply
    /// is the error. This is what Redis does inside MULTI/EXEC and in pipelines.
    Continue,
}

/// Operations applied together: readers see all of their effects or none.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub(crate) preconditions: Vec<Precondition>,
    pub(crate) ops: Vec<Op>,
    pub(crate) on_error: OnError,
    /// Who wrote it, as the change feed reports it.
    pub(crate) origin: Option<u64>,
    /// Keys whose entries the batch reports as they stand after its first `n`
    /// operations: `(n, keys)`, in order of `n`.
    pub(crate) captures: Vec<(usize, Vec<ByteString>)>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Batch::default()
    }

    /// An empty batch with room for `ops` operations.
    pub fn with_capacity(ops: usize) -> Self {
        Batch {
            ops: Vec::with_capacity(ops),
            ..Batch::default()
        }
    }

    /// A batch of one operation.
    pub fn of(op: Op) -> Self {
        Batch {
            ops: vec![op],
            ..Batch::default()
        }
    }

    /// Adds an operation.
    pub fn push(&mut self, op: Op) -> &mut Self {
        self.ops.push(op);
        self
    }

    /// Adds an operation, builder style.
    pub fn with(mut self, op: Op) -> Self {
        self.ops.push(op);
        self
    }

    /// Adds a precondition.
    pub fn push_precondition(&mut self, precondition: Precondition) -> &mut Self {
        self.preconditions.push(precondition);
        self
    }

    /// Adds a precondition, builder style.
    pub fn when(mut self, precondition: Precondition) -> Self {
        self.preconditions.push(precondition);
        self
    }

    /// Tags the batch with its writer; the change feed carries the tag
    /// ([`crate::ChangeBatch::origin`]). The server tags each connection's writes
    /// with its client id, so client tracking can leave a client's own writes out.
    pub fn origin(mut self, origin: u64) -> Self {
        self.origin = Some(origin);
        self
    }

    /// Asks for `keys` as they stand after the operations added so far, seen from
    /// inside the batch: no other writer's change can come between. The commit
    /// answers one [`Capture`] per call, in order ([`Commit::captures`]). This is
    /// how MULTI/EXEC answers a read queued after a write.
    pub fn capture(&mut self, keys: Vec<ByteString>) -> &mut Self {
        self.captures.push((self.ops.len(), keys));
        self
    }

    /// The number of keys captured (they count against the batch's operation limit).
    pub(crate) fn captured_keys(&self) -> usize {
        self.captures.iter().map(|(_, keys)| keys.len()).sum()
    }

    /// Chooses what happens when an operation is refused.
    pub fn on_error(mut self, on_error: OnError) -> Self {
        self.on_error = on_error;
        self
    }

    /// The operations, in order.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Whether the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Roughly the memory the batch holds, for the commit queue's bound.
    pub(crate) fn size_bytes(&self) -> usize {
        let precondition_keys: usize = self
            .preconditions
            .iter()
            .map(|p| match p {
                Precondition::Version { key, .. }
                | Precondition::Absent(key)
                | Precondition::Present(key) => key.len(),
            })
            .sum();
        std::mem::size_of::<Batch>()
            + self.preconditions.len() * std::mem::size_of::<Precondition>()
            + precondition_keys
            + self.ops.iter().map(Op::size_bytes).sum::<usize>()
            + self
                .captures
                .iter()
                .flat_map(|(_, keys)| keys)
                .map(|key| key.len() + std::mem::size_of::<ByteString>())
                .sum::<usize>()
    }
}

/// One operation's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Done.
    Ok,
    /// Nothing (a missing key; a condition that stopped a write).
    Nil,
    /// An integer.
    Int(i64),
    /// A byte string.
    Bytes(Bytes),
    /// Several replies.
    Array(Vec<Reply>),
}

/// How long a writer waits for its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ack {
    /// Until the batch is queued. Its replies and errors are not reported; it becomes
    /// visible shortly, in queue order.
    Eventual,
    /// Until the batch is visible to every reader (read-your-writes).
    #[default]
    Visible,
    /// Until the batch is visible and on disk: the log record holding it, and every
    /// record before it, fdatasync'd. Concurrent durable writers share one sync (group
    /// commit). In a database without a log (in memory) this is `Visible`.
    Durable,
}

/// A committed batch's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    /// The LSN the batch committed at: the new version of every key it wrote.
    pub lsn: Lsn,
    /// One answer per operation, in order; with [`OnError::Continue`], a refused
    /// operation's answer is its error.
    pub replies: Vec<Result<Reply, crate::OpError>>,
    /// One answer per [`Batch::capture`], in order.
    pub captures: Vec<Capture>,
}

/// The keys of one [`Batch::capture`] as the batch had them at that point: the
/// records of those that existed (unexpired), or the error of a key that could not
/// be read.
pub type Capture = Result<Vec<crate::Record>, crate::OpError>;
