//! ACL users: what each may run and touch, AUTH as them, and their file surviving a
//! restart.

mod common;

use common::TestServer;

#[test]
fn users_are_allowed_and_denied_by_their_rules() {
    let server = TestServer::start();
    let mut admin = server.raw();
    admin.check(
        b"ACL SETUSER reader on >r3ad ~cache:* +@read -@dangerous\r\n",
        b"+OK\r\n",
    );
    admin.check(
        b"ACL SETUSER writer on >wr1te allkeys +@all -flushall\r\n",
        b"+OK\r\n",
    );
    admin.check(b"SET cache:1 one\r\n", b"+OK\r\n");
    admin.check(b"SET secret s\r\n", b"+OK\r\n");
    let mut client = server.raw();
    client.check(
        b"AUTH reader wrong\r\n",
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    client.check(b"AUTH reader r3ad\r\n", b"+OK\r\n");
    client.check(
        b"ACL WHOAMI\r\n",
        b"-NOPERM User reader has no permissions to run the 'acl|whoami' command\r\n",
    );
    client.check(b"GET cache:1\r\n", b"$3\r\none\r\n");
    client.check(
        b"GET secret\r\n",
        b"-NOPERM No permissions to access a key\r\n",
    );
    client.check(
        b"MGET cache:1 secret\r\n",
        b"-NOPERM No permissions to access a key\r\n",
    );
    client.check(
        b"SET cache:2 x\r\n",
        b"-NOPERM User reader has no permissions to run the 'set' command\r\n",
    );
    client.check(
        b"KEYS *\r\n",
        b"-NOPERM User reader has no permissions to run the 'keys' command\r\n",
    );
    admin.check(b"EXISTS cache:2\r\n", b":0\r\n");
    // A denied command inside MULTI aborts the transaction, changing nothing.
    let mut writer = server.raw();
    writer.check(b"AUTH writer wr1te\r\n", b"+OK\r\n");
    writer.check(b"MULTI\r\n", b"+OK\r\n");
    writer.check(b"SET w 1\r\n", b"+QUEUED\r\n");
    writer.check(
        b"FLUSHALL\r\n",
        b"-NOPERM User writer has no permissions to run the 'flushall' command\r\n",
    );
    writer.check(
        b"EXEC\r\n",
        b"-EXECABORT Transaction discarded because of previous errors.\r\n",
    );
    admin.check(b"EXISTS w\r\n", b":0\r\n");
    // Changing a user takes effect at once for its connections; deleting or
    // disabling it logs them out.
    admin.check(b"ACL SETUSER reader +set\r\n", b"+OK\r\n");
    client.check(b"SET cache:2 x\r\n", b"+OK\r\n");
    admin.check(b"ACL SETUSER reader off\r\n", b"+OK\r\n");
    client.check(b"GET cache:1\r\n", b"-NOAUTH Authentication required.\r\n");
    client.check(
        b"AUTH reader r3ad\r\n",
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    admin.check(b"ACL DELUSER reader nobody\r\n", b":1\r\n");
    admin.check(
        b"ACL DELUSER default\r\n",
        b"-ERR The 'default' user cannot be removed\r\n",
    );
    // Bad rules are refused whole.
    admin.check(
        b"ACL SETUSER x on +nosuchcommand\r\n",
        b"-ERR Error in ACL SETUSER modifier '+nosuchcommand': Unknown command 'nosuchcommand'\r\n",
    );
    admin.check(b"ACL USERS\r\n", b"*2\r\n$7\r\ndefault\r\n$6\r\nwriter\r\n");
    admin.check(b"ACL WHOAMI\r\n", b"$7\r\ndefault\r\n");
}

#[test]
fn the_redis_crate_authenticates_as_a_user_and_users_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let acl_file = dir.path().join("users.acl");
    let file = acl_file.clone();
    let data = dir.path().join("data");
    let server = TestServer::with(move |config| {
        config.dir = Some(data);
        config.acl_file = Some(file);
        config.requirepass = Some("adminpw".into());
    });
    let admin_url = format!("redis://default:adminpw@{}/", server.addr);
    let mut admin = redis::Client::open(admin_url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg("app")
        .arg("on")
        .arg(">apppw")
        .arg("~app:*")
        .arg("+@all")
        .query(&mut admin)
        .unwrap();
    let list: Vec<String> = redis::cmd("ACL").arg("LIST").query(&mut admin).unwrap();
    assert_eq!(list.len(), 2);
    assert!(list[0].starts_with("user app on #"), "{list:?}");
    assert!(
        !list.concat().contains("apppw"),
        "passwords are kept hashed"
    );
    server.stop();
    assert!(
        std::fs::read_to_string(&acl_file)
            .unwrap()
            .contains("user app on #")
    );

    let file = acl_file.clone();
    let data = dir.path().join("data");
    let server = TestServer::with(move |config| {
        config.dir = Some(data);
        config.acl_file = Some(file);
    });
    let url = format!("redis://app:apppw@{}/", server.addr);
    let mut app = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let () = redis::cmd("SET")
        .arg("app:1")
        .arg("x")
        .query(&mut app)
        .unwrap();
    let denied = redis::cmd("SET")
        .arg("other")
        .arg("x")
        .query::<()>(&mut app)
        .unwrap_err();
    assert_eq!(denied.code(), Some("NOPERM"));
    // Without requirepass this time, but the file still holds default's password.
    let mut anonymous = server.raw();
    anonymous.check(b"GET app:1\r\n", b"-NOAUTH Authentication required.\r\n");
    anonymous.check(b"AUTH adminpw\r\n", b"+OK\r\n");
    anonymous.check(b"GET app:1\r\n", b"$1\r\nx\r\n");
}

#[test]
fn rules_can_name_subcommands() {
    let server = TestServer::start();
    let mut admin = server.raw();
    admin.check(
        b"ACL SETUSER ops on >pw ~* +@all -config +config|get -client|kill\r\n",
        b"+OK\r\n",
    );
    let mut ops = server.raw();
    ops.check(b"AUTH ops pw\r\n", b"+OK\r\n");
    let reply = ops.send(b"CONFIG GET maxclients\r\n");
    assert!(
        reply.starts_with(b"*2\r\n"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    ops.check(
        b"CONFIG SET maxclients 5\r\n",
        b"-NOPERM User ops has no permissions to run the 'config|set' command\r\n",
    );
    ops.check(
        b"CLIENT KILL ID 99999\r\n",
        b"-NOPERM User ops has no permissions to run the 'client|kill' command\r\n",
    );
    let reply = ops.send(b"CLIENT ID\r\n");
    assert!(reply.starts_with(b":"));
    let list = String::from_utf8_lossy(&admin.send(b"ACL LIST\r\n")).into_owned();
    assert!(
        list.contains("+@all -config +config|get -client|kill"),
        "{list}"
    );
}
