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
    let mut ops = group
        .iter()
        .filter_map(|submission| match submission {
            Submission::Write { batch, .. } => Some(batch.ops.iter()),
            _ => None,
        })
        .flatten()
        .filter_map(|op| op.items())
        .peekable();
    if ops.peek().is_none() {
        return;
    }
    let Some(map) = published.enter() else {
        return;
    };
    let mut budget = FETCH_AHEAD_ITEMS;
    while budget > 0
        && let Some((key, items)) = ops.next()
    {
        // The ops that follow on the same key (a pipeline to one hash) join this
        // key's walk: one lookup of the key, and their misses overlap too.
        let same_key = std::iter::from_fn(|| ops.next_if(|(next, _)| *next == key))
            .flat_map(|(_, items)| items);
        let mut items = items.chain(same_key).take(budget).inspect(|_| budget -= 1);
        if let Ok(Some(found)) = map.get(key) {
            found.prefetch_items(&mut items);
        }
        // (What the walk left: a small collection's, which is not walked.)
        items.for_each(drop);
    }
}
