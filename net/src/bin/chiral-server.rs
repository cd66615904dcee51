//! `chiral-server`: Chiral behind a Redis-compatible socket.
//!
//! Defaults are a sensible embedded setup: data in `./data`, loopback only, port
//! 7379, the log fsync'd every second and writes answered once visible (like Redis
//! with `appendonly yes` and `appendfsync everysec`). Settings come from flags and
//! from a TOML file (`--config`) whose keys are the flags' names; a flag wins over
//! the file, the file over the default.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chiral::{Ack, FsyncPolicy, IoBackend, OpenError, RecoveryError};
use chiral_net::{Config, LimitsConfig, Server, StartError};
use clap::{Parser, ValueEnum};
use serde::Deserialize;

/// jemalloc, not the system allocator: entries and values are allocated on the
/// connections' threads and freed on the commit thread, which glibc's allocator
/// serves poorly; and a replaced entry's block is reused hot by the next write of its
/// size (a per-thread last-in-first-out cache), where mimalloc handed out blocks
/// freed long ago, a cache miss per write (see benches/README.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Debug, Clone, Copy, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Fsync {
    /// Every write is on disk before it is answered.
    Always,
    /// The log is synced every second; a machine crash loses at most about a second.
    Everysec,
    /// The kernel decides when the log reaches the disk.
    Never,
}

#[derive(Debug, Clone, Copy, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Backend {
    /// io_uring if the kernel allows it, else std.
    Auto,
    /// io_uring, or refuse to start.
    Uring,
    /// Positioned writes and fdatasync.
    Std,
}

/// Every setting, as a flag and as a key of the `--config` file. `None`: not given
/// here; the default is in each doc comment.
#[derive(Debug, Default, Parser, Deserialize)]
#[command(version, about = "Chiral's Redis-compatible server.")]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
struct Settings {
    /// A TOML file of settings (keys are these flags' names, e.g. `port = 7379`,
    /// `data-dir = "/var/lib/chiral"`); flags given here win over it.
    #[arg(long)]
    #[serde(skip)]
    config: Option<PathBuf>,
    /// The address to listen on [default: 127.0.0.1]. Anything but loopback exposes
    /// the data: set --requirepass or ACL users too.
    #[arg(long)]
    bind: Option<IpAddr>,
    /// The TCP port [default: 7379].
    #[arg(long)]
    port: Option<u16>,
    /// Also listen on this Unix socket.
    #[arg(long)]
    unixsocket: Option<PathBuf>,
    /// The data directory [default: ./data].
    #[arg(long, alias = "dir")]
    data_dir: Option<PathBuf>,
    /// Keep everything in memory: nothing is written to disk.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    in_memory: Option<bool>,
    /// When the write-ahead log is synced to disk [default: everysec].
    #[arg(long, value_enum)]
    fsync: Option<Fsync>,
    /// How the log does its I/O [default: auto].
    #[arg(long, value_enum)]
    io_backend: Option<Backend>,
    /// Start even if the log holds a damaged record that was on disk (not a crash's
    /// doing): cut the log there, losing every record after it. Without it such a
    /// log stops the start with an error naming the file and offset; copy the data
    /// directory before repairing.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    repair: Option<bool>,
    /// The default user's password; clients must AUTH with it.
    #[arg(long, env = "CHIRAL_REQUIREPASS", hide_env_values = true)]
    requirepass: Option<String>,
    /// The file ACL users are kept in [default: users.acl in the data directory].
    #[arg(long)]
    aclfile: Option<PathBuf>,
    /// Most connected clients [default: 10000].
    #[arg(long)]
    maxclients: Option<usize>,
    /// Largest argument of a request, in bytes [default: 536870912].
    #[arg(long)]
    proto_max_bulk_len: Option<usize>,
    /// Most arguments in one request [default: 1048576].
    #[arg(long)]
    proto_max_multibulk_len: Option<usize>,
    /// Longest inline command, in bytes [default: 65536].
    #[arg(long)]
    proto_inline_max_size: Option<usize>,
    /// Most unprocessed request bytes held for one client [default: 1073741824].
    #[arg(long)]
    client_query_buffer_limit: Option<usize>,
    /// Most reply bytes held for one client before it is disconnected
    /// [default: 268435456].
    #[arg(long)]
    client_output_buffer_bytes: Option<usize>,
    /// Disconnect clients idle this many seconds; 0 never [default: 0].
    #[arg(long)]
    timeout: Option<u64>,
    /// Most keys remembered for client-side caching (CLIENT TRACKING) [default:
    /// 1000000].
    #[arg(long)]
    tracking_table_max_keys: Option<usize>,
    /// Most keys one `CLIENT TRACKING ON VALUES` connection keeps tracked [default:
    /// 10000].
    #[arg(long)]
    tracking_window_keys: Option<usize>,
    /// Threads that serve connections (the commit thread and background work have
    /// their own) [default: one per core but one, which the commit thread takes
    /// under writes; at least 1].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
}

