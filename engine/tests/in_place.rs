//! A group's single writes to one large collection (one HSET from each of many
//! connections): a later batch changes in place the entry an earlier batch of the
//! group committed, when nothing can roll the later batch back and no one can see
//! the entry. Every batch still gets its own version; subscribers, refused batches
//! and a restart still see each batch's own value.

mod common;

use chiral::{
    Ack, Batch, Commit, Db, FsyncPolicy, OnError, Op, OpError, Options, Precondition, Reply, Value,
    WriteError,
};

/// Fields of the hash the tests write to: enough for its trie form.
const FIELDS: usize = 2000;

fn hset(field: &str, value: &str) -> Op {
    Op::HashSet {
        key: "h".into(),
        pairs: vec![(field.to_owned().into(), value.to_owned().into())],
        only_if_absent: false,
    }
}

fn big_hash(db: &Db) {
    let pairs = (0..FIELDS)
        .map(|i| (format!("f{i}").into(), "v".into()))
        .collect();
    common::ok(
        db,
        Op::HashSet {
            key: "h".into(),
            pairs,
            only_if_absent: false,
        },
    );
}

/// Commits `batches` as one group: the commit thread is idle, and deferred writes
/// wait for the first of their futures to be polled, which commits them all.
fn one_group(db: &Db, batches: Vec<Batch>) -> Vec<Result<Commit, WriteError>> {
    // Past the settle after the last publish, the idle commit thread sleeps.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pending: Vec<_> = batches
        .into_iter()
        .map(|batch| db.try_submit_deferred(batch, Ack::Visible).unwrap())
        .collect();
    pending
        .into_iter()
        .map(|pending| {
            common::block_on(pending).map(|receipt| receipt.commit().expect("a visible write"))
        })
        .collect()
}

/// Options for a database whose restart replays its log.
fn on_disk() -> Options {
    Options {
        fsync: FsyncPolicy::Never,
        snapshot_on_close: false,
        ..Options::default()
    }
}

/// The hash holds fields `n0`..`n{count - 1}`, each with its number.
fn assert_new_fields(db: &Db, count: usize) {
    let reader = db.reader();
    for i in 0..count {
        assert_eq!(
            reader.hget(b"h", format!("n{i}").as_bytes()).unwrap(),
            Some(i.to_string().into()),
            "field n{i}"
        );
    }
}

fn new_field_batches(count: usize) -> Vec<Batch> {
    (0..count)
        .map(|i| Batch::of(hset(&format!("n{i}"), &i.to_string())))
        .collect()
}

#[test]
fn each_batch_of_a_group_gets_its_own_version() {
    let db = common::open();
    big_hash(&db);
    let commits: Vec<Commit> = one_group(&db, new_field_batches(20))
        .into_iter()
        .map(Result::unwrap)
        .collect();
    for pair in commits.windows(2) {
        assert!(pair[0].lsn < pair[1].lsn, "one LSN per batch, in order");
    }
    for commit in &commits {
        assert_eq!(commit.replies, vec![Ok(Reply::Int(1))]);
    }
    let reader = db.reader();
    assert_eq!(reader.version(b"h").unwrap(), commits[19].lsn);
    assert_eq!(reader.hlen(b"h").unwrap(), FIELDS + 20);
    assert_new_fields(&db, 20);
    // A transaction that read the hash as batch 10 left it is refused: later
    // batches changed it.
    let watched = Batch::of(hset("late", "x")).when(Precondition::Version {
        key: "h".into(),
        version: commits[10].lsn,
    });
    assert!(matches!(
        db.write(watched, Ack::Visible),
        Err(WriteError::PreconditionFailed { index: 0 })
    ));
}

#[test]
fn writes_that_change_nothing_keep_their_place() {
    let db = common::open();
    // Re-adding present members to a big set changes nothing and takes no LSN;
    // the batches around them still land.
    let members = (0..FIELDS).map(|i| format!("m{i}").into()).collect();
    common::ok(
        &db,
        Op::SetAdd {
            key: "s".into(),
            members,
        },
    );
    let sadd = |member: &str| {
        Batch::of(Op::SetAdd {
            key: "s".into(),
            members: vec![member.to_owned().into()],
        })
    };
    let results = one_group(
        &db,
        vec![sadd("new1"), sadd("m1"), sadd("new2"), sadd("m2")],
    );
    let replies: Vec<_> = results
        .iter()
        .map(|result| result.as_ref().unwrap().replies.clone())
        .collect();
    assert_eq!(
        replies,
        [1, 0, 1, 0].map(|added| vec![Ok(Reply::Int(added))])
    );
    let reader = db.reader();
    assert_eq!(
        reader.version(b"s").unwrap(),
        results[2].as_ref().unwrap().lsn
    );
    assert_eq!(reader.scard(b"s").unwrap(), FIELDS + 2);
}

