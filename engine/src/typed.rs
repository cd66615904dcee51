//! The typed Rust API: tables of the user's own rkyv types, made by [`schema!`](crate::schema).
//!
//! ```text
//! chiral::schema! {
//!     pub Accounts {
//!         accounts: <Username, Account>,
//!         files: <Uuid, FileMetadata>
//!     }
//! }
//! let db = Accounts::init("data.db")?;
//! db.accounts.insert(Username::from("parth"), account)?;
//! let view = db.accounts.get(&Username::from("parth"))?;   // the archived value, in place
//! db.transaction(|accounts, files| { /* reads see the transaction's own writes */ Ok(()) })?;
//! ```
//!
//! A table is a prefix of the key space (`name:`) whose keys and values are rkyv
//! archives of the user's types: keys compare by their archived bytes, values are read
//! in place (validated once, then borrowed from the database's own copy when it is
//! aligned), and everything goes through the log and snapshots like any value. A
//! transaction reads through the tables (recording each key's version) and buffers its
//! writes; at the end it commits them as one batch guarded by the versions it read, so
//! it applies atomically across tables or not at all, and a conflict with a
//! concurrent writer is retried or refused, as the caller chose ([`OnConflict`]).
//!
//! A schema value holds one engine [`Reader`] per table: it is `Send`, not `Sync`.
//! Clone it for each thread (clones share the database and make their own readers).

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use rkyv::api::high::{HighDeserializer, HighSerializer, HighValidator};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor::Error as RkyvError;
use rkyv::ser::allocator::ArenaHandle;
use rkyv::util::AlignedVec;
use thiserror::Error;

use crate::byte_string::INLINE_BYTES;
use crate::{
    Ack, Batch, Db, Lsn, Op, OpError, OpenError, Precondition, Reader, Record, ScanFilter,
    WriteError,
};

/// Why a typed table operation failed.
#[derive(Debug, Error)]
pub enum TableError {
    /// The database could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// A write was refused.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// A read failed (a damaged snapshot).
    #[error(transparent)]
    Read(#[from] OpError),
    /// A key or value could not be archived.
    #[error("archiving a {what} failed: {reason}")]
    Encode {
        /// Key or value.
        what: &'static str,
        /// rkyv's reason.
        reason: String,
    },
    /// Stored bytes are not a valid archive of the table's type (the table was
    /// written with another type, or the data is damaged).
    #[error("the stored {what} of table {table} is not a valid archive of its type: {reason}")]
    Decode {
        /// The table.
        table: &'static str,
        /// Key or value.
        what: &'static str,
        /// rkyv's reason.
        reason: String,
    },
    /// A concurrent writer changed what the transaction read, on every attempt
    /// allowed; nothing of it was applied.
    #[error(
        "the transaction conflicted with a concurrent writer {attempts} time(s); nothing was applied"
    )]
    Conflict {
        /// How many times it ran.
        attempts: u32,
    },
}

/// What a transaction does when a concurrent writer changed a key it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    /// Run the closure again on the new state, at most this many times in all.
    Retry {
        /// Runs at most (at least 1).
        max_attempts: u32,
    },
    /// Give up at once with [`TableError::Conflict`].
    Refuse,
}

impl Default for OnConflict {
    fn default() -> Self {
        OnConflict::Retry { max_attempts: 100 }
    }
}

impl OnConflict {
    /// Whether a transaction that ran `attempts` times may run again.
    pub fn may_retry(self, attempts: u32) -> bool {
        match self {
            OnConflict::Retry { max_attempts } => attempts < max_attempts,
            OnConflict::Refuse => false,
        }
    }
}

/// Waits before a transaction runs again after its `attempts`th conflict: a yield at
/// first, then a sleep that doubles up to 1 ms, jittered, so writers fighting over
/// the same keys take turns instead of colliding again at once.
#[doc(hidden)]
pub fn back_off(attempts: u32) {
    if attempts < 4 {
        std::thread::yield_now();
        return;
    }
    let ceiling_us = (1u64 << attempts.min(10)).min(1000);
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| u64::from(since.subsec_nanos()));
    let sleep_us = ceiling_us / 2 + jitter % (ceiling_us / 2 + 1);
    std::thread::sleep(std::time::Duration::from_micros(sleep_us));
}

