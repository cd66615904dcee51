//! Hash commands.

use bytes::Bytes;
use chiral::{ByteString, Op, OpError, Reader};

use super::keys::{ScanOptions, cursor, scan_options};
use super::{Parsed, Shape, Write, read, write};
use crate::args::Args;
use crate::frame::Frame;

/// A hash read.
#[derive(Debug)]
pub(crate) enum Read {
    /// HGET.
    Get(ByteString, Bytes),
    /// HMGET.
    Mget(ByteString, Vec<Bytes>),
    /// HGETALL.
    GetAll(ByteString),
    /// HKEYS.
    Keys(ByteString),
    /// HVALS.
    Vals(ByteString),
    /// HLEN.
    Len(ByteString),
    /// HEXISTS.
    Exists(ByteString, Bytes),
    /// HSTRLEN.
    StrLen(ByteString, Bytes),
    /// HSCAN: key, cursor, options.
    Scan(ByteString, u64, ScanOptions),
}

impl Read {
    pub(super) fn run(&self, reader: &Reader) -> Result<Frame, OpError> {
        Ok(match self {
            Read::Get(key, field) => Frame::bulk_or_null(reader.hget(key, field)?),
            Read::Mget(key, fields) => Frame::Array(
                reader
                    .hmget(key, fields)?
                    .into_iter()
                    .map(Frame::bulk_or_null)
                    .collect(),
            ),
            Read::GetAll(key) => Frame::Map(
                reader
                    .hgetall(key)?
                    .into_iter()
                    .map(|(field, value)| (Frame::Bulk(field), Frame::Bulk(value)))
                    .collect(),
            ),
            Read::Keys(key) => Frame::bulks(reader.hkeys(key)?),
            Read::Vals(key) => Frame::bulks(reader.hvals(key)?),
            Read::Len(key) => Frame::Integer(reader.hlen(key)? as i64),
            Read::Exists(key, field) => Frame::Integer(i64::from(reader.hexists(key, field)?)),
            Read::StrLen(key, field) => {
                Frame::Integer(reader.hget(key, field)?.map_or(0, |value| value.len()) as i64)
            }
            Read::Scan(key, cursor, options) => {
                let page =
                    reader.hscan(key, *cursor, options.count, options.pattern.as_deref())?;
                let items = page
                    .items
                    .into_iter()
                    .flat_map(|(field, value)| [Frame::Bulk(field), Frame::Bulk(value)])
                    .collect();
                Frame::Array(vec![Frame::bulk(page.cursor.to_string()), Frame::Array(items)])
            }
        })
    }

    pub(super) fn keys(&self) -> Vec<&[u8]> {
        match self {
            Read::Get(key, _)
            | Read::Mget(key, _)
            | Read::GetAll(key)
            | Read::Keys(key)
            | Read::Vals(key)
            | Read::Len(key)
            | Read::Exists(key, _)
            | Read::StrLen(key, _)
            | Read::Scan(key, _, _) => vec![key],
        }
    }
}

fn hashes(read_: Read) -> Parsed {
    read(super::Read::Hashes(read_))
}

fn field_values(mut args: Args, command: &str, shape: Shape) -> Parsed {
    let key = args.key()?;
    if !args.remaining().is_multiple_of(2) {
        return Err(super::wrong_arity(command));
    }
    let mut pairs = Vec::with_capacity(args.remaining() / 2);
    while !args.is_empty() {
        pairs.push((args.bytes()?, args.bytes()?));
    }
    let op = Op::HashSet {
        key,
        pairs,
        only_if_absent: false,
    };
    write(Write::shaped(vec![op], shape))
}

/// HSET key field value [field value ...]: how many fields were new.
pub(crate) fn hset(args: Args) -> Parsed {
    field_values(args, "hset", Shape::One)
}

/// HMSET key field value [field value ...]: `OK`.
pub(crate) fn hmset(args: Args) -> Parsed {
    field_values(args, "hmset", Shape::Ok)
}

/// HSETNX key field value.
pub(crate) fn hsetnx(mut args: Args) -> Parsed {
    write(Write::one(Op::HashSet {
        key: args.key()?,
        pairs: vec![(args.bytes()?, args.bytes()?)],
        only_if_absent: true,
    }))
}

/// HGET key field.
pub(crate) fn hget(mut args: Args) -> Parsed {
    let key = args.key()?;
    hashes(Read::Get(key, args.bytes()?))
}

/// HMGET key field [field ...].
pub(crate) fn hmget(mut args: Args) -> Parsed {
    let key = args.key()?;
    hashes(Read::Mget(key, args.rest()))
}

/// HDEL key field [field ...].
pub(crate) fn hdel(mut args: Args) -> Parsed {
    write(Write::one(Op::HashDelete {
        key: args.key()?,
        fields: args.rest(),
    }))
}

/// HGETALL key.
pub(crate) fn hgetall(mut args: Args) -> Parsed {
    hashes(Read::GetAll(args.key()?))
}

/// HKEYS key.
pub(crate) fn hkeys(mut args: Args) -> Parsed {
    hashes(Read::Keys(args.key()?))
}

/// HVALS key.
pub(crate) fn hvals(mut args: Args) -> Parsed {
    hashes(Read::Vals(args.key()?))
}

/// HLEN key.
pub(crate) fn hlen(mut args: Args) -> Parsed {
    hashes(Read::Len(args.key()?))
}

/// HEXISTS key field.
pub(crate) fn hexists(mut args: Args) -> Parsed {
    let key = args.key()?;
    hashes(Read::Exists(key, args.bytes()?))
}

/// HSTRLEN key field.
pub(crate) fn hstrlen(mut args: Args) -> Parsed {
    let key = args.key()?;
    hashes(Read::StrLen(key, args.bytes()?))
}

/// HINCRBY key field increment.
pub(crate) fn hincrby(mut args: Args) -> Parsed {
    write(Write::one(Op::HashIncrBy {
        key: args.key()?,
        field: args.bytes()?,
        delta: args.int()?,
    }))
}

/// HINCRBYFLOAT key field increment.
pub(crate) fn hincrbyfloat(mut args: Args) -> Parsed {
    let key = args.key()?;
    let field = args.bytes()?;
    let delta = args.float()?;
    // Refused before the key is looked at, in Redis's words.
    if !delta.is_finite() {
        return Err(Frame::error("ERR value is NaN or Infinity"));
    }
    write(Write::one(Op::HashIncrByFloat { key, field, delta }))
}

/// HSCAN key cursor [MATCH pattern] [COUNT count].
pub(crate) fn hscan(mut args: Args) -> Parsed {
    let key = args.key()?;
    let cursor = cursor(&mut args)?;
    let options = scan_options(&mut args, false)?;
    hashes(Read::Scan(key, cursor, options))
}
