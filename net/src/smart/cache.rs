//! The smart client's local cache: a `left_right` map that application threads read
//! without locks, written under one mutex by the threads that learn something new
//! (the receive thread with pushes and replies, application threads with their own
//! writes).
//!
//! The rules that keep it honest live in [`CacheWriter`]:
//! - a key with local writes still in flight is served as written, whatever the
//!   server pushes meanwhile (those pushes predate the writes); when the last of its
//!   writes is answered the entry is dropped, so the next read fetches the key with
//!   its version and an older change still in the push stream can never hide it;
//! - otherwise a value replaces the cached one only if its version is newer;
//! - a read's reply is cached only if nothing invalidated the key while it was in
//!   flight;
//! - an entry is served only while it is fresh: confirmed (fetched, or covered by a
//!   sync) no longer than `max_staleness` ago, and after the client's last write
//!   sent around the cache.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use left_right::{Absorb, ReadHandle, ReadHandleFactory, WriteHandle};

use super::clock::Clock;

type Hasher = BuildHasherDefault<ahash::AHasher>;
type Map = HashMap<Bytes, Arc<Entry>, Hasher>;

/// What an entry costs beyond its key and value, for the byte bound.
const ENTRY_OVERHEAD_BYTES: usize = 96;

/// A cached key.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The value; `None` when the key does not exist.
    value: Option<Bytes>,
    /// The server's version of that value (0: not known, or the key is absent).
    version: u64,
    /// When the entry stops existing (the key's expiry), in clock nanoseconds.
    expires_at_ns: u64,
    /// When the server last confirmed it, in clock nanoseconds.
    confirmed_at_ns: u64,
    /// Written here and not yet answered by the server: served whatever the time.
    local: bool,
    /// Read since the evictor last passed (the CLOCK bit).
    used: AtomicBool,
}

impl Entry {
    fn size_bytes(&self, key: &Bytes) -> usize {
        key.len() + self.value.as_ref().map_or(0, Bytes::len) + ENTRY_OVERHEAD_BYTES
    }
}

/// An entry never expires.
pub(crate) const NEVER_NS: u64 = u64::MAX;

enum CacheOp {
    Put(Bytes, Arc<Entry>),
    Remove(Bytes),
}

/// One of the two copies `left_right` keeps.
#[derive(Default)]
struct Half(Map);

impl Absorb<CacheOp> for Half {
    fn absorb_first(&mut self, op: &mut CacheOp, _other: &Self) {
        match op {
            CacheOp::Put(key, entry) => {
                self.0.insert(key.clone(), Arc::clone(entry));
            }
            CacheOp::Remove(key) => {
                self.0.remove(key);
            }
        }
    }

    fn sync_with(&mut self, first: &Self) {
        self.0.clone_from(&first.0);
    }
}

/// Freshness shared by every reader: when the last sync was sent, and when the
/// client last wrote around the cache.
#[derive(Default)]
pub(crate) struct Freshness {
    /// The send time of the newest sync the server has answered, in clock ns.
    synced_at_ns: AtomicU64,
    /// The send time of the client's last write that bypassed the cache.
    barrier_ns: AtomicU64,
}

impl Freshness {
    /// The server has answered a sync sent at `sent_at_ns`.
    pub(crate) fn synced(&self, sent_at_ns: u64) {
        self.synced_at_ns.fetch_max(sent_at_ns, Ordering::AcqRel);
    }

    /// A write that the cache cannot apply was sent at `sent_at_ns`: nothing
    /// confirmed before it is served again.
    pub(crate) fn barrier(&self, sent_at_ns: u64) {
        self.barrier_ns.fetch_max(sent_at_ns, Ordering::AcqRel);
    }
}

/// What a lookup found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// A fresh entry: the value, or `None` for a key known not to exist.
    Hit(Option<Bytes>),
    /// Nothing servable: ask the server.
    Miss,
}

/// One application thread's read end.
pub(crate) struct CacheReader {
    handle: ReadHandle<Half>,
    freshness: Arc<Freshness>,
    clock: Clock,
    max_staleness_ns: u64,
}

