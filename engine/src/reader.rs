//! Reading: a [`Reader`] per thread, lock-free and wait-free.
//!
//! Every read enters the published left-right copy for as long as one lookup takes
//! (a guard held longer would stall the commit thread's next publish). Strings are
//! copied out under the guard; collections are persistent structures, so the guard
//! covers an O(1) clone and the real work (ranges, set algebra) runs after it. A
//! multi-key read (MGET, SINTER) takes one guard for all its keys, so it sees one
//! commit, never half of a batch.

use std::borrow::Cow;
use std::cell::Cell;
use std::sync::Arc;

use bytes::Bytes;
use left_right::{ReadGuard, ReadHandle, WriteHandle};

use crate::db::Shared;
use crate::doc::catalog::other_collection;
use crate::doc::codec as doc_codec;
use crate::doc::{Collection, DocError, Document, FieldRef, Schema, doc_key};
use crate::entry::Record;
use crate::error::OpError;
use crate::glob::glob_match;
use crate::hash::KeyHasher;
use crate::item_scan;
use crate::ops::{resolve_index, resolve_range, resolve_string_range};
use crate::overlay::{Found, Overlay, OverlayOp};
use crate::prefetch::Stage;
use crate::value::{Hash, Kind, Set, Value};

/// The most keys one [`Reader::prefetch`] fetches: more would evict each other
/// before they are read.
pub const PREFETCH_MAX_KEYS: usize = 32;

/// A thread's read handle on a database, from [`crate::Db::reader`].
///
/// `Send` but not `Sync`: give each thread its own (make them up front; they are
/// cheap). Reads see every write acknowledged as `Visible` before they start.
pub struct Reader {
    handle: ReadHandle<Overlay>,
    shared: Arc<Shared>,
    /// A reader over captured records owns its private map's write handle, which
    /// must outlive the read handle.
    _records: Option<WriteHandle<Overlay, OverlayOp>>,
}

/// A key's remaining time to live, as TTL/PTTL report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// The key does not exist (TTL answers -2).
    Missing,
    /// The key never expires (TTL answers -1).
    Persistent,
    /// The key expires in this many milliseconds.
    ExpiresInMs(u64),
}

/// One page of a scan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanPage {
    /// The keys of the page that passed the filters.
    pub keys: Vec<Box<[u8]>>,
    /// Pass this to the next call; 0 means the scan is complete.
    pub cursor: u64,
}

/// One page of a hash's or set's items (HSCAN, SSCAN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemPage<T> {
    /// The items of the page that passed the pattern.
    pub items: Vec<T>,
    /// Pass this to the next call; 0 means the scan is complete.
    pub cursor: u64,
}

/// What a scan keeps.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanFilter<'a> {
    /// Only keys matching this glob pattern.
    pub pattern: Option<&'a [u8]>,
    /// Only keys holding this type.
    pub kind: Option<Kind>,
}

/// A read view held open by [`Reader::pin`]: one commit, read in place.
pub struct ReadView<'r> {
    guard: ReadGuard<'r, Overlay>,
    shared: &'r Shared,
}

impl ReadView<'_> {
    fn view(&self) -> View<'_> {
        View {
            map: &self.guard,
            shared: self.shared,
            now_ms: Cell::new(None),
        }
    }

    /// GET: the string value of `key`, borrowed in place for byte strings (numbers
    /// are formatted); `WrongType` for collections.
    pub fn get(&self, key: &[u8]) -> Result<Option<Cow<'_, [u8]>>, OpError> {
        match self.view().get(key)? {
            Some(found) => found.str_form().map(Some).ok_or(OpError::WrongType),
            None => Ok(None),
        }
    }

    /// The key's version (the LSN of its last write); 0 if it does not exist.
    pub fn version(&self, key: &[u8]) -> Result<u64, OpError> {
        Ok(self.view().get(key)?.map_or(0, |found| found.version()))
    }
}

/// The published map inside one guard, with expiry applied.
struct View<'g> {
    map: &'g Overlay,
    shared: &'g Shared,
    /// The clock is read at most once per view, and only if an entry can expire.
    now_ms: Cell<Option<u64>>,
}

impl<'g> View<'g> {
    fn now_ms(&self) -> u64 {
        if let Some(now) = self.now_ms.get() {
            return now;
        }
        let now = self.shared.clock.now_ms();
        self.now_ms.set(Some(now));
        now
    }

