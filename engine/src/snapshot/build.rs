//! Building a snapshot in the background from the live map: the state at LSN L is
//! read from the published map while writes go on, with the entries that changes
//! after L replaced taken from the cut (see [`Cut`]). The work is proportional to
//! the data, not to the changes since the last snapshot, and no write waits for it:
//! the walk holds a reader's guard for one shard at a time, so a publish waits at
//! most for one shard's entries to be counted out.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use left_right::ReadHandle;

use crate::doc::catalog::Catalog;
use crate::entry::{Entry, Lsn};
use crate::hash::KeyHasher;
use crate::overlay::{Overlay, SHARD_COUNT};
use crate::progress::Progress;
use crate::snapshot::Base;
use crate::snapshot::cut::Cut;
use crate::snapshot::writer::{self, Keyed, Written};

/// What a snapshot is built from.
pub(crate) struct Job {
    /// The data directory.
    pub(crate) dir: PathBuf,
    /// The live map, published at least up to the cut's LSN.
    pub(crate) map: ReadHandle<Overlay>,
    /// The cut the commit thread records pre-images in.
    pub(crate) cut: Arc<Cut>,
    /// The base as it was visible at the cut (`None` if there was none, or a flush
    /// hid it).
    pub(crate) base: Option<Arc<Base>>,
    /// The catalog at the cut.
    pub(crate) catalog: Arc<Catalog>,
    /// The database's hasher.
    pub(crate) hasher: KeyHasher,
    /// Whether to validate the written file fully when mapping it.
    pub(crate) validate: bool,
}

impl Job {
    /// Builds, writes and maps the snapshot.
    pub(crate) fn run(self) -> Result<(Arc<Base>, Written), String> {
        let upto_lsn = self.cut.lsn();
        let overlay = self.overlay_at_cut()?;
        let entries = merge(overlay, self.base.as_deref())?;
        write_and_map(
            &self.dir,
            upto_lsn,
            self.hasher,
            entries,
            &self.catalog,
            self.validate,
        )
    }

    /// The overlay's entries at the cut (tombstones included), with their hashes,
    /// sorted by hash and key, one per key.
    fn overlay_at_cut(&self) -> Result<Vec<(u64, Entry)>, String> {
        let mut walked = Vec::new();
        for shard in 0..SHARD_COUNT {
            let map = self.map.enter().ok_or("the database closed")?;
            walk_shard(&map, shard, self.cut.lsn(), self.hasher, &mut walked);
        }
        Ok(at_cut(walked, &self.cut, self.hasher))
    }
}

/// Adds to `into` the entries of `map`'s shard `shard` written at or before
/// `cut_lsn`, with their hashes: each is its key's entry at the cut, as every later
/// change has a later version. (The hash is taken here, while the walk has the
/// entry in the CPU's cache: a pass of its own would miss it again, key by key.)
fn walk_shard(
    map: &Overlay,
    shard: usize,
    cut_lsn: Lsn,
    hasher: KeyHasher,
    into: &mut Vec<(u64, Entry)>,
) {
    into.extend(
        map.shard_entries(shard)
            .filter(|entry| entry.version() <= cut_lsn)
            .map(hashed(hasher)),
    );
}

/// An entry with its key's hash.
fn hashed(hasher: KeyHasher) -> impl Fn(&Entry) -> (u64, Entry) {
    move |entry| (hasher.hash_one(entry.key()), entry.clone())
}

/// The overlay at the cut, from the entries the walk found and the cut's
/// pre-images, taken now, after the walk: every change the walk saw has its
/// pre-image there. A key the walk saw before a change replaced it is in both, with
/// one entry.
fn at_cut(mut walked: Vec<(u64, Entry)>, cut: &Cut, hasher: KeyHasher) -> Vec<(u64, Entry)> {
    walked.extend(
        cut.take()
            .into_iter()
            .map(|entry| (hasher.hash_one(entry.key()), entry)),
    );
    by_hash_and_key(walked)
}

/// `entries` sorted by hash and key, one per key (each key's entries are all the
/// same one).
fn by_hash_and_key(mut entries: Vec<(u64, Entry)>) -> Vec<(u64, Entry)> {
    entries.sort_unstable_by(|(a_hash, a), (b_hash, b)| {
        a_hash.cmp(b_hash).then_with(|| a.key().cmp(b.key()))
    });
    entries.dedup_by(|(a_hash, a), (b_hash, b)| {
        debug_assert!(a_hash != b_hash || a.key() != b.key() || a.version() == b.version());
        a_hash == b_hash && a.key() == b.key()
    });
    entries
}

