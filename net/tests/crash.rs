//! The real `chiral-server` binary, killed with SIGKILL while clients write: every
//! write the server acknowledged is there after a restart. And a clean SHUTDOWN
//! keeps everything and leaves a snapshot to restart from; a damaged log stops the
//! start until `--repair`, and a start error names its cause once.
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

#[test]
fn a_damaged_log_stops_the_start_until_repair() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(dir.path(), &["--fsync", "always"]);
    let mut c = server.connect().unwrap();
    for i in 0..10 {
        let () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut c)
            .unwrap();
    }
    // Killed, so no snapshot takes the records out of the log.
    server.kill();
    let segment = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|ext| ext == "log"))
        .expect("a log segment");
    // Damage the fourth record's payload (segment header 16 bytes, each record a
    // 24-byte header and its payload): records synced after it say it was on disk.
    let mut bytes = std::fs::read(&segment).unwrap();
    let mut offset = 16;
    for _ in 0..3 {
        offset += 24 + u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap()) as usize;
    }
    bytes[offset + 24 + 2] ^= 0x55;
    std::fs::write(&segment, &bytes).unwrap();
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_chiral-server"))
        .args(["--port", "0", "--dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("corrupt log record") && message.contains("--repair"),
        "{message}"
    );
    assert_eq!(
        std::fs::read(&segment).unwrap(),
        bytes,
        "nothing was changed"
    );
    let server = Running::start(dir.path(), &["--repair"]);
    let mut c = server.connect().unwrap();
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 3);
    assert_eq!(redis::cmd("GET").arg("k2").query::<i64>(&mut c).unwrap(), 2);
    let () = redis::cmd("SET")
        .arg("after")
        .arg("repair")
        .query(&mut c)
        .unwrap();
    server.kill();
    let server = Running::start(dir.path(), &[]);
    let mut c = server.connect().unwrap();
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 4);
    server.kill();
}

#[test]
fn a_start_error_names_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("DATASET"), "not an id\n").unwrap();
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_chiral-server"))
        .args(["--port", "0", "--dir", dir.path().to_str().unwrap()])
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("DATASET"), "{message}");
    assert_eq!(
        message.matches("16 hex digits").count(),
        1,
        "the cause once, not again as its own cause: {message}"
    );
}
