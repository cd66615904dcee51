//! Commands: the table of every command the server knows, and what a parsed command
//! is.
//!
//! A request's arguments are looked up by name in [`TABLE`], checked against the
//! arity there, and parsed by the entry's parser into a [`Command`]: a read answered
//! from the connection's engine reader, a write made of engine operations (which the
//! session batches with its neighbours in the pipeline), or a control command that
//! acts on the connection or the server. The families each have a file: `strings`,
//! `keys`, `lists`, `hashes`, `sets`, `docs` hold the data commands with their reads;
//! `caching` the versioned reads and sync point of caching clients; `pubsub` the
//! Pub/Sub commands; `control` parses connection, transaction and server commands.

pub(crate) mod caching;
pub(crate) mod control;
pub(crate) mod docs;
pub(crate) mod hashes;
pub(crate) mod keys;
pub(crate) mod lists;
pub(crate) mod pubsub;
pub(crate) mod sets;
pub(crate) mod strings;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

use bytes::Bytes;
use chiral::{Op, Reader};

use crate::args::Args;
use crate::frame::Frame;

/// A parsed command.
#[derive(Debug)]
pub(crate) enum Command {
    /// Answered from the connection's reader, after its earlier writes are visible.
    Read(Read),
    /// Engine operations, applied together.
    Write(Write),
    /// Acts on the connection or the server.
    Control(control::Control),
}

/// A read command of one of the data families.
#[derive(Debug)]
pub(crate) enum Read {
    /// Strings.
    Strings(strings::Read),
    /// Keys of any type.
    Keys(keys::Read),
    /// Lists.
    Lists(lists::Read),
    /// Hashes.
    Hashes(hashes::Read),
    /// Sets.
    Sets(sets::Read),
    /// Documents and the catalog.
    Docs(docs::Read),
    /// Reads with versions, for caching clients.
    Caching(caching::Read),
}

impl Read {
    /// Runs the read; errors become error replies.
    pub(crate) fn run(&self, reader: &Reader) -> Frame {
        let result = match self {
            Read::Strings(read) => read.run(reader),
            Read::Keys(read) => read.run(reader),
            Read::Lists(read) => read.run(reader),
            Read::Hashes(read) => read.run(reader),
            Read::Sets(read) => read.run(reader),
            Read::Docs(read) => read.run(reader),
            Read::Caching(read) => read.run(reader),
        };
        result.unwrap_or_else(|error| crate::reply::from_op_error(&error))
    }

    /// The keys the read looks at (for transactions that must see them unchanged).
    /// The keys the answer depends on, when it depends on nothing else: a read of
    /// these keys' records alone answers the same. `None` for reads of the whole
    /// keyspace (KEYS, SCAN, DBSIZE, RANDOMKEY) and of documents (the catalog).
    pub(crate) fn only_keys(&self) -> Option<Vec<&[u8]>> {
        let keys = self.keys();
        (!keys.is_empty() && !matches!(self, Read::Docs(_))).then_some(keys)
    }

    pub(crate) fn keys(&self) -> Vec<&[u8]> {
        match self {
            Read::Strings(read) => read.keys(),
            Read::Keys(read) => read.keys(),
            Read::Lists(read) => read.keys(),
            Read::Hashes(read) => read.keys(),
            Read::Sets(read) => read.keys(),
            Read::Docs(read) => read.keys(),
            Read::Caching(read) => read.keys(),
        }
    }
}

/// A write command: its engine operations and how their replies make its reply.
#[derive(Debug, Clone)]
pub(crate) struct Write {
    /// The operations, applied in order in one batch.
    pub(crate) ops: Vec<Op>,
    /// How the operations' replies become the command's reply.
    pub(crate) shape: Shape,
}

impl Write {
    /// A write of one operation whose reply is the command's.
    pub(crate) fn one(op: Op) -> Self {
        Write::shaped(vec![op], Shape::One)
    }

    /// A write of `ops` shaped by `shape`.
    pub(crate) fn shaped(ops: Vec<Op>, shape: Shape) -> Self {
        Write { ops, shape }
    }
}

/// How a write's operation replies become one reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// The one operation's reply as it is.
    One,
    /// The one operation's reply, with nil as a null array (a pop with a count).
    OneOrNullArray,
    /// `OK` answered as 1 and nil as 0 (SETNX).
    OkAsOne,
    /// The sum of the integer replies (DEL of several keys).
    Sum,
    /// `+OK` once every operation succeeded (MSET).
    Ok,
}