/// The snapshot's keys, in (hash, key) order: the live entries of `overlay` (sorted
/// by [`by_hash_and_key`]), and the keys of `base` it has no entry for, each read
/// where it lives. The base's entries are in the same order (its file is sorted by
/// hash and key, with the same seed), so one merging pass joins the two, and the
/// writer's sort finds its input sorted. Expired keys are kept, with their expiry,
/// so that a replay after the snapshot sees what the live database saw.
pub(crate) fn merge(
    overlay: Vec<(u64, Entry)>,
    base: Option<&Base>,
) -> Result<Vec<Keyed<'_>>, String> {
    let mut progress = Progress::start("snapshot: collecting keys");
    let mut items = Vec::with_capacity(overlay.len() + base.map_or(0, Base::len));
    let push_live = |hash: u64, entry: Entry, items: &mut Vec<Keyed<'_>>| {
        if !entry.is_tombstone() {
            items.push(Keyed::live(hash, entry));
        }
    };
    let mut overlay = overlay.into_iter().peekable();
    if let Some(base) = base {
        let entries = base
            .entries()
            .map_err(|error| format!("reading the previous snapshot failed: {error}"))?;
        for entry in entries {
            let hash = entry.hash();
            let position = (hash, entry.key());
            while let Some((overlay_hash, newer)) =
                overlay.next_if(|(other_hash, other)| (*other_hash, other.key()) < position)
            {
                push_live(overlay_hash, newer, &mut items);
            }
            match overlay.next_if(|(other_hash, other)| (*other_hash, other.key()) == position) {
                Some((overlay_hash, newer)) => push_live(overlay_hash, newer, &mut items),
                None => items.push(Keyed::base(hash, entry)),
            }
            progress.tick(items.len() as u64, 0);
        }
    }
    for (hash, entry) in overlay {
        push_live(hash, entry, &mut items);
        progress.tick(items.len() as u64, 0);
    }
    debug_assert!(items.is_sorted_by(|a, b| a.position() <= b.position()));
    progress.finish(items.len() as u64, 0);
    Ok(items)
}

/// Writes `entries` and `catalog` as the snapshot at `upto_lsn` in `dir` and maps it.
pub(crate) fn write_and_map(
    dir: &Path,
    upto_lsn: Lsn,
    hasher: KeyHasher,
    entries: Vec<Keyed<'_>>,
    catalog: &Catalog,
    validate: bool,
) -> Result<(Arc<Base>, Written), String> {
    let written =
        writer::write(dir, upto_lsn, hasher.seed(), entries, catalog).map_err(|error| {
            format!(
                "writing the snapshot into {} failed: {error}",
                dir.display()
            )
        })?;
    let base = Base::open(&written.path, validate).map_err(|error| error.to_string())?;
    Ok((Arc::new(base), written))
}

