//! A plain blocking client: one connection, RESP3, a command at a time.
//!
//! The client half of the protocol, for tools, tests and (next) the smart client:
//! `HELLO 3` at connect, requests as RESP arrays, replies read within
//! [`ReplyLimits`]. Pushes (such as `invalidate` after `CLIENT TRACKING ON`) that
//! arrive while a reply is awaited are kept, in order, for [`Client::next_push`].
//! An error reply is a value ([`Value::Error`]), not a failure: the connection is
//! fine. A failure ([`ClientError`]) means the connection is lost or out of step.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use bytes::BytesMut;
use thiserror::Error;

use crate::reply_parse::{ReplyError, ReplyLimits, Value, parse_reply};

/// Why a client call failed. The connection cannot be used after one.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The socket failed.
    #[error("connection error: {0}")]
    Io(#[from] std::io::Error),
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

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        match self {
            Stream::Tcp(stream) => stream.set_read_timeout(timeout),
            Stream::Unix(stream) => stream.set_read_timeout(timeout),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(stream) => stream.read(buf),
            Stream::Unix(stream) => stream.read(buf),
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Stream::Tcp(stream) => stream.write_all(bytes),
            Stream::Unix(stream) => stream.write_all(bytes),
        }
    }
}

/// Bytes read from the socket at a time.
const READ_CHUNK_BYTES: usize = 16 * 1024;

/// A connection to a Chiral (or Redis) server.
pub struct Client {
    stream: Stream,
    input: BytesMut,
    limits: ReplyLimits,
    pushes: VecDeque<Value>,
}

impl Client {
    /// Connects over TCP and switches to RESP3.
    pub fn connect(addr: impl ToSocketAddrs) -> Result<Client, ClientError> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Client::start(Stream::Tcp(stream))
    }

    /// Connects over a Unix socket and switches to RESP3.
    pub fn connect_unix(path: impl AsRef<Path>) -> Result<Client, ClientError> {
        Client::start(Stream::Unix(UnixStream::connect(path)?))
    }

    fn start(stream: Stream) -> Result<Client, ClientError> {
        let mut client = Client {
            stream,
            input: BytesMut::with_capacity(READ_CHUNK_BYTES),
            limits: ReplyLimits::default(),
            pushes: VecDeque::new(),
        };
        match client.command(&["HELLO", "3"])? {
            Value::Error(message) => Err(ClientError::Handshake(message)),
            _ => Ok(client),
        }
    }

    /// Replaces the limits replies are read within.
    pub fn set_limits(&mut self, limits: ReplyLimits) {
        self.limits = limits;
    }

    /// Sends a command (name first) and waits for its reply.
    pub fn command<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Value, ClientError> {
        let mut request =
            Vec::with_capacity(16 + args.iter().map(|a| a.as_ref().len() + 16).sum::<usize>());
        request.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for arg in args {
            let arg = arg.as_ref();
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg);
            request.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&request)?;
        self.stream.set_read_timeout(None)?;
        loop {
            match self.read_value()? {
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
        self.stream.set_read_timeout(timeout)?;
        match self.read_value()? {
            None => Ok(None),
            Some(push @ Value::Push(_)) => Ok(Some(push)),
            // A reply nobody asked for: the stream is out of step.
            Some(_) => Err(ClientError::Reply(ReplyError::Invalid(
                "reply without a request",
            ))),
        }
    }

    /// The next value on the connection; `None` if the read timed out.
    fn read_value(&mut self) -> Result<Option<Value>, ClientError> {
        loop {
            if let Some(value) = parse_reply(&mut self.input, &self.limits)? {
                return Ok(Some(value));
            }
            let start = self.input.len();
            self.input.resize(start + READ_CHUNK_BYTES, 0);
            let read = self.stream.read(&mut self.input[start..]);
            self.input.truncate(start + *read.as_ref().unwrap_or(&0));
            match read {
                Ok(0) => return Err(ClientError::Closed),
                Ok(_) => {}
                Err(error)
                    if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    return Ok(None);
                }
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => return Err(error.into()),
            }
        }
    }
}
