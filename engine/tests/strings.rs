//! String operations: SET and its options, numbers, APPEND, ranges, GETDEL, GETEX.

mod common;

use chiral::{Expiry, Op, OpError, Reply, SetCondition, Ttl, Value};
use common::{bytes, key, ok, open, open_with_clock, refused};

fn set_with(k: &str, v: &str, condition: SetCondition, expiry: Expiry, get_old: bool) -> Op {
    Op::Set {
        key: key(k),
        value: Value::from(v),
        condition,
        expiry,
        get_old,
    }
}

#[test]
fn set_then_get() {
    let db = open();
    let reader = db.reader();
    assert_eq!(reader.get(b"k").unwrap(), None);
    db.set(b"k", b"v1").unwrap();
    assert_eq!(reader.get(b"k").unwrap().unwrap(), b"v1");
    db.set(b"k", b"").unwrap();
    assert_eq!(reader.get(b"k").unwrap().unwrap(), b"");
}

#[test]
fn set_nx_and_xx() {
    let db = open();
    let r = db.reader();
    assert_eq!(
        ok(
            &db,
            set_with("k", "a", SetCondition::IfPresent, Expiry::Never, false)
        ),
        Reply::Nil
    );
    assert_eq!(r.get(b"k").unwrap(), None);
    assert_eq!(
        ok(
            &db,
            set_with("k", "a", SetCondition::IfAbsent, Expiry::Never, false)
        ),
        Reply::Ok
    );
    assert_eq!(
        ok(
            &db,
            set_with("k", "b", SetCondition::IfAbsent, Expiry::Never, false)
        ),
        Reply::Nil
    );
    assert_eq!(r.get(b"k").unwrap().unwrap(), b"a");
    assert_eq!(
        ok(
            &db,
            set_with("k", "c", SetCondition::IfPresent, Expiry::Never, false)
        ),
        Reply::Ok
    );
    assert_eq!(r.get(b"k").unwrap().unwrap(), b"c");
}

#[test]
fn set_get_returns_old_value_and_refuses_collections() {
    let db = open();
    assert_eq!(
        ok(
            &db,
            set_with("k", "a", SetCondition::Always, Expiry::Never, true)
        ),
        Reply::Nil
    );
    assert_eq!(
        ok(
            &db,
            set_with("k", "b", SetCondition::Always, Expiry::Never, true)
        ),
        bytes("a")
    );
    // NX with GET that does not write still answers the old value.
    assert_eq!(
        ok(
            &db,
            set_with("k", "c", SetCondition::IfAbsent, Expiry::Never, true)
        ),
        bytes("b")
    );
    ok(
        &db,
        Op::SetAdd {
            key: key("s"),
            members: vec!["m".into()],
        },
    );
    assert_eq!(
        refused(
            &db,
            set_with("s", "x", SetCondition::Always, Expiry::Never, true)
        ),
        OpError::WrongType
    );
    assert_eq!(
        db.reader().scard(b"s").unwrap(),
        1,
        "a refused SET ... GET changes nothing"
    );
    // Plain SET overwrites any type.
    ok(&db, Op::set("s", "x"));
    assert_eq!(db.reader().get(b"s").unwrap().unwrap(), b"x");
}

#[test]
fn set_expiry_options() {
    let (db, clock) = open_with_clock(1_000);
    let r = db.reader();
    ok(
        &db,
        set_with("k", "v", SetCondition::Always, Expiry::AtMs(11_000), false),
    );
    assert_eq!(r.ttl(b"k").unwrap(), Ttl::ExpiresInMs(10_000));
    ok(
        &db,
        set_with("k", "w", SetCondition::Always, Expiry::Keep, false),
    );
    assert_eq!(
        r.ttl(b"k").unwrap(),
        Ttl::ExpiresInMs(10_000),
        "KEEPTTL keeps the expiry"
    );
    ok(
        &db,
        set_with("k", "x", SetCondition::Always, Expiry::Never, false),
    );
    assert_eq!(
        r.ttl(b"k").unwrap(),
        Ttl::Persistent,
        "plain SET clears the expiry"
    );
    ok(
        &db,
        set_with("k", "y", SetCondition::Always, Expiry::AtMs(500), false),
    );
    assert_eq!(r.get(b"k").unwrap(), None, "an expiry in the past deletes");
    clock.advance_ms(1);
}

#[test]
fn incr_family() {
    let db = open();
    let r = db.reader();
    assert_eq!(ok(&db, Op::incr_by("n", 1)), Reply::Int(1));
    assert_eq!(ok(&db, Op::incr_by("n", -5)), Reply::Int(-4));
    assert_eq!(r.get(b"n").unwrap().unwrap(), b"-4");
    db.set(b"t", b"41").unwrap();
    assert_eq!(ok(&db, Op::incr_by("t", 1)), Reply::Int(42));
    db.set(b"big", i64::MAX.to_string().as_bytes()).unwrap();
    assert_eq!(refused(&db, Op::incr_by("big", 1)), OpError::Overflow);
    assert_eq!(
        r.get(b"big").unwrap().unwrap(),
        i64::MAX.to_string().as_bytes()
    );
    db.set(b"word", b"abc").unwrap();
    assert_eq!(refused(&db, Op::incr_by("word", 1)), OpError::NotInteger);
    db.set(b"spaced", b" 1").unwrap();
    assert_eq!(refused(&db, Op::incr_by("spaced", 1)), OpError::NotInteger);
    ok(
        &db,
        Op::Push {
            key: key("l"),
            end: chiral::End::Back,
            values: vec!["a".into()],
            only_if_exists: false,
        },
    );
    assert_eq!(refused(&db, Op::incr_by("l", 1)), OpError::WrongType);
}