/// A type a table can store: rkyv-archivable, validated on read, deserializable.
/// Every type with `#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]`
/// is one.
pub trait Stored: Sized + rkyv::Archive {
    /// The archive's bytes.
    fn encode(&self) -> Result<AlignedVec, RkyvError>;
    /// The archived value in `bytes` (aligned), validated.
    fn view(bytes: &[u8]) -> Result<&Self::Archived, RkyvError>;
    /// The value in `bytes` (aligned), validated and deserialized.
    fn decode(bytes: &[u8]) -> Result<Self, RkyvError>;
}

impl<T> Stored for T
where
    T: rkyv::Archive
        + for<'a> rkyv::Serialize<HighSerializer<AlignedVec, ArenaHandle<'a>, RkyvError>>,
    T::Archived: for<'a> CheckBytes<HighValidator<'a, RkyvError>>
        + rkyv::Deserialize<T, HighDeserializer<RkyvError>>,
{
    fn encode(&self) -> Result<AlignedVec, RkyvError> {
        rkyv::to_bytes::<RkyvError>(self)
    }

    fn view(bytes: &[u8]) -> Result<&T::Archived, RkyvError> {
        rkyv::access::<T::Archived, RkyvError>(bytes)
    }

    fn decode(bytes: &[u8]) -> Result<T, RkyvError> {
        rkyv::deserialize::<T, RkyvError>(T::view(bytes)?)
    }
}

/// The alignment rkyv archives are written at (`AlignedVec`'s).
const ARCHIVE_ALIGN: usize = AlignedVec::<16>::ALIGNMENT;

/// A table: keys of type `K`, values of type `V`.
pub struct Table<K, V> {
    db: Arc<Db>,
    reader: Reader,
    name: &'static str,
    /// `name:`, the prefix of the table's keys.
    prefix: Box<[u8]>,
    types: PhantomData<fn() -> (K, V)>,
}

/// A value read from a table: the archived value, in place where the database's copy
/// is aligned (else in an aligned copy: always for a value of at most 38 bytes, which
/// the database keeps inline). It pins only this value, never the database.
pub struct View<V: Stored> {
    bytes: ViewBytes,
    types: PhantomData<fn() -> V>,
}

enum ViewBytes {
    /// The database's own record, shared.
    Record(Record),
    /// An aligned copy of a short value, which the record keeps inline (unaligned):
    /// copying its few bytes costs less than an allocation.
    Short(ShortCopy),
    /// An aligned copy.
    Copy(AlignedVec),
}

/// Room for a short value at rkyv's alignment.
#[repr(C, align(16))]
struct ShortCopy {
    bytes: [u8; INLINE_BYTES],
    len: u8,
}

const _: () = assert!(std::mem::align_of::<ShortCopy>() == ARCHIVE_ALIGN);

impl ViewBytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            ViewBytes::Record(record) => record
                .0
                .bytes()
                .unwrap_or_else(|| unreachable!("a view is made of a bytes value only")),
            ViewBytes::Short(short) => &short.bytes[..usize::from(short.len)],
            ViewBytes::Copy(copy) => copy,
        }
    }
}

impl<V: Stored> View<V> {
    /// Validates `bytes` as an archive of `V`, in place if aligned.
    fn new(record: Record, table: &'static str) -> Result<View<V>, TableError> {
        let Some(stored) = record.0.bytes() else {
            return Err(decode_error(
                table,
                "value",
                "the key holds another kind of value",
            ));
        };
        let bytes = if (stored.as_ptr() as usize).is_multiple_of(ARCHIVE_ALIGN) {
            ViewBytes::Record(record)
        } else if stored.len() <= INLINE_BYTES {
            let mut short = ShortCopy {
                bytes: [0; INLINE_BYTES],
                len: stored.len() as u8,
            };
            short.bytes[..stored.len()].copy_from_slice(stored);
            ViewBytes::Short(short)
        } else {
            let mut copy = AlignedVec::with_capacity(stored.len());
            copy.extend_from_slice(stored);
            ViewBytes::Copy(copy)
        };
        V::view(bytes.as_slice()).map_err(|error| decode_error(table, "value", error))?;
        Ok(View {
            bytes,
            types: PhantomData,
        })
    }

    /// Whether the view borrows the database's own copy (no copy was made; a copy is
    /// made only when the stored bytes are not aligned for rkyv).
    pub fn is_in_place(&self) -> bool {
        matches!(self.bytes, ViewBytes::Record(_))
    }

