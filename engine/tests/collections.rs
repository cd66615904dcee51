//! Lists, sets and hashes.

mod common;

use bytes::Bytes;
use chiral::{End, Op, OpError, Reply};
use common::{bytes, key, ok, open, refused};

fn b(items: &[&str]) -> Vec<Bytes> {
    items
        .iter()
        .map(|s| Bytes::copy_from_slice(s.as_bytes()))
        .collect()
}

fn push(k: &str, end: End, values: &[&str]) -> Op {
    Op::Push {
        key: key(k),
        end,
        values: b(values),
        only_if_exists: false,
    }
}

#[test]
fn list_push_pop_range() {
    let db = open();
    let r = db.reader();
    assert_eq!(
        ok(&db, push("l", End::Front, &["a", "b", "c"])),
        Reply::Int(3)
    );
    assert_eq!(ok(&db, push("l", End::Back, &["d"])), Reply::Int(4));
    assert_eq!(r.lrange(b"l", 0, -1).unwrap(), b(&["c", "b", "a", "d"]));
    assert_eq!(r.lrange(b"l", -2, -1).unwrap(), b(&["a", "d"]));
    assert_eq!(r.lrange(b"l", 5, 10).unwrap(), b(&[]));
    assert_eq!(r.llen(b"l").unwrap(), 4);
    assert_eq!(r.lindex(b"l", -1).unwrap(), Some(Bytes::from("d")));
    assert_eq!(r.lindex(b"l", 9).unwrap(), None);
    assert_eq!(
        ok(
            &db,
            Op::Pop {
                key: key("l"),
                end: End::Front,
                count: None
            }
        ),
        bytes("c")
    );
    assert_eq!(
        ok(
            &db,
            Op::Pop {
                key: key("l"),
                end: End::Back,
                count: Some(2)
            }
        ),
        Reply::Array(vec![bytes("d"), bytes("a")])
    );
    assert_eq!(
        ok(
            &db,
            Op::Pop {
                key: key("l"),
                end: End::Back,
                count: Some(0)
            }
        ),
        Reply::Array(vec![])
    );
    assert_eq!(
        ok(
            &db,
            Op::Pop {
                key: key("l"),
                end: End::Back,
                count: Some(5)
            }
        ),
        Reply::Array(vec![bytes("b")])
    );
    assert!(!r.exists(b"l").unwrap(), "an emptied list is deleted");
    assert_eq!(
        ok(
            &db,
            Op::Pop {
                key: key("l"),
                end: End::Back,
                count: None
            }
        ),
        Reply::Nil
    );
    assert_eq!(
        ok(
            &db,
            Op::Pop {
                key: key("l"),
                end: End::Back,
                count: Some(1)
            }
        ),
        Reply::Nil
    );
    let pushx = Op::Push {
        key: key("l"),
        end: End::Back,
        values: b(&["x"]),
        only_if_exists: true,
    };
    assert_eq!(ok(&db, pushx), Reply::Int(0));
    assert!(!r.exists(b"l").unwrap());
}

#[test]
fn list_set_remove_trim() {
    let db = open();
    let r = db.reader();
    ok(&db, push("l", End::Back, &["a", "x", "b", "x", "c", "x"]));
    assert_eq!(
        ok(
            &db,
            Op::ListSet {
                key: key("l"),
                index: -1,
                value: "y".into()
            }
        ),
        Reply::Ok
    );
    assert_eq!(
        refused(
            &db,
            Op::ListSet {
                key: key("l"),
                index: 6,
                value: "y".into()
            }
        ),
        OpError::IndexOutOfRange
    );
    assert_eq!(
        refused(
            &db,
            Op::ListSet {
                key: key("nope"),
                index: 0,
                value: "y".into()
            }
        ),
        OpError::NoSuchKey
    );
    assert_eq!(
        ok(
            &db,
            Op::ListRemove {
                key: key("l"),
                count: -1,
                value: "x".into()
            }
        ),
        Reply::Int(1)
    );
    assert_eq!(
        r.lrange(b"l", 0, -1).unwrap(),
        b(&["a", "x", "b", "c", "y"])
    );
    ok(&db, push("l", End::Back, &["x", "x"]));
    assert_eq!(
        ok(
            &db,
            Op::ListRemove {
                key: key("l"),
                count: 2,
                value: "x".into()
            }
        ),
        Reply::Int(2)
    );
    assert_eq!(
        r.lrange(b"l", 0, -1).unwrap(),
        b(&["a", "b", "c", "y", "x"])
    );
    assert_eq!(
        ok(
            &db,
            Op::ListRemove {
                key: key("l"),
                count: 0,
                value: "x".into()
            }
        ),
        Reply::Int(1)
    );
    assert_eq!(
        ok(
            &db,
            Op::ListTrim {
                key: key("l"),
                start: 1,
                stop: -2
            }
        ),
        Reply::Ok
    );
    assert_eq!(r.lrange(b"l", 0, -1).unwrap(), b(&["b", "c"]));
    assert_eq!(
        ok(
            &db,
            Op::ListTrim {
                key: key("l"),
                start: 5,
                stop: 10
            }
        ),
        Reply::Ok
    );
    assert!(!r.exists(b"l").unwrap());
}

