//! Schemas, collections and documents: the Boutique use case through the engine, every
//! rule with its error (and that a refused write changes nothing), partial updates,
//! online schema evolution, scans, restarts through the log and through snapshots,
//! and readers never seeing half of an update.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chiral::{
    Batch, Db, DocError, FieldDef, FieldType, FieldValue, IoBackend, Kind, Op, OpError, Options,
    Reply, Schema, WriteError,
};
use common::{ok, open, refused};

fn user_schema() -> Schema {
    Schema::new(
        "user",
        vec![
            FieldDef::new("id", FieldType::String { max_bytes: 64 }),
            FieldDef::new("last_login_time", FieldType::Uint64),
            FieldDef::new("last_visited_page", FieldType::String { max_bytes: 64 }),
        ],
    )
}

/// A database with Boutique's `user` schema and `users` collection.
fn boutique(db: &Db) {
    assert_eq!(ok(db, Op::create_schema(user_schema())), Reply::Ok);
    assert_eq!(
        ok(db, Op::create_collection("users", "user", "id")),
        Reply::Ok
    );
}

/// A second collection: `tags`, keyed by `name`.
fn tags(db: &Db) {
    let tag = Schema::new(
        "tag",
        vec![FieldDef::new("name", FieldType::String { max_bytes: 8 })],
    );
    ok(db, Op::create_schema(tag));
    ok(db, Op::create_collection("tags", "tag", "name"));
}

fn doc_error(error: OpError) -> DocError {
    match error {
        OpError::Doc(error) => error,
        other => panic!("expected a document error, got {other:?}"),
    }
}

#[test]
fn the_boutique_script_through_the_engine() {
    let db = open();
    boutique(&db);
    let reader = db.reader();
    let set = Op::doc_set(
        "users",
        "user_id_here",
        [
            ("last_login_time", "1312309023"),
            ("last_visited_page", "/dashboard"),
        ],
    );
    assert_eq!(ok(&db, set), Reply::Int(1));
    let projected = reader
        .document("users", b"user_id_here", &["last_login_time"])
        .unwrap()
        .unwrap();
    assert_eq!(
        projected.fields,
        vec![(
            "last_login_time".into(),
            Some(FieldValue::Uint64(1312309023))
        )]
    );
    // The whole document: every field, the key field filled from the key.
    let whole = reader
        .document("users", b"user_id_here", &[])
        .unwrap()
        .unwrap();
    assert_eq!(whole.get("id"), Some(&FieldValue::from("user_id_here")));
    assert_eq!(
        whole.get("last_visited_page"),
        Some(&FieldValue::from("/dashboard"))
    );
    assert_eq!(whole.fields.len(), 3);
    assert_eq!(
        ok(&db, Op::doc_delete("users", "user_id_here")),
        Reply::Int(1)
    );
    assert_eq!(
        ok(&db, Op::doc_delete("users", "user_id_here")),
        Reply::Int(0)
    );
    assert_eq!(
        reader
            .document("users", b"user_id_here", &["last_login_time"])
            .unwrap(),
        None
    );
}