/// What the arguments at a command's key positions are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyForm {
    /// Keys.
    Keys,
    /// Ids of documents of the collection named by the first argument: each key is
    /// `collection:id`.
    DocumentIds,
    /// No keys, but the command reaches every document of the collection named by
    /// the first argument: its key is the pattern `collection:*`.
    Collection,
}

/// What a parser makes of its arguments: a command, or the error reply.
pub(crate) type Parsed = Result<Command, Frame>;

/// What the server knows of a command.
pub(crate) struct Spec {
    /// The lower-case name.
    pub(crate) name: &'static str,
    /// Redis's arity: N means exactly N arguments counting the name, -N at least N.
    pub(crate) arity: i32,
    /// Redis's command flags (for COMMAND and for AUTH and MULTI rules).
    pub(crate) flags: &'static [&'static str],
    /// Its ACL categories, without `@`.
    pub(crate) categories: &'static [&'static str],
    /// The position of the first key, 0 if none.
    pub(crate) first_key: i64,
    /// The position of the last key (-1: the last argument).
    pub(crate) last_key: i64,
    /// The step between keys.
    pub(crate) key_step: i64,
    /// What the arguments at the key positions are.
    pub(crate) key_form: KeyForm,
    /// Parses the arguments after the name.
    pub(crate) parse: fn(Args) -> Parsed,
}

impl Spec {
    /// Whether the command has `flag`.
    pub(crate) fn has(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    /// The keys among `args` (name first), by the spec's key positions and form.
    pub(crate) fn keys<'a>(&self, args: &'a [Bytes]) -> impl Iterator<Item = Cow<'a, [u8]>> {
        let collection = args.get(1).map_or(&b""[..], |arg| &arg[..]);
        let whole_collection = (self.key_form == KeyForm::Collection).then(|| {
            let mut pattern = collection.to_vec();
            pattern.extend_from_slice(b":*");
            Cow::Owned(pattern)
        });
        let form = self.key_form;
        self.key_args(args)
            .map(move |arg| match form {
                KeyForm::DocumentIds => Cow::Owned(document_key(collection, arg)),
                _ => Cow::Borrowed(arg),
            })
            .chain(whole_collection)
    }

    /// The arguments at the spec's key positions.
    fn key_args<'a>(&self, args: &'a [Bytes]) -> impl Iterator<Item = &'a [u8]> {
        let last = if self.last_key < 0 {
            args.len() as i64 + self.last_key
        } else {
            self.last_key.min(args.len() as i64 - 1)
        };
        let (first, step) = (self.first_key.max(1), self.key_step.max(1));
        let positions = if self.first_key == 0 {
            0..0
        } else {
            first..last + 1
        };
        positions
            .step_by(step as usize)
            .filter_map(move |at| args.get(at as usize).map(|arg| &arg[..]))
    }

    /// Whether `args` (counting the name) fits the arity.
    pub(crate) fn arity_allows(&self, args: usize) -> bool {
        let arity = self.arity.unsigned_abs() as usize;
        if self.arity < 0 {
            args >= arity
        } else {
            args == arity
        }
    }
}

const R: &[&str] = &["readonly", "fast"];
const RS: &[&str] = &["readonly"];
const W: &[&str] = &["write", "denyoom", "fast"];
const WS: &[&str] = &["write"];
const ADMIN: &[&str] = &["admin", "noscript"];
const CONN: &[&str] = &["fast", "noscript"];
const NOAUTH: &[&str] = &["noauth", "fast", "noscript"];
const EXEC: &[&str] = &["noscript", "slow"];
const STALE: &[&str] = &["loading", "stale"];
const STALE_FAST: &[&str] = &["loading", "stale", "fast"];
const PUBSUB: &[&str] = &["pubsub", "noscript", "loading", "stale"];

macro_rules! spec {
    ($name:literal, $arity:expr, $flags:expr, [$($cat:literal),*], $keys:expr, $parse:path) => {
        spec!($name, $arity, $flags, [$($cat),*], $keys, KeyForm::Keys, $parse)
    };
    ($name:literal, $arity:expr, $flags:expr, [$($cat:literal),*], $keys:expr, $form:expr, $parse:path) => {
        Spec {
            name: $name,
            arity: $arity,
            flags: $flags,
            categories: &[$($cat),*],
            first_key: $keys.0,
            last_key: $keys.1,
            key_step: $keys.2,
            key_form: $form,
            parse: $parse,
        }
    };
}