#[test]
fn large_list_pushes_share_structure() {
    // 100k pushes to one list must be cheap (persistent vector), and reads of an old
    // record must not change when the list grows.
    let db = open();
    let r = db.reader();
    ok(&db, push("q", End::Back, &["first"]));
    let before = r.record(b"q").unwrap().unwrap();
    let mut batch = chiral::Batch::new();
    for i in 0..100_000 {
        batch.push(Op::Push {
            key: key("q"),
            end: End::Back,
            values: vec![Bytes::from(i.to_string())],
            only_if_exists: false,
        });
    }
    db.write(batch, chiral::Ack::Visible).unwrap();
    assert_eq!(r.llen(b"q").unwrap(), 100_001);
    match &*before.value() {
        chiral::Value::List(list) => assert_eq!(list.len(), 1),
        other => panic!("{other:?}"),
    }
}

#[test]
fn sets() {
    let db = open();
    let r = db.reader();
    let add = |k: &str, m: &[&str]| Op::SetAdd {
        key: key(k),
        members: b(m),
    };
    assert_eq!(ok(&db, add("a", &["1", "2", "3", "2"])), Reply::Int(3));
    assert_eq!(ok(&db, add("a", &["3", "4"])), Reply::Int(1));
    ok(&db, add("b", &["3", "4", "5"]));
    assert_eq!(r.scard(b"a").unwrap(), 4);
    assert!(r.sismember(b"a", b"1").unwrap());
    assert!(!r.sismember(b"a", b"9").unwrap());
    assert_eq!(r.smismember(b"a", &["1", "9"]).unwrap(), [true, false]);
    let sorted = |mut v: Vec<Bytes>| {
        v.sort();
        v
    };
    assert_eq!(sorted(r.sinter(&["a", "b"]).unwrap()), b(&["3", "4"]));
    assert_eq!(
        sorted(r.sunion(&["a", "b"]).unwrap()),
        b(&["1", "2", "3", "4", "5"])
    );
    assert_eq!(sorted(r.sdiff(&["a", "b"]).unwrap()), b(&["1", "2"]));
    assert_eq!(r.sinter(&["a", "missing"]).unwrap(), b(&[]));
    assert_eq!(
        ok(
            &db,
            Op::SetRemove {
                key: key("a"),
                members: b(&["1", "9"])
            }
        ),
        Reply::Int(1)
    );
    assert_eq!(sorted(r.smembers(b"a").unwrap()), b(&["2", "3", "4"]));
    ok(
        &db,
        Op::SetRemove {
            key: key("a"),
            members: b(&["2", "3", "4"]),
        },
    );
    assert!(!r.exists(b"a").unwrap(), "an emptied set is deleted");
    db.set(b"s", b"x").unwrap();
    assert_eq!(refused(&db, add("s", &["1"])), OpError::WrongType);
    assert_eq!(r.sinter(&["b", "s"]), Err(OpError::WrongType));
}

