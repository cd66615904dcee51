//! What a session sends without being asked, and the commands that start it:
//! CLIENT TRACKING (invalidations and values, on this connection or redirected to
//! another), and Pub/Sub (SUBSCRIBE and its kin, PUBLISH, PUBSUB).
//!
//! Every push arrives through the connection's mailbox and is written here in the
//! client's protocol: RESP3 clients get push frames; a RESP2 client gets Pub/Sub
//! messages as arrays, and redirected invalidations only if it subscribed to
//! `__redis__:invalidate`, as in Redis.

use std::sync::atomic::Ordering::Relaxed;

use bytes::{Bytes, BytesMut};

use super::{Session, TrackReads};
use crate::cmd::Read;
use crate::cmd::control::TrackingRequest;
use crate::cmd::pubsub::Query;
use crate::frame::{Frame, Protocol};
use crate::mailbox::{Delivery, Push};
use crate::pubsub::{INVALIDATE_CHANNEL, Kind};
use crate::tracking::{Bounds, Mode, Options};

/// What the connection does with the next push.
pub(crate) enum Outgoing {
    /// Writes this frame.
    Frame(Frame),
    /// Nothing: the push does not concern this client as it is now.
    Nothing,
    /// Disconnects the client, for this reason.
    Disconnect(&'static str),
}

/// Commands a RESP2 client may send while it is subscribed.
const ALLOWED_WHILE_SUBSCRIBED: &[&str] = &[
    "subscribe",
    "psubscribe",
    "unsubscribe",
    "punsubscribe",
    "ping",
    "quit",
    "reset",
];

impl Session {
    /// The next push, as the connection should write it.
    pub(crate) async fn next_push(&mut self) -> Outgoing {
        let push = match self.mailbox.next().await {
            Delivery::Push(push) => push,
            Delivery::Overflowed if self.is_subscribed() => {
                return Outgoing::Disconnect("pubsub messages past the mailbox limit");
            }
            // Invalidations were dropped: the client drops everything.
            Delivery::Overflowed => Push::Invalidate(None),
        };
        let resp3 = self.protocol == Protocol::Resp3;
        let frame = match push {
            Push::Invalidate(keys) => {
                let keys = match keys {
                    Some(keys) => Frame::bulks(keys.into_iter().map(Vec::from)),
                    None => Frame::Null,
                };
                if resp3 {
                    Frame::Push(vec![Frame::bulk("invalidate"), keys])
                } else if self.channels.contains(INVALIDATE_CHANNEL.as_bytes()) {
                    Frame::Push(vec![
                        Frame::bulk("message"),
                        Frame::bulk(INVALIDATE_CHANNEL),
                        keys,
                    ])
                } else {
                    return Outgoing::Nothing;
                }
            }
            Push::Synced(token) => {
                Frame::Push(vec![Frame::bulk("chiral-sync"), Frame::Bulk(token)])
            }
            Push::Value {
                key,
                value,
                version,
                expires_at_ms,
            } => {
                // The time to live as of now, as PTTL says it (-1: no expiry).
                let pttl_ms = expires_at_ms.map_or(-1, |at| {
                    let left = at.saturating_sub(crate::cmd::strings::now_ms()).max(1);
                    i64::try_from(left).unwrap_or(i64::MAX)
                });
                Frame::Push(vec![
                    Frame::bulk("chiral-value"),
                    Frame::bulk(Vec::from(key)),
                    Frame::bulk_or_null(value),
                    Frame::Integer(i64::try_from(version).unwrap_or(i64::MAX)),
                    Frame::Integer(pttl_ms),
                ])
            }
            Push::RedirectBroken if resp3 => {
                Frame::Push(vec![Frame::bulk("tracking-redir-broken")])
            }
            Push::RedirectBroken => return Outgoing::Nothing,
            Push::Message {
                pattern: None,
                channel,
                payload,
            } => Frame::Push(vec![
                Frame::bulk("message"),
                Frame::Bulk(channel),
                Frame::Bulk(payload),
            ]),
            Push::Message {
                pattern: Some(pattern),
                channel,
                payload,
            } => Frame::Push(vec![
                Frame::bulk("pmessage"),
                Frame::Bulk(pattern),
                Frame::Bulk(channel),
                Frame::Bulk(payload),
            ]),
        };
        Outgoing::Frame(frame)
    }

