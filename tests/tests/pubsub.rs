//! Pub/Sub with the `redis` crate's subscriber (RESP2) and raw RESP3 pushes:
//! channels and patterns, PUBLISH's count, PUBSUB, what a subscribed RESP2 client
//! may send, and unsubscribing.

mod common;

use std::io::Read;
use std::time::Duration;

use common::TestServer;

#[test]
fn a_redis_crate_subscriber_gets_messages_by_channel_and_pattern() {
    let server = TestServer::start();
    let mut subscriber = server.redis();
    let mut publisher = server.redis();
    let mut pubsub = subscriber.as_pubsub();
    pubsub.subscribe("news").unwrap();
    pubsub.psubscribe("logs:*").unwrap();
    pubsub
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let publish = |publisher: &mut redis::Connection, channel: &str, message: &str| -> i64 {
        redis::cmd("PUBLISH")
            .arg(channel)
            .arg(message)
            .query(publisher)
            .unwrap()
    };
    assert_eq!(publish(&mut publisher, "news", "hello"), 1);
    assert_eq!(publish(&mut publisher, "logs:web", "line"), 1);
    assert_eq!(publish(&mut publisher, "nobody", "lost"), 0);
    let message = pubsub.get_message().unwrap();
    assert_eq!(message.get_channel_name(), "news");
    assert_eq!(message.get_payload::<String>().unwrap(), "hello");
    let message = pubsub.get_message().unwrap();
    assert_eq!(message.get_channel_name(), "logs:web");
    assert_eq!(message.get_pattern::<String>().unwrap(), "logs:*");
    assert_eq!(message.get_payload::<String>().unwrap(), "line");

    let channels: Vec<String> = redis::cmd("PUBSUB")
        .arg("CHANNELS")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(channels, ["news"]);
    let numsub: Vec<redis::Value> = redis::cmd("PUBSUB")
        .arg(&["NUMSUB", "news", "other"])
        .query(&mut publisher)
        .unwrap();
    assert_eq!(
        numsub,
        [
            redis::Value::BulkString(b"news".to_vec()),
            redis::Value::Int(1),
            redis::Value::BulkString(b"other".to_vec()),
            redis::Value::Int(0),
        ]
    );
    let numpat: i64 = redis::cmd("PUBSUB")
        .arg("NUMPAT")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(numpat, 1);

    pubsub.unsubscribe("news").unwrap();
    pubsub.punsubscribe("logs:*").unwrap();
    drop(pubsub);
    assert_eq!(publish(&mut publisher, "news", "late"), 0);
    // Unsubscribed from everything, the connection runs commands again.
    let pong: String = redis::cmd("PING").query(&mut subscriber).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn a_subscribed_resp2_client_may_only_subscribe_ping_and_leave() {
    let server = TestServer::start();
    let mut client = server.raw();
    client.check(
        b"SUBSCRIBE a b\r\n",
        b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n",
    );
    client.check(
        b"GET k\r\n",
        b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
    );
    client.check(b"PING\r\n", b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    // Others see the subscriber as such.
    let mut observer = server.raw();
    let list = String::from_utf8_lossy(&observer.send(b"CLIENT LIST\r\n")).into_owned();
    assert!(list.contains("flags=P db=0 sub=2 psub=0"), "{list}");
    let info = String::from_utf8_lossy(&observer.send(b"INFO stats\r\n")).into_owned();
    assert!(
        info.contains("pubsub_channels:2\r\npubsub_patterns:0\r\n"),
        "{info}"
    );
    client.check(
        b"UNSUBSCRIBE\r\n",
        b"*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n",
    );
    client.check(
        b"UNSUBSCRIBE\r\n",
        b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n",
    );
    client.check(b"PING\r\n", b"+PONG\r\n");
    // RESET leaves every subscription.
    client.check(
        b"PSUBSCRIBE p*\r\n",
        b"*3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:1\r\n",
    );
    client.check(b"RESET\r\n", b"+RESET\r\n");
    let mut other = server.raw();
    other.check(b"PUBLISH pq x\r\n", b":0\r\n");
    // Not inside a transaction.
    client.check(b"MULTI\r\n", b"+OK\r\n");
    client.check(
        b"SUBSCRIBE a\r\n",
        b"-ERR Command not allowed inside a transaction\r\n",
    );
    client.check(b"DISCARD\r\n", b"+OK\r\n");
}

#[test]
fn a_resp3_subscriber_gets_pushes_and_runs_commands_meanwhile() {
    let server = TestServer::start();
    let mut client = server.raw();
    let hello = client.send(b"HELLO 3\r\n");
    assert!(hello.starts_with(b"%"));
    client.check(
        b"SUBSCRIBE c\r\n",
        b">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n",
    );
    client.check(b"SET k v\r\n", b"+OK\r\n");
    let mut other = server.raw();
    other.check(b"PUBLISH c hi\r\n", b":1\r\n");
    assert_eq!(
        client.read_frame(),
        b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n"
    );
}

#[test]
fn a_subscriber_that_falls_too_far_behind_is_disconnected() {
    let server = TestServer::start();
    let mut slow = server.raw();
    slow.check(
        b"SUBSCRIBE flood\r\n",
        b"*3\r\n$9\r\nsubscribe\r\n$5\r\nflood\r\n:1\r\n",
    );
    let mut publisher = server.redis();
    let payload = "x".repeat(4096);
    let mut pipe = redis::pipe();
    for _ in 0..20_000 {
        pipe.cmd("PUBLISH").arg("flood").arg(&payload).ignore();
    }
    // 80 MB: more than the sockets buffer and the mailbox holds.
    let _: () = pipe.query(&mut publisher).unwrap();
    // It reads what reached it, then the server closes the connection.
    let mut received = Vec::new();
    slow.stream
        .read_to_end(&mut received)
        .expect("the server closes the connection (not a read timeout)");
    let one = format!("*3\r\n$7\r\nmessage\r\n$5\r\nflood\r\n$4096\r\n{payload}\r\n");
    assert_eq!(received.len() % one.len(), 0, "whole messages");
    let messages = received.len() / one.len();
    assert!(messages < 20_000, "{messages}");
    // The others go on.
    let pong: String = redis::cmd("PING").query(&mut publisher).unwrap();
    assert_eq!(pong, "PONG");
}