#[test]
fn hashes() {
    let db = open();
    let r = db.reader();
    let pairs = |p: &[(&str, &str)]| {
        p.iter()
            .map(|(f, v)| {
                (
                    Bytes::copy_from_slice(f.as_bytes()),
                    Bytes::copy_from_slice(v.as_bytes()),
                )
            })
            .collect()
    };
    let hset = |p: &[(&str, &str)], nx| Op::HashSet {
        key: key("h"),
        pairs: pairs(p),
        only_if_absent: nx,
    };
    assert_eq!(
        ok(&db, hset(&[("a", "1"), ("b", "2")], false)),
        Reply::Int(2)
    );
    assert_eq!(
        ok(&db, hset(&[("b", "3"), ("c", "4")], false)),
        Reply::Int(1)
    );
    assert_eq!(ok(&db, hset(&[("c", "9")], true)), Reply::Int(0));
    assert_eq!(r.hget(b"h", b"c").unwrap(), Some(Bytes::from("4")));
    assert_eq!(ok(&db, hset(&[("d", "5")], true)), Reply::Int(1));
    assert_eq!(r.hlen(b"h").unwrap(), 4);
    assert!(r.hexists(b"h", b"a").unwrap());
    assert_eq!(
        r.hmget(b"h", &["a", "zz"]).unwrap(),
        vec![Some(Bytes::from("1")), None]
    );
    let mut all = r.hgetall(b"h").unwrap();
    all.sort();
    assert_eq!(all.len(), 4);
    assert_eq!(all[1], (Bytes::from("b"), Bytes::from("3")));
    assert_eq!(r.hkeys(b"h").unwrap().len(), 4);
    assert_eq!(r.hvals(b"h").unwrap().len(), 4);
    let incr = |f: &str, delta| Op::HashIncrBy {
        key: key("h"),
        field: Bytes::copy_from_slice(f.as_bytes()),
        delta,
    };
    assert_eq!(ok(&db, incr("a", 10)), Reply::Int(11));
    assert_eq!(ok(&db, incr("new", -1)), Reply::Int(-1));
    ok(&db, hset(&[("word", "abc")], false));
    assert_eq!(refused(&db, incr("word", 1)), OpError::HashNotInteger);
    ok(&db, hset(&[("max", &i64::MAX.to_string())], false));
    assert_eq!(refused(&db, incr("max", 1)), OpError::Overflow);
    let fincr = |f: &str, delta| Op::HashIncrByFloat {
        key: key("h"),
        field: Bytes::copy_from_slice(f.as_bytes()),
        delta,
    };
    assert_eq!(ok(&db, fincr("a", 0.5)), bytes("11.5"));
    assert_eq!(refused(&db, fincr("word", 0.5)), OpError::HashNotFloat);
    let hdel = |f: &[&str]| Op::HashDelete {
        key: key("h"),
        fields: b(f),
    };
    assert_eq!(ok(&db, hdel(&["a", "zz"])), Reply::Int(1));
    let remaining: Vec<Bytes> = r.hkeys(b"h").unwrap();
    let names: Vec<&str> = remaining
        .iter()
        .map(|f| std::str::from_utf8(f).unwrap())
        .collect();
    assert_eq!(ok(&db, hdel(&names)), Reply::Int(names.len() as i64));
    assert!(!r.exists(b"h").unwrap(), "an emptied hash is deleted");
}

/// Writes `batch`, which must commit.
fn committed(db: &chiral::Db, batch: chiral::Batch) -> chiral::Commit {
    db.write(batch, chiral::Ack::Visible)
        .unwrap()
        .commit()
        .unwrap()
}

