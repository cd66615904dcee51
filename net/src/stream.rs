//! The client side's socket: TCP or a Unix socket, and the replies read off it.
//!
//! Shared by the plain [`Client`](crate::Client) and the smart client's connection:
//! a [`Stream`] is the socket, an [`Incoming`] reads whole replies (and pushes) off
//! it within [`ReplyLimits`].

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use bytes::BytesMut;

use crate::client::ClientError;
use crate::reply_parse::{ReplyLimits, Value, parse_reply};

/// A connected socket.
pub(crate) enum Stream {
    /// TCP, with Nagle's algorithm off.
    Tcp(TcpStream),
    /// A Unix domain socket.
    Unix(UnixStream),
}

impl Stream {
    /// Connects over TCP.
    pub(crate) fn tcp(addr: impl ToSocketAddrs) -> std::io::Result<Stream> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Stream::Tcp(stream))
    }

    /// Connects over a Unix socket.
    pub(crate) fn unix(path: impl AsRef<Path>) -> std::io::Result<Stream> {
        Ok(Stream::Unix(UnixStream::connect(path)?))
    }

    /// Another handle on the same socket (one thread reads, another writes).
    pub(crate) fn try_clone(&self) -> std::io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(stream) => Stream::Tcp(stream.try_clone()?),
            Stream::Unix(stream) => Stream::Unix(stream.try_clone()?),
        })
    }

    /// Closes both directions: a thread blocked reading returns.
    pub(crate) fn shutdown(&self) {
        // Already closed is fine: the point is that it is closed.
        let _ = match self {
            Stream::Tcp(stream) => stream.shutdown(Shutdown::Both),
            Stream::Unix(stream) => stream.shutdown(Shutdown::Both),
        };
    }

    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
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

    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Stream::Tcp(stream) => stream.write_all(bytes),
            Stream::Unix(stream) => stream.write_all(bytes),
        }
    }
}

/// Bytes read from the socket at a time.
const READ_CHUNK_BYTES: usize = 16 * 1024;

/// Appends a command (name first) to `out` as a RESP array of bulk strings.
pub(crate) fn encode_command<A: AsRef<[u8]>>(args: &[A], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// The reading end: whole values off a stream.
pub(crate) struct Incoming {
    pub(crate) stream: Stream,
    input: BytesMut,
    pub(crate) limits: ReplyLimits,
}

impl Incoming {
    pub(crate) fn new(stream: Stream, limits: ReplyLimits) -> Self {
        Incoming {
            stream,
            input: BytesMut::with_capacity(READ_CHUNK_BYTES),
            limits,
        }
    }

    /// The next value on the connection; `None` if the read timed out.
    pub(crate) fn read_value(&mut self) -> Result<Option<Value>, ClientError> {
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