/// The key of a document: `collection:id`.
fn document_key(collection: &[u8], id: &[u8]) -> Vec<u8> {
    [collection, b":", id].concat()
}

const NO_KEYS: (i64, i64, i64) = (0, 0, 0);
const KEY1: (i64, i64, i64) = (1, 1, 1);
const ALL_KEYS: (i64, i64, i64) = (1, -1, 1);
const KEY_VALUE_PAIRS: (i64, i64, i64) = (1, -1, 2);
const TWO_KEYS: (i64, i64, i64) = (1, 2, 1);
const ID2: (i64, i64, i64) = (2, 2, 1);
const IDS: (i64, i64, i64) = (2, -1, 1);
const DOC: KeyForm = KeyForm::DocumentIds;
const COLL: KeyForm = KeyForm::Collection;

/// Every command the server knows.
#[rustfmt::skip]
pub(crate) static TABLE: &[Spec] = &[
    // strings
    spec!("get", 2, R, ["read", "string", "fast"], KEY1, strings::get),
    spec!("set", -3, WS, ["write", "string", "slow"], KEY1, strings::set),
    spec!("setnx", 3, W, ["write", "string", "fast"], KEY1, strings::setnx),
    spec!("setex", 4, WS, ["write", "string", "slow"], KEY1, strings::setex),
    spec!("psetex", 4, WS, ["write", "string", "slow"], KEY1, strings::psetex),
    spec!("mget", -2, R, ["read", "string", "fast"], ALL_KEYS, strings::mget),
    spec!("mset", -3, WS, ["write", "string", "slow"], KEY_VALUE_PAIRS, strings::mset),
    spec!("msetnx", -3, WS, ["write", "string", "slow"], KEY_VALUE_PAIRS, strings::msetnx),
    spec!("getset", 3, W, ["write", "string", "fast"], KEY1, strings::getset),
    spec!("getdel", 2, W, ["write", "string", "fast"], KEY1, strings::getdel),
    spec!("getex", -2, W, ["write", "string", "fast"], KEY1, strings::getex),
    spec!("append", 3, W, ["write", "string", "fast"], KEY1, strings::append),
    spec!("strlen", 2, R, ["read", "string", "fast"], KEY1, strings::strlen),
    spec!("incr", 2, W, ["write", "string", "fast"], KEY1, strings::incr),
    spec!("decr", 2, W, ["write", "string", "fast"], KEY1, strings::decr),
    spec!("incrby", 3, W, ["write", "string", "fast"], KEY1, strings::incrby),
    spec!("decrby", 3, W, ["write", "string", "fast"], KEY1, strings::decrby),
    spec!("incrbyfloat", 3, W, ["write", "string", "fast"], KEY1, strings::incrbyfloat),
    spec!("getrange", 4, RS, ["read", "string", "slow"], KEY1, strings::getrange),
    spec!("substr", 4, RS, ["read", "string", "slow"], KEY1, strings::getrange),
    spec!("setrange", 4, WS, ["write", "string", "slow"], KEY1, strings::setrange),
    // keys
    spec!("del", -2, WS, ["keyspace", "write", "slow"], ALL_KEYS, keys::del),
    spec!("unlink", -2, W, ["keyspace", "write", "fast"], ALL_KEYS, keys::del),
    spec!("exists", -2, R, ["keyspace", "read", "fast"], ALL_KEYS, keys::exists),
    spec!("expire", -3, W, ["keyspace", "write", "fast"], KEY1, keys::expire),
    spec!("pexpire", -3, W, ["keyspace", "write", "fast"], KEY1, keys::pexpire),
    spec!("expireat", -3, W, ["keyspace", "write", "fast"], KEY1, keys::expireat),
    spec!("pexpireat", -3, W, ["keyspace", "write", "fast"], KEY1, keys::pexpireat),
    spec!("ttl", 2, R, ["keyspace", "read", "fast"], KEY1, keys::ttl),
    spec!("pttl", 2, R, ["keyspace", "read", "fast"], KEY1, keys::pttl),
    spec!("expiretime", 2, R, ["keyspace", "read", "fast"], KEY1, keys::expiretime),
    spec!("pexpiretime", 2, R, ["keyspace", "read", "fast"], KEY1, keys::pexpiretime),
    spec!("persist", 2, W, ["keyspace", "write", "fast"], KEY1, keys::persist),
    spec!("type", 2, R, ["keyspace", "read", "fast"], KEY1, keys::kind),
    spec!("rename", 3, WS, ["keyspace", "write", "slow"], TWO_KEYS, keys::rename),
    spec!("renamenx", 3, W, ["keyspace", "write", "fast"], TWO_KEYS, keys::renamenx),
    spec!("keys", 2, RS, ["keyspace", "read", "slow", "dangerous"], NO_KEYS, keys::keys),
    spec!("scan", -2, RS, ["keyspace", "read", "slow"], NO_KEYS, keys::scan),
    spec!("dbsize", 1, R, ["keyspace", "read", "fast"], NO_KEYS, keys::dbsize),
    spec!("randomkey", 1, RS, ["keyspace", "read", "slow"], NO_KEYS, keys::randomkey),
    spec!("flushdb", -1, WS, ["keyspace", "write", "slow", "dangerous"], NO_KEYS, keys::flush),
    spec!("flushall", -1, WS, ["keyspace", "write", "slow", "dangerous"], NO_KEYS, keys::flush),
    // hashes
    spec!("hset", -4, W, ["write", "hash", "fast"], KEY1, hashes::hset),
    spec!("hmset", -4, W, ["write", "hash", "fast"], KEY1, hashes::hmset),
    spec!("hsetnx", 4, W, ["write", "hash", "fast"], KEY1, hashes::hsetnx),
    spec!("hget", 3, R, ["read", "hash", "fast"], KEY1, hashes::hget),
    spec!("hmget", -3, R, ["read", "hash", "fast"], KEY1, hashes::hmget),
    spec!("hdel", -3, W, ["write", "hash", "fast"], KEY1, hashes::hdel),
    spec!("hgetall", 2, RS, ["read", "hash", "slow"], KEY1, hashes::hgetall),
    spec!("hkeys", 2, RS, ["read", "hash", "slow"], KEY1, hashes::hkeys),
    spec!("hvals", 2, RS, ["read", "hash", "slow"], KEY1, hashes::hvals),
    spec!("hlen", 2, R, ["read", "hash", "fast"], KEY1, hashes::hlen),
    spec!("hexists", 3, R, ["read", "hash", "fast"], KEY1, hashes::hexists),
    spec!("hstrlen", 3, R, ["read", "hash", "fast"], KEY1, hashes::hstrlen),
    spec!("hincrby", 4, W, ["write", "hash", "fast"], KEY1, hashes::hincrby),
    spec!("hincrbyfloat", 4, W, ["write", "hash", "fast"], KEY1, hashes::hincrbyfloat),
    spec!("hscan", -3, RS, ["read", "hash", "slow"], KEY1, hashes::hscan),
    // lists
    spec!("lpush", -3, W, ["write", "list", "fast"], KEY1, lists::lpush),
    spec!("rpush", -3, W, ["write", "list", "fast"], KEY1, lists::rpush),
    spec!("lpushx", -3, W, ["write", "list", "fast"], KEY1, lists::lpushx),
    spec!("rpushx", -3, W, ["write", "list", "fast"], KEY1, lists::rpushx),
    spec!("lpop", -2, W, ["write", "list", "fast"], KEY1, lists::lpop),
    spec!("rpop", -2, W, ["write", "list", "fast"], KEY1, lists::rpop),
    spec!("lrange", 4, RS, ["read", "list", "slow"], KEY1, lists::lrange),
    spec!("llen", 2, R, ["read", "list", "fast"], KEY1, lists::llen),
    spec!("lindex", 3, RS, ["read", "list", "slow"], KEY1, lists::lindex),
    spec!("lset", 4, WS, ["write", "list", "slow"], KEY1, lists::lset),
    spec!("lrem", 4, WS, ["write", "list", "slow"], KEY1, lists::lrem),
    spec!("ltrim", 4, WS, ["write", "list", "slow"], KEY1, lists::ltrim),
    // sets
    spec!("sadd", -3, W, ["write", "set", "fast"], KEY1, sets::sadd),
    spec!("srem", -3, W, ["write", "set", "fast"], KEY1, sets::srem),
    spec!("smembers", 2, RS, ["read", "set", "slow"], KEY1, sets::smembers),
    spec!("sismember", 3, R, ["read", "set", "fast"], KEY1, sets::sismember),
    spec!("smismember", -3, R, ["read", "set", "fast"], KEY1, sets::smismember),
    spec!("scard", 2, R, ["read", "set", "fast"], KEY1, sets::scard),
    spec!("sinter", -2, RS, ["read", "set", "slow"], ALL_KEYS, sets::sinter),
    spec!("sunion", -2, RS, ["read", "set", "slow"], ALL_KEYS, sets::sunion),
    spec!("sdiff", -2, RS, ["read", "set", "slow"], ALL_KEYS, sets::sdiff),
    spec!("sscan", -3, RS, ["read", "set", "slow"], KEY1, sets::sscan),
    // schemas, collections, documents
    spec!("schema.create", -4, WS, ["write", "document", "slow"], NO_KEYS, docs::schema_create),
    spec!("schema.addfield", -4, WS, ["write", "document", "slow"], NO_KEYS, docs::schema_addfield),
    spec!("schema.list", 1, RS, ["read", "document", "slow"], NO_KEYS, docs::schema_list),
    spec!("schema.get", 2, RS, ["read", "document", "slow"], NO_KEYS, docs::schema_get),
    spec!("coll.create", 4, WS, ["write", "document", "slow"], NO_KEYS, docs::coll_create),
    spec!("coll.list", 1, RS, ["read", "document", "slow"], NO_KEYS, docs::coll_list),
    spec!("doc.set", -3, W, ["write", "document", "fast"], ID2, DOC, docs::doc_set),
    spec!("doc.get", -3, R, ["read", "document", "fast"], ID2, DOC, docs::doc_get),
    spec!("doc.del", -3, W, ["write", "document", "fast"], IDS, DOC, docs::doc_del),
    spec!("doc.scan", -3, RS, ["read", "document", "slow"], NO_KEYS, COLL, docs::doc_scan),
    // caching clients
    spec!("chiral.getv", 2, R, ["read", "string", "fast"], KEY1, caching::getv),
    spec!("chiral.versions", -2, R, ["read", "keyspace", "fast"], ALL_KEYS, caching::versions),
    spec!("chiral.sync", 2, CONN, ["fast", "connection"], NO_KEYS, caching::sync),
    spec!("chiral.dataset", 1, CONN, ["fast", "connection"], NO_KEYS, caching::dataset),
    // pub/sub
    spec!("subscribe", -2, PUBSUB, ["pubsub", "slow"], NO_KEYS, pubsub::subscribe),
    spec!("psubscribe", -2, PUBSUB, ["pubsub", "slow"], NO_KEYS, pubsub::psubscribe),
    spec!("unsubscribe", -1, PUBSUB, ["pubsub", "slow"], NO_KEYS, pubsub::unsubscribe),
    spec!("punsubscribe", -1, PUBSUB, ["pubsub", "slow"], NO_KEYS, pubsub::punsubscribe),
    spec!("publish", 3, PUBSUB, ["pubsub", "fast"], NO_KEYS, pubsub::publish),
    spec!("pubsub", -2, PUBSUB, ["pubsub", "slow"], NO_KEYS, pubsub::pubsub),
    // connection
    spec!("ping", -1, CONN, ["fast", "connection"], NO_KEYS, control::ping),
    spec!("echo", 2, CONN, ["fast", "connection"], NO_KEYS, control::echo),
    spec!("quit", -1, NOAUTH, ["fast", "connection"], NO_KEYS, control::quit),
    spec!("hello", -1, NOAUTH, ["fast", "connection"], NO_KEYS, control::hello),
    spec!("auth", -2, NOAUTH, ["fast", "connection"], NO_KEYS, control::auth),
    spec!("select", 2, CONN, ["fast", "connection"], NO_KEYS, control::select),
    spec!("reset", 1, NOAUTH, ["fast", "connection"], NO_KEYS, control::reset),
    spec!("client", -2, ADMIN, ["slow", "connection"], NO_KEYS, control::client),
    // transactions
    spec!("multi", 1, CONN, ["fast", "transaction"], NO_KEYS, control::multi),
    spec!("exec", 1, EXEC, ["slow", "transaction"], NO_KEYS, control::exec),
    spec!("discard", 1, CONN, ["fast", "transaction"], NO_KEYS, control::discard),
    spec!("watch", -2, CONN, ["fast", "transaction"], ALL_KEYS, control::watch),
    spec!("unwatch", 1, CONN, ["fast", "transaction"], NO_KEYS, control::unwatch),
    // server
    spec!("info", -1, STALE, ["slow", "dangerous"], NO_KEYS, control::info),
    spec!("command", -1, STALE, ["slow", "connection"], NO_KEYS, control::command),
    spec!("config", -2, ADMIN, ["admin", "slow", "dangerous"], NO_KEYS, control::config),
    spec!("save", 1, ADMIN, ["admin", "slow", "dangerous"], NO_KEYS, control::save),
    spec!("bgsave", -1, ADMIN, ["admin", "slow", "dangerous"], NO_KEYS, control::bgsave),
    spec!("lastsave", 1, STALE_FAST, ["admin", "fast", "dangerous"], NO_KEYS, control::lastsave),
    spec!("time", 1, STALE_FAST, ["fast"], NO_KEYS, control::time),
    spec!("shutdown", -1, ADMIN, ["admin", "slow", "dangerous"], NO_KEYS, control::shutdown),
    spec!("acl", -2, ADMIN, ["admin", "slow", "dangerous"], NO_KEYS, control::acl),
];

