//! One member, field, value or list item of a large collection, as its persistent
//! tree stores it.
//!
//! A write to a persistent tree copies the nodes on its path, cloning every item
//! they hold, and the replaced version later drops them all again. As `Bytes`, an
//! item cost an indirect call and an atomic reference-count update on each clone
//! and drop, plus two heap allocations (its buffer, and the shared header `Bytes`
//! adds on the first clone). Most items are short (field names, members, counters),
//! so an `Item` keeps up to [`INLINE_BYTES`] bytes in itself (cloned by a copy,
//! dropped for free) and shares longer ones behind one reference count.

use std::borrow::Borrow;
use std::sync::Arc;

use bytes::Bytes;

/// The longest item kept inline: what fits beside the variant's tag and length in
/// the 24 bytes that a shared item (a fat pointer) takes anyway.
pub(crate) const INLINE_BYTES: usize = 22;

/// An immutable byte string, inline when short.
#[derive(Clone)]
pub(crate) enum Item {
    /// `len` bytes at the start of `bytes`. Invariant: `len <= INLINE_BYTES`.
    Inline { len: u8, bytes: [u8; INLINE_BYTES] },
    /// Longer than `INLINE_BYTES`.
    Shared(Arc<[u8]>),
}

const _: () = assert!(std::mem::size_of::<Item>() == 24);

impl Item {
    /// The item's bytes, copied in.
    pub(crate) fn new(item: &[u8]) -> Self {
        if item.len() <= INLINE_BYTES {
            let mut bytes = [0; INLINE_BYTES];
            bytes[..item.len()].copy_from_slice(item);
            Item::Inline {
                len: item.len() as u8,
                bytes,
            }
        } else {
            Item::Shared(Arc::from(item))
        }
    }

    /// The item as `Bytes` (a copy).
    pub(crate) fn to_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

impl From<Bytes> for Item {
    fn from(item: Bytes) -> Self {
        Item::new(&item)
    }
}

impl std::ops::Deref for Item {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Item::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Item::Shared(bytes) => bytes,
        }
    }
}

impl Borrow<[u8]> for Item {
    fn borrow(&self) -> &[u8] {
        self
    }
}

/// Equal as byte strings, as `Borrow<[u8]>` requires.
impl PartialEq for Item {
    fn eq(&self, other: &Item) -> bool {
        **self == **other
    }
}

impl Eq for Item {}

/// Hashed as its byte string, as `Borrow<[u8]>` requires.
impl std::hash::Hash for Item {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn short_items_are_inline_and_long_ones_shared_at_the_boundary() {
        for len in [0, 1, INLINE_BYTES - 1, INLINE_BYTES, INLINE_BYTES + 1, 200] {
            let bytes: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let item = Item::new(&bytes);
            assert_eq!(&*item, &bytes[..], "length {len}");
            assert_eq!(&*item.clone(), &bytes[..], "length {len}, cloned");
            assert_eq!(item.to_bytes(), bytes, "length {len}");
            assert_eq!(
                matches!(item, Item::Inline { .. }),
                len <= INLINE_BYTES,
                "length {len}"
            );
        }
    }

    #[test]
    fn equality_and_hash_are_the_byte_strings() {
        let state = std::collections::hash_map::RandomState::new();
        let short = Item::new(b"field");
        let long = Item::new(&[7; 40]);
        assert!(short == Item::from(Bytes::from_static(b"field")));
        assert!(short != Item::new(b"fielD"));
        assert!(long == Item::new(&[7; 40]) && long != short);
        assert_eq!(state.hash_one(&short), state.hash_one(b"field".as_slice()));
        assert_eq!(state.hash_one(&long), state.hash_one([7u8; 40].as_slice()));
    }
}
