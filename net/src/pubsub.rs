//! Pub/Sub: who listens on which channel or pattern, and PUBLISH.
//!
//! A subscription is an entry in this registry with an outlet to the subscriber's
//! mailbox; PUBLISH queues the message in each matching mailbox and never waits (a
//! subscriber whose mailbox is full is disconnected by its connection). RESP2
//! clients track through Pub/Sub: `CLIENT TRACKING ON REDIRECT id` sends their
//! invalidations to a client subscribed to [`INVALIDATE_CHANNEL`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use chiral::glob_match;

use crate::mailbox::{Outlet, Push};

/// The channel a RESP2 client subscribes to for redirected invalidations.
pub(crate) const INVALIDATE_CHANNEL: &str = "__redis__:invalidate";

#[derive(Default)]
struct Registry {
    /// Each channel's subscribers.
    channels: HashMap<Bytes, HashMap<u64, Outlet>>,
    /// Each pattern's subscribers.
    patterns: BTreeMap<Bytes, HashMap<u64, Outlet>>,
}

/// Every subscription of every client.
#[derive(Default)]
pub(crate) struct PubSub {
    registry: Mutex<Registry>,
}

/// Which kind of subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// SUBSCRIBE: one channel by name.
    Channel,
    /// PSUBSCRIBE: every channel matching a glob pattern.
    Pattern,
}

impl PubSub {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Subscribes client `id` (whose mailbox `outlet` reaches) to `name`.
    pub(crate) fn subscribe(&self, kind: Kind, name: &Bytes, id: u64, outlet: &Outlet) {
        let mut registry = self.lock();
        let map = match kind {
            Kind::Channel => registry.channels.entry(name.clone()).or_default(),
            Kind::Pattern => registry.patterns.entry(name.clone()).or_default(),
        };
        map.insert(id, outlet.clone());
    }

    /// Unsubscribes client `id` from `name`.
    pub(crate) fn unsubscribe(&self, kind: Kind, name: &Bytes, id: u64) {
        let mut registry = self.lock();
        match kind {
            Kind::Channel => {
                if let Some(subscribers) = registry.channels.get_mut(name) {
                    subscribers.remove(&id);
                    if subscribers.is_empty() {
                        registry.channels.remove(name);
                    }
                }
            }
            Kind::Pattern => {
                if let Some(subscribers) = registry.patterns.get_mut(name) {
                    subscribers.remove(&id);
                    if subscribers.is_empty() {
                        registry.patterns.remove(name);
                    }
                }
            }
        }
    }

    /// PUBLISH: queues `payload` for every subscriber of `channel` and of a pattern
    /// matching it; how many it was queued for.
    pub(crate) fn publish(&self, channel: &Bytes, payload: &Bytes) -> usize {
        let registry = self.lock();
        let mut receivers = 0;
        if let Some(subscribers) = registry.channels.get(channel) {
            for outlet in subscribers.values() {
                let message = Push::Message {
                    pattern: None,
                    channel: channel.clone(),
                    payload: payload.clone(),
                };
                receivers += usize::from(outlet.send(message));
            }
        }
        for (pattern, subscribers) in &registry.patterns {
            if !glob_match(pattern, channel) {
                continue;
            }
            for outlet in subscribers.values() {
                let message = Push::Message {
                    pattern: Some(pattern.clone()),
                    channel: channel.clone(),
                    payload: payload.clone(),
                };
                receivers += usize::from(outlet.send(message));
            }
        }
        receivers
    }

    /// PUBSUB CHANNELS: the channels with subscribers, matching `pattern` if given.
    pub(crate) fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let registry = self.lock();
        let mut channels: Vec<Bytes> = registry
            .channels
            .keys()
            .filter(|channel| pattern.is_none_or(|p| glob_match(p, channel)))
            .cloned()
            .collect();
        channels.sort();
        channels
    }

    /// PUBSUB NUMSUB: how many subscribe to `channel` by name.
    pub(crate) fn subscribers(&self, channel: &[u8]) -> usize {
        self.lock().channels.get(channel).map_or(0, HashMap::len)
    }

    /// PUBSUB NUMPAT: how many distinct patterns have subscribers.
    pub(crate) fn patterns(&self) -> usize {
        self.lock().patterns.len()
    }
}
