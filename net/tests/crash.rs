//! The real `chiral-server` binary, killed with SIGKILL while clients write: every
//! write the server acknowledged is there after a restart. And a clean SHUTDOWN
//! keeps everything and leaves a snapshot to restart from.
//!
//! A killed process leaves its written pages in the kernel's cache, so this proves
//! the order "in the log, then answered"; losing the machine is what the fsync
//! policy covers (`--fsync always` answers after the fdatasync), which the engine's
//! fault-injection tests check.

mod common;

use std::time::Duration;

use common::Running;

#[test]
fn sigkill_loses_no_acknowledged_write_with_fsync_always() {
    let dir = tempfile::tempdir().unwrap();
    let mut acknowledged: Vec<(String, u64)> = Vec::new();
    let mut next = 0u64;
    for cycle in 0..6 {
        let server = Running::start(dir.path(), &["--fsync", "always"]);
        let mut c = server.connect().unwrap();
        // Everything acknowledged before is there.
        for (key, value) in &acknowledged {
            let found: Option<u64> = redis::cmd("GET").arg(key).query(&mut c).unwrap();
            assert_eq!(found, Some(*value), "cycle {cycle}: {key} lost");
        }
        // Writers run while the server is killed under them.
        let writers: Vec<_> = (0..3)
            .map(|writer| {
                let port = server.port;
                let start = next + writer * 1_000_000;
                std::thread::spawn(move || {
                    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
                    let mut c = client.get_connection().unwrap();
                    let mut done = Vec::new();
                    for i in start.. {
                        let key = format!("k{i}");
                        match redis::cmd("SET").arg(&key).arg(i).query::<()>(&mut c) {
                            Ok(()) => done.push((key, i)),
                            Err(_) => break,
                        }
                    }
                    done
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(150 + 70 * cycle));
        server.kill();
        for writer in writers {
            acknowledged.extend(writer.join().unwrap());
        }
        next += 10_000_000;
    }
    assert!(
        acknowledged.len() > 100,
        "writes happened: {}",
        acknowledged.len()
    );
    let server = Running::start(dir.path(), &[]);
    let mut c = server.connect().unwrap();
    for (key, value) in &acknowledged {
        let found: Option<u64> = redis::cmd("GET").arg(key).query(&mut c).unwrap();
        assert_eq!(found, Some(*value), "{key} lost");
    }
    let () = redis::cmd("SHUTDOWN").query(&mut c).unwrap_or(());
    server.wait();
}

#[test]
fn a_clean_shutdown_keeps_everything_and_restarts_from_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(dir.path(), &["--io-backend", "std"]);
    let mut c = server.connect().unwrap();
    for i in 0..1000 {
        let () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut c)
            .unwrap();
    }
    let () = redis::cmd("HSET")
        .arg("h")
        .arg("f")
        .arg("v")
        .query(&mut c)
        .unwrap();
    let () = redis::cmd("SAVE").query(&mut c).unwrap();
    let saved_at: i64 = redis::cmd("LASTSAVE").query(&mut c).unwrap();
    assert!(saved_at > 1_700_000_000);
    let () = redis::cmd("SET")
        .arg("after-save")
        .arg("1")
        .query(&mut c)
        .unwrap();
    let started: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    assert_eq!(started, "Background saving started");
    // SHUTDOWN closes the connection without a reply, as Redis does, and only once
    // the server has stopped listening: a new client is refused at once, not left
    // waiting while the database closes.
    assert!(redis::cmd("SHUTDOWN").query::<()>(&mut c).is_err());
    let refused = std::net::TcpStream::connect(("127.0.0.1", server.port));
    assert!(
        refused.is_err(),
        "a connection was accepted during shutdown"
    );
    server.wait();
    assert!(
        std::fs::read_dir(dir.path()).unwrap().any(|entry| entry
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("snap-")),
        "a snapshot was written"
    );
    let server = Running::start(dir.path(), &[]);
    let mut c = server.connect().unwrap();
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 1002);
    assert_eq!(
        redis::cmd("GET").arg("k999").query::<i64>(&mut c).unwrap(),
        999
    );
    assert_eq!(
        redis::cmd("HGET")
            .arg("h")
            .arg("f")
            .query::<String>(&mut c)
            .unwrap(),
        "v"
    );
    assert!(redis::cmd("SHUTDOWN").query::<()>(&mut c).is_err());
    server.wait();
}

#[test]
fn sigterm_stops_cleanly_with_exit_zero() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(dir.path(), &["--fsync", "never"]);
    let mut c = server.connect().unwrap();
    for i in 0..500 {
        let () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut c)
            .unwrap();
    }
    // SAFETY: signalling our own child, whose pid stays valid until `wait`.
    unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
    server.wait();
    let server = Running::start(dir.path(), &[]);
    let mut c = server.connect().unwrap();
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 500);
    // SAFETY: as above.
    unsafe { libc::kill(server.child.id() as i32, libc::SIGINT) };
    server.wait();
}
