//! List, set and hash values: packed into one buffer while small, a persistent tree
//! once large (imbl's vector for a list, our compact hash trie, [`crate::trie`], for
//! a set or hash).
//!
//! Most lists, hashes and sets hold a few short items (a user's five fields, a post's
//! tags, a short queue), and a persistent tree spends kilobytes on them: imbl
//! allocates its nodes as fixed chunks of slots, so a one-field hash took 2.4 KB, a
//! five-field one 3 KB and a two-item list 2.2 KB (Redis: about 100 B). Like Redis's
//! listpack, a small collection is one buffer of length-prefixed items, searched from
//! end to end; a write builds a new buffer, which for a few hundred bytes costs less
//! than a tree's path copy. A collection moves to the tree for good when it passes
//! [`PACKED_MAX_ITEMS`] items or takes an item longer than [`PACKED_MAX_ITEM_BYTES`]
//! (as Redis converts at 128 entries and 64-byte items), so a lookup in the packed
//! form reads at most about 16 KB.
//!
//! The packed buffer holds items in order (a list's, or insertion order): `[len
//! u8][bytes]` per list item or set member, `[len u8][field][len u8][value]` per hash
//! pair. Invariants: no item in it is longer than `PACKED_MAX_ITEM_BYTES` (so its
//! length fits the prefix), no set member or hash field appears twice, and `count`
//! is the number of entries, at most `PACKED_MAX_ITEMS`.

use bytes::Bytes;

use crate::item::Item;
use crate::trie::Trie;

/// Items a packed collection holds at most.
pub(crate) const PACKED_MAX_ITEMS: usize = 128;
/// The longest member, field or value a packed collection holds.
pub(crate) const PACKED_MAX_ITEM_BYTES: usize = 64;

const _: () = assert!(PACKED_MAX_ITEM_BYTES <= u8::MAX as usize);

/// Length-prefixed items in one buffer; `WIDTH` items make an entry (1 for a list
/// item or set member, 2 for a hash's field and value).
#[derive(Clone, Default)]
struct Packed<const WIDTH: usize> {
    bytes: Box<[u8]>,
    count: usize,
}

/// The bytes an entry of `items` takes in a packed buffer.
fn entry_len(items: &[&[u8]]) -> usize {
    items.iter().map(|item| 1 + item.len()).sum()
}

