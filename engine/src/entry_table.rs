//! One overlay shard's hash table of entries, laid out so that finding a key reads
//! one cache line of the table and then the entry.
//!
//! On a database larger than the CPU's caches, a lookup is a chain of cache misses,
//! and a write pays it up to three times (its staging lookup, then once in each
//! left-right copy). hashbrown keeps its control bytes and its slots in two arrays,
//! so a hit reads two lines of the table before the entry. Here a bucket is one
//! 64-byte line, as in folly's F14: seven one-byte tags (7 bits of the key's hash,
//! the top bit set when the slot is in use), an overflow count, and seven entry
//! pointers. A key is found in its home bucket unless the bucket was full when it
//! came, and a missing key is known missing at its home bucket unless keys that
//! belong there overflowed into the next.
//!
//! A lookup of an absent key would then read a bucket from memory where hashbrown
//! reads its control bytes, 16 to a cache line and often cached. So each bucket
//! also has a 4-byte summary, in an array of its own that stays in the CPU's caches
//! (about 1 byte per key): two bits per tag the bucket holds (in 31 bits, a tiny
//! Bloom filter) and a bit for "keys overflowed past here". Most absent keys are
//! known absent from their home bucket's summary alone: with two bits per tag, about
//! one in fifteen at the usual load reads its bucket, against one in seven with one
//! bit.
//!
//! The table grows by half, not double, so its load stays between about 0.57 and
//! 0.86 (hashbrown's between 0.44 and 0.875), which matters twice over: each
//! left-right copy has its own tables.
//!
//! Invariants (checked by [`EntryTable::check`] in the tests):
//! - a slot holds an entry exactly when its tag is non-zero, and the tag is
//!   [`tag`] of the entry's hash;
//! - an entry lives in the first bucket with a free slot, probing forward (and
//!   around) from its home bucket when it was inserted; every bucket from its home up
//!   to (not including) its own counts it in `overflow`, unless that count had
//!   reached [`SATURATED`], where it stays for good (lookups then look further than
//!   needed, never less);
//! - `len` entries, at most [`max_len`] of the bucket count, so a probe for a free
//!   slot always ends;
//! - every bucket's summary is [`Bucket::summary`] of it.
//!
//! Hashes come from the caller; the table reads the low 32 bits for the home bucket
//! and bits 32..38 for the tag, so a caller may use the top bits for itself (the
//! overlay picks shards with them).

use crate::entry::Entry;

/// Slots in a bucket.
const SLOTS: usize = 7;
/// An overflow count that no longer moves.
const SATURATED: u8 = u8::MAX;
/// How many buckets ahead a walk of the table ([`EntryTable::iter`], a resize, a
/// trim) starts loading entries (about 10 entries at the usual load).
const PREFETCH_BUCKETS_AHEAD: usize = 2;
/// How many entries ahead a resize starts loading their new home buckets.
const PREFETCH_ENTRIES_AHEAD: usize = 8;

/// One cache line of the table.
#[derive(Clone, Default)]
#[repr(C, align(64))]
struct Bucket {
    /// Per slot: 0 if empty, else [`tag`] of its entry's hash.
    tags: [u8; SLOTS],
    /// Entries whose home is this bucket or an earlier one and that live further on.
    overflow: u8,
    slots: [Option<Entry>; SLOTS],
}

const _: () = assert!(size_of::<Bucket>() == 64, "a bucket is one cache line");

impl Bucket {
    /// Slots whose tag is `tag` (a superset: callers compare the tag again).
    fn candidates(&self, tag: u8) -> impl Iterator<Item = usize> {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGHS: u64 = 0x8080_8080_8080_8080;
        let mut bytes = [0u8; 8];
        bytes[..SLOTS].copy_from_slice(&self.tags);
        // Byte 7 (no slot) is 0, so it differs from every tag, whose top bit is set.
        let differences = u64::from_le_bytes(bytes) ^ (ONES * u64::from(tag));
        // The high bit of every zero byte of `differences` (and maybe of a byte just
        // above one, which the caller's tag check filters out).
        let mut zeros = differences.wrapping_sub(ONES) & !differences & HIGHS;
        std::iter::from_fn(move || {
            (zeros != 0).then(|| {
                let slot = zeros.trailing_zeros() as usize / 8;
                zeros &= zeros - 1;
                slot
            })
        })
    }

