//! Key operations: DEL, EXISTS, TYPE, RENAME, EXPIRE family, FLUSH, DBSIZE, SCAN.

mod common;

use std::collections::HashSet;

use chiral::{ExpireCondition, Kind, Op, OpError, Reply, ScanFilter, Ttl};
use common::{key, ok, open, open_with_clock, refused};

fn expire(k: &str, at_ms: Option<u64>, condition: ExpireCondition) -> Op {
    Op::Expire {
        key: key(k),
        at_ms,
        condition,
    }
}

#[test]
fn delete_exists_and_type() {
    let db = open();
    let r = db.reader();
    db.set(b"s", b"v").unwrap();
    ok(
        &db,
        Op::SetAdd {
            key: key("set"),
            members: vec!["m".into()],
        },
    );
    assert_eq!(r.kind(b"s").unwrap(), Some(Kind::String));
    assert_eq!(r.kind(b"set").unwrap(), Some(Kind::Set));
    assert_eq!(r.kind(b"none").unwrap(), None);
    assert!(db.delete(b"s").unwrap());
    assert!(!db.delete(b"s").unwrap());
    assert!(!r.exists(b"s").unwrap());
    assert_eq!(r.len(), 1);
}

#[test]
fn rename_moves_value_and_expiry() {
    let (db, _clock) = open_with_clock(1_000);
    let r = db.reader();
    ok(
        &db,
        Op::Set {
            key: key("a"),
            value: "v".into(),
            condition: Default::default(),
            expiry: chiral::Expiry::AtMs(5_000),
            get_old: false,
        },
    );
    let rename = |from: &str, to: &str, nx| Op::Rename {
        from: key(from),
        to: key(to),
        only_if_absent: nx,
    };
    assert_eq!(ok(&db, rename("a", "b", false)), Reply::Ok);
    assert!(!r.exists(b"a").unwrap());
    assert_eq!(r.get(b"b").unwrap().unwrap(), b"v");
    assert_eq!(r.ttl(b"b").unwrap(), Ttl::ExpiresInMs(4_000));
    assert_eq!(refused(&db, rename("a", "c", false)), OpError::NoSuchKey);
    db.set(b"c", b"other").unwrap();
    assert_eq!(ok(&db, rename("b", "c", true)), Reply::Int(0));
    assert_eq!(r.get(b"b").unwrap().unwrap(), b"v");
    assert_eq!(ok(&db, rename("b", "c", false)), Reply::Ok);
    assert_eq!(r.get(b"c").unwrap().unwrap(), b"v");
    assert_eq!(ok(&db, rename("c", "c", false)), Reply::Ok);
    assert_eq!(ok(&db, rename("c", "c", true)), Reply::Int(0));
    assert_eq!(ok(&db, rename("c", "d", true)), Reply::Int(1));
    assert_eq!(r.len(), 1);
}

#[test]
fn expire_conditions_follow_redis7() {
    let (db, _clock) = open_with_clock(1_000);
    let r = db.reader();
    assert_eq!(
        ok(&db, expire("missing", Some(5_000), ExpireCondition::Always)),
        Reply::Int(0)
    );
    db.set(b"k", b"v").unwrap();
    // GT on a key without expiry fails: no expiry counts as infinite.
    assert_eq!(
        ok(&db, expire("k", Some(5_000), ExpireCondition::IfLater)),
        Reply::Int(0)
    );
    assert_eq!(
        ok(&db, expire("k", Some(5_000), ExpireCondition::IfSome)),
        Reply::Int(0)
    );
    assert_eq!(
        ok(&db, expire("k", Some(5_000), ExpireCondition::IfNone)),
        Reply::Int(1)
    );
    assert_eq!(r.ttl(b"k").unwrap(), Ttl::ExpiresInMs(4_000));
    assert_eq!(
        ok(&db, expire("k", Some(6_000), ExpireCondition::IfNone)),
        Reply::Int(0)
    );
    assert_eq!(
        ok(&db, expire("k", Some(6_000), ExpireCondition::IfEarlier)),
        Reply::Int(0)
    );
    assert_eq!(
        ok(&db, expire("k", Some(6_000), ExpireCondition::IfLater)),
        Reply::Int(1)
    );
    assert_eq!(
        ok(&db, expire("k", Some(3_000), ExpireCondition::IfEarlier)),
        Reply::Int(1)
    );
    assert_eq!(r.ttl(b"k").unwrap(), Ttl::ExpiresInMs(2_000));
    // XX and LT: only a key with an expiry, only to an earlier time.
    assert_eq!(
        ok(
            &db,
            expire("k", Some(2_500), ExpireCondition::IfSomeAndEarlier)
        ),
        Reply::Int(1)
    );
    assert_eq!(
        ok(
            &db,
            expire("k", Some(2_600), ExpireCondition::IfSomeAndEarlier)
        ),
        Reply::Int(0)
    );
    assert_eq!(r.ttl(b"k").unwrap(), Ttl::ExpiresInMs(1_500));
    ok(&db, Op::set("forever", &b"v"[..]));
    assert_eq!(
        ok(
            &db,
            expire("forever", Some(2_000), ExpireCondition::IfSomeAndEarlier)
        ),
        Reply::Int(0)
    );
    assert_eq!(r.ttl(b"forever").unwrap(), Ttl::Persistent);
    // PERSIST
    assert_eq!(
        ok(&db, expire("k", None, ExpireCondition::Always)),
        Reply::Int(1)
    );
    assert_eq!(r.ttl(b"k").unwrap(), Ttl::Persistent);
    assert_eq!(
        ok(&db, expire("k", None, ExpireCondition::Always)),
        Reply::Int(0)
    );
    // A time in the past deletes the key.
    assert_eq!(
        ok(&db, expire("k", Some(999), ExpireCondition::Always)),
        Reply::Int(1)
    );
    assert_eq!(r.ttl(b"k").unwrap(), Ttl::Missing);
    assert!(!r.exists(b"k").unwrap());
}

