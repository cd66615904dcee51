//! Paging through the items of one hash or set (HSCAN, SSCAN) with a cursor.
//!
//! A collection has no order of its own that survives writes (the overlay holds it
//! as a hash trie, the snapshot as a sorted array), so pages follow the order of the
//! items' 64-bit hashes under the database's hasher, which writes do not change. The
//! cursor is the lowest hash the next page may hold: every item that is in the
//! collection for the whole scan is returned exactly once, and one added or removed
//! meanwhile may or may not be, as with Redis. Items with equal hashes always share
//! a page, so none is skipped.
//!
//! Finding a page reads the whole collection, so a page holds at least
//! `1 / MAX_PAGES` of it: a full scan costs at most `MAX_PAGES` reads of the
//! collection, whatever COUNT says. Collections of at most `WHOLE_ITEMS` items are
//! answered in one page, as Redis answers its small encodings.

/// Collections up to this size are answered whole, with cursor 0.
pub(crate) const WHOLE_ITEMS: usize = 128;
/// A scan of any collection takes at most about this many pages.
pub(crate) const MAX_PAGES: usize = 64;

/// The page of `items` (each with its hash) that starts at `cursor` and holds at
/// least `count` items, with the cursor of the next page (0: the scan is complete).
/// `total` is the collection's size, which sets the smallest page.
pub(crate) fn page<T>(
    mut items: Vec<(u64, T)>,
    total: usize,
    cursor: u64,
    count: usize,
) -> (Vec<T>, u64) {
    items.retain(|(hash, _)| *hash >= cursor);
    let size = if total <= WHOLE_ITEMS {
        usize::MAX
    } else {
        count.max(total.div_ceil(MAX_PAGES)).max(1)
    };
    if items.len() <= size {
        return (items.into_iter().map(|(_, item)| item).collect(), 0);
    }
    items.select_nth_unstable_by_key(size - 1, |(hash, _)| *hash);
    let last = items[size - 1].0;
    // Everything at or below the page's last hash, ties included.
    items.retain(|(hash, _)| *hash <= last);
    let next = last.checked_add(1).unwrap_or(0);
    (items.into_iter().map(|(_, item)| item).collect(), next)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// All pages of `items` with COUNT `count`.
    fn scan_all(items: &[(u64, u32)], count: usize) -> Vec<Vec<u32>> {
        let mut pages = Vec::new();
        let mut cursor = 0;
        loop {
            let (page, next) = page(items.to_vec(), items.len(), cursor, count);
            pages.push(page);
            if next == 0 {
                return pages;
            }
            assert!(next > cursor, "the cursor moves forward");
            cursor = next;
        }
    }

    #[test]
    fn small_collections_come_whole() {
        let items: Vec<(u64, u32)> = (0..WHOLE_ITEMS as u32)
            .map(|i| (u64::from(i) * 977, i))
            .collect();
        assert_eq!(
            scan_all(&items, 10),
            vec![(0..WHOLE_ITEMS as u32).collect::<Vec<_>>()]
        );
    }

    #[test]
    fn a_collection_that_shrinks_mid_scan_ends_without_repeats() {
        let items: Vec<(u64, u32)> = (0..1_000u32).map(|i| (u64::from(i) << 40, i)).collect();
        let (first, cursor) = page(items.clone(), items.len(), 0, 10);
        let small: Vec<(u64, u32)> = items.into_iter().filter(|(_, i)| i % 10 == 0).collect();
        let (rest, next) = page(small.clone(), small.len(), cursor, 10);
        assert_eq!(next, 0);
        assert!(rest.iter().all(|i| !first.contains(i)));
        assert_eq!(
            first.iter().filter(|i| *i % 10 == 0).count() + rest.len(),
            100
        );
    }

    #[test]
    fn every_item_comes_once_in_bounded_pages() {
        let items: Vec<(u64, u32)> = (0..10_000u32)
            .map(|i| (u64::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15), i))
            .collect();
        for count in [1, 10, 1_000, 20_000] {
            let pages = scan_all(&items, count);
            assert!(
                pages.len() <= MAX_PAGES + 1,
                "count {count}: {} pages",
                pages.len()
            );
            let mut seen: Vec<u32> = pages.concat();
            seen.sort_unstable();
            assert_eq!(seen, (0..10_000).collect::<Vec<_>>(), "count {count}");
            if count >= 10_000 {
                assert_eq!(pages.len(), 1);
            }
        }
    }

    #[test]
    fn equal_hashes_share_a_page_and_the_last_hash_ends_the_scan() {
        // 300 items on 3 hashes, the last one u64::MAX.
        let items: Vec<(u64, u32)> = (0..300u32)
            .map(|i| ([5, 9, u64::MAX][i as usize % 3], i))
            .collect();
        let pages = scan_all(&items, 1);
        assert_eq!(pages.len(), 3);
        assert!(pages.iter().all(|page| page.len() == 100));
    }

    #[test]
    fn items_added_or_removed_mid_scan_leave_the_others_whole() {
        let mut items: Vec<(u64, u32)> = (0..1_000u32).map(|i| (u64::from(i) << 50, i)).collect();
        let (first, cursor) = page(items.clone(), items.len(), 0, 100);
        assert_ne!(cursor, 0);
        // Remove some returned items and some not yet returned; add new ones.
        items.retain(|(_, i)| i % 7 != 0);
        items.extend((1_000..1_100u32).map(|i| ((u64::from(i) << 50) ^ 1, i)));
        let mut seen = first;
        let mut cursor = cursor;
        while cursor != 0 {
            let (more, next) = page(items.clone(), items.len(), cursor, 100);
            seen.extend(more);
            cursor = next;
        }
        for i in (0..1_000u32).filter(|i| i % 7 != 0) {
            assert_eq!(seen.iter().filter(|&&s| s == i).count(), 1, "item {i}");
        }
    }
}
