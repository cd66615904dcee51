//! Commands for caching clients (`chiral_net::SmartClient`), beyond Redis's CLIENT
//! TRACKING: reads that return versions, and a sync point in the push stream.
//!
//! - `CHIRAL.GETV key`: GET with the key's version (the LSN of its last write) and
//!   its remaining time to live: `[value, version, pttl_ms]` (`pttl_ms` -1 when it
//!   does not expire), or null. A cache compares versions with the ones pushes carry,
//!   so a reply can never hide a newer pushed value.
//! - `CHIRAL.VERSIONS key [key ...]`: each key's version, 0 when it does not exist.
//!   After a reconnect a cache keeps the entries whose version did not change.
//! - `CHIRAL.SYNC token`: replies `+OK` and, once every change visible when the
//!   command arrived has been pushed to this connection, pushes `chiral-sync token`.
//!   A cache that receives it knows it was up to date as of the moment it sent the
//!   command: that is how it bounds staleness.
//! - `CHIRAL.DATASET`: the id of the database's history (16 hex digits). Versions
//!   from before a reconnect mean something only if it is unchanged.
//!
//! The reads track their keys like GET does on a tracking connection.

use bytes::Bytes;
use chiral::{ByteString, OpError, Reader};

use super::{Parsed, control::Control, read};
use crate::args::Args;
use crate::frame::Frame;

/// A read that answers with versions.
#[derive(Debug)]
pub(crate) enum Read {
    /// CHIRAL.GETV key.
    GetVersioned(ByteString),
    /// CHIRAL.VERSIONS key [key ...].
    Versions(Vec<ByteString>),
}

impl Read {
    pub(super) fn run(&self, reader: &Reader) -> Result<Frame, OpError> {
        Ok(match self {
            Read::GetVersioned(key) => match reader.record(key)? {
                None => Frame::Null,
                Some(record) => {
                    let Some(text) = record.str_form() else {
                        return Err(OpError::WrongType);
                    };
                    let pttl_ms = match record.expires_at_ms() {
                        None => -1,
                        Some(at) => {
                            i64::try_from(at.saturating_sub(super::strings::now_ms()).max(1))
                                .unwrap_or(i64::MAX)
                        }
                    };
                    Frame::Array(vec![
                        Frame::bulk(text.into_owned()),
                        Frame::Integer(i64::try_from(record.version()).unwrap_or(i64::MAX)),
                        Frame::Integer(pttl_ms),
                    ])
                }
            },
            Read::Versions(keys) => Frame::Array(
                keys.iter()
                    .map(|key| {
                        let version = reader.version(key)?;
                        Ok(Frame::Integer(i64::try_from(version).unwrap_or(i64::MAX)))
                    })
                    .collect::<Result<_, OpError>>()?,
            ),
        })
    }

    pub(super) fn keys(&self) -> Vec<&[u8]> {
        match self {
            Read::GetVersioned(key) => vec![key],
            Read::Versions(keys) => keys.iter().map(AsRef::as_ref).collect(),
        }
    }
}

/// CHIRAL.GETV key.
pub(crate) fn getv(mut args: Args) -> Parsed {
    read(super::Read::Caching(Read::GetVersioned(args.key()?)))
}

/// CHIRAL.VERSIONS key [key ...].
pub(crate) fn versions(mut args: Args) -> Parsed {
    read(super::Read::Caching(Read::Versions(args.rest_keys())))
}

/// CHIRAL.DATASET.
pub(crate) fn dataset(_: Args) -> Parsed {
    super::control::control(Control::Dataset)
}

/// CHIRAL.SYNC token.
pub(crate) fn sync(mut args: Args) -> Parsed {
    let token: Bytes = args.bytes()?;
    super::control::control(Control::Sync(token))
}
