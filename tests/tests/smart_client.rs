//! The smart client against the real server: local reads that follow other clients'
//! writes without a round trip, deletes and expiries, the server's window bound,
//! write-behind order and rejections, dropped connections and restarts within the
//! staleness bound, and many threads at once.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chiral_net::{Consistency, Rejection, SmartClient, SmartError, SmartOptions};
use common::TestServer;
use redis::Commands;

fn eventual(max_staleness: Duration) -> SmartOptions {
    SmartOptions {
        consistency: Consistency::Eventual { max_staleness },
        ..SmartOptions::default()
    }
}

fn connect(server: &TestServer, options: SmartOptions) -> SmartClient {
    SmartClient::connect(&server.addr.to_string(), options).expect("the smart client connects")
}

fn bytes(text: &str) -> Option<Bytes> {
    Some(Bytes::copy_from_slice(text.as_bytes()))
}

/// Waits (up to 10 s) until `condition` holds.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The server's count of commands processed.
fn commands_processed(redis: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("stats").query(redis).unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("total_commands_processed:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn a_cached_key_follows_another_clients_writes_without_a_round_trip() {
    let server = TestServer::start();
    let mut b = server.redis();
    let _: () = b.set("k", "v1").unwrap();
    // A long bound: no heartbeat runs during the test, so the server's command count
    // shows every request A makes.
    let a = connect(&server, eventual(Duration::from_secs(60)));
    assert_eq!(a.get("k").unwrap(), bytes("v1"));
    assert_eq!(a.stats().misses, 1);
    let _: () = b.set("k", "v2").unwrap();
    eventually("A's cache has v2", || a.get("k").unwrap() == bytes("v2"));

    let before = commands_processed(&mut b);
    for _ in 0..1000 {
        assert_eq!(a.get("k").unwrap(), bytes("v2"));
    }
    let after = commands_processed(&mut b);
    assert_eq!(after - before, 1, "only INFO itself reached the server");
    let stats = a.stats();
    assert_eq!(stats.misses, 1, "{stats:?}");
    assert!(stats.hits >= 1000, "{stats:?}");
    assert!(stats.pushes >= 1, "{stats:?}");

    // A key that does not exist is cached as absent, and its creation arrives.
    assert_eq!(a.get("new").unwrap(), None);
    let _: () = b.set("new", "here").unwrap();
    eventually("A sees the new key", || {
        a.get("new").unwrap() == bytes("here")
    });
    assert_eq!(a.stats().misses, 2);
}

#[test]
fn deletes_and_expiries_reach_the_cache() {
    let server = TestServer::start();
    let mut b = server.redis();
    let _: () = b.set("gone", "v").unwrap();
    let _: () = redis::cmd("SET")
        .arg(&["short", "v", "PX", "1500"])
        .query(&mut b)
        .unwrap();
    let a = connect(&server, eventual(Duration::from_secs(60)));
    assert_eq!(a.get("gone").unwrap(), bytes("v"));
    assert_eq!(a.get("short").unwrap(), bytes("v"));
    let _: () = b.del("gone").unwrap();
    eventually("the delete arrives", || a.get("gone").unwrap().is_none());
    // The expiry is known from the read (and the server's delete follows).
    std::thread::sleep(Duration::from_millis(1600));
    assert_eq!(a.get("short").unwrap(), None);
    // An expiry set later arrives as the key's deletion when it passes.
    let _: () = b.set("later", "v").unwrap();
    assert_eq!(a.get("later").unwrap(), bytes("v"));
    let _: () = redis::cmd("PEXPIRE")
        .arg("later")
        .arg(50)
        .query(&mut b)
        .unwrap();
    eventually("the expiry arrives", || a.get("later").unwrap().is_none());
    assert_eq!(a.stats().misses, 3, "every change came as a push");
}

#[test]
fn a_key_leaving_the_servers_window_leaves_the_cache() {
    let server = TestServer::start();
    let mut b = server.redis();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("tracking-window-keys")
        .arg(2)
        .query(&mut b)
        .unwrap();
    for key in ["k1", "k2", "k3"] {
        let _: () = b.set(key, key).unwrap();
    }
    let a = connect(&server, eventual(Duration::from_secs(60)));
    for key in ["k1", "k2", "k3"] {
        assert_eq!(a.get(key).unwrap(), bytes(key));
    }
    // Reading k3 pushed k1 out of the window: the server announced it, and A
    // dropped it rather than serve a value nobody keeps fresh.
    eventually("k1 is dropped", || a.stats().cached_keys == 2);
    let misses = a.stats().misses;
    assert_eq!(a.get("k1").unwrap(), bytes("k1"));
    assert_eq!(a.stats().misses, misses + 1);
    assert_eq!(a.get("k3").unwrap(), bytes("k3"));
    assert_eq!(a.stats().misses, misses + 1, "k3 is still cached");
}

#[test]
fn write_behind_reads_its_own_writes_and_keeps_their_order() {
    let server = TestServer::start();
    let a = connect(&server, eventual(Duration::from_secs(1)));
    for i in 0..2000 {
        let value = i.to_string();
        a.set("counter", &value, None).unwrap();
        assert_eq!(a.get("counter").unwrap(), bytes(&value), "own write {i}");
        if i % 7 == 0 {
            a.del("counter").unwrap();
            assert_eq!(a.get("counter").unwrap(), None);
            a.set("counter", &value, None).unwrap();
        }
    }
    a.flush().unwrap();
    let mut b = server.redis();
    let last: String = b.get("counter").unwrap();
    assert_eq!(last, "1999");
    // After the answers, the cache fetches the key again, and keeps following it.
    assert_eq!(a.get("counter").unwrap(), bytes("1999"));
    let _: () = b.set("counter", "from b").unwrap();
    eventually("B's write arrives", || {
        a.get("counter").unwrap() == bytes("from b")
    });
    // A TTL written locally applies locally too.
    a.set("brief", "v", Some(Duration::from_millis(500)))
        .unwrap();
    assert_eq!(a.get("brief").unwrap(), bytes("v"));
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(a.get("brief").unwrap(), None);
}

#[test]
fn a_rejected_write_is_reported_to_the_callback_and_the_next_call_and_undone() {
    let server = TestServer::start();
    let mut admin = server.redis();
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", "app", "on", ">secret", "~allowed:*", "+@all"])
        .query(&mut admin)
        .unwrap();
    let seen: Arc<Mutex<Vec<Rejection>>> = Arc::default();
    let callback_seen = Arc::clone(&seen);
    let options = SmartOptions {
        auth: Some(("app".into(), "secret".into())),
        on_rejection: Some(Arc::new(move |rejection: &Rejection| {
            callback_seen.lock().unwrap().push(rejection.clone());
        })),
        ..eventual(Duration::from_secs(1))
    };
    let a = connect(&server, options);
    a.set("allowed:1", "yes", None).unwrap();
    a.set("denied:1", "no", None).unwrap();
    let error = a.flush().unwrap_err();
    let SmartError::Rejected(rejections) = error else {
        panic!("{error:?}");
    };
    assert_eq!(rejections.len(), 1);
    assert_eq!(rejections[0].command, "SET denied:1");
    assert!(rejections[0].error.starts_with("NOPERM"), "{rejections:?}");
    assert_eq!(*seen.lock().unwrap(), rejections);
    // Reported once; the local value is gone: the read goes to the server (which
    // refuses it too).
    a.flush().unwrap();
    assert!(matches!(a.get("denied:1"), Err(SmartError::Server(e)) if e.starts_with("NOPERM")));
    assert_eq!(a.get("allowed:1").unwrap(), bytes("yes"));
    let denied: Option<String> = admin.get("denied:1").unwrap();
    assert_eq!(denied, None);

    // Without a flush, the next call of any kind reports it.
    a.set("denied:2", "no", None).unwrap();
    eventually("the refusal arrives", || seen.lock().unwrap().len() == 2);
    assert!(
        matches!(a.get("allowed:1"), Err(SmartError::Rejected(r)) if r[0].command == "SET denied:2")
    );
    assert_eq!(a.get("allowed:1").unwrap(), bytes("yes"));
}

#[test]
fn a_dropped_connection_never_serves_values_older_than_the_bound() {
    let server = TestServer::start();
    let mut b = server.redis();
    let _: () = b.set("k", "v1").unwrap();
    let bound = Duration::from_millis(200);
    let a = connect(&server, eventual(bound));
    assert_eq!(a.get("k").unwrap(), bytes("v1"));
    // Another client cuts A off, then writes while A is away.
    let killed: i64 = redis::cmd("CLIENT")
        .arg(&["KILL", "SKIPME", "yes"])
        .query(&mut b)
        .unwrap();
    assert_eq!(killed, 1);
    let _: () = b.set("k", "v2").unwrap();
    let changed_at = Instant::now();
    // From now on A may serve v1 for at most the bound; after it, never.
    let mut served_v1_at = None;
    let deadline = changed_at + Duration::from_secs(10);
    loop {
        match a.get("k") {
            Ok(value) if value == bytes("v2") => break,
            Ok(value) if value == bytes("v1") => served_v1_at = Some(Instant::now()),
            Ok(other) => panic!("{other:?}"),
            Err(SmartError::Disconnected) => {}
            Err(error) => panic!("{error}"),
        }
        assert!(Instant::now() < deadline, "A never saw v2");
        std::thread::sleep(Duration::from_millis(1));
    }
    if let Some(at) = served_v1_at {
        assert!(
            at - changed_at <= bound,
            "v1 served {:?} after",
            at - changed_at
        );
    }
    assert!(a.stats().reconnects >= 1);
    // Cached again, and followed again.
    let _: () = b.set("k", "v3").unwrap();
    eventually("v3 arrives", || a.get("k").unwrap() == bytes("v3"));
}

#[test]
fn a_server_restart_is_resynchronized_by_versions() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::on_dir(dir.path());
    let addr = server.addr;
    {
        let mut b = server.redis();
        let _: () = b.set("same", "kept").unwrap();
        let _: () = b.set("changed", "old").unwrap();
    }
    let bound = Duration::from_millis(200);
    let a = SmartClient::connect(&addr.to_string(), eventual(bound)).unwrap();
    assert_eq!(a.get("same").unwrap(), bytes("kept"));
    assert_eq!(a.get("changed").unwrap(), bytes("old"));
    server.stop();
    // While the server is down, cached values are served only within the bound.
    std::thread::sleep(bound + Duration::from_millis(50));
    assert_eq!(a.get("same"), Err(SmartError::Disconnected));
    // The server comes back on the same port, with the data directory as it was,
    // and a change A never heard of.
    let path = dir.path().to_path_buf();
    let server = TestServer::with(move |config| {
        config.bind = addr;
        config.dir = Some(path);
    });
    let mut b = server.redis();
    let _: () = b.set("changed", "new").unwrap();
    eventually("A reconnects", || a.get("changed").is_ok());
    assert_eq!(a.get("changed").unwrap(), bytes("new"));
    // Once a sync confirms the cache, the unchanged key is served from it: the
    // reconnect compared versions instead of dropping everything.
    let pushes = a.stats().pushes;
    eventually("a sync after the reconnect", || a.stats().pushes > pushes);
    let misses = a.stats().misses;
    assert_eq!(a.get("same").unwrap(), bytes("kept"));
    assert_eq!(a.stats().misses, misses, "the unchanged key stayed cached");
    server.stop();
}

