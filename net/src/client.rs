//! A plain blocking client: one connection, RESP3, a command at a time.
//!
//! The client half of the protocol, for tools, tests and (next) the smart client:
//! `HELLO 3` at connect, requests as RESP arrays, replies read within
//! [`ReplyLimits`]. Pushes (such as `invalidate` after `CLIENT TRACKING ON`) that
//! arrive while a reply is awaited are kept, in order, for [`Client::next_push`].
//! An error reply is a value ([`Value::Error`]), not a failure: the connection is
//! fine. A failure ([`ClientError`]) means the connection is lost or out of step.

use std::collections::VecDeque;
use std::net::ToSocketAddrs;
use std::path::Path;
use std::time::Duration;

use thiserror::Error;

use crate::reply_parse::{ReplyError, ReplyLimits, Value};
use crate::stream::{Incoming, Stream, encode_command};

/// Why a client call failed. The connection cannot be used after one.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The socket failed.
    #[error("connection error: {0}")]
    Io(std::io::Error),
    /// The server's bytes are not RESP within the limits.
    #[error(transparent)]
    Reply(#[from] ReplyError),
    /// The server closed the connection.
    #[error("the server closed the connection")]
    Closed,
    /// The server refused `HELLO 3`.
    #[error("the server refused RESP3: {0}")]
    Handshake(String),
}

/// The socket's error goes into the message, so it is not also a `source` (a chain
/// printed in full would name it twice).
impl From<std::io::Error> for ClientError {
    fn from(error: std::io::Error) -> Self {
        ClientError::Io(error)
    }
}

/// A connection to a Chiral (or Redis) server.
pub struct Client {
    incoming: Incoming,
    pushes: VecDeque<Value>,
}

impl Client {
    /// Connects over TCP and switches to RESP3.
    pub fn connect(addr: impl ToSocketAddrs) -> Result<Client, ClientError> {
        Client::start(Stream::tcp(addr)?)
    }

    /// Connects over a Unix socket and switches to RESP3.
    pub fn connect_unix(path: impl AsRef<Path>) -> Result<Client, ClientError> {
        Client::start(Stream::unix(path)?)
    }

    fn start(stream: Stream) -> Result<Client, ClientError> {
        let mut client = Client {
            incoming: Incoming::new(stream, ReplyLimits::default()),
            pushes: VecDeque::new(),
        };
        match client.command(&["HELLO", "3"])? {
            Value::Error(message) => Err(ClientError::Handshake(message)),
            _ => Ok(client),
        }
    }

    /// Replaces the limits replies are read within.
    pub fn set_limits(&mut self, limits: ReplyLimits) {
        self.incoming.limits = limits;
    }

    /// Sends a command (name first) and waits for its reply.
    pub fn command<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Value, ClientError> {
        let mut request =
            Vec::with_capacity(16 + args.iter().map(|a| a.as_ref().len() + 16).sum::<usize>());
        encode_command(args, &mut request);
        self.incoming.stream.write_all(&request)?;
        self.incoming.stream.set_read_timeout(None)?;
        loop {
            match self.incoming.read_value()? {
                Some(Value::Push(push)) => self.pushes.push_back(Value::Push(push)),
                Some(reply) => return Ok(reply),
                None => unreachable!("no timeout is set"),
            }
        }
    }

    /// The next push from the server, waiting at most `timeout` (`None`: for ever);
    /// `Ok(None)` when the time ran out.
    pub fn next_push(&mut self, timeout: Option<Duration>) -> Result<Option<Value>, ClientError> {
        if let Some(push) = self.pushes.pop_front() {
            return Ok(Some(push));
        }
        if timeout == Some(Duration::ZERO) {
            return Ok(None);
        }
        self.incoming.stream.set_read_timeout(timeout)?;
        match self.incoming.read_value()? {
            None => Ok(None),
            Some(push @ Value::Push(_)) => Ok(Some(push)),
            // A reply nobody asked for: the stream is out of step.
            Some(_) => Err(ClientError::Reply(ReplyError::Invalid(
                "reply without a request",
            ))),
        }
    }
}