    /// The slot holding the entry for `key`, whose tag is `tag`.
    fn find(&self, tag: u8, key: &[u8]) -> Option<usize> {
        self.candidates(tag).find(|&slot| {
            self.tags[slot] == tag
                && self.slots[slot]
                    .as_ref()
                    .is_some_and(|entry| entry.key() == key)
        })
    }

    fn free_slot(&self) -> Option<usize> {
        self.tags.iter().position(|&tag| tag == 0)
    }

    /// The bucket's summary: [`summary_bits`] of each tag, and [`OVERFLOWED`] if its
    /// overflow count is not zero.
    fn summary(&self) -> u32 {
        let tags = self.tags.iter().filter(|&&tag| tag != 0);
        let bits = tags.fold(0, |bits, &tag| bits | summary_bits(tag));
        if self.overflow == 0 {
            bits
        } else {
            bits | OVERFLOWED
        }
    }
}

/// The two summary bits that, both set, say "a slot may have tag `tag`": bit
/// `a = v % 31` and bit `a + offset` (mod 31) for the tag's 7 bits `v`, where the
/// offset (1, 8, 15, 22 or 29) depends on `v / 31`. Two offsets never sum to 31, so
/// the 128 tags have 128 different pairs, and no pair uses [`OVERFLOWED`]'s bit.
fn summary_bits(tag: u8) -> u32 {
    let v = u32::from(tag & 0x7f);
    let a = v % 31;
    let b = (a + 1 + 7 * (v / 31)) % 31;
    1 << a | 1 << b
}

/// The summary bit that says "keys overflowed past this bucket".
const OVERFLOWED: u32 = 1 << 31;

/// The tag of a hash: 7 of its bits, with the top bit set (an empty slot's tag is 0).
fn tag(hash: u64) -> u8 {
    (hash >> 32) as u8 | 0x80
}

/// Most entries a table of `buckets` buckets holds: six per bucket (load 0.86).
fn max_len(buckets: usize) -> usize {
    buckets * (SLOTS - 1)
}

/// A hash table of entries, keyed by their keys, for hashes the caller supplies.
#[derive(Clone, Default)]
pub(crate) struct EntryTable {
    buckets: Box<[Bucket]>,
    /// [`Bucket::summary`] of each bucket.
    summaries: Box<[u32]>,
    len: usize,
}

impl EntryTable {
    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Number of slots, used or not.
    pub(crate) fn capacity(&self) -> usize {
        self.buckets.len() * SLOTS
    }

    /// The home bucket of `hash`: its low 32 bits scaled to the bucket count.
    fn home(&self, hash: u64) -> usize {
        ((u64::from(hash as u32) * self.buckets.len() as u64) >> 32) as usize
    }

    fn next(&self, bucket: usize) -> usize {
        if bucket + 1 == self.buckets.len() {
            0
        } else {
            bucket + 1
        }
    }

    /// Where the entry for `key` (hash `hash`) is: bucket and slot.
    fn position(&self, hash: u64, key: &[u8]) -> Option<(usize, usize)> {
        let tag = tag(hash);
        let bits = summary_bits(tag);
        let mut bucket = self.home(hash);
        // A table whose counts all saturated could send a probe round forever.
        for _ in 0..self.buckets.len() {
            let summary = self.summaries[bucket];
            if summary & bits == bits
                && let Some(slot) = self.buckets[bucket].find(tag, key)
            {
                return Some((bucket, slot));
            }
            if summary & OVERFLOWED == 0 {
                return None;
            }
            bucket = self.next(bucket);
        }
        None
    }

