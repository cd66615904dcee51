//! Building a snapshot in the background: the state at LSN L is the previous base
//! plus the log records after it up to L, replayed into a private map by the same
//! code that recovers a database at open. The live database is not touched, so no
//! write waits, and no reader's guard is held for the length of the job.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::commit::Committer;
use crate::doc::catalog::Catalog;
use crate::entry::Lsn;
use crate::hash::KeyHasher;
use crate::options::Options;
use crate::overlay::{Overlay, OverlayOp};
use crate::progress::Progress;
use crate::snapshot::Base;
use crate::snapshot::writer::{self, Item, Written};
use crate::wal::recover;

/// What a snapshot is built from.
pub(crate) struct Job {
    /// The data directory.
    pub(crate) dir: PathBuf,
    /// The previous snapshot, if any.
    pub(crate) base: Option<Arc<Base>>,
    /// The LSN the state is taken at.
    pub(crate) upto_lsn: Lsn,
    /// The closed log segments that hold the records after the base, up to `upto_lsn`.
    pub(crate) segments: Vec<(Lsn, PathBuf)>,
    /// The database's hasher.
    pub(crate) hasher: KeyHasher,
    /// Its options (limits and clock, for the replay).
    pub(crate) options: Options,
    /// Whether to validate the written file fully when mapping it.
    pub(crate) validate: bool,
}

impl Job {
    /// Builds, writes and maps the snapshot.
    pub(crate) fn run(self) -> Result<(Arc<Base>, Written), String> {
        let after_lsn = self.base.as_ref().map_or(0, |base| base.lsn());
        let (writer, reader) = left_right::new_from_empty::<Overlay, OverlayOp>(Overlay::new(
            self.hasher,
            self.base.clone(),
            true,
        ));
        let mut committer = Committer::for_replay(writer, self.hasher, after_lsn, &self.options);
        recover::replay_closed(&self.segments, after_lsn, self.upto_lsn, |lsn, payload| {
            committer.replay(lsn, payload)
        })
        .map_err(|error| error.to_string())?;
        committer.publish_replayed();
        let (entries, catalog) = {
            let map = reader.enter().ok_or("the replay map closed early")?;
            (collect(&map, self.hasher)?, Arc::clone(map.catalog()))
        };
        drop(committer);
        write_and_map(
            &self.dir,
            self.upto_lsn,
            self.hasher,
            entries,
            &catalog,
            self.validate,
        )
    }
}

/// Writes `entries` and `catalog` as the snapshot at `upto_lsn` in `dir` and maps it.
pub(crate) fn write_and_map(
    dir: &Path,
    upto_lsn: Lsn,
    hasher: KeyHasher,
    entries: Vec<Item>,
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

/// Every live key of `map` (base and overlay merged; expired keys kept, with their
/// expiry, so that replay after the snapshot sees what the live database saw).
pub(crate) fn collect(map: &Overlay, hasher: KeyHasher) -> Result<Vec<Item>, String> {
    let mut progress = Progress::start("snapshot: collecting keys");
    let mut entries: Vec<Item> = Vec::with_capacity(map.len());
    let mut push = |entry: Item| {
        entries.push(entry);
        progress.tick(entries.len() as u64, 0);
    };
    map.overlay_entries()
        .filter(|entry| !entry.is_tombstone())
        .for_each(|entry| push(Item::from_entry(hasher.hash_one(entry.key()), entry)));
    if let Some(base) = map.base().filter(|_| !map.base_hidden()) {
        base.entries()
            .map_err(|error| format!("reading the previous snapshot failed: {error}"))?
            .map(|entry| (entry.hash(), entry))
            .filter(|(hash, entry)| map.overlay_entry(entry.key(), *hash).is_none())
            .for_each(|(hash, entry)| push(Item::from_base(hash, entry)));
    }
    progress.finish(entries.len() as u64, 0);
    Ok(entries)
}
