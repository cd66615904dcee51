//! MULTI/EXEC/WATCH: transactions commit atomically, a changed WATCHed key aborts
//! them, a refused command while queueing discards them, and a command whose
//! arguments are wrong fails alone in EXEC's replies.

mod common;

use common::TestServer;
use redis::Value;

fn cmd(name: &str) -> redis::Cmd {
    redis::cmd(name)
}

#[test]
fn exec_applies_everything_queued_in_order() {
    let server = TestServer::start();
    let mut c = server.redis();
    let () = cmd("SET").arg("before").arg("1").query(&mut c).unwrap();
    let mut raw = server.raw();
    raw.check(b"MULTI\r\n", b"+OK\r\n");
    raw.check(b"GET before\r\n", b"+QUEUED\r\n");
    raw.check(b"SET a 1\r\n", b"+QUEUED\r\n");
    raw.check(b"INCR a\r\n", b"+QUEUED\r\n");
    raw.check(b"LPUSH a x\r\n", b"+QUEUED\r\n");
    raw.check(b"GET a\r\n", b"+QUEUED\r\n");
    raw.check(b"PING\r\n", b"+QUEUED\r\n");
    // The LPUSH fails alone (as in Redis); the read after the writes sees them.
    raw.check(
        b"EXEC\r\n",
        b"*6\r\n$1\r\n1\r\n+OK\r\n:2\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n$1\r\n2\r\n+PONG\r\n",
    );
    raw.check(b"EXEC\r\n", b"-ERR EXEC without MULTI\r\n");
    raw.check(b"DISCARD\r\n", b"-ERR DISCARD without MULTI\r\n");
    raw.check(b"MULTI\r\n", b"+OK\r\n");
    raw.check(b"MULTI\r\n", b"-ERR MULTI calls can not be nested\r\n");
    raw.check(b"SET b 1\r\n", b"+QUEUED\r\n");
    raw.check(b"DISCARD\r\n", b"+OK\r\n");
    raw.check(b"EXISTS b\r\n", b":0\r\n");
    // The redis crate's atomic pipeline.
    let (x, y): (i64, i64) = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg("t")
        .cmd("INCR")
        .arg("t")
        .query(&mut c)
        .unwrap();
    assert_eq!((x, y), (1, 2));
}

#[test]
fn a_refused_command_while_queueing_aborts_exec() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.check(b"MULTI\r\n", b"+OK\r\n");
    raw.check(b"SET a 1\r\n", b"+QUEUED\r\n");
    raw.check(
        b"GET\r\n",
        b"-ERR wrong number of arguments for 'get' command\r\n",
    );
    raw.check(
        b"EXEC\r\n",
        b"-EXECABORT Transaction discarded because of previous errors.\r\n",
    );
    raw.check(b"EXISTS a\r\n", b":0\r\n");
}

/// As in Redis, only an unknown command, a wrong number of arguments or a refusal
/// aborts the transaction; wrong arguments are found when the command runs, so
/// the others run and its error takes its place among EXEC's replies.
#[test]
fn a_command_with_wrong_arguments_fails_alone_in_exec() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.check(b"MULTI\r\n", b"+OK\r\n");
    raw.check(b"SET a 1\r\n", b"+QUEUED\r\n");
    raw.check(b"INCRBY a notanumber\r\n", b"+QUEUED\r\n");
    raw.check(b"SET b 2 EX -1\r\n", b"+QUEUED\r\n");
    raw.check(b"MSET c 3 d\r\n", b"+QUEUED\r\n");
    raw.check(b"SET c 3\r\n", b"+QUEUED\r\n");
    raw.check(
        b"EXEC\r\n",
        b"*5\r\n+OK\r\n-ERR value is not an integer or out of range\r\n\
          -ERR invalid expire time in 'set' command\r\n\
          -ERR wrong number of arguments for 'mset' command\r\n+OK\r\n",
    );
    raw.check(
        b"MGET a b c d\r\n",
        b"*4\r\n$1\r\n1\r\n$-1\r\n$1\r\n3\r\n$-1\r\n",
    );
}