    /// The entry for `key`, whose hash is `hash`.
    #[inline]
    pub(crate) fn get(&self, hash: u64, key: &[u8]) -> Option<&Entry> {
        let (bucket, slot) = self.position(hash, key)?;
        self.buckets[bucket].slots[slot].as_ref()
    }

    /// Starts loading what a lookup of `hash` reads first: its home bucket and that
    /// bucket's summary.
    pub(crate) fn prefetch_bucket(&self, hash: u64) {
        if !self.buckets.is_empty() {
            let home = self.home(hash);
            crate::prefetch::prefetch(&self.summaries[home]);
            crate::prefetch::prefetch(&self.buckets[home]);
        }
    }

    /// Starts loading the entries of `hash`'s home bucket whose tag is `hash`'s (the
    /// key a lookup will compare), best after [`EntryTable::prefetch_bucket`] had time
    /// to bring the bucket in. Whether there was one: then the table most likely
    /// holds the key (a tag is part of the hash, so rarely another key's).
    pub(crate) fn prefetch_entries(&self, hash: u64) -> bool {
        let mut candidate = false;
        if !self.buckets.is_empty() {
            let tag = tag(hash);
            let bucket = &self.buckets[self.home(hash)];
            for slot in bucket.candidates(tag) {
                if bucket.tags[slot] == tag
                    && let Some(entry) = &bucket.slots[slot]
                {
                    entry.prefetch();
                    candidate = true;
                }
            }
        }
        candidate
    }

    /// Stores `entry` (hash `hash`) in place of the entry for its key, if any, which
    /// it returns, with the stored entry. `rehash` gives an entry's hash, for growth.
    pub(crate) fn upsert(
        &mut self,
        hash: u64,
        entry: Entry,
        rehash: impl Fn(&Entry) -> u64,
    ) -> (&Entry, Option<Entry>) {
        if let Some((bucket, slot)) = self.position(hash, entry.key()) {
            let stored = &mut self.buckets[bucket].slots[slot];
            let old = stored.replace(entry);
            return (stored.as_ref().expect("just stored"), old);
        }
        if self.len == max_len(self.buckets.len()) {
            let grown = self.buckets.len() + self.buckets.len() / 2 + 1;
            self.resize(grown, &rehash);
        }
        let (bucket, slot) = self.insert_new(hash, entry);
        let stored = self.buckets[bucket].slots[slot].as_ref();
        (stored.expect("just stored"), None)
    }

    /// Stores an entry whose key is not in the table, in a table with room for it.
    fn insert_new(&mut self, hash: u64, entry: Entry) -> (usize, usize) {
        debug_assert!(self.len < max_len(self.buckets.len()));
        let tag = tag(hash);
        let mut bucket = self.home(hash);
        loop {
            let here = &mut self.buckets[bucket];
            if let Some(slot) = here.free_slot() {
                here.tags[slot] = tag;
                here.slots[slot] = Some(entry);
                self.summaries[bucket] |= summary_bits(tag);
                self.len += 1;
                return (bucket, slot);
            }
            if here.overflow != SATURATED {
                here.overflow += 1;
            }
            self.summaries[bucket] |= OVERFLOWED;
            bucket = self.next(bucket);
        }
    }

    /// Removes and returns the entry for `key`, whose hash is `hash`.
    pub(crate) fn remove(&mut self, hash: u64, key: &[u8]) -> Option<Entry> {
        let (bucket, slot) = self.position(hash, key)?;
        Some(self.take(hash, bucket, slot))
    }

    /// Empties a slot (of an entry whose hash is `hash`) and undoes the overflow
    /// counts its insertion made.
    fn take(&mut self, hash: u64, bucket: usize, slot: usize) -> Entry {
        let here = &mut self.buckets[bucket];
        here.tags[slot] = 0;
        let entry = here.slots[slot]
            .take()
            .expect("a tagged slot holds an entry");
        self.summaries[bucket] = here.summary();
        self.len -= 1;
        let mut passed = self.home(hash);
        while passed != bucket {
            let passed_over = &mut self.buckets[passed];
            if passed_over.overflow != SATURATED {
                passed_over.overflow -= 1;
                self.summaries[passed] = passed_over.summary();
            }
            passed = self.next(passed);
        }
        entry
    }

