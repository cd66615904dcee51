//! List commands: push, pop, range, length, index, set, remove, trim.

use chiral::{ByteString, End, Op, OpError, Reader};

use super::{Parsed, Shape, Write, read, write};
use crate::args::Args;
use crate::frame::Frame;

/// A list read.
#[derive(Debug)]
pub(crate) enum Read {
    /// LRANGE.
    Range(ByteString, i64, i64),
    /// LLEN.
    Len(ByteString),
    /// LINDEX.
    Index(ByteString, i64),
}

impl Read {
    pub(super) fn run(&self, reader: &Reader) -> Result<Frame, OpError> {
        Ok(match self {
            Read::Range(key, start, stop) => Frame::bulks(reader.lrange(key, *start, *stop)?),
            Read::Len(key) => Frame::Integer(reader.llen(key)? as i64),
            Read::Index(key, index) => Frame::bulk_or_null(reader.lindex(key, *index)?),
        })
    }

    pub(super) fn keys(&self) -> Vec<&[u8]> {
        match self {
            Read::Range(key, ..) | Read::Len(key) | Read::Index(key, _) => vec![key],
        }
    }
}

fn lists(read_: Read) -> Parsed {
    read(super::Read::Lists(read_))
}

fn push(mut args: Args, end: End, only_if_exists: bool) -> Parsed {
    write(Write::one(Op::Push {
        key: args.key()?,
        end,
        values: args.rest(),
        only_if_exists,
    }))
}

/// LPUSH key element [element ...].
pub(crate) fn lpush(args: Args) -> Parsed {
    push(args, End::Front, false)
}

/// RPUSH key element [element ...].
pub(crate) fn rpush(args: Args) -> Parsed {
    push(args, End::Back, false)
}

/// LPUSHX key element [element ...].
pub(crate) fn lpushx(args: Args) -> Parsed {
    push(args, End::Front, true)
}

/// RPUSHX key element [element ...].
pub(crate) fn rpushx(args: Args) -> Parsed {
    push(args, End::Back, true)
}

fn pop(mut args: Args, end: End) -> Parsed {
    let key = args.key()?;
    let count = if args.is_empty() {
        None
    } else {
        let count = args.int()?;
        args.finish()?;
        Some(
            usize::try_from(count)
                .map_err(|_| Frame::error("ERR value is out of range, must be positive"))?,
        )
    };
    let shape = if count.is_some() {
        Shape::OneOrNullArray
    } else {
        Shape::One
    };
    write(Write::shaped(vec![Op::Pop { key, end, count }], shape))
}

/// LPOP key [count].
pub(crate) fn lpop(args: Args) -> Parsed {
    pop(args, End::Front)
}

/// RPOP key [count].
pub(crate) fn rpop(args: Args) -> Parsed {
    pop(args, End::Back)
}

/// LRANGE key start stop.
pub(crate) fn lrange(mut args: Args) -> Parsed {
    let key = args.key()?;
    let start = args.int()?;
    lists(Read::Range(key, start, args.int()?))
}

/// LLEN key.
pub(crate) fn llen(mut args: Args) -> Parsed {
    lists(Read::Len(args.key()?))
}

/// LINDEX key index.
pub(crate) fn lindex(mut args: Args) -> Parsed {
    let key = args.key()?;
    lists(Read::Index(key, args.int()?))
}

/// LSET key index element.
pub(crate) fn lset(mut args: Args) -> Parsed {
    write(Write::one(Op::ListSet {
        key: args.key()?,
        index: args.int()?,
        value: args.bytes()?,
    }))
}

/// LREM key count element.
pub(crate) fn lrem(mut args: Args) -> Parsed {
    write(Write::one(Op::ListRemove {
        key: args.key()?,
        count: args.int()?,
        value: args.bytes()?,
    }))
}

/// LTRIM key start stop.
pub(crate) fn ltrim(mut args: Args) -> Parsed {
    write(Write::one(Op::ListTrim {
        key: args.key()?,
        start: args.int()?,
        stop: args.int()?,
    }))
}
