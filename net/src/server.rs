//! The server: opens the database, listens, accepts clients within the limit, keeps
//! the registry of connected clients (CLIENT LIST, CLIENT KILL, INFO) and shuts
//! down cleanly: stop accepting, close every connection, close the database.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use chiral::{Ack, Db};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::acl::Acl;
use crate::cmd::control::KillFilter;
use crate::config::{Config, Settings};
use crate::connection;
use crate::mailbox::Mailboxes;
use crate::pubsub::PubSub;
use crate::tracking::Tracking;

/// How long shutdown waits for connections to finish their current request.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why the server could not start. The variants with a cause return it as their
/// `source` and leave it out of their message, so that a report of the chain (as
/// `anyhow` prints it) says it once.
#[derive(Debug, Error)]
pub enum StartError {
    /// The database would not open.
    #[error("could not open the database")]
    Open(#[from] chiral::OpenError),
    /// A listening socket could not be bound.
    #[error("could not listen on {address}")]
    Bind {
        /// The address.
        address: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The users file could not be read.
    #[error("could not load the ACL users: {0}")]
    Acl(String),
    /// Opening the database panicked or was cancelled.
    #[error("opening the database failed: {0}")]
    Join(String),
}

/// Counters INFO reports.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    connections_received: AtomicU64,
    commands_processed: AtomicU64,
    rejected_connections: AtomicU64,
}

impl Stats {
    /// Counts a command.
    pub(crate) fn command(&self) {
        self.commands_processed.fetch_add(1, Ordering::Relaxed);
    }

    /// (connections received, commands processed, rejected connections).
    pub(crate) fn read(&self) -> (u64, u64, u64) {
        (
            self.connections_received.load(Ordering::Relaxed),
            self.commands_processed.load(Ordering::Relaxed),
            self.rejected_connections.load(Ordering::Relaxed),
        )
    }

    /// CONFIG RESETSTAT.
    pub(crate) fn reset(&self) {
        self.connections_received.store(0, Ordering::Relaxed);
        self.commands_processed.store(0, Ordering::Relaxed);
        self.rejected_connections.store(0, Ordering::Relaxed);
    }
}

/// What every connection shares.
pub(crate) struct Shared {
    pub(crate) db: Db,
    pub(crate) settings: Settings,
    pub(crate) acl: Acl,
    pub(crate) ack: Ack,
    pub(crate) stats: Stats,
    pub(crate) started: Instant,
    pub(crate) tcp_port: u16,
    pub(crate) dir: Option<std::path::PathBuf>,
    clients: Mutex<HashMap<u64, Arc<ClientHandle>>>,
    next_client_id: AtomicU64,
    last_save_unix: AtomicU64,
    pub(crate) bgsave_running: AtomicBool,
    shutdown: watch::Sender<bool>,
    /// Client-side caching: who tracks which keys.
    pub(crate) tracking: Tracking,
    /// Every connection's queue of pushes.
    pub(crate) mailboxes: Mailboxes,
    /// Pub/Sub subscriptions.
    pub(crate) pubsub: PubSub,
}

/// A connected client as the registry sees it.
pub(crate) struct ClientHandle {
    pub(crate) id: u64,
    addr: String,
    local_addr: String,
    connected: Instant,
    meta: Mutex<ClientMeta>,
    /// Notified when the client is killed (CLIENT KILL, shutdown).
    pub(crate) kill: Notify,
    killed: AtomicBool,
}

struct ClientMeta {
    name: Option<Bytes>,
    last_command: &'static str,
    last_active: Instant,
    resp: i64,
    user: String,
    /// Pub/Sub channels and patterns subscribed.
    subscriptions: (usize, usize),
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn unix_now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

impl ClientHandle {
    /// Records that the client's last command is `command` (its session calls this
    /// only when the name changes: a lock per command would cost a pipeline of GETs
    /// a few percent).
    pub(crate) fn set_last_command(&self, command: &'static str) {
        lock(&self.meta).last_command = command;
    }

    /// Records that the client sent something now (once per read, not per command:
    /// CLIENT LIST reports idle time in seconds).
    pub(crate) fn mark_active(&self) {
        lock(&self.meta).last_active = Instant::now();
    }

    /// When the client last sent something.
    pub(crate) fn last_active(&self) -> Instant {
        lock(&self.meta).last_active
    }

    /// CLIENT SETNAME.
    pub(crate) fn set_name(&self, name: Option<Bytes>) {
        lock(&self.meta).name = name;
    }

    /// CLIENT GETNAME.
    pub(crate) fn name(&self) -> Option<Bytes> {
        lock(&self.meta).name.clone()
    }

    /// The protocol version, for CLIENT LIST.
    pub(crate) fn set_resp(&self, resp: i64) {
        lock(&self.meta).resp = resp;
    }

