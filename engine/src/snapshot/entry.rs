//! One key of the base, read in place: the answers a lookup gives without copying
//! the value out of the mapped file, down to one field of a large hash.
//!
//! Invariant: a `BaseEntry` comes from a lookup that verified the entry's struct,
//! its key, a string's or document's bytes and a collection's array of item headers
//! ([`Base::check_head`]). The items of a collection are verified one at a time, as
//! they are read, through [`Base::vec`].

use std::borrow::Cow;
use std::num::NonZeroU64;
use std::ops::Range;

use bytes::Bytes;
use rkyv::vec::ArchivedVec;

use super::Base;
use super::format::{self, ArchivedSnapEntry, ArchivedSnapValue, EXPIRES};
use crate::doc::Doc;
use crate::entry::{Entry, Lsn};
use crate::error::OpError;
use crate::value::{Hash, Kind, List, Set, Value};

/// A key of the base and the snapshot that holds it.
#[derive(Clone, Copy)]
pub(crate) struct BaseEntry<'a> {
    pub(super) base: &'a Base,
    pub(super) entry: &'a ArchivedSnapEntry,
}

impl<'a> BaseEntry<'a> {
    /// The key.
    pub(crate) fn key(self) -> &'a [u8] {
        self.entry.key.as_slice()
    }

    /// The key's hash with the snapshot's seed (computed: the entry keeps only its
    /// top half).
    pub(crate) fn hash(self) -> u64 {
        self.base.hasher.hash_one(self.key())
    }

    /// The LSN of the key's last write before the snapshot.
    pub(crate) fn version(self) -> Lsn {
        self.entry.stamp.to_native() & !EXPIRES
    }

    /// Whether the key has an expiry time (without looking it up).
    pub(crate) fn expires(self) -> bool {
        self.entry.stamp.to_native() & EXPIRES != 0
    }

    /// When the key expires.
    pub(crate) fn expires_at_ms(self) -> Option<NonZeroU64> {
        if !self.expires() {
            return None;
        }
        self.base.expiry_at(self.base.position_of(self.entry))
    }

    /// The archived value (for copying it into a new snapshot).
    pub(crate) fn archived_value(self) -> &'a ArchivedSnapValue {
        &self.entry.value
    }

    /// The value's type.
    pub(crate) fn kind(self) -> Kind {
        match &self.entry.value {
            ArchivedSnapValue::Bytes(_)
            | ArchivedSnapValue::Int(_)
            | ArchivedSnapValue::Float(_) => Kind::String,
            ArchivedSnapValue::List(_) => Kind::List,
            ArchivedSnapValue::Set(_) => Kind::Set,
            ArchivedSnapValue::Hash(_) => Kind::Hash,
            ArchivedSnapValue::Doc(_) => Kind::Document,
        }
    }

    /// Calls `f` with the string form of a string value, in place for bytes; `None`
    /// for other types.
    pub(crate) fn with_str<R>(self, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        match &self.entry.value {
            ArchivedSnapValue::Bytes(bytes) => Some(f(bytes.as_slice())),
            ArchivedSnapValue::Int(n) => Value::Int(i64::from_le_bytes(*n)).with_str(f),
            ArchivedSnapValue::Float(x) => Value::Float(f64::from_le_bytes(*x)).with_str(f),
            _ => None,
        }
    }

    /// The string form of a string value, borrowed from the file for bytes; `None`
    /// for other types.
    pub(crate) fn str_form(self) -> Option<Cow<'a, [u8]>> {
        match &self.entry.value {
            ArchivedSnapValue::Bytes(bytes) => Some(Cow::Borrowed(bytes.as_slice())),
            _ => self.with_str(<[u8]>::to_vec).map(Cow::Owned),
        }
    }

    /// A document's collection number and encoded fields; `None` for other types.
    pub(crate) fn doc(self) -> Option<(u32, &'a [u8])> {
        match &self.entry.value {
            // `check_head` made sure the collection number is there.
            ArchivedSnapValue::Doc(bytes) => format::doc_parts(bytes.as_slice()),
            _ => None,
        }
    }

    /// The number of items of a list, set or hash; 0 for other types.
    pub(crate) fn len(self) -> usize {
        match &self.entry.value {
            ArchivedSnapValue::List(items) | ArchivedSnapValue::Set(items) => items.len(),
            ArchivedSnapValue::Hash(pairs) => pairs.len(),
            _ => 0,
        }
    }

    /// A list's element at `index`; `None` past the end or for other types.
    pub(crate) fn list_get(self, index: usize) -> Result<Option<&'a [u8]>, OpError> {
        match &self.entry.value {
            ArchivedSnapValue::List(items) => {
                items.get(index).map(|item| self.base.vec(item)).transpose()
            }
            _ => Ok(None),
        }
    }

    /// Copies of a list's elements in `range` (within the list); empty for other
    /// types.
    pub(crate) fn list_range(self, range: Range<usize>) -> Result<Vec<Bytes>, OpError> {
        match &self.entry.value {
            ArchivedSnapValue::List(items) => items.as_slice()[range]
                .iter()
                .map(|item| Ok(Bytes::copy_from_slice(self.base.vec(item)?)))
                .collect(),
            _ => Ok(Vec::new()),
        }
    }

    /// Whether a set holds `member`; false for other types.
    pub(crate) fn set_contains(self, member: &[u8]) -> Result<bool, OpError> {
        match &self.entry.value {
            ArchivedSnapValue::Set(items) => {
                Ok(self.find(items.as_slice(), member, |item| item)?.is_some())
            }
            _ => Ok(false),
        }
    }

    /// A hash's value for `field`; `None` if it has none or for other types.
    pub(crate) fn hash_get(self, field: &[u8]) -> Result<Option<&'a [u8]>, OpError> {
        match &self.entry.value {
            ArchivedSnapValue::Hash(pairs) => {
                match self.find(pairs.as_slice(), field, |pair| &pair.field)? {
                    Some(at) => Ok(Some(self.base.vec(&pairs.as_slice()[at].value)?)),
                    None => Ok(None),
                }
            }
            _ => Ok(None),
        }
    }

    /// The position of the item whose `bytes_of` is `target`, by bisection (sets
    /// and hashes are sorted).
    fn find<T>(
        self,
        items: &'a [T],
        target: &[u8],
        bytes_of: impl Fn(&'a T) -> &'a ArchivedVec<u8>,
    ) -> Result<Option<usize>, OpError> {
        let (mut low, mut high) = (0, items.len());
        while low < high {
            let middle = low + (high - low) / 2;
            match self.base.vec(bytes_of(&items[middle]))?.cmp(target) {
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
                std::cmp::Ordering::Equal => return Ok(Some(middle)),
            }
        }
        Ok(None)
    }

    /// The value, copied out of the file (every item verified on the way).
    pub(crate) fn to_value(self) -> Result<Value, OpError> {
        let copies = |items: &'a ArchivedVec<ArchivedVec<u8>>| {
            items
                .iter()
                .map(|item| Ok(Bytes::copy_from_slice(self.base.vec(item)?)))
                .collect::<Result<Vec<_>, OpError>>()
        };
        Ok(match &self.entry.value {
            ArchivedSnapValue::Bytes(data) => Value::Bytes(data.as_slice().into()),
            ArchivedSnapValue::Int(n) => Value::Int(i64::from_le_bytes(*n)),
            ArchivedSnapValue::Float(x) => Value::Float(f64::from_le_bytes(*x)),
            ArchivedSnapValue::List(items) => {
                Value::List(Box::new(copies(items)?.into_iter().collect::<List>()))
            }
            ArchivedSnapValue::Set(items) => {
                Value::Set(Box::new(copies(items)?.into_iter().collect::<Set>()))
            }
            ArchivedSnapValue::Hash(pairs) => Value::Hash(Box::new(
                pairs
                    .iter()
                    .map(|pair| {
                        Ok((
                            Bytes::copy_from_slice(self.base.vec(&pair.field)?),
                            Bytes::copy_from_slice(self.base.vec(&pair.value)?),
                        ))
                    })
                    .collect::<Result<Hash, OpError>>()?,
            )),
            ArchivedSnapValue::Doc(_) => {
                let (collection, data) = self.doc().unwrap_or_default();
                Value::Doc(Box::new(Doc {
                    collection,
                    data: data.into(),
                }))
            }
        })
    }

    /// The whole entry, copied out of the file.
    pub(crate) fn to_entry(self) -> Result<Entry, OpError> {
        Ok(Entry::new(
            self.key(),
            self.to_value()?,
            self.version(),
            self.expires_at_ms(),
        ))
    }
}
