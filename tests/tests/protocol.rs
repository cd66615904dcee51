//! The wire, byte for byte: RESP2 and RESP3 replies, inline commands, pipelining,
//! Redis's error messages, and what happens to malformed input.

mod common;

use std::io::Write;

use common::TestServer;

#[test]
fn replies_and_errors_are_redis_bytes() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.check(b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n");
    raw.check(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", b"+OK\r\n");
    raw.check(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", b"$1\r\nv\r\n");
    raw.check(b"*2\r\n$3\r\nGET\r\n$1\r\nx\r\n", b"$-1\r\n");
    raw.check(
        b"*1\r\n$3\r\nGET\r\n",
        b"-ERR wrong number of arguments for 'get' command\r\n",
    );
    raw.check(
        b"*2\r\n$4\r\nNOPE\r\n$1\r\na\r\n",
        b"-ERR unknown command 'NOPE', with args beginning with: 'a' \r\n",
    );
    raw.check(
        b"*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n",
        b"-ERR value is not an integer or out of range\r\n",
    );
    raw.check(
        b"*3\r\n$5\r\nLPUSH\r\n$1\r\nk\r\n$1\r\nx\r\n",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    raw.check(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n", b"+OK\r\n");
    raw.check(
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n1\r\n",
        b"-ERR DB index is out of range\r\n",
    );
    // Integer-or-nil and null array shapes.
    raw.check(b"*3\r\n$4\r\nLPOP\r\n$2\r\nno\r\n$1\r\n2\r\n", b"*-1\r\n");
    raw.check(b"*3\r\n$5\r\nSETNX\r\n$1\r\nk\r\n$1\r\nw\r\n", b":0\r\n");
}

#[test]
fn inline_commands_work_as_from_telnet() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.check(b"PING\r\n", b"+PONG\r\n");
    raw.check(b"set greeting \"hello world\"\r\n", b"+OK\r\n");
    raw.check(b"get greeting\n", b"$11\r\nhello world\r\n");
    raw.check(b"\r\nEXISTS greeting\r\n", b":1\r\n");
    raw.check(
        b"get \"unbalanced\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
    );
    assert!(raw.is_closed(), "a protocol error closes the connection");
}

#[test]
fn a_pipeline_answers_in_order_and_sees_its_own_writes() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let mut request = Vec::new();
    let mut expected = Vec::new();
    for i in 1..=500 {
        request.extend_from_slice(b"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n");
        expected.extend_from_slice(format!(":{i}\r\n").as_bytes());
        if i % 100 == 0 {
            // A read in the middle of the writes sees every write before it.
            request.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$1\r\nn\r\n");
            let text = i.to_string();
            expected.extend_from_slice(format!("${}\r\n{text}\r\n", text.len()).as_bytes());
        }
    }
    // A refused write in the pipeline fails alone, as in Redis.
    request.extend_from_slice(
        b"*3\r\n$4\r\nSADD\r\n$1\r\nn\r\n$1\r\nx\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n",
    );
    expected.extend_from_slice(
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n:501\r\n",
    );
    raw.check(&request, &expected);
    // The redis crate's pipelines too.
    let mut c = server.redis();
    let (a, b, n): (i64, i64, i64) = redis::pipe()
        .cmd("INCR")
        .arg("p")
        .cmd("INCR")
        .arg("p")
        .cmd("GET")
        .arg("n")
        .query(&mut c)
        .unwrap();
    assert_eq!((a, b, n), (1, 2, 501));
}

/// The server runs a pipeline in windows (parsed together, their keys fetched
/// together): windows must not show. A pipeline of reads and writes longer than a
/// window answers in order; a QUIT in the middle of one answers and ends it there; a
/// malformed request after good ones in the same window answers them, then the error.
#[test]
fn a_pipeline_runs_in_windows_that_do_not_show() {
    let server = TestServer::start();
    let get = |key: &str| format!("*2\r\n$3\r\nGET\r\n${}\r\n{key}\r\n", key.len());
    let mut raw = server.raw();
    let mut request = String::new();
    let mut expected = String::new();
    for i in 0..(3 * chiral::PREFETCH_MAX_KEYS + 5) {
        let key = format!("k{i}");
        let value = format!("v{i}");
        request += &get(&key);
        expected += "$-1\r\n";
        request += &format!(
            "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
            key.len(),
            value.len()
        );
        expected += "+OK\r\n";
        request += &get(&key);
        expected += &format!("${}\r\n{value}\r\n", value.len());
    }
    raw.check(request.as_bytes(), expected.as_bytes());

    let mut quitting = server.raw();
    let request = [get("k1"), "*1\r\n$4\r\nQUIT\r\n".into(), get("k2")].concat();
    quitting.check(request.as_bytes(), b"$2\r\nv1\r\n+OK\r\n");
    assert!(quitting.is_closed(), "nothing after QUIT runs");

    let mut broken = server.raw();
    let request = [get("k3"), get("k4"), "*x\r\n".into()].concat();
    broken.check(
        request.as_bytes(),
        b"$2\r\nv3\r\n$2\r\nv4\r\n-ERR Protocol error: invalid multibulk length\r\n",
    );
    assert!(broken.is_closed());
}

#[test]
fn resp3_after_hello_3() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.check(b"*2\r\n$3\r\nGET\r\n$1\r\nx\r\n", b"$-1\r\n");
    raw.stream
        .write_all(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n")
        .unwrap();
    let head = raw.read_exactly(3);
    assert_eq!(&head, b"%7\r", "HELLO 3 answers a map of 7 entries");
    // Read the rest of the HELLO map: its fields are known.
    let mut rest = Vec::new();
    while !rest.ends_with(b"*0\r\n") {
        rest.extend(raw.read_exactly(1));
    }
    raw.check(b"*2\r\n$3\r\nGET\r\n$1\r\nx\r\n", b"_\r\n");
    raw.check(
        b"*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$1\r\nv\r\n",
        b":1\r\n",
    );
    raw.check(
        b"*2\r\n$7\r\nHGETALL\r\n$1\r\nh\r\n",
        b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n",
    );
    raw.check(
        b"*2\r\n$5\r\nHELLO\r\n$1\r\n4\r\n",
        b"-NOPROTO unsupported protocol version\r\n",
    );
}

#[test]
fn garbage_closes_only_its_own_connection() {
    let server = TestServer::start();
    let mut good = server.redis();
    let () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut good)
        .unwrap();
    for garbage in [
        &b"*x\r\n"[..],
        b"*2\r\n:1\r\n",
        b"*1\r\n$99999999999\r\n",
        b"*1\r\n$1\r\nab\r\n",
        &[0xff; 70_000],
    ] {
        let mut bad = server.raw();
        bad.stream.write_all(garbage).unwrap();
        let mut reply = Vec::new();
        while !reply.ends_with(b"\r\n") {
            reply.extend(bad.read_exactly(1));
        }
        assert!(
            reply.starts_with(b"-ERR Protocol error: "),
            "{:?}",
            String::from_utf8_lossy(&reply)
        );
        assert!(bad.is_closed());
    }
    let value: String = redis::cmd("GET").arg("k").query(&mut good).unwrap();
    assert_eq!(value, "v", "other clients are unaffected");
}

#[test]
fn a_client_that_leaves_mid_request_leaves_nothing_behind() {
    let server = TestServer::start();
    let mut c = server.redis();
    for _ in 0..20 {
        let mut raw = server.raw();
        // Half a request, then gone.
        raw.stream
            .write_all(b"*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$100\r\nabc")
            .unwrap();
        drop(raw);
    }
    // The server notices each disconnect and drops the client.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
        if list.lines().count() == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "clients linger: {list}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        !redis::cmd("EXISTS")
            .arg("half")
            .query::<bool>(&mut c)
            .unwrap()
    );
}

