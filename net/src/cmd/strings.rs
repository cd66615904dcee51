//! String commands: GET, SET and its variants, counters, ranges.

use chiral::{ByteString, Clock, Expiry, Op, OpError, Reader, SetCondition, SystemClock, Value};

use super::{Parsed, Shape, Write, read, write};
use crate::args::{Args, not_integer, syntax_error};
use crate::frame::Frame;

/// A string read.
#[derive(Debug)]
pub(crate) enum Read {
    /// GET.
    Get(ByteString),
    /// MGET.
    Mget(Vec<ByteString>),
    /// STRLEN.
    Strlen(ByteString),
    /// GETRANGE.
    GetRange(ByteString, i64, i64),
}

impl Read {
    pub(super) fn run(&self, reader: &Reader) -> Result<Frame, OpError> {
        Ok(match self {
            Read::Get(key) => Frame::bulk_or_null(reader.get(key)?),
            Read::Mget(keys) => Frame::Array(
                reader
                    .mget(keys)?
                    .into_iter()
                    .map(Frame::bulk_or_null)
                    .collect(),
            ),
            Read::Strlen(key) => Frame::Integer(reader.strlen(key)? as i64),
            Read::GetRange(key, start, end) => Frame::bulk(reader.get_range(key, *start, *end)?),
        })
    }

    pub(super) fn keys(&self) -> Vec<&[u8]> {
        match self {
            Read::Get(key) | Read::Strlen(key) | Read::GetRange(key, ..) => vec![key],
            Read::Mget(keys) => keys.iter().map(AsRef::as_ref).collect(),
        }
    }
}

fn strings(read_: Read) -> Parsed {
    read(super::Read::Strings(read_))
}

/// The current time for relative expiries.
pub(crate) fn now_ms() -> u64 {
    SystemClock.now_ms()
}

/// An absolute expiry `amount` seconds (`unit_ms` 1000) or milliseconds (1) from now
/// (`relative`) or since the epoch; Redis's error for a time that is not positive or
/// overflows.
pub(crate) fn expiry_at(
    amount: i64,
    unit_ms: u64,
    relative: bool,
    command: &str,
) -> Result<u64, Frame> {
    let invalid = || Frame::error(format!("ERR invalid expire time in '{command}' command"));
    if amount <= 0 {
        return Err(invalid());
    }
    let ms = (amount as u64).checked_mul(unit_ms).ok_or_else(invalid)?;
    let at = if relative {
        ms.checked_add(now_ms()).ok_or_else(invalid)?
    } else {
        ms
    };
    // Redis keeps expiries in signed milliseconds.
    if at > i64::MAX as u64 {
        return Err(invalid());
    }
    Ok(at)
}

/// GET key.
pub(crate) fn get(mut args: Args) -> Parsed {
    strings(Read::Get(args.key()?))
}

/// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL].
pub(crate) fn set(mut args: Args) -> Parsed {
    let key = args.key()?;
    let value = args.value()?;
    let mut condition = SetCondition::Always;
    let mut expiry = Expiry::Never;
    let mut get_old = false;
    let mut expiry_given = false;
    while !args.is_empty() {
        let option = args.keyword()?;
        match option.as_slice() {
            b"NX" if condition == SetCondition::Always => condition = SetCondition::IfAbsent,
            b"XX" if condition == SetCondition::Always => condition = SetCondition::IfPresent,
            b"GET" => get_old = true,
            b"KEEPTTL" if !expiry_given => {
                expiry = Expiry::Keep;
                expiry_given = true;
            }
            b"EX" | b"PX" | b"EXAT" | b"PXAT" if !expiry_given => {
                let amount = args.int()?;
                let (unit_ms, relative) = match option.as_slice() {
                    b"EX" => (1000, true),
                    b"PX" => (1, true),
                    b"EXAT" => (1000, false),
                    _ => (1, false),
                };
                expiry = Expiry::AtMs(expiry_at(amount, unit_ms, relative, "set")?);
                expiry_given = true;
            }
            _ => return Err(syntax_error()),
        }
    }
    write(Write::one(Op::Set {
        key,
        value,
        condition,
        expiry,
        get_old,
    }))
}

/// SETNX key value: 1 if set, 0 if the key existed.
pub(crate) fn setnx(mut args: Args) -> Parsed {
    let op = Op::Set {
        key: args.key()?,
        value: args.value()?,
        condition: SetCondition::IfAbsent,
        expiry: Expiry::Never,
        get_old: false,
    };
    write(Write::shaped(vec![op], Shape::OkAsOne))
}

fn set_expiring(mut args: Args, unit_ms: u64, command: &str) -> Parsed {
    let key = args.key()?;
    let at = expiry_at(args.int()?, unit_ms, true, command)?;
    write(Write::one(Op::Set {
        key,
        value: args.value()?,
        condition: SetCondition::Always,
        expiry: Expiry::AtMs(at),
        get_old: false,
    }))
}

/// SETEX key seconds value.
pub(crate) fn setex(args: Args) -> Parsed {
    set_expiring(args, 1000, "setex")
}

/// PSETEX key milliseconds value.
pub(crate) fn psetex(args: Args) -> Parsed {
    set_expiring(args, 1, "psetex")
}

/// MGET key [key ...].
pub(crate) fn mget(mut args: Args) -> Parsed {
    strings(Read::Mget(args.rest_keys()))
}