#[test]
fn incr_by_float() {
    let db = open();
    let r = db.reader();
    let incr = |delta| Op::IncrByFloat {
        key: key("f"),
        delta,
    };
    assert_eq!(ok(&db, incr(10.5)), bytes("10.5"));
    assert_eq!(ok(&db, incr(0.1)), bytes("10.6"));
    assert_eq!(r.get(b"f").unwrap().unwrap(), b"10.6");
    db.set(b"f", b"5.0e3").unwrap();
    assert_eq!(ok(&db, incr(200.0)), bytes("5200"));
    assert_eq!(refused(&db, incr(f64::INFINITY)), OpError::NotFinite);
    db.set(b"f", b"x").unwrap();
    assert_eq!(refused(&db, incr(1.0)), OpError::NotFloat);
    // An integer value takes a float increment.
    ok(&db, Op::incr_by("i", 3));
    assert_eq!(
        ok(
            &db,
            Op::IncrByFloat {
                key: key("i"),
                delta: 0.5
            }
        ),
        bytes("3.5")
    );
}

#[test]
fn numbers_keep_the_expiry() {
    let (db, _clock) = open_with_clock(1_000);
    ok(
        &db,
        set_with("n", "1", SetCondition::Always, Expiry::AtMs(9_000), false),
    );
    ok(&db, Op::incr_by("n", 1));
    assert_eq!(db.reader().ttl(b"n").unwrap(), Ttl::ExpiresInMs(8_000));
}

#[test]
fn append_strlen_getrange() {
    let db = open();
    let r = db.reader();
    let append = |v: &str| Op::Append {
        key: key("s"),
        value: v.as_bytes().into(),
    };
    assert_eq!(ok(&db, append("Hello")), Reply::Int(5));
    assert_eq!(ok(&db, append(" World")), Reply::Int(11));
    assert_eq!(r.strlen(b"s").unwrap(), 11);
    assert_eq!(r.strlen(b"missing").unwrap(), 0);
    assert_eq!(r.get_range(b"s", 0, 4).unwrap(), b"Hello");
    assert_eq!(r.get_range(b"s", -5, -1).unwrap(), b"World");
    assert_eq!(r.get_range(b"s", 5, 2).unwrap(), b"");
    assert_eq!(r.get_range(b"s", 0, 1000).unwrap(), b"Hello World");
    ok(&db, Op::incr_by("n", 12));
    ok(
        &db,
        Op::Append {
            key: key("n"),
            value: b"3".as_slice().into(),
        },
    );
    assert_eq!(r.get(b"n").unwrap().unwrap(), b"123");
    assert_eq!(r.strlen(b"n").unwrap(), 3);
}

#[test]
fn setrange_pads_and_respects_the_value_limit() {
    let options = chiral::Options {
        limits: chiral::Limits {
            max_value_bytes: 16,
            ..Default::default()
        },
        ..Default::default()
    };
    let db = chiral::Db::open_in_memory(options).unwrap();
    let r = db.reader();
    let setrange = |offset, v: &str| Op::SetRange {
        key: key("s"),
        offset,
        value: v.as_bytes().into(),
    };
    assert_eq!(ok(&db, setrange(3, "")), Reply::Int(0));
    assert!(!r.exists(b"s").unwrap(), "an empty patch creates nothing");
    assert_eq!(ok(&db, setrange(2, "ab")), Reply::Int(4));
    assert_eq!(r.get(b"s").unwrap().unwrap(), b"\0\0ab");
    assert_eq!(ok(&db, setrange(0, "x")), Reply::Int(4));
    assert_eq!(r.get(b"s").unwrap().unwrap(), b"x\0ab");
    // The edge: a 16-byte string is allowed, 17 is not.
    assert_eq!(ok(&db, setrange(15, "z")), Reply::Int(16));
    assert!(matches!(
        refused(&db, setrange(16, "z")),
        OpError::ValueTooLarge {
            size_bytes: 17,
            limit_bytes: 16
        }
    ));
    assert!(matches!(
        refused(&db, setrange(usize::MAX, "z")),
        OpError::ValueTooLarge { .. }
    ));
    assert_eq!(r.strlen(b"s").unwrap(), 16);
    assert!(matches!(
        refused(
            &db,
            Op::Append {
                key: key("s"),
                value: b"!".as_slice().into()
            }
        ),
        OpError::ValueTooLarge { size_bytes: 17, .. }
    ));
}