impl<const WIDTH: usize> Packed<WIDTH> {
    /// The entries, each as its `WIDTH` items.
    fn entries(&self) -> Entries<'_, WIDTH> {
        Entries { rest: &self.bytes }
    }

    /// The byte offset and items of the entry whose first item is `first`.
    fn find(&self, first: &[u8]) -> Option<(usize, [&[u8]; WIDTH])> {
        let mut offset = 0;
        for items in self.entries() {
            let len = entry_len(&items);
            if items[0] == first {
                return Some((offset, items));
            }
            offset += len;
        }
        None
    }

    /// The packed form of `entries` (a set's or hash's with distinct first items), if
    /// they fit it.
    fn build<'a>(
        entries: impl ExactSizeIterator<Item = [&'a [u8]; WIDTH]> + Clone,
    ) -> Option<Self> {
        let count = entries.len();
        let mut len = 0;
        for items in entries.clone() {
            if !items.iter().all(|item| item.len() <= PACKED_MAX_ITEM_BYTES) {
                return None;
            }
            len += entry_len(&items);
        }
        if count > PACKED_MAX_ITEMS {
            return None;
        }
        let mut bytes = Vec::with_capacity(len);
        for item in entries.flatten() {
            bytes.push(item.len() as u8);
            bytes.extend_from_slice(item);
        }
        Some(Packed {
            bytes: bytes.into_boxed_slice(),
            count,
        })
    }

    /// Whether `items` may join a packed collection of `count` entries.
    fn fits(count: usize, items: &[&[u8]; WIDTH]) -> bool {
        count < PACKED_MAX_ITEMS && items.iter().all(|item| item.len() <= PACKED_MAX_ITEM_BYTES)
    }

    /// A copy with the entry at `offset` (of `len` bytes) replaced by `items`
    /// (removed if `None`), or `items` appended if `offset` is the end.
    fn rebuilt(&self, offset: usize, len: usize, items: Option<&[&[u8]; WIDTH]>) -> Self {
        let added = items.map_or(0, |items| entry_len(items));
        let mut bytes = Vec::with_capacity(self.bytes.len() - len + added);
        bytes.extend_from_slice(&self.bytes[..offset]);
        for item in items.into_iter().flatten() {
            debug_assert!(item.len() <= PACKED_MAX_ITEM_BYTES, "checked by `fits`");
            bytes.push(item.len() as u8);
            bytes.extend_from_slice(item);
        }
        bytes.extend_from_slice(&self.bytes[offset + len..]);
        let count = match (len == 0, items.is_some()) {
            (true, true) => self.count + 1,
            (false, false) => self.count - 1,
            _ => self.count,
        };
        assert!(count <= PACKED_MAX_ITEMS, "checked by `fits`");
        let packed = Packed {
            bytes: bytes.into_boxed_slice(),
            count,
        };
        debug_assert_eq!(packed.entries().count(), count);
        packed
    }

    /// Where the entry whose first item is `first` sits: its byte offset and length.
    fn position(&self, first: &[u8]) -> Option<(usize, usize)> {
        self.find(first)
            .map(|(offset, old)| (offset, entry_len(&old)))
    }

    /// Puts `items` in place of the entry at `position` (from [`Packed::position`]),
    /// or appends them if `None`. The caller checked [`Packed::fits`] for a new entry.
    fn put(&mut self, position: Option<(usize, usize)>, items: [&[u8]; WIDTH]) {
        let (offset, len) = position.unwrap_or((self.bytes.len(), 0));
        *self = self.rebuilt(offset, len, Some(&items));
    }

    /// The entries as owned items, each copied out.
    fn into_owned_entries(self) -> impl Iterator<Item = [Bytes; WIDTH]> {
        self.entries()
            .map(|items| items.map(Bytes::copy_from_slice))
            .collect::<Vec<_>>()
            .into_iter()
    }

    /// The byte offset and length of entry `index`, or of the end (offset, 0) for
    /// `index == count`.
    fn span(&self, index: usize) -> (usize, usize) {
        assert!(
            index <= self.count,
            "index {index} of {} entries",
            self.count
        );
        let mut offset = 0;
        for (at, items) in self.entries().enumerate() {
            let len = entry_len(&items);
            if at == index {
                return (offset, len);
            }
            offset += len;
        }
        (offset, 0)
    }

    /// Removes the entry whose first item is `first`; whether there was one.
    fn remove(&mut self, first: &[u8]) -> bool {
        let Some((offset, len)) = self.position(first) else {
            return false;
        };
        *self = self.rebuilt(offset, len, None);
        true
    }
}

/// The entries of a packed buffer, in order.
struct Entries<'a, const WIDTH: usize> {
    rest: &'a [u8],
}

impl<'a, const WIDTH: usize> Iterator for Entries<'a, WIDTH> {
    type Item = [&'a [u8]; WIDTH];

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        Some(std::array::from_fn(|_| {
            let (len, rest) = self.rest.split_first().expect("a packed item's length");
            let (item, rest) = rest.split_at(usize::from(*len));
            self.rest = rest;
            item
        }))
    }
}

/// A list value: byte strings in order.
#[derive(Clone)]
pub struct List(ListRepr);

#[derive(Clone)]
enum ListRepr {
    Packed(Packed<1>),
    /// Boxed: the packed form is the common one, and keeps the list to 24 bytes.
    Tree(Box<imbl::Vector<Item>>),
}

impl List {
    /// An empty list.
    pub fn new() -> Self {
        List(ListRepr::Packed(Packed::default()))
    }

    /// How many items it has.
    pub fn len(&self) -> usize {
        match &self.0 {
            ListRepr::Packed(packed) => packed.count,
            ListRepr::Tree(tree) => tree.len(),
        }
    }