impl CacheReader {
    /// The cached value of `key`, if it may be served now.
    pub(crate) fn get(&self, key: &[u8]) -> Lookup {
        let Some(copy) = self.handle.enter() else {
            return Lookup::Miss;
        };
        let Some(entry) = copy.0.get(key) else {
            return Lookup::Miss;
        };
        let now_ns = self.clock.now_ns();
        if !entry.local {
            let confirmed_ns = entry
                .confirmed_at_ns
                .max(self.freshness.synced_at_ns.load(Ordering::Acquire));
            if confirmed_ns < self.freshness.barrier_ns.load(Ordering::Acquire)
                || now_ns.saturating_sub(confirmed_ns) > self.max_staleness_ns
            {
                return Lookup::Miss;
            }
        }
        if now_ns >= entry.expires_at_ns {
            return Lookup::Hit(None);
        }
        if !entry.used.load(Ordering::Relaxed) {
            entry.used.store(true, Ordering::Relaxed);
        }
        Lookup::Hit(entry.value.clone())
    }
}

/// Makes read ends for new threads.
pub(crate) struct ReaderFactory {
    factory: ReadHandleFactory<Half>,
    freshness: Arc<Freshness>,
    clock: Clock,
    max_staleness_ns: u64,
}

impl ReaderFactory {
    pub(crate) fn reader(&self) -> CacheReader {
        CacheReader {
            handle: self.factory.handle(),
            freshness: Arc::clone(&self.freshness),
            clock: self.clock,
            max_staleness_ns: self.max_staleness_ns,
        }
    }
}

/// The cache's bounds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub(crate) max_keys: usize,
    pub(crate) max_bytes: usize,
}

/// A read of a key sent to the server and not answered yet.
#[derive(Default)]
struct InFlight {
    /// How many reads of the key are out.
    count: u32,
    /// Invalidated while out: its reply is not cached.
    tainted: bool,
}

/// The write end and its rules. One per client, behind a mutex.
pub(crate) struct CacheWriter {
    handle: WriteHandle<Half, CacheOp>,
    /// What the readers see, as of the last publish.
    entries: Map,
    /// Local writes in flight, per key.
    pending: HashMap<Bytes, u32, Hasher>,
    /// Reads in flight, per key.
    in_flight: HashMap<Bytes, InFlight, Hasher>,
    /// Keys in the order the evictor visits them (may hold keys since removed).
    clock_hand: VecDeque<Bytes>,
    size_bytes: usize,
    bounds: Bounds,
    unpublished: bool,
}

/// A new cache: its write end and the factory of read ends.
pub(crate) fn new(
    bounds: Bounds,
    freshness: Arc<Freshness>,
    clock: Clock,
    max_staleness_ns: u64,
) -> (CacheWriter, ReaderFactory) {
    let (handle, read): (WriteHandle<Half, CacheOp>, ReadHandle<Half>) = left_right::new();
    let writer = CacheWriter {
        handle,
        entries: Map::default(),
        pending: HashMap::default(),
        in_flight: HashMap::default(),
        clock_hand: VecDeque::new(),
        size_bytes: 0,
        bounds,
        unpublished: false,
    };
    let factory = ReaderFactory {
        factory: read.factory(),
        freshness,
        clock,
        max_staleness_ns,
    };
    (writer, factory)
}

impl CacheWriter {
    /// A local write of `key` (to `value`, or deleted): served at once, as written.
    pub(crate) fn write_local(&mut self, key: &Bytes, value: Option<Bytes>, expires_at_ns: u64) {
        *self.pending.entry(key.clone()).or_default() += 1;
        self.put(
            key,
            Entry {
                value,
                version: 0,
                expires_at_ns,
                confirmed_at_ns: 0,
                local: true,
                used: AtomicBool::new(true),
            },
        );
    }

    /// The server answered one local write of `key` (applied or refused): when it was
    /// the last in flight, the entry goes, and the next read fetches it.
    pub(crate) fn write_done(&mut self, key: &Bytes) {
        let Some(count) = self.pending.get_mut(key) else {
            debug_assert!(false, "a write answered twice");
            return;
        };
        *count -= 1;
        if *count == 0 {
            self.pending.remove(key);
            self.remove(key);
        }
    }

