//! Commands on keys of any type: DEL, EXISTS, expiry, TYPE, RENAME, KEYS, SCAN,
//! DBSIZE, RANDOMKEY, FLUSHDB.

use bytes::Bytes;
use chiral::{ByteString, ExpireCondition, Kind, Op, OpError, Reader, ScanFilter, Ttl};

use super::{Parsed, Shape, Write, read, write};
use crate::args::{Args, syntax_error};
use crate::cmd::strings::now_ms;
use crate::frame::Frame;

/// Keys a SCAN page visits when the client gives no COUNT (Redis's default).
const DEFAULT_SCAN_COUNT: usize = 10;
/// The largest COUNT a SCAN page honours: a page's work stays bounded.
const MAX_SCAN_COUNT: usize = 100_000;
/// Keys KEYS and RANDOMKEY visit per step of their scan.
const KEYS_STEP: usize = 1024;

/// A read on keys.
#[derive(Debug)]
pub(crate) enum Read {
    /// EXISTS: how many of the keys exist (a key named twice counts twice).
    Exists(Vec<ByteString>),
    /// TTL (`unit_ms` 1000) and PTTL (1).
    Ttl(ByteString, u64),
    /// EXPIRETIME (`unit_ms` 1000) and PEXPIRETIME (1).
    ExpireTime(ByteString, u64),
    /// TYPE.
    Type(ByteString),
    /// KEYS pattern.
    Keys(Bytes),
    /// SCAN.
    Scan(Scan),
    /// DBSIZE.
    DbSize,
    /// RANDOMKEY.
    RandomKey,
}

/// SCAN's arguments.
#[derive(Debug)]
pub(crate) struct Scan {
    cursor: u64,
    pattern: Option<Bytes>,
    count: usize,
    /// `Some(None)`: a type no key can have (Redis answers no keys for it).
    kind: Option<Option<Kind>>,
}

impl Read {
    pub(super) fn run(&self, reader: &Reader) -> Result<Frame, OpError> {
        Ok(match self {
            Read::Exists(keys) => {
                let mut found = 0;
                for key in keys {
                    found += i64::from(reader.exists(key)?);
                }
                Frame::Integer(found)
            }
            Read::Ttl(key, unit_ms) => Frame::Integer(match reader.ttl(key)? {
                Ttl::Missing => -2,
                Ttl::Persistent => -1,
                // Redis rounds TTL to the nearest second.
                Ttl::ExpiresInMs(ms) => ((ms + *unit_ms / 2) / *unit_ms) as i64,
            }),
            Read::ExpireTime(key, unit_ms) => Frame::Integer(match reader.record(key)? {
                None => -2,
                Some(record) => match record.expires_at_ms() {
                    None => -1,
                    Some(at) => (at / *unit_ms) as i64,
                },
            }),
            Read::Type(key) => Frame::Simple(reader.kind(key)?.map_or("none", Kind::name)),
            Read::Keys(pattern) => {
                let mut keys = Vec::new();
                let mut cursor = 0;
                loop {
                    let filter = ScanFilter {
                        pattern: Some(pattern),
                        kind: None,
                    };
                    let page = reader.scan(cursor, KEYS_STEP, filter)?;
                    keys.extend(page.keys.into_iter().map(Bytes::from));
                    cursor = page.cursor;
                    if cursor == 0 {
                        break Frame::bulks(keys);
                    }
                }
            }
            Read::Scan(scan) => {
                let filter = ScanFilter {
                    pattern: scan.pattern.as_deref(),
                    kind: scan.kind.flatten(),
                };
                let page = reader.scan(scan.cursor, scan.count, filter)?;
                let keys = match scan.kind {
                    Some(None) => Vec::new(),
                    _ => page.keys,
                };
                Frame::Array(vec![
                    Frame::bulk(page.cursor.to_string()),
                    Frame::bulks(keys.into_iter().map(Bytes::from)),
                ])
            }
            Read::DbSize => Frame::Integer(reader.len() as i64),
            Read::RandomKey => Frame::bulk_or_null(random_key(reader)?),
        })
    }