#[test]
fn getdel_and_getex() {
    let (db, _clock) = open_with_clock(1_000);
    let r = db.reader();
    db.set(b"k", b"v").unwrap();
    assert_eq!(
        ok(
            &db,
            Op::GetExpire {
                key: key("k"),
                expiry: Expiry::AtMs(3_000)
            }
        ),
        bytes("v")
    );
    assert_eq!(r.ttl(b"k").unwrap(), Ttl::ExpiresInMs(2_000));
    assert_eq!(
        ok(
            &db,
            Op::GetExpire {
                key: key("k"),
                expiry: Expiry::Keep
            }
        ),
        bytes("v")
    );
    assert_eq!(r.ttl(b"k").unwrap(), Ttl::ExpiresInMs(2_000));
    assert_eq!(
        ok(
            &db,
            Op::GetExpire {
                key: key("k"),
                expiry: Expiry::Never
            }
        ),
        bytes("v")
    );
    assert_eq!(r.ttl(b"k").unwrap(), Ttl::Persistent);
    assert_eq!(ok(&db, Op::GetDelete { key: key("k") }), bytes("v"));
    assert_eq!(ok(&db, Op::GetDelete { key: key("k") }), Reply::Nil);
    assert!(!r.exists(b"k").unwrap());
    ok(
        &db,
        Op::SetAdd {
            key: key("s"),
            members: vec!["m".into()],
        },
    );
    assert_eq!(
        refused(&db, Op::GetDelete { key: key("s") }),
        OpError::WrongType
    );
    assert!(r.exists(b"s").unwrap());
}

#[test]
fn mget_reads_strings_and_skips_others() {
    let db = open();
    db.set(b"a", b"1").unwrap();
    ok(&db, Op::incr_by("b", 2));
    ok(
        &db,
        Op::SetAdd {
            key: key("s"),
            members: vec!["m".into()],
        },
    );
    let got = db.reader().mget(&["a", "b", "s", "missing"]).unwrap();
    assert_eq!(
        got,
        vec![Some(b"1".to_vec()), Some(b"2".to_vec()), None, None]
    );
}

#[test]
fn wrong_type_reads_are_errors() {
    let db = open();
    ok(
        &db,
        Op::SetAdd {
            key: key("s"),
            members: vec!["m".into()],
        },
    );
    let r = db.reader();
    assert_eq!(r.get(b"s"), Err(OpError::WrongType));
    assert_eq!(r.strlen(b"s"), Err(OpError::WrongType));
    assert_eq!(r.llen(b"s"), Err(OpError::WrongType));
    assert_eq!(r.hget(b"s", b"f"), Err(OpError::WrongType));
    db.set(b"str", b"x").unwrap();
    assert_eq!(r.smembers(b"str"), Err(OpError::WrongType));
    assert_eq!(r.lrange(b"str", 0, -1), Err(OpError::WrongType));
}

#[test]
fn huge_floats_read_back_whole() {
    let db = open();
    ok(
        &db,
        Op::IncrByFloat {
            key: key("f"),
            delta: 1e300,
        },
    );
    let text = db.reader().get(b"f").unwrap().unwrap();
    let parsed: f64 = std::str::from_utf8(&text).unwrap().parse().unwrap();
    assert_eq!(parsed, 1e300);
    assert_eq!(db.reader().strlen(b"f").unwrap(), text.len());
}

#[test]
fn set_all_if_absent_sets_every_key_or_none() {
    let db = open();
    let r = db.reader();
    let msetnx = |pairs: &[(&str, &str)]| Op::SetAllIfAbsent {
        pairs: pairs
            .iter()
            .map(|(k, v)| {
                (
                    bytes::Bytes::from(k.to_string()),
                    bytes::Bytes::from(v.to_string()),
                )
            })
            .collect(),
    };
    assert_eq!(ok(&db, msetnx(&[("a", "1"), ("b", "2")])), Reply::Int(1));
    assert_eq!(r.get(b"a").unwrap().unwrap(), b"1");
    // One key exists: nothing is written, and the reply says so.
    assert_eq!(ok(&db, msetnx(&[("c", "3"), ("a", "9")])), Reply::Int(0));
    assert_eq!(r.get(b"c").unwrap(), None);
    assert_eq!(r.get(b"a").unwrap().unwrap(), b"1");
    // Inside a larger batch it is one operation: the batch's other writes apply.
    let batch = chiral::Batch::new()
        .with(Op::set("d", "4"))
        .with(msetnx(&[("a", "x")]))
        .with(Op::set("e", "5"));
    let commit = db
        .write(batch, chiral::Ack::Visible)
        .unwrap()
        .commit()
        .unwrap();
    assert_eq!(commit.replies[1], Ok(Reply::Int(0)));
    assert_eq!(r.get(b"e").unwrap().unwrap(), b"5");
    // A key written earlier in the same batch counts as existing.
    let batch = chiral::Batch::new()
        .with(Op::set("f", "6"))
        .with(msetnx(&[("f", "y"), ("g", "7")]));
    let commit = db
        .write(batch, chiral::Ack::Visible)
        .unwrap()
        .commit()
        .unwrap();
    assert_eq!(commit.replies[1], Ok(Reply::Int(0)));
    assert_eq!(r.get(b"g").unwrap(), None);
}