    /// Whether it has no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Item `index`, counted from the front.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        match &self.0 {
            ListRepr::Packed(packed) => packed.entries().nth(index).map(|[item]| item),
            ListRepr::Tree(tree) => tree.get(index).map(|item| &item[..]),
        }
    }

    /// The items, front to back.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let (packed, tree) = match &self.0 {
            ListRepr::Packed(packed) => (Some(packed.entries().map(|[item]| item)), None),
            ListRepr::Tree(tree) => (None, Some(tree.iter().map(|item| &item[..]))),
        };
        packed
            .into_iter()
            .flatten()
            .chain(tree.into_iter().flatten())
    }

    /// The packed buffer, if `item` (one more item, if `adds`) fits it; otherwise
    /// the list moves to (or stays in) the tree form, and `None`.
    fn packed_for(&mut self, item: &[u8], adds: bool) -> Option<&mut Packed<1>> {
        if let ListRepr::Packed(packed) = &self.0
            && !Packed::fits(if adds { packed.count } else { 0 }, &[item])
        {
            let tree = packed.entries().map(|[item]| Item::new(item)).collect();
            self.0 = ListRepr::Tree(Box::new(tree));
        }
        match &mut self.0 {
            ListRepr::Packed(packed) => Some(packed),
            ListRepr::Tree(_) => None,
        }
    }

    /// The tree form, once [`List::packed_for`] said the list is in it.
    fn tree_mut(&mut self) -> &mut imbl::Vector<Item> {
        match &mut self.0 {
            ListRepr::Tree(tree) => tree,
            ListRepr::Packed(_) => unreachable!("`packed_for` gave `None`"),
        }
    }

    /// Adds `item` at the front.
    pub fn push_front(&mut self, item: Bytes) {
        match self.packed_for(&item, true) {
            Some(packed) => packed.put(Some((0, 0)), [&item]),
            None => self.tree_mut().push_front(item.into()),
        }
    }

    /// Adds `item` at the back.
    pub fn push_back(&mut self, item: Bytes) {
        match self.packed_for(&item, true) {
            Some(packed) => packed.put(None, [&item]),
            None => self.tree_mut().push_back(item.into()),
        }
    }

    /// Removes and returns item `index`, if there is one.
    fn take(&mut self, index: usize) -> Option<Bytes> {
        if index >= self.len() {
            return None;
        }
        match &mut self.0 {
            ListRepr::Packed(packed) => {
                let (offset, len) = packed.span(index);
                let item = Bytes::copy_from_slice(&packed.bytes[offset + 1..offset + len]);
                *packed = packed.rebuilt(offset, len, None);
                Some(item)
            }
            ListRepr::Tree(tree) => Some(tree.remove(index).to_bytes()),
        }
    }

    /// Removes and returns the front item.
    pub fn pop_front(&mut self) -> Option<Bytes> {
        self.take(0)
    }

    /// Removes and returns the back item.
    pub fn pop_back(&mut self) -> Option<Bytes> {
        self.take(self.len().checked_sub(1)?)
    }

    /// Removes item `index` (which must exist).
    pub fn remove(&mut self, index: usize) {
        assert!(self.take(index).is_some(), "index {index} out of range");
    }

    /// Replaces item `index` (which must exist) with `item`.
    pub fn set(&mut self, index: usize, item: Bytes) {
        assert!(index < self.len(), "index {index} out of range");
        match self.packed_for(&item, false) {
            Some(packed) => packed.put(Some(packed.span(index)), [&item]),
            None => {
                self.tree_mut().set(index, item.into());
            }
        }
    }

    /// The items in `range` (which must be within the list), as a new list.
    pub fn range(&self, range: std::ops::Range<usize>) -> List {
        assert!(range.end <= self.len(), "range {range:?} out of range");
        match &self.0 {
            ListRepr::Packed(packed) => {
                let (start, _) = packed.span(range.start);
                let (end, _) = packed.span(range.end);
                List(ListRepr::Packed(Packed {
                    bytes: packed.bytes[start..end].into(),
                    count: range.len(),
                }))
            }
            ListRepr::Tree(tree) => List(ListRepr::Tree(Box::new(tree.clone().slice(range)))),
        }
    }
}

impl Default for List {
    fn default() -> Self {
        List::new()
    }
}

impl FromIterator<Bytes> for List {
    fn from_iter<I: IntoIterator<Item = Bytes>>(items: I) -> Self {
        let items: Vec<Bytes> = items.into_iter().collect();
        match Packed::build(items.iter().map(|item| [&item[..]])) {
            Some(packed) => List(ListRepr::Packed(packed)),
            None => List(ListRepr::Tree(Box::new(
                items.into_iter().map(Item::from).collect(),
            ))),
        }
    }
}

impl IntoIterator for List {
    type Item = Bytes;
    type IntoIter = Box<dyn Iterator<Item = Bytes>>;

    fn into_iter(self) -> Self::IntoIter {
        match self.0 {
            ListRepr::Packed(packed) => Box::new(packed.into_owned_entries().map(|[item]| item)),
            ListRepr::Tree(tree) => Box::new(tree.into_iter().map(|item| item.to_bytes())),
        }
    }
}