    /// Whether the client has any subscription.
    fn is_subscribed(&self) -> bool {
        !self.channels.is_empty() || !self.patterns.is_empty()
    }

    /// Redis's refusal of a command a subscribed RESP2 client may not send.
    pub(super) fn refusal_while_subscribed(&self, name: &str) -> Option<Frame> {
        if self.protocol == Protocol::Resp3
            || !self.is_subscribed()
            || ALLOWED_WHILE_SUBSCRIBED.contains(&name)
        {
            return None;
        }
        Some(Frame::error(format!(
            "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        )))
    }

    /// PING's reply: a subscribed RESP2 client gets it as a Pub/Sub array.
    pub(super) fn pong(&self, message: Option<Bytes>) -> Frame {
        if self.protocol == Protocol::Resp2 && self.is_subscribed() {
            return Frame::Array(vec![
                Frame::bulk("pong"),
                Frame::Bulk(message.unwrap_or_default()),
            ]);
        }
        match message {
            Some(message) => Frame::Bulk(message),
            None => Frame::Simple("PONG"),
        }
    }

    /// SUBSCRIBE / PSUBSCRIBE: one confirmation per name, with the count after it.
    pub(super) fn subscribe(&mut self, kind: Kind, names: Vec<Bytes>, out: &mut BytesMut) {
        let outlet = self
            .shared
            .mailboxes
            .outlet(self.client.id)
            .expect("a session's mailbox is open while it runs");
        for name in names {
            self.shared
                .pubsub
                .subscribe(kind, &name, self.client.id, &outlet);
            match kind {
                Kind::Channel => self.channels.insert(name.clone()),
                Kind::Pattern => self.patterns.insert(name.clone()),
            };
            self.confirm(kind, "subscribe", Some(name), out);
        }
    }

    /// UNSUBSCRIBE / PUNSUBSCRIBE: the names given, or all of the kind.
    pub(super) fn unsubscribe(&mut self, kind: Kind, names: Vec<Bytes>, out: &mut BytesMut) {
        let names = if names.is_empty() {
            let all = match kind {
                Kind::Channel => &self.channels,
                Kind::Pattern => &self.patterns,
            };
            all.iter().cloned().collect()
        } else {
            names
        };
        if names.is_empty() {
            self.confirm(kind, "unsubscribe", None, out);
        }
        for name in names {
            self.shared.pubsub.unsubscribe(kind, &name, self.client.id);
            match kind {
                Kind::Channel => self.channels.remove(&name),
                Kind::Pattern => self.patterns.remove(&name),
            };
            self.confirm(kind, "unsubscribe", Some(name), out);
        }
    }

    /// Drops every subscription (RESET, disconnect).
    pub(super) fn unsubscribe_all(&mut self) {
        self.client.set_subscriptions(0, 0);
        for name in std::mem::take(&mut self.channels) {
            self.shared
                .pubsub
                .unsubscribe(Kind::Channel, &name, self.client.id);
        }
        for name in std::mem::take(&mut self.patterns) {
            self.shared
                .pubsub
                .unsubscribe(Kind::Pattern, &name, self.client.id);
        }
    }

    fn confirm(&self, kind: Kind, action: &str, name: Option<Bytes>, out: &mut BytesMut) {
        self.client
            .set_subscriptions(self.channels.len(), self.patterns.len());
        let action = match kind {
            Kind::Channel => action.to_string(),
            Kind::Pattern => format!("p{action}"),
        };
        let count = self.channels.len() + self.patterns.len();
        let frame = Frame::Push(vec![
            Frame::bulk(action),
            name.map_or(Frame::Null, Frame::Bulk),
            Frame::Integer(count as i64),
        ]);
        self.reply(&frame, out);
    }

    /// PUBLISH: how many received it.
    pub(super) fn publish(&self, channel: &Bytes, payload: &Bytes) -> Frame {
        Frame::Integer(self.shared.pubsub.publish(channel, payload) as i64)
    }

    /// PUBSUB CHANNELS / NUMSUB / NUMPAT.
    pub(super) fn pubsub_query(&self, query: Query) -> Frame {
        let pubsub = &self.shared.pubsub;
        match query {
            Query::Channels(pattern) => Frame::Array(
                pubsub
                    .channels(pattern.as_deref())
                    .into_iter()
                    .map(Frame::Bulk)
                    .collect(),
            ),
            Query::NumSub(channels) => Frame::Map(
                channels
                    .into_iter()
                    .map(|channel| {
                        let count = pubsub.subscribers(&channel) as i64;
                        (Frame::Bulk(channel), Frame::Integer(count))
                    })
                    .collect(),
            ),
            Query::NumPat => Frame::Integer(pubsub.patterns() as i64),
        }
    }

    /// Tracks what `read` is about to read, if the client caches it (before it is
    /// read: a change committed after the read is then always announced).
    pub(super) fn track(&self, read: &Read, caching: Option<bool>) {
        let Some(reads) = &self.tracking else {
            return;
        };
        let tracked = match reads {
            TrackReads::All => true,
            TrackReads::OptIn => caching == Some(true),
            TrackReads::OptOut => caching != Some(false),
            TrackReads::None => false,
        };
        if tracked {
            let settings = &self.shared.settings;
            let bounds = Bounds {
                max_keys: settings.tracking_table_max_keys.load(Relaxed),
                window_keys: settings.tracking_window_keys.load(Relaxed),
            };
            self.shared
                .tracking
                .track(self.client.id, read.keys().into_iter(), bounds);
        }
    }

    /// CLIENT TRACKING ON (with its options) or OFF.
    pub(super) fn set_tracking(&mut self, request: Option<TrackingRequest>) -> Frame {
        let Some(request) = request else {
            self.stop_tracking();
            return Frame::OK;
        };
        let mailboxes = &self.shared.mailboxes;
        let own = mailboxes
            .outlet(self.client.id)
            .expect("a session's mailbox is open while it runs");
        let (outlet, own) = match request.redirect {
            Some(target) => match mailboxes.outlet(target) {
                Some(outlet) => (outlet, Some(own)),
                None => {
                    return Frame::error("ERR The client ID you want redirect to does not exist");
                }
            },
            None if self.protocol != Protocol::Resp3 => {
                return Frame::error(
                    "ERR RESP2 clients track with REDIRECT to a client subscribed to __redis__:invalidate, or switch with HELLO 3",
                );
            }
            None => (own, None),
        };
        let mode = if request.values {
            Mode::Values
        } else {
            Mode::Reads
        };
        let (mode, reads) = match request.broadcast {
            Some(prefixes) => (Mode::Broadcast(prefixes), TrackReads::None),
            None if request.opt_in => (mode, TrackReads::OptIn),
            None if request.opt_out => (mode, TrackReads::OptOut),
            None => (mode, TrackReads::All),
        };
        let options = Options {
            mode,
            no_loop: request.no_loop,
        };
        self.tracking_redirected = own.is_some();
        self.shared
            .tracking
            .enable(&self.shared.db, self.client.id, options, outlet, own);
        self.tracking = Some(reads);
        Frame::OK
    }

    /// CLIENT TRACKING OFF, RESET, disconnect.
    pub(super) fn stop_tracking(&mut self) {
        if self.tracking.take().is_some() {
            self.shared.tracking.disable(self.client.id);
        }
    }
}