#[test]
fn flush_removes_everything() {
    let db = open();
    let r = db.reader();
    for i in 0..100 {
        db.set(format!("k{i}").as_bytes(), b"v").unwrap();
    }
    assert_eq!(r.len(), 100);
    assert_eq!(ok(&db, Op::Flush), Reply::Ok);
    assert_eq!(r.len(), 0);
    assert!(r.is_empty());
    assert!(!r.exists(b"k1").unwrap());
    db.set(b"after", b"v").unwrap();
    assert_eq!(r.len(), 1);
}

fn scan_all(db: &chiral::Db, count: usize, filter: ScanFilter<'_>) -> Vec<String> {
    let r = db.reader();
    let mut cursor = 0;
    let mut keys = Vec::new();
    loop {
        let page = r.scan(cursor, count, filter).unwrap();
        keys.extend(
            page.keys
                .iter()
                .map(|k| String::from_utf8(k.to_vec()).unwrap()),
        );
        if page.cursor == 0 {
            return keys;
        }
        cursor = page.cursor;
    }
}

#[test]
fn scan_with_pattern_and_type() {
    let db = open();
    for i in 0..300 {
        db.set(format!("user:{i}").as_bytes(), b"v").unwrap();
        db.set(format!("item:{i}").as_bytes(), b"v").unwrap();
    }
    ok(
        &db,
        Op::SetAdd {
            key: key("user:set"),
            members: vec!["m".into()],
        },
    );
    let all = scan_all(&db, 10, ScanFilter::default());
    assert_eq!(all.len(), 601);
    assert_eq!(
        all.iter().collect::<HashSet<_>>().len(),
        601,
        "no duplicates"
    );
    let users = scan_all(
        &db,
        25,
        ScanFilter {
            pattern: Some(b"user:*"),
            kind: None,
        },
    );
    assert_eq!(users.len(), 301);
    let user_sets = scan_all(
        &db,
        1000,
        ScanFilter {
            pattern: Some(b"user:*"),
            kind: Some(Kind::Set),
        },
    );
    assert_eq!(user_sets, ["user:set"]);
    let ones = scan_all(
        &db,
        7,
        ScanFilter {
            pattern: Some(b"item:1?"),
            kind: None,
        },
    );
    assert_eq!(ones.len(), 10);
}

#[test]
fn scan_returns_keys_present_throughout_despite_concurrent_writes() {
    let db = open();
    for i in 0..2000 {
        db.set(format!("stable:{i}").as_bytes(), b"v").unwrap();
    }
    let r = db.reader();
    let mut cursor = 0;
    let mut seen = HashSet::new();
    let mut round = 0;
    loop {
        let page = r.scan(cursor, 50, ScanFilter::default()).unwrap();
        seen.extend(page.keys);
        // Between pages: add and delete other keys.
        for j in 0..50 {
            db.set(format!("churn:{round}:{j}").as_bytes(), b"v")
                .unwrap();
        }
        if round > 0 {
            for j in 0..50 {
                db.delete(format!("churn:{}:{j}", round - 1).as_bytes())
                    .unwrap();
            }
        }
        round += 1;
        if page.cursor == 0 {
            break;
        }
        cursor = page.cursor;
    }
    for i in 0..2000 {
        assert!(
            seen.contains(format!("stable:{i}").as_bytes()),
            "stable:{i} missed"
        );
    }
}

#[test]
fn keys_over_the_limit_are_refused_at_the_edge() {
    let options = chiral::Options {
        limits: chiral::Limits {
            max_key_bytes: 8,
            ..Default::default()
        },
        ..Default::default()
    };
    let db = chiral::Db::open_in_memory(options).unwrap();
    db.set(b"12345678", b"v").unwrap();
    assert_eq!(
        refused(&db, Op::set("123456789", "v")),
        OpError::KeyTooLarge {
            size_bytes: 9,
            limit_bytes: 8
        }
    );
    assert_eq!(
        refused(
            &db,
            Op::Rename {
                from: key("12345678"),
                to: key("123456789"),
                only_if_absent: false
            }
        ),
        OpError::KeyTooLarge {
            size_bytes: 9,
            limit_bytes: 8
        }
    );
    assert_eq!(db.reader().len(), 1);
}