#[test]
fn a_watched_key_changed_by_another_client_aborts_exec() {
    let server = TestServer::start();
    let mut other = server.redis();
    let mut raw = server.raw();
    raw.check(b"SET balance 10\r\n", b"+OK\r\n");
    raw.check(b"WATCH balance\r\n", b"+OK\r\n");
    raw.check(b"MULTI\r\n", b"+OK\r\n");
    raw.check(b"INCRBY balance 5\r\n", b"+QUEUED\r\n");
    let () = cmd("SET")
        .arg("balance")
        .arg("100")
        .query(&mut other)
        .unwrap();
    raw.check(b"EXEC\r\n", b"*-1\r\n");
    raw.check(b"GET balance\r\n", b"$3\r\n100\r\n");
    // Unchanged: it commits. And EXEC cleared the watch.
    raw.check(b"WATCH balance\r\n", b"+OK\r\n");
    raw.check(b"MULTI\r\n", b"+OK\r\n");
    raw.check(b"INCRBY balance 5\r\n", b"+QUEUED\r\n");
    raw.check(b"EXEC\r\n", b"*1\r\n:105\r\n");
    let () = cmd("SET")
        .arg("balance")
        .arg("0")
        .query(&mut other)
        .unwrap();
    raw.check(b"MULTI\r\n", b"+OK\r\n");
    raw.check(b"INCRBY balance 1\r\n", b"+QUEUED\r\n");
    raw.check(b"EXEC\r\n", b"*1\r\n:1\r\n");
    // WATCH of a missing key: creating it aborts.
    raw.check(b"WATCH fresh\r\n", b"+OK\r\n");
    let () = cmd("SET").arg("fresh").arg("x").query(&mut other).unwrap();
    raw.check(b"MULTI\r\n", b"+OK\r\n");
    raw.check(b"GET fresh\r\n", b"+QUEUED\r\n");
    raw.check(b"EXEC\r\n", b"*-1\r\n");
    raw.check(b"MULTI\r\n", b"+OK\r\n");
    raw.check(
        b"WATCH x\r\n",
        b"-ERR WATCH inside MULTI is not allowed\r\n",
    );
}

/// Many clients each add to a counter with WATCH/GET/MULTI/SET/EXEC, retrying when
/// the transaction aborts: no increment is lost.
#[test]
fn optimistic_increments_from_many_clients_lose_nothing() {
    let server = TestServer::start();
    let clients = 6;
    let rounds = 100;
    std::thread::scope(|scope| {
        for _ in 0..clients {
            scope.spawn(|| {
                let mut c = server.redis();
                for _ in 0..rounds {
                    loop {
                        let () = cmd("WATCH").arg("counter").query(&mut c).unwrap();
                        let now: Option<i64> = cmd("GET").arg("counter").query(&mut c).unwrap();
                        let result: Value = redis::pipe()
                            .atomic()
                            .cmd("SET")
                            .arg("counter")
                            .arg(now.unwrap_or(0) + 1)
                            .query(&mut c)
                            .unwrap();
                        if result != Value::Nil {
                            break;
                        }
                    }
                }
            });
        }
    });
    let mut c = server.redis();
    let total: i64 = cmd("GET").arg("counter").query(&mut c).unwrap();
    assert_eq!(total, clients * rounds);
}

/// A transaction that reads a key and writes from what it read is retried by the
/// server when the key changes between the read and the commit: the read and the
/// writes stay consistent.
#[test]
fn reads_queued_before_writes_are_consistent_with_them() {
    let server = TestServer::start();
    let writers = 4;
    let rounds = 200;
    std::thread::scope(|scope| {
        for _ in 0..writers {
            scope.spawn(|| {
                let mut c = server.redis();
                for _ in 0..rounds {
                    // GET a, INCR a, INCR b: the read sees the state the writes
                    // apply to, and the pair moves together.
                    let (read, a, b): (Option<i64>, i64, i64) = redis::pipe()
                        .atomic()
                        .cmd("GET")
                        .arg("a")
                        .cmd("INCR")
                        .arg("a")
                        .cmd("INCR")
                        .arg("b")
                        .query(&mut c)
                        .unwrap();
                    assert_eq!(
                        read.unwrap_or(0) + 1,
                        a,
                        "the read is the state written over"
                    );
                    assert_eq!(a, b, "the pair moves together");
                }
            });
        }
    });
    let mut c = server.redis();
    let a: i64 = cmd("GET").arg("a").query(&mut c).unwrap();
    assert_eq!(a, writers * rounds);
}