#[test]
fn every_rule_is_a_clear_error_that_changes_nothing() {
    let db = open();
    boutique(&db);
    let reader = db.reader();
    ok(&db, Op::doc_set("users", "x", [("last_login_time", "5")]));
    let before = reader.document("users", b"x", &[]).unwrap();
    let message = |op: Op| doc_error(refused(&db, op)).to_string();
    assert_eq!(
        message(Op::doc_set("users", "x", [("last_login_time", "abc")])),
        "wrong type for field last_login_time: expected uint64"
    );
    assert_eq!(
        message(Op::doc_set("users", "x", [("nickname", "bob")])),
        "unknown field nickname in schema user"
    );
    let long = "p".repeat(65);
    assert_eq!(
        message(Op::doc_set(
            "users",
            "x",
            [("last_visited_page", long.as_str())]
        )),
        "value too long for string64 field last_visited_page (65 > 64 bytes)"
    );
    assert_eq!(
        message(Op::create_collection("people", "nosuchschema", "id")),
        "unknown schema nosuchschema"
    );
    assert_eq!(
        message(Op::create_schema(user_schema())),
        "schema user already exists"
    );
    assert_eq!(
        message(Op::create_collection("users", "user", "id")),
        "collection users already exists"
    );
    assert_eq!(
        message(Op::doc_set("nosuch", "x", [("a", "b")])),
        "unknown collection nosuch"
    );
    assert_eq!(
        message(Op::doc_set("users", "x", [("id", "y")])),
        "field id is the key of collection users: it must equal the document's id"
    );
    assert_eq!(
        message(Op::doc_set(
            "users",
            "x",
            [("last_login_time", "1"), ("last_login_time", "2")]
        )),
        "field last_login_time is given twice"
    );
    // A valid field beside an invalid one is not written either.
    message(Op::doc_set(
        "users",
        "x",
        [("last_visited_page", "/ok"), ("last_login_time", "-1")],
    ));
    // The id must be a value of the key field.
    let long_id = "i".repeat(65);
    assert!(matches!(
        doc_error(refused(
            &db,
            Op::doc_set("users", long_id, [("last_login_time", "1")])
        )),
        DocError::TooLong { .. }
    ));
    assert_eq!(reader.document("users", b"x", &[]).unwrap(), before);
    // Writing the key field with the document's own id is allowed.
    ok(&db, Op::doc_set("users", "x", [("id", "x")]));
    // Projections name real fields.
    assert!(matches!(
        reader.document("users", b"x", &["nickname"]),
        Err(OpError::Doc(DocError::UnknownField { .. }))
    ));
    assert!(matches!(
        reader.document("nosuch", b"x", &[]),
        Err(OpError::Doc(DocError::UnknownCollection(_)))
    ));
}

#[test]
fn schemas_and_names_are_checked() {
    let db = open();
    let invalid = |schema: Schema| doc_error(refused(&db, Op::create_schema(schema)));
    assert!(matches!(
        invalid(Schema::new("empty", vec![])),
        DocError::Invalid(_)
    ));
    let twice = Schema::new(
        "twice",
        vec![
            FieldDef::new("a", FieldType::Bool),
            FieldDef::new("a", FieldType::Int64),
        ],
    );
    assert!(matches!(invalid(twice), DocError::Invalid(_)));
    let bad_name = Schema::new("has space", vec![FieldDef::new("a", FieldType::Bool)]);
    assert!(matches!(invalid(bad_name), DocError::Invalid(_)));
    let bad_default = Schema::new(
        "d",
        vec![FieldDef {
            default: Some(FieldValue::from("text")),
            ..FieldDef::new("a", FieldType::Bool)
        }],
    );
    assert!(matches!(invalid(bad_default), DocError::WrongType { .. }));
    ok(&db, Op::create_schema(user_schema()));
    // Collection names never hold the ':' that separates them from ids.
    assert!(matches!(
        doc_error(refused(&db, Op::create_collection("a:b", "user", "id"))),
        DocError::Invalid(_)
    ));
    assert!(matches!(
        doc_error(refused(
            &db,
            Op::create_collection("c", "user", "nosuchfield")
        )),
        DocError::UnknownField { .. }
    ));
    assert_eq!(db.reader().schemas(), vec![user_schema()]);
    assert!(db.reader().collections().is_empty());
}