    /// Removes every entry for which `drop_it` holds, handing each to `removed`.
    pub(crate) fn remove_if(
        &mut self,
        mut drop_it: impl FnMut(&Entry) -> bool,
        rehash: impl Fn(&Entry) -> u64,
        mut removed: impl FnMut(Entry),
    ) {
        for bucket in 0..self.buckets.len() {
            // `drop_it` reads each entry: load those a few buckets ahead.
            if let Some(ahead) = self.buckets.get(bucket + PREFETCH_BUCKETS_AHEAD) {
                ahead.slots.iter().flatten().for_each(Entry::prefetch);
            }
            for slot in 0..SLOTS {
                let hash = match &self.buckets[bucket].slots[slot] {
                    Some(entry) if drop_it(entry) => rehash(entry),
                    _ => continue,
                };
                removed(self.take(hash, bucket, slot));
            }
        }
    }

    /// Gives back memory the entries do not need (all of it, when empty).
    pub(crate) fn shrink_to_fit(&mut self, rehash: impl Fn(&Entry) -> u64) {
        let needed = self.len.div_ceil(SLOTS - 1);
        if needed < self.buckets.len() {
            self.resize(needed, &rehash);
        }
    }

    /// Moves every entry into a table of `buckets` buckets.
    ///
    /// Each entry costs two cache misses: its key, read to hash it, and its new
    /// bucket. Taken one entry at a time they follow one another, so the move runs
    /// in two passes that each load ahead what they will touch: the old table in
    /// order, hashing the entries of the bucket [`PREFETCH_BUCKETS_AHEAD`] ahead once
    /// loaded; then the hashed entries, with the new home bucket of the entry
    /// [`PREFETCH_ENTRIES_AHEAD`] ahead.
    fn resize(&mut self, buckets: usize, rehash: &impl Fn(&Entry) -> u64) {
        assert!(max_len(buckets) >= self.len, "a resize keeps every entry");
        let mut old = std::mem::replace(
            &mut self.buckets,
            std::iter::repeat_with(Bucket::default)
                .take(buckets)
                .collect(),
        );
        let mut moving = Vec::with_capacity(self.len);
        for index in 0..old.len() {
            if let Some(ahead) = old.get(index + PREFETCH_BUCKETS_AHEAD) {
                ahead.slots.iter().flatten().for_each(Entry::prefetch);
            }
            let slots = old[index].slots.iter_mut().filter_map(Option::take);
            moving.extend(slots.map(|entry| (rehash(&entry), entry)));
        }
        drop(old);
        assert_eq!(moving.len(), self.len, "a resize moves every entry");
        self.summaries = vec![0; buckets].into_boxed_slice();
        self.len = 0;
        let mut moving = moving.into_iter();
        while let Some((hash, entry)) = moving.next() {
            if let Some((ahead, _)) = moving.as_slice().get(PREFETCH_ENTRIES_AHEAD - 1) {
                crate::prefetch::prefetch(&self.buckets[self.home(*ahead)]);
            }
            self.insert_new(hash, entry);
        }
    }

