//! Set commands.

use bytes::Bytes;
use chiral::{ByteString, Op, OpError, Reader};

use super::keys::{ScanOptions, cursor, scan_options};
use super::{Parsed, Write, read, write};
use crate::args::Args;
use crate::frame::Frame;

/// A set read.
#[derive(Debug)]
pub(crate) enum Read {
    /// SMEMBERS.
    Members(ByteString),
    /// SISMEMBER.
    IsMember(ByteString, Bytes),
    /// SMISMEMBER.
    MisMember(ByteString, Vec<Bytes>),
    /// SCARD.
    Card(ByteString),
    /// SINTER.
    Inter(Vec<ByteString>),
    /// SUNION.
    Union(Vec<ByteString>),
    /// SDIFF.
    Diff(Vec<ByteString>),
    /// SSCAN: key, cursor, options.
    Scan(ByteString, u64, ScanOptions),
}

impl Read {
    pub(super) fn run(&self, reader: &Reader) -> Result<Frame, OpError> {
        let members =
            |members: Vec<Bytes>| Frame::Set(members.into_iter().map(Frame::Bulk).collect());
        Ok(match self {
            Read::Members(key) => members(reader.smembers(key)?),
            Read::IsMember(key, member) => {
                Frame::Integer(i64::from(reader.sismember(key, member)?))
            }
            Read::MisMember(key, candidates) => Frame::Array(
                reader
                    .smismember(key, candidates)?
                    .into_iter()
                    .map(|found| Frame::Integer(i64::from(found)))
                    .collect(),
            ),
            Read::Card(key) => Frame::Integer(reader.scard(key)? as i64),
            Read::Inter(keys) => members(reader.sinter(keys)?),
            Read::Union(keys) => members(reader.sunion(keys)?),
            Read::Diff(keys) => members(reader.sdiff(keys)?),
            Read::Scan(key, cursor, options) => {
                let page =
                    reader.sscan(key, *cursor, options.count, options.pattern.as_deref())?;
                Frame::Array(vec![
                    Frame::bulk(page.cursor.to_string()),
                    Frame::bulks(page.items),
                ])
            }
        })
    }

    pub(super) fn keys(&self) -> Vec<&[u8]> {
        match self {
            Read::Members(key)
            | Read::IsMember(key, _)
            | Read::MisMember(key, _)
            | Read::Card(key)
            | Read::Scan(key, _, _) => vec![key],
            Read::Inter(keys) | Read::Union(keys) | Read::Diff(keys) => {
                keys.iter().map(AsRef::as_ref).collect()
            }
        }
    }
}

fn sets(read_: Read) -> Parsed {
    read(super::Read::Sets(read_))
}

/// SADD key member [member ...].
pub(crate) fn sadd(mut args: Args) -> Parsed {
    write(Write::one(Op::SetAdd {
        key: args.key()?,
        members: args.rest(),
    }))
}

/// SREM key member [member ...].
pub(crate) fn srem(mut args: Args) -> Parsed {
    write(Write::one(Op::SetRemove {
        key: args.key()?,
        members: args.rest(),
    }))
}

/// SMEMBERS key.
pub(crate) fn smembers(mut args: Args) -> Parsed {
    sets(Read::Members(args.key()?))
}

/// SISMEMBER key member.
pub(crate) fn sismember(mut args: Args) -> Parsed {
    let key = args.key()?;
    sets(Read::IsMember(key, args.bytes()?))
}

/// SMISMEMBER key member [member ...].
pub(crate) fn smismember(mut args: Args) -> Parsed {
    let key = args.key()?;
    sets(Read::MisMember(key, args.rest()))
}

/// SCARD key.
pub(crate) fn scard(mut args: Args) -> Parsed {
    sets(Read::Card(args.key()?))
}

/// SINTER key [key ...].
pub(crate) fn sinter(mut args: Args) -> Parsed {
    sets(Read::Inter(args.rest_keys()))
}

/// SUNION key [key ...].
pub(crate) fn sunion(mut args: Args) -> Parsed {
    sets(Read::Union(args.rest_keys()))
}

/// SDIFF key [key ...].
pub(crate) fn sdiff(mut args: Args) -> Parsed {
    sets(Read::Diff(args.rest_keys()))
}

/// SSCAN key cursor [MATCH pattern] [COUNT count].
pub(crate) fn sscan(mut args: Args) -> Parsed {
    let key = args.key()?;
    let cursor = cursor(&mut args)?;
    let options = scan_options(&mut args, false)?;
    sets(Read::Scan(key, cursor, options))
}
