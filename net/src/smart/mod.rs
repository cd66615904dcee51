//! The smart client: reads of recently used keys answered in the process, kept fresh
//! because the server streams those keys' new values back; writes sent behind the
//! caller's back.
//!
//! With [`Consistency::Eventual`] the client turns on `CLIENT TRACKING ON VALUES`:
//! each key it reads is fetched once with `CHIRAL.GETV` (value, version, time to
//! live) into a local `left_right` cache, and every later change of it arrives as a
//! push carrying the new value and its version. Application threads read the cache
//! without locks (each handle has its own read end: clone the client per thread).
//!
//! Writes (`set`, `del`) change the cache at once, so the writer reads its own
//! writes, and go to the server from a send thread, pipelined; [`SmartClient::flush`]
//! waits for their answers. A refused write is reported to the `on_rejection`
//! callback and by the client's next call, and its local effect is undone.
//!
//! Staleness is bounded: the client sends `CHIRAL.SYNC` every quarter of
//! `max_staleness`, and the server pushes the sync back once every change visible
//! when it arrived has been pushed. An entry is served only if the last answered
//! sync (or its own fetch) was sent at most `max_staleness` ago; a dropped
//! connection or a lagging stream therefore sends reads to the server — or fails
//! them while the client reconnects — instead of serving old values. After a
//! reconnect the client compares the versions of what it caches with the server's
//! (`CHIRAL.VERSIONS`) and drops what changed — all of it if the server's dataset id
//! (`CHIRAL.DATASET`) says its versions count another history.
//!
//! [`Consistency::Strong`] turns all that off: every read goes to the server and
//! every write waits for its answer, through the same API.

mod cache;
mod clock;
mod link;
mod progress;

use std::net::ToSocketAddrs;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use thiserror::Error;

use crate::client::ClientError;
use crate::reply_parse::{ReplyLimits, Value};
use cache::{CacheReader, Freshness, Lookup, NEVER_NS, ReaderFactory};
use clock::Clock;
use link::{Address, HitCounter, Link, Settings, Slot};

/// How fresh the values a client reads must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    /// Every read asks the server; every write waits for it.
    Strong,
    /// Reads may be answered locally with a value at most `max_staleness` old
    /// (the client's own writes are always seen at once).
    Eventual {
        /// How old a value served from the cache may be.
        max_staleness: Duration,
    },
}

/// A callback told of each rejected write.
pub type OnRejection = Arc<dyn Fn(&Rejection) + Send + Sync>;

/// How a smart client behaves.
#[derive(Clone)]
pub struct SmartOptions {
    /// How fresh reads must be (default: eventual, 1 s).
    pub consistency: Consistency,
    /// Most keys cached (default 10,000: the server's `tracking-window-keys`).
    pub cache_max_keys: usize,
    /// Most bytes of keys, values and bookkeeping cached (default 64 MiB).
    pub cache_max_bytes: usize,
    /// Most writes sent and not answered; a write past it waits (default 10,000).
    pub max_writes_in_flight: u64,
    /// How long the server may leave requests unanswered before the connection is
    /// dropped (the requests fail, the client reconnects); default 30 s.
    pub request_timeout: Duration,
    /// The user and password to authenticate with.
    pub auth: Option<(String, String)>,
    /// The sizes a reply may have.
    pub reply_limits: ReplyLimits,
    /// Called (on the client's receive thread) with each rejected write.
    pub on_rejection: Option<OnRejection>,
}

impl Default for SmartOptions {
    fn default() -> Self {
        SmartOptions {
            consistency: Consistency::Eventual {
                max_staleness: Duration::from_secs(1),
            },
            cache_max_keys: 10_000,
            cache_max_bytes: 64 << 20,
            max_writes_in_flight: 10_000,
            request_timeout: Duration::from_secs(30),
            auth: None,
            reply_limits: ReplyLimits::default(),
            on_rejection: None,
        }
    }
}

