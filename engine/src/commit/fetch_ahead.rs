//! Fetching ahead the collection items a group of writes will look up.
//!
//! A write to a large set or hash finds its member or field by walking a trie: a
//! chain of dependent cache misses, about a microsecond on a 100k-field hash on
//! these machines. A group of such writes (pipelines of HSETs to one hash from many
//! connections) paid them one write after the other: `Trie::get` took 29% of the
//! server's CPU under redis-benchmark's HSET with `-P 16`. Before applying a group,
//! the commit thread now walks all its items' paths at once
//! ([`crate::trie::Trie::prefetch_paths`]), so their misses overlap, and the writes
//! find the lines in cache.

use std::collections::VecDeque;

use left_right::ReadHandle;

use crate::commit::Submission;
use crate::overlay::Overlay;

/// Items fetched ahead per group at most: the lines of more would evict those of
/// the first before their writes run (each item's path ends in two or three lines
/// of its own).
const FETCH_AHEAD_ITEMS: usize = 1024;

/// Starts loading the trie paths of the set members and hash fields that `group`'s
/// operations find, in the collections `published` holds (the commit thread's
/// current state: staging is empty between groups).
pub(super) fn collection_items(published: &ReadHandle<Overlay>, group: &VecDeque<Submission>) {
    let items: Vec<(&[u8], &[u8])> = group
        .iter()
        .filter_map(|submission| match submission {
            Submission::Write { batch, .. } => Some(batch.ops.iter()),
            _ => None,
        })
        .flatten()
        .filter_map(|op| op.items())
        .flat_map(|(key, items)| items.map(move |item| (key, item)))
        .take(FETCH_AHEAD_ITEMS)
        .collect();
    if items.is_empty() {
        return;
    }
    let Some(map) = published.enter() else {
        return;
    };
    // A run of operations on one key (a pipeline to one hash) is one lookup of the
    // key and one walk.
    for run in items.chunk_by(|(a, _), (b, _)| a == b) {
        if let Ok(Some(found)) = map.get(run[0].0) {
            found.prefetch_items(run.iter().map(|(_, item)| *item));
        }
    }
}