#[test]
fn a_restarted_in_memory_server_is_another_history() {
    let server = TestServer::start();
    let addr = server.addr;
    let mut b = server.redis();
    let _: () = b.set("k", "first life").unwrap();
    let a = SmartClient::connect(&addr.to_string(), eventual(Duration::from_millis(200))).unwrap();
    assert_eq!(a.get("k").unwrap(), bytes("first life"));
    drop(b);
    server.stop();
    // A new server in memory numbers its writes from 1 again: the same key gets the
    // same version with another value.
    let server = TestServer::with(move |config| config.bind = addr);
    let mut b = server.redis();
    let _: () = b.set("k", "second life").unwrap();
    eventually("A sees the new server's value", || {
        a.get("k").is_ok_and(|value| value == bytes("second life"))
    });
    let pushes = a.stats().pushes;
    eventually("a sync after the reconnect", || a.stats().pushes > pushes);
    assert_eq!(a.get("k").unwrap(), bytes("second life"));
}

#[test]
fn many_threads_read_and_write_at_once() {
    let server = TestServer::start();
    let a = connect(&server, eventual(Duration::from_millis(500)));
    let mut b = server.redis();
    let _: () = b.set("shared", "0").unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let client = a.clone();
            std::thread::spawn(move || {
                let mut last_shared = 0u64;
                for i in 0..500 {
                    let key = format!("t{t}:{}", i % 10);
                    let value = format!("{t}-{i}");
                    client.set(&key, &value, None).unwrap();
                    assert_eq!(client.get(&key).unwrap(), bytes(&value));
                    // The shared counter only goes forward.
                    if let Some(shared) = client.get("shared").unwrap() {
                        let shared: u64 = std::str::from_utf8(&shared).unwrap().parse().unwrap();
                        assert!(shared >= last_shared, "{shared} after {last_shared}");
                        last_shared = shared;
                    }
                }
                client.flush().unwrap();
            })
        })
        .collect();
    for i in 1..=200 {
        let _: () = b.set("shared", i.to_string()).unwrap();
    }
    for thread in threads {
        thread.join().unwrap();
    }
    for t in 0..4 {
        for k in 0..10 {
            let stored: String = b.get(format!("t{t}:{k}")).unwrap();
            assert_eq!(stored, format!("{t}-{}", 490 + k));
        }
    }
    eventually("the last shared value arrives", || {
        a.get("shared").unwrap() == bytes("200")
    });
}

