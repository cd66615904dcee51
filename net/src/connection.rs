//! One client's connection: read requests, hand them to the session, write replies,
//! within the limits.
//!
//! Each read takes what the client has sent; every whole request in it is handled
//! (a pipeline), and the replies go out in one write. While the client does not
//! read its replies the write waits, so this task stops reading requests: a client
//! cannot make the server buffer more than one read's worth of replies, and that is
//! bounded by `client-output-buffer-bytes` (past it the client is disconnected).
//! Unprocessed input is bounded by `client-query-buffer-limit`; a client idle past
//! `timeout` seconds is disconnected; a killed client is closed at once.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::frame::Frame;
use crate::parse::parse_request;
use crate::server::{ClientHandle, Shared};
use crate::session::{Flow, Outgoing, Session};

/// The read buffer's starting size.
const READ_BUFFER_BYTES: usize = 16 * 1024;

/// A reply buffer grown past this by a large reply is released once written.
const RETAINED_BUFFER_BYTES: usize = 1024 * 1024;

/// Requests of a pipeline parsed before they run: as many as one prefetch of their
/// keys covers.
const WINDOW_REQUESTS: usize = chiral::PREFETCH_MAX_KEYS;

/// Why a connection ends.
#[derive(Debug)]
enum End {
    /// The client closed it, QUIT, or an I/O error.
    Done,
    /// Killed, or the server is shutting down.
    Killed,
    /// A limit was passed; the reason is logged.
    Limit(&'static str),
}

/// Serves `stream` until the client leaves, is killed, or breaks a limit.
pub(crate) async fn serve<S>(stream: S, shared: Arc<Shared>, client: Arc<ClientHandle>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let id = client.id;
    let end = run(stream, Arc::clone(&shared), client).await;
    match end {
        End::Done | End::Killed => tracing::debug!(client = id, ?end, "connection closed"),
        End::Limit(reason) => tracing::warn!(client = id, reason, "client disconnected"),
    }
}

async fn run<S>(mut stream: S, shared: Arc<Shared>, client: Arc<ClientHandle>) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut session = Session::new(Arc::clone(&shared), Arc::clone(&client));
    let mut input = BytesMut::with_capacity(READ_BUFFER_BYTES);
    let mut out = BytesMut::with_capacity(READ_BUFFER_BYTES);
    // The requests of the pipeline window being run (a buffer kept between reads).
    let mut requests = Vec::with_capacity(WINDOW_REQUESTS);
    // One wait for a kill for the connection's life: a wait made anew for each
    // request registered and unregistered itself with the `Notify` (a lock, twice)
    // for every read and write.
    let killed = client.kill.notified();
    tokio::pin!(killed);
    let mut idle = IdleTimer::new();
    loop {
        if client.is_killed() {
            return End::Killed;
        }
        let idle_s = shared.settings.idle_timeout_s.load(Ordering::Relaxed);
        idle.arm(idle_s, &client);
        let read = tokio::select! {
            read = stream.read_buf(&mut input) => read,
            push = session.next_push() => {
                // An invalidation or message, between replies.
                match push {
                    Outgoing::Frame(frame) => frame.encode(session.protocol(), &mut out),
                    Outgoing::Nothing => continue,
                    Outgoing::Disconnect(reason) => return End::Limit(reason),
                }
                tokio::select! {
                    biased;
                    written = stream.write_all(&out) => if written.is_err() { return End::Done },
                    () = &mut killed => return End::Killed,
                }
                out.clear();
                continue;
            }
            () = &mut killed => return End::Killed,
            () = idle.expired(), if idle_s > 0 => {
                match idle.rearm_if_active(idle_s, &client) {
                    true => continue,
                    false => return End::Limit("idle timeout"),
                }
            }
        };
        match read {
            Ok(0) | Err(_) => return End::Done,
            Ok(_) => client.mark_active(),
        }
        if input.len() > shared.settings.query_buffer_bytes.load(Ordering::Relaxed) {
            return End::Limit("query buffer limit (client-query-buffer-limit)");
        }
        let limits = shared.settings.parse_limits();
        let output_limit = shared.settings.output_buffer_bytes.load(Ordering::Relaxed);
        let mut flow = Flow::Continue;
        while flow == Flow::Continue {
            // A window of the pipeline: parsed, its keys fetched together, run.
            let mut failed = None;
            while requests.len() < WINDOW_REQUESTS {
                match parse_request(&mut input, &limits) {
                    Ok(Some(args)) if args.is_empty() => {}
                    Ok(Some(args)) => requests.push(args),
                    Ok(None) => break,
                    Err(error) => {
                        failed = Some(error);
                        break;
                    }
                }
            }
            let window_full = requests.len() == WINDOW_REQUESTS;
            session.prefetch(&requests);
            for args in requests.drain(..) {
                // After a QUIT, the rest of the window is not run (nor read).
                if flow == Flow::Continue {
                    flow = session.handle(args, &mut out).await;
                }
                if out.len() > output_limit {
                    return End::Limit("output buffer limit (client-output-buffer-bytes)");
                }
            }
            if let Some(error) = failed.filter(|_| flow == Flow::Continue) {
                // As Redis: answer, then close; the stream is out of step.
                session.flush(&mut out).await;
                Frame::error(format!("ERR {error}")).encode(session.protocol(), &mut out);
                flow = Flow::Close;
            }
            if !window_full {
                break;
            }
        }
        session.flush(&mut out).await;
        if out.len() > output_limit {
            return End::Limit("output buffer limit (client-output-buffer-bytes)");
        }
        if !out.is_empty() {
            // A write most often completes at once; the kill is looked at only when
            // the client is slow to read.
            tokio::select! {
                biased;
                written = stream.write_all(&out) => if written.is_err() { return End::Done },
                () = &mut killed => return End::Killed,
            }
            out.clear();
            if out.capacity() > RETAINED_BUFFER_BYTES {
                out = BytesMut::with_capacity(READ_BUFFER_BYTES);
            }
        }
        if flow == Flow::CloseWhenKilled {
            (&mut killed).await;
        }
        if flow != Flow::Continue {
            let _ = stream.shutdown().await;
            return End::Done;
        }
    }
}

