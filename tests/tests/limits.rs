//! Every limit a client meets, at its edge: clients, argument sizes and counts,
//! query and output buffers, idle time; and AUTH, CLIENT, CONFIG, INFO.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use chiral_net::LimitsConfig;
use common::TestServer;

fn cmd(name: &str) -> redis::Cmd {
    redis::cmd(name)
}

/// Waits until `condition` holds (the server acts on its own time), or panics.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn max_clients_refuses_the_one_too_many() {
    let server = TestServer::with_limits(LimitsConfig {
        max_clients: 2,
        ..LimitsConfig::default()
    });
    let mut first = server.raw();
    first.check(b"PING\r\n", b"+PONG\r\n");
    let mut second = server.raw();
    second.check(b"PING\r\n", b"+PONG\r\n");
    let mut third = server.raw();
    third.check(b"", b"-ERR max number of clients reached\r\n");
    assert!(third.is_closed());
    drop(second);
    eventually("a slot frees up", || {
        let mut again = server.raw();
        again.stream.write_all(b"PING\r\n").unwrap();
        let mut reply = [0u8; 7];
        again.stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
    });
}

#[test]
fn argument_sizes_and_counts_are_checked_at_their_edge() {
    let server = TestServer::with_limits(LimitsConfig {
        max_bulk_bytes: 10,
        max_args: 4,
        max_inline_bytes: 32,
        ..LimitsConfig::default()
    });
    let mut raw = server.raw();
    raw.check(
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n0123456789\r\n",
        b"+OK\r\n",
    );
    raw.check(
        b"*4\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
        b"*3\r\n$-1\r\n$-1\r\n$-1\r\n",
    );
    raw.check(
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$11\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    assert!(raw.is_closed());
    let mut raw = server.raw();
    raw.check(
        b"*5\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    );
    let mut raw = server.raw();
    raw.check(
        b"ECHO 0123456789012345678901234\r\n",
        b"$25\r\n0123456789012345678901234\r\n",
    );
    raw.check(
        b"ECHO 01234567890123456789012345678901234567890\r\n",
        b"-ERR Protocol error: too big inline request\r\n",
    );
    let mut c = server.redis();
    assert_eq!(
        cmd("GET").arg("k").query::<String>(&mut c).unwrap(),
        "0123456789"
    );
}

#[test]
fn the_query_buffer_limit_disconnects_a_client_that_sends_too_much() {
    let server = TestServer::with_limits(LimitsConfig {
        query_buffer_bytes: 1 << 20,
        max_bulk_bytes: 8 << 20,
        ..LimitsConfig::default()
    });
    let mut raw = server.raw();
    // A 4 MiB argument is allowed by the bulk limit but not by the query buffer.
    raw.stream
        .write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4194304\r\n")
        .unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    let mut closed = false;
    for _ in 0..64 {
        if raw.stream.write_all(&chunk).is_err() {
            closed = true;
            break;
        }
    }
    assert!(closed || raw.is_closed(), "the client is disconnected");
    let mut c = server.redis();
    assert!(!cmd("EXISTS").arg("k").query::<bool>(&mut c).unwrap());
}

#[test]
fn the_output_buffer_limit_disconnects_and_a_stalled_reader_hurts_no_one() {
    let server = TestServer::with_limits(LimitsConfig {
        output_buffer_bytes: 1 << 20,
        ..LimitsConfig::default()
    });
    let mut c = server.redis();
    let big = vec![b'v'; 300 * 1024];
    let () = cmd("SET").arg("big").arg(&big[..]).query(&mut c).unwrap();
    // A pipeline whose replies pass the limit: disconnected.
    let mut greedy = server.raw();
    greedy.stream.write_all(&b"GET big\r\n".repeat(8)).unwrap();
    let mut got = Vec::new();
    let _ = greedy.stream.read_to_end(&mut got);
    assert!(got.len() < 8 * big.len(), "not every reply was sent");
    // A client that asks without ever reading: the server stops reading from it
    // (its replies wait in the socket), and everyone else goes on.
    let () = cmd("SET")
        .arg("small")
        .arg("0123456789")
        .query(&mut c)
        .unwrap();
    let mut stalled = server.raw();
    stalled.stream.set_nonblocking(true).unwrap();
    let mut sent = 0;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(2) {
        match stalled.stream.write(&b"GET small\r\n".repeat(100)) {
            Ok(n) => sent += n,
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    assert!(sent > 0);
    for i in 0..100 {
        let () = cmd("SET").arg("other").arg(i).query(&mut c).unwrap();
    }
    // CLIENT KILL reaches it even while its write waits.
    let list: String = cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
    assert_eq!(list.lines().count(), 2, "{list}");
    let my_id: i64 = cmd("CLIENT").arg("ID").query(&mut c).unwrap();
    let other_id = list
        .lines()
        .filter_map(|line| line.strip_prefix("id="))
        .filter_map(|rest| rest.split(' ').next()?.parse::<i64>().ok())
        .find(|id| *id != my_id)
        .unwrap();
    let killed: i64 = cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(other_id)
        .query(&mut c)
        .unwrap();
    assert_eq!(killed, 1);
    eventually("the stalled client is gone", || {
        let list: String = cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
        list.lines().count() == 1
    });
}

#[test]
fn idle_clients_are_disconnected_after_the_timeout() {
    let server = TestServer::with_limits(LimitsConfig {
        idle_timeout_s: 1,
        ..LimitsConfig::default()
    });
    let mut raw = server.raw();
    raw.check(b"PING\r\n", b"+PONG\r\n");
    // A client that keeps talking stays, past several timeouts.
    let mut active = server.raw();
    for _ in 0..8 {
        active.check(b"PING\r\n", b"+PONG\r\n");
        std::thread::sleep(std::time::Duration::from_millis(400));
    }
    active.check(b"PING\r\n", b"+PONG\r\n");
    assert!(raw.is_closed(), "closed after a second of silence");
    assert!(active.is_closed(), "closed after its own second of silence");
}

#[test]
fn requirepass_gates_every_command_but_auth() {
    let server = TestServer::with(|config| config.requirepass = Some("s3cret".into()));
    let mut raw = server.raw();
    raw.check(b"GET k\r\n", b"-NOAUTH Authentication required.\r\n");
    raw.check(b"SET k v\r\n", b"-NOAUTH Authentication required.\r\n");
    raw.check(
        b"AUTH wrong\r\n",
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    raw.check(
        b"AUTH someone s3cret\r\n",
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    raw.check(b"AUTH s3cret\r\n", b"+OK\r\n");
    raw.check(b"SET k v\r\n", b"+OK\r\n");
    raw.check(b"RESET\r\n", b"+RESET\r\n");
    raw.check(b"GET k\r\n", b"-NOAUTH Authentication required.\r\n");
    raw.check(b"AUTH default s3cret\r\n", b"+OK\r\n");
    raw.check(b"GET k\r\n", b"$1\r\nv\r\n");
    // The redis crate authenticates from the URL.
    let client = redis::Client::open(format!("redis://:s3cret@{}/", server.addr)).unwrap();
    let mut c = client.get_connection().unwrap();
    assert_eq!(cmd("GET").arg("k").query::<String>(&mut c).unwrap(), "v");
    // Without a password configured, AUTH says so.
    let open = TestServer::start();
    let mut raw = open.raw();
    raw.stream.write_all(b"AUTH x\r\n").unwrap();
    let mut reply = [0u8; 5];
    raw.stream.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"-ERR ");
}

#[test]
fn client_config_info_command_time() {
    let server = TestServer::start();
    let mut c = server.redis();
    let () = cmd("CLIENT")
        .arg("SETNAME")
        .arg("worker-1")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        cmd("CLIENT")
            .arg("GETNAME")
            .query::<String>(&mut c)
            .unwrap(),
        "worker-1"
    );
    let info: String = cmd("CLIENT").arg("INFO").query(&mut c).unwrap();
    assert!(
        info.contains("name=worker-1") && info.contains("cmd=client"),
        "{info}"
    );
    assert!(
        cmd("CLIENT")
            .arg("SETNAME")
            .arg("has space")
            .query::<()>(&mut c)
            .is_err()
    );
    // CONFIG GET / SET, with validation that changes nothing on refusal.
    let got: Vec<String> = cmd("CONFIG")
        .arg("GET")
        .arg("maxclients")
        .query(&mut c)
        .unwrap();
    assert_eq!(got, ["maxclients", "10000"]);
    let () = cmd("CONFIG")
        .arg("SET")
        .arg("maxclients")
        .arg("50")
        .query(&mut c)
        .unwrap();
    let refused = cmd("CONFIG")
        .arg("SET")
        .arg("maxclients")
        .arg("60")
        .arg("nonsense")
        .arg("1")
        .query::<()>(&mut c);
    assert!(refused.is_err());
    assert!(
        cmd("CONFIG")
            .arg("SET")
            .arg("databases")
            .arg("4")
            .query::<()>(&mut c)
            .is_err()
    );
    let got: Vec<String> = cmd("CONFIG").arg("GET").arg("max*").query(&mut c).unwrap();
    assert_eq!(got, ["maxclients", "50"], "the refused SET changed nothing");
    // INFO sections.
    let () = cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let info: String = cmd("INFO").query(&mut c).unwrap();
    for field in [
        "redis_version:",
        "connected_clients:1",
        "used_memory:",
        "lazyfreed_objects:0",
        "db0:keys=1",
        "total_commands_processed:",
    ] {
        assert!(info.contains(field), "INFO lacks {field}: {info}");
    }
    let keyspace: String = cmd("INFO").arg("keyspace").query(&mut c).unwrap();
    assert!(!keyspace.contains("# Server"));
    // COMMAND
    let count: i64 = cmd("COMMAND").arg("COUNT").query(&mut c).unwrap();
    assert!(count > 90, "{count}");
    let info: redis::Value = cmd("COMMAND").arg("INFO").arg("get").query(&mut c).unwrap();
    assert!(matches!(info, redis::Value::Array(ref items) if items.len() == 1));
    // TIME
    let (seconds, micros): (u64, u64) = cmd("TIME").query(&mut c).unwrap();
    assert!(seconds > 1_700_000_000 && micros < 1_000_000);
    // A fixed-arity subcommand counts its arguments as Redis does.
    let mut raw = server.raw();
    raw.check(
        b"CLIENT SETNAME two words\r\n",
        b"-ERR wrong number of arguments for 'client|setname' command\r\n",
    );
    raw.check(
        b"CLIENT GETNAME extra\r\n",
        b"-ERR wrong number of arguments for 'client|getname' command\r\n",
    );
    raw.check(b"CLIENT LIST TYPE\r\n", b"-ERR syntax error\r\n");
}