static BY_NAME: LazyLock<HashMap<&'static [u8], &'static Spec, ahash::RandomState>> =
    LazyLock::new(|| {
        TABLE
            .iter()
            .map(|spec| (spec.name.as_bytes(), spec))
            .collect()
    });

/// Bytes of the longest command name a lookup lowercases (longer names are unknown).
const MAX_NAME_BYTES: usize = 32;

/// The spec of the command named `name` (any case). Runs for every command: it
/// lowercases on the stack and hashes with ahash, without allocating.
pub(crate) fn lookup(name: &[u8]) -> Option<&'static Spec> {
    let mut lower = [0u8; MAX_NAME_BYTES];
    let lower = lower.get_mut(..name.len())?;
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    BY_NAME.get(&*lower).copied()
}

/// Redis's reply to an unknown command.
pub(crate) fn unknown_command(args: &[Bytes]) -> Frame {
    let shown: String = args[1..]
        .iter()
        .take(10)
        .map(|arg| format!("'{}' ", String::from_utf8_lossy(&arg[..arg.len().min(128)])))
        .collect();
    Frame::error(format!(
        "ERR unknown command '{}', with args beginning with: {shown}",
        String::from_utf8_lossy(&args[0][..args[0].len().min(128)])
    ))
}

/// Checks `args` (name first) against `spec`'s arity and parses them.
pub(crate) fn parse(spec: &Spec, args: Vec<Bytes>) -> Parsed {
    if !spec.arity_allows(args.len()) {
        return Err(wrong_arity(spec.name));
    }
    (spec.parse)(Args::after_name(args))
}