#[test]
fn every_field_type_round_trips_and_updates_merge() {
    let db = open();
    let schema = Schema::new(
        "all",
        vec![
            FieldDef::new("key", FieldType::Bytes { max_bytes: 8 }),
            FieldDef::new("s", FieldType::String { max_bytes: 4 }),
            FieldDef::new("raw", FieldType::Bytes { max_bytes: 3 }),
            FieldDef::new("u", FieldType::Uint64),
            FieldDef::new("i", FieldType::Int64),
            FieldDef::new("f", FieldType::Float64),
            FieldDef::new("b", FieldType::Bool),
        ],
    );
    ok(&db, Op::create_schema(schema));
    ok(&db, Op::create_collection("things", "all", "key"));
    let reader = db.reader();
    let id: &[u8] = &[0, 0xff];
    ok(
        &db,
        Op::doc_set(
            "things",
            id,
            [
                (&b"s"[..], "hé!".as_bytes()),
                (b"raw", &[1, 2, 3][..]),
                (b"u", b"18446744073709551615"),
                (b"i", b"-9223372036854775808"),
            ],
        ),
    );
    assert_eq!(
        ok(
            &db,
            Op::doc_set("things", id, [("f", "0.1"), ("b", "true")])
        ),
        Reply::Int(0)
    );
    let doc = reader.document("things", id, &[]).unwrap().unwrap();
    assert_eq!(
        doc.fields
            .into_iter()
            .map(|(_, value)| value)
            .collect::<Vec<_>>(),
        vec![
            Some(FieldValue::Bytes(id.into())),
            Some(FieldValue::from("hé!")),
            Some(FieldValue::Bytes([1, 2, 3].into())),
            Some(FieldValue::Uint64(u64::MAX)),
            Some(FieldValue::Int64(i64::MIN)),
            Some(FieldValue::Float64(0.1)),
            Some(FieldValue::Bool(true)),
        ]
    );
    // A document is a value of its own kind: string commands refuse it.
    let key = chiral::doc_key("things", id);
    assert_eq!(reader.kind(&key).unwrap(), Some(Kind::Document));
    assert_eq!(reader.get(&key), Err(OpError::WrongType));
    // Only DOC.SET writes documents: a copied document value is refused.
    let copied = reader.record(&key).unwrap().unwrap().value().into_owned();
    assert!(
        refused(&db, Op::set("elsewhere", copied))
            .to_string()
            .contains("DOC.SET")
    );
    // A plain key in the collection's space is not a document.
    ok(&db, Op::set(chiral::doc_key("things", b"plain"), &b"v"[..]));
    assert_eq!(
        reader.document("things", b"plain", &[]),
        Err(OpError::WrongType)
    );
    assert_eq!(
        refused(&db, Op::doc_set("things", "plain", [("b", "0")])),
        OpError::WrongType
    );
}

#[test]
fn an_added_field_reads_as_its_default_in_older_documents() {
    let db = open();
    boutique(&db);
    ok(&db, Op::doc_set("users", "old", [("last_login_time", "1")]));
    let visits = FieldDef {
        default: Some(FieldValue::Uint64(0)),
        ..FieldDef::new("visits", FieldType::Uint64)
    };
    ok(
        &db,
        Op::AddField {
            schema: "user".into(),
            field: visits.clone(),
        },
    );
    assert!(matches!(
        doc_error(refused(
            &db,
            Op::AddField {
                schema: "user".into(),
                field: visits
            }
        )),
        DocError::FieldExists { .. }
    ));
    let reader = db.reader();
    let old = reader
        .document("users", b"old", &["visits", "last_login_time"])
        .unwrap()
        .unwrap();
    assert_eq!(old.get("visits"), Some(&FieldValue::Uint64(0)));
    assert_eq!(old.get("last_login_time"), Some(&FieldValue::Uint64(1)));
    ok(&db, Op::doc_set("users", "old", [("visits", "3")]));
    ok(&db, Op::doc_set("users", "new", [("visits", "1")]));
    let new = reader.document("users", b"new", &[]).unwrap().unwrap();
    assert_eq!(new.get("visits"), Some(&FieldValue::Uint64(1)));
    assert_eq!(new.get("last_login_time"), None);
    assert_eq!(
        reader
            .document("users", b"old", &["visits"])
            .unwrap()
            .unwrap()
            .get("visits"),
        Some(&FieldValue::Uint64(3))
    );
}