#[test]
fn strong_consistency_asks_the_server_every_time() {
    let server = TestServer::start();
    let a = connect(
        &server,
        SmartOptions {
            consistency: Consistency::Strong,
            ..SmartOptions::default()
        },
    );
    let mut b = server.redis();
    a.set("k", "mine", None).unwrap();
    let stored: String = b.get("k").unwrap();
    assert_eq!(stored, "mine", "a strong write is applied when set returns");
    assert_eq!(a.get("k").unwrap(), bytes("mine"));
    let _: () = b.set("k", "theirs").unwrap();
    assert_eq!(a.get("k").unwrap(), bytes("theirs"));
    assert_eq!(a.stats().hits, 0);
    assert_eq!(a.stats().misses, 2);
}

#[test]
fn commands_go_through_and_hold_back_the_cache_until_confirmed() {
    let server = TestServer::start();
    let a = connect(&server, eventual(Duration::from_secs(60)));
    let mut b = server.redis();
    let _: () = b.set("n", "1").unwrap();
    assert_eq!(a.get("n").unwrap(), bytes("1"));
    let reply = a.command(&["INCR", "n"]).unwrap();
    assert_eq!(reply, chiral_net::Value::Integer(2));
    // The cache cannot know INCR's effect, but the reader never sees the old value.
    assert_eq!(a.get("n").unwrap(), bytes("2"));
    let reply = a.command(&["HSET", "h", "f", "v"]).unwrap();
    assert_eq!(reply, chiral_net::Value::Integer(1));
    assert!(matches!(a.get("h"), Err(SmartError::Server(e)) if e.starts_with("WRONGTYPE")));
}