/// What a snapshot of `map`, which nothing changes any more (at a clean close), is
/// merged from: the overlay's entries (sorted by [`by_hash_and_key`]) and the base
/// under them, if it shows.
pub(crate) fn collect(map: &Overlay, hasher: KeyHasher) -> (Vec<(u64, Entry)>, Option<Arc<Base>>) {
    let overlay = by_hash_and_key(map.overlay_entries().map(hashed(hasher)).collect());
    let base = map.base().filter(|_| !map.base_hidden()).cloned();
    (overlay, base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::overlay::OverlayOp;
    use crate::value::Value;

    fn put(key: &str, value: &str, version: Lsn) -> OverlayOp {
        OverlayOp::Put(Entry::new(
            key.as_bytes(),
            Value::from(value),
            version,
            None,
        ))
    }

    /// A walk interleaved with changes after the cut (overwrites, deletes, new keys,
    /// a flush) finds exactly the overlay as it was at the cut.
    #[test]
    fn a_walk_between_changes_finds_the_overlay_at_the_cut() {
        let hasher = KeyHasher::with_seed(3);
        let (mut writer, reader) =
            left_right::new_from_empty::<Overlay, OverlayOp>(Overlay::new(hasher, None, true));
        let keys = 4_000;
        for i in 0..keys {
            writer.append(put(&format!("k{i}"), "at-cut", 1 + i % 10));
        }
        writer.append(OverlayOp::Remove(Entry::tombstone(b"gone", 10)));
        writer.publish();
        let cut = Arc::new(Cut::new(10));
        writer.append(OverlayOp::SetCut(Some(Arc::clone(&cut))));

        let mut walked = Vec::new();
        let walk = |shards: std::ops::Range<usize>, walked: &mut Vec<(u64, Entry)>| {
            for shard in shards {
                walk_shard(&reader.enter().unwrap(), shard, 10, hasher, walked);
            }
        };
        walk(0..SHARD_COUNT / 2, &mut walked);
        let changes: Vec<OverlayOp> = (0..keys / 4)
            .map(|i| match i % 3 {
                0 => put(&format!("k{i}"), "after", 11),
                1 => OverlayOp::Remove(Entry::tombstone(format!("k{i}").as_bytes(), 11)),
                _ => put(&format!("new{i}"), "after", 11),
            })
            .collect();
        writer.append(OverlayOp::Group(changes));
        writer.append(OverlayOp::Remove(Entry::tombstone(b"k3999", 11)));
        writer.publish();
        walk(SHARD_COUNT / 2..SHARD_COUNT * 3 / 4, &mut walked);
        writer.append(OverlayOp::Clear(12));
        writer.append(put("k1", "after-flush", 13));
        writer.publish();
        walk(SHARD_COUNT * 3 / 4..SHARD_COUNT, &mut walked);

        let found: Vec<(String, String, Lsn)> = at_cut(walked, &cut, hasher)
            .into_iter()
            .map(|(hash, entry)| {
                assert_eq!(hash, hasher.hash_one(entry.key()));
                let value = match entry.is_tombstone() {
                    true => "tombstone".to_string(),
                    false => format!("{:?}", entry.value()),
                };
                let key = String::from_utf8(entry.key().to_vec()).unwrap();
                (key, value, entry.version())
            })
            .collect();
        let mut expected: Vec<(String, String, Lsn)> = (0..keys)
            .map(|i| {
                let value = format!("{:?}", Value::from("at-cut"));
                (format!("k{i}"), value, 1 + i % 10)
            })
            .chain([("gone".to_string(), "tombstone".to_string(), 10)])
            .collect();
        expected.sort();
        let mut found_sorted = found.clone();
        found_sorted.sort();
        assert_eq!(found_sorted, expected);
        // Sorted by hash, one entry per key.
        assert!(
            found
                .windows(2)
                .all(|pair| hasher.hash_one(pair[0].0.as_bytes())
                    <= hasher.hash_one(pair[1].0.as_bytes()))
        );
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::overlay::OverlayOp;
    use crate::value::Value;
    use loom::thread;

    fn put(key: &[u8], version: Lsn) -> OverlayOp {
        OverlayOp::Put(Entry::new(key, Value::from("v"), version, None))
    }

    /// Two keys, one in each half of the shards.
    fn keys_in_both_halves(hasher: KeyHasher) -> (Vec<u8>, Vec<u8>) {
        let half = |key: &[u8]| (hasher.hash_one(key) >> 63) as usize;
        let candidates: Vec<Vec<u8>> = (0..64).map(|i| format!("k{i}").into_bytes()).collect();
        let first = candidates.iter().find(|key| half(key) == 0).unwrap();
        let second = candidates.iter().find(|key| half(key) == 1).unwrap();
        (first.clone(), second.clone())
    }

    /// The snapshot thread walks the two halves of the shards, each under a guard of
    /// its own, while the commit thread overwrites one key and deletes the other,
    /// then flushes: in every interleaving, the walk and the pre-images taken after
    /// it give both keys exactly as they were at the cut.
    #[test]
    fn a_walk_finds_the_state_at_the_cut_whatever_changes_meanwhile() {
        let hasher = KeyHasher::with_seed(7);
        let (a, b) = keys_in_both_halves(hasher);
        loom::model(move || {
            let (mut writer, reader) =
                left_right::new_from_empty::<Overlay, OverlayOp>(Overlay::new(hasher, None, true));
            writer.append(put(&a, 1));
            writer.append(put(&b, 2));
            writer.publish();
            let cut = Arc::new(Cut::new(2));
            writer.append(OverlayOp::SetCut(Some(Arc::clone(&cut))));

            let walker = {
                let cut = Arc::clone(&cut);
                thread::spawn(move || {
                    let mut walked = Vec::new();
                    for half in [0..SHARD_COUNT / 2, SHARD_COUNT / 2..SHARD_COUNT] {
                        let map = reader.enter().expect("the writer outlives the walk");
                        for shard in half {
                            walk_shard(&map, shard, cut.lsn(), hasher, &mut walked);
                        }
                    }
                    at_cut(walked, &cut, hasher)
                        .into_iter()
                        .map(|(_, entry)| (entry.key().to_vec(), entry.version()))
                        .collect::<Vec<_>>()
                })
            };

            writer.append(put(&a, 3));
            writer.append(OverlayOp::Remove(Entry::tombstone(&b, 3)));
            writer.publish();
            writer.append(OverlayOp::Clear(4));
            writer.publish();

            let mut found = walker.join().unwrap();
            found.sort();
            let mut expected = vec![(a.clone(), 1), (b.clone(), 2)];
            expected.sort();
            assert_eq!(found, expected);
        });
    }
}
