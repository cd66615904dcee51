//! Client-side caching (CLIENT TRACKING) with RESP3 pushes: a client that read a key
//! is told, once, when another client changes it; BCAST by prefix; OPTIN/OPTOUT with
//! CLIENT CACHING; a flush; the bound on tracked keys; documents; and the options and
//! protocols it refuses.

mod common;

use common::{Raw, TestServer};

const PUSH_K: &[u8] = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n";

fn push_of(key: &str) -> Vec<u8> {
    format!(
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n${}\r\n{key}\r\n",
        key.len()
    )
    .into_bytes()
}

/// A RESP3 connection with tracking turned on with `options`.
fn tracking(server: &TestServer, options: &str) -> Raw {
    let mut client = server.raw();
    let hello = client.send(b"HELLO 3\r\n");
    assert!(
        hello.starts_with(b"%"),
        "{}",
        String::from_utf8_lossy(&hello)
    );
    client.check(
        format!("CLIENT TRACKING ON{options}\r\n").as_bytes(),
        b"+OK\r\n",
    );
    client
}

/// Sends `request` and reads its reply and the one push it causes, in either order
/// (the push may be written before or after the reply).
fn reply_and_push(client: &mut Raw, request: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let first = client.send(request);
    let second = client.read_frame();
    if first.starts_with(b">") {
        (second, first)
    } else {
        (first, second)
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_read_key_is_invalidated_once_when_another_client_changes_it() {
    let server = TestServer::start();
    let mut writer = server.raw();
    writer.check(b"SET k v1\r\n", b"+OK\r\n");
    let mut reader = tracking(&server, "");
    reader.check(b"GET k\r\n", b"$2\r\nv1\r\n");
    writer.check(b"SET k v2\r\n", b"+OK\r\n");
    assert_eq!(text(&reader.read_frame()), text(PUSH_K));
    // Not read again, so not tracked: the next push is for z, not k.
    writer.check(b"SET k v3\r\n", b"+OK\r\n");
    reader.check(b"GET z\r\n", b"_\r\n");
    writer.check(b"SET z 1\r\n", b"+OK\r\n");
    assert_eq!(text(&reader.read_frame()), text(&push_of("z")));
    // Read again: tracked again; a delete is a change too.
    reader.check(b"GET k\r\n", b"$2\r\nv3\r\n");
    writer.check(b"DEL k\r\n", b":1\r\n");
    assert_eq!(text(&reader.read_frame()), text(PUSH_K));
    // A flush tells every tracking client to drop everything.
    reader.check(b"GET k\r\n", b"_\r\n");
    writer.check(b"FLUSHALL\r\n", b"+OK\r\n");
    assert_eq!(
        text(&reader.read_frame()),
        ">2\r\n$10\r\ninvalidate\r\n_\r\n"
    );
    // OFF: nothing more.
    reader.check(b"CLIENT TRACKING OFF\r\n", b"+OK\r\n");
    reader.check(b"GET k\r\n", b"_\r\n");
    writer.check(b"SET k again\r\n", b"+OK\r\n");
    reader.check(b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn multi_key_reads_and_documents_are_tracked() {
    let server = TestServer::start();
    let mut writer = server.raw();
    writer.check(b"SCHEMA.CREATE u id string8 n uint64\r\n", b"+OK\r\n");
    writer.check(b"COLL.CREATE users u id\r\n", b"+OK\r\n");
    writer.check(b"DOC.SET users a n 1\r\n", b":1\r\n");
    let mut reader = tracking(&server, "");
    reader.check(b"DOC.GET users a n\r\n", b"*1\r\n$1\r\n1\r\n");
    reader.check(b"MGET x y\r\n", b"*2\r\n_\r\n_\r\n");
    writer.check(b"DOC.SET users a n 2\r\n", b":0\r\n");
    assert_eq!(text(&reader.read_frame()), text(&push_of("users:a")));
    writer.check(b"MSET x 1 y 2\r\n", b"+OK\r\n");
    assert_eq!(
        text(&reader.read_frame()),
        ">2\r\n$10\r\ninvalidate\r\n*2\r\n$1\r\nx\r\n$1\r\ny\r\n"
    );
}

#[test]
fn broadcast_announces_every_change_under_its_prefixes() {
    let server = TestServer::start();
    let mut writer = server.raw();
    let mut reader = tracking(&server, " BCAST PREFIX user: PREFIX cfg:");
    writer.check(b"SET other 1\r\n", b"+OK\r\n");
    writer.check(b"SET user:1 ann\r\n", b"+OK\r\n");
    assert_eq!(text(&reader.read_frame()), text(&push_of("user:1")));
    writer.check(b"SET cfg:a 1\r\n", b"+OK\r\n");
    assert_eq!(text(&reader.read_frame()), text(&push_of("cfg:a")));
    // Nothing needs reading first, and every change is announced.
    writer.check(b"SET user:1 bob\r\n", b"+OK\r\n");
    assert_eq!(text(&reader.read_frame()), text(&push_of("user:1")));
}

#[test]
fn optin_tracks_only_after_client_caching_yes_and_optout_skips_no() {
    let server = TestServer::start();
    let mut writer = server.raw();
    let mut optin = tracking(&server, " OPTIN");
    optin.check(b"GET a\r\n", b"_\r\n");
    optin.check(b"CLIENT CACHING YES\r\n", b"+OK\r\n");
    optin.check(b"GET b\r\n", b"_\r\n");
    let mut optout = tracking(&server, " OPTOUT");
    optout.check(b"CLIENT CACHING NO\r\n", b"+OK\r\n");
    optout.check(b"GET c\r\n", b"_\r\n");
    optout.check(b"GET d\r\n", b"_\r\n");
    writer.check(b"MSET a 1 c 1\r\n", b"+OK\r\n");
    writer.check(b"MSET b 1 d 1\r\n", b"+OK\r\n");
    assert_eq!(text(&optin.read_frame()), text(&push_of("b")));
    assert_eq!(text(&optout.read_frame()), text(&push_of("d")));
}

#[test]
fn the_table_of_tracked_keys_is_bounded() {
    let server = TestServer::start();
    let mut admin = server.raw();
    admin.check(b"CONFIG SET tracking-table-max-keys 2\r\n", b"+OK\r\n");
    let mut reader = tracking(&server, "");
    reader.check(b"MGET a b\r\n", b"*2\r\n_\r\n_\r\n");
    // A third key pushes one of the first two out, announced as invalidated.
    let (get, push) = reply_and_push(&mut reader, b"GET c\r\n");
    assert_eq!(text(&get), "_\r\n");
    assert!(
        push == push_of("a") || push == push_of("b"),
        "{}",
        text(&push)
    );
    let info = text(&admin.send(b"INFO stats\r\n"));
    assert!(info.contains("tracking_total_keys:2"), "{info}");
}

#[test]
fn what_tracking_refuses() {
    let server = TestServer::start();
    let mut resp2 = server.raw();
    resp2.check(
        b"CLIENT TRACKING ON\r\n",
        b"-ERR RESP2 clients track with REDIRECT to a client subscribed to __redis__:invalidate, or switch with HELLO 3\r\n",
    );
    let mut client = server.raw();
    client.send(b"HELLO 3\r\n");
    client.check(
        b"CLIENT TRACKING ON PREFIX a\r\n",
        b"-ERR PREFIX option requires BCAST mode to be enabled\r\n",
    );
    client.check(
        b"CLIENT TRACKING ON BCAST OPTIN\r\n",
        b"-ERR OPTIN and OPTOUT are not compatible with BCAST\r\n",
    );
    client.check(
        b"CLIENT TRACKING ON REDIRECT 999\r\n",
        b"-ERR The client ID you want redirect to does not exist\r\n",
    );
    client.check(
        b"CLIENT TRACKING ON REDIRECT 1 VALUES\r\n",
        b"-ERR VALUES is not compatible with REDIRECT\r\n",
    );
    client.check(
        b"CLIENT CACHING YES\r\n",
        b"-ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled\r\n",
    );
    // A tracking client that leaves is forgotten; writes go on.
    let gone = tracking(&server, "");
    drop(gone);
    client.check(b"SET k 1\r\n", b"+OK\r\n");
    client.check(b"PING\r\n", b"+PONG\r\n");
}

/// The version a `chiral-value` push carries, after checking the rest of it (no
/// expiry).
fn value_push(push: &[u8], key: &str, value: Option<&str>) -> u64 {
    let value = match value {
        Some(value) => format!("${}\r\n{value}\r\n", value.len()),
        None => "_\r\n".to_string(),
    };
    let head = format!(
        ">5\r\n$12\r\nchiral-value\r\n${}\r\n{key}\r\n{value}:",
        key.len()
    );
    let push = text(push);
    let version = push
        .strip_prefix(&head)
        .and_then(|rest| rest.strip_suffix("\r\n:-1\r\n"))
        .unwrap_or_else(|| panic!("expected {head:?}...:-1, got {push:?}"));
    version.parse().unwrap()
}

#[test]
fn values_mode_pushes_each_new_value_in_commit_order() {
    let server = TestServer::start();
    let mut writer = server.raw();
    writer.check(b"SET k v1\r\n", b"+OK\r\n");
    let mut reader = tracking(&server, " VALUES");
    reader.check(b"GET k\r\n", b"$2\r\nv1\r\n");
    writer.check(b"SET k v2\r\n", b"+OK\r\n");
    let first = value_push(&reader.read_frame(), "k", Some("v2"));
    // Still tracked: every change comes, a deletion too, then a new value.
    writer.check(b"SET k v3\r\n", b"+OK\r\n");
    writer.check(b"DEL k\r\n", b":1\r\n");
    writer.check(b"INCRBY k 7\r\n", b":7\r\n");
    let second = value_push(&reader.read_frame(), "k", Some("v3"));
    let third = value_push(&reader.read_frame(), "k", None);
    let fourth = value_push(&reader.read_frame(), "k", Some("7"));
    assert!(first < second && second < third && third < fourth);
    // A value that is not a string is an invalidation, and the key is let go.
    writer.check(b"DEL k\r\n", b":1\r\n");
    value_push(&reader.read_frame(), "k", None);
    writer.check(b"RPUSH k x\r\n", b":1\r\n");
    assert_eq!(text(&reader.read_frame()), text(PUSH_K));
    // A string too large to push is an invalidation too.
    reader.check(b"GET big\r\n", b"_\r\n");
    let big = "b".repeat(64 * 1024 + 1);
    let set_big = format!(
        "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${}\r\n{big}\r\n",
        big.len()
    );
    writer.check(set_big.as_bytes(), b"+OK\r\n");
    assert_eq!(text(&reader.read_frame()), text(&push_of("big")));
}

#[test]
fn a_values_window_keeps_the_most_recently_read_keys() {
    let server = TestServer::start();
    let mut admin = server.raw();
    admin.check(b"CONFIG SET tracking-window-keys 2\r\n", b"+OK\r\n");
    let mut reader = tracking(&server, " VALUES");
    reader.check(b"GET a\r\n", b"_\r\n");
    reader.check(b"GET b\r\n", b"_\r\n");
    // Reading a again makes b the oldest: c pushes b out, announced.
    reader.check(b"GET a\r\n", b"_\r\n");
    let (get, push) = reply_and_push(&mut reader, b"GET c\r\n");
    assert_eq!(text(&get), "_\r\n");
    assert_eq!(text(&push), text(&push_of("b")));
    // b is no longer tracked: its change is not pushed; a's and c's are.
    admin.check(b"SET b 1\r\n", b"+OK\r\n");
    admin.check(b"SET a 1\r\n", b"+OK\r\n");
    admin.check(b"SET c 1\r\n", b"+OK\r\n");
    value_push(&reader.read_frame(), "a", Some("1"));
    value_push(&reader.read_frame(), "c", Some("1"));
    reader.check(
        b"CLIENT TRACKING ON BCAST VALUES\r\n",
        b"-ERR VALUES is not compatible with BCAST\r\n",
    );
}

#[test]
fn versioned_reads_and_syncs_for_caching_clients() {
    let server = TestServer::start();
    let mut writer = server.raw();
    writer.check(b"SET k v\r\n", b"+OK\r\n");
    writer.check(b"SET t v PX 100000\r\n", b"+OK\r\n");
    writer.check(b"RPUSH list a\r\n", b":1\r\n");
    // Version = LSN of the last write: 1, 2, 3 here.
    writer.check(b"CHIRAL.GETV k\r\n", b"*3\r\n$1\r\nv\r\n:1\r\n:-1\r\n");
    let reply = text(&writer.send(b"CHIRAL.GETV t\r\n"));
    assert!(reply.starts_with("*3\r\n$1\r\nv\r\n:2\r\n:"), "{reply}");
    let pttl: i64 = reply
        .trim_end()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=100_000).contains(&pttl), "{pttl}");
    writer.check(b"CHIRAL.GETV missing\r\n", b"$-1\r\n");
    writer.check(
        b"CHIRAL.GETV list\r\n",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    writer.check(
        b"CHIRAL.VERSIONS k missing list\r\n",
        b"*3\r\n:1\r\n:0\r\n:3\r\n",
    );
    // A sync needs tracking; with it, the push follows the reply.
    writer.check(
        b"CHIRAL.SYNC 1\r\n",
        b"-ERR CHIRAL.SYNC needs CLIENT TRACKING on\r\n",
    );
    let mut reader = tracking(&server, " VALUES");
    reader.check(b"GET k\r\n", b"$1\r\nv\r\n");
    writer.check(b"SET k w\r\n", b"+OK\r\n");
    // The change's push comes before the sync's: the sync covers it.
    let (reply, push) = reply_and_push(&mut reader, b"CHIRAL.SYNC tok\r\n");
    assert_eq!(text(&reply), "+OK\r\n");
    assert_eq!(
        text(&push),
        ">5\r\n$12\r\nchiral-value\r\n$1\r\nk\r\n$1\r\nw\r\n:4\r\n:-1\r\n"
    );
    assert_eq!(
        text(&reader.read_frame()),
        ">2\r\n$11\r\nchiral-sync\r\n$3\r\ntok\r\n"
    );
}

#[test]
fn noloop_leaves_out_the_clients_own_writes() {
    let server = TestServer::start();
    let mut other = server.raw();
    for (options, mode) in [(" NOLOOP", "default"), (" BCAST NOLOOP", "bcast")] {
        let mut client = tracking(&server, options);
        client.check(b"GET mine\r\nGET theirs\r\n", b"_\r\n_\r\n");
        // Its own write: no push (the PING's reply comes first and alone).
        client.check(b"SET mine 1\r\nPING\r\n", b"+OK\r\n+PONG\r\n");
        // Another client's write: the push.
        other.check(b"SET theirs 1\r\n", b"+OK\r\n");
        assert_eq!(
            text(&client.read_frame()),
            text(&push_of("theirs")),
            "{mode}"
        );
        // In default mode its own write also untracked the key: no push for it now.
        other.check(b"SET mine 2\r\n", b"+OK\r\n");
        if mode == "bcast" {
            assert_eq!(text(&client.read_frame()), text(&push_of("mine")));
        }
        client.check(b"PING\r\n", b"+PONG\r\n");
        other.check(b"DEL mine theirs\r\n", b":2\r\n");
        if mode == "bcast" {
            let push = text(&client.read_frame());
            assert!(
                push.starts_with(">2\r\n$10\r\ninvalidate\r\n*2\r\n"),
                "{push}"
            );
        }
        client.check(b"CLIENT TRACKING OFF\r\n", b"+OK\r\n");
    }
}

/// The client id of a raw connection.
fn id_of(client: &mut Raw) -> u64 {
    let reply = text(&client.send(b"CLIENT ID\r\n"));
    reply.trim_start_matches(':').trim_end().parse().unwrap()
}

#[test]
fn redirect_sends_a_resp2_clients_invalidations_to_a_subscriber() {
    let server = TestServer::start();
    let mut listener = server.raw();
    let listener_id = id_of(&mut listener);
    listener.check(
        b"SUBSCRIBE __redis__:invalidate\r\n",
        b"*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n",
    );
    let mut probe = server.raw();
    // A RESP2 client tracks, its invalidations going to the listener.
    let mut tracker = server.raw();
    tracker.check(
        format!("CLIENT TRACKING ON REDIRECT {listener_id}\r\n").as_bytes(),
        b"+OK\r\n",
    );
    tracker.check(b"GET k\r\n", b"$-1\r\n");
    probe.check(b"SET k 1\r\n", b"+OK\r\n");
    assert_eq!(
        text(&listener.read_frame()),
        "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n"
    );
    // A flush: a null list.
    probe.check(b"FLUSHALL\r\n", b"+OK\r\n");
    assert_eq!(
        text(&listener.read_frame()),
        "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n"
    );
    // Redirected tracking survives HELLO 2: its invalidations never were its own.
    let hello = tracker.send(b"HELLO 2\r\n");
    assert!(hello.starts_with(b"*"), "{}", text(&hello));
    tracker.check(b"GET k2\r\n", b"$-1\r\n");
    probe.check(b"SET k2 1\r\n", b"+OK\r\n");
    assert_eq!(
        text(&listener.read_frame()),
        "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$2\r\nk2\r\n"
    );
    // A RESP3 tracker is told when its redirect target is gone.
    let mut resp3 = server.raw();
    resp3.send(b"HELLO 3\r\n");
    resp3.check(
        format!("CLIENT TRACKING ON REDIRECT {listener_id}\r\n").as_bytes(),
        b"+OK\r\n",
    );
    resp3.check(b"GET j\r\n", b"_\r\n");
    drop(listener);
    // The listener's mailbox closes when the server notices it left.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let list = text(&probe.send(b"CLIENT LIST\r\n"));
        if !list.contains("cmd=subscribe") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{list}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    probe.check(b"SET j 1\r\n", b"+OK\r\n");
    assert_eq!(
        text(&resp3.read_frame()),
        ">1\r\n$21\r\ntracking-redir-broken\r\n"
    );
}

#[test]
fn a_value_push_carries_the_time_to_live() {
    let server = TestServer::start();
    let mut writer = server.raw();
    let mut reader = tracking(&server, " VALUES");
    reader.check(b"GET k\r\n", b"_\r\n");
    writer.check(b"SET k v PX 100000\r\n", b"+OK\r\n");
    let push = text(&reader.read_frame());
    let head = ">5\r\n$12\r\nchiral-value\r\n$1\r\nk\r\n$1\r\nv\r\n:1\r\n:";
    let pttl: i64 = push
        .strip_prefix(head)
        .unwrap_or_else(|| panic!("{push:?}"))
        .trim_end()
        .parse()
        .unwrap();
    assert!((1..=100_000).contains(&pttl), "{pttl}");
}