    /// A read of `key` is about to be sent.
    pub(crate) fn read_started(&mut self, key: &Bytes) {
        self.in_flight.entry(key.clone()).or_default().count += 1;
    }

    /// The server answered a read of `key` sent at `sent_at_ns`: `found` is its value,
    /// version and remaining time to live (`None`: no such key). `cache`: whether
    /// the reply may be cached (a string the server tracks for us).
    pub(crate) fn read_done(
        &mut self,
        key: &Bytes,
        found: Option<(Bytes, u64, Option<u64>)>,
        sent_at_ns: u64,
        cache: bool,
    ) {
        let Some(flight) = self.in_flight.get_mut(key) else {
            debug_assert!(false, "a read answered twice");
            return;
        };
        flight.count -= 1;
        let tainted = flight.tainted;
        if flight.count == 0 {
            self.in_flight.remove(key);
        }
        if !cache || tainted || self.pending.contains_key(key) {
            return;
        }
        let (value, version, expires_at_ns) = match found {
            Some((value, version, ttl_ns)) => (
                Some(value),
                version,
                ttl_ns.map_or(NEVER_NS, |ttl| sent_at_ns.saturating_add(ttl)),
            ),
            None => (None, 0, NEVER_NS),
        };
        match self.entries.get(key) {
            // A push brought a value at least as new while the read was out: keep it,
            // confirmed as of the read.
            Some(entry) if entry.version >= version && entry.version > 0 => {
                let kept = Entry {
                    value: entry.value.clone(),
                    version: entry.version,
                    expires_at_ns: entry.expires_at_ns,
                    confirmed_at_ns: entry.confirmed_at_ns.max(sent_at_ns),
                    local: false,
                    used: AtomicBool::new(true),
                };
                self.put(key, kept);
            }
            _ => self.put(
                key,
                Entry {
                    value,
                    version,
                    expires_at_ns,
                    confirmed_at_ns: sent_at_ns,
                    local: false,
                    used: AtomicBool::new(true),
                },
            ),
        }
    }

    /// A pushed change: `key` is `value` (`None`: deleted) as of `version`, until
    /// `expires_at_ns`.
    pub(crate) fn pushed(
        &mut self,
        key: &Bytes,
        value: Option<Bytes>,
        version: u64,
        expires_at_ns: u64,
    ) {
        if self.pending.contains_key(key) {
            return;
        }
        let known = self.entries.get(key);
        if known.is_none() && !self.in_flight.contains_key(key) {
            // Evicted here: the server stops sending it when its window moves on.
            return;
        }
        if known.is_some_and(|entry| entry.version >= version) {
            return;
        }
        let entry = Entry {
            value,
            version,
            expires_at_ns,
            // Confirmed by the syncs that follow it, not by itself.
            confirmed_at_ns: known.map_or(0, |entry| entry.confirmed_at_ns),
            local: false,
            used: AtomicBool::new(false),
        };
        self.put(key, entry);
    }

    /// `key` changed in a way not pushed, or the server stopped tracking it.
    pub(crate) fn invalidate(&mut self, key: &Bytes) {
        if let Some(flight) = self.in_flight.get_mut(key) {
            flight.tainted = true;
        }
        if !self.pending.contains_key(key) {
            self.remove(key);
        }
    }

    /// Everything cached may be stale (the server fell behind, or flushed).
    pub(crate) fn invalidate_all(&mut self) {
        for flight in self.in_flight.values_mut() {
            flight.tainted = true;
        }
        let stale: Vec<Bytes> = self
            .entries
            .keys()
            .filter(|key| !self.pending.contains_key(*key))
            .cloned()
            .collect();
        for key in stale {
            self.remove(&key);
        }
    }

    /// After a reconnect: `versions` are the server's versions of `keys` now; an
    /// entry whose version differs goes.
    pub(crate) fn resynced(&mut self, keys: &[Bytes], versions: &[u64]) {
        for (key, &version) in keys.iter().zip(versions) {
            // Any difference counts, not only a newer version: a server that lost
            // its history (an in-memory one, restarted) numbers its writes afresh.
            // An absent key has version 0, so one that appeared or vanished differs
            // too. Pushes that arrived before the answer are at most its version.
            let changed = self
                .entries
                .get(key)
                .is_some_and(|entry| !entry.local && entry.version != version);
            if changed {
                self.remove(key);
            }
        }
    }