/// The idle timeout's timer, armed for the client's last activity plus the timeout.
/// It is not moved at each request (a timer moved per request cost a timer-wheel
/// removal and insertion each): when it fires, it looks at the client's last
/// activity and re-arms itself from there if the client was active since.
struct IdleTimer {
    sleep: Pin<Box<tokio::time::Sleep>>,
    /// The timeout, in seconds, the timer is armed for (0: not armed).
    armed_s: u64,
}

impl IdleTimer {
    fn new() -> Self {
        IdleTimer {
            sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
            armed_s: 0,
        }
    }

    /// Arms the timer for a timeout of `seconds` (0: none) unless it is armed for it.
    fn arm(&mut self, seconds: u64, client: &ClientHandle) {
        if self.armed_s != seconds {
            self.armed_s = seconds;
            if seconds > 0 {
                let deadline = client.last_active() + Duration::from_secs(seconds);
                self.sleep.as_mut().reset(deadline.into());
            }
        }
    }

    /// Completes when the timer fires.
    async fn expired(&mut self) {
        self.sleep.as_mut().await;
    }

    /// After the timer fired: re-arms it and says `true` if the client was active
    /// within the last `seconds`; `false` if it has been idle that long.
    fn rearm_if_active(&mut self, seconds: u64, client: &ClientHandle) -> bool {
        let deadline = client.last_active() + Duration::from_secs(seconds);
        if deadline <= std::time::Instant::now() {
            return false;
        }
        self.sleep.as_mut().reset(deadline.into());
        true
    }
}