#[test]
fn a_unix_socket_serves_the_same_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chiral.sock");
    let socket = path.clone();
    let server = TestServer::with(move |config| config.unix_socket = Some(socket));
    let mut unix = std::os::unix::net::UnixStream::connect(&path).unwrap();
    unix.write_all(b"SET via unix\r\nGET via\r\n").unwrap();
    let mut reply = [0u8; 15];
    std::io::Read::read_exact(&mut unix, &mut reply).unwrap();
    assert_eq!(&reply, b"+OK\r\n$4\r\nunix\r\n");
    // The same database as over TCP.
    let mut c = server.redis();
    assert_eq!(
        redis::cmd("GET")
            .arg("via")
            .query::<String>(&mut c)
            .unwrap(),
        "unix"
    );
}

#[test]
fn a_pipeline_of_ten_thousand_commands() {
    let server = TestServer::start();
    let mut c = server.redis();
    let mut pipe = redis::pipe();
    for i in 0..10_000 {
        pipe.cmd("SET").arg(format!("key:{i}")).arg(i).ignore();
        pipe.cmd("INCR").arg("count");
    }
    let counts: Vec<i64> = pipe.query(&mut c).unwrap();
    assert_eq!(counts, (1..=10_000).collect::<Vec<i64>>());
    let mut pipe = redis::pipe();
    for i in 0..10_000 {
        pipe.cmd("GET").arg(format!("key:{i}"));
    }
    let values: Vec<i64> = pipe.query(&mut c).unwrap();
    assert_eq!(values, (0..10_000).collect::<Vec<i64>>());
}

