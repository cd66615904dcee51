//! The smart client's connection to the server: one socket, two threads.
//!
//! Application threads append requests to the outbox — their bytes, and a slot that
//! says what to do with the reply — under one lock, so slots are in wire order. The
//! send thread writes the outbox out (and adds a CHIRAL.SYNC heartbeat when the
//! connection has been quiet). The receive thread reads every reply and push: a
//! reply answers the oldest slot; a push updates the cache.
//!
//! When the connection drops, or the server leaves a request unanswered for
//! `request_timeout` (the send thread watches), every slot fails (a write in flight
//! is reported as rejected: it may or may not have been applied), and the receive
//! thread reconnects with backoff. A new connection starts with its handshake in the
//! outbox: HELLO 3, CLIENT TRACKING ON VALUES, the server's dataset id (another
//! history than before drops the whole cache), the versions of every cached key
//! (entries that changed meanwhile go), and a sync.
//!
//! Locks: the cache before the outbox, never the other way round.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;

use super::cache::{CacheWriter, Freshness, NEVER_NS};
use super::clock::Clock;
use super::progress::Progress;
use super::{OnRejection, Rejection, SmartError};
use crate::reply_parse::{ReplyLimits, Value};
use crate::stream::{Incoming, Stream, encode_command};

/// Keys per CHIRAL.VERSIONS request when a reconnect checks the cache.
const RESYNC_CHUNK_KEYS: usize = 1024;
/// The first wait before reconnecting; it doubles up to [`MAX_BACKOFF_MS`].
const MIN_BACKOFF_MS: u64 = 10;
/// The longest wait between reconnect attempts.
const MAX_BACKOFF_MS: u64 = 1000;

/// Where the server is.
#[derive(Debug, Clone)]
pub(crate) enum Address {
    Tcp(String),
    Unix(PathBuf),
}

impl Address {
    fn connect(&self) -> std::io::Result<Stream> {
        match self {
            Address::Tcp(addr) => Stream::tcp(addr.as_str()),
            Address::Unix(path) => Stream::unix(path),
        }
    }
}

/// What the connection needs to know, fixed at connect.
pub(crate) struct Settings {
    pub(crate) address: Address,
    /// HELLO's AUTH user and password.
    pub(crate) auth: Option<(String, String)>,
    /// Whether the cache is on (tracking, heartbeats).
    pub(crate) caching: bool,
    /// How often a quiet connection is synced.
    pub(crate) heartbeat_ns: u64,
    /// How long requests may wait with no reply before the connection is dropped.
    pub(crate) request_timeout_ns: u64,
    pub(crate) reply_limits: ReplyLimits,
}

/// What the caller of a read or command is waiting for.
pub(crate) type Waiter<T> = SyncSender<Result<T, SmartError>>;

/// A request on the wire and what its reply is for.
pub(crate) enum Slot {
    /// CHIRAL.GETV of `key`, sent at `sent_at_ns`; `tracked`: the cache counts it as
    /// in flight.
    Get {
        key: Bytes,
        sent_at_ns: u64,
        tracked: bool,
        waiter: Waiter<Option<Bytes>>,
    },
    /// A write, the `seq`th; `key`: the cache entry it wrote locally.
    Write {
        key: Option<Bytes>,
        seq: u64,
        command: String,
    },
    /// Any other command: its reply as it is.
    Command { waiter: Waiter<Value> },
    /// CHIRAL.DATASET: which history the server's versions belong to.
    Dataset,
    /// After a reconnect: the server's versions of `keys`.
    Versions { keys: Vec<Bytes> },
    /// CHIRAL.SYNC (its push is what counts).
    Sync,
    /// A handshake step; a refusal ends the connection.
    Handshake {
        step: &'static str,
        waiter: Option<Waiter<()>>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Connected,
    Down,
    Closed,
}

/// The requests not answered yet, and the state of the connection.
pub(crate) struct Outbox {
    state: State,
    /// Bumped at each new connection.
    generation: u64,
    /// Encoded requests the send thread has not written yet.
    bytes: Vec<u8>,
    /// One per request sent or to send, oldest first.
    slots: VecDeque<Slot>,
    /// The send thread's handle on the current socket, until it takes it.
    writer: Option<Stream>,
    /// A handle to shut the current socket down with.
    socket: Option<Stream>,
    /// When the last sync was queued.
    last_sync_ns: u64,
    /// Since when the oldest request has waited without any reply coming.
    waiting_since_ns: u64,
}

impl Outbox {
    /// Queues a slot; the first one after none starts the silence clock.
    fn push_slot(&mut self, slot: Slot, now_ns: u64) {
        if self.slots.is_empty() {
            self.waiting_since_ns = now_ns;
        }
        self.slots.push_back(slot);
    }
}

/// One handle's count of cache hits, on a cache line of its own: handles on
/// different threads never contend for it.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct HitCounter(pub(crate) AtomicU64);

/// Counters, for tests and benches.
#[derive(Default)]
pub(crate) struct Stats {
    /// The live handles' hit counters.
    pub(crate) hit_counters: Mutex<Vec<Arc<HitCounter>>>,
    /// Hits of handles dropped since.
    pub(crate) hits_retired: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) pushes: AtomicU64,
    pub(crate) reconnects: AtomicU64,
}

