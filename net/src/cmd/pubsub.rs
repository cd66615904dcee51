//! Pub/Sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH and
//! PUBSUB CHANNELS / NUMSUB / NUMPAT.

use bytes::Bytes;

use super::Parsed;
use super::control::{Control, control, unknown_subcommand};
use crate::args::Args;
use crate::pubsub::Kind;

/// What PUBSUB asks for.
#[derive(Debug)]
pub(crate) enum Query {
    /// PUBSUB CHANNELS [pattern].
    Channels(Option<Bytes>),
    /// PUBSUB NUMSUB [channel ...].
    NumSub(Vec<Bytes>),
    /// PUBSUB NUMPAT.
    NumPat,
}

/// SUBSCRIBE channel [channel ...].
pub(crate) fn subscribe(mut args: Args) -> Parsed {
    control(Control::Subscribe(Kind::Channel, args.rest()))
}

/// PSUBSCRIBE pattern [pattern ...].
pub(crate) fn psubscribe(mut args: Args) -> Parsed {
    control(Control::Subscribe(Kind::Pattern, args.rest()))
}

/// UNSUBSCRIBE [channel ...].
pub(crate) fn unsubscribe(mut args: Args) -> Parsed {
    control(Control::Unsubscribe(Kind::Channel, args.rest()))
}

/// PUNSUBSCRIBE [pattern ...].
pub(crate) fn punsubscribe(mut args: Args) -> Parsed {
    control(Control::Unsubscribe(Kind::Pattern, args.rest()))
}

/// PUBLISH channel message.
pub(crate) fn publish(mut args: Args) -> Parsed {
    let channel = args.bytes()?;
    let message = args.bytes()?;
    control(Control::Publish(channel, message))
}

/// PUBSUB CHANNELS [pattern] | NUMSUB [channel ...] | NUMPAT.
pub(crate) fn pubsub(mut args: Args) -> Parsed {
    let sub = args.keyword()?;
    let query = match sub.as_slice() {
        b"CHANNELS" => {
            let pattern = if args.is_empty() {
                None
            } else {
                Some(args.bytes()?)
            };
            Query::Channels(pattern)
        }
        b"NUMSUB" => Query::NumSub(args.rest()),
        b"NUMPAT" => Query::NumPat,
        _ => return Err(unknown_subcommand("PUBSUB", &sub)),
    };
    args.finish()?;
    control(Control::PubSub(query))
}
