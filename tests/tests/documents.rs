//! Schemas, collections and documents over the wire: the Boutique use case with the
//! `redis` crate and raw sockets, every error as one clear line that changes nothing,
//! RESP2 and RESP3 replies, transactions, ACL key patterns on documents, and
//! documents surviving a restart of the server.

mod common;

use std::collections::HashMap;

use common::TestServer;

fn boutique(con: &mut redis::Connection) {
    let ok: String = redis::cmd("SCHEMA.CREATE")
        .arg(&["user", "id", "string64", "last_login_time", "uint64"])
        .arg(&["last_visited_page", "string64"])
        .query(con)
        .unwrap();
    assert_eq!(ok, "OK");
    let ok: String = redis::cmd("COLL.CREATE")
        .arg(&["users", "user", "id"])
        .query(con)
        .unwrap();
    assert_eq!(ok, "OK");
}

#[test]
fn the_boutique_use_case_over_the_wire() {
    let server = TestServer::start();
    let mut con = server.redis();
    boutique(&mut con);
    let created: i64 = redis::cmd("DOC.SET")
        .arg(&["users", "user_id_here", "last_login_time", "1312309023"])
        .arg(&["last_visited_page", "/dashboard"])
        .query(&mut con)
        .unwrap();
    assert_eq!(created, 1);
    let projected: Vec<Option<String>> = redis::cmd("DOC.GET")
        .arg(&["users", "user_id_here", "last_login_time"])
        .query(&mut con)
        .unwrap();
    assert_eq!(projected, vec![Some("1312309023".to_string())]);
    let whole: HashMap<String, String> = redis::cmd("DOC.GET")
        .arg(&["users", "user_id_here"])
        .query(&mut con)
        .unwrap();
    assert_eq!(whole["id"], "user_id_here");
    assert_eq!(whole["last_visited_page"], "/dashboard");
    assert_eq!(whole.len(), 3);
    let deleted: i64 = redis::cmd("DOC.DEL")
        .arg(&["users", "user_id_here", "nobody"])
        .query(&mut con)
        .unwrap();
    assert_eq!(deleted, 1);
    let gone: Option<Vec<String>> = redis::cmd("DOC.GET")
        .arg(&["users", "user_id_here", "last_login_time"])
        .query(&mut con)
        .unwrap();
    assert_eq!(gone, None);
}