#[test]
fn msetnx_inside_multi_is_all_or_nothing_and_answers_as_redis_does() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.check(b"SET taken 1\r\n", b"+OK\r\n");
    raw.check(b"MULTI\r\n", b"+OK\r\n");
    raw.check(b"MSETNX fresh 1 taken 2\r\n", b"+QUEUED\r\n");
    raw.check(b"MSETNX new1 a new2 b\r\n", b"+QUEUED\r\n");
    raw.check(b"SET after x\r\n", b"+QUEUED\r\n");
    // The first MSETNX sets nothing (0), the second sets both (1), and neither stops
    // the transaction's other writes.
    raw.check(b"EXEC\r\n", b"*3\r\n:0\r\n:1\r\n+OK\r\n");
    raw.check(b"EXISTS fresh\r\n", b":0\r\n");
    raw.check(b"GET taken\r\n", b"$1\r\n1\r\n");
    raw.check(
        b"MGET new1 new2 after\r\n",
        b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nx\r\n",
    );
    // Pipelined with other writes, it answers in order.
    raw.check(b"MSETNX new1 z\r\nSET p 1\r\n", b":0\r\n+OK\r\n");
}

/// A read queued between writes sees the writes before it and none after it, and
/// nothing another client writes while EXEC runs: two reads of a key another client
/// keeps incrementing, queued after a write, always agree.
#[test]
fn reads_queued_after_writes_see_the_transaction_at_their_place_and_nothing_else() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.check(b"MULTI\r\n", b"+OK\r\n");
    raw.check(b"SET k 1\r\n", b"+QUEUED\r\n");
    raw.check(b"GET k\r\n", b"+QUEUED\r\n");
    raw.check(b"RPUSH l a b\r\n", b"+QUEUED\r\n");
    raw.check(b"SET k 2\r\n", b"+QUEUED\r\n");
    raw.check(b"MGET k nothing\r\n", b"+QUEUED\r\n");
    raw.check(b"LRANGE l 0 -1\r\n", b"+QUEUED\r\n");
    raw.check(b"DEL k\r\n", b"+QUEUED\r\n");
    raw.check(b"EXISTS k\r\n", b"+QUEUED\r\n");
    raw.check(b"DBSIZE\r\n", b"+QUEUED\r\n");
    raw.check(
        b"EXEC\r\n",
        b"*9\r\n+OK\r\n$1\r\n1\r\n:2\r\n+OK\r\n*2\r\n$1\r\n2\r\n$-1\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n:1\r\n:0\r\n:1\r\n",
    );
    // Expiry and type come with the captured records; a refused write changes
    // nothing a later read sees.
    raw.check(b"MULTI\r\n", b"+OK\r\n");
    raw.check(b"SET t v EX 100\r\n", b"+QUEUED\r\n");
    raw.check(b"TTL t\r\n", b"+QUEUED\r\n");
    raw.check(b"INCR t\r\n", b"+QUEUED\r\n");
    raw.check(b"TYPE t\r\n", b"+QUEUED\r\n");
    raw.check(b"GET t\r\n", b"+QUEUED\r\n");
    raw.check(
        b"EXEC\r\n",
        b"*5\r\n+OK\r\n:100\r\n-ERR value is not an integer or out of range\r\n+string\r\n$1\r\nv\r\n",
    );

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let mut c = server.redis();
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut increments = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _: i64 = cmd("INCR").arg("counter").query(&mut c).unwrap();
                increments += 1;
            }
            increments
        })
    };
    let mut c = server.redis();
    for round in 0..300 {
        let (_, first, second): ((), Option<i64>, Option<i64>) = redis::pipe()
            .atomic()
            .cmd("SET")
            .arg("mark")
            .arg(round)
            .cmd("GET")
            .arg("counter")
            .cmd("GET")
            .arg("counter")
            .query(&mut c)
            .unwrap();
        assert_eq!(
            first, second,
            "round {round}: both reads come from one moment"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(writer.join().unwrap() > 0);
}
