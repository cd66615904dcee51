//! The data commands through a real client library (the `redis` crate) against a
//! real server: replies and errors as Redis gives them.

mod common;

use std::collections::{HashMap, HashSet};

use common::TestServer;
use redis::{Commands, RedisResult, Value};

fn cmd(name: &str) -> redis::Cmd {
    redis::cmd(name)
}

/// The error's text as the server sent it (code and detail).
fn error_text<T: std::fmt::Debug>(result: RedisResult<T>) -> String {
    let error = result.expect_err("an error reply");
    format!(
        "{} {}",
        error.code().unwrap_or("?"),
        error.detail().unwrap_or("")
    )
}

#[test]
fn strings_with_their_options() {
    let server = TestServer::start();
    let mut c = server.redis();
    let () = c.set("k", "v").unwrap();
    assert_eq!(c.get::<_, String>("k").unwrap(), "v");
    // NX / XX / GET
    let nx: Option<String> = cmd("SET")
        .arg("k")
        .arg("w")
        .arg("NX")
        .query(&mut c)
        .unwrap();
    assert_eq!(nx, None);
    let old: Option<String> = cmd("SET")
        .arg("k")
        .arg("w")
        .arg("XX")
        .arg("GET")
        .query(&mut c)
        .unwrap();
    assert_eq!(old.as_deref(), Some("v"));
    let xx: Option<String> = cmd("SET")
        .arg("nope")
        .arg("w")
        .arg("XX")
        .query(&mut c)
        .unwrap();
    assert_eq!(xx, None);
    assert!(!c.exists::<_, bool>("nope").unwrap());
    // Expiry options
    let () = cmd("SET")
        .arg("t")
        .arg("1")
        .arg("EX")
        .arg(100)
        .query(&mut c)
        .unwrap();
    let ttl: i64 = c.ttl("t").unwrap();
    assert!((99..=100).contains(&ttl), "{ttl}");
    let pttl: i64 = c.pttl("t").unwrap();
    assert!(pttl > 98_000 && pttl <= 100_000, "{pttl}");
    let () = cmd("SET")
        .arg("t")
        .arg("2")
        .arg("KEEPTTL")
        .query(&mut c)
        .unwrap();
    assert!(c.ttl::<_, i64>("t").unwrap() > 0, "KEEPTTL keeps it");
    let () = c.set("t", "3").unwrap();
    assert_eq!(c.ttl::<_, i64>("t").unwrap(), -1, "plain SET clears it");
    assert_eq!(c.ttl::<_, i64>("missing").unwrap(), -2);
    assert_eq!(
        error_text(
            cmd("SET")
                .arg("t")
                .arg("1")
                .arg("EX")
                .arg(0)
                .query::<()>(&mut c)
        ),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(
        error_text(
            cmd("SET")
                .arg("t")
                .arg("1")
                .arg("NX")
                .arg("XX")
                .query::<()>(&mut c)
        ),
        "ERR syntax error"
    );
    // SETNX, SETEX, GETSET, GETDEL, GETEX, MSET, MSETNX, MGET
    assert_eq!(
        cmd("SETNX").arg("n").arg("1").query::<i64>(&mut c).unwrap(),
        1
    );
    assert_eq!(
        cmd("SETNX").arg("n").arg("2").query::<i64>(&mut c).unwrap(),
        0
    );
    let () = cmd("SETEX")
        .arg("e")
        .arg(50)
        .arg("x")
        .query(&mut c)
        .unwrap();
    assert!(c.ttl::<_, i64>("e").unwrap() > 40);
    assert_eq!(
        cmd("GETSET")
            .arg("n")
            .arg("3")
            .query::<String>(&mut c)
            .unwrap(),
        "1"
    );
    assert_eq!(cmd("GETDEL").arg("n").query::<String>(&mut c).unwrap(), "3");
    assert_eq!(
        cmd("GETDEL")
            .arg("n")
            .query::<Option<String>>(&mut c)
            .unwrap(),
        None
    );
    assert_eq!(
        cmd("GETEX")
            .arg("e")
            .arg("PERSIST")
            .query::<String>(&mut c)
            .unwrap(),
        "x"
    );
    assert_eq!(c.ttl::<_, i64>("e").unwrap(), -1);
    let () = c.mset(&[("a", "1"), ("b", "2")]).unwrap();
    assert_eq!(
        cmd("MSETNX")
            .arg("b")
            .arg("9")
            .arg("c")
            .arg("9")
            .query::<i64>(&mut c)
            .unwrap(),
        0
    );
    assert!(
        !c.exists::<_, bool>("c").unwrap(),
        "MSETNX is all or nothing"
    );
    assert_eq!(
        cmd("MSETNX")
            .arg("c")
            .arg("3")
            .arg("d")
            .arg("4")
            .query::<i64>(&mut c)
            .unwrap(),
        1
    );
    let values: Vec<Option<String>> = c.mget(&["a", "zz", "d"]).unwrap();
    assert_eq!(values, vec![Some("1".into()), None, Some("4".into())]);
    // Counters and their errors
    assert_eq!(c.incr::<_, _, i64>("counter", 5).unwrap(), 5);
    assert_eq!(cmd("DECR").arg("counter").query::<i64>(&mut c).unwrap(), 4);
    assert_eq!(
        cmd("DECRBY")
            .arg("counter")
            .arg(10)
            .query::<i64>(&mut c)
            .unwrap(),
        -6
    );
    assert_eq!(
        error_text(cmd("INCR").arg("k").query::<i64>(&mut c)),
        "ERR value is not an integer or out of range"
    );
    let () = c.set("max", i64::MAX).unwrap();
    assert_eq!(
        error_text(cmd("INCR").arg("max").query::<i64>(&mut c)),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(
        cmd("INCRBYFLOAT")
            .arg("f")
            .arg("1.5")
            .query::<String>(&mut c)
            .unwrap(),
        "1.5"
    );
    assert_eq!(
        error_text(
            cmd("INCRBYFLOAT")
                .arg("f")
                .arg("abc")
                .query::<String>(&mut c)
        ),
        "ERR value is not a valid float"
    );
    // Sums of decimals read as Redis writes them (long double, 17 decimals), not
    // with a binary float's error; an integral one counts on as an integer.
    for expected in ["0.1", "0.2", "0.3", "0.4"] {
        let sum: String = cmd("INCRBYFLOAT")
            .arg("tenths")
            .arg("0.1")
            .query(&mut c)
            .unwrap();
        assert_eq!(sum, expected);
    }
    let _: String = cmd("INCRBYFLOAT")
        .arg("whole")
        .arg("99.5")
        .query(&mut c)
        .unwrap();
    let _: String = cmd("INCRBYFLOAT")
        .arg("whole")
        .arg("0.5")
        .query(&mut c)
        .unwrap();
    assert_eq!(cmd("INCR").arg("whole").query::<i64>(&mut c).unwrap(), 101);
    let hsum = |c: &mut redis::Connection, by: &str| -> String {
        cmd("HINCRBYFLOAT")
            .arg("hf")
            .arg("x")
            .arg(by)
            .query(c)
            .unwrap()
    };
    assert_eq!(hsum(&mut c, "0.1"), "0.1");
    assert_eq!(hsum(&mut c, "0.2"), "0.3");
    // An infinite increment: after the key's checks for INCRBYFLOAT, before them
    // (and in other words) for HINCRBYFLOAT, as in Redis.
    let _: i64 = cmd("LPUSH").arg("list").arg("a").query(&mut c).unwrap();
    assert_eq!(
        error_text(
            cmd("INCRBYFLOAT")
                .arg("list")
                .arg("abc")
                .query::<String>(&mut c)
        ),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    let () = c.set("text", "abc").unwrap();
    assert_eq!(
        error_text(
            cmd("INCRBYFLOAT")
                .arg("text")
                .arg("inf")
                .query::<String>(&mut c)
        ),
        "ERR value is not a valid float"
    );
    assert_eq!(
        error_text(
            cmd("INCRBYFLOAT")
                .arg("tenths")
                .arg("inf")
                .query::<String>(&mut c)
        ),
        "ERR increment would produce NaN or Infinity"
    );
    assert_eq!(
        error_text(
            cmd("HINCRBYFLOAT")
                .arg("hf")
                .arg("x")
                .arg("inf")
                .query::<String>(&mut c)
        ),
        "ERR value is NaN or Infinity"
    );
    // APPEND, STRLEN, GETRANGE, SETRANGE
    assert_eq!(c.append::<_, _, i64>("s", "Hello").unwrap(), 5);
    assert_eq!(c.append::<_, _, i64>("s", " World").unwrap(), 11);
    assert_eq!(c.strlen::<_, i64>("s").unwrap(), 11);
    assert_eq!(c.getrange::<_, String>("s", -5, -1).unwrap(), "World");
    // An end before the string is its first byte, unlike a list's range.
    assert_eq!(c.getrange::<_, String>("s", -20, -15).unwrap(), "H");
    assert_eq!(c.getrange::<_, String>("s", -1, -2).unwrap(), "");
    assert_eq!(c.setrange::<_, _, i64>("s", 6, "Redis").unwrap(), 11);
    assert_eq!(c.get::<_, String>("s").unwrap(), "Hello Redis");
    // Binary-safe keys and values.
    let binary = vec![0u8, 255, b'\r', b'\n', 7];
    let () = c.set(&binary[..], &binary[..]).unwrap();
    assert_eq!(c.get::<_, Vec<u8>>(&binary[..]).unwrap(), binary);
}

#[test]
fn keys_expiry_rename_scan() {
    let server = TestServer::start();
    let mut c = server.redis();
    for i in 0..250 {
        let () = c.set(format!("user:{i}"), i).unwrap();
    }
    let () = c.set("other", 1).unwrap();
    assert_eq!(cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 251);
    assert_eq!(
        cmd("EXISTS")
            .arg("user:1")
            .arg("user:1")
            .arg("nope")
            .query::<i64>(&mut c)
            .unwrap(),
        2
    );
    assert_eq!(c.del::<_, i64>(&["user:0", "user:1", "nope"]).unwrap(), 2);
    assert_eq!(
        cmd("TYPE").arg("user:2").query::<String>(&mut c).unwrap(),
        "string"
    );
    assert_eq!(
        cmd("TYPE").arg("nope").query::<String>(&mut c).unwrap(),
        "none"
    );
    // SCAN returns every key once over the whole cursor walk.
    let mut seen = HashSet::new();
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg("user:*")
            .arg("COUNT")
            .arg(20)
            .query(&mut c)
            .unwrap();
        for key in keys {
            assert!(seen.insert(key), "no key twice");
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 248);
    let typed: (u64, Vec<String>) = cmd("SCAN")
        .arg(0)
        .arg("TYPE")
        .arg("zset")
        .query(&mut c)
        .unwrap();
    assert!(typed.1.is_empty());
    let mut keys: Vec<String> = c.keys("user:1?").unwrap();
    keys.sort();
    assert_eq!(keys.len(), 10);
    assert!(
        cmd("RANDOMKEY")
            .query::<Option<String>>(&mut c)
            .unwrap()
            .is_some()
    );
    // Expiry
    assert_eq!(c.expire::<_, i64>("user:2", 100).unwrap(), 1);
    assert_eq!(
        cmd("EXPIRE")
            .arg("user:2")
            .arg(50)
            .arg("NX")
            .query::<i64>(&mut c)
            .unwrap(),
        0
    );
    assert_eq!(
        cmd("EXPIRE")
            .arg("user:2")
            .arg(50)
            .arg("GT")
            .query::<i64>(&mut c)
            .unwrap(),
        0
    );
    assert_eq!(
        cmd("EXPIRE")
            .arg("user:2")
            .arg(50)
            .arg("LT")
            .query::<i64>(&mut c)
            .unwrap(),
        1
    );
    // XX and LT together: only a key with an expiry, only to an earlier time.
    let xx_lt = |c: &mut redis::Connection, key: &str, seconds: i64| {
        cmd("EXPIRE")
            .arg(key)
            .arg(seconds)
            .arg("XX")
            .arg("LT")
            .query::<i64>(c)
            .unwrap()
    };
    assert_eq!(xx_lt(&mut c, "user:2", 40), 1);
    assert_eq!(xx_lt(&mut c, "user:2", 45), 0);
    assert_eq!(xx_lt(&mut c, "user:3", 40), 0);
    assert_eq!(
        error_text(
            cmd("EXPIRE")
                .arg("user:2")
                .arg(5)
                .arg("NX")
                .arg("XX")
                .query::<i64>(&mut c)
        ),
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    );
    assert_eq!(c.persist::<_, i64>("user:2").unwrap(), 1);
    assert_eq!(c.persist::<_, i64>("user:2").unwrap(), 0);
    assert_eq!(c.expire::<_, i64>("nope", 10).unwrap(), 0);
    let at: i64 = cmd("EXPIRETIME").arg("user:3").query(&mut c).unwrap();
    assert_eq!(at, -1);
    // A time in the past deletes the key.
    assert_eq!(c.expire::<_, i64>("user:3", -1).unwrap(), 1);
    assert!(!c.exists::<_, bool>("user:3").unwrap());
    // PEXPIRE: gone once the time passes.
    assert_eq!(c.pexpire::<_, i64>("user:4", 30).unwrap(), 1);
    std::thread::sleep(std::time::Duration::from_millis(80));
    assert_eq!(c.get::<_, Option<String>>("user:4").unwrap(), None);
    // RENAME
    let () = c.rename("user:5", "renamed").unwrap();
    assert_eq!(c.get::<_, String>("renamed").unwrap(), "5");
    assert_eq!(
        error_text(c.rename::<_, _, ()>("nope", "x")),
        "ERR no such key"
    );
    assert_eq!(
        cmd("RENAMENX")
            .arg("renamed")
            .arg("other")
            .query::<i64>(&mut c)
            .unwrap(),
        0
    );
    // FLUSHALL
    let () = cmd("FLUSHALL").query(&mut c).unwrap();
    assert_eq!(cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 0);
    assert_eq!(
        cmd("RANDOMKEY").query::<Option<String>>(&mut c).unwrap(),
        None
    );
}

#[test]
fn hashes_lists_sets() {
    let server = TestServer::start();
    let mut c = server.redis();
    // Hashes
    let () = c.hset_multiple("h", &[("a", "1"), ("b", "2")]).unwrap();
    assert_eq!(
        cmd("HSET")
            .arg("h")
            .arg("c")
            .arg("3")
            .arg("a")
            .arg("9")
            .query::<i64>(&mut c)
            .unwrap(),
        1
    );
    assert_eq!(c.hget::<_, _, String>("h", "a").unwrap(), "9");
    assert_eq!(c.hget::<_, _, Option<String>>("h", "zz").unwrap(), None);
    let all: HashMap<String, String> = c.hgetall("h").unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(c.hlen::<_, i64>("h").unwrap(), 3);
    assert!(c.hexists::<_, _, bool>("h", "b").unwrap());
    assert_eq!(c.hincr::<_, _, _, i64>("h", "b", 5).unwrap(), 7);
    assert_eq!(
        error_text(
            cmd("HINCRBY")
                .arg("h")
                .arg("a")
                .arg("x")
                .query::<i64>(&mut c)
        ),
        "ERR value is not an integer or out of range"
    );
    let () = c.hset("words", "w", "abc").unwrap();
    assert_eq!(
        error_text(c.hincr::<_, _, _, i64>("words", "w", 1)),
        "ERR hash value is not an integer"
    );
    assert_eq!(
        cmd("HSETNX")
            .arg("h")
            .arg("a")
            .arg("0")
            .query::<i64>(&mut c)
            .unwrap(),
        0
    );
    assert_eq!(c.hdel::<_, _, i64>("h", &["a", "zz"]).unwrap(), 1);
    let fields: Vec<Option<String>> = cmd("HMGET")
        .arg("h")
        .arg("b")
        .arg("a")
        .query(&mut c)
        .unwrap();
    assert_eq!(fields, vec![Some("7".into()), None]);
    assert_eq!(
        cmd("HSTRLEN")
            .arg("h")
            .arg("c")
            .query::<i64>(&mut c)
            .unwrap(),
        1
    );
    let (cursor, items): (u64, Vec<String>) = cmd("HSCAN").arg("h").arg(0).query(&mut c).unwrap();
    assert_eq!(
        (cursor, items.len()),
        (0, 4),
        "fields b and c with their values"
    );
    assert_scans_page_through_large_collections(&mut c);
    // Lists
    assert_eq!(c.rpush::<_, _, i64>("l", &["a", "b", "c"]).unwrap(), 3);
    assert_eq!(c.lpush::<_, _, i64>("l", "z").unwrap(), 4);
    assert_eq!(
        c.lrange::<_, Vec<String>>("l", 0, -1).unwrap(),
        ["z", "a", "b", "c"]
    );
    assert_eq!(c.llen::<_, i64>("l").unwrap(), 4);
    assert_eq!(c.lindex::<_, String>("l", -1).unwrap(), "c");
    let () = c.lset("l", 1, "A").unwrap();
    assert_eq!(
        error_text(c.lset::<_, _, ()>("l", 10, "x")),
        "ERR index out of range"
    );
    assert_eq!(c.lpop::<_, String>("l", None).unwrap(), "z");
    let popped: Vec<String> = cmd("RPOP").arg("l").arg(2).query(&mut c).unwrap();
    assert_eq!(popped, ["c", "b"]);
    assert_eq!(
        cmd("RPOP")
            .arg("nolist")
            .arg(2)
            .query::<Value>(&mut c)
            .unwrap(),
        Value::Nil
    );
    assert_eq!(
        cmd("LPUSHX")
            .arg("nolist")
            .arg("x")
            .query::<i64>(&mut c)
            .unwrap(),
        0
    );
    let () = c.rpush("r", &["x", "y", "x", "x"]).unwrap();
    assert_eq!(c.lrem::<_, _, i64>("r", -2, "x").unwrap(), 2);
    let () = c.ltrim("r", 0, 0).unwrap();
    assert_eq!(c.lrange::<_, Vec<String>>("r", 0, -1).unwrap(), ["x"]);
    // Sets
    assert_eq!(c.sadd::<_, _, i64>("s1", &["a", "b", "c"]).unwrap(), 3);
    assert_eq!(c.sadd::<_, _, i64>("s2", &["b", "c", "d"]).unwrap(), 3);
    assert!(c.sismember::<_, _, bool>("s1", "a").unwrap());
    assert_eq!(c.scard::<_, i64>("s1").unwrap(), 3);
    let inter: HashSet<String> = c.sinter(&["s1", "s2"]).unwrap();
    assert_eq!(inter, HashSet::from(["b".into(), "c".into()]));
    let union: HashSet<String> = c.sunion(&["s1", "s2"]).unwrap();
    assert_eq!(union.len(), 4);
    let diff: HashSet<String> = c.sdiff(&["s1", "s2"]).unwrap();
    assert_eq!(diff, HashSet::from(["a".into()]));
    let flags: Vec<i64> = cmd("SMISMEMBER")
        .arg("s1")
        .arg("a")
        .arg("d")
        .query(&mut c)
        .unwrap();
    assert_eq!(flags, [1, 0]);
    assert_eq!(c.srem::<_, _, i64>("s1", &["a", "zz"]).unwrap(), 1);
    let members: HashSet<String> = c.smembers("s1").unwrap();
    assert_eq!(members.len(), 2);
    // Wrong types are refused with Redis's error and change nothing.
    for result in [
        cmd("LPUSH").arg("h").arg("x").query::<i64>(&mut c),
        cmd("SADD").arg("l").arg("x").query::<i64>(&mut c),
        cmd("HGET").arg("s1").arg("x").query::<i64>(&mut c),
        cmd("GET").arg("l").query::<i64>(&mut c),
    ] {
        assert_eq!(
            error_text(result),
            "WRONGTYPE Operation against a key holding the wrong kind of value"
        );
    }
    assert_eq!(c.hlen::<_, i64>("h").unwrap(), 2);
}

#[test]
fn unlink_of_a_large_hash_frees_it_in_the_background() {
    let server = TestServer::start();
    let mut c = server.redis();
    let pairs: Vec<(String, String)> = (0..2_000).map(|i| (format!("f{i}"), "v".into())).collect();
    let () = c.hset_multiple("big", &pairs).unwrap();
    assert_eq!(cmd("UNLINK").arg("big").query::<i64>(&mut c).unwrap(), 1);
    // One more write brings the second left-right copy up to date: it lets go last.
    let () = c.set("after", "1").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let info: String = cmd("INFO").arg("memory").query(&mut c).unwrap();
        if info.contains("lazyfreed_objects:1\r\n") {
            assert!(info.contains("lazyfree_pending_objects:0\r\n"), "{info}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never freed: {info}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(!c.exists::<_, bool>("big").unwrap());
}

#[test]
fn resp3_replies_use_its_types() {
    let server = TestServer::start();
    let mut c = server.redis3();
    let () = c.hset("h", "f", "v").unwrap();
    let () = c.sadd("s", "m").unwrap();
    match cmd("HGETALL").arg("h").query::<Value>(&mut c).unwrap() {
        Value::Map(pairs) => assert_eq!(pairs.len(), 1),
        other => panic!("HGETALL in RESP3 is a map, got {other:?}"),
    }
    match cmd("SMEMBERS").arg("s").query::<Value>(&mut c).unwrap() {
        Value::Set(members) => assert_eq!(members.len(), 1),
        other => panic!("SMEMBERS in RESP3 is a set, got {other:?}"),
    }
    assert_eq!(
        cmd("GET").arg("missing").query::<Value>(&mut c).unwrap(),
        Value::Nil
    );
    let hello: HashMap<String, Value> = cmd("HELLO").arg(3).query(&mut c).unwrap();
    assert_eq!(hello.get("proto"), Some(&Value::Int(3)));
}

/// SSCAN and HSCAN page through 1,000 items by cursor: several pages, each item once
/// (also the ones present while others are removed mid-scan), MATCH applied, and the
/// `redis` crate's cursor-following iterators see every item.
fn assert_scans_page_through_large_collections(c: &mut redis::Connection) {
    let members: Vec<String> = (0..1_000).map(|i| format!("m{i}")).collect();
    let _: i64 = c.sadd("big-set", &members).unwrap();
    let pairs: Vec<(String, String)> = members
        .iter()
        .map(|m| (m.clone(), format!("v-{m}")))
        .collect();
    let () = c.hset_multiple("big-hash", &pairs).unwrap();
    for (command, key) in [("SSCAN", "big-set"), ("HSCAN", "big-hash")] {
        let mut seen: HashMap<String, usize> = HashMap::new();
        let (mut cursor, mut pages) = (0u64, 0);
        loop {
            let (next, items): (u64, Vec<String>) = cmd(command)
                .arg(key)
                .arg(cursor)
                .arg("COUNT")
                .arg(10)
                .query(c)
                .unwrap();
            pages += 1;
            let names: Vec<&String> = if command == "HSCAN" {
                for pair in items.chunks(2) {
                    assert_eq!(pair[1], format!("v-{}", pair[0]), "a field with its value");
                }
                items.iter().step_by(2).collect()
            } else {
                items.iter().collect()
            };
            for name in names {
                *seen.entry(name.clone()).or_default() += 1;
            }
            if pages == 2 {
                // Members ending in 7 leave mid-scan: the others must still come once.
                let gone: Vec<&String> = members.iter().filter(|m| m.ends_with('7')).collect();
                let _: i64 = cmd(if command == "SSCAN" { "SREM" } else { "HDEL" })
                    .arg(key)
                    .arg(&gone)
                    .query(c)
                    .unwrap();
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        assert!((2..=65).contains(&pages), "{command}: {pages} pages");
        for member in members.iter().filter(|m| !m.ends_with('7')) {
            assert_eq!(seen.get(member), Some(&1), "{command}: {member}");
        }
        assert!(seen.values().all(|n| *n == 1), "{command}: no repeats");
    }
    // MATCH filters each page; the crate's iterators follow the cursor to the end.
    let matched: HashSet<String> = c
        .sscan_match("big-set", "m1?")
        .unwrap()
        .collect::<RedisResult<_>>()
        .unwrap();
    assert_eq!(
        matched,
        (10..20)
            .map(|i| format!("m{i}"))
            .filter(|m| !m.ends_with('7'))
            .collect::<HashSet<_>>()
    );
    let all: HashSet<String> = c
        .sscan("big-set")
        .unwrap()
        .collect::<RedisResult<_>>()
        .unwrap();
    assert_eq!(all.len(), 900);
    let fields: HashMap<String, String> = c
        .hscan("big-hash")
        .unwrap()
        .collect::<RedisResult<_>>()
        .unwrap();
    assert_eq!(fields.len(), 900);
    assert_eq!(fields["m12"], "v-m12");
    let error = error_text(cmd("SSCAN").arg("big-set").arg("x").query::<Value>(c));
    assert!(error.contains("invalid cursor"), "{error}");
    let _: i64 = c.del(&["big-set", "big-hash"]).unwrap();
}
