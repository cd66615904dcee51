//! The bytes of a log record's payload: the operations of one committed batch.
//!
//! The log stores what a batch asked for (its operations, Redis AOF style), not the
//! values it produced, so an LPUSH onto a long list logs one element, not the list.
//! Replaying the operations in LSN order, at the time each batch was applied, rebuilds
//! the same state because operations are deterministic. Only operations that
//! succeeded are logged (a refused one changed nothing), and a batch that changed
//! nothing is not logged at all.
//!
//! Layout: a kind byte, the batch's apply time (`now_ms`), then the body. Integers are
//! LEB128 varints, signed ones zigzagged; floats are 8 little-endian bytes; strings
//! are a varint length and the bytes. Decoding trusts nothing: every length is
//! checked against the bytes that remain before anything is allocated.

use bytes::Bytes;

use crate::doc::catalog::{put_field_def, put_schema, read_field_def, read_schema, text};
use crate::doc::{Collection, Doc};
pub(crate) use crate::encoding::DecodeError;
use crate::encoding::{Input, put_bytes, put_i64, put_u64};
use crate::op::{End, ExpireCondition, Expiry, Op, SetCondition};
use crate::value::{ByteString, Hash, List, Set, Value};

/// What a record holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Body {
    /// The operations of a user's batch that succeeded, in order.
    Ops(Vec<Op>),
    /// Keys the expiry sweep deleted (raw removes: they were expired at `now_ms`).
    Sweep(Vec<Box<[u8]>>),
}

/// A decoded payload.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Payload {
    /// The time the batch was applied at (decides which keys were expired).
    pub(crate) now_ms: u64,
    /// What the batch did.
    pub(crate) body: Body,
}

const KIND_OPS: u8 = 1;
const KIND_SWEEP: u8 = 2;

/// Starts a payload of `Body::Ops` in `out`; follow with one [`encode_op`] per
/// operation and end with [`finish_ops`].
pub(crate) fn begin_ops(out: &mut Vec<u8>, now_ms: u64) {
    out.push(KIND_OPS);
    put_u64(out, now_ms);
}

/// Starts a payload of `Body::Sweep` in `out`; follow with one [`encode_swept_key`]
/// per key.
pub(crate) fn begin_sweep(out: &mut Vec<u8>, now_ms: u64) {
    out.push(KIND_SWEEP);
    put_u64(out, now_ms);
}

/// Appends one key to a payload begun with [`begin_sweep`].
pub(crate) fn encode_swept_key(out: &mut Vec<u8>, key: &[u8]) {
    put_bytes(out, key);
}

/// Decodes a payload.
pub(crate) fn decode(bytes: &[u8]) -> Result<Payload, DecodeError> {
    let mut input = Input(bytes);
    let kind = input.u8()?;
    let now_ms = input.u64()?;
    let body = match kind {
        KIND_OPS => {
            let mut ops = Vec::new();
            while !input.0.is_empty() {
                ops.push(input.op()?);
            }
            Body::Ops(ops)
        }
        KIND_SWEEP => {
            let mut keys = Vec::new();
            while !input.0.is_empty() {
                keys.push(input.boxed()?);
            }
            Body::Sweep(keys)
        }
        _ => return Err(DecodeError("unknown record kind")),
    };
    Ok(Payload { now_ms, body })
}

// Operation tags. Never reuse or renumber one: logs outlive versions.
const SET: u8 = 1;
const DELETE: u8 = 2;
const EXPIRE: u8 = 3;
const INCR_BY: u8 = 4;
const INCR_BY_FLOAT: u8 = 5;
const APPEND: u8 = 6;
const SET_RANGE: u8 = 7;
const GET_DELETE: u8 = 8;
const GET_EXPIRE: u8 = 9;
const RENAME: u8 = 10;
const FLUSH: u8 = 11;
const PUSH: u8 = 12;
const POP: u8 = 13;
const LIST_SET: u8 = 14;
const LIST_REMOVE: u8 = 15;
const LIST_TRIM: u8 = 16;
const SET_ADD: u8 = 17;
const SET_REMOVE: u8 = 18;
const HASH_SET: u8 = 19;
const HASH_DELETE: u8 = 20;
const HASH_INCR_BY: u8 = 21;
const HASH_INCR_BY_FLOAT: u8 = 22;
const SET_ALL_IF_ABSENT: u8 = 23;
const CREATE_SCHEMA: u8 = 24;
const ADD_FIELD: u8 = 25;
const CREATE_COLLECTION: u8 = 26;
const DOC_SET: u8 = 27;
const DOC_DELETE: u8 = 28;

