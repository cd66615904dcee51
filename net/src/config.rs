//! The server's configuration: where it listens, how it stores, and every limit a
//! client meets. Limits can change at run time (CONFIG SET), so they live in
//! atomics that connections read for each request.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use chiral::Ack;

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
    /// The password of the default user (`requirepass`); `None`: no AUTH needed.
    pub requirepass: Option<String>,
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
        }
    }
}

/// The limits as connections read them, changeable by CONFIG SET.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) max_clients: AtomicUsize,
    pub(crate) max_bulk_bytes: AtomicUsize,
    pub(crate) max_args: AtomicUsize,
    pub(crate) max_inline_bytes: AtomicUsize,
    pub(crate) query_buffer_bytes: AtomicUsize,
    pub(crate) output_buffer_bytes: AtomicUsize,
    pub(crate) idle_timeout_s: AtomicU64,
    pub(crate) requirepass: RwLock<Option<String>>,
}

/// Sets a setting from its text, or says why not.
type SetFn = fn(&Settings, &str) -> Result<(), String>;

/// One setting CONFIG GET and SET know.
pub(crate) struct Setting {
    /// Its name.
    pub(crate) name: &'static str,
    /// Reads it.
    pub(crate) get: fn(&Settings) -> String,
    /// Sets it from text, or says why not.
    pub(crate) set: Option<SetFn>,
}

fn parse_count(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let (digits, unit) = match text.to_ascii_lowercase() {
        t if t.ends_with("gb") => (t[..t.len() - 2].to_string(), 1usize << 30),
        t if t.ends_with("mb") => (t[..t.len() - 2].to_string(), 1 << 20),
        t if t.ends_with("kb") => (t[..t.len() - 2].to_string(), 1 << 10),
        t => (t, 1),
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .ok_or_else(|| "argument must be a memory or number value".to_string())
}

macro_rules! count_setting {
    ($name:literal, $field:ident, $min:expr) => {
        Setting {
            name: $name,
            get: |s| s.$field.load(Ordering::Relaxed).to_string(),
            set: Some(|s, text| {
                let value = parse_count(text)?;
                if value < $min {
                    return Err(format!("argument must be at least {}", $min));
                }
                s.$field.store(value, Ordering::Relaxed);
                Ok(())
            }),
        }
    };
}

/// The settings CONFIG knows, by name.
pub(crate) static SETTINGS: &[Setting] = &[
    count_setting!("maxclients", max_clients, 1),
    count_setting!("proto-max-bulk-len", max_bulk_bytes, 1024 * 1024),
    count_setting!("proto-max-multibulk-len", max_args, 1),
    count_setting!("proto-inline-max-size", max_inline_bytes, 1024),
    count_setting!("client-query-buffer-limit", query_buffer_bytes, 1024 * 1024),
    count_setting!(
        "client-output-buffer-bytes",
        output_buffer_bytes,
        1024 * 1024
    ),
    Setting {
        name: "timeout",
        get: |s| s.idle_timeout_s.load(Ordering::Relaxed).to_string(),
        set: Some(|s, text| {
            let value = text
                .trim()
                .parse::<u64>()
                .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
            s.idle_timeout_s.store(value, Ordering::Relaxed);
            Ok(())
        }),
    },
    Setting {
        name: "requirepass",
        get: |s| {
            s.requirepass
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clone()
                .unwrap_or_default()
        },
        set: Some(|s, text| {
            *s.requirepass
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) =
                (!text.is_empty()).then(|| text.to_string());
            Ok(())
        }),
    },
    Setting {
        name: "databases",
        get: |_| "1".into(),
        set: None,
    },
    Setting {
        name: "save",
        get: |_| String::new(),
        set: None,
    },
    Setting {
        name: "appendonly",
        get: |_| "yes".into(),
        set: None,
    },
];

impl Settings {
    /// The settings `limits` and `requirepass` start with.
    pub(crate) fn new(limits: &LimitsConfig, requirepass: Option<String>) -> Self {
        Settings {
            max_clients: AtomicUsize::new(limits.max_clients),
            max_bulk_bytes: AtomicUsize::new(limits.max_bulk_bytes),
            max_args: AtomicUsize::new(limits.max_args),
            max_inline_bytes: AtomicUsize::new(limits.max_inline_bytes),
            query_buffer_bytes: AtomicUsize::new(limits.query_buffer_bytes),
            output_buffer_bytes: AtomicUsize::new(limits.output_buffer_bytes),
            idle_timeout_s: AtomicU64::new(limits.idle_timeout_s),
            requirepass: RwLock::new(requirepass),
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

    /// The default user's password, if one is set.
    pub(crate) fn requirepass(&self) -> Option<String> {
        self.requirepass
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units_and_minimums_hold() {
        assert_eq!(parse_count("2mb"), Ok(2 << 20));
        assert_eq!(parse_count("1GB"), Ok(1 << 30));
        assert_eq!(parse_count("17"), Ok(17));
        assert!(parse_count("x").is_err());
        let settings = Settings::new(&LimitsConfig::default(), None);
        let bulk = SETTINGS
            .iter()
            .find(|s| s.name == "proto-max-bulk-len")
            .unwrap();
        assert!(
            (bulk.set.unwrap())(&settings, "1000").is_err(),
            "below the minimum"
        );
        (bulk.set.unwrap())(&settings, "2mb").unwrap();
        assert_eq!((bulk.get)(&settings), (2 << 20).to_string());
    }
}