#[test]
fn a_scan_lists_the_collection_s_documents_only() {
    let db = open();
    boutique(&db);
    tags(&db);
    for i in 0..50 {
        ok(
            &db,
            Op::doc_set("users", format!("u{i}"), [("last_login_time", "1")]),
        );
        ok(
            &db,
            Op::doc_set("tags", format!("t{i}"), Vec::<(&str, &str)>::new()),
        );
    }
    ok(&db, Op::set("users:plain", &b"not a document"[..]));
    let reader = db.reader();
    let mut ids = Vec::new();
    let mut cursor = 0;
    loop {
        let page = reader.scan_documents("users", cursor, 7).unwrap();
        ids.extend(
            page.keys
                .into_iter()
                .map(|id| String::from_utf8(id.into()).unwrap()),
        );
        cursor = page.cursor;
        if cursor == 0 {
            break;
        }
    }
    ids.sort();
    let mut expected: Vec<String> = (0..50).map(|i| format!("u{i}")).collect();
    expected.sort();
    assert_eq!(ids, expected);
    assert!(reader.scan_documents("nosuch", 0, 10).is_err());
}

#[test]
fn a_document_renamed_into_another_collection_is_refused_there() {
    let db = open();
    boutique(&db);
    tags(&db);
    ok(&db, Op::doc_set("users", "a", [("last_login_time", "1")]));
    ok(
        &db,
        Op::Rename {
            from: chiral::doc_key("users", b"a").into(),
            to: chiral::doc_key("tags", b"a").into(),
            only_if_absent: false,
        },
    );
    let reader = db.reader();
    assert_eq!(
        reader.document("tags", b"a", &[]),
        Err(OpError::Doc(DocError::OtherCollection("users".into())))
    );
    assert_eq!(
        doc_error(refused(
            &db,
            Op::doc_set("tags", "a", Vec::<(&str, &str)>::new())
        )),
        DocError::OtherCollection("users".into())
    );
    assert_eq!(
        doc_error(refused(&db, Op::doc_delete("tags", "a"))),
        DocError::OtherCollection("users".into())
    );
    // A scan of either collection leaves it out: it is under tags' prefix, of users.
    assert!(
        reader
            .scan_documents("tags", 0, 100)
            .unwrap()
            .keys
            .is_empty()
    );
    assert!(
        reader
            .scan_documents("users", 0, 100)
            .unwrap()
            .keys
            .is_empty()
    );
    // DEL still removes the key, as it removes any key.
    assert!(db.delete(&chiral::doc_key("tags", b"a")).unwrap());
}

#[test]
fn a_refused_batch_leaves_no_schema_behind() {
    let db = open();
    let batch = Batch::new()
        .with(Op::create_schema(user_schema()))
        .with(Op::create_collection("users", "user", "id"))
        .with(Op::doc_set("users", "a", [("nickname", "x")]));
    assert!(matches!(
        db.write(batch, chiral::Ack::Visible),
        Err(WriteError::Op { index: 2, .. })
    ));
    assert!(db.reader().schemas().is_empty());
    // The same batch, valid, creates all three at once.
    let batch = Batch::new()
        .with(Op::create_schema(user_schema()))
        .with(Op::create_collection("users", "user", "id"))
        .with(Op::doc_set("users", "a", [("last_login_time", "9")]));
    db.write(batch, chiral::Ack::Visible).unwrap();
    assert!(db.reader().document("users", b"a", &[]).unwrap().is_some());
}

fn disk_options(backend: IoBackend) -> Options {
    Options {
        io_backend: backend,
        ..Options::default()
    }
}

