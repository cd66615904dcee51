//! Replacing the base under the overlay: the one way overlay entries leave the map
//! without a write.
//!
//! The invariant: a reader that has seen a key at version `v` never later sees it at
//! an older version (or missing, if it was not deleted). After a snapshot at LSN `L`,
//! the overlay entries written at or before `L` are what the new base holds, so they
//! may go, but only from a copy of the map that already has the new base. Left-right
//! applies the oplog to both copies in order, so it is enough that the base goes into
//! the oplog before the first trim step: whichever copy a reader enters, if a trim
//! step reached it, so did the base. [`BaseSwap`] is how the commit thread swaps and
//! trims, so that order is the only one it can produce; the loom model below runs
//! the real overlay under a real reader and checks the invariant in every
//! interleaving.
//!
//! (The base lives in the published state itself rather than behind an `ArcSwap`
//! beside it: with two separately swapped pointers, a reader could pair a trimmed
//! overlay with the old base. Here swap and trim are ordinary oplog entries.)

use std::sync::Arc;

use left_right::WriteHandle;

use crate::entry::Lsn;
use crate::overlay::{Overlay, OverlayOp, SHARD_COUNT};
use crate::snapshot::Base;

/// A base swap under way: the base is in the oplog; the trim has reached shard
/// `next_shard`.
#[derive(Debug)]
pub(crate) struct BaseSwap {
    next_shard: usize,
    upto: Lsn,
}

impl BaseSwap {
    /// Appends `base` to the oplog (published with the writer's next publish) and
    /// returns the trim that must follow it.
    pub(crate) fn begin(writer: &mut WriteHandle<Overlay, OverlayOp>, base: &Arc<Base>) -> Self {
        writer.append(OverlayOp::SetBase(Arc::clone(base)));
        BaseSwap {
            next_shard: 0,
            upto: base.lsn(),
        }
    }

    /// The first shard the trim has not reached yet.
    pub(crate) fn next_shard(&self) -> usize {
        self.next_shard
    }

    /// Appends the trim of the next `shards` shards; returns the rest of the swap,
    /// or `None` when this step finished the trim.
    pub(crate) fn step(
        self,
        writer: &mut WriteHandle<Overlay, OverlayOp>,
        shards: usize,
    ) -> Option<Self> {
        assert!(shards > 0, "a trim step must make progress");
        writer.append(OverlayOp::Trim {
            first: self.next_shard,
            count: shards,
            upto: self.upto,
        });
        let next_shard = self.next_shard + shards;
        (next_shard < SHARD_COUNT).then_some(BaseSwap {
            next_shard,
            upto: self.upto,
        })
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::entry::Entry;
    use crate::hash::KeyHasher;
    use crate::snapshot::writer;
    use crate::value::Value;
    use loom::thread;

    const SEED: u64 = 11;

    /// A snapshot at `lsn` holding `key` at version `version`, mapped.
    fn base_with(dir: &std::path::Path, lsn: Lsn, key: &[u8], version: Lsn) -> Arc<Base> {
        let hasher = KeyHasher::with_seed(SEED);
        let entry = Entry::new(key, Value::from("base"), version, None);
        let written = writer::write(
            dir,
            lsn,
            SEED,
            vec![writer::Keyed::live(hasher.hash_one(key), entry)],
            &crate::doc::catalog::Catalog::default(),
        )
        .unwrap();
        Arc::new(Base::open(&written.path, true).unwrap())
    }

    fn put(key: &[u8], version: Lsn) -> OverlayOp {
        OverlayOp::Put(Entry::new(key, Value::from("overlay"), version, None))
    }

    /// A reader looks a key up twice while the commit thread swaps in a base and
    /// trims in two steps: the second look never finds an older version than the
    /// first, and the key is never missing. A key written after the base survives
    /// the trim.
    ///
    /// The old base holds `k` at version 1, the overlay at version 3, the new base
    /// (at LSN 3) at version 3: a trim that reached a copy before its base would show
    /// the reader version 1.
    #[test]
    fn readers_never_go_back_while_a_base_swaps_and_trims() {
        let dir = tempfile::tempdir().unwrap();
        let old_base = base_with(dir.path(), 1, b"k", 1);
        let new_base = base_with(dir.path(), 3, b"k", 3);
        loom::model(move || {
            let overlay = Overlay::new(
                KeyHasher::with_seed(SEED),
                Some(Arc::clone(&old_base)),
                true,
            );
            let (mut writer, reader) = left_right::new_from_empty::<Overlay, OverlayOp>(overlay);
            writer.append(put(b"k", 3));
            writer.append(put(b"later", 4));
            writer.publish();

            let looker = thread::spawn(move || {
                let mut seen = 0;
                for _ in 0..2 {
                    let map = reader.enter().expect("the writer outlives the reader");
                    let version = map
                        .get(b"k")
                        .unwrap()
                        .expect("k is never missing")
                        .version();
                    assert!(version >= seen, "saw version {version} after {seen}");
                    seen = version;
                }
            });

            let mut swap = Some(BaseSwap::begin(&mut writer, &new_base));
            writer.publish();
            while let Some(step) = swap.take() {
                swap = step.step(&mut writer, SHARD_COUNT / 2);
                writer.publish();
            }
            looker.join().unwrap();

            let map = writer.enter().unwrap();
            assert!(
                map.overlay_entry(b"k", map.hash(b"k")).is_none(),
                "k was trimmed"
            );
            assert_eq!(
                map.get(b"k").unwrap().unwrap().version(),
                3,
                "the new base answers"
            );
            assert_eq!(
                map.get(b"later").unwrap().unwrap().version(),
                4,
                "newer entries stay"
            );
        });
    }
}