impl PartialEq for List {
    fn eq(&self, other: &List) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for List {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

/// A set value: distinct byte strings.
#[derive(Clone)]
pub struct Set(SetRepr);

#[derive(Clone)]
enum SetRepr {
    Packed(Packed<1>),
    /// Boxed: the packed form is the common one, and keeps the set to 24 bytes.
    Trie(Box<Trie<Item>>),
}

impl Set {
    /// An empty set.
    pub fn new() -> Self {
        Set(SetRepr::Packed(Packed::default()))
    }

    /// How many members it has.
    pub fn len(&self) -> usize {
        match &self.0 {
            SetRepr::Packed(packed) => packed.count,
            SetRepr::Trie(trie) => trie.len(),
        }
    }

    /// Whether it has no members.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `member` is in it.
    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.0 {
            SetRepr::Packed(packed) => packed.find(member).is_some(),
            SetRepr::Trie(trie) => trie.contains(member),
        }
    }

    /// Starts loading where `members` would be found, for writes coming soon (see
    /// [`Trie::prefetch_paths`]); a packed set is one allocation, and not walked.
    pub(crate) fn prefetch<'k>(&self, members: impl IntoIterator<Item = &'k [u8]>) {
        if let SetRepr::Trie(trie) = &self.0 {
            trie.prefetch_paths(members);
        }
    }

    /// Adds `member`; whether it was new.
    pub fn insert(&mut self, member: Bytes) -> bool {
        match &mut self.0 {
            SetRepr::Packed(packed) => {
                if packed.find(&member).is_some() {
                    return false;
                }
                if Packed::fits(packed.count, &[&member[..]]) {
                    packed.put(None, [&member[..]]);
                    return true;
                }
                let mut trie: Trie<Item> = packed.entries().map(|[m]| Item::new(m)).collect();
                trie.insert(member.into());
                self.0 = SetRepr::Trie(Box::new(trie));
                true
            }
            SetRepr::Trie(trie) => {
                // A present member stays: no path of the trie is copied.
                if trie.contains(&member) {
                    return false;
                }
                trie.insert(member.into());
                true
            }
        }
    }

    /// Removes `member`; whether it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.0 {
            SetRepr::Packed(packed) => packed.remove(member),
            SetRepr::Trie(trie) => trie.remove(member).is_some(),
        }
    }

    /// The members, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let (packed, trie) = match &self.0 {
            SetRepr::Packed(packed) => (Some(packed.entries().map(|[m]| m)), None),
            SetRepr::Trie(trie) => (None, Some(trie.iter().map(|m| &m[..]))),
        };
        packed
            .into_iter()
            .flatten()
            .chain(trie.into_iter().flatten())
    }
}

impl Default for Set {
    fn default() -> Self {
        Set::new()
    }
}

impl FromIterator<Bytes> for Set {
    fn from_iter<I: IntoIterator<Item = Bytes>>(members: I) -> Self {
        let mut members: Vec<Bytes> = members.into_iter().collect();
        if members.len() > PACKED_MAX_ITEMS {
            return Set(SetRepr::Trie(Box::new(
                members.into_iter().map(Item::from).collect(),
            )));
        }
        members.sort_unstable();
        members.dedup();
        match Packed::build(members.iter().map(|member| [&member[..]])) {
            Some(packed) => Set(SetRepr::Packed(packed)),
            None => Set(SetRepr::Trie(Box::new(
                members.into_iter().map(Item::from).collect(),
            ))),
        }
    }
}

impl IntoIterator for Set {
    type Item = Bytes;
    type IntoIter = Box<dyn Iterator<Item = Bytes>>;

    fn into_iter(self) -> Self::IntoIter {
        match self.0 {
            SetRepr::Packed(packed) => Box::new(packed.into_owned_entries().map(|[member]| member)),
            SetRepr::Trie(trie) => Box::new(trie.into_iter().map(|member| member.to_bytes())),
        }
    }
}

impl PartialEq for Set {
    fn eq(&self, other: &Set) -> bool {
        self.len() == other.len() && self.iter().all(|member| other.contains(member))
    }
}

impl std::fmt::Debug for Set {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

/// A hash value: a map from field to value, both byte strings.
#[derive(Clone)]
pub struct Hash(HashRepr);

#[derive(Clone)]
enum HashRepr {
    Packed(Packed<2>),
    /// Boxed: the packed form is the common one, and keeps the hash to 24 bytes.
    Trie(Box<Trie<(Item, Item)>>),
}

impl Hash {
    /// An empty hash.
    pub fn new() -> Self {
        Hash(HashRepr::Packed(Packed::default()))
    }

    /// How many fields it has.
    pub fn len(&self) -> usize {
        match &self.0 {
            HashRepr::Packed(packed) => packed.count,
            HashRepr::Trie(trie) => trie.len(),
        }
    }