#[test]
fn subscribers_see_each_batch_s_own_value() {
    let db = common::open();
    big_hash(&db);
    let feed = db.subscribe();
    let commits = one_group(&db, new_field_batches(5));
    for (i, commit) in commits.into_iter().enumerate() {
        let batch = feed.recv().unwrap();
        assert_eq!(batch.lsn, commit.unwrap().lsn);
        let [chiral::Change::Put(record)] = &batch.changes[..] else {
            panic!("one put per batch");
        };
        let Value::Hash(hash) = &*record.value() else {
            panic!("a hash");
        };
        assert_eq!(hash.len(), FIELDS + i + 1, "batch {i} sees its own fields");
        assert!(hash.get(format!("n{i}").as_bytes()).is_some());
        assert!(hash.get(format!("n{}", i + 1).as_bytes()).is_none());
    }
}

#[test]
fn a_refused_batch_leaves_the_value_the_group_had_before_it() {
    let db = common::open();
    big_hash(&db);
    // The middle batch changes the hash, then fails: its change must go, and the
    // first batch's must stay.
    let refused = Batch::of(hset("b", "2"))
        .with(Op::incr_by("h", 1))
        .on_error(OnError::Abort);
    let results = one_group(
        &db,
        vec![
            Batch::of(hset("a", "1")),
            refused,
            Batch::of(hset("c", "3")),
        ],
    );
    assert!(matches!(
        results[1],
        Err(WriteError::Op {
            index: 1,
            error: OpError::WrongType
        })
    ));
    let last = results[2].as_ref().unwrap().lsn;
    let reader = db.reader();
    assert_eq!(reader.hget(b"h", b"a").unwrap(), Some("1".into()));
    assert_eq!(reader.hget(b"h", b"b").unwrap(), None);
    assert_eq!(reader.hget(b"h", b"c").unwrap(), Some("3".into()));
    assert_eq!(reader.version(b"h").unwrap(), last);
    assert_eq!(reader.hlen(b"h").unwrap(), FIELDS + 2);
}

#[test]
fn a_group_changed_in_place_is_replayed_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let last = {
        let db = Db::open(dir.path(), on_disk()).unwrap();
        big_hash(&db);
        let commits = one_group(&db, new_field_batches(10));
        commits[9].as_ref().unwrap().lsn
    };
    let db = Db::open(dir.path(), on_disk()).unwrap();
    let reader = db.reader();
    assert_eq!(reader.version(b"h").unwrap(), last);
    assert_eq!(reader.hlen(b"h").unwrap(), FIELDS + 10);
    assert_new_fields(&db, 10);
}

#[test]
fn a_pipeline_keeps_its_changes_around_a_refused_op_through_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = {
        let db = Db::open(dir.path(), on_disk()).unwrap();
        big_hash(&db);
        // A pipeline (its ops answered one by one) whose middle op is refused: the
        // ops around it land, and its log record leaves the refused op out.
        let pipeline = Batch::of(hset("x", "1"))
            .with(Op::incr_by("h", 1))
            .with(hset("y", "2"))
            .on_error(OnError::Continue);
        let results = one_group(&db, vec![Batch::of(hset("w", "0")), pipeline]);
        let second = results[1].as_ref().unwrap();
        assert_eq!(
            second.replies,
            vec![
                Ok(Reply::Int(1)),
                Err(OpError::WrongType),
                Ok(Reply::Int(1))
            ]
        );
        (results[0].as_ref().unwrap().lsn, second.lsn)
    };
    assert!(first < second);
    let db = Db::open(dir.path(), on_disk()).unwrap();
    let reader = db.reader();
    assert_eq!(reader.version(b"h").unwrap(), second);
    assert_eq!(reader.hlen(b"h").unwrap(), FIELDS + 3);
    for (field, value) in [("w", "0"), ("x", "1"), ("y", "2")] {
        assert_eq!(
            reader.hget(b"h", field.as_bytes()).unwrap(),
            Some(value.into())
        );
    }
}

#[test]
fn writes_far_apart_in_a_group_keep_each_batch_s_change() {
    let db = common::open();
    big_hash(&db);
    // Many batches to other keys between two writes to the hash: the second looks
    // only so far back for the first's pending op, and copies instead.
    let mut batches = vec![Batch::of(hset("n0", "0"))];
    batches.extend((0..100).map(|i| Batch::of(Op::set(format!("k{i}"), "v"))));
    batches.push(Batch::of(hset("n1", "1")));
    batches.push(Batch::of(hset("n2", "2")));
    let commits: Vec<Commit> = one_group(&db, batches)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let reader = db.reader();
    assert_eq!(reader.version(b"h").unwrap(), commits[102].lsn);
    assert_eq!(reader.hlen(b"h").unwrap(), FIELDS + 3);
    assert_new_fields(&db, 3);
    assert_eq!(reader.get(b"k99").unwrap(), Some(b"v".to_vec()));
}