    /// The keys cached and not written locally, to check after a reconnect.
    pub(crate) fn confirmed_keys(&self) -> Vec<Bytes> {
        self.entries
            .iter()
            .filter(|(_, entry)| !entry.local)
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Makes every change so far visible to readers.
    pub(crate) fn publish(&mut self) {
        if std::mem::take(&mut self.unpublished) {
            self.handle.publish();
        }
    }

    /// How many keys and bytes are cached.
    pub(crate) fn size(&self) -> (usize, usize) {
        (self.entries.len(), self.size_bytes)
    }

    /// Caches `entry` under `key`. The cache keeps its own copies of the bytes: a
    /// value parsed from a reply shares its read buffer (and that buffer's reference
    /// count) with everything else read with it, which would pin the buffer and make
    /// readers of unrelated keys contend on one counter.
    fn put(&mut self, key: &Bytes, mut entry: Entry) {
        entry.value = entry.value.map(|value| Bytes::copy_from_slice(&value));
        let key = &match self.entries.get_key_value(key) {
            Some((known, _)) => known.clone(),
            None => Bytes::copy_from_slice(key),
        };
        let size = entry.size_bytes(key);
        let entry = Arc::new(entry);
        match self.entries.insert(key.clone(), Arc::clone(&entry)) {
            Some(old) => self.size_bytes -= old.size_bytes(key),
            None => self.clock_hand.push_back(key.clone()),
        }
        self.size_bytes += size;
        self.handle.append(CacheOp::Put(key.clone(), entry));
        self.unpublished = true;
        self.evict();
    }

    fn remove(&mut self, key: &Bytes) {
        if let Some(old) = self.entries.remove(key) {
            self.size_bytes -= old.size_bytes(key);
            self.handle.append(CacheOp::Remove(key.clone()));
            self.unpublished = true;
        }
    }

    /// Evicts until the bounds hold: CLOCK, passing over entries read since the last
    /// pass once and over local writes (they go when answered).
    fn evict(&mut self) {
        let over = |writer: &Self| {
            writer.entries.len() > writer.bounds.max_keys.max(1)
                || writer.size_bytes > writer.bounds.max_bytes
        };
        // Each key is passed over at most twice, so this ends.
        let mut visits = 2 * self.clock_hand.len();
        while over(self) && visits > 0 {
            visits -= 1;
            let Some(key) = self.clock_hand.pop_front() else {
                break;
            };
            let Some(entry) = self.entries.get(&key) else {
                continue;
            };
            if entry.local || entry.used.swap(false, Ordering::Relaxed) {
                self.clock_hand.push_back(key);
                continue;
            }
            self.remove(&key);
        }
        // Keys removed otherwise linger in the hand; drop them before it doubles.
        if self.clock_hand.len() > 2 * self.entries.len() + 64 {
            let entries = &self.entries;
            self.clock_hand.retain(|key| entries.contains_key(key));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(max_keys: usize) -> (CacheWriter, CacheReader, Arc<Freshness>, Clock) {
        let (writer, factory, freshness, clock) = cache_with_factory(max_keys);
        (writer, factory.reader(), freshness, clock)
    }

    fn cache_with_factory(max_keys: usize) -> (CacheWriter, ReaderFactory, Arc<Freshness>, Clock) {
        let freshness = Arc::new(Freshness::default());
        let clock = Clock::new();
        let (writer, factory) = new(
            Bounds {
                max_keys,
                max_bytes: usize::MAX,
            },
            Arc::clone(&freshness),
            clock,
            1_000_000_000,
        );
        (writer, factory, freshness, clock)
    }

    fn b(text: &str) -> Bytes {
        Bytes::copy_from_slice(text.as_bytes())
    }

    #[test]
    fn a_local_write_wins_over_pushes_until_answered_then_is_fetched_again() {
        let (mut writer, reader, _, _) = cache(10);
        let key = b("k");
        writer.read_started(&key);
        writer.read_done(&key, Some((b("old"), 5, None)), 1, true);
        writer.write_local(&key, Some(b("mine")), NEVER_NS);
        // A change committed before the write arrives after it: ignored.
        writer.pushed(&key, Some(b("older")), 6, NEVER_NS);
        writer.publish();
        assert_eq!(reader.get(b"k"), Lookup::Hit(Some(b("mine"))));
        writer.write_done(&key);
        writer.publish();
        assert_eq!(reader.get(b"k"), Lookup::Miss);
    }

    #[test]
    fn only_newer_versions_replace_a_value() {
        let (mut writer, reader, _, _) = cache(10);
        let key = b("k");
        writer.read_started(&key);
        // The push of a change arrives before the reply of a read that saw it.
        writer.pushed(&key, Some(b("v7")), 7, NEVER_NS);
        writer.read_done(&key, Some((b("v6"), 6, None)), 1, true);
        writer.publish();
        assert_eq!(reader.get(b"k"), Lookup::Hit(Some(b("v7"))));
        writer.pushed(&key, Some(b("v5")), 5, NEVER_NS);
        writer.pushed(&key, None, 8, NEVER_NS);
        writer.publish();
        assert_eq!(reader.get(b"k"), Lookup::Hit(None));
    }

    #[test]
    fn a_read_invalidated_in_flight_is_not_cached() {
        let (mut writer, reader, _, _) = cache(10);
        let key = b("k");
        writer.read_started(&key);
        writer.invalidate(&key);
        writer.read_done(&key, Some((b("v"), 3, None)), 1, true);
        writer.publish();
        assert_eq!(reader.get(b"k"), Lookup::Miss);
    }

    #[test]
    fn entries_are_served_only_while_fresh_and_after_the_last_barrier() {
        let (mut writer, factory, freshness, clock) = cache_with_factory(10);
        let reader = factory.reader();
        let key = b("k");
        let sent = clock.now_ns();
        writer.read_started(&key);
        writer.read_done(&key, Some((b("v"), 3, None)), sent, true);
        writer.publish();
        assert_eq!(reader.get(b"k"), Lookup::Hit(Some(b("v"))));
        freshness.barrier(sent + 1);
        assert_eq!(
            reader.get(b"k"),
            Lookup::Miss,
            "confirmed before the barrier"
        );
        freshness.synced(sent + 2);
        assert_eq!(reader.get(b"k"), Lookup::Hit(Some(b("v"))));
        let stale_reader = ReaderFactory {
            max_staleness_ns: 0,
            ..factory
        }
        .reader();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert_eq!(stale_reader.get(b"k"), Lookup::Miss);
    }

    #[test]
    fn expired_entries_read_as_absent() {
        let (mut writer, reader, _, clock) = cache(10);
        let key = b("k");
        writer.read_started(&key);
        writer.read_done(&key, Some((b("v"), 3, Some(0))), clock.now_ns(), true);
        writer.publish();
        assert_eq!(reader.get(b"k"), Lookup::Hit(None));
    }

    #[test]
    fn eviction_keeps_the_bounds_and_spares_local_writes_and_recent_reads() {
        let (mut writer, reader, _, _) = cache(3);
        for (i, name) in ["a", "b", "c"].iter().enumerate() {
            writer.read_started(&b(name));
            writer.read_done(&b(name), Some((b("v"), i as u64 + 1, None)), 1, true);
        }
        writer.write_local(&b("w"), Some(b("x")), NEVER_NS);
        writer.publish();
        assert_eq!(writer.size().0, 3);
        assert_eq!(reader.get(b"w"), Lookup::Hit(Some(b("x"))));
        // Every inserted entry starts used; the first pass clears them, the second
        // evicts the oldest.
        assert_eq!(reader.get(b"a"), Lookup::Miss);
        for i in 0..100 {
            let key = Bytes::from(format!("k{i}"));
            writer.read_started(&key);
            writer.read_done(&key, Some((b("v"), 10 + i, None)), 1, true);
            assert!(writer.size().0 <= 3);
        }
        writer.publish();
        assert_eq!(
            reader.get(b"w"),
            Lookup::Hit(Some(b("x"))),
            "still in flight"
        );
    }

    #[test]
    fn a_resync_keeps_only_entries_whose_version_is_unchanged() {
        let (mut writer, reader, _, _) = cache(10);
        let cached = [
            ("same", Some("v"), 5),
            ("newer", Some("v"), 5),
            ("reset", Some("v"), 9),
        ];
        for (name, value, version) in cached {
            let key = b(name);
            writer.read_started(&key);
            writer.read_done(&key, value.map(|v| (b(v), version, None)), 1, true);
        }
        writer.read_started(&b("absent"));
        writer.read_done(&b("absent"), None, 1, true);
        writer.read_started(&b("gone"));
        writer.read_done(&b("gone"), Some((b("v"), 3, None)), 1, true);
        let keys = ["same", "newer", "reset", "absent", "gone"].map(b);
        // The server now: same unchanged, newer rewritten, reset renumbered lower
        // (a restarted in-memory server), absent created, gone deleted.
        writer.resynced(&keys, &[5, 6, 2, 1, 0]);
        writer.publish();
        assert_eq!(reader.get(b"same"), Lookup::Hit(Some(b("v"))));
        for name in ["newer", "reset", "absent", "gone"] {
            assert_eq!(reader.get(name.as_bytes()), Lookup::Miss, "{name}");
        }
    }

    #[test]
    fn the_byte_bound_holds_too() {
        let freshness = Arc::new(Freshness::default());
        let (mut writer, _factory) = new(
            Bounds {
                max_keys: 1000,
                max_bytes: 4 * (ENTRY_OVERHEAD_BYTES + 1 + 100),
            },
            freshness,
            Clock::new(),
            1_000_000_000,
        );
        let value = Bytes::from(vec![b'x'; 100]);
        for i in 0..10u64 {
            let key = Bytes::from(format!("{i}"));
            writer.read_started(&key);
            writer.read_done(&key, Some((value.clone(), i + 1, None)), 1, true);
            let (keys, bytes) = writer.size();
            assert!(bytes <= 4 * (ENTRY_OVERHEAD_BYTES + 101), "{bytes}");
            assert!(keys <= 4);
        }
        assert_eq!(writer.size().0, 4);
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::Mutex;

    /// The receive thread applies a push of an older change, then the answer to
    /// the application's write, while the application writes and reads the key:
    /// the application reads its own value or (after the answer) misses — never
    /// the pushed value its write replaced.
    #[test]
    fn loom_models_a_local_write_is_never_hidden_by_an_older_push() {
        loom::model(|| {
            let (mut writer, factory) = new(
                Bounds {
                    max_keys: 4,
                    max_bytes: usize::MAX,
                },
                Arc::new(Freshness::default()),
                Clock::new(),
                u64::MAX,
            );
            let key = Bytes::from_static(b"k");
            // Cached at version 5; a change at version 7 is on its way.
            writer.read_started(&key);
            writer.read_done(&key, Some((Bytes::from_static(b"v5"), 5, None)), 0, true);
            writer.publish();
            let writer = loom::sync::Arc::new(Mutex::new(writer));
            let sent = loom::sync::Arc::new(loom::sync::atomic::AtomicBool::new(false));
            let receiver = {
                let (writer, sent, key) = (writer.clone(), sent.clone(), key.clone());
                loom::thread::spawn(move || {
                    {
                        let mut cache = writer.lock().unwrap();
                        cache.pushed(&key, Some(Bytes::from_static(b"older")), 7, NEVER_NS);
                        cache.publish();
                    }
                    // The answer comes only after the write went out.
                    while !sent.load(Ordering::Acquire) {
                        loom::thread::yield_now();
                    }
                    let mut cache = writer.lock().unwrap();
                    cache.write_done(&key);
                    cache.publish();
                })
            };
            let reader = factory.reader();
            {
                let mut cache = writer.lock().unwrap();
                cache.write_local(&key, Some(Bytes::from_static(b"mine")), NEVER_NS);
                cache.publish();
            }
            sent.store(true, Ordering::Release);
            let seen = reader.get(b"k");
            assert!(
                seen == Lookup::Hit(Some(Bytes::from_static(b"mine"))) || seen == Lookup::Miss,
                "{seen:?}"
            );
            receiver.join().unwrap();
            assert_eq!(reader.get(b"k"), Lookup::Miss, "answered: fetched again");
        });
    }
}