/// The connection's state, shared by the client handles and its two threads.
pub(crate) struct Link {
    pub(crate) cache: Mutex<CacheWriter>,
    pub(crate) freshness: Arc<Freshness>,
    pub(crate) clock: Clock,
    pub(crate) settings: Settings,
    pub(crate) stats: Stats,
    outbox: Mutex<Outbox>,
    /// The send thread waits here for bytes.
    outbox_ready: Condvar,
    /// Which writes are answered (flush, the bound on writes in flight).
    progress: Progress,
    rejections: Mutex<Vec<Rejection>>,
    has_rejections: AtomicBool,
    /// The server's dataset id, once known: the cached versions are its.
    dataset: Mutex<Option<Bytes>>,
    on_rejection: Option<OnRejection>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here leaves its state whole before anything can panic.
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl Stats {
    /// A hit counter for a new handle.
    pub(crate) fn hit_counter(&self) -> Arc<HitCounter> {
        let counter = Arc::new(HitCounter::default());
        lock(&self.hit_counters).push(Arc::clone(&counter));
        counter
    }

    /// A handle is dropped: its hits move to the retired total.
    pub(crate) fn retire(&self, counter: &Arc<HitCounter>) {
        let mut counters = lock(&self.hit_counters);
        counters.retain(|live| !Arc::ptr_eq(live, counter));
        self.hits_retired
            .fetch_add(counter.0.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    /// Every hit so far.
    pub(crate) fn hits(&self) -> u64 {
        let counters = lock(&self.hit_counters);
        let live: u64 = counters
            .iter()
            .map(|counter| counter.0.load(Ordering::Relaxed))
            .sum();
        live + self.hits_retired.load(Ordering::Relaxed)
    }
}

impl Link {
    pub(crate) fn new(
        cache: CacheWriter,
        freshness: Arc<Freshness>,
        clock: Clock,
        settings: Settings,
        on_rejection: Option<OnRejection>,
    ) -> Self {
        Link {
            cache: Mutex::new(cache),
            freshness,
            clock,
            settings,
            stats: Stats::default(),
            outbox: Mutex::new(Outbox {
                state: State::Down,
                generation: 0,
                bytes: Vec::new(),
                slots: VecDeque::new(),
                writer: None,
                socket: None,
                last_sync_ns: 0,
                waiting_since_ns: 0,
            }),
            outbox_ready: Condvar::new(),
            progress: Progress::default(),
            rejections: Mutex::new(Vec::new()),
            has_rejections: AtomicBool::new(false),
            dataset: Mutex::new(None),
            on_rejection,
        }
    }

    pub(crate) fn lock_cache(&self) -> MutexGuard<'_, CacheWriter> {
        lock(&self.cache)
    }

    /// Sends a request: `Err` (and nothing sent) if the connection is down.
    pub(crate) fn send<A: AsRef<[u8]>>(&self, args: &[A], slot: Slot) -> Result<(), SmartError> {
        let mut outbox = lock(&self.outbox);
        match outbox.state {
            State::Connected => {}
            State::Down => return Err(SmartError::Disconnected),
            State::Closed => return Err(SmartError::Closed),
        }
        encode_command(args, &mut outbox.bytes);
        outbox.push_slot(slot, self.clock.now_ns());
        self.outbox_ready.notify_one();
        Ok(())
    }

    /// Sends a write, numbering it; `Err` if the connection is down. The caller
    /// holds the cache lock, so its local effect and the wire agree on order.
    pub(crate) fn send_write<A: AsRef<[u8]>>(
        &self,
        args: &[A],
        key: Option<Bytes>,
    ) -> Result<u64, SmartError> {
        let mut outbox = lock(&self.outbox);
        match outbox.state {
            State::Connected => {}
            State::Down => return Err(SmartError::Disconnected),
            State::Closed => return Err(SmartError::Closed),
        }
        let seq = self.progress.queued();
        encode_command(args, &mut outbox.bytes);
        let command = describe(args);
        outbox.push_slot(Slot::Write { key, seq, command }, self.clock.now_ns());
        self.outbox_ready.notify_one();
        Ok(seq)
    }

    /// Queues a sync (the send thread also does when the connection is quiet).
    pub(crate) fn sync_soon(&self) {
        let mut outbox = lock(&self.outbox);
        if outbox.state == State::Connected {
            self.queue_sync(&mut outbox);
        }
    }

    fn queue_sync(&self, outbox: &mut Outbox) {
        let now_ns = self.clock.now_ns();
        encode_command(
            &[&b"CHIRAL.SYNC"[..], now_ns.to_string().as_bytes()],
            &mut outbox.bytes,
        );
        outbox.push_slot(Slot::Sync, now_ns);
        outbox.last_sync_ns = now_ns;
        self.outbox_ready.notify_one();
    }

    /// Waits until fewer than `max` writes are unanswered.
    pub(crate) fn wait_for_room(&self, max: u64) -> Result<(), SmartError> {
        if self.progress.wait_for_room(max) {
            Ok(())
        } else {
            Err(SmartError::Closed)
        }
    }

    /// Waits until every write queued so far is answered (or failed).
    pub(crate) fn wait_for_all(&self) {
        self.progress.wait_for(self.progress.last());
    }

    /// Waits until write `seq` and every one before it is answered (or failed).
    pub(crate) fn wait_for(&self, seq: u64) {
        self.progress.wait_for(seq);
    }

    /// The rejections not reported yet, taken.
    pub(crate) fn take_rejections(&self) -> Vec<Rejection> {
        if !self.has_rejections.load(Ordering::Acquire) {
            return Vec::new();
        }
        let mut rejections = lock(&self.rejections);
        self.has_rejections.store(false, Ordering::Release);
        std::mem::take(&mut *rejections)
    }

    fn reject(&self, rejection: Rejection) {
        tracing::debug!(command = %rejection.command, error = %rejection.error, "a write was rejected");
        if let Some(callback) = &self.on_rejection {
            callback(&rejection);
        }
        lock(&self.rejections).push(rejection);
        self.has_rejections.store(true, Ordering::Release);
    }

    /// Connects (or reconnects) and queues the handshake. `waiter` hears of each
    /// step's outcome (the first connect waits for it).
    pub(crate) fn connect(&self, waiter: Option<Waiter<()>>) -> std::io::Result<Incoming> {
        let stream = self.settings.address.connect()?;
        let writer = stream.try_clone()?;
        let socket = stream.try_clone()?;
        let resync = if self.settings.caching {
            self.lock_cache().confirmed_keys()
        } else {
            Vec::new()
        };
        let mut outbox = lock(&self.outbox);
        if outbox.state == State::Closed {
            return Err(std::io::Error::other("the client is closed"));
        }
        outbox.generation += 1;
        outbox.writer = Some(writer);
        outbox.socket = Some(socket);
        outbox.state = State::Connected;
        let mut hello: Vec<&[u8]> = vec![b"HELLO", b"3"];
        if let Some((user, password)) = &self.settings.auth {
            hello.extend([&b"AUTH"[..], user.as_bytes(), password.as_bytes()]);
        }
        encode_command(&hello, &mut outbox.bytes);
        let now_ns = self.clock.now_ns();
        outbox.push_slot(
            Slot::Handshake {
                step: "HELLO 3",
                waiter: waiter.clone(),
            },
            now_ns,
        );
        if self.settings.caching {
            encode_command(&["CLIENT", "TRACKING", "ON", "VALUES"], &mut outbox.bytes);
            outbox.push_slot(
                Slot::Handshake {
                    step: "CLIENT TRACKING ON VALUES",
                    waiter,
                },
                now_ns,
            );
            // Before the versions are compared: a new history invalidates them all.
            encode_command(&["CHIRAL.DATASET"], &mut outbox.bytes);
            outbox.push_slot(Slot::Dataset, now_ns);
            for keys in resync.chunks(RESYNC_CHUNK_KEYS) {
                let mut args: Vec<&[u8]> = vec![b"CHIRAL.VERSIONS"];
                args.extend(keys.iter().map(|key| &key[..]));
                encode_command(&args, &mut outbox.bytes);
                outbox.push_slot(
                    Slot::Versions {
                        keys: keys.to_vec(),
                    },
                    now_ns,
                );
            }
            self.queue_sync(&mut outbox);
        }
        self.outbox_ready.notify_one();
        Ok(Incoming::new(stream, self.settings.reply_limits))
    }

    /// The connection is gone: every request in flight fails.
    fn go_down(&self, why: &SmartError) {
        let slots = {
            let mut outbox = lock(&self.outbox);
            if outbox.state == State::Connected {
                outbox.state = State::Down;
            }
            outbox.bytes.clear();
            outbox.writer = None;
            if let Some(socket) = outbox.socket.take() {
                socket.shutdown();
            }
            std::mem::take(&mut outbox.slots)
        };
        tracing::debug!(error = %why, "the smart client's connection is down");
        for slot in slots {
            self.fail(slot, why);
        }
    }

    fn fail(&self, slot: Slot, why: &SmartError) {
        match slot {
            Slot::Get {
                key,
                tracked,
                waiter,
                ..
            } => {
                if tracked {
                    let mut cache = self.lock_cache();
                    cache.read_done(&key, None, 0, false);
                    cache.publish();
                }
                let _ = waiter.send(Err(why.clone()));
            }
            Slot::Write { key, seq, command } => {
                self.reject(Rejection {
                    command,
                    error: format!("{why}: the server may or may not have applied it"),
                });
                self.write_answered(key.as_ref(), seq);
            }
            Slot::Command { waiter } => {
                let _ = waiter.send(Err(why.clone()));
            }
            Slot::Handshake {
                waiter: Some(waiter),
                ..
            } => {
                let _ = waiter.send(Err(why.clone()));
            }
            Slot::Handshake { waiter: None, .. }
            | Slot::Dataset
            | Slot::Versions { .. }
            | Slot::Sync => {}
        }
    }

    fn write_answered(&self, key: Option<&Bytes>, seq: u64) {
        if let Some(key) = key {
            let mut cache = self.lock_cache();
            cache.write_done(key);
            cache.publish();
        }
        self.progress.answered(seq);
    }

    /// Closes the connection for good; both threads end.
    ///
    /// The requests in flight are failed by the receive thread, which sees the socket
    /// close (only it answers slots, so writes are answered in order).
    pub(crate) fn close(&self) {
        {
            let mut outbox = lock(&self.outbox);
            outbox.state = State::Closed;
            outbox.writer = None;
            if let Some(socket) = outbox.socket.take() {
                socket.shutdown();
            }
            self.outbox_ready.notify_all();
        }
        self.progress.close();
    }

    fn is_closed(&self) -> bool {
        lock(&self.outbox).state == State::Closed
    }

    /// The send thread: writes what is queued, syncs a quiet connection.
    pub(crate) fn run_sender(&self) {
        let mut stream: Option<(u64, Stream)> = None;
        loop {
            let bytes = {
                let mut outbox = lock(&self.outbox);
                loop {
                    if outbox.state == State::Closed {
                        return;
                    }
                    if outbox.state == State::Connected {
                        let now_ns = self.clock.now_ns();
                        let silent_ns = now_ns.saturating_sub(outbox.waiting_since_ns);
                        if !outbox.slots.is_empty() && silent_ns > self.settings.request_timeout_ns
                        {
                            // The server stopped answering: drop the connection, so
                            // every waiter hears of it and the client reconnects.
                            tracing::warn!(
                                silent_ms = silent_ns / 1_000_000,
                                "the server did not answer in time; reconnecting"
                            );
                            if let Some(socket) = outbox.socket.take() {
                                socket.shutdown();
                            }
                        }
                        if !outbox.bytes.is_empty() {
                            break;
                        }
                        let quiet_ns = self.clock.now_ns().saturating_sub(outbox.last_sync_ns);
                        if self.settings.caching && quiet_ns >= self.settings.heartbeat_ns {
                            self.queue_sync(&mut outbox);
                            continue;
                        }
                    }
                    let wait_ns = self
                        .settings
                        .heartbeat_ns
                        .min(self.settings.request_timeout_ns / 4)
                        .clamp(1_000_000, 1_000_000_000);
                    outbox = self
                        .outbox_ready
                        .wait_timeout(outbox, Duration::from_nanos(wait_ns))
                        .unwrap_or_else(|poison| poison.into_inner())
                        .0;
                }
                if stream
                    .as_ref()
                    .is_none_or(|(gen_, _)| *gen_ != outbox.generation)
                    && let Some(writer) = outbox.writer.take()
                {
                    stream = Some((outbox.generation, writer));
                }
                std::mem::take(&mut outbox.bytes)
            };
            if let Some((_, writer)) = &mut stream
                && let Err(error) = writer.write_all(&bytes)
            {
                tracing::debug!(%error, "the smart client could not send");
                // The receive thread sees the socket close and reconnects.
                writer.shutdown();
            }
        }
    }

    /// The receive thread: answers slots and applies pushes; reconnects.
    pub(crate) fn run_receiver(&self, mut incoming: Incoming) {
        let mut backoff_ms = MIN_BACKOFF_MS;
        loop {
            let outcome = loop {
                match incoming.read_value() {
                    Ok(Some(Value::Push(push))) => self.pushed(push),
                    Ok(Some(reply)) => {
                        if let Err(error) = self.answer(reply) {
                            break error;
                        }
                        backoff_ms = MIN_BACKOFF_MS;
                    }
                    Ok(None) => {}
                    Err(error) => break SmartError::from(error),
                }
            };
            self.go_down(&outcome);
            loop {
                if self.is_closed() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(backoff_ms));
                backoff_ms = (backoff_ms * 2).min(MAX_BACKOFF_MS);
                match self.connect(None) {
                    Ok(next) => {
                        self.stats.reconnects.fetch_add(1, Ordering::Relaxed);
                        incoming = next;
                        break;
                    }
                    Err(error) => tracing::debug!(%error, "the smart client could not reconnect"),
                }
            }
        }
    }

    /// A reply: it answers the oldest slot. `Err` ends the connection.
    fn answer(&self, reply: Value) -> Result<(), SmartError> {
        let slot = {
            let mut outbox = lock(&self.outbox);
            // A reply: the server is alive; the next request's wait starts now.
            outbox.waiting_since_ns = self.clock.now_ns();
            outbox.slots.pop_front()
        };
        let Some(slot) = slot else {
            return Err(SmartError::Protocol("a reply without a request".into()));
        };
        match slot {
            Slot::Get {
                key,
                sent_at_ns,
                tracked,
                waiter,
            } => {
                let result = parse_versioned(reply);
                if tracked {
                    let found = result.as_ref().ok().cloned().flatten();
                    let mut cache = self.lock_cache();
                    cache.read_done(&key, found, sent_at_ns, result.is_ok());
                    cache.publish();
                }
                let _ = waiter.send(result.map(|found| found.map(|(value, ..)| value)));
            }
            Slot::Write { key, seq, command } => {
                if let Value::Error(error) = reply {
                    self.reject(Rejection { command, error });
                }
                self.write_answered(key.as_ref(), seq);
            }
            Slot::Command { waiter } => {
                let _ = waiter.send(Ok(reply));
            }
            Slot::Dataset => {
                let id = match reply {
                    Value::Bulk(id) => Some(id),
                    _ => None,
                };
                let mut known = lock(&self.dataset);
                // A different history (or none we can name): no cached version means
                // anything.
                if id.is_none()
                    || known
                        .as_ref()
                        .is_some_and(|known| Some(known) != id.as_ref())
                {
                    let mut cache = self.lock_cache();
                    cache.invalidate_all();
                    cache.publish();
                }
                *known = id;
            }
            Slot::Versions { keys } => {
                // Anything but a version (a refusal, say) drops the entry.
                let versions: Vec<u64> = match reply {
                    Value::Array(items) => items
                        .into_iter()
                        .map(|item| match item {
                            Value::Integer(version) => u64::try_from(version).unwrap_or(0),
                            _ => u64::MAX,
                        })
                        .collect(),
                    _ => vec![u64::MAX; keys.len()],
                };
                let mut cache = self.lock_cache();
                cache.resynced(&keys, &versions);
                cache.publish();
            }
            Slot::Sync => {
                if let Value::Error(error) = reply {
                    tracing::debug!(%error, "CHIRAL.SYNC refused");
                }
            }
            Slot::Handshake { step, waiter } => {
                let outcome = match reply {
                    Value::Error(error) => Err(SmartError::Handshake(format!("{step}: {error}"))),
                    _ => Ok(()),
                };
                if let Some(waiter) = waiter {
                    let _ = waiter.send(outcome.clone());
                }
                outcome?;
            }
        }
        Ok(())
    }

    /// A push: a tracked key's new value, an invalidation, or a sync's answer.
    fn pushed(&self, push: Vec<Value>) {
        self.stats.pushes.fetch_add(1, Ordering::Relaxed);
        let mut items = push.into_iter();
        let kind = items.next();
        let kind = match &kind {
            Some(Value::Bulk(kind)) => &kind[..],
            Some(Value::Simple(kind)) => kind.as_bytes(),
            _ => return,
        };
        match (kind, items.next(), items.next(), items.next()) {
            (
                b"chiral-value",
                Some(Value::Bulk(key)),
                Some(value),
                Some(Value::Integer(version)),
            ) => {
                let value = match value {
                    Value::Bulk(value) => Some(value),
                    _ => None,
                };
                // The time to live, counted from now (the push may have waited: the
                // server's delete at expiry follows anyway).
                let expires_at_ns = match items.next() {
                    Some(Value::Integer(pttl_ms)) if pttl_ms >= 0 => {
                        self.clock.now_ns().saturating_add(
                            u64::try_from(pttl_ms)
                                .unwrap_or(0)
                                .saturating_mul(1_000_000),
                        )
                    }
                    _ => NEVER_NS,
                };
                let mut cache = self.lock_cache();
                cache.pushed(
                    &key,
                    value,
                    u64::try_from(version).unwrap_or(0),
                    expires_at_ns,
                );
                cache.publish();
            }
            (b"invalidate", Some(Value::Array(keys)), None, None) => {
                let mut cache = self.lock_cache();
                for key in keys {
                    if let Value::Bulk(key) = key {
                        cache.invalidate(&key);
                    }
                }
                cache.publish();
            }
            (b"invalidate", Some(Value::Null), None, None) => {
                let mut cache = self.lock_cache();
                cache.invalidate_all();
                cache.publish();
            }
            (b"chiral-sync", Some(Value::Bulk(token)), None, None) => {
                if let Some(sent_at_ns) = std::str::from_utf8(&token)
                    .ok()
                    .and_then(|text| text.parse().ok())
                {
                    self.freshness.synced(sent_at_ns);
                }
            }
            _ => tracing::debug!("the smart client ignored a push it does not know"),
        }
    }
}

/// CHIRAL.GETV's reply: the value, version and time to live in ns, or `None`.
type Versioned = Option<(Bytes, u64, Option<u64>)>;

fn parse_versioned(reply: Value) -> Result<Versioned, SmartError> {
    match reply {
        Value::Null => Ok(None),
        Value::Error(error) => Err(SmartError::Server(error)),
        Value::Array(items) => match &items[..] {
            [
                Value::Bulk(value),
                Value::Integer(version),
                Value::Integer(pttl_ms),
            ] => {
                let ttl_ns = u64::try_from(*pttl_ms)
                    .ok()
                    .map(|ms| ms.saturating_mul(1_000_000));
                Ok(Some((
                    value.clone(),
                    u64::try_from(*version).unwrap_or(0),
                    ttl_ns,
                )))
            }
            _ => Err(SmartError::Protocol(format!(
                "CHIRAL.GETV answered {items:?}"
            ))),
        },
        other => Err(SmartError::Protocol(format!(
            "CHIRAL.GETV answered {other:?}"
        ))),
    }
}

/// A write as its rejection names it: the command and its first argument.
fn describe<A: AsRef<[u8]>>(args: &[A]) -> String {
    args.iter()
        .take(2)
        .map(|arg| {
            let arg = arg.as_ref();
            String::from_utf8_lossy(&arg[..arg.len().min(64)]).into_owned()
        })
        .collect::<Vec<_>>()
        .join(" ")
}