/// Redis's reply to a command with the wrong number of arguments.
pub(crate) fn wrong_arity(name: &str) -> Frame {
    Frame::error(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

/// A read command of `family`, as a parse result.
pub(crate) fn read(read: Read) -> Parsed {
    Ok(Command::Read(read))
}

/// A write command, as a parse result.
pub(crate) fn write(write: Write) -> Parsed {
    Ok(Command::Write(write))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_one_entry_per_name_and_sane_arities() {
        assert_eq!(BY_NAME.len(), TABLE.len(), "no name twice");
        for spec in TABLE {
            assert_eq!(spec.name, spec.name.to_ascii_lowercase());
            assert!(spec.arity != 0, "{}", spec.name);
            assert!(spec.name.len() <= MAX_NAME_BYTES, "{}", spec.name);
            assert!(lookup(spec.name.to_ascii_uppercase().as_bytes()).is_some());
        }
        assert!(lookup(&[b'g'; MAX_NAME_BYTES + 1]).is_none());
        assert!(lookup(b"").is_none());
    }

    #[test]
    fn arity_errors_name_the_command() {
        let spec = lookup(b"GeT").unwrap();
        let error = parse(spec, vec![Bytes::from_static(b"GET")]).unwrap_err();
        assert_eq!(
            error,
            Frame::error("ERR wrong number of arguments for 'get' command")
        );
    }
}