    /// Whether it has no fields.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.0 {
            HashRepr::Packed(packed) => packed.find(field).map(|(_, [_, value])| value),
            HashRepr::Trie(trie) => trie.get(field).map(|(_, value)| &value[..]),
        }
    }

    /// Whether it has `field`.
    pub fn contains_key(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Starts loading where `fields` would be found, for writes coming soon (see
    /// [`Trie::prefetch_paths`]); a packed hash is one allocation, and not walked.
    pub(crate) fn prefetch<'k>(&self, fields: impl IntoIterator<Item = &'k [u8]>) {
        if let HashRepr::Trie(trie) = &self.0 {
            trie.prefetch_paths(fields);
        }
    }

    /// Sets `field` to `value`; whether the field was new.
    pub fn insert(&mut self, field: Bytes, value: Bytes) -> bool {
        match &mut self.0 {
            HashRepr::Packed(packed) => {
                let position = packed.position(&field);
                let exists = position.is_some();
                let count = if exists { 0 } else { packed.count };
                if Packed::fits(count, &[&field[..], &value[..]]) {
                    packed.put(position, [&field[..], &value[..]]);
                    return !exists;
                }
                let mut trie: Trie<(Item, Item)> = packed
                    .entries()
                    .map(|[f, v]| (Item::new(f), Item::new(v)))
                    .collect();
                trie.insert(owned_pair((field, value)));
                self.0 = HashRepr::Trie(Box::new(trie));
                !exists
            }
            HashRepr::Trie(trie) => {
                // A field that holds `value` already stays: no path of the trie is copied.
                if trie.get(&field).is_some_and(|(_, old)| **old == *value) {
                    return false;
                }
                trie.insert(owned_pair((field, value))).is_none()
            }
        }
    }

    /// Removes `field`; whether it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.0 {
            HashRepr::Packed(packed) => packed.remove(field),
            HashRepr::Trie(trie) => trie.remove(field).is_some(),
        }
    }

    /// The fields and their values, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let (packed, trie) = match &self.0 {
            HashRepr::Packed(packed) => (Some(packed.entries().map(|[f, v]| (f, v))), None),
            HashRepr::Trie(trie) => (None, Some(trie.iter().map(|(f, v)| (&f[..], &v[..])))),
        };
        packed
            .into_iter()
            .flatten()
            .chain(trie.into_iter().flatten())
    }
}

impl Default for Hash {
    fn default() -> Self {
        Hash::new()
    }
}

impl FromIterator<(Bytes, Bytes)> for Hash {
    /// A field given more than once keeps its last value.
    fn from_iter<I: IntoIterator<Item = (Bytes, Bytes)>>(pairs: I) -> Self {
        let mut pairs: Vec<(Bytes, Bytes)> = pairs.into_iter().collect();
        if pairs.len() > PACKED_MAX_ITEMS {
            return Hash(HashRepr::Trie(Box::new(
                pairs.into_iter().map(owned_pair).collect(),
            )));
        }
        // Stable: a field's pairs stay in the order given, and the last one is kept.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut unique: Vec<(Bytes, Bytes)> = Vec::with_capacity(pairs.len());
        for (field, value) in pairs {
            match unique.last_mut() {
                Some(last) if last.0 == field => last.1 = value,
                _ => unique.push((field, value)),
            }
        }
        match Packed::build(unique.iter().map(|(f, v)| [&f[..], &v[..]])) {
            Some(packed) => Hash(HashRepr::Packed(packed)),
            None => Hash(HashRepr::Trie(Box::new(
                unique.into_iter().map(owned_pair).collect(),
            ))),
        }
    }
}

/// A field and value as the trie stores them.
fn owned_pair((field, value): (Bytes, Bytes)) -> (Item, Item) {
    (field.into(), value.into())
}

impl IntoIterator for Hash {
    type Item = (Bytes, Bytes);
    type IntoIter = Box<dyn Iterator<Item = (Bytes, Bytes)>>;

    fn into_iter(self) -> Self::IntoIter {
        match self.0 {
            HashRepr::Packed(packed) => Box::new(
                packed
                    .into_owned_entries()
                    .map(|[field, value]| (field, value)),
            ),
            HashRepr::Trie(trie) => Box::new(
                trie.into_iter()
                    .map(|(field, value)| (field.to_bytes(), value.to_bytes())),
            ),
        }
    }
}