/// A batch that writes one collection several times changes its own new version in
/// place; captures taken between those writes, rollbacks and refusals must not see
/// the difference.
#[test]
fn a_batch_changes_its_own_collections_in_place_atomically() {
    let db = open();
    let r = db.reader();
    let field = |f: &str| Bytes::copy_from_slice(f.as_bytes());
    let hset = |f: &str, v: &str| Op::HashSet {
        key: key("h"),
        pairs: vec![(field(f), field(v))],
        only_if_absent: false,
    };
    let hincr = |f: &str, delta| Op::HashIncrBy {
        key: key("h"),
        field: field(f),
        delta,
    };
    let sadd = |m: &str| Op::SetAdd {
        key: key("s"),
        members: b(&[m]),
    };
    let srem = |m: &[&str]| Op::SetRemove {
        key: key("s"),
        members: b(m),
    };
    let pop = |k: &str, count| Op::Pop {
        key: key(k),
        end: End::Back,
        count,
    };
    let lset = |index, v: &str| Op::ListSet {
        key: key("l"),
        index,
        value: field(v),
    };

    let mut batch = chiral::Batch::new();
    batch.push(hset("a", "1"));
    batch.capture(vec![key("h"), key("s"), key("l")]);
    for op in [
        hset("b", "2"),
        hincr("n", 5),
        hincr("n", 1),
        Op::HashDelete {
            key: key("h"),
            fields: b(&["a"]),
        },
        sadd("x"),
        sadd("y"),
        srem(&["x"]),
        push("l", End::Back, &["1", "2"]),
        push("l", End::Front, &["0"]),
        pop("l", None),
        lset(0, "z"),
    ] {
        batch.push(op);
    }
    let commit = committed(&db, batch);
    let replies: Vec<Reply> = commit.replies.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        replies,
        vec![
            Reply::Int(1),
            Reply::Int(1),
            Reply::Int(5),
            Reply::Int(6),
            Reply::Int(1),
            Reply::Int(1),
            Reply::Int(1),
            Reply::Int(1),
            Reply::Int(2),
            Reply::Int(3),
            bytes("2"),
            Reply::Ok,
        ]
    );
    let captured = commit.captures[0].as_ref().unwrap();
    assert_eq!(captured.len(), 1, "only h existed at the capture");
    match &*captured[0].value() {
        chiral::Value::Hash(hash) => assert_eq!(hash.len(), 1, "{hash:?}"),
        other => panic!("{other:?}"),
    }
    let state = |r: &chiral::Reader| {
        let mut hash = r.hgetall(b"h").unwrap();
        hash.sort();
        (
            hash,
            r.smembers(b"s").unwrap(),
            r.lrange(b"l", 0, -1).unwrap(),
        )
    };
    let first_state = (
        vec![(field("b"), field("2")), (field("n"), field("6"))],
        vec![field("y")],
        vec![field("z"), field("1")],
    );
    assert_eq!(state(&r), first_state);
    let versions = |r: &chiral::Reader| {
        ["h", "s", "l"].map(|k| r.record(k.as_bytes()).unwrap().unwrap().version())
    };
    let before = versions(&r);

    // A refused operation at the end of an all-or-nothing batch undoes every change
    // the batch made in place.
    let mut batch = chiral::Batch::new();
    for op in [
        hset("c", "3"),
        hset("d", "4"),
        hincr("n", 1),
        sadd("q"),
        sadd("w"),
        srem(&["y"]),
        push("l", End::Back, &["w"]),
        push("l", End::Front, &["v"]),
        pop("l", Some(1)),
        lset(-1, "last"),
        Op::incr_by(key("h"), 1),
    ] {
        batch.push(op);
    }
    assert!(matches!(
        db.write(batch, chiral::Ack::Visible),
        Err(chiral::WriteError::Op {
            index: 10,
            error: OpError::WrongType
        })
    ));
    assert_eq!(state(&r), first_state);
    assert_eq!(versions(&r), before);

    // Refusals inside a batch that goes on change nothing; operations that empty a
    // collection the batch wrote delete its key.
    let mut batch = chiral::Batch::new().on_error(chiral::OnError::Continue);
    for op in [
        hset("word", "abc"),
        hincr("word", 1),
        push("l", End::Back, &["2"]),
        lset(5, "out of range"),
        sadd("t"),
        srem(&["y", "t", "nothing"]),
        pop("l", Some(5)),
        Op::HashDelete {
            key: key("h"),
            fields: b(&["b", "n", "word"]),
        },
    ] {
        batch.push(op);
    }
    let commit = committed(&db, batch);
    assert_eq!(
        commit.replies,
        vec![
            Ok(Reply::Int(1)),
            Err(OpError::HashNotInteger),
            Ok(Reply::Int(3)),
            Err(OpError::IndexOutOfRange),
            Ok(Reply::Int(1)),
            Ok(Reply::Int(2)),
            Ok(Reply::Array(vec![bytes("2"), bytes("1"), bytes("z")])),
            Ok(Reply::Int(3)),
        ]
    );
    for k in ["h", "s", "l"] {
        assert!(!r.exists(k.as_bytes()).unwrap(), "{k} was emptied");
    }
}