impl std::fmt::Debug for SmartOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmartOptions")
            .field("consistency", &self.consistency)
            .field("cache_max_keys", &self.cache_max_keys)
            .field("cache_max_bytes", &self.cache_max_bytes)
            .field("max_writes_in_flight", &self.max_writes_in_flight)
            .field("request_timeout", &self.request_timeout)
            .field("auth", &self.auth.as_ref().map(|(user, _)| (user, "...")))
            .field("reply_limits", &self.reply_limits)
            .field("on_rejection", &self.on_rejection.is_some())
            .finish()
    }
}

/// A write the server refused, or whose answer was lost with the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The command and its key, e.g. `SET user:1`.
    pub command: String,
    /// The server's error, or why there was no answer.
    pub error: String,
}

/// Why a smart client call failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SmartError {
    /// The first connection could not be made.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The connection is down; the client is reconnecting.
    #[error("the connection to the server is down")]
    Disconnected,
    /// The server answered with an error.
    #[error("{0}")]
    Server(String),
    /// Earlier writes were refused (their local effect is undone).
    #[error("{} earlier write(s) rejected, first: {}: {}", .0.len(), .0[0].command, .0[0].error)]
    Rejected(Vec<Rejection>),
    /// The server refused the handshake (HELLO 3, AUTH or tracking).
    #[error("handshake refused: {0}")]
    Handshake(String),
    /// The server's replies are not what the protocol says.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The client was closed.
    #[error("the client is closed")]
    Closed,
}

impl From<ClientError> for SmartError {
    /// A socket that closed or failed is a dropped connection (the client
    /// reconnects); bytes that are not RESP are a protocol error.
    fn from(error: ClientError) -> Self {
        match error {
            ClientError::Closed | ClientError::Io(_) => SmartError::Disconnected,
            other => SmartError::Protocol(other.to_string()),
        }
    }
}

/// Counters of one client (all its handles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmartStats {
    /// Reads answered from the cache.
    pub hits: u64,
    /// Reads sent to the server.
    pub misses: u64,
    /// Pushes received.
    pub pushes: u64,
    /// Connections made again after one dropped.
    pub reconnects: u64,
    /// Keys cached.
    pub cached_keys: usize,
    /// Bytes cached.
    pub cached_bytes: usize,
}

/// Stops the threads when the last handle goes.
struct Owner {
    link: Arc<Link>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.link.close();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for thread in threads {
            // A panic in a client thread has been reported by the panic hook.
            let _ = thread.join();
        }
    }
}

/// A client whose reads of recently used keys never leave the process. Clone it
/// for each thread: every handle reads the shared cache through its own read end.
pub struct SmartClient {
    owner: Arc<Owner>,
    factory: Arc<ReaderFactory>,
    reader: CacheReader,
    hits: Arc<HitCounter>,
    options: Arc<SmartOptions>,
}

impl std::fmt::Debug for SmartClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmartClient")
            .field("options", &self.options)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Clone for SmartClient {
    fn clone(&self) -> Self {
        SmartClient {
            owner: Arc::clone(&self.owner),
            factory: Arc::clone(&self.factory),
            reader: self.factory.reader(),
            hits: self.link().stats.hit_counter(),
            options: Arc::clone(&self.options),
        }
    }
}

impl Drop for SmartClient {
    fn drop(&mut self) {
        self.owner.link.stats.retire(&self.hits);
    }
}

impl SmartClient {
    /// Connects over TCP (`host:port`).
    pub fn connect(addr: &str, options: SmartOptions) -> Result<SmartClient, SmartError> {
        // Resolve once now, so a bad address fails here rather than in reconnects.
        addr.to_socket_addrs()
            .map_err(|error| SmartError::Connect(format!("{addr}: {error}")))?;
        SmartClient::start(Address::Tcp(addr.to_owned()), options)
    }