/// Takes every field `flags` leaves unset from `file`.
macro_rules! merge {
    ($flags:ident, $file:ident, $($field:ident),*) => {
        $( if $flags.$field.is_none() { $flags.$field = $file.$field; } )*
    };
}

impl Settings {
    /// The flags, completed by the `--config` file if one is named.
    fn load() -> anyhow::Result<Settings> {
        let mut flags = Settings::parse();
        let Some(path) = flags.config.clone() else {
            return Ok(flags);
        };
        let file = read_file(&path)?;
        merge!(
            flags,
            file,
            bind,
            port,
            unixsocket,
            data_dir,
            in_memory,
            fsync,
            io_backend,
            repair,
            requirepass,
            aclfile,
            maxclients,
            proto_max_bulk_len,
            proto_max_multibulk_len,
            proto_inline_max_size,
            client_query_buffer_limit,
            client_output_buffer_bytes,
            timeout,
            tracking_table_max_keys,
            tracking_window_keys,
            threads
        );
        Ok(flags)
    }

    /// The server's configuration: each setting or its default.
    fn into_config(self) -> Config {
        let defaults = LimitsConfig::default();
        let fsync = self.fsync.unwrap_or(Fsync::Everysec);
        let limits = LimitsConfig {
            max_clients: self.maxclients.unwrap_or(defaults.max_clients),
            max_bulk_bytes: self.proto_max_bulk_len.unwrap_or(defaults.max_bulk_bytes),
            max_args: self.proto_max_multibulk_len.unwrap_or(defaults.max_args),
            max_inline_bytes: self
                .proto_inline_max_size
                .unwrap_or(defaults.max_inline_bytes),
            query_buffer_bytes: self
                .client_query_buffer_limit
                .unwrap_or(defaults.query_buffer_bytes),
            output_buffer_bytes: self
                .client_output_buffer_bytes
                .unwrap_or(defaults.output_buffer_bytes),
            idle_timeout_s: self.timeout.unwrap_or(defaults.idle_timeout_s),
            tracking_table_max_keys: self
                .tracking_table_max_keys
                .unwrap_or(defaults.tracking_table_max_keys),
            tracking_window_keys: self
                .tracking_window_keys
                .unwrap_or(defaults.tracking_window_keys),
        };
        let mut engine = chiral::Options {
            fsync: match fsync {
                Fsync::Always => FsyncPolicy::Always,
                Fsync::Everysec => FsyncPolicy::Interval { ms: 1000 },
                Fsync::Never => FsyncPolicy::Never,
            },
            io_backend: match self.io_backend.unwrap_or(Backend::Auto) {
                Backend::Auto => IoBackend::Auto,
                Backend::Uring => IoBackend::Uring,
                Backend::Std => IoBackend::Std,
            },
            repair: self.repair.unwrap_or(false),
            ..chiral::Options::default()
        };
        engine.limits.max_value_bytes = limits.max_bulk_bytes;
        let dir = (!self.in_memory.unwrap_or(false))
            .then(|| self.data_dir.unwrap_or_else(|| PathBuf::from("./data")));
        Config {
            bind: SocketAddr::new(
                self.bind.unwrap_or(IpAddr::from([127, 0, 0, 1])),
                self.port.unwrap_or(7379),
            ),
            unix_socket: self.unixsocket,
            acl_file: self
                .aclfile
                .or_else(|| dir.as_ref().map(|dir| dir.join("users.acl"))),
            dir,
            engine,
            ack: match fsync {
                Fsync::Always => Ack::Durable,
                Fsync::Everysec | Fsync::Never => Ack::Visible,
            },
            limits,
            requirepass: self.requirepass,
        }
    }
}