#[test]
fn every_error_is_one_clear_line_and_changes_nothing() {
    let server = TestServer::start();
    boutique(&mut server.redis());
    let mut raw = server.raw();
    raw.check(b"DOC.SET users x last_login_time 5\r\n", b":1\r\n");
    raw.check(
        b"DOC.SET users x last_login_time abc\r\n",
        b"-ERR wrong type for field last_login_time: expected uint64\r\n",
    );
    raw.check(
        b"DOC.SET users x nickname bob\r\n",
        b"-ERR unknown field nickname in schema user\r\n",
    );
    let long = format!("DOC.SET users x last_visited_page {}\r\n", "p".repeat(65));
    raw.check(
        long.as_bytes(),
        b"-ERR value too long for string64 field last_visited_page (65 > 64 bytes)\r\n",
    );
    raw.check(
        b"COLL.CREATE people nosuchschema id\r\n",
        b"-ERR unknown schema nosuchschema\r\n",
    );
    raw.check(
        b"SCHEMA.CREATE user id string64\r\n",
        b"-ERR schema user already exists\r\n",
    );
    raw.check(
        b"DOC.GET nosuch x\r\n",
        b"-ERR unknown collection nosuch\r\n",
    );
    raw.check(
        b"DOC.SET users x id y\r\n",
        b"-ERR field id is the key of collection users: it must equal the document's id\r\n",
    );
    raw.check(
        b"SCHEMA.CREATE s f string0\r\n",
        b"-ERR unknown type 'string0' for field f: use stringN, bytesN, uint64, int64, float64 or bool\r\n",
    );
    raw.check(
        b"DOC.SET users x last_login_time\r\n",
        b"-ERR wrong number of arguments for 'doc.set' command\r\n",
    );
    raw.check(
        b"SCHEMA.CREATE s f\r\n",
        b"-ERR wrong number of arguments for 'schema.create' command\r\n",
    );
    // Nothing above changed the document.
    raw.check(
        b"DOC.GET users x last_login_time last_visited_page\r\n",
        b"*2\r\n$1\r\n5\r\n$-1\r\n",
    );
    // A document is a key of its own type.
    raw.check(b"TYPE users:x\r\n", b"+document\r\n");
    raw.check(
        b"GET users:x\r\n",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    raw.check(
        b"SCAN 0 TYPE document\r\n",
        b"*2\r\n$1\r\n0\r\n*1\r\n$7\r\nusers:x\r\n",
    );
}

#[test]
fn catalog_reads_scans_resp3_and_transactions() {
    let server = TestServer::start();
    boutique(&mut server.redis());
    let mut raw = server.raw();
    raw.check(
        b"SCHEMA.ADDFIELD user visits uint64 DEFAULT 0\r\n",
        b"+OK\r\n",
    );
    raw.check(b"SCHEMA.LIST\r\n", b"*1\r\n$4\r\nuser\r\n");
    raw.check(
        b"SCHEMA.GET user\r\n",
        b"*4\r\n*3\r\n$2\r\nid\r\n$8\r\nstring64\r\n$-1\r\n\
          *3\r\n$15\r\nlast_login_time\r\n$6\r\nuint64\r\n$-1\r\n\
          *3\r\n$17\r\nlast_visited_page\r\n$8\r\nstring64\r\n$-1\r\n\
          *3\r\n$6\r\nvisits\r\n$6\r\nuint64\r\n$1\r\n0\r\n",
    );
    raw.check(
        b"COLL.LIST\r\n",
        b"*1\r\n*3\r\n$5\r\nusers\r\n$4\r\nuser\r\n$2\r\nid\r\n",
    );
    // A transaction of document writes is atomic, like any other.
    raw.check(b"MULTI\r\n", b"+OK\r\n");
    raw.check(b"DOC.SET users a visits 1\r\n", b"+QUEUED\r\n");
    raw.check(b"DOC.SET users b visits 2\r\n", b"+QUEUED\r\n");
    raw.check(b"DOC.GET users a visits\r\n", b"+QUEUED\r\n");
    raw.check(b"EXEC\r\n", b"*3\r\n:1\r\n:1\r\n*1\r\n$1\r\n1\r\n");
    // RESP3: a whole document is a map; absent fields are left out.
    let mut con = server.redis3();
    let whole: HashMap<String, String> = redis::cmd("DOC.GET")
        .arg(&["users", "b"])
        .query(&mut con)
        .unwrap();
    assert_eq!(
        whole,
        HashMap::from([
            ("id".to_string(), "b".to_string()),
            ("visits".to_string(), "2".to_string())
        ])
    );
    // Pipelined writes, then a full scan in small pages.
    let mut pipe = redis::pipe();
    for i in 0..100 {
        pipe.cmd("DOC.SET")
            .arg(&["users", &format!("p{i}"), "last_login_time", &i.to_string()])
            .ignore();
    }
    pipe.query::<()>(&mut con).unwrap();
    let mut ids = Vec::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, page): (String, Vec<String>) = redis::cmd("DOC.SCAN")
            .arg(&["users", &cursor, "COUNT", "9"])
            .query(&mut con)
            .unwrap();
        ids.extend(page);
        if next == "0" {
            break;
        }
        cursor = next;
    }
    assert_eq!(ids.len(), 102);
    let (_, matched): (String, Vec<String>) = redis::cmd("DOC.SCAN")
        .arg(&["users", "0", "COUNT", "1000", "MATCH", "p1?"])
        .query(&mut con)
        .unwrap();
    assert_eq!(matched.len(), 10);
}

#[test]
fn acl_key_patterns_cover_documents() {
    let server = TestServer::start();
    boutique(&mut server.redis());
    let mut admin = server.raw();
    admin.check(b"SCHEMA.CREATE tag name string8\r\n", b"+OK\r\n");
    admin.check(b"COLL.CREATE tags tag name\r\n", b"+OK\r\n");
    admin.check(
        b"ACL SETUSER app on >pw ~users:* +@document -schema.create\r\n",
        b"+OK\r\n",
    );
    let mut app = server.raw();
    app.check(b"AUTH app pw\r\n", b"+OK\r\n");
    app.check(b"DOC.SET users u1 last_login_time 1\r\n", b":1\r\n");
    app.check(
        b"DOC.SET tags t1\r\n",
        b"-NOPERM No permissions to access a key\r\n",
    );
    // An id cannot reach out of its collection: this one is the key `users:../tags:t1`.
    app.check(b"DOC.DEL users u1 ../tags:t1\r\n", b":1\r\n");
    app.check(
        b"DOC.SCAN tags 0\r\n",
        b"-NOPERM No permissions to access a key\r\n",
    );
    app.check(b"DOC.SCAN users 0\r\n", b"*2\r\n$1\r\n0\r\n*0\r\n");
    app.check(
        b"SCHEMA.CREATE x f bool\r\n",
        b"-NOPERM User app has no permissions to run the 'schema.create' command\r\n",
    );
    app.check(
        b"GET users:u1\r\n",
        b"-NOPERM User app has no permissions to run the 'get' command\r\n",
    );
}

#[test]
fn documents_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let server = TestServer::on_dir(dir.path());
        let mut con = server.redis();
        boutique(&mut con);
        let _: i64 = redis::cmd("DOC.SET")
            .arg(&["users", "kept", "last_login_time", "7"])
            .query(&mut con)
            .unwrap();
        server.stop();
    }
    let server = TestServer::on_dir(dir.path());
    let mut con = server.redis();
    let value: Vec<Option<String>> = redis::cmd("DOC.GET")
        .arg(&["users", "kept", "last_login_time", "last_visited_page"])
        .query(&mut con)
        .unwrap();
    assert_eq!(value, vec![Some("7".to_string()), None]);
}