    /// Connects over a Unix socket.
    pub fn connect_unix(
        path: impl AsRef<Path>,
        options: SmartOptions,
    ) -> Result<SmartClient, SmartError> {
        SmartClient::start(Address::Unix(path.as_ref().to_owned()), options)
    }

    fn start(address: Address, options: SmartOptions) -> Result<SmartClient, SmartError> {
        let (caching, max_staleness) = match options.consistency {
            Consistency::Strong => (false, Duration::ZERO),
            Consistency::Eventual { max_staleness } => (true, max_staleness),
        };
        let max_staleness_ns = u64::try_from(max_staleness.as_nanos()).unwrap_or(u64::MAX);
        let clock = Clock::new();
        let freshness = Arc::new(Freshness::default());
        let (writer, factory) = cache::new(
            cache::Bounds {
                max_keys: options.cache_max_keys,
                max_bytes: options.cache_max_bytes,
            },
            Arc::clone(&freshness),
            clock,
            max_staleness_ns,
        );
        let settings = Settings {
            address,
            auth: options.auth.clone(),
            caching,
            heartbeat_ns: (max_staleness_ns / 4).max(1_000_000),
            request_timeout_ns: u64::try_from(options.request_timeout.as_nanos())
                .unwrap_or(u64::MAX)
                .max(1_000_000),
            reply_limits: options.reply_limits,
        };
        let link = Arc::new(Link::new(
            writer,
            freshness,
            clock,
            settings,
            options.on_rejection.clone(),
        ));
        let (waiter, handshake) = sync_channel(2);
        let incoming = link
            .connect(Some(waiter))
            .map_err(|error| SmartError::Connect(error.to_string()))?;
        let owner = Arc::new(Owner {
            link: Arc::clone(&link),
            threads: Mutex::new(Vec::new()),
        });
        let spawn = |name: &str, run: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(run)
                .map_err(|error| SmartError::Connect(format!("cannot start a thread: {error}")))
        };
        let sender = {
            let link = Arc::clone(&link);
            spawn("chiral-smart-send", Box::new(move || link.run_sender()))?
        };
        owner
            .threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(sender);
        let receiver = {
            let link = Arc::clone(&link);
            spawn(
                "chiral-smart-recv",
                Box::new(move || link.run_receiver(incoming)),
            )?
        };
        owner
            .threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(receiver);
        // HELLO, then (when caching) CLIENT TRACKING.
        for _ in 0..if caching { 2 } else { 1 } {
            match handshake.recv() {
                Ok(Ok(())) => {}
                Ok(Err(error)) => return Err(error),
                Err(_) => return Err(SmartError::Closed),
            }
        }
        let reader = factory.reader();
        Ok(SmartClient {
            hits: link.stats.hit_counter(),
            owner,
            factory: Arc::new(factory),
            reader,
            options: Arc::new(options),
        })
    }

    fn link(&self) -> &Link {
        &self.owner.link
    }

    fn caching(&self) -> bool {
        matches!(self.options.consistency, Consistency::Eventual { .. })
    }

    /// Rejections not reported yet, as this call's error.
    fn check(&self) -> Result<(), SmartError> {
        let rejections = self.link().take_rejections();
        if rejections.is_empty() {
            Ok(())
        } else {
            Err(SmartError::Rejected(rejections))
        }
    }

    /// GET: the key's string value, from the cache when it holds it fresh.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>, SmartError> {
        self.check()?;
        let key = key.as_ref();
        let link = self.link();
        if self.caching()
            && let Lookup::Hit(value) = self.reader.get(key)
        {
            // Only this handle writes its counter: a load and a store, no lock prefix.
            let hits = &self.hits.0;
            hits.store(hits.load(Relaxed) + 1, Relaxed);
            return Ok(value);
        }
        link.stats.misses.fetch_add(1, Relaxed);
        let key = Bytes::copy_from_slice(key);
        let tracked = self.caching();
        if tracked {
            link.lock_cache().read_started(&key);
        }
        let (waiter, reply) = sync_channel(1);
        let slot = Slot::Get {
            key: key.clone(),
            sent_at_ns: link.clock.now_ns(),
            tracked,
            waiter,
        };
        if let Err(error) = link.send(&[&b"CHIRAL.GETV"[..], &key], slot) {
            if tracked {
                let mut cache = link.lock_cache();
                cache.read_done(&key, None, 0, false);
            }
            return Err(error);
        }
        reply.recv().unwrap_or(Err(SmartError::Closed))
    }

    /// SET: the key holds `value` (for `ttl`, if given) — locally at once, on the
    /// server once the send thread has sent it.
    pub fn set(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ttl: Option<Duration>,
    ) -> Result<(), SmartError> {
        let (key, value) = (key.as_ref(), value.as_ref());
        let mut args: Vec<Vec<u8>> = vec![b"SET".to_vec(), key.to_vec(), value.to_vec()];
        let expires_at_ns = match ttl {
            Some(ttl) => {
                let ms = ttl.as_millis().max(1);
                args.push(b"PX".to_vec());
                args.push(ms.to_string().into_bytes());
                let ttl_ns = u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX);
                self.link().clock.now_ns().saturating_add(ttl_ns)
            }
            None => NEVER_NS,
        };
        self.write(
            &args,
            key,
            Some(Bytes::copy_from_slice(value)),
            expires_at_ns,
        )
    }

    /// DEL: the key is gone — locally at once, on the server once sent.
    pub fn del(&self, key: impl AsRef<[u8]>) -> Result<(), SmartError> {
        let key = key.as_ref();
        self.write(&[&b"DEL"[..], key], key, None, NEVER_NS)
    }

    fn write<A: AsRef<[u8]>>(
        &self,
        args: &[A],
        key: &[u8],
        value: Option<Bytes>,
        expires_at_ns: u64,
    ) -> Result<(), SmartError> {
        self.check()?;
        let link = self.link();
        link.wait_for_room(self.options.max_writes_in_flight)?;
        if self.caching() {
            let key = Bytes::copy_from_slice(key);
            // The cache lock is held across the send: the answer cannot be applied
            // before the local write it answers.
            let mut cache = link.lock_cache();
            link.send_write(args, Some(key.clone()))?;
            cache.write_local(&key, value, expires_at_ns);
            cache.publish();
            return Ok(());
        }
        // Strong: the write is answered before the call returns.
        let seq = link.send_write(args, None)?;
        link.wait_for(seq);
        self.check()
    }

    /// Any command, sent in order after the writes before it; its reply as it is.
    /// The cache cannot tell what it changed, so nothing cached before it is
    /// served again until the server confirms it after it.
    pub fn command<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<Value, SmartError> {
        self.check()?;
        let link = self.link();
        let (waiter, reply) = sync_channel(1);
        let sent_at_ns = link.clock.now_ns();
        link.send(args, Slot::Command { waiter })?;
        if self.caching() {
            link.freshness.barrier(sent_at_ns);
            link.sync_soon();
        }
        reply.recv().unwrap_or(Err(SmartError::Closed))
    }

    /// Waits until every write made before it is answered; reports the rejected.
    pub fn flush(&self) -> Result<(), SmartError> {
        let link = self.link();
        link.wait_for_all();
        self.check()
    }

    /// The client's counters.
    pub fn stats(&self) -> SmartStats {
        let link = self.link();
        let (cached_keys, cached_bytes) = link.lock_cache().size();
        let load = |counter: &AtomicU64| counter.load(Relaxed);
        SmartStats {
            hits: link.stats.hits(),
            misses: load(&link.stats.misses),
            pushes: load(&link.stats.pushes),
            reconnects: load(&link.stats.reconnects),
            cached_keys,
            cached_bytes,
        }
    }
}