/// Every read of the hash, set and list under "h", "s" and "l" agrees with the models.
fn check_against_models(
    db: &chiral::Db,
    hash: &std::collections::BTreeMap<Bytes, Bytes>,
    set: &std::collections::BTreeSet<Bytes>,
    list: &[Bytes],
) {
    let r = db.reader();
    let pairs: std::collections::BTreeMap<Bytes, Bytes> =
        r.hgetall(b"h").unwrap().into_iter().collect();
    assert_eq!(&pairs, hash);
    assert_eq!(r.hlen(b"h").unwrap(), hash.len());
    for (field, value) in hash {
        assert_eq!(r.hget(b"h", field).unwrap().as_ref(), Some(value));
    }
    let members: std::collections::BTreeSet<Bytes> =
        r.smembers(b"s").unwrap().into_iter().collect();
    assert_eq!(&members, set);
    assert!(set.iter().all(|member| r.sismember(b"s", member).unwrap()));
    assert_eq!(r.lrange(b"l", 0, -1).unwrap(), list);
    for (index, item) in list.iter().enumerate() {
        assert_eq!(r.lindex(b"l", index as i64).unwrap().as_ref(), Some(item));
    }
}

#[test]
fn collections_cross_the_packed_limits_and_survive_a_restart() {
    // A collection is packed up to 128 items of up to 64 bytes, then a tree for good:
    // grow a hash, a set and a list one write at a time past both limits, shrink them,
    // and check every read along the way, after a restart (log replay) and after a
    // snapshot (the base).
    let dir = tempfile::tempdir().unwrap();
    let mut hash = std::collections::BTreeMap::new();
    let mut set = std::collections::BTreeSet::new();
    let mut list = Vec::new();
    {
        let db = chiral::Db::open(dir.path(), chiral::Options::default()).unwrap();
        for i in 0..200usize {
            let long = if i == 150 { 65 } else { 8 };
            let item = Bytes::from(format!("{i:0long$}"));
            ok(
                &db,
                Op::HashSet {
                    key: key("h"),
                    pairs: vec![(Bytes::from(format!("f{i}")), item.clone())],
                    only_if_absent: false,
                },
            );
            hash.insert(Bytes::from(format!("f{i}")), item.clone());
            ok(
                &db,
                Op::SetAdd {
                    key: key("s"),
                    members: vec![item.clone()],
                },
            );
            set.insert(item.clone());
            ok(&db, push("l", End::Back, &[&format!("{i}")]));
            list.push(Bytes::from(format!("{i}")));
            if i % 25 == 0 || i == 127 || i == 128 || i == 150 {
                check_against_models(&db, &hash, &set, &list);
            }
        }
        let gone: Vec<Bytes> = (0..195).map(|i| Bytes::from(format!("f{i}"))).collect();
        ok(
            &db,
            Op::HashDelete {
                key: key("h"),
                fields: gone.clone(),
            },
        );
        gone.iter().for_each(|field| {
            hash.remove(field);
        });
        ok(
            &db,
            Op::Pop {
                key: key("l"),
                end: End::Front,
                count: Some(190),
            },
        );
        list.drain(..190);
        check_against_models(&db, &hash, &set, &list);
    }
    let db = chiral::Db::open(dir.path(), chiral::Options::default()).unwrap();
    check_against_models(&db, &hash, &set, &list);
    db.snapshot().unwrap();
    drop(db);
    let db = chiral::Db::open(dir.path(), chiral::Options::default()).unwrap();
    check_against_models(&db, &hash, &set, &list);
    // A write after the restart (from the base) changes the collection in memory.
    ok(&db, push("l", End::Front, &["new"]));
    list.insert(0, Bytes::from("new"));
    check_against_models(&db, &hash, &set, &list);
}