    fn live(&self, found: &Found<'_>) -> bool {
        found.expires_at_ms().is_none() || !found.is_expired(self.now_ms())
    }

    fn get(&self, key: &[u8]) -> Result<Option<Found<'g>>, OpError> {
        Ok(self.map.get(key)?.filter(|found| self.live(found)))
    }

    /// The key's state if it holds `kind`; `WrongType` if another kind.
    fn get_kind(&self, key: &[u8], kind: Kind) -> Result<Option<Found<'g>>, OpError> {
        match self.get(key)? {
            Some(found) if found.kind() != kind => Err(OpError::WrongType),
            found => Ok(found),
        }
    }
}

impl Reader {
    pub(crate) fn new(handle: ReadHandle<Overlay>, shared: Arc<Shared>) -> Self {
        Reader {
            handle,
            shared,
            _records: None,
        }
    }

    /// A reader of `records` alone, as a [`crate::Batch::capture`] saw them: every
    /// other key reads as absent, and nothing written later shows. Reads of the
    /// whole keyspace (scans, counts) and of documents see only these records too.
    pub fn of_records(&self, records: impl IntoIterator<Item = Record>) -> Reader {
        let hasher = self.view(|view| view.map.hasher());
        let (mut writer, handle) =
            left_right::new_from_empty::<Overlay, OverlayOp>(Overlay::new(hasher, None, false));
        for record in records {
            writer.append(OverlayOp::Put(record.0));
        }
        writer.publish();
        Reader {
            handle,
            shared: Arc::clone(&self.shared),
            _records: Some(writer),
        }
    }

    /// Runs `f` on the published map, inside one guard.
    fn view<R>(&self, f: impl FnOnce(&View<'_>) -> R) -> R {
        let guard = self
            .handle
            .enter()
            .expect("the write handle lives as long as the shared state this reader holds");
        f(&View {
            map: &guard,
            shared: &self.shared,
            now_ms: Cell::new(None),
        })
    }

    /// A collection value out of the map, checking its kind: a clone from the
    /// overlay (O(1)), a copy from the base.
    fn collection(&self, key: &[u8], kind: Kind) -> Result<Option<Value>, OpError> {
        self.view(|view| match view.get_kind(key, kind)? {
            Some(found) => Ok(Some(found.value()?.into_owned())),
            None => Ok(None),
        })
    }

    /// `f` of the key's state if it holds `kind`, `absent` if there is no such key;
    /// `WrongType` if another kind.
    fn with_kind<R>(
        &self,
        key: &[u8],
        kind: Kind,
        absent: R,
        f: impl FnOnce(Found<'_>) -> Result<R, OpError>,
    ) -> Result<R, OpError> {
        self.view(|view| match view.get_kind(key, kind)? {
            Some(found) => f(found),
            None => Ok(absent),
        })
    }

    /// GET: the string value of `key`; `WrongType` for collections.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, OpError> {
        self.get_with(key, <[u8]>::to_vec)
    }

    /// A hint that `keys` are about to be looked up one by one (a pipeline): starts
    /// loading what their lookups read first, all at once, so that the cache misses
    /// of the lookups overlap instead of following one another. Changes nothing and
    /// answers nothing; only the first [`PREFETCH_MAX_KEYS`] keys are fetched.
    pub fn prefetch<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) {
        let mut keys = keys.into_iter().peekable();
        if keys.peek().is_none() {
            return;
        }
        let mut hashes = [0u64; PREFETCH_MAX_KEYS];
        // Whether the overlay holds each key (so the base need not be fetched).
        let mut held = [false; PREFETCH_MAX_KEYS];
        self.view(|view| {
            let mut count = 0;
            for (slot, key) in hashes.iter_mut().zip(keys) {
                *slot = view.map.hash(key);
                view.map.prefetch(*slot, Stage::Bucket, false);
                count += 1;
            }
            // By now the first buckets have arrived: their entries are next, then
            // (in the base) the bytes those entries point to.
            for (hash, held) in hashes[..count].iter().zip(&mut held) {
                *held = view.map.prefetch(*hash, Stage::Entries, false);
            }
            for (hash, held) in hashes[..count].iter().zip(&held) {
                view.map.prefetch(*hash, Stage::Keys, *held);
            }
        });
    }

