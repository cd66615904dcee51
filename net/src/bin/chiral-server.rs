//! `chiral-server`: Chiral behind a Redis-compatible socket.
//!
//! Defaults are a sensible embedded setup: data in `./data`, loopback only, port
//! 7379, the log fsync'd every second and writes answered once visible (like Redis
//! with `appendonly yes` and `appendfsync everysec`).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use chiral::{Ack, FsyncPolicy, IoBackend};
use chiral_net::{Config, LimitsConfig, Server};
use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Fsync {
    /// Every write is on disk before it is answered.
    Always,
    /// The log is synced every second; a crash loses at most about a second.
    Everysec,
    /// The kernel decides when the log reaches the disk.
    No,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Backend {
    /// io_uring if the kernel allows it, else std.
    Auto,
    /// io_uring, or refuse to start.
    Uring,
    /// Positioned writes and fdatasync.
    Std,
}

/// Chiral's Redis-compatible server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The address to listen on. Anything but loopback exposes the data: set
    /// --requirepass too.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// The TCP port.
    #[arg(long, default_value_t = 7379)]
    port: u16,
    /// Also listen on this Unix socket.
    #[arg(long)]
    unix_socket: Option<PathBuf>,
    /// The data directory.
    #[arg(long, default_value = "./data")]
    dir: PathBuf,
    /// Keep everything in memory: nothing is written to disk.
    #[arg(long, conflicts_with = "dir")]
    in_memory: bool,
    /// When the write-ahead log is synced to disk.
    #[arg(long, value_enum, default_value_t = Fsync::Everysec)]
    fsync: Fsync,
    /// How the log does its I/O.
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    io_backend: Backend,
    /// The default user's password; clients must AUTH with it.
    #[arg(long, env = "CHIRAL_REQUIREPASS", hide_env_values = true)]
    requirepass: Option<String>,
    /// Most connected clients.
    #[arg(long, default_value_t = LimitsConfig::default().max_clients)]
    maxclients: usize,
    /// Largest argument of a request, in bytes.
    #[arg(long, default_value_t = LimitsConfig::default().max_bulk_bytes)]
    proto_max_bulk_len: usize,
    /// Most arguments in one request.
    #[arg(long, default_value_t = LimitsConfig::default().max_args)]
    proto_max_multibulk_len: usize,
    /// Longest inline command, in bytes.
    #[arg(long, default_value_t = LimitsConfig::default().max_inline_bytes)]
    proto_inline_max_size: usize,
    /// Most unprocessed request bytes held for one client.
    #[arg(long, default_value_t = LimitsConfig::default().query_buffer_bytes)]
    client_query_buffer_limit: usize,
    /// Most reply bytes held for one client before it is disconnected.
    #[arg(long, default_value_t = LimitsConfig::default().output_buffer_bytes)]
    client_output_buffer_bytes: usize,
    /// Disconnect clients idle this many seconds (0: never).
    #[arg(long, default_value_t = 0)]
    timeout: u64,
}

fn config(args: Args) -> Config {
    let mut engine = chiral::Options {
        fsync: match args.fsync {
            Fsync::Always => FsyncPolicy::Always,
            Fsync::Everysec => FsyncPolicy::Interval { ms: 1000 },
            Fsync::No => FsyncPolicy::Never,
        },
        io_backend: match args.io_backend {
            Backend::Auto => IoBackend::Auto,
            Backend::Uring => IoBackend::Uring,
            Backend::Std => IoBackend::Std,
        },
        ..chiral::Options::default()
    };
    engine.limits.max_value_bytes = args.proto_max_bulk_len;
    Config {
        bind: SocketAddr::new(args.bind, args.port),
        unix_socket: args.unix_socket,
        dir: (!args.in_memory).then_some(args.dir),
        engine,
        ack: match args.fsync {
            Fsync::Always => Ack::Durable,
            Fsync::Everysec | Fsync::No => Ack::Visible,
        },
        limits: LimitsConfig {
            max_clients: args.maxclients,
            max_bulk_bytes: args.proto_max_bulk_len,
            max_args: args.proto_max_multibulk_len,
            max_inline_bytes: args.proto_inline_max_size,
            query_buffer_bytes: args.client_query_buffer_limit,
            output_buffer_bytes: args.client_output_buffer_bytes,
            idle_timeout_s: args.timeout,
        },
        requirepass: args.requirepass,
    }
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let config = config(Args::parse());
    if let Some(dir) = &config.dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the data directory {}", dir.display()))?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let server = Server::bind(config).await?;
        let stop = server.shutdown_handle();
        tokio::spawn(async move {
            let mut terminate =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("installing a SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            tracing::info!("signal received");
            stop.shutdown();
        });
        server.run().await;
        anyhow::Ok(())
    })
}
