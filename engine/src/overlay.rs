//! The left-right map: every live key, readable without locks.
//!
//! One `Overlay` is one copy; `left_right` keeps two and swaps them on publish. Only
//! the commit thread writes, through [`OverlayOp`]s that are applied once to each
//! copy, so every op must be deterministic: both copies share one hasher (cloned
//! seeds), and an op carries the finished `Entry`, never a computation.
//!
//! The table is split into `SHARD_COUNT` shards by the top bits of the key's hash.
//! That gives scans a stable order (hash order) across concurrent writes and table
//! growth, and makes each growth step small.

use hashbrown::HashTable;

use crate::entry::Entry;

/// log2 of the shard count.
const SHARD_BITS: u32 = 10;
/// Shards in one copy of the map.
const SHARD_COUNT: usize = 1 << SHARD_BITS;

/// A change to one copy of the map.
#[derive(Debug)]
pub(crate) enum OverlayOp {
    /// Insert or replace the key's entry.
    Put(Entry),
    /// Remove the key.
    Remove(Box<[u8]>),
    /// Remove every key.
    Clear,
}

/// One copy of the map.
#[derive(Clone)]
pub(crate) struct Overlay {
    hasher: ahash::RandomState,
    shards: Box<[HashTable<Entry>]>,
    len: usize,
}

/// One page of a scan.
#[derive(Debug, Default)]
pub(crate) struct ScanPage {
    /// The entries of the page that passed the filter, in hash order.
    pub(crate) entries: Vec<Entry>,
    /// Where the next page starts; 0 when the scan is complete.
    pub(crate) next_cursor: u64,
}

impl Overlay {
    /// An empty map whose hasher is `hasher` (shared with the commit thread's staging).
    pub(crate) fn new(hasher: ahash::RandomState) -> Self {
        Overlay {
            hasher,
            shards: (0..SHARD_COUNT).map(|_| HashTable::new()).collect(),
            len: 0,
        }
    }

    /// The key's hash: its top bits pick the shard and order scans.
    pub(crate) fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn shard_of(hash: u64) -> usize {
        (hash >> (64 - SHARD_BITS)) as usize
    }

    /// The hash a shard's table sees. The shard bits (the top ones) are the same for
    /// every key of a shard, and hashbrown uses the top 7 bits as its tag and the low
    /// bits as the bucket index: rotate right so that both come from varying bits and
    /// the shard bits sit unused in the middle.
    fn table_hash(hash: u64) -> u64 {
        hash.rotate_right(SHARD_BITS)
    }

    /// The key's entry, expired or not.
    pub(crate) fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.get_hashed(key, self.hash(key))
    }

    /// The key's entry, given the key's [`Overlay::hash`].
    pub(crate) fn get_hashed(&self, key: &[u8], hash: u64) -> Option<&Entry> {
        self.shards[Self::shard_of(hash)].find(Self::table_hash(hash), |entry| *entry.key() == *key)
    }

    /// Number of keys, expired ones included.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn apply(&mut self, op: OverlayOp) {
        match op {
            OverlayOp::Put(entry) => {
                let hash = self.hash(entry.key());
                let hasher = &self.hasher;
                let shard = &mut self.shards[Self::shard_of(hash)];
                match shard.entry(
                    Self::table_hash(hash),
                    |old| old.key() == entry.key(),
                    |old| Self::table_hash(hasher.hash_one(old.key())),
                ) {
                    hashbrown::hash_table::Entry::Occupied(mut slot) => *slot.get_mut() = entry,
                    hashbrown::hash_table::Entry::Vacant(slot) => {
                        slot.insert(entry);
                        self.len += 1;
                    }
                }
            }
            OverlayOp::Remove(key) => {
                let hash = self.hash(&key);
                let shard = &mut self.shards[Self::shard_of(hash)];
                if let Ok(slot) = shard.find_entry(Self::table_hash(hash), |old| old.key() == &*key)
                {
                    slot.remove();
                    self.len -= 1;
                }
            }
            OverlayOp::Clear => {
                for shard in self.shards.iter_mut() {
                    // Drop the memory too: a flushed database should not keep its peak size.
                    *shard = HashTable::new();
                }
                self.len = 0;
            }
        }
    }

    /// One page of a scan in hash order, starting at hash `cursor` (0 to begin).
    ///
    /// A page visits at least `count` keys (more when keys share the last hash), then
    /// keeps those for which `keep` holds. Because the order is by hash and hashes do
    /// not change, a key present for the whole scan is on exactly one page, however
    /// the map changes between pages.
    pub(crate) fn scan(
        &self,
        cursor: u64,
        count: usize,
        mut keep: impl FnMut(&Entry) -> bool,
    ) -> ScanPage {
        let count = count.max(1);
        let mut page = ScanPage::default();
        let mut visited = 0usize;
        let mut candidates: Vec<(u64, &Entry)> = Vec::new();
        for shard in &self.shards[Self::shard_of(cursor)..] {
            candidates.clear();
            candidates.extend(
                shard
                    .iter()
                    .map(|entry| (self.hash(entry.key()), entry))
                    .filter(|(hash, _)| *hash >= cursor),
            );
            candidates.sort_unstable_by_key(|(hash, _)| *hash);
            for (position, (hash, entry)) in candidates.iter().enumerate() {
                if keep(entry) {
                    page.entries.push(Entry::clone(entry));
                }
                visited += 1;
                let last_of_hash = candidates
                    .get(position + 1)
                    .is_none_or(|(next, _)| next != hash);
                if visited >= count && last_of_hash {
                    // hash + 1 overflows only at the very last hash: then the scan is done.
                    page.next_cursor = hash.checked_add(1).unwrap_or(0);
                    return page;
                }
            }
        }
        page.next_cursor = 0;
        page
    }
}