#[test]
fn a_refused_handshake_fails_the_connect() {
    let server = TestServer::with(|config| config.requirepass = Some("pw".into()));
    let options = SmartOptions {
        auth: Some(("default".into(), "wrong".into())),
        ..SmartOptions::default()
    };
    let error = SmartClient::connect(&server.addr.to_string(), options)
        .err()
        .unwrap();
    assert!(
        matches!(&error, SmartError::Handshake(e) if e.contains("WRONGPASS")),
        "{error:?}"
    );
    let options = SmartOptions {
        auth: Some(("default".into(), "pw".into())),
        ..SmartOptions::default()
    };
    let a = SmartClient::connect(&server.addr.to_string(), options).unwrap();
    assert_eq!(a.get("k").unwrap(), None);
}

#[test]
fn a_server_that_stops_answering_is_dropped_after_the_request_timeout() {
    // Accepts, reads, never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let silent = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut socket, &mut sink);
    });
    let options = SmartOptions {
        request_timeout: Duration::from_millis(300),
        ..SmartOptions::default()
    };
    // The handshake is never answered: connect fails instead of waiting for ever.
    let error = SmartClient::connect(&addr.to_string(), options)
        .err()
        .unwrap();
    assert_eq!(error, SmartError::Disconnected);
    silent.join().unwrap();
}