    pub(super) fn keys(&self) -> Vec<&[u8]> {
        match self {
            Read::Exists(keys) => keys.iter().map(AsRef::as_ref).collect(),
            Read::Ttl(key, _) | Read::ExpireTime(key, _) | Read::Type(key) => vec![key],
            Read::Keys(_) | Read::Scan(_) | Read::DbSize | Read::RandomKey => Vec::new(),
        }
    }
}

/// A key picked at random: the first key of a scan started at a random cursor
/// (wrapping once to the start), or `None` if there is no key.
fn random_key(reader: &Reader) -> Result<Option<Bytes>, OpError> {
    let start = random_u64();
    let mut cursor = start;
    let mut wrapped = false;
    loop {
        let page = reader.scan(cursor, KEYS_STEP, ScanFilter::default())?;
        if let Some(key) = page.keys.into_iter().next() {
            return Ok(Some(Bytes::from(key)));
        }
        cursor = page.cursor;
        if cursor == 0 {
            if wrapped || start == 0 {
                return Ok(None);
            }
            wrapped = true;
        }
    }
}

/// A random number from the std hasher's per-process random keys and the clock.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos()),
    );
    hasher.finish()
}

fn keys_read(read_: Read) -> Parsed {
    read(super::Read::Keys(read_))
}

/// DEL key [key ...] and UNLINK.
pub(crate) fn del(mut args: Args) -> Parsed {
    let ops = args.rest_keys().into_iter().map(Op::delete).collect();
    write(Write::shaped(ops, Shape::Sum))
}

/// EXISTS key [key ...].
pub(crate) fn exists(mut args: Args) -> Parsed {
    keys_read(Read::Exists(args.rest_keys()))
}