/// Appends one operation to a payload begun with [`begin_ops`].
pub(crate) fn encode_op(out: &mut Vec<u8>, op: &Op) {
    match op {
        Op::Set {
            key,
            value,
            condition,
            expiry,
            get_old,
        } => {
            out.push(SET);
            put_bytes(out, key);
            put_value(out, value);
            out.push(match condition {
                SetCondition::Always => 0,
                SetCondition::IfAbsent => 1,
                SetCondition::IfPresent => 2,
            });
            put_expiry(out, *expiry);
            out.push(u8::from(*get_old));
        }
        Op::Delete { key } => {
            out.push(DELETE);
            put_bytes(out, key);
        }
        Op::Expire {
            key,
            at_ms,
            condition,
        } => {
            out.push(EXPIRE);
            put_bytes(out, key);
            match at_ms {
                None => out.push(0),
                Some(at) => {
                    out.push(1);
                    put_u64(out, *at);
                }
            }
            out.push(match condition {
                ExpireCondition::Always => 0,
                ExpireCondition::IfNone => 1,
                ExpireCondition::IfSome => 2,
                ExpireCondition::IfLater => 3,
                ExpireCondition::IfEarlier => 4,
                ExpireCondition::IfSomeAndEarlier => 5,
            });
        }
        Op::IncrBy { key, delta } => {
            out.push(INCR_BY);
            put_bytes(out, key);
            put_i64(out, *delta);
        }
        Op::IncrByFloat { key, delta } => {
            out.push(INCR_BY_FLOAT);
            put_bytes(out, key);
            out.extend_from_slice(&delta.to_le_bytes());
        }
        Op::Append { key, value } => {
            out.push(APPEND);
            put_bytes(out, key);
            put_bytes(out, value);
        }
        Op::SetRange { key, offset, value } => {
            out.push(SET_RANGE);
            put_bytes(out, key);
            put_u64(out, *offset as u64);
            put_bytes(out, value);
        }
        Op::GetDelete { key } => {
            out.push(GET_DELETE);
            put_bytes(out, key);
        }
        Op::GetExpire { key, expiry } => {
            out.push(GET_EXPIRE);
            put_bytes(out, key);
            put_expiry(out, *expiry);
        }
        Op::Rename {
            from,
            to,
            only_if_absent,
        } => {
            out.push(RENAME);
            put_bytes(out, from);
            put_bytes(out, to);
            out.push(u8::from(*only_if_absent));
        }
        Op::Flush => out.push(FLUSH),
        Op::Push {
            key,
            end,
            values,
            only_if_exists,
        } => {
            out.push(PUSH);
            put_bytes(out, key);
            put_end(out, *end);
            put_list(out, values);
            out.push(u8::from(*only_if_exists));
        }
        Op::Pop { key, end, count } => {
            out.push(POP);
            put_bytes(out, key);
            put_end(out, *end);
            match count {
                None => out.push(0),
                Some(count) => {
                    out.push(1);
                    put_u64(out, *count as u64);
                }
            }
        }
        Op::ListSet { key, index, value } => {
            out.push(LIST_SET);
            put_bytes(out, key);
            put_i64(out, *index);
            put_bytes(out, value);
        }
        Op::ListRemove { key, count, value } => {
            out.push(LIST_REMOVE);
            put_bytes(out, key);
            put_i64(out, *count);
            put_bytes(out, value);
        }
        Op::ListTrim { key, start, stop } => {
            out.push(LIST_TRIM);
            put_bytes(out, key);
            put_i64(out, *start);
            put_i64(out, *stop);
        }
        Op::SetAdd { key, members } => {
            out.push(SET_ADD);
            put_bytes(out, key);
            put_list(out, members);
        }
        Op::SetRemove { key, members } => {
            out.push(SET_REMOVE);
            put_bytes(out, key);
            put_list(out, members);
        }
        Op::SetAllIfAbsent { pairs } => {
            out.push(SET_ALL_IF_ABSENT);
            put_pairs(
                out,
                pairs.iter().map(|(key, value)| (&key[..], &value[..])),
                pairs.len(),
            );
        }
        Op::HashSet {
            key,
            pairs,
            only_if_absent,
        } => {
            out.push(HASH_SET);
            put_bytes(out, key);
            put_pairs(
                out,
                pairs.iter().map(|(field, value)| (&field[..], &value[..])),
                pairs.len(),
            );
            out.push(u8::from(*only_if_absent));
        }
        Op::HashDelete { key, fields } => {
            out.push(HASH_DELETE);
            put_bytes(out, key);
            put_list(out, fields);
        }
        Op::HashIncrBy { key, field, delta } => {
            out.push(HASH_INCR_BY);
            put_bytes(out, key);
            put_bytes(out, field);
            put_i64(out, *delta);
        }
        Op::HashIncrByFloat { key, field, delta } => {
            out.push(HASH_INCR_BY_FLOAT);
            put_bytes(out, key);
            put_bytes(out, field);
            out.extend_from_slice(&delta.to_le_bytes());
        }
        Op::CreateSchema { schema } => {
            out.push(CREATE_SCHEMA);
            put_schema(out, schema);
        }
        Op::AddField { schema, field } => {
            out.push(ADD_FIELD);
            put_bytes(out, schema.as_bytes());
            put_field_def(out, field);
        }
        Op::CreateCollection { collection } => {
            out.push(CREATE_COLLECTION);
            put_bytes(out, collection.name.as_bytes());
            put_bytes(out, collection.schema.as_bytes());
            put_bytes(out, collection.key_field.as_bytes());
        }
        Op::DocSet {
            collection,
            id,
            fields,
        } => {
            out.push(DOC_SET);
            put_bytes(out, collection.as_bytes());
            put_bytes(out, id);
            put_pairs(
                out,
                fields.iter().map(|(name, value)| (&name[..], &value[..])),
                fields.len(),
            );
        }
        Op::DocDelete { collection, id } => {
            out.push(DOC_DELETE);
            put_bytes(out, collection.as_bytes());
            put_bytes(out, id);
        }
    }
}