impl left_right::Absorb<OverlayOp> for Overlay {
    fn absorb_first(&mut self, op: &mut OverlayOp, _other: &Self) {
        let copy = match op {
            OverlayOp::Put(entry) => OverlayOp::Put(entry.clone()),
            OverlayOp::Remove(key) => OverlayOp::Remove(key.clone()),
            OverlayOp::Clear => OverlayOp::Clear,
        };
        self.apply(copy);
    }

    fn absorb_second(&mut self, op: OverlayOp, _other: &Self) {
        self.apply(op);
    }

    fn sync_with(&mut self, first: &Self) {
        self.clone_from(first);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;
    use std::collections::HashSet;

    fn entry(key: &str) -> Entry {
        Entry::new(key.as_bytes(), Value::from("v"), 1, None)
    }

    fn scan_all(map: &Overlay, count: usize) -> Vec<String> {
        let mut cursor = 0;
        let mut keys = Vec::new();
        loop {
            let page = map.scan(cursor, count, |_| true);
            keys.extend(
                page.entries
                    .iter()
                    .map(|e| String::from_utf8(e.key().to_vec()).unwrap()),
            );
            if page.next_cursor == 0 {
                return keys;
            }
            cursor = page.next_cursor;
        }
    }

    #[test]
    fn put_replace_remove_clear() {
        let mut map = Overlay::new(ahash::RandomState::new());
        map.apply(OverlayOp::Put(entry("a")));
        map.apply(OverlayOp::Put(entry("a")));
        map.apply(OverlayOp::Put(entry("b")));
        assert_eq!(map.len(), 2);
        map.apply(OverlayOp::Remove(b"a".as_slice().into()));
        map.apply(OverlayOp::Remove(b"zz".as_slice().into()));
        assert!(map.get(b"a").is_none());
        assert!(map.get(b"b").is_some());
        assert_eq!(map.len(), 1);
        map.apply(OverlayOp::Clear);
        assert_eq!(map.len(), 0);
        assert!(map.get(b"b").is_none());
    }

    #[test]
    fn scan_returns_every_key_once_at_any_page_size() {
        let mut map = Overlay::new(ahash::RandomState::new());
        for i in 0..5000 {
            map.apply(OverlayOp::Put(entry(&format!("k{i}"))));
        }
        for count in [1, 7, 100, 10_000] {
            let keys = scan_all(&map, count);
            assert_eq!(keys.len(), 5000);
            assert_eq!(keys.iter().collect::<HashSet<_>>().len(), 5000);
        }
    }

    #[test]
    fn scan_survives_growth_between_pages() {
        let mut map = Overlay::new(ahash::RandomState::new());
        for i in 0..1000 {
            map.apply(OverlayOp::Put(entry(&format!("old{i}"))));
        }
        let mut cursor = 0;
        let mut seen = HashSet::new();
        let mut added = 0;
        loop {
            let page = map.scan(cursor, 10, |_| true);
            seen.extend(page.entries.iter().map(|e| e.key().to_vec()));
            // Triple the map between the first pages, forcing every shard to resize.
            if added < 2000 {
                for _ in 0..200 {
                    map.apply(OverlayOp::Put(entry(&format!("new{added}"))));
                    added += 1;
                }
            }
            if page.next_cursor == 0 {
                break;
            }
            cursor = page.next_cursor;
        }
        for i in 0..1000 {
            assert!(seen.contains(format!("old{i}").as_bytes()), "old{i} missed");
        }
    }
}
