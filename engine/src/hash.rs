//! The key hash: seeded XXH3, the same on every machine and every version.
//!
//! The hash orders the overlay's shards and scans, and the snapshot's entries are
//! sorted by it, so a scan walks both in one order. That only works if the hash a
//! snapshot was written with is the hash its reader computes: XXH3 is specified
//! bit for bit (unlike ahash, whose output depends on the CPU and the crate
//! version). The seed is random per database, chosen at creation and kept in every
//! snapshot, so that outside input cannot aim keys at one bucket without knowing it.

/// Hashes keys with the database's seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyHasher {
    seed: u64,
}

impl KeyHasher {
    /// A hasher with `seed`.
    pub(crate) fn with_seed(seed: u64) -> Self {
        KeyHasher { seed }
    }

    /// A hasher with a fresh random seed (for a new database).
    pub(crate) fn random() -> Self {
        KeyHasher::with_seed(random_u64())
    }

    /// The seed, for the snapshot header.
    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }

    /// The hash of `key`.
    #[inline]
    pub(crate) fn hash_one(&self, key: &[u8]) -> u64 {
        xxhash_rust::xxh3::xxh3_64_with_seed(key, self.seed)
    }
}

/// A random 64-bit number: std's `RandomState` is seeded from the OS, and one hash
/// of a fixed value turns it into a u64.
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0x6368_6972_616c);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_stable_across_runs_and_machines() {
        // XXH3's specified output: a change here breaks every snapshot on disk.
        assert_eq!(KeyHasher::with_seed(0).hash_one(b""), 0x2d06_8005_38d3_94c2);
        let hasher = KeyHasher::with_seed(42);
        assert_eq!(hasher.hash_one(b"key"), hasher.hash_one(b"key"));
        assert_ne!(
            hasher.hash_one(b"key"),
            KeyHasher::with_seed(43).hash_one(b"key")
        );
    }
}