#[test]
fn documents_and_the_catalog_survive_restarts_through_log_and_snapshot() {
    for backend in [IoBackend::Std, IoBackend::Uring] {
        let dir = tempfile::tempdir().unwrap();
        let added = FieldDef {
            default: Some(FieldValue::from("none")),
            ..FieldDef::new("plan", FieldType::String { max_bytes: 16 })
        };
        {
            let db = Db::open(dir.path(), disk_options(backend)).unwrap();
            boutique(&db);
            ok(&db, Op::doc_set("users", "a", [("last_login_time", "1")]));
            db.close();
        }
        {
            // Replayed from the log.
            let db = Db::open(dir.path(), disk_options(backend)).unwrap();
            let reader = db.reader();
            let a = reader
                .document("users", b"a", &["last_login_time"])
                .unwrap()
                .unwrap();
            assert_eq!(a.get("last_login_time"), Some(&FieldValue::Uint64(1)));
            db.snapshot().unwrap();
            // After the snapshot: a new field and a new document, only in the log.
            ok(
                &db,
                Op::AddField {
                    schema: "user".into(),
                    field: added.clone(),
                },
            );
            ok(&db, Op::doc_set("users", "b", [("plan", "pro")]));
            db.close();
        }
        let options = Options {
            snapshot_on_close: false,
            ..disk_options(backend)
        };
        let db = Db::open(dir.path(), options).unwrap();
        let reader = db.reader();
        assert_eq!(reader.schema("user").unwrap().fields.last(), Some(&added));
        assert_eq!(reader.collections().len(), 1);
        // `a` lives in a snapshot (read in place); `b` and the new field in the log.
        let a = reader.document("users", b"a", &[]).unwrap().unwrap();
        assert_eq!(a.get("plan"), Some(&FieldValue::from("none")));
        assert_eq!(a.get("last_login_time"), Some(&FieldValue::Uint64(1)));
        let b = reader.document("users", b"b", &["plan"]).unwrap().unwrap();
        assert_eq!(b.get("plan"), Some(&FieldValue::from("pro")));
        // A write on top of the snapshot's document keeps its other fields.
        ok(
            &db,
            Op::doc_set("users", "a", [("last_visited_page", "/x")]),
        );
        let a = reader.document("users", b"a", &[]).unwrap().unwrap();
        assert_eq!(a.get("last_login_time"), Some(&FieldValue::Uint64(1)));
        assert_eq!(a.get("last_visited_page"), Some(&FieldValue::from("/x")));
        assert_eq!(
            doc_error(refused(&db, Op::create_schema(user_schema()))),
            DocError::SchemaExists("user".into())
        );
    }
}

#[test]
fn readers_never_see_half_of_a_document_update() {
    let db = Arc::new(open());
    ok(
        &db,
        Op::create_schema(Schema::new(
            "pair",
            vec![
                FieldDef::new("id", FieldType::String { max_bytes: 8 }),
                FieldDef::new("a", FieldType::Uint64),
                FieldDef::new("b", FieldType::Uint64),
                FieldDef::new("note", FieldType::String { max_bytes: 8 }),
            ],
        )),
    );
    ok(&db, Op::create_collection("pairs", "pair", "id"));
    ok(
        &db,
        Op::doc_set("pairs", "p", [("a", "0"), ("b", "0"), ("note", "n")]),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
            std::thread::spawn(move || {
                let reader = db.reader();
                let mut reads = 0u64;
                let mut last = 0;
                while !stop.load(Ordering::Relaxed) {
                    let doc = reader
                        .document("pairs", b"p", &["a", "b", "note"])
                        .unwrap()
                        .unwrap();
                    let (a, b) = (doc.get("a").cloned(), doc.get("b").cloned());
                    assert_eq!(a, b, "a reader saw half of an update");
                    // The untouched field survives every partial update.
                    assert_eq!(doc.get("note"), Some(&FieldValue::from("n")));
                    let Some(FieldValue::Uint64(now)) = a else {
                        panic!("a is missing")
                    };
                    assert!(now >= last, "a value went back");
                    last = now;
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for i in 1..=2000u64 {
        let text = i.to_string();
        db.apply(Op::doc_set("pairs", "p", [("a", &text), ("b", &text)]))
            .unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        assert!(reader.join().unwrap() > 0);
    }
}
