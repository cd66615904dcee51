//! Chiral's engine: a read-optimized key-value store.
//!
//! Readers look keys up in a `left_right` map without locks or waiting; one commit
//! thread applies every write, in atomic batches, and publishes once per group of
//! queued batches. Values are strings (bytes, integers, floats), lists, sets and
//! hashes; every key carries a version (the LSN of its last write) and an optional
//! absolute expiry time. Committed batches stream to subscribers in order.
//!
//! A database on disk ([`Db::open`]) logs every batch to a write-ahead log before it
//! is published, and keeps a snapshot (an rkyv archive, mapped) as the base under the
//! map: keys not changed since the snapshot are read from the file in place.
//!
//! ```
//! use chiral::{Ack, Batch, Db, Op, Options};
//!
//! let db = Db::open_in_memory(Options::default()).unwrap();
//! let reader = db.reader();
//! db.set(b"greeting", b"hello").unwrap();
//! assert_eq!(reader.get(b"greeting").unwrap().as_deref(), Some(&b"hello"[..]));
//!
//! // A batch is atomic: readers see both keys change together.
//! let batch = Batch::new().with(Op::incr_by("a", 1)).with(Op::incr_by("b", 1));
//! db.write(batch, Ack::Visible).unwrap();
//! assert_eq!(reader.get(b"a").unwrap(), reader.get(b"b").unwrap());
//! ```
//!
//! The map of the code: [`db`](Db) opens, recovers and writes; `commit` is the commit
//! thread (and `commit::snapshots` its snapshot bookkeeping); `staging` is its view of
//! unpublished writes; `ops` implements each operation; `overlay` is the left-right map
//! over the base; `swap` is the base swap and trim protocol; [`Reader`] reads; `wal`
//! is the write-ahead log (frames, codec, recovery, I/O backends, fault injection);
//! `snapshot` writes, builds and maps snapshots; `hash` is the seeded key hash they
//! share; `dir` names the data directory's files; `progress` reports long work;
//! `feed` is the change feed; `queue` and `ack` are the handoffs between threads (with
//! loom models, like `swap`).

mod ack;
mod byte_string;
mod clock;
mod collection;
mod commit;
mod db;
mod dir;
mod doc;
mod encoding;
mod entry;
mod entry_table;
mod error;
mod feed;
mod glob;
mod hash;
mod item;
mod item_scan;
mod op;
mod ops;
mod options;
mod overlay;
mod prefetch;
mod progress;
mod queue;
mod reader;
mod reclaim;
mod snapshot;
mod staging;
mod swap;
mod sync;
mod trie;
pub mod typed;
mod value;
mod wal;

pub use clock::{Clock, ManualClock, SystemClock};
pub use db::{Db, OpenError, PendingWrite, Receipt};
pub use doc::{
    Collection, Doc, DocError, Document, FieldDef, FieldRef, FieldType, FieldValue, MAX_NAME_BYTES,
    MAX_SCHEMA_FIELDS, Schema, decode_document, doc_key, encode_document,
};
pub use entry::{Lsn, Record};
pub use error::{OpError, WriteError};
pub use feed::{Change, ChangeBatch, FeedError, Subscription, Watch, WatchEvent};
pub use glob::glob_match;
pub use op::{
    Ack, Batch, Capture, Commit, End, ExpireCondition, Expiry, OnError, Op, Precondition, Reply,
    SetCondition,
};
pub use options::{FsyncPolicy, IoBackend, Limits, Options};
pub use reader::{ItemPage, PREFETCH_MAX_KEYS, ReadView, Reader, ScanFilter, ScanPage, Ttl};
pub use reclaim::LazyFreeStats;
/// The rkyv the typed tables archive with (derive with `#[rkyv(crate = chiral::rkyv)]`).
pub use rkyv;
pub use snapshot::{CompactionError, SnapshotError, SnapshotInfo};
pub use value::{
    ByteString, Hash, INT_TEXT_BYTES, Kind, List, Set, Value, format_float, int_text, parse_float,
    parse_int,
};
pub use wal::faults::Faults;
pub use wal::recover::RecoveryError;