    /// How many channels and patterns the client subscribes to, for CLIENT LIST.
    pub(crate) fn set_subscriptions(&self, channels: usize, patterns: usize) {
        lock(&self.meta).subscriptions = (channels, patterns);
    }

    /// The user the client is authenticated as, for CLIENT LIST.
    pub(crate) fn set_user(&self, user: &str) {
        lock(&self.meta).user = user.to_string();
    }

    /// Whether the client was told to go.
    pub(crate) fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    fn kill_now(&self) {
        self.killed.store(true, Ordering::Release);
        // A stored permit: the connection sees it even if it is not waiting now.
        self.kill.notify_one();
    }

    /// Whether the client matches every filter of a CLIENT KILL.
    fn matches(&self, filter: &KillFilter) -> bool {
        let user_matches = filter
            .user
            .as_ref()
            .is_none_or(|user| lock(&self.meta).user.as_bytes() == &user[..]);
        filter.type_matches
            && filter.id.is_none_or(|id| self.id == id)
            && filter
                .addr
                .as_ref()
                .is_none_or(|addr| self.addr.as_bytes() == &addr[..])
            && filter
                .laddr
                .as_ref()
                .is_none_or(|laddr| self.local_addr.as_bytes() == &laddr[..])
            && filter
                .max_age_secs
                .is_none_or(|max| self.connected.elapsed().as_secs() > max)
            && user_matches
    }

    /// The client's CLIENT LIST line.
    pub(crate) fn describe(&self) -> String {
        let meta = lock(&self.meta);
        format!(
            "id={} addr={} laddr={} fd=-1 name={} age={} idle={} flags={} db=0 sub={} psub={} ssub=0 multi=-1 cmd={} user={} resp={}\n",
            self.id,
            self.addr,
            self.local_addr,
            meta.name
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default(),
            self.connected.elapsed().as_secs(),
            meta.last_active.elapsed().as_secs(),
            // P: a Pub/Sub subscriber; N: nothing special.
            if meta.subscriptions == (0, 0) {
                "N"
            } else {
                "P"
            },
            meta.subscriptions.0,
            meta.subscriptions.1,
            meta.last_command,
            meta.user,
            meta.resp,
        )
    }
}

impl Shared {
    /// CLIENT LIST.
    pub(crate) fn client_list(&self) -> String {
        let clients: Vec<Arc<ClientHandle>> = {
            let mut all: Vec<_> = lock(&self.clients).values().cloned().collect();
            all.sort_by_key(|client| client.id);
            all
        };
        clients.iter().map(|client| client.describe()).collect()
    }

    /// Connected clients.
    pub(crate) fn client_count(&self) -> usize {
        lock(&self.clients).len()
    }

    /// CLIENT KILL: kills the clients matching every filter. Returns how many
    /// matched, and whether the caller `me` is among them: it is counted but left
    /// to close itself after its reply.
    pub(crate) fn kill(&self, filter: &KillFilter, me: u64) -> (usize, bool) {
        let clients = lock(&self.clients);
        let (mut killed, mut killed_me) = (0, false);
        for client in clients.values() {
            // A client killed already is on its way out: not counted again.
            if client.is_killed() || !client.matches(filter) || (filter.skip_me && client.id == me)
            {
                continue;
            }
            killed += 1;
            if client.id == me {
                killed_me = true;
            } else {
                client.kill_now();
            }
        }
        (killed, killed_me)
    }

    /// When the last snapshot the server asked for finished (or it started).
    pub(crate) fn last_save_unix(&self) -> u64 {
        self.last_save_unix.load(Ordering::Relaxed)
    }

    /// Records a finished snapshot.
    pub(crate) fn saved_now(&self) {
        self.last_save_unix.store(unix_now_s(), Ordering::Relaxed);
    }

    /// Starts shutting the server down (SHUTDOWN).
    pub(crate) fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    fn register(&self, addr: String, local_addr: String) -> Arc<ClientHandle> {
        let client = Arc::new(ClientHandle {
            id: self.next_client_id.fetch_add(1, Ordering::Relaxed),
            addr,
            local_addr,
            connected: Instant::now(),
            meta: Mutex::new(ClientMeta {
                name: None,
                last_command: "NULL",
                last_active: Instant::now(),
                resp: 2,
                user: "default".into(),
                subscriptions: (0, 0),
            }),
            kill: Notify::new(),
            killed: AtomicBool::new(false),
        });
        lock(&self.clients).insert(client.id, Arc::clone(&client));
        client
    }

