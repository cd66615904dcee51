//! The real `chiral-server` binary on a free loopback port, for the tests that need
//! the process itself (kills, signals, the command-line client).
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (bound, then released for the server to take).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `chiral-server` process.
pub struct Running {
    /// The process.
    pub child: Child,
    /// Its port.
    pub port: u16,
}

impl Running {
    /// A server over the data directory `dir`, with `extra` flags.
    pub fn start(dir: &Path, extra: &[&str]) -> Running {
        let mut args = vec!["--dir", dir.to_str().expect("a UTF-8 path")];
        args.extend_from_slice(extra);
        Running::with_args(&args)
    }

    /// A server started with `args` (and a free port).
    pub fn with_args(args: &[&str]) -> Running {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_chiral-server"))
            .arg("--port")
            .arg(port.to_string())
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("chiral-server starts");
        let running = Running { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while running.connect().is_none() {
            assert!(Instant::now() < deadline, "the server never answered");
            std::thread::sleep(Duration::from_millis(20));
        }
        running
    }

    /// A `redis` crate connection, once the server answers PING.
    pub fn connect(&self) -> Option<redis::Connection> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).ok()?;
        let mut connection = client.get_connection().ok()?;
        redis::cmd("PING").query::<String>(&mut connection).ok()?;
        Some(connection)
    }

    /// SIGKILL, then reap.
    pub fn kill(mut self) {
        // SAFETY: sending a signal to our own child process, whose pid is valid
        // until we wait for it below.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGKILL) };
        let _ = self.child.wait();
    }

    /// Waits for a clean exit.
    pub fn wait(mut self) {
        let status = self.child.wait().unwrap();
        assert!(status.success(), "clean exit, got {status}");
    }
}

impl Drop for Running {
    /// A test that fails midway leaves no server behind (a no-op once reaped).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
