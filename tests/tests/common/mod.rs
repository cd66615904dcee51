//! A real server on a free loopback port, with a runtime of its own, and a raw
//! socket client for checking exact bytes on the wire.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use chiral_net::{Config, LimitsConfig, Server, ShutdownHandle};

/// A server running on a thread of its own; shut down and joined on drop.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: ShutdownHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// An in-memory server with default limits.
    pub fn start() -> Self {
        Self::with(|_| {})
    }

    /// A server over the data directory `dir`.
    pub fn on_dir(dir: &Path) -> Self {
        let dir = dir.to_path_buf();
        Self::with(move |config| config.dir = Some(dir))
    }

    /// A server with limits `limits`.
    pub fn with_limits(limits: LimitsConfig) -> Self {
        Self::with(move |config| config.limits = limits)
    }

    /// A server whose configuration `edit` adjusts (port 0: a free port).
    pub fn with(edit: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config {
            bind: "127.0.0.1:0".parse().unwrap(),
            ..Config::default()
        };
        edit(&mut config);
        let (sender, receiver) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let server = Server::bind(config).await.expect("server starts");
                sender
                    .send((server.local_addr(), server.shutdown_handle()))
                    .unwrap();
                server.run().await;
            });
        });
        let (addr, stop) = receiver.recv().expect("the server reports its address");
        TestServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// A `redis` crate connection (RESP2).
    pub fn redis(&self) -> redis::Connection {
        self.client("").get_connection().unwrap()
    }

    /// A `redis` crate connection speaking RESP3.
    pub fn redis3(&self) -> redis::Connection {
        self.client("?protocol=resp3").get_connection().unwrap()
    }

    fn client(&self, query: &str) -> redis::Client {
        redis::Client::open(format!("redis://{}/{query}", self.addr)).unwrap()
    }

    /// A raw socket.
    pub fn raw(&self) -> Raw {
        let stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Raw { stream }
    }

    /// Shuts the server down and waits until the database is closed.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.shutdown();
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A socket that sends bytes and checks the exact bytes that come back.
pub struct Raw {
    /// The connection.
    pub stream: TcpStream,
}

impl Raw {
    /// Sends `request` and asserts the reply is exactly `expected`.
    pub fn check(&mut self, request: &[u8], expected: &[u8]) {
        self.stream.write_all(request).unwrap();
        let got = self.read_exactly(expected.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected),
            "reply to {:?}",
            String::from_utf8_lossy(request)
        );
    }

    /// Reads `len` bytes.
    pub fn read_exactly(&mut self, len: usize) -> Vec<u8> {
        let mut got = vec![0; len];
        self.stream.read_exact(&mut got).unwrap();
        got
    }

    /// Reads one whole reply (RESP2 or RESP3, any nesting) and returns its bytes.
    pub fn read_frame(&mut self) -> Vec<u8> {
        let mut frame = Vec::new();
        self.read_frame_into(&mut frame);
        frame
    }

    fn read_line_into(&mut self, frame: &mut Vec<u8>) -> String {
        let start = frame.len();
        while !frame.ends_with(b"\r\n") || frame.len() < start + 2 {
            frame.extend(self.read_exactly(1));
        }
        String::from_utf8_lossy(&frame[start + 1..frame.len() - 2]).into_owned()
    }

    fn read_frame_into(&mut self, frame: &mut Vec<u8>) {
        let start = frame.len();
        let header = self.read_line_into(frame);
        let count = |text: &str| text.parse::<i64>().expect("a length");
        match frame[start] {
            b'$' | b'=' | b'!' if count(&header) >= 0 => {
                let len = count(&header) as usize + 2;
                frame.extend(self.read_exactly(len));
            }
            b'*' | b'~' | b'>' if count(&header) >= 0 => {
                for _ in 0..count(&header) {
                    self.read_frame_into(frame);
                }
            }
            b'%' | b'|' => {
                for _ in 0..2 * count(&header) {
                    self.read_frame_into(frame);
                }
            }
            _ => {}
        }
    }

    /// Sends `request` and returns its whole reply.
    pub fn send(&mut self, request: &[u8]) -> Vec<u8> {
        self.stream.write_all(request).unwrap();
        self.read_frame()
    }

    /// Whether the server closed the connection (reads end of stream, or a reset)
    /// within the read timeout. Nothing arriving in that time is not a close.
    pub fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        match self.stream.read(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(error) => !matches!(
                error.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        }
    }
}