    fn unregister(&self, id: u64) {
        lock(&self.clients).remove(&id);
    }
}

/// A running server.
pub struct Server {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    listener: TcpListener,
    unix: Option<tokio::net::UnixListener>,
}

impl Server {
    /// Opens the database and binds the listening sockets.
    pub async fn bind(config: Config) -> Result<Server, StartError> {
        let acl = Acl::load(config.acl_file.clone(), config.requirepass.clone())
            .map_err(StartError::Acl)?;
        let engine = config.engine.clone();
        let dir = config.dir.clone();
        let db = tokio::task::spawn_blocking(move || match &dir {
            Some(dir) => Db::open(dir, engine),
            None => Db::open_in_memory(engine),
        })
        .await
        .map_err(|error| StartError::Join(error.to_string()))??;
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| StartError::Bind {
                address: config.bind.to_string(),
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| StartError::Bind {
            address: config.bind.to_string(),
            source,
        })?;
        let unix = match &config.unix_socket {
            Some(path) => {
                // A socket file left by an earlier run would make bind fail.
                let _ = std::fs::remove_file(path);
                Some(
                    tokio::net::UnixListener::bind(path).map_err(|source| StartError::Bind {
                        address: path.display().to_string(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        let (shutdown, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            db,
            settings: Settings::new(&config.limits),
            acl,
            ack: config.ack,
            stats: Stats::default(),
            started: Instant::now(),
            tcp_port: local_addr.port(),
            dir: config.dir.clone(),
            clients: Mutex::new(HashMap::new()),
            next_client_id: AtomicU64::new(1),
            last_save_unix: AtomicU64::new(unix_now_s()),
            bgsave_running: AtomicBool::new(false),
            shutdown,
            tracking: Tracking::new(),
            mailboxes: Mailboxes::default(),
            pubsub: PubSub::default(),
        });
        tracing::info!(address = %local_addr, unix = ?config.unix_socket, dir = ?config.dir, "listening");
        Ok(Server {
            shared,
            local_addr,
            listener,
            unix,
        })
    }

    /// The TCP address the server listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle that stops the server from outside (a signal, a test).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(Arc::clone(&self.shared))
    }

    /// Serves until SHUTDOWN or the handle says stop; then closes every connection
    /// and the database (which commits what is queued and, if configured, takes a
    /// snapshot).
    pub async fn run(self) {
        let Server {
            shared,
            listener,
            unix,
            ..
        } = self;
        let mut stop = shared.shutdown.subscribe();
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        let local = stream.local_addr().map(|a| a.to_string()).unwrap_or_default();
                        admit(&shared, &mut connections, stream, peer.to_string(), local);
                    }
                    Err(error) => accept_failed(error).await,
                },
                accepted = accept_unix(unix.as_ref()) => match accepted {
                    Ok(stream) => admit(&shared, &mut connections, stream, "unix".into(), "unix".into()),
                    Err(error) => accept_failed(error).await,
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                _ = stop.wait_for(|stop| *stop) => break,
            }
        }
        // Stop accepting first: a client that connects from now on is refused, not
        // left waiting in the backlog while the database closes.
        drop(listener);
        drop(unix);
        tracing::info!("shutting down: closing connections");
        for client in lock(&shared.clients).values() {
            client.kill_now();
        }
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            connections.abort_all();
        }
        let db = shared.db.clone();
        let _ = tokio::task::spawn_blocking(move || db.close()).await;
        tracing::info!("database closed");
    }
}

/// Stops a running server.
#[derive(Clone)]
pub struct ShutdownHandle(Arc<Shared>);

impl ShutdownHandle {
    /// Asks the server to shut down.
    pub fn shutdown(&self) {
        self.0.shutdown();
    }
}

async fn accept_unix(
    listener: Option<&tokio::net::UnixListener>,
) -> std::io::Result<tokio::net::UnixStream> {
    match listener {
        Some(listener) => listener.accept().await.map(|(stream, _)| stream),
        None => std::future::pending().await,
    }
}

/// Accepting fails when the process is out of file descriptors: wait a little
/// instead of spinning.
async fn accept_failed(error: std::io::Error) {
    tracing::warn!(%error, "accept failed");
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// Starts serving `stream`, or refuses it with Redis's error if the server is full.
fn admit<S>(
    shared: &Arc<Shared>,
    connections: &mut JoinSet<()>,
    mut stream: S,
    addr: String,
    local_addr: String,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    shared
        .stats
        .connections_received
        .fetch_add(1, Ordering::Relaxed);
    if shared.client_count() >= shared.settings.max_clients.load(Ordering::Relaxed) {
        shared
            .stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let _ = stream
                .write_all(b"-ERR max number of clients reached\r\n")
                .await;
        });
        return;
    }
    let client = shared.register(addr, local_addr);
    let shared = Arc::clone(shared);
    connections.spawn(async move {
        let id = client.id;
        connection::serve(stream, Arc::clone(&shared), client).await;
        shared.unregister(id);
    });
}