/// The EXPIRE family: `amount` in `unit_ms`, relative to now or not.
fn expire_family(mut args: Args, unit_ms: u64, relative: bool, command: &str) -> Parsed {
    let key = args.key()?;
    let amount = args.int()?;
    let invalid = || Frame::error(format!("ERR invalid expire time in '{command}' command"));
    let ms = i128::from(amount) * i128::from(unit_ms);
    let at = if relative {
        ms + i128::from(now_ms())
    } else {
        ms
    };
    if ms.unsigned_abs() > i64::MAX as u128 || at > i128::from(i64::MAX) {
        return Err(invalid());
    }
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    while !args.is_empty() {
        let option = args.bytes()?;
        match option.to_ascii_uppercase().as_slice() {
            b"NX" => nx = true,
            b"XX" => xx = true,
            b"GT" => gt = true,
            b"LT" => lt = true,
            _ => {
                return Err(Frame::error(format!(
                    "ERR Unsupported option {}",
                    String::from_utf8_lossy(&option)
                )));
            }
        }
    }
    if nx && (xx || gt || lt) {
        return Err(Frame::error(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(Frame::error(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    let condition = match (nx, xx, gt, lt) {
        (true, ..) => ExpireCondition::IfNone,
        // GT already requires an expiry: no expiry counts as later than any time.
        (_, _, true, _) => ExpireCondition::IfLater,
        (_, false, _, true) => ExpireCondition::IfEarlier,
        (_, true, _, true) => ExpireCondition::IfSomeAndEarlier,
        (_, true, ..) => ExpireCondition::IfSome,
        _ => ExpireCondition::Always,
    };
    write(Write::one(Op::Expire {
        key,
        // A time in the past deletes the key.
        at_ms: Some(at.max(0) as u64),
        condition,
    }))
}

/// EXPIRE key seconds [NX | XX | GT | LT].
pub(crate) fn expire(args: Args) -> Parsed {
    expire_family(args, 1000, true, "expire")
}

/// PEXPIRE key milliseconds [NX | XX | GT | LT].
pub(crate) fn pexpire(args: Args) -> Parsed {
    expire_family(args, 1, true, "pexpire")
}

/// EXPIREAT key unix-seconds [NX | XX | GT | LT].
pub(crate) fn expireat(args: Args) -> Parsed {
    expire_family(args, 1000, false, "expireat")
}

/// PEXPIREAT key unix-milliseconds [NX | XX | GT | LT].
pub(crate) fn pexpireat(args: Args) -> Parsed {
    expire_family(args, 1, false, "pexpireat")
}

/// TTL key.
pub(crate) fn ttl(mut args: Args) -> Parsed {
    keys_read(Read::Ttl(args.key()?, 1000))
}

/// PTTL key.
pub(crate) fn pttl(mut args: Args) -> Parsed {
    keys_read(Read::Ttl(args.key()?, 1))
}

/// EXPIRETIME key.
pub(crate) fn expiretime(mut args: Args) -> Parsed {
    keys_read(Read::ExpireTime(args.key()?, 1000))
}

/// PEXPIRETIME key.
pub(crate) fn pexpiretime(mut args: Args) -> Parsed {
    keys_read(Read::ExpireTime(args.key()?, 1))
}

/// PERSIST key.
pub(crate) fn persist(mut args: Args) -> Parsed {
    write(Write::one(Op::Expire {
        key: args.key()?,
        at_ms: None,
        condition: ExpireCondition::Always,
    }))
}

/// TYPE key.
pub(crate) fn kind(mut args: Args) -> Parsed {
    keys_read(Read::Type(args.key()?))
}

fn rename_op(mut args: Args, only_if_absent: bool) -> Parsed {
    write(Write::one(Op::Rename {
        from: args.key()?,
        to: args.key()?,
        only_if_absent,
    }))
}

/// RENAME key newkey.
pub(crate) fn rename(args: Args) -> Parsed {
    rename_op(args, false)
}

/// RENAMENX key newkey.
pub(crate) fn renamenx(args: Args) -> Parsed {
    rename_op(args, true)
}

/// KEYS pattern.
pub(crate) fn keys(mut args: Args) -> Parsed {
    keys_read(Read::Keys(args.bytes()?))
}

/// The MATCH, COUNT (and, for SCAN, TYPE) options of the SCAN family.
#[derive(Debug)]
pub(crate) struct ScanOptions {
    /// MATCH pattern.
    pub(crate) pattern: Option<Bytes>,
    /// COUNT, bounded.
    pub(crate) count: usize,
    /// TYPE name.
    pub(crate) kind: Option<Bytes>,
}

/// A SCAN cursor (Redis's error for one that is not a number).
pub(crate) fn cursor(args: &mut Args) -> Result<u64, Frame> {
    let text = args.bytes()?;
    std::str::from_utf8(&text)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| Frame::error("ERR invalid cursor"))
}

/// Parses the SCAN family's options; `TYPE` only where `allow_type`.
pub(crate) fn scan_options(args: &mut Args, allow_type: bool) -> Result<ScanOptions, Frame> {
    let mut options = ScanOptions {
        pattern: None,
        count: DEFAULT_SCAN_COUNT,
        kind: None,
    };
    while !args.is_empty() {
        match args.keyword()?.as_slice() {
            b"MATCH" => options.pattern = Some(args.bytes()?),
            b"COUNT" => {
                let count = args.int()?;
                if count < 1 {
                    return Err(syntax_error());
                }
                options.count = usize::try_from(count)
                    .unwrap_or(usize::MAX)
                    .min(MAX_SCAN_COUNT);
            }
            b"TYPE" if allow_type => options.kind = Some(args.bytes()?),
            _ => return Err(syntax_error()),
        }
    }
    Ok(options)
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type].
pub(crate) fn scan(mut args: Args) -> Parsed {
    let cursor = cursor(&mut args)?;
    let options = scan_options(&mut args, true)?;
    let kind = options.kind.map(|name| {
        [
            Kind::String,
            Kind::List,
            Kind::Set,
            Kind::Hash,
            Kind::Document,
        ]
        .into_iter()
        .find(|kind| name.eq_ignore_ascii_case(kind.name().as_bytes()))
    });
    keys_read(Read::Scan(Scan {
        cursor,
        pattern: options.pattern,
        count: options.count,
        kind,
    }))
}

/// DBSIZE.
pub(crate) fn dbsize(_: Args) -> Parsed {
    keys_read(Read::DbSize)
}

/// RANDOMKEY.
pub(crate) fn randomkey(_: Args) -> Parsed {
    keys_read(Read::RandomKey)
}

/// FLUSHDB and FLUSHALL [ASYNC | SYNC].
pub(crate) fn flush(mut args: Args) -> Parsed {
    if !args.is_empty() {
        match args.keyword()?.as_slice() {
            b"ASYNC" | b"SYNC" => {}
            _ => return Err(syntax_error()),
        }
        args.finish()?;
    }
    write(Write::shaped(vec![Op::Flush], Shape::One))
}