    /// Calls `f` with the string value of `key`, in place (no copy). `f` runs inside
    /// the read guard: keep it short, it delays the next publish.
    pub fn get_with<R>(
        &self,
        key: &[u8],
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>, OpError> {
        self.view(|view| match view.get(key)? {
            Some(found) => found.with_str(f).map(Some).ok_or(OpError::WrongType),
            None => Ok(None),
        })
    }

    /// Holds the published map open: every read through the returned view sees the
    /// same commit, and string values are borrowed in place (from the overlay, or
    /// from the mapped snapshot) for as long as the view lives.
    ///
    /// While a view is open the commit thread cannot publish: writes queue up and
    /// writers waiting for visibility wait for the view to close, as a long read
    /// transaction does in LMDB. Keep views short, and never wait for a write of this
    /// database on a thread that holds one (it would wait forever).
    pub fn pin(&self) -> ReadView<'_> {
        ReadView {
            guard: self
                .handle
                .enter()
                .expect("the write handle lives as long as the shared state this reader holds"),
            shared: &self.shared,
        }
    }

    /// The key's whole record (value, version, expiry), sharing its memory.
    pub fn record(&self, key: &[u8]) -> Result<Option<Record>, OpError> {
        self.view(|view| {
            view.get(key)?
                .map(|found| Ok(Record(found.to_entry()?)))
                .transpose()
        })
    }

    /// The key's version (the LSN of its last write); 0 if it does not exist.
    pub fn version(&self, key: &[u8]) -> Result<u64, OpError> {
        self.view(|view| Ok(view.get(key)?.map_or(0, |entry| entry.version())))
    }