    /// Every entry, in table order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.buckets.iter().enumerate().flat_map(|(index, bucket)| {
            // The entries lie all over memory: a walk that reads each (a snapshot's)
            // misses the cache once per entry, and the misses overlap only when they
            // are asked for ahead.
            if let Some(ahead) = self.buckets.get(index + PREFETCH_BUCKETS_AHEAD) {
                ahead.slots.iter().flatten().for_each(Entry::prefetch);
            }
            bucket.slots.iter().flatten()
        })
    }

    /// Panics unless the invariants of the module doc hold, given each entry's hash.
    #[cfg(test)]
    pub(crate) fn check(&self, rehash: impl Fn(&Entry) -> u64) {
        let count = self.buckets.len();
        let mut overflows = vec![0usize; count];
        let mut len = 0;
        for (index, bucket) in self.buckets.iter().enumerate() {
            for (slot, stored) in bucket.slots.iter().enumerate() {
                let Some(entry) = stored else {
                    assert_eq!(bucket.tags[slot], 0, "an empty slot has no tag");
                    continue;
                };
                len += 1;
                let hash = rehash(entry);
                assert_eq!(bucket.tags[slot], tag(hash), "a slot's tag is its entry's");
                let mut passed = self.home(hash);
                while passed != index {
                    overflows[passed] += 1;
                    passed = self.next(passed);
                }
                assert_eq!(
                    self.get(hash, entry.key()).map(Entry::key),
                    Some(entry.key())
                );
            }
        }
        assert_eq!(len, self.len);
        assert!(len <= max_len(count));
        for (bucket, summary) in self.buckets.iter().zip(&self.summaries) {
            assert_eq!(bucket.summary(), *summary, "a bucket's summary is its own");
        }
        for (bucket, overflow) in self.buckets.iter().zip(overflows) {
            // A saturated count only says "maybe": any true count fits it.
            if bucket.overflow != SATURATED {
                assert_eq!(usize::from(bucket.overflow), overflow);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn entry(key: u16, version: u64) -> Entry {
        Entry::new(&key.to_le_bytes(), Value::Int(0), version, None)
    }

    fn key_of(entry: &Entry) -> u16 {
        u16::from_le_bytes(entry.key().try_into().unwrap())
    }

    /// Hashes that collide on purpose: `spread` distinct values at most, so home
    /// buckets and tags repeat and overflow chains form (and wrap around).
    fn hasher(spread: u64) -> impl Fn(u16) -> u64 + Copy {
        move |key| {
            let mixed = u64::from(key).wrapping_mul(0x9E37_79B9_7F4A_7C15) % spread;
            mixed.wrapping_mul(0xD6E8_FEB8_6659_FD93).rotate_left(17)
        }
    }

    #[derive(Debug, Clone)]
    enum Step {
        Upsert(u16),
        Remove(u16),
        RemoveOlderThan(u64),
        Shrink,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => (0u16..400).prop_map(Step::Upsert),
            3 => (0u16..400).prop_map(Step::Remove),
            1 => (0u64..300).prop_map(Step::RemoveOlderThan),
            1 => Just(Step::Shrink),
        ]
    }

    #[test]
    fn every_tag_has_two_summary_bits_of_its_own_below_the_overflow_bit() {
        let masks: std::collections::HashSet<u32> = (0x80..=0xffu8)
            .map(|tag| {
                let bits = summary_bits(tag);
                assert_eq!((bits.count_ones(), bits & OVERFLOWED), (2, 0), "tag {tag}");
                bits
            })
            .collect();
        assert_eq!(masks.len(), 128);
    }

    /// The entries stage of a prefetch tells keys the table holds from keys it
    /// does not (the reader skips the base for the first): by the home bucket's
    /// tags, so wrong only for a key in an overflowing bucket or another key's
    /// matching tag. (A fixed seed: the counts are the same every run.)
    #[test]
    fn prefetching_entries_tells_whether_the_table_holds_the_key() {
        // The engine's hash: the test hasher above is linear in the key, so its
        // tags and home buckets are too regular to show false matches.
        let hasher = crate::hash::KeyHasher::with_seed(7);
        let hash = |key: u16| hasher.hash_one(&key.to_le_bytes());
        let rehash = |entry: &Entry| hash(key_of(entry));
        let mut table = EntryTable::default();
        for key in 0..10_000u16 {
            table.upsert(hash(key), entry(key, 1), rehash);
        }
        let said_held = |keys: std::ops::Range<u16>| {
            keys.filter(|&key| table.prefetch_entries(hash(key)))
                .count()
        };
        let (held, absent) = (said_held(0..10_000), said_held(10_000..20_000));
        assert!(held >= 9_500, "{held} of 10000 held keys found");
        assert!(absent <= 500, "{absent} of 10000 absent keys taken as held");
        assert!(!EntryTable::default().prefetch_entries(hash(1)));
    }

    proptest! {
        /// The table against a `HashMap`, with full hashes and with hashes that pile
        /// keys into a few buckets.
        #[test]
        fn behaves_as_a_map(
            steps in proptest::collection::vec(step(), 1..400),
            spread in prop_oneof![Just(u64::MAX), Just(64u64), Just(3u64)],
        ) {
            let hash = hasher(spread);
            let rehash = |entry: &Entry| hash(key_of(entry));
            let mut table = EntryTable::default();
            let mut model: HashMap<u16, u64> = HashMap::new();
            for (version, step) in (0u64..).zip(steps) {
                match step {
                    Step::Upsert(key) => {
                        let (stored, old) = table.upsert(hash(key), entry(key, version), rehash);
                        prop_assert_eq!(stored.version(), version);
                        let expected = model.insert(key, version);
                        prop_assert_eq!(old.map(|old| old.version()), expected);
                    }
                    Step::Remove(key) => {
                        let removed = table.remove(hash(key), &key.to_le_bytes());
                        prop_assert_eq!(removed.map(|old| old.version()), model.remove(&key));
                    }
                    Step::RemoveOlderThan(upto) => {
                        let mut removed = Vec::new();
                        table.remove_if(|entry| entry.version() < upto, rehash, |entry| {
                            removed.push(key_of(&entry));
                        });
                        let mut expected: Vec<u16> =
                            model.iter().filter(|(_, v)| **v < upto).map(|(k, _)| *k).collect();
                        model.retain(|_, v| *v >= upto);
                        removed.sort_unstable();
                        expected.sort_unstable();
                        prop_assert_eq!(removed, expected);
                    }
                    Step::Shrink => table.shrink_to_fit(rehash),
                }
                table.check(rehash);
                prop_assert_eq!(table.len(), model.len());
            }
            for key in 0u16..400 {
                let found = table.get(hash(key), &key.to_le_bytes()).map(Entry::version);
                prop_assert_eq!(found, model.get(&key).copied());
            }
            let mut keys: Vec<u16> = table.iter().map(key_of).collect();
            keys.sort_unstable();
            let mut expected: Vec<u16> = model.keys().copied().collect();
            expected.sort_unstable();
            prop_assert_eq!(keys, expected);
            let copy = table.clone();
            copy.check(rehash);
            prop_assert_eq!(copy.len(), table.len());
        }
    }

    #[test]
    fn overflow_counts_saturate_and_lookups_still_find_everything() {
        // One hash for every key: all overflow from one home bucket, past 255.
        let rehash = |_: &Entry| 42u64;
        let mut table = EntryTable::default();
        for key in 0..2_000u16 {
            table.upsert(42, entry(key, 1), rehash);
        }
        table.check(rehash);
        assert!(
            table
                .buckets
                .iter()
                .any(|bucket| bucket.overflow == SATURATED)
        );
        for key in (0..2_000u16).step_by(2) {
            assert!(table.remove(42, &key.to_le_bytes()).is_some());
        }
        table.check(rehash);
        for key in 0..2_000u16 {
            let found = table.get(42, &key.to_le_bytes()).is_some();
            assert_eq!(found, key % 2 == 1, "key {key}");
        }
        table.shrink_to_fit(rehash);
        table.check(rehash);
        assert_eq!(table.len(), 1_000);
    }

    #[test]
    fn an_empty_table_allocates_nothing_and_finds_nothing() {
        let mut table = EntryTable::default();
        assert_eq!(table.capacity(), 0);
        assert!(table.get(7, b"k").is_none());
        assert!(table.remove(7, b"k").is_none());
        table.upsert(7, Entry::new(b"k", Value::Int(1), 1, None), |_| 7);
        assert!(table.capacity() > 0);
        table.remove(7, b"k");
        table.shrink_to_fit(|_| 7);
        assert_eq!(table.capacity(), 0);
    }
}