impl PartialEq for Hash {
    fn eq(&self, other: &Hash) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|(field, value)| other.get(field) == Some(value))
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                self.iter()
                    .map(|(k, v)| (String::from_utf8_lossy(k), String::from_utf8_lossy(v))),
            )
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;

    use super::*;

    fn b(text: &[u8]) -> Bytes {
        Bytes::copy_from_slice(text)
    }

    fn packed_set(set: &Set) -> bool {
        matches!(set.0, SetRepr::Packed(_))
    }

    fn packed_hash(hash: &Hash) -> bool {
        matches!(hash.0, HashRepr::Packed(_))
    }

    fn packed_list(list: &List) -> bool {
        matches!(list.0, ListRepr::Packed(_))
    }

    #[test]
    fn a_list_stays_packed_up_to_its_limits_and_moves_to_the_tree_past_them() {
        let mut list = List::new();
        for i in 0..PACKED_MAX_ITEMS {
            list.push_back(Bytes::from(format!("{i:064}")));
        }
        assert!(packed_list(&list), "at the limits: packed");
        list.set(0, Bytes::from(format!("{:064}", 7)));
        assert!(packed_list(&list), "a replacement adds nothing");
        list.push_front(b(b"first"));
        assert!(!packed_list(&list), "one item past: the tree");
        assert_eq!(list.len(), 129);
        assert_eq!(list.get(0), Some(&b"first"[..]));
        assert_eq!(list.get(1), Some(format!("{:064}", 7).as_bytes()));

        let mut list: List = [b(b"a"), b(b"b")].into_iter().collect();
        list.set(1, Bytes::from(vec![b'x'; PACKED_MAX_ITEM_BYTES + 1]));
        assert!(!packed_list(&list), "a long item: the tree");
        assert_eq!(list.get(0), Some(&b"a"[..]));
        assert_eq!(
            list.get(1).map(<[u8]>::len),
            Some(PACKED_MAX_ITEM_BYTES + 1)
        );
        assert_eq!(std::mem::size_of::<List>(), 24);
    }

    #[test]
    fn collecting_keeps_a_repeated_field_s_last_value_and_one_copy_of_a_member() {
        for extra in [0, PACKED_MAX_ITEMS] {
            let filler = (0..extra).map(|i| (Bytes::from(format!("x{i}")), b(b"")));
            let hash: Hash = [(b(b"f"), b(b"1")), (b(b"g"), b(b"2")), (b(b"f"), b(b"3"))]
                .into_iter()
                .chain(filler)
                .collect();
            assert_eq!(packed_hash(&hash), extra == 0);
            assert_eq!(hash.len(), 2 + extra);
            assert_eq!(hash.get(b"f"), Some(&b"3"[..]), "the last value");
            let fillers = (0..extra).map(|i| Bytes::from(format!("x{i}")));
            let set: Set = [b(b"a"), b(b"b"), b(b"a")]
                .into_iter()
                .chain(fillers)
                .collect();
            assert_eq!(packed_set(&set), extra == 0);
            assert_eq!(set.len(), 2 + extra);
            let list: List = [b(b"a"), b(b"a")].into_iter().collect();
            assert_eq!(list.len(), 2, "a list keeps repeats");
        }
    }

    /// One step of the list model test.
    #[derive(Debug, Clone)]
    enum ListStep {
        PushFront(u8, usize),
        PushBack(u8, usize),
        PopFront,
        PopBack,
        Set(usize, u8, usize),
        Remove(usize),
        Range(usize, usize),
        Snapshot,
    }

    fn list_steps() -> impl Strategy<Value = Vec<ListStep>> {
        let len = || prop_oneof![0..=8usize, 60..=70usize];
        let step = prop_oneof![
            4 => (any::<u8>(), len()).prop_map(|(n, l)| ListStep::PushFront(n, l)),
            4 => (any::<u8>(), len()).prop_map(|(n, l)| ListStep::PushBack(n, l)),
            1 => Just(ListStep::PopFront),
            1 => Just(ListStep::PopBack),
            2 => (any::<usize>(), any::<u8>(), len()).prop_map(|(i, n, l)| ListStep::Set(i, n, l)),
            1 => any::<usize>().prop_map(ListStep::Remove),
            1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| ListStep::Range(a, b)),
            1 => Just(ListStep::Snapshot),
        ];
        prop::collection::vec(step, 0..400)
    }

    proptest! {
        /// Random pushes, pops, sets, removes and ranges (across the packed limits)
        /// agree with a `VecDeque`, and a copy taken along the way never changes.
        #[test]
        fn lists_agree_with_a_model(steps in list_steps()) {
            let mut list = List::new();
            let mut model = std::collections::VecDeque::new();
            let mut copies = Vec::new();
            for step in steps {
                match step {
                    ListStep::PushFront(n, len) => {
                        list.push_front(item(n, len));
                        model.push_front(item(n, len));
                    }
                    ListStep::PushBack(n, len) => {
                        list.push_back(item(n, len));
                        model.push_back(item(n, len));
                    }
                    ListStep::PopFront => prop_assert_eq!(list.pop_front(), model.pop_front()),
                    ListStep::PopBack => prop_assert_eq!(list.pop_back(), model.pop_back()),
                    ListStep::Set(index, n, len) if !model.is_empty() => {
                        let index = index % model.len();
                        list.set(index, item(n, len));
                        model[index] = item(n, len);
                    }
                    ListStep::Remove(index) if !model.is_empty() => {
                        let index = index % model.len();
                        list.remove(index);
                        model.remove(index);
                    }
                    ListStep::Range(a, b) => {
                        let (a, b) = (a % (model.len() + 1), b % (model.len() + 1));
                        let range = a.min(b)..a.max(b);
                        let part = list.range(range.clone());
                        let expected: Vec<Bytes> = model.range(range).cloned().collect();
                        prop_assert_eq!(part.into_iter().collect::<Vec<_>>(), expected);
                    }
                    ListStep::Set(..) | ListStep::Remove(_) => {}
                    ListStep::Snapshot => copies.push((list.clone(), model.clone())),
                }
                prop_assert_eq!(list.len(), model.len());
            }
            copies.push((list, model));
            for (list, model) in copies {
                let items: Vec<Bytes> = list.iter().map(b).collect();
                prop_assert_eq!(&items, &Vec::from(model.clone()));
                for (index, expected) in model.iter().enumerate() {
                    prop_assert_eq!(list.get(index), Some(&expected[..]));
                }
                prop_assert_eq!(list.get(model.len()), None);
                let rebuilt: List = model.into_iter().collect();
                prop_assert_eq!(&rebuilt, &list);
            }
        }
    }

    #[test]
    fn a_collection_stays_packed_up_to_its_limits_and_moves_to_the_trie_past_them() {
        let mut set = Set::new();
        let mut hash = Hash::new();
        for i in 0..PACKED_MAX_ITEMS {
            let item = Bytes::from(format!("{i:064}"));
            assert_eq!(item.len(), PACKED_MAX_ITEM_BYTES);
            assert!(set.insert(item.clone()));
            assert!(hash.insert(item.clone(), item));
        }
        assert!(
            packed_set(&set) && packed_hash(&hash),
            "at the limits: packed"
        );
        assert!(!set.insert(Bytes::from(format!("{:064}", 0))), "not new");
        assert!(
            !hash.insert(Bytes::from(format!("{:064}", 0)), b(b"v")),
            "replaced"
        );
        assert!(
            packed_set(&set) && packed_hash(&hash),
            "a replacement adds nothing"
        );
        assert!(set.insert(b(b"one more")));
        assert!(hash.insert(b(b"one more"), b(b"v")));
        assert!(
            !packed_set(&set) && !packed_hash(&hash),
            "one item past: the trie"
        );
        assert_eq!((set.len(), hash.len()), (129, 129));
        assert_eq!(
            hash.get(&format!("{:064}", 0).into_bytes()),
            Some(&b"v"[..])
        );

        let long = Bytes::from(vec![b'x'; PACKED_MAX_ITEM_BYTES + 1]);
        let mut set = Set::new();
        set.insert(b(b"a"));
        set.insert(long.clone());
        assert!(!packed_set(&set), "a long member: the trie");
        assert!(set.contains(b"a") && set.contains(&long));
        let mut hash = Hash::new();
        hash.insert(b(b"f"), b(b"v"));
        hash.insert(b(b"g"), long.clone());
        assert!(!packed_hash(&hash), "a long value: the trie");
        assert_eq!(hash.get(b"g"), Some(&long[..]));
        assert_eq!(hash.get(b"f"), Some(&b"v"[..]));
    }

    #[test]
    fn a_small_hash_takes_a_fraction_of_a_trie() {
        let hash: Hash = (0..5)
            .map(|i| (Bytes::from(format!("field:{i:014}")), b(b"xxx")))
            .collect();
        let HashRepr::Packed(packed) = &hash.0 else {
            panic!("five short fields are packed");
        };
        assert_eq!(packed.bytes.len(), 5 * (1 + 20 + 1 + 3));
        assert_eq!(std::mem::size_of::<Hash>(), 24, "a buffer and a count");
        assert_eq!(std::mem::size_of::<Set>(), 24);
    }

    #[test]
    fn a_large_collection_write_that_changes_nothing_copies_nothing() {
        let hash: Hash = (0..200)
            .map(|i| (Bytes::from(format!("field:{i}")), b(b"xxx")))
            .collect();
        let set: Set = (0..200)
            .map(|i| Bytes::from(format!("member:{i}")))
            .collect();
        let (HashRepr::Trie(hash_before), SetRepr::Trie(set_before)) = (&hash.0, &set.0) else {
            panic!("200 items are past the packed limit");
        };
        let (mut hash_after, mut set_after) = (hash.clone(), set.clone());
        assert!(!hash_after.insert(b(b"field:7"), b(b"xxx")));
        assert!(!set_after.insert(b(b"member:7")));
        assert!(!hash_after.remove(b"field:none"));
        assert!(!set_after.remove(b"member:none"));
        let (HashRepr::Trie(hash_after), SetRepr::Trie(set_after)) = (&hash_after.0, &set_after.0)
        else {
            panic!("still tries");
        };
        assert!(hash_before.is_same_version(hash_after));
        assert!(set_before.is_same_version(set_after));

        let mut changed = hash.clone();
        assert!(!changed.insert(b(b"field:7"), b(b"yyy")));
        assert_eq!(changed.get(b"field:7"), Some(&b"yyy"[..]));
        assert_eq!(hash.get(b"field:7"), Some(&b"xxx"[..]));
    }

    /// One step of the model test.
    #[derive(Debug, Clone)]
    enum Step {
        Insert(u8, usize),
        Remove(u8),
        /// Keep a copy, check it is unchanged by the steps after it.
        Snapshot,
    }

    fn item(n: u8, len: usize) -> Bytes {
        let mut item = vec![b'a' + n % 26; len];
        if let Some(first) = item.first_mut() {
            *first = n;
        }
        Bytes::from(item)
    }

    fn steps() -> impl Strategy<Value = Vec<Step>> {
        let step = prop_oneof![
            6 => (any::<u8>(), prop_oneof![1..=8usize, 60..=70usize]).prop_map(|(n, len)| Step::Insert(n, len)),
            3 => any::<u8>().prop_map(Step::Remove),
            1 => Just(Step::Snapshot),
        ];
        prop::collection::vec(step, 0..400)
    }

    proptest! {
        /// Random inserts and removes (across the packed limits: up to 256 distinct
        /// items, some longer than a packed item) agree with a `BTreeMap` and a
        /// `BTreeSet`, and a copy taken along the way never changes.
        #[test]
        fn hashes_and_sets_agree_with_a_model(steps in steps()) {
            let mut hash = Hash::new();
            let mut set = Set::new();
            let mut model_hash = BTreeMap::new();
            let mut model_set = BTreeSet::new();
            let mut copies = Vec::new();
            for step in steps {
                match step {
                    Step::Insert(n, len) => {
                        let key = item(n, 1 + len % 3);
                        let value = item(n, len);
                        prop_assert_eq!(
                            hash.insert(key.clone(), value.clone()),
                            model_hash.insert(key.clone(), value.clone()).is_none()
                        );
                        prop_assert_eq!(set.insert(value.clone()), model_set.insert(value));
                    }
                    Step::Remove(n) => {
                        let key = item(n, 1 + n as usize % 3);
                        prop_assert_eq!(hash.remove(&key), model_hash.remove(&key).is_some());
                        let member = item(n, n as usize % 9);
                        prop_assert_eq!(set.remove(&member), model_set.remove(&member));
                    }
                    Step::Snapshot => copies.push((
                        hash.clone(),
                        model_hash.clone(),
                        set.clone(),
                        model_set.clone(),
                    )),
                }
                prop_assert_eq!(hash.len(), model_hash.len());
                prop_assert_eq!(set.len(), model_set.len());
            }
            copies.push((hash, model_hash, set, model_set));
            for (hash, model_hash, set, model_set) in copies {
                let pairs: BTreeMap<Bytes, Bytes> = hash.iter()
                    .map(|(f, v)| (b(f), b(v)))
                    .collect();
                prop_assert_eq!(&pairs, &model_hash);
                prop_assert_eq!(hash.clone().into_iter().collect::<BTreeMap<_, _>>(), model_hash.clone());
                for (field, value) in &model_hash {
                    prop_assert_eq!(hash.get(field), Some(&value[..]));
                }
                let members: BTreeSet<Bytes> = set.iter().map(b).collect();
                prop_assert_eq!(&members, &model_set);
                prop_assert_eq!(set.clone().into_iter().collect::<BTreeSet<_>>(), model_set.clone());
                prop_assert!(model_set.iter().all(|member| set.contains(member)));
                let rebuilt: Hash = model_hash.into_iter().collect();
                prop_assert_eq!(&rebuilt, &hash);
                let rebuilt: Set = model_set.into_iter().collect();
                prop_assert_eq!(&rebuilt, &set);
            }
        }
    }
}