    /// MGET: each key's string value; `None` for a missing key or a collection.
    pub fn mget<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        self.view(|view| {
            keys.iter()
                .map(|key| {
                    Ok(view
                        .get(key.as_ref())?
                        .and_then(|found| found.with_str(<[u8]>::to_vec)))
                })
                .collect()
        })
    }

    /// EXISTS for one key.
    pub fn exists(&self, key: &[u8]) -> Result<bool, OpError> {
        self.view(|view| Ok(view.get(key)?.is_some()))
    }

    /// TYPE: the key's type, `None` if it does not exist.
    pub fn kind(&self, key: &[u8]) -> Result<Option<Kind>, OpError> {
        self.view(|view| Ok(view.get(key)?.map(|found| found.kind())))
    }

    /// PTTL: the key's remaining time to live.
    pub fn ttl(&self, key: &[u8]) -> Result<Ttl, OpError> {
        self.view(|view| {
            Ok(match view.get(key)? {
                None => Ttl::Missing,
                Some(entry) => match entry.expires_at_ms() {
                    None => Ttl::Persistent,
                    Some(at) => Ttl::ExpiresInMs(at.get().saturating_sub(view.now_ms())),
                },
            })
        })
    }

    /// STRLEN: the length of the string value (0 if missing).
    pub fn strlen(&self, key: &[u8]) -> Result<usize, OpError> {
        Ok(self.get_with(key, <[u8]>::len)?.unwrap_or(0))
    }

    /// GETRANGE: bytes `start..=end` of the string (negative indexes count from the end).
    pub fn get_range(&self, key: &[u8], start: i64, end: i64) -> Result<Vec<u8>, OpError> {
        let found = self.get_with(key, |text| {
            match resolve_string_range(text.len(), start, end) {
                Some(range) => text[range].to_vec(),
                None => Vec::new(),
            }
        })?;
        Ok(found.unwrap_or_default())
    }

    /// DBSIZE: the number of keys, counting expired keys the commit thread has not
    /// swept yet (as Redis does).
    pub fn len(&self) -> usize {
        self.view(|view| view.map.len())
    }

    /// Whether the database holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// SCAN: one page of keys in hash order. Start with cursor 0; the scan is complete
    /// when the returned cursor is 0. Every key that exists for the whole scan is
    /// returned exactly once; keys written during it may or may not be. A page visits
    /// about `count` keys, so a filtered page can be short or empty before the end.
    pub fn scan(
        &self,
        cursor: u64,
        count: usize,
        filter: ScanFilter<'_>,
    ) -> Result<ScanPage, OpError> {
        let page = self.view(|view| {
            view.map.scan(cursor, count, |found| {
                view.live(&found)
                    && filter.kind.is_none_or(|kind| found.kind() == kind)
                    && filter
                        .pattern
                        .is_none_or(|pattern| glob_match(pattern, found.key()))
            })
        })?;
        Ok(ScanPage {
            keys: page.keys,
            cursor: page.next_cursor,
        })
    }

    /// SSCAN: one page of the set's members. Start with cursor 0; the scan is
    /// complete when the returned cursor is 0. Every member present for the whole
    /// scan comes exactly once; a page holds at least `count` members (sets of up to
    /// 128 come whole, and a large set takes at most about 64 pages) before `pattern`
    /// filters them.
    pub fn sscan(
        &self,
        key: &[u8],
        cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
    ) -> Result<ItemPage<Bytes>, OpError> {
        let members = |value: Value| match value {
            Value::Set(set) => set.into_iter().collect(),
            _ => Vec::new(),
        };
        self.item_page(key, Kind::Set, (cursor, count, pattern), members, |m| m)
    }

    /// HSCAN: one page of the hash's field/value pairs, paged as [`Reader::sscan`]
    /// pages members (by the fields' hashes); `pattern` matches fields.
    pub fn hscan(
        &self,
        key: &[u8],
        cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
    ) -> Result<ItemPage<(Bytes, Bytes)>, OpError> {
        let pairs = |value: Value| match value {
            Value::Hash(hash) => hash.into_iter().collect(),
            _ => Vec::new(),
        };
        self.item_page(key, Kind::Hash, (cursor, count, pattern), pairs, |(f, _)| f)
    }

    /// One page of the items of the `kind` collection under `key`: `items` lists
    /// them out of its value (a clone from the overlay, a copy from the base), and
    /// `name` gives the bytes that order the scan and that the pattern matches.
    fn item_page<T>(
        &self,
        key: &[u8],
        kind: Kind,
        (cursor, count, pattern): (u64, usize, Option<&[u8]>),
        items: impl FnOnce(Value) -> Vec<T>,
        name: impl Fn(&T) -> &[u8],
    ) -> Result<ItemPage<T>, OpError> {
        let found: Option<(Value, KeyHasher)> =
            self.view(|view| match view.get_kind(key, kind)? {
                Some(found) => Ok(Some((found.value()?.into_owned(), view.map.hasher()))),
                None => Ok::<_, OpError>(None),
            })?;
        let Some((value, hasher)) = found else {
            return Ok(ItemPage {
                items: Vec::new(),
                cursor: 0,
            });
        };
        let items = items(value);
        let total = items.len();
        let hashed = items
            .into_iter()
            .map(|item| (hasher.hash_one(name(&item)), item))
            .collect();
        let (mut items, cursor) = item_scan::page(hashed, total, cursor, count);
        if let Some(pattern) = pattern {
            items.retain(|item| glob_match(pattern, name(item)));
        }
        Ok(ItemPage { items, cursor })
    }

    // ----- documents -----

    /// DOC.GET: the document `id` of `collection`, with every field of its schema
    /// (`fields` empty) or the fields named, in that order. Fields are decoded in
    /// place (from the overlay or the mapped snapshot) and only those asked for are
    /// copied out. `None` if there is no such document.
    pub fn document(
        &self,
        collection: &str,
        id: &[u8],
        fields: &[&str],
    ) -> Result<Option<Document>, OpError> {
        let key = doc_key(collection, id);
        self.view(|view| {
            let catalog = view.map.catalog();
            let (collection_id, info) = catalog.collection(collection)?;
            let schema = catalog.schema_at(info.schema);
            let wanted = if fields.is_empty() {
                (0..schema.fields.len()).collect()
            } else {
                fields
                    .iter()
                    .map(|name| {
                        schema
                            .field_index(name.as_bytes())
                            .ok_or_else(|| DocError::UnknownField {
                                field: (*name).into(),
                                schema: schema.name.clone(),
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?
            };
            let Some(found) = view.get(&key)? else {
                return Ok(None);
            };
            let (stored_in, data) = found.doc().ok_or(OpError::WrongType)?;
            if stored_in != collection_id {
                return Err(other_collection(catalog, stored_in).into());
            }
            let values = doc_codec::decode(schema, data)?;
            let key_field = &schema.fields[info.key_index];
            let id_value = FieldRef::parse(&key_field.name, key_field.ty, id)?;
            let fields = wanted
                .into_iter()
                .map(|index| {
                    let value = if index == info.key_index {
                        Some(id_value)
                    } else {
                        values[index]
                    };
                    (
                        schema.fields[index].name.clone(),
                        value.map(FieldRef::to_value),
                    )
                })
                .collect();
            Ok(Some(Document {
                version: found.version(),
                fields,
            }))
        })
    }

    /// DOC.SCAN: one page of the ids of `collection`'s documents, in hash order,
    /// with the guarantees of [`Reader::scan`].
    pub fn scan_documents(
        &self,
        collection: &str,
        cursor: u64,
        count: usize,
    ) -> Result<ScanPage, OpError> {
        let prefix_bytes = collection.len() + 1;
        let page = self.view(|view| {
            let (collection_id, _) = view.map.catalog().collection(collection)?;
            view.map.scan(cursor, count, |found| {
                view.live(&found)
                    && found
                        .doc()
                        .is_some_and(|(stored_in, _)| stored_in == collection_id)
                    && found.key().get(..prefix_bytes).is_some_and(|prefix| {
                        prefix.strip_suffix(b":") == Some(collection.as_bytes())
                    })
            })
        })?;
        Ok(ScanPage {
            keys: page
                .keys
                .into_iter()
                .map(|key| key[prefix_bytes..].into())
                .collect(),
            cursor: page.next_cursor,
        })
    }

    /// Every schema, in the order they were created.
    pub fn schemas(&self) -> Vec<Schema> {
        let catalog = self.view(|view| Arc::clone(view.map.catalog()));
        catalog
            .schemas()
            .iter()
            .map(|schema| Schema::clone(schema))
            .collect()
    }

    /// The schema called `name`.
    pub fn schema(&self, name: &str) -> Result<Schema, OpError> {
        let catalog = self.view(|view| Arc::clone(view.map.catalog()));
        Ok(Schema::clone(catalog.schema(name)?.1))
    }

    /// Every collection, in the order they were created.
    pub fn collections(&self) -> Vec<Collection> {
        let catalog = self.view(|view| Arc::clone(view.map.catalog()));
        catalog.collections().map(|info| info.def.clone()).collect()
    }

    // ----- lists -----

    /// LLEN.
    pub fn llen(&self, key: &[u8]) -> Result<usize, OpError> {
        self.with_kind(key, Kind::List, 0, |list| Ok(list.len()))
    }

    /// LRANGE: elements `start..=stop` (negative indexes count from the tail).
    pub fn lrange(&self, key: &[u8], start: i64, stop: i64) -> Result<Vec<Bytes>, OpError> {
        self.with_kind(key, Kind::List, Vec::new(), |list| {
            match resolve_range(list.len(), start, stop) {
                Some(range) => list.list_range(range),
                None => Ok(Vec::new()),
            }
        })
    }

    /// LINDEX.
    pub fn lindex(&self, key: &[u8], index: i64) -> Result<Option<Bytes>, OpError> {
        self.with_kind(key, Kind::List, None, |list| {
            match resolve_index(list.len(), index) {
                Some(index) => list.list_get(index),
                None => Ok(None),
            }
        })
    }

    // ----- sets -----

    fn set(&self, key: &[u8]) -> Result<Option<Box<Set>>, OpError> {
        Ok(match self.collection(key, Kind::Set)? {
            Some(Value::Set(set)) => Some(set),
            _ => None,
        })
    }

    /// SMEMBERS.
    pub fn smembers(&self, key: &[u8]) -> Result<Vec<Bytes>, OpError> {
        Ok(self
            .set(key)?
            .map(|set| set.into_iter().collect())
            .unwrap_or_default())
    }

    /// SISMEMBER.
    pub fn sismember(&self, key: &[u8], member: &[u8]) -> Result<bool, OpError> {
        self.with_kind(key, Kind::Set, false, |set| set.set_contains(member))
    }

    /// SMISMEMBER.
    pub fn smismember<M: AsRef<[u8]>>(
        &self,
        key: &[u8],
        members: &[M],
    ) -> Result<Vec<bool>, OpError> {
        self.with_kind(key, Kind::Set, vec![false; members.len()], |set| {
            members
                .iter()
                .map(|member| set.set_contains(member.as_ref()))
                .collect()
        })
    }

    /// SCARD.
    pub fn scard(&self, key: &[u8]) -> Result<usize, OpError> {
        self.with_kind(key, Kind::Set, 0, |set| Ok(set.len()))
    }

    /// The sets under `keys`, all from one commit (a missing key is an empty set).
    fn sets<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Set>, OpError> {
        self.view(|view| {
            keys.iter()
                .map(|key| match view.get_kind(key.as_ref(), Kind::Set)? {
                    Some(found) => match found.value()?.as_ref() {
                        Value::Set(set) => Ok(Set::clone(set)),
                        _ => Ok(Set::new()),
                    },
                    None => Ok(Set::new()),
                })
                .collect()
        })
    }

    /// SINTER.
    pub fn sinter<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Bytes>, OpError> {
        let mut sets = self.sets(keys)?;
        sets.sort_by_key(Set::len);
        let mut sets = sets.into_iter();
        let Some(smallest) = sets.next() else {
            return Ok(Vec::new());
        };
        let others: Vec<Set> = sets.collect();
        Ok(smallest
            .into_iter()
            .filter(|member| others.iter().all(|set| set.contains(member)))
            .collect())
    }

    /// SUNION.
    pub fn sunion<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Bytes>, OpError> {
        let mut union = Set::new();
        for member in self.sets(keys)?.into_iter().flatten() {
            union.insert(member);
        }
        Ok(union.into_iter().collect())
    }

    /// SDIFF: members of the first set in none of the others.
    pub fn sdiff<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Bytes>, OpError> {
        let mut sets = self.sets(keys)?.into_iter();
        let Some(first) = sets.next() else {
            return Ok(Vec::new());
        };
        let others: Vec<Set> = sets.collect();
        Ok(first
            .into_iter()
            .filter(|member| !others.iter().any(|set| set.contains(member)))
            .collect())
    }

    // ----- hashes -----

    fn hash(&self, key: &[u8]) -> Result<Option<Box<Hash>>, OpError> {
        Ok(match self.collection(key, Kind::Hash)? {
            Some(Value::Hash(hash)) => Some(hash),
            _ => None,
        })
    }

    /// HGET.
    pub fn hget(&self, key: &[u8], field: &[u8]) -> Result<Option<Bytes>, OpError> {
        self.with_kind(key, Kind::Hash, None, |hash| hash.hash_get(field))
    }

    /// HMGET.
    pub fn hmget<F: AsRef<[u8]>>(
        &self,
        key: &[u8],
        fields: &[F],
    ) -> Result<Vec<Option<Bytes>>, OpError> {
        self.with_kind(key, Kind::Hash, vec![None; fields.len()], |hash| {
            fields
                .iter()
                .map(|field| hash.hash_get(field.as_ref()))
                .collect()
        })
    }

    /// HGETALL: field/value pairs.
    pub fn hgetall(&self, key: &[u8]) -> Result<Vec<(Bytes, Bytes)>, OpError> {
        Ok(self
            .hash(key)?
            .map(|hash| hash.into_iter().collect())
            .unwrap_or_default())
    }

    /// HKEYS.
    pub fn hkeys(&self, key: &[u8]) -> Result<Vec<Bytes>, OpError> {
        Ok(self
            .hash(key)?
            .map(|hash| hash.into_iter().map(|(field, _)| field).collect())
            .unwrap_or_default())
    }

    /// HVALS.
    pub fn hvals(&self, key: &[u8]) -> Result<Vec<Bytes>, OpError> {
        Ok(self
            .hash(key)?
            .map(|hash| hash.into_iter().map(|(_, value)| value).collect())
            .unwrap_or_default())
    }

    /// HLEN.
    pub fn hlen(&self, key: &[u8]) -> Result<usize, OpError> {
        self.with_kind(key, Kind::Hash, 0, |hash| Ok(hash.len()))
    }

    /// HEXISTS.
    pub fn hexists(&self, key: &[u8], field: &[u8]) -> Result<bool, OpError> {
        Ok(self.hget(key, field)?.is_some())
    }
}