    /// The value, deserialized.
    pub fn deserialize(&self) -> Result<V, TableError>
    where
        V::Archived: rkyv::Deserialize<V, HighDeserializer<RkyvError>>,
    {
        rkyv::deserialize::<V, RkyvError>(&**self).map_err(|error| TableError::Encode {
            what: "value",
            reason: error.to_string(),
        })
    }
}

impl<V: Stored> std::ops::Deref for View<V> {
    type Target = V::Archived;

    fn deref(&self) -> &V::Archived {
        // SAFETY: `View::new` validated these exact bytes as an archive of `V` (with
        // bytecheck), and they never change: a record is immutable once built and
        // the copy is owned by the view and never written after validation.
        unsafe { rkyv::access_unchecked::<V::Archived>(self.bytes.as_slice()) }
    }
}

fn decode_error(table: &'static str, what: &'static str, reason: impl ToString) -> TableError {
    TableError::Decode {
        table,
        what,
        reason: reason.to_string(),
    }
}

fn encode<T: Stored>(value: &T, what: &'static str) -> Result<AlignedVec, TableError> {
    value.encode().map_err(|error| TableError::Encode {
        what,
        reason: error.to_string(),
    })
}

/// `bytes` copied to an aligned buffer (a key's bytes sit anywhere inside the key).
fn aligned(bytes: &[u8]) -> AlignedVec {
    let mut copy = AlignedVec::with_capacity(bytes.len());
    copy.extend_from_slice(bytes);
    copy
}

impl<K: Stored, V: Stored> Table<K, V> {
    /// The table `name` of `db`.
    pub fn new(db: &Arc<Db>, name: &'static str) -> Self {
        Table {
            db: Arc::clone(db),
            reader: db.reader(),
            name,
            prefix: [name.as_bytes(), b":"].concat().into_boxed_slice(),
            types: PhantomData,
        }
    }

    /// The table's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The engine key of `key`.
    fn key_of(&self, key: &K) -> Result<Vec<u8>, TableError> {
        let archived = encode(key, "key")?;
        Ok([&self.prefix[..], &archived[..]].concat())
    }

    /// Inserts or replaces `key`'s value; visible to every reader when it returns.
    pub fn insert(&self, key: K, value: V) -> Result<(), TableError> {
        let op = Op::set(self.key_of(&key)?, encode(&value, "value")?.to_vec());
        self.db.apply(op)?;
        Ok(())
    }

    /// `key`'s value, archived, read in place.
    pub fn get(&self, key: &K) -> Result<Option<View<V>>, TableError> {
        match self.reader.record(&self.key_of(key)?)? {
            Some(record) => View::new(record, self.name).map(Some),
            None => Ok(None),
        }
    }

    /// `key`'s value, deserialized.
    pub fn get_owned(&self, key: &K) -> Result<Option<V>, TableError> {
        Ok(self
            .get_versioned(&self.key_of(key)?)?
            .map(|(value, _)| value))
    }

    /// The value and version stored under the engine key `key`.
    fn get_versioned(&self, key: &[u8]) -> Result<Option<(V, Lsn)>, TableError> {
        let Some(record) = self.reader.record(key)? else {
            return Ok(None);
        };
        let Some(bytes) = record.0.bytes() else {
            return Err(decode_error(
                self.name,
                "value",
                "the key holds another kind of value",
            ));
        };
        let value =
            V::decode(&aligned(bytes)).map_err(|error| decode_error(self.name, "value", error))?;
        Ok(Some((value, record.version())))
    }

    /// Removes `key`; whether it was there.
    pub fn remove(&self, key: &K) -> Result<bool, TableError> {
        Ok(self.db.delete(&self.key_of(key)?)?)
    }

    /// Every key and value, deserialized, a page at a time (keys present for the
    /// whole iteration come exactly once; order is the engine's hash order).
    pub fn iter(&self) -> Iter<'_, K, V> {
        let mut pattern = self.prefix.to_vec();
        pattern.push(b'*');
        Iter {
            table: self,
            pattern,
            cursor: 0,
            page: Vec::new().into_iter(),
            done: false,
        }
    }
}

/// The items of [`Table::iter`].
pub struct Iter<'t, K, V> {
    table: &'t Table<K, V>,
    pattern: Vec<u8>,
    cursor: u64,
    page: std::vec::IntoIter<Box<[u8]>>,
    done: bool,
}