fn read_file(path: &Path) -> anyhow::Result<Settings> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("in the config file {}", path.display()))
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let settings = Settings::load()?;
    let threads = settings.threads;
    anyhow::ensure!(threads != Some(0), "threads must be at least 1");
    let config = settings.into_config();
    if let Some(dir) = &config.dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the data directory {}", dir.display()))?;
    }
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    // tokio's own variable, if set, decides when the flag is absent.
    if threads.is_some() || std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        runtime.worker_threads(threads.map_or_else(default_threads, usize::from));
    }
    let runtime = runtime
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let server = Server::bind(config).await.map_err(with_repair_hint)?;
        let stop = server.shutdown_handle();
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .context("installing a SIGTERM handler")?;
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            tracing::info!("signal received: shutting down");
            stop.shutdown();
        });
        server.run().await;
        anyhow::Ok(())
    })
}

/// The start error, with the way out when it is a damaged log: `--repair`.
fn with_repair_hint(error: StartError) -> anyhow::Error {
    let corrupt = matches!(
        &error,
        StartError::Open(OpenError::Recovery(RecoveryError::Corrupt { .. }))
    );
    let error = anyhow::Error::new(error);
    match corrupt {
        true => error.context(
            "the log is damaged where it was on disk: copy the data directory, then start \
             once with --repair to cut the log at the damage (every record after it is lost)",
        ),
        false => error,
    }
}

/// Connection threads when not told: one per core but one. Writes are applied by the
/// commit thread or by a worker committing for everyone queued (flat combining);
/// either way one thread is busy committing, and a worker per core beside it made
/// the threads take turns on the cores: on 2 cores, with redis-benchmark on the same
/// machine, MSET at P1 ran at 0.67x Redis with 2 workers and 1.03x with 1
/// (benches/README.md).
fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| cores.get().saturating_sub(1).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let file: Settings = toml::from_str(
            "port = 7000\nbind = \"0.0.0.0\"\nfsync = \"always\"\nmaxclients = 5\ndata-dir = \"/srv/chiral\"\n",
        )
        .unwrap();
        let mut flags = Settings::parse_from(["chiral-server", "--port", "7100"]);
        merge!(
            flags, file, bind, port, data_dir, fsync, maxclients, timeout
        );
        let config = flags.into_config();
        assert_eq!(config.bind, "0.0.0.0:7100".parse::<SocketAddr>().unwrap());
        assert_eq!(config.ack, Ack::Durable);
        assert_eq!(config.limits.max_clients, 5);
        assert_eq!(config.limits.idle_timeout_s, 0, "the default");
        assert_eq!(config.dir.as_deref(), Some(Path::new("/srv/chiral")));
        assert_eq!(
            config.acl_file.as_deref(),
            Some(Path::new("/srv/chiral/users.acl"))
        );
    }

    #[test]
    fn an_unknown_key_in_the_file_is_an_error() {
        let error = toml::from_str::<Settings>("prot = 7000\n").unwrap_err();
        assert!(error.to_string().contains("unknown field"), "{error}");
    }

    #[test]
    fn defaults_are_loopback_and_a_data_directory() {
        let config = Settings::parse_from(["chiral-server"]).into_config();
        assert_eq!(config.bind, "127.0.0.1:7379".parse::<SocketAddr>().unwrap());
        assert_eq!(config.dir.as_deref(), Some(Path::new("./data")));
        assert_eq!(config.ack, Ack::Visible);
    }
}
