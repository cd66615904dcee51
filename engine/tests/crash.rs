//! The crash test: a child process writes with `Durable` acks and reports each
//! acknowledged write; the parent SIGKILLs it at a random moment, reopens the
//! directory, and checks that every acknowledged write is there (or a newer value of
//! its key), and that every batch is whole (a key, its mirror, its document and its
//! field in a hash all the writers share, which later batches of a group change in
//! place).
//! Cycles alternate between the I/O backends. `CHIRAL_CRASH_CYCLES` sets the number
//! of cycles (default 25; the soak script `scripts/crash-soak.sh` runs thousands).

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chiral::{Ack, Batch, Db, FieldDef, FieldType, FsyncPolicy, IoBackend, Op, Options, Schema};
use common::{Rng, dump};

const WRITER_THREADS: usize = 4;
const KEYS_PER_THREAD: u64 = 50;
/// The hash each batch also sets its key's field in, last.
const FIELDS: &str = "crash-fields";
/// The collection each batch also writes a document of.
const DOCS: &str = "crashdocs";

/// Kills the child if the parent's checks panic.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn backend_for(cycle: u64) -> IoBackend {
    if cycle.is_multiple_of(2) {
        IoBackend::Std
    } else {
        IoBackend::Uring
    }
}

/// A value's place in its key's write order: (cycle, sequence number).
fn order(value: &[u8]) -> (u64, u64) {
    let text = std::str::from_utf8(value).expect("values are text");
    let (cycle, n) = text.split_once(':').expect("values are cycle:n");
    (cycle.parse().unwrap(), n.parse().unwrap())
}

#[test]
fn sigkill_never_loses_an_acknowledged_write() {
    let cycles: u64 = std::env::var("CHIRAL_CRASH_CYCLES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(25);
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed_c0de);
    // The newest acknowledged value of each key, over every cycle so far.
    let mut acked: HashMap<String, (u64, u64)> = HashMap::new();
    for cycle in 0..cycles {
        let mut child = KillOnDrop(
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
                .env("CHIRAL_CRASH_DIR", dir.path())
                .env("CHIRAL_CRASH_CYCLE", cycle.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let stdout = child.0.stdout.take().unwrap();
        let (opened, opened_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.ends_with("open") {
                    let _ = opened.send(());
                }
                lines.push(line);
            }
            lines
        });
        // Once it has recovered and started writing, kill it at a random moment.
        opened_rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("cycle {cycle}: the child did not open the database"));
        std::thread::sleep(Duration::from_millis(rng.below(100)));
        child.0.kill().unwrap();
        child.0.wait().unwrap();
        let lines = reader.join().unwrap();
        let acks: Vec<_> = lines
            .iter()
            .filter_map(|line| line.strip_prefix("ack "))
            .collect();
        for ack in &acks {
            let (key, value) = ack.split_once(' ').unwrap();
            let value = order(value.as_bytes());
            let newest = acked.entry(key.to_string()).or_insert(value);
            *newest = (*newest).max(value);
        }

        let db = Db::open(
            dir.path(),
            Options {
                io_backend: backend_for(cycle + 1),
                ..Options::default()
            },
        )
        .unwrap_or_else(|error| panic!("cycle {cycle}: reopen failed: {error}"));
        let state = dump(&db);
        for (key, newest) in &acked {
            let found = state
                .get(key.as_bytes())
                .unwrap_or_else(|| panic!("cycle {cycle}: acknowledged key {key} is missing"));
            let chiral::Value::Bytes(value) = &found.0 else {
                panic!("cycle {cycle}: {key} holds {:?}", found.0)
            };
            assert!(
                order(value) >= *newest,
                "cycle {cycle}: {key} went back from {newest:?} to {:?}",
                order(value)
            );
            let mirror = state
                .get(format!("mirror-{key}").as_bytes())
                .map(|entry| &entry.0);
            assert_eq!(
                mirror,
                Some(&found.0),
                "cycle {cycle}: {key} and its mirror were written in one batch"
            );
            let doc = db
                .reader()
                .document(DOCS, key.as_bytes(), &["v"])
                .unwrap()
                .unwrap_or_else(|| panic!("cycle {cycle}: the document {key} is missing"));
            assert_eq!(
                doc.get("v").map(|v| v.text().into_owned()),
                Some(value.to_vec()),
                "cycle {cycle}: {key}'s document was written in the same batch"
            );
            let field = match state.get(FIELDS.as_bytes()).map(|entry| &entry.0) {
                Some(chiral::Value::Hash(fields)) => fields.get(key.as_bytes()),
                other => panic!("cycle {cycle}: {FIELDS} holds {other:?}"),
            };
            assert_eq!(
                field,
                Some(&value[..]),
                "cycle {cycle}: {key}'s field was written in the same batch"
            );
        }
        eprintln!(
            "cycle {cycle}: {} writes acknowledged, all present",
            acks.len()
        );
    }
}

/// The child side: runs only when the parent starts it.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var("CHIRAL_CRASH_DIR") else {
        return;
    };
    let cycle: u64 = std::env::var("CHIRAL_CRASH_CYCLE")
        .unwrap()
        .parse()
        .unwrap();
    let db = Db::open(
        &dir,
        Options {
            io_backend: backend_for(cycle),
            // Syncs come from the durable writers' group commits alone.
            fsync: FsyncPolicy::Never,
            log_segment_bytes: 64 * 1024,
            ..Options::default()
        },
    )
    .expect("the child opens the database");
    // Every cycle after the first finds these already (and is refused: fine).
    let _ = db.apply(Op::create_schema(Schema::new(
        "crashdoc",
        vec![
            FieldDef::new("id", FieldType::String { max_bytes: 16 }),
            FieldDef::new("v", FieldType::String { max_bytes: 32 }),
        ],
    )));
    let _ = db.apply(Op::create_collection(DOCS, "crashdoc", "id"));
    println!("open");
    std::thread::scope(|scope| {
        for thread in 0..WRITER_THREADS {
            let db = db.clone();
            scope.spawn(move || {
                for n in 0.. {
                    let key = format!("t{thread}-{}", n % KEYS_PER_THREAD);
                    let value = format!("{cycle}:{n}");
                    let batch = Batch::of(Op::set(&key, value.as_str()))
                        .with(Op::set(format!("mirror-{key}"), value.as_str()))
                        .with(Op::doc_set(DOCS, &key, [("v", value.as_str())]))
                        .with(Op::HashSet {
                            key: FIELDS.into(),
                            pairs: vec![(key.clone().into(), value.clone().into())],
                            only_if_absent: false,
                        });
                    db.write(batch, Ack::Durable).expect("durable write");
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ack {key} {value}").unwrap();
                    out.flush().unwrap();
                }
            });
        }
    });
}