/// Keys with the values to set them to.
type Pairs = Vec<(ByteString, Value)>;

fn pairs(args: &mut Args, command: &str) -> Result<Pairs, Frame> {
    if !args.remaining().is_multiple_of(2) {
        return Err(super::wrong_arity(command));
    }
    let mut pairs = Vec::with_capacity(args.remaining() / 2);
    while !args.is_empty() {
        pairs.push((args.key()?, args.value()?));
    }
    Ok(pairs)
}

/// MSET key value [key value ...].
pub(crate) fn mset(mut args: Args) -> Parsed {
    let ops = pairs(&mut args, "mset")?
        .into_iter()
        .map(|(key, value)| Op::set(key, value))
        .collect();
    write(Write::shaped(ops, Shape::Ok))
}

/// MSETNX key value [key value ...]: all or none, only if no key exists; one engine
/// operation, so it keeps its meaning in a pipeline's batch and inside MULTI/EXEC.
pub(crate) fn msetnx(mut args: Args) -> Parsed {
    if !args.remaining().is_multiple_of(2) {
        return Err(super::wrong_arity("msetnx"));
    }
    let mut pairs = Vec::with_capacity(args.remaining() / 2);
    while !args.is_empty() {
        pairs.push((args.bytes()?, args.bytes()?));
    }
    write(Write::one(Op::SetAllIfAbsent { pairs }))
}

/// GETSET key value.
pub(crate) fn getset(mut args: Args) -> Parsed {
    write(Write::one(Op::Set {
        key: args.key()?,
        value: args.value()?,
        condition: SetCondition::Always,
        expiry: Expiry::Never,
        get_old: true,
    }))
}

/// GETDEL key.
pub(crate) fn getdel(mut args: Args) -> Parsed {
    write(Write::one(Op::GetDelete { key: args.key()? }))
}

/// GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST].
pub(crate) fn getex(mut args: Args) -> Parsed {
    let key = args.key()?;
    let expiry = if args.is_empty() {
        Expiry::Keep
    } else {
        let option = args.keyword()?;
        let expiry = match option.as_slice() {
            b"PERSIST" => Expiry::Never,
            b"EX" => Expiry::AtMs(expiry_at(args.int()?, 1000, true, "getex")?),
            b"PX" => Expiry::AtMs(expiry_at(args.int()?, 1, true, "getex")?),
            b"EXAT" => Expiry::AtMs(expiry_at(args.int()?, 1000, false, "getex")?),
            b"PXAT" => Expiry::AtMs(expiry_at(args.int()?, 1, false, "getex")?),
            _ => return Err(syntax_error()),
        };
        args.finish()?;
        expiry
    };
    write(Write::one(Op::GetExpire { key, expiry }))
}

/// APPEND key value.
pub(crate) fn append(mut args: Args) -> Parsed {
    write(Write::one(Op::Append {
        key: args.key()?,
        value: args.bytes()?.as_ref().into(),
    }))
}

/// STRLEN key.
pub(crate) fn strlen(mut args: Args) -> Parsed {
    strings(Read::Strlen(args.key()?))
}

fn incr_by(key: ByteString, delta: i64) -> Parsed {
    write(Write::one(Op::IncrBy { key, delta }))
}

/// INCR key.
pub(crate) fn incr(mut args: Args) -> Parsed {
    incr_by(args.key()?, 1)
}

/// DECR key.
pub(crate) fn decr(mut args: Args) -> Parsed {
    incr_by(args.key()?, -1)
}

/// INCRBY key increment.
pub(crate) fn incrby(mut args: Args) -> Parsed {
    let key = args.key()?;
    incr_by(key, args.int()?)
}

/// DECRBY key decrement.
pub(crate) fn decrby(mut args: Args) -> Parsed {
    let key = args.key()?;
    let delta = args.int()?;
    let negated = delta
        .checked_neg()
        .ok_or_else(|| Frame::error("ERR decrement would overflow"))?;
    incr_by(key, negated)
}

/// INCRBYFLOAT key increment.
pub(crate) fn incrbyfloat(mut args: Args) -> Parsed {
    let key = args.key()?;
    // An increment that is not a number goes as NaN, and the engine refuses it (as
    // an infinite one) after checking the key's type and value: Redis's order of
    // errors, where a list's key answers WRONGTYPE whatever the increment.
    let delta = chiral::parse_float(&args.bytes()?).unwrap_or(f64::NAN);
    write(Write::one(Op::IncrByFloat { key, delta }))
}

/// GETRANGE key start end (and SUBSTR).
pub(crate) fn getrange(mut args: Args) -> Parsed {
    let key = args.key()?;
    let start = args.int()?;
    strings(Read::GetRange(key, start, args.int()?))
}

/// SETRANGE key offset value.
pub(crate) fn setrange(mut args: Args) -> Parsed {
    let key = args.key()?;
    let offset = args.int()?;
    let offset = usize::try_from(offset).map_err(|_| Frame::error("ERR offset is out of range"))?;
    let value = args.bytes()?;
    if offset.checked_add(value.len()).is_none() {
        return Err(not_integer());
    }
    write(Write::one(Op::SetRange {
        key,
        offset,
        value: value.as_ref().into(),
    }))
}