#[test]
fn two_hundred_clients_at_once() {
    let server = TestServer::start();
    std::thread::scope(|scope| {
        for client in 0..200 {
            let server = &server;
            scope.spawn(move || {
                let mut c = server.redis();
                for i in 0..50 {
                    let key = format!("c{client}:{i}");
                    let () = redis::cmd("SET").arg(&key).arg(i).query(&mut c).unwrap();
                    let value: i64 = redis::cmd("GET").arg(&key).query(&mut c).unwrap();
                    assert_eq!(value, i, "each client reads its own writes");
                    let _: i64 = redis::cmd("INCR").arg("shared").query(&mut c).unwrap();
                }
            });
        }
    });
    let mut c = server.redis();
    assert_eq!(
        redis::cmd("GET")
            .arg("shared")
            .query::<i64>(&mut c)
            .unwrap(),
        200 * 50
    );
    assert_eq!(
        redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap(),
        200 * 50 + 1
    );
}

#[test]
fn client_kill_filters_match_together_and_spare_the_caller_by_default() {
    let server = TestServer::start();
    let mut me = server.redis();
    let kill = |me: &mut redis::Connection, filters: &[&str]| -> redis::RedisResult<i64> {
        redis::cmd("CLIENT").arg("KILL").arg(filters).query(me)
    };
    let mut first = server.raw();
    let mut second = server.raw();
    first.check(b"PING\r\n", b"+PONG\r\n");
    second.check(b"PING\r\n", b"+PONG\r\n");
    // Filters that match nobody.
    assert_eq!(kill(&mut me, &["USER", "nobody"]).unwrap(), 0);
    assert_eq!(kill(&mut me, &["TYPE", "pubsub"]).unwrap(), 0);
    assert_eq!(kill(&mut me, &["MAXAGE", "1000"]).unwrap(), 0);
    let laddr = server.addr.to_string();
    assert_eq!(
        kill(&mut me, &["LADDR", &laddr, "USER", "nobody"]).unwrap(),
        0,
        "every filter must match"
    );
    // Errors.
    let error = kill(&mut me, &["TYPE", "bogus"]).unwrap_err();
    assert_eq!(error.detail(), Some("Unknown client type 'bogus'"));
    let error = kill(&mut me, &["ID", "0"]).unwrap_err();
    assert_eq!(error.detail(), Some("client-id should be greater than 0"));
    let error = kill(&mut me, &["SKIPME", "maybe"]).unwrap_err();
    assert_eq!(error.detail(), Some("syntax error"));
    let error = kill(&mut me, &[]).unwrap_err();
    assert!(
        error.to_string().contains("wrong number of arguments"),
        "{error}"
    );
    // Every other client on this listener; the caller is spared (SKIPME yes).
    assert_eq!(
        kill(
            &mut me,
            &["LADDR", &laddr, "TYPE", "normal", "USER", "default"]
        )
        .unwrap(),
        2
    );
    assert!(first.is_closed());
    assert!(second.is_closed());
    let pong: String = redis::cmd("PING").query(&mut me).unwrap();
    assert_eq!(pong, "PONG");
    // SKIPME no reaches the caller too.
    let mut third = server.raw();
    third.check(b"PING\r\n", b"+PONG\r\n");
    let mut caller = server.raw();
    caller.check(b"CLIENT KILL USER default SKIPME no\r\n", b":3\r\n");
    assert!(caller.is_closed());
    assert!(third.is_closed());
    // Inside MULTI, a client that kills itself gets EXEC's whole reply, then goes.
    let mut caller = server.raw();
    caller.stream.write_all(b"CLIENT ID\r\n").unwrap();
    let id = String::from_utf8(caller.read_frame()).unwrap();
    let id = id.trim_start_matches(':').trim_end();
    caller.check(b"MULTI\r\n", b"+OK\r\n");
    caller.check(b"SET k v\r\n", b"+QUEUED\r\n");
    let kill = format!("CLIENT KILL ID {id} SKIPME no\r\n");
    caller.check(kill.as_bytes(), b"+QUEUED\r\n");
    caller.check(b"EXEC\r\n", b"*2\r\n+OK\r\n:1\r\n");
    assert!(caller.is_closed());
}
