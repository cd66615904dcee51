//! chiral_net::Client, the plain RESP3 client, against the real server: replies of
//! every shape, error replies as values, pushes kept in order while replies are
//! awaited, a reply past the limits refused, a Unix socket.

mod common;

use std::time::Duration;

use bytes::Bytes;
use chiral_net::{Client, ClientError, ReplyError, ReplyLimits, Value};
use common::TestServer;

fn bulk(text: &str) -> Value {
    Value::Bulk(Bytes::copy_from_slice(text.as_bytes()))
}

#[test]
fn replies_of_every_shape() {
    let server = TestServer::start();
    let mut client = Client::connect(server.addr).unwrap();
    assert_eq!(
        client.command(&["SET", "k", "v"]).unwrap(),
        Value::Simple("OK".into())
    );
    assert_eq!(client.command(&["GET", "k"]).unwrap(), bulk("v"));
    assert_eq!(client.command(&["GET", "missing"]).unwrap(), Value::Null);
    assert_eq!(client.command(&["INCR", "n"]).unwrap(), Value::Integer(1));
    client.command(&["HSET", "h", "f", "1"]).unwrap();
    assert_eq!(
        client.command(&["HGETALL", "h"]).unwrap(),
        Value::Map(vec![(bulk("f"), bulk("1"))])
    );
    assert_eq!(
        client.command(&["GET", "h"]).unwrap(),
        Value::Error("WRONGTYPE Operation against a key holding the wrong kind of value".into())
    );
    // The connection is fine after an error reply.
    assert_eq!(
        client.command(&[&b"ECHO"[..], &[0, 255]]).unwrap(),
        Value::Bulk(Bytes::from_static(&[0, 255]))
    );
}

#[test]
fn pushes_wait_in_order_for_next_push() {
    let server = TestServer::start();
    let mut tracking = Client::connect(server.addr).unwrap();
    let mut writer = Client::connect(server.addr).unwrap();
    tracking.command(&["CLIENT", "TRACKING", "ON"]).unwrap();
    tracking.command(&["MGET", "a", "b"]).unwrap();
    assert_eq!(
        tracking.next_push(Some(Duration::from_millis(50))).unwrap(),
        None
    );
    writer.command(&["SET", "a", "1"]).unwrap();
    writer.command(&["SET", "b", "1"]).unwrap();
    let invalidate =
        |key: &str| Value::Push(vec![bulk("invalidate"), Value::Array(vec![bulk(key)])]);
    assert_eq!(tracking.next_push(None).unwrap(), Some(invalidate("a")));
    // A push that arrives before a reply is kept for later.
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        tracking.command(&["PING"]).unwrap(),
        Value::Simple("PONG".into())
    );
    assert_eq!(
        tracking.next_push(Some(Duration::ZERO)).unwrap(),
        Some(invalidate("b"))
    );
}

#[test]
fn a_reply_past_the_limits_is_refused() {
    let server = TestServer::start();
    let mut client = Client::connect(server.addr).unwrap();
    client.command(&["SET", "big", "12345"]).unwrap();
    client.set_limits(ReplyLimits {
        max_bulk_bytes: 4,
        ..ReplyLimits::default()
    });
    assert!(matches!(
        client.command(&["GET", "big"]),
        Err(ClientError::Reply(ReplyError::TooLarge { .. }))
    ));
}

#[test]
fn over_a_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("chiral.sock");
    let path = socket.clone();
    let _server = TestServer::with(move |config| config.unix_socket = Some(path));
    let mut client = Client::connect_unix(&socket).unwrap();
    assert_eq!(
        client.command(&["PING"]).unwrap(),
        Value::Simple("PONG".into())
    );
}