// Value tags.
const BYTES: u8 = 1;
const INT: u8 = 2;
const FLOAT: u8 = 3;
const LIST: u8 = 4;
const SET_VALUE: u8 = 5;
const HASH: u8 = 6;
const DOC: u8 = 7;

fn put_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Bytes(bytes) => {
            out.push(BYTES);
            put_bytes(out, bytes);
        }
        Value::Int(n) => {
            out.push(INT);
            put_i64(out, *n);
        }
        Value::Float(x) => {
            out.push(FLOAT);
            out.extend_from_slice(&x.to_le_bytes());
        }
        Value::List(list) => {
            out.push(LIST);
            put_u64(out, list.len() as u64);
            list.iter().for_each(|item| put_bytes(out, item));
        }
        Value::Set(set) => {
            out.push(SET_VALUE);
            put_u64(out, set.len() as u64);
            set.iter().for_each(|member| put_bytes(out, member));
        }
        Value::Hash(hash) => {
            out.push(HASH);
            put_pairs(out, hash.iter(), hash.len());
        }
        Value::Doc(doc) => {
            out.push(DOC);
            put_u64(out, u64::from(doc.collection));
            put_bytes(out, &doc.data);
        }
    }
}

fn put_expiry(out: &mut Vec<u8>, expiry: Expiry) {
    match expiry {
        Expiry::Never => out.push(0),
        Expiry::Keep => out.push(1),
        Expiry::AtMs(at) => {
            out.push(2);
            put_u64(out, at);
        }
    }
}

fn put_end(out: &mut Vec<u8>, end: End) {
    out.push(match end {
        End::Front => 0,
        End::Back => 1,
    });
}

fn put_list(out: &mut Vec<u8>, items: &[Bytes]) {
    put_u64(out, items.len() as u64);
    items.iter().for_each(|item| put_bytes(out, item));
}

fn put_pairs<'a>(out: &mut Vec<u8>, pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>, len: usize) {
    put_u64(out, len as u64);
    for (field, value) in pairs {
        put_bytes(out, field);
        put_bytes(out, value);
    }
}

