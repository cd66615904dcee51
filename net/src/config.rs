//! The server's configuration: where it listens, how it stores, and every limit a
//! client meets. Limits can change at run time (CONFIG SET), so they live in
//! atomics that connections read for each request.

use std::net::SocketAddr;
use std::path::PathBuf;
#[cfg(not(loom))]
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use chiral::Ack;

#[cfg(not(loom))]
use crate::parse::ParseLimits;

/// How the server starts.
#[derive(Debug, Clone)]
pub struct Config {
    /// The TCP address to listen on. Default 127.0.0.1:7379 (loopback only).
    pub bind: SocketAddr,
    /// A Unix socket to listen on as well.
    pub unix_socket: Option<PathBuf>,
    /// The data directory; `None` keeps everything in memory.
    pub dir: Option<PathBuf>,
    /// The engine's options (fsync policy, io backend, limits...).
    pub engine: chiral::Options,
    /// What a write waits for before it is answered: `Visible` by default (the log
    /// is synced on the engine's fsync policy, like Redis's `appendfsync everysec`),
    /// `Durable` for `--fsync always`.
    pub ack: Ack,
    /// The limits, changeable at run time.
    pub limits: LimitsConfig,
    /// The password of the default user (`requirepass`); `None`: no AUTH needed
    /// (unless the users file gives the default user a password).
    pub requirepass: Option<String>,
    /// The file ACL users persist in; `None` keeps them in memory only.
    pub acl_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 7379)),
            unix_socket: None,
            dir: None,
            engine: chiral::Options::default(),
            ack: Ack::Visible,
            limits: LimitsConfig::default(),
            requirepass: None,
            acl_file: None,
        }
    }
}

/// Every limit a client meets, with Redis's defaults where Redis has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Most connected clients (`maxclients`, 10,000).
    pub max_clients: usize,
    /// Largest argument of a request in bytes (`proto-max-bulk-len`, 512 MiB).
    pub max_bulk_bytes: usize,
    /// Most arguments in one request (1,048,576).
    pub max_args: usize,
    /// Longest inline command (64 KiB).
    pub max_inline_bytes: usize,
    /// Most unprocessed request bytes held for one client
    /// (`client-query-buffer-limit`, 1 GiB).
    pub query_buffer_bytes: usize,
    /// Most reply bytes held for one client before it is disconnected (Redis's
    /// `client-output-buffer-limit` for normal clients is unlimited; ours is 256 MiB).
    pub output_buffer_bytes: usize,
    /// Seconds a client may stay idle before it is disconnected; 0 never (`timeout`).
    pub idle_timeout_s: u64,
    /// Most keys remembered for client-side caching (`tracking-table-max-keys`,
    /// 1,000,000); past it, keys are dropped and announced as invalidated.
    pub tracking_table_max_keys: usize,
    /// Most keys one `CLIENT TRACKING ON VALUES` connection keeps tracked
    /// (`tracking-window-keys`, 10,000): the least recently read go, announced.
    pub tracking_window_keys: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_clients: 10_000,
            max_bulk_bytes: 512 << 20,
            max_args: 1 << 20,
            max_inline_bytes: 64 << 10,
            query_buffer_bytes: 1 << 30,
            output_buffer_bytes: 256 << 20,
            idle_timeout_s: 0,
            tracking_table_max_keys: 1_000_000,
            tracking_window_keys: 10_000,
        }
    }
}

/// The limits as connections read them, changeable by CONFIG SET.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) max_clients: AtomicUsize,
    pub(crate) max_bulk_bytes: AtomicUsize,
    pub(crate) max_args: AtomicUsize,
    pub(crate) max_inline_bytes: AtomicUsize,
    pub(crate) query_buffer_bytes: AtomicUsize,
    pub(crate) output_buffer_bytes: AtomicUsize,
    pub(crate) idle_timeout_s: AtomicU64,
    pub(crate) tracking_table_max_keys: AtomicUsize,
    pub(crate) tracking_window_keys: AtomicUsize,
}

#[cfg(not(loom))]
impl Settings {
    /// The settings `limits` start with.
    pub(crate) fn new(limits: &LimitsConfig) -> Self {
        Settings {
            max_clients: AtomicUsize::new(limits.max_clients),
            max_bulk_bytes: AtomicUsize::new(limits.max_bulk_bytes),
            max_args: AtomicUsize::new(limits.max_args),
            max_inline_bytes: AtomicUsize::new(limits.max_inline_bytes),
            query_buffer_bytes: AtomicUsize::new(limits.query_buffer_bytes),
            output_buffer_bytes: AtomicUsize::new(limits.output_buffer_bytes),
            idle_timeout_s: AtomicU64::new(limits.idle_timeout_s),
            tracking_table_max_keys: AtomicUsize::new(limits.tracking_table_max_keys),
            tracking_window_keys: AtomicUsize::new(limits.tracking_window_keys),
        }
    }

    /// The request parser's limits now.
    pub(crate) fn parse_limits(&self) -> ParseLimits {
        ParseLimits {
            max_args: self.max_args.load(Ordering::Relaxed),
            max_bulk_bytes: self.max_bulk_bytes.load(Ordering::Relaxed),
            max_inline_bytes: self.max_inline_bytes.load(Ordering::Relaxed),
        }
    }
}