/// Keys a table iteration asks the engine for at a time.
const ITER_PAGE_KEYS: usize = 256;

impl<K: Stored, V: Stored> Iterator for Iter<'_, K, V> {
    type Item = Result<(K, V), TableError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(key) = self.page.next() {
                let table = self.table;
                match table.get_versioned(&key) {
                    // Removed since the page was read.
                    Ok(None) => continue,
                    Ok(Some((value, _))) => {
                        let decoded = K::decode(&aligned(&key[table.prefix.len()..]))
                            .map_err(|error| decode_error(table.name, "key", error));
                        return Some(decoded.map(|key| (key, value)));
                    }
                    Err(error) => return Some(Err(error)),
                }
            }
            if self.done {
                return None;
            }
            let filter = ScanFilter {
                pattern: Some(&self.pattern),
                kind: Some(crate::Kind::String),
            };
            match self.table.reader.scan(self.cursor, ITER_PAGE_KEYS, filter) {
                Ok(page) => {
                    self.cursor = page.cursor;
                    self.done = page.cursor == 0;
                    self.page = page.keys.into_iter();
                }
                Err(error) => {
                    self.done = true;
                    return Some(Err(error.into()));
                }
            }
        }
    }
}

/// A table inside a transaction: reads see the transaction's own writes; writes are
/// buffered until the transaction commits.
pub struct TxTable<'t, K, V> {
    table: &'t Table<K, V>,
    /// The version each key read had (0: absent), checked at commit.
    reads: HashMap<Vec<u8>, Lsn>,
    /// Buffered writes: the new value's archive, or `None` for a removal.
    writes: HashMap<Vec<u8>, Option<AlignedVec>>,
}

impl<'t, K: Stored, V: Stored> TxTable<'t, K, V> {
    /// A transaction's view of `table`.
    pub fn new(table: &'t Table<K, V>) -> Self {
        TxTable {
            table,
            reads: HashMap::new(),
            writes: HashMap::new(),
        }
    }

    /// `key`'s value as the transaction sees it.
    pub fn get(&mut self, key: &K) -> Result<Option<V>, TableError> {
        let key = self.table.key_of(key)?;
        if let Some(write) = self.writes.get(&key) {
            return match write {
                Some(bytes) => V::decode(bytes)
                    .map(Some)
                    .map_err(|error| decode_error(self.table.name, "value", error)),
                None => Ok(None),
            };
        }
        let found = self.table.get_versioned(&key)?;
        let version = found.as_ref().map_or(0, |(_, version)| *version);
        self.reads.entry(key).or_insert(version);
        Ok(found.map(|(value, _)| value))
    }

    /// Inserts or replaces `key`'s value when the transaction commits.
    pub fn insert(&mut self, key: K, value: V) -> Result<(), TableError> {
        let key = self.table.key_of(&key)?;
        self.writes.insert(key, Some(encode(&value, "value")?));
        Ok(())
    }

    /// Removes `key` when the transaction commits; whether it is there now.
    pub fn remove(&mut self, key: &K) -> Result<bool, TableError> {
        let existed = self.get(key)?.is_some();
        self.writes.insert(self.table.key_of(key)?, None);
        Ok(existed)
    }

    /// Adds the transaction's reads (as version preconditions) and writes to `batch`.
    pub fn add_to(self, batch: &mut Batch) {
        for (key, version) in self.reads {
            batch.push_precondition(Precondition::Version {
                key: key.into(),
                version,
            });
        }
        for (key, write) in self.writes {
            batch.push(match write {
                Some(bytes) => Op::set(key, bytes.to_vec()),
                None => Op::delete(key),
            });
        }
    }
}

/// Commits a transaction's batch: `Conflict` if a key it read changed.
pub fn commit(db: &Db, batch: Batch, attempts: u32) -> Result<(), TableError> {
    match db.write(batch, Ack::Visible) {
        Ok(_) => Ok(()),
        Err(WriteError::PreconditionFailed { .. }) => Err(TableError::Conflict { attempts }),
        Err(error) => Err(error.into()),
    }
}