impl Input<'_> {
    fn key(&mut self) -> Result<ByteString, DecodeError> {
        self.bytes().map(ByteString::new)
    }

    fn boxed(&mut self) -> Result<Box<[u8]>, DecodeError> {
        self.bytes().map(Box::from)
    }

    fn shared(&mut self) -> Result<Bytes, DecodeError> {
        self.bytes().map(Bytes::copy_from_slice)
    }

    fn list(&mut self) -> Result<Vec<Bytes>, DecodeError> {
        let count = self.count()?;
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(self.shared()?);
        }
        Ok(items)
    }

    fn pairs(&mut self) -> Result<Vec<(Bytes, Bytes)>, DecodeError> {
        let count = self.count()?;
        let mut pairs = Vec::with_capacity(count);
        for _ in 0..count {
            pairs.push((self.shared()?, self.shared()?));
        }
        Ok(pairs)
    }

    fn expiry(&mut self) -> Result<Expiry, DecodeError> {
        match self.u8()? {
            0 => Ok(Expiry::Never),
            1 => Ok(Expiry::Keep),
            2 => Ok(Expiry::AtMs(self.u64()?)),
            _ => Err(DecodeError("bad expiry tag")),
        }
    }

    fn end_of_list(&mut self) -> Result<End, DecodeError> {
        match self.u8()? {
            0 => Ok(End::Front),
            1 => Ok(End::Back),
            _ => Err(DecodeError("bad list end")),
        }
    }

    fn value(&mut self) -> Result<Value, DecodeError> {
        Ok(match self.u8()? {
            BYTES => Value::Bytes(self.key()?),
            INT => Value::Int(self.i64()?),
            FLOAT => Value::Float(self.f64()?),
            LIST => Value::List(Box::new(self.list()?.into_iter().collect::<List>())),
            SET_VALUE => Value::Set(Box::new(self.list()?.into_iter().collect::<Set>())),
            HASH => Value::Hash(Box::new(self.pairs()?.into_iter().collect::<Hash>())),
            DOC => Value::Doc(Box::new(Doc {
                collection: u32::try_from(self.u64()?)
                    .map_err(|_| DecodeError("collection number out of range"))?,
                data: self.boxed()?,
            })),
            _ => return Err(DecodeError("bad value tag")),
        })
    }

    fn op(&mut self) -> Result<Op, DecodeError> {
        Ok(match self.u8()? {
            SET => Op::Set {
                key: self.key()?,
                value: self.value()?,
                condition: match self.u8()? {
                    0 => SetCondition::Always,
                    1 => SetCondition::IfAbsent,
                    2 => SetCondition::IfPresent,
                    _ => return Err(DecodeError("bad SET condition")),
                },
                expiry: self.expiry()?,
                get_old: self.flag()?,
            },
            DELETE => Op::Delete { key: self.key()? },
            EXPIRE => Op::Expire {
                key: self.key()?,
                at_ms: if self.flag()? {
                    Some(self.u64()?)
                } else {
                    None
                },
                condition: match self.u8()? {
                    0 => ExpireCondition::Always,
                    1 => ExpireCondition::IfNone,
                    2 => ExpireCondition::IfSome,
                    3 => ExpireCondition::IfLater,
                    4 => ExpireCondition::IfEarlier,
                    5 => ExpireCondition::IfSomeAndEarlier,
                    _ => return Err(DecodeError("bad EXPIRE condition")),
                },
            },
            INCR_BY => Op::IncrBy {
                key: self.key()?,
                delta: self.i64()?,
            },
            INCR_BY_FLOAT => Op::IncrByFloat {
                key: self.key()?,
                delta: self.f64()?,
            },
            APPEND => Op::Append {
                key: self.key()?,
                value: self.boxed()?,
            },
            SET_RANGE => Op::SetRange {
                key: self.key()?,
                offset: self.usize()?,
                value: self.boxed()?,
            },
            GET_DELETE => Op::GetDelete { key: self.key()? },
            GET_EXPIRE => Op::GetExpire {
                key: self.key()?,
                expiry: self.expiry()?,
            },
            RENAME => Op::Rename {
                from: self.key()?,
                to: self.key()?,
                only_if_absent: self.flag()?,
            },
            FLUSH => Op::Flush,
            PUSH => Op::Push {
                key: self.key()?,
                end: self.end_of_list()?,
                values: self.list()?,
                only_if_exists: self.flag()?,
            },
            POP => Op::Pop {
                key: self.key()?,
                end: self.end_of_list()?,
                count: if self.flag()? {
                    Some(self.usize()?)
                } else {
                    None
                },
            },
            LIST_SET => Op::ListSet {
                key: self.key()?,
                index: self.i64()?,
                value: self.shared()?,
            },
            LIST_REMOVE => Op::ListRemove {
                key: self.key()?,
                count: self.i64()?,
                value: self.shared()?,
            },
            LIST_TRIM => Op::ListTrim {
                key: self.key()?,
                start: self.i64()?,
                stop: self.i64()?,
            },
            SET_ADD => Op::SetAdd {
                key: self.key()?,
                members: self.list()?,
            },
            SET_REMOVE => Op::SetRemove {
                key: self.key()?,
                members: self.list()?,
            },
            SET_ALL_IF_ABSENT => Op::SetAllIfAbsent {
                pairs: self.pairs()?,
            },
            HASH_SET => Op::HashSet {
                key: self.key()?,
                pairs: self.pairs()?,
                only_if_absent: self.flag()?,
            },
            HASH_DELETE => Op::HashDelete {
                key: self.key()?,
                fields: self.list()?,
            },
            HASH_INCR_BY => Op::HashIncrBy {
                key: self.key()?,
                field: self.shared()?,
                delta: self.i64()?,
            },
            HASH_INCR_BY_FLOAT => Op::HashIncrByFloat {
                key: self.key()?,
                field: self.shared()?,
                delta: self.f64()?,
            },
            CREATE_SCHEMA => Op::CreateSchema {
                schema: read_schema(self)?,
            },
            ADD_FIELD => Op::AddField {
                schema: text(self)?,
                field: read_field_def(self)?,
            },
            CREATE_COLLECTION => Op::CreateCollection {
                collection: Collection {
                    name: text(self)?,
                    schema: text(self)?,
                    key_field: text(self)?,
                },
            },
            DOC_SET => Op::DocSet {
                collection: text(self)?,
                id: self.key()?,
                fields: self.pairs()?,
            },
            DOC_DELETE => Op::DocDelete {
                collection: text(self)?,
                id: self.key()?,
            },
            _ => return Err(DecodeError("unknown operation tag")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::{FieldDef, FieldType, FieldValue, Schema};

    fn round_trip(ops: Vec<Op>) {
        let mut out = Vec::new();
        begin_ops(&mut out, 1234);
        ops.iter().for_each(|op| encode_op(&mut out, op));
        let payload = decode(&out).unwrap();
        assert_eq!(payload.now_ms, 1234);
        assert_eq!(payload.body, Body::Ops(ops));
    }

    #[test]
    fn every_operation_round_trips() {
        let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        let k = |s: &str| Box::<[u8]>::from(s.as_bytes());
        let key = |s: &str| ByteString::from(s);
        round_trip(vec![
            Op::Set {
                key: key("a"),
                value: Value::Bytes(k("x").into()),
                condition: SetCondition::IfAbsent,
                expiry: Expiry::AtMs(u64::MAX),
                get_old: true,
            },
            Op::set("i", i64::MIN),
            Op::set("f", -0.5f64),
            Op::set(
                "l",
                Value::List(Box::new([b("1"), b("2")].into_iter().collect())),
            ),
            Op::set("s", Value::Set(Box::new([b("1")].into_iter().collect()))),
            Op::set(
                "h",
                Value::Hash(Box::new([(b("f"), b("v"))].into_iter().collect())),
            ),
            Op::delete("a"),
            Op::Expire {
                key: key("a"),
                at_ms: Some(5),
                condition: ExpireCondition::IfEarlier,
            },
            Op::Expire {
                key: key("a"),
                at_ms: None,
                condition: ExpireCondition::Always,
            },
            Op::Expire {
                key: key("a"),
                at_ms: Some(9),
                condition: ExpireCondition::IfSomeAndEarlier,
            },
            Op::incr_by("n", -7),
            Op::IncrByFloat {
                key: key("n"),
                delta: 1.5,
            },
            Op::Append {
                key: key("a"),
                value: k(""),
            },
            Op::SetRange {
                key: key("a"),
                offset: 99,
                value: k("z"),
            },
            Op::GetDelete { key: key("a") },
            Op::GetExpire {
                key: key("a"),
                expiry: Expiry::Keep,
            },
            Op::Rename {
                from: key("a"),
                to: key("b"),
                only_if_absent: true,
            },
            Op::Flush,
            Op::SetAllIfAbsent {
                pairs: vec![(b("a"), b("1")), (b("b"), b(""))],
            },
            Op::Push {
                key: key("l"),
                end: End::Front,
                values: vec![b("x"), b("")],
                only_if_exists: false,
            },
            Op::Pop {
                key: key("l"),
                end: End::Back,
                count: Some(3),
            },
            Op::Pop {
                key: key("l"),
                end: End::Front,
                count: None,
            },
            Op::ListSet {
                key: key("l"),
                index: -1,
                value: b("y"),
            },
            Op::ListRemove {
                key: key("l"),
                count: -2,
                value: b("y"),
            },
            Op::ListTrim {
                key: key("l"),
                start: 1,
                stop: -1,
            },
            Op::SetAdd {
                key: key("s"),
                members: vec![b("m")],
            },
            Op::SetRemove {
                key: key("s"),
                members: vec![b("m")],
            },
            Op::HashSet {
                key: key("h"),
                pairs: vec![(b("f"), b("v")), (b("g"), b(""))],
                only_if_absent: true,
            },
            Op::HashDelete {
                key: key("h"),
                fields: vec![b("f")],
            },
            Op::HashIncrBy {
                key: key("h"),
                field: b("n"),
                delta: i64::MAX,
            },
            Op::HashIncrByFloat {
                key: key("h"),
                field: b("x"),
                delta: -2.25,
            },
            Op::CreateSchema {
                schema: Schema::new(
                    "user",
                    vec![
                        FieldDef::new("id", FieldType::String { max_bytes: 64 }),
                        FieldDef::new("raw", FieldType::Bytes { max_bytes: 9 }),
                        FieldDef::new("n", FieldType::Uint64),
                        FieldDef::new("i", FieldType::Int64),
                        FieldDef::new("x", FieldType::Float64),
                        FieldDef::new("b", FieldType::Bool),
                    ],
                ),
            },
            Op::AddField {
                schema: "user".into(),
                field: FieldDef {
                    default: Some(FieldValue::Float64(0.5)),
                    ..FieldDef::new("y", FieldType::Float64)
                },
            },
            Op::CreateCollection {
                collection: Collection {
                    name: "users".into(),
                    schema: "user".into(),
                    key_field: "id".into(),
                },
            },
            Op::DocSet {
                collection: "users".into(),
                id: key("u1"),
                fields: vec![(b("n"), b("7")), (b("raw"), b(""))],
            },
            Op::DocDelete {
                collection: "users".into(),
                id: key("u1"),
            },
            Op::set(
                "d",
                Value::Doc(Box::new(Doc {
                    collection: 3,
                    data: k("\u{1}\u{0}"),
                })),
            ),
        ]);
    }

    #[test]
    fn sweeps_round_trip() {
        let mut out = Vec::new();
        begin_sweep(&mut out, 9);
        encode_swept_key(&mut out, b"a");
        encode_swept_key(&mut out, b"bc");
        let payload = decode(&out).unwrap();
        assert_eq!(payload.now_ms, 9);
        assert_eq!(
            payload.body,
            Body::Sweep(vec![b"a"[..].into(), b"bc"[..].into()])
        );
    }

    #[test]
    fn hostile_payloads_are_refused_without_allocating() {
        // A count of 2^63 members in a 14-byte payload.
        let mut out = Vec::new();
        begin_ops(&mut out, 0);
        out.push(SET_ADD);
        put_bytes(&mut out, b"k");
        put_u64(&mut out, 1 << 63);
        assert_eq!(
            decode(&out),
            Err(DecodeError("item count exceeds the payload"))
        );
        assert!(decode(&[]).is_err());
        assert!(decode(&[KIND_OPS, 0, 99]).is_err());
        assert!(
            decode(&[
                KIND_OPS, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f
            ])
            .is_err()
        );
        let mut truncated = Vec::new();
        begin_ops(&mut truncated, 1);
        encode_op(&mut truncated, &Op::set("key", "value"));
        // (Two bytes, kind and time, are a valid empty batch.)
        for len in (0..truncated.len()).filter(|&len| len != 2) {
            assert!(decode(&truncated[..len]).is_err(), "prefix of {len} bytes");
        }
    }
}
