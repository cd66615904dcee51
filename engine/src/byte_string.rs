//! The bytes of a string value, inline when short.
//!
//! A key's value lives in its entry, so a short string kept inline shares the
//! entry's allocation: a SET allocates once instead of twice, and a GET reads the
//! value from the cache lines that the key comparison just brought in, instead of
//! following one more pointer (on a large map, one more cache miss per hit). Most
//! values are short (counters, flags, ids, small JSON), so strings of up to
//! [`INLINE_BYTES`] bytes are kept in the value itself, sized so that a [`Value`]
//! takes 40 bytes; longer ones have a buffer of their own.
//!
//! An operation's keys are byte strings too: a key is copied into its entry when the
//! operation applies, so a short one parsed from a request costs no allocation of its
//! own (and no free on the thread that applies it).
//!
//! (Large collections' items have their own inline form, `Item`, which shares long
//! items behind a reference count: path copies clone items, while a string value is
//! cloned rarely and dropped once.)
//!
//! [`Value`]: crate::Value

use std::borrow::Borrow;

/// The longest string kept inline: what fits beside the tag and the length in the
/// 40 bytes of a value.
pub const INLINE_BYTES: usize = 38;

/// An immutable byte string, inline when at most 38 bytes long (`INLINE_BYTES`).
#[derive(Clone)]
pub struct ByteString(Repr);

#[derive(Clone)]
enum Repr {
    /// `len` bytes at the start of `bytes`. Invariant: `len <= INLINE_BYTES`.
    Inline { len: u8, bytes: [u8; INLINE_BYTES] },
    /// Longer than `INLINE_BYTES`.
    Heap(Box<[u8]>),
}

const _: () = assert!(INLINE_BYTES <= u8::MAX as usize);
const _: () = assert!(std::mem::size_of::<ByteString>() == 40);

impl ByteString {
    /// A copy of `bytes`.
    pub fn new(bytes: &[u8]) -> Self {
        if bytes.len() <= INLINE_BYTES {
            let mut inline = [0; INLINE_BYTES];
            inline[..bytes.len()].copy_from_slice(bytes);
            ByteString(Repr::Inline {
                len: bytes.len() as u8,
                bytes: inline,
            })
        } else {
            ByteString(Repr::Heap(bytes.into()))
        }
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Heap(bytes) => bytes,
        }
    }

    /// The bytes as a vector (no copy for a long string).
    pub fn into_vec(self) -> Vec<u8> {
        match self.0 {
            Repr::Inline { .. } => self.as_bytes().to_vec(),
            Repr::Heap(bytes) => bytes.into_vec(),
        }
    }
}

impl std::ops::Deref for ByteString {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for ByteString {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl Borrow<[u8]> for ByteString {
    fn borrow(&self) -> &[u8] {
        self
    }
}

impl From<&[u8]> for ByteString {
    fn from(bytes: &[u8]) -> Self {
        ByteString::new(bytes)
    }
}

impl<const N: usize> From<&[u8; N]> for ByteString {
    fn from(bytes: &[u8; N]) -> Self {
        ByteString::new(bytes)
    }
}

impl From<&str> for ByteString {
    fn from(text: &str) -> Self {
        ByteString::new(text.as_bytes())
    }
}

/// Takes a long vector's buffer as is.
impl From<Vec<u8>> for ByteString {
    fn from(bytes: Vec<u8>) -> Self {
        if bytes.len() <= INLINE_BYTES {
            ByteString::new(&bytes)
        } else {
            ByteString(Repr::Heap(bytes.into_boxed_slice()))
        }
    }
}

/// Takes a long buffer as is.
impl From<Box<[u8]>> for ByteString {
    fn from(bytes: Box<[u8]>) -> Self {
        if bytes.len() <= INLINE_BYTES {
            ByteString::new(&bytes)
        } else {
            ByteString(Repr::Heap(bytes))
        }
    }
}

impl From<ByteString> for Vec<u8> {
    fn from(bytes: ByteString) -> Self {
        bytes.into_vec()
    }
}

/// Equal as byte strings, whatever their form.
impl PartialEq for ByteString {
    fn eq(&self, other: &ByteString) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for ByteString {}

/// Hashed as its byte string, as `Borrow<[u8]>` requires.
impl std::hash::Hash for ByteString {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

/// Shown as its bytes, as a byte slice is.
impl std::fmt::Debug for ByteString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_bytes().fmt(f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn short_strings_are_inline_and_long_ones_boxed_at_the_boundary() {
        for len in [0, 1, INLINE_BYTES - 1, INLINE_BYTES, INLINE_BYTES + 1, 300] {
            let bytes: Vec<u8> = (0..len).map(|i| i as u8).collect();
            for string in [
                ByteString::new(&bytes),
                ByteString::from(bytes.clone()),
                ByteString::from(bytes.clone().into_boxed_slice()),
            ] {
                assert_eq!(&*string, &bytes[..], "length {len}");
                assert_eq!(&*string.clone(), &bytes[..], "length {len}, cloned");
                assert_eq!(
                    matches!(string.0, Repr::Inline { .. }),
                    len <= INLINE_BYTES,
                    "length {len}"
                );
                assert_eq!(string.into_vec(), bytes, "length {len}");
            }
        }
    }

    #[test]
    fn a_value_keeps_its_size() {
        assert_eq!(std::mem::size_of::<crate::Value>(), 40);
        assert_eq!(
            crate::Value::Bytes(ByteString::new(b"abc")),
            crate::Value::Bytes(ByteString::from(b"abc".to_vec()))
        );
    }
}