/// Makes a struct of typed tables over one database, with `init`, `in_memory` and
/// `transaction` (see the [module](crate::typed) documentation).
///
/// ```
/// use chiral::rkyv::{Archive, Deserialize, Serialize};
///
/// #[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
/// #[rkyv(crate = chiral::rkyv)]
/// struct Account { balance: u64 }
///
/// chiral::schema! {
///     Bank { accounts: <String, Account> }
/// }
///
/// let bank = Bank::in_memory().unwrap();
/// bank.accounts.insert("ann".into(), Account { balance: 10 }).unwrap();
/// let moved: Result<(), chiral::typed::TableError> = bank.transaction(|accounts| {
///     let mut ann = accounts.get(&"ann".to_string())?.unwrap();
///     ann.balance -= 4;
///     accounts.insert("ann".into(), ann)?;
///     accounts.insert("bob".into(), Account { balance: 4 })?;
///     Ok(())
/// });
/// moved.unwrap();
/// let bob = bank.accounts.get(&"bob".to_string()).unwrap().unwrap();
/// assert_eq!(bob.balance, 4); // read in place from the archived value
/// ```
#[macro_export]
macro_rules! schema {
    ($(#[$meta:meta])* $vis:vis $name:ident { $( $table:ident : <$key:ty, $value:ty> ),+ $(,)? }) => {
        $(#[$meta])*
        $vis struct $name {
            db: ::std::sync::Arc<$crate::Db>,
            $(
                #[doc = concat!("The table `", stringify!($table), "`.")]
                pub $table: $crate::typed::Table<$key, $value>,
            )+
        }

        impl $name {
            /// Opens (or creates) the database in `dir`, recovering what it holds.
            pub fn init(dir: impl AsRef<::std::path::Path>) -> Result<Self, $crate::typed::TableError> {
                Self::init_with(dir, $crate::Options::default())
            }

            /// Opens (or creates) the database in `dir` with `options`.
            pub fn init_with(
                dir: impl AsRef<::std::path::Path>,
                options: $crate::Options,
            ) -> Result<Self, $crate::typed::TableError> {
                Ok(Self::over(::std::sync::Arc::new($crate::Db::open(dir, options)?)))
            }

            /// A database in memory.
            pub fn in_memory() -> Result<Self, $crate::typed::TableError> {
                let db = $crate::Db::open_in_memory($crate::Options::default())?;
                Ok(Self::over(::std::sync::Arc::new(db)))
            }

            fn over(db: ::std::sync::Arc<$crate::Db>) -> Self {
                $name {
                    $( $table: $crate::typed::Table::new(&db, stringify!($table)), )+
                    db,
                }
            }

            /// The database underneath.
            pub fn db(&self) -> &$crate::Db {
                &self.db
            }

            /// Runs `f` on every table as one atomic transaction: its reads see its own
            /// writes, and its writes become visible together when it returns `Ok`
            /// (an `Err` applies nothing). A conflict with a concurrent writer runs
            /// `f` again, up to [`$crate::typed::OnConflict::default`]'s limit.
            pub fn transaction<R, E, F>(&self, f: F) -> Result<R, E>
            where
                F: FnMut($( &mut $crate::typed::TxTable<'_, $key, $value> ),+) -> Result<R, E>,
                E: From<$crate::typed::TableError>,
            {
                self.transaction_with($crate::typed::OnConflict::default(), f)
            }

            /// [`Self::transaction`], choosing what a conflict does.
            pub fn transaction_with<R, E, F>(
                &self,
                on_conflict: $crate::typed::OnConflict,
                mut f: F,
            ) -> Result<R, E>
            where
                F: FnMut($( &mut $crate::typed::TxTable<'_, $key, $value> ),+) -> Result<R, E>,
                E: From<$crate::typed::TableError>,
            {
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    $( let mut $table = $crate::typed::TxTable::new(&self.$table); )+
                    let result = f($( &mut $table ),+)?;
                    let mut batch = $crate::Batch::new();
                    $( $table.add_to(&mut batch); )+
                    match $crate::typed::commit(&self.db, batch, attempts) {
                        Ok(()) => return Ok(result),
                        Err($crate::typed::TableError::Conflict { .. })
                            if on_conflict.may_retry(attempts) =>
                        {
                            $crate::typed::back_off(attempts);
                        }
                        Err(error) => return Err(error.into()),
                    }
                }
            }
        }

        impl Clone for $name {
            /// Another handle on the same database, with readers of its own (for
            /// another thread).
            fn clone(&self) -> Self {
                Self::over(::std::sync::Arc::clone(&self.db))
            }
        }
    };
}
