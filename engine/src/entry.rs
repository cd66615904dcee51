//! One key's record: key, value, version and expiry in a single shared allocation.
//!
//! Both left-right copies, the commit thread's staging area, readers that asked for a
//! [`Record`] and the change feed all hold the same [`Entry`]: the copies cost a
//! pointer each, not the data. An entry never changes once anyone but its builder
//! holds it; a write builds a new one.
//!
//! The entry is one block of our own layout, because every key pays for its
//! bookkeeping and a lookup pays for every cache line it touches:
//!
//! ```text
//! packed (a string of at most INLINE_BYTES, a number): head | [expiry] | key | value bytes
//! any other value:                                       head | Value    | [expiry] | key
//! head: reference count (4 B) | shape (4 B: packed flag, key and value lengths) | stamp (8 B)
//! ```
//!
//! A 16-byte key with a 32-byte value takes 64 bytes, one cache line: the lookup that
//! compares the key has already loaded the value. Most keys never expire, so an entry
//! spends 8 bytes on an expiry time only when it has one, flagged in the stamp. A
//! packed value has no `Value` in the block; [`Entry::value`] rebuilds one on demand
//! (an inline [`crate::ByteString`], a copy of at most 38 bytes, or a number: no
//! allocation). A counter's entry with a 16-byte key takes 40 bytes, not 72.

use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use std::borrow::Cow;
use std::num::NonZeroU64;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering, fence};

use crate::ByteString;
use crate::byte_string::INLINE_BYTES;
use crate::value::Value;

/// A log sequence number: the position of a committed batch in commit order. A key's
/// version is the LSN of the batch that last wrote it. The first batch gets LSN 1.
pub type Lsn = u64;

/// The start of every entry's block.
#[repr(C)]
struct Head {
    /// How many [`Entry`] handles share the block.
    refs: AtomicU32,
    /// [`PACKED`], and the key's (and a packed value's) length: see [`Shape`].
    shape: u32,
    /// The version, with [`HAS_EXPIRY`] set if an expiry time precedes the key.
    stamp: u64,
}

/// The flag in [`Head::stamp`] that says the key is preceded by an expiry time
/// (milliseconds since the Unix epoch, little-endian). Versions are LSNs, which stay
/// far below it.
const HAS_EXPIRY: u64 = 1 << 63;
/// The size of a stored expiry time.
const EXPIRY_BYTES: usize = size_of::<u64>();
/// The flag in [`Head::shape`] that says the value is packed after the key: then the
/// shape's low 8 bits are the value's length, the next 21 the key's, and the two
/// below the flag its [`Form`]. Otherwise the shape is the key's length and a
/// `Value` follows the head.
const PACKED: u32 = 1 << 31;
/// Where a packed entry's [`Form`] lies in its shape.
const FORM_SHIFT: u32 = 29;
/// The longest key of a packed entry (21 bits); longer keys' entries hold a `Value`.
const PACKED_MAX_KEY_BYTES: usize = (1 << 21) - 1;
/// The size of a packed number.
const NUMBER_BYTES: usize = size_of::<i64>();
/// The longest key an entry holds (31 bits).
const MAX_KEY_BYTES: usize = (PACKED - 1) as usize;
/// Past this many handles a clone aborts, as `std::sync::Arc` does: a count that
/// wrapped would free a block still in use.
const MAX_REFS: u32 = u32::MAX / 2;

const HEAD_BYTES: usize = size_of::<Head>();
const VALUE_BYTES: usize = size_of::<Value>();
/// Every block's alignment: the head's and the value's.
const BLOCK_ALIGN: usize = align_of::<Head>();

const _: () = assert!(HEAD_BYTES == 16 && BLOCK_ALIGN == 8);
const _: () =
    assert!(align_of::<Value>() <= BLOCK_ALIGN && HEAD_BYTES.is_multiple_of(align_of::<Value>()));
const _: () = assert!(INLINE_BYTES <= u8::MAX as usize);

/// What an entry's block holds as its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// A `Value`, after the head.
    Value = 0,
    /// A byte string's bytes, after the key.
    Bytes = 1,
    /// An `i64`, little-endian, after the key.
    Int = 2,
    /// An `f64`, little-endian, after the key.
    Float = 3,
}

impl Form {
    fn of_bits(bits: u32) -> Form {
        match bits & 3 {
            1 => Form::Bytes,
            2 => Form::Int,
            3 => Form::Float,
            _ => unreachable!("a packed shape names its form"),
        }
    }
}

/// An entry's shape, decoded from [`Head::shape`] and [`Head::stamp`]: where its
/// parts lie in the block.
#[derive(Clone, Copy)]
struct Shape {
    form: Form,
    has_expiry: bool,
    key_bytes: usize,
    /// A packed value's length (0 for other entries).
    value_bytes: usize,
}

impl Shape {
    fn of(head: &Head) -> Shape {
        let (form, key_bytes, value_bytes) = match head.shape & PACKED != 0 {
            true => (
                Form::of_bits(head.shape >> FORM_SHIFT),
                (head.shape >> 8) & PACKED_MAX_KEY_BYTES as u32,
                head.shape & 0xff,
            ),
            false => (Form::Value, head.shape, 0),
        };
        Shape {
            form,
            has_expiry: head.stamp & HAS_EXPIRY != 0,
            key_bytes: key_bytes as usize,
            value_bytes: value_bytes as usize,
        }
    }

    fn encode(self) -> u32 {
        match self.form {
            Form::Value => self.key_bytes as u32,
            form => {
                PACKED
                    | (form as u32) << FORM_SHIFT
                    | (self.key_bytes as u32) << 8
                    | self.value_bytes as u32
            }
        }
    }

    fn packed(self) -> bool {
        self.form != Form::Value
    }

    /// Where the expiry time, if any, or else the key starts.
    fn tail_offset(self) -> usize {
        HEAD_BYTES + usize::from(!self.packed()) * VALUE_BYTES
    }

    fn key_offset(self) -> usize {
        self.tail_offset() + usize::from(self.has_expiry) * EXPIRY_BYTES
    }

    fn packed_value_offset(self) -> usize {
        self.key_offset() + self.key_bytes
    }

    fn layout(self) -> Layout {
        let size = self.packed_value_offset() + self.value_bytes;
        Layout::from_size_align(size, BLOCK_ALIGN).expect("an entry's size is bounded")
    }
}

/// One key's current state; cloning shares it (a reference count).
pub(crate) struct Entry(NonNull<Head>);

// SAFETY: an entry is an immutable, reference-counted block (as `Arc<T>`): its value
// is changed only through `&mut Entry` while the count is 1, and the count is atomic.
// It owns a `Value`, which is `Send + Sync` (checked below).
unsafe impl Send for Entry {}
// SAFETY: as for `Send`: shared access only reads.
unsafe impl Sync for Entry {}

const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<Value>()
};

impl Entry {
    pub(crate) fn new(
        key: &[u8],
        value: Value,
        version: Lsn,
        expires_at_ms: Option<NonZeroU64>,
    ) -> Self {
        assert!(version & HAS_EXPIRY == 0, "LSN {version} is out of range");
        assert!(key.len() <= MAX_KEY_BYTES, "a key of {} bytes", key.len());
        let numbers: [u8; NUMBER_BYTES];
        let (form, packed_bytes) = match &value {
            _ if key.len() > PACKED_MAX_KEY_BYTES => (Form::Value, None),
            Value::Bytes(bytes) if bytes.len() <= INLINE_BYTES => {
                (Form::Bytes, Some(bytes.as_bytes()))
            }
            Value::Int(n) => {
                numbers = n.to_le_bytes();
                (Form::Int, Some(&numbers[..]))
            }
            Value::Float(x) => {
                numbers = x.to_le_bytes();
                (Form::Float, Some(&numbers[..]))
            }
            _ => (Form::Value, None),
        };
        let shape = Shape {
            form,
            has_expiry: expires_at_ms.is_some(),
            key_bytes: key.len(),
            value_bytes: packed_bytes.map_or(0, <[u8]>::len),
        };
        let layout = shape.layout();
        // SAFETY: the layout is at least the head's 16 bytes, never zero-sized.
        let block = unsafe { alloc(layout) };
        let Some(block) = NonNull::new(block) else {
            handle_alloc_error(layout)
        };
        let stamp = version | if shape.has_expiry { HAS_EXPIRY } else { 0 };
        // SAFETY: `block` is a fresh allocation of `shape.layout()`, aligned for the
        // head and the value (BLOCK_ALIGN), and every write below lies at the offset
        // `shape` gives its part, inside the block: the parts tile it exactly.
        unsafe {
            let base = block.as_ptr();
            base.cast::<Head>().write(Head {
                refs: AtomicU32::new(1),
                shape: shape.encode(),
                stamp,
            });
            if let Some(at) = expires_at_ms {
                let at = at.get().to_le_bytes();
                base.add(shape.tail_offset())
                    .copy_from_nonoverlapping(at.as_ptr(), EXPIRY_BYTES);
            }
            base.add(shape.key_offset())
                .copy_from_nonoverlapping(key.as_ptr(), key.len());
            match packed_bytes {
                Some(bytes) => base
                    .add(shape.packed_value_offset())
                    .copy_from_nonoverlapping(bytes.as_ptr(), bytes.len()),
                None => base.add(HEAD_BYTES).cast::<Value>().write(value),
            }
        }
        // A packed value's bytes were copied; the `Value` itself owns no heap memory
        // (an inline string or a number), and drops here if it was not moved into
        // the block.
        Entry(block.cast())
    }

    fn head(&self) -> &Head {
        // SAFETY: the block lives while any handle does, and its head never changes
        // but for the atomic count (and the stamp, through the only handle).
        unsafe { self.0.as_ref() }
    }

    fn shape(&self) -> Shape {
        Shape::of(self.head())
    }

    /// `len` bytes of the block from `offset`.
    ///
    /// # Safety
    /// `offset..offset + len` must lie within the block's layout and hold bytes
    /// written by `new`.
    unsafe fn bytes_at(&self, offset: usize, len: usize) -> &[u8] {
        // SAFETY: guaranteed by the caller; the block is immutable while shared.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast::<u8>().add(offset), len) }
    }

    /// The stored `Value`, if the entry is not packed.
    fn stored_value_ptr(&self) -> Option<NonNull<Value>> {
        let shape = self.shape();
        // SAFETY: an unpacked block holds a `Value` right after its head.
        (!shape.packed()).then(|| unsafe { self.0.cast::<u8>().add(HEAD_BYTES).cast::<Value>() })
    }

    pub(crate) fn key(&self) -> &[u8] {
        let shape = self.shape();
        // SAFETY: the key lies at the shape's key offset, `key_bytes` long.
        unsafe { self.bytes_at(shape.key_offset(), shape.key_bytes) }
    }

    /// The value: borrowed if the block holds a `Value`, else rebuilt from the packed
    /// bytes (an inline string or a number, no allocation).
    pub(crate) fn value(&self) -> Cow<'_, Value> {
        match self.stored_value() {
            Some(value) => Cow::Borrowed(value),
            None => Cow::Owned(self.packed_value()),
        }
    }

    /// A packed entry's value (`Value::Bytes` of nothing for other entries).
    fn packed_value(&self) -> Value {
        let bytes = self.packed_bytes();
        let number = || bytes.try_into().expect("a packed number has 8 bytes");
        match self.shape().form {
            Form::Int => Value::Int(i64::from_le_bytes(number())),
            Form::Float => Value::Float(f64::from_le_bytes(number())),
            Form::Bytes | Form::Value => Value::Bytes(ByteString::new(bytes)),
        }
    }

    /// The value as stored in the block; `None` for a packed string (always a short
    /// `Value::Bytes`) or number, so every list, set, hash and document is here.
    pub(crate) fn stored_value(&self) -> Option<&Value> {
        // SAFETY: the value was written by `new` and is shared immutably.
        self.stored_value_ptr()
            .map(|value| unsafe { value.as_ref() })
    }

    /// A packed value's bytes (empty for other entries).
    fn packed_bytes(&self) -> &[u8] {
        let shape = self.shape();
        // SAFETY: a packed value lies after the key, `value_bytes` long (0 if none).
        unsafe { self.bytes_at(shape.packed_value_offset(), shape.value_bytes) }
    }

    /// Calls `f` with a string-kind value's text, in place; `None` for collections.
    pub(crate) fn with_str<R>(&self, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        match (self.stored_value(), self.shape().form) {
            (Some(value), _) => value.with_str(f),
            (None, Form::Bytes) => Some(f(self.packed_bytes())),
            (None, _) => self.packed_value().with_str(f),
        }
    }

    /// A string-kind value's text, borrowed in place (numbers are formatted); `None`
    /// for collections.
    pub(crate) fn str_form(&self) -> Option<Cow<'_, [u8]>> {
        match (self.stored_value(), self.shape().form) {
            (Some(value), _) => value.str_form(),
            (None, Form::Bytes) => Some(Cow::Borrowed(self.packed_bytes())),
            (None, _) => self.packed_value().to_str_bytes().map(Cow::Owned),
        }
    }

    /// The bytes of a byte-string value, in place; `None` for numbers and collections.
    pub(crate) fn bytes(&self) -> Option<&[u8]> {
        match (self.stored_value(), self.shape().form) {
            (Some(Value::Bytes(bytes)), _) => Some(bytes),
            (None, Form::Bytes) => Some(self.packed_bytes()),
            _ => None,
        }
    }

    /// The value's type.
    pub(crate) fn kind(&self) -> crate::Kind {
        self.stored_value().map_or(crate::Kind::String, Value::kind)
    }

    pub(crate) fn version(&self) -> Lsn {
        self.head().stamp & !HAS_EXPIRY
    }

    pub(crate) fn expires_at_ms(&self) -> Option<NonZeroU64> {
        let shape = self.shape();
        if !shape.has_expiry {
            return None;
        }
        // SAFETY: an expiry time lies at the tail offset when the flag is set.
        let bytes = unsafe { self.bytes_at(shape.tail_offset(), EXPIRY_BYTES) };
        NonZeroU64::new(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
    }

    /// Runs `change` on the value if nothing else holds this entry, so no one can see
    /// the value change; `None`, without running `change`, if the entry is shared or
    /// its value is packed (a string or number, which has no `Value` to change).
    pub(crate) fn change_value_if_unique<R>(
        &mut self,
        change: impl FnOnce(&mut Value) -> R,
    ) -> Option<R> {
        if !self.is_unique() {
            return None;
        }
        // SAFETY: this is the only handle (the count is 1, and `is_unique`'s acquire
        // load saw every other handle's release as it dropped), and `&mut self`
        // keeps it from being cloned meanwhile: no one else can see the value.
        self.stored_value_ptr()
            .map(|mut value| change(unsafe { value.as_mut() }))
    }

    /// Sets the version of an entry nothing else holds: a later batch of the group
    /// changed it in place. False, changing nothing, if the entry is shared.
    pub(crate) fn restamp_if_unique(&mut self, version: Lsn) -> bool {
        assert!(version & HAS_EXPIRY == 0, "LSN {version} is out of range");
        if !self.is_unique() {
            return false;
        }
        // SAFETY: this is the only handle (see `change_value_if_unique`), and
        // `&mut self` keeps it so: no one reads the head while it changes.
        let head = unsafe { self.0.as_mut() };
        head.stamp = version | (head.stamp & HAS_EXPIRY);
        true
    }

    /// Whether `other` is a handle on this very entry.
    pub(crate) fn is_same(&self, other: &Entry) -> bool {
        self.0 == other.0
    }

    /// Whether this is the entry's only reference: dropping it frees the entry.
    pub(crate) fn is_unique(&self) -> bool {
        self.head().refs.load(Ordering::Acquire) == 1
    }

    /// Asks the CPU to start loading the entry's first two cache lines (its head, and
    /// its key and value, or its value and key), for a lookup that will compare its
    /// key soon.
    pub(crate) fn prefetch(&self) {
        let start = self.0.as_ptr().cast::<u8>();
        crate::prefetch::prefetch(start);
        crate::prefetch::prefetch(start.wrapping_add(64));
    }

    /// Whether the entry is expired at `now_ms`: expired entries are invisible.
    pub(crate) fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms().is_some_and(|at| at.get() <= now_ms)
    }

    /// A tombstone: the overlay's record that `key` was deleted at `version`, which
    /// hides the key's entry in the base. It is an entry that expired at the dawn of
    /// time, so every read treats it as absent with no extra check.
    pub(crate) fn tombstone(key: &[u8], version: Lsn) -> Self {
        Entry::new(key, Value::Int(0), version, Some(TOMBSTONE_EXPIRY))
    }

    /// Whether this entry is a tombstone.
    pub(crate) fn is_tombstone(&self) -> bool {
        self.expires_at_ms() == Some(TOMBSTONE_EXPIRY)
    }
}

impl Clone for Entry {
    fn clone(&self) -> Self {
        // Relaxed, as `Arc::clone`: a new handle is made from one already held, which
        // keeps the block alive; no other memory needs ordering.
        let before = self.head().refs.fetch_add(1, Ordering::Relaxed);
        if before > MAX_REFS {
            std::process::abort();
        }
        Entry(self.0)
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        // Release, then acquire by the last handle, as `Arc`'s drop: every use of the
        // block through other handles happens before it is freed.
        if self.head().refs.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        let shape = self.shape();
        // SAFETY: this was the last handle, so no one else can reach the block. An
        // unpacked block's `Value` was written by `new` and is dropped once, here;
        // the block was allocated with `shape.layout()`.
        unsafe {
            if let Some(value) = self.stored_value_ptr() {
                value.as_ptr().drop_in_place();
            }
            dealloc(self.0.as_ptr().cast(), shape.layout());
        }
    }
}

/// A tombstone's expiry time: 1 ms after the epoch (any key that expired then is
/// absent now, tombstone or not).
const TOMBSTONE_EXPIRY: NonZeroU64 = NonZeroU64::MIN;

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &String::from_utf8_lossy(self.key()))
            .field("value", &self.value())
            .field("version", &self.version())
            .field("expires_at_ms", &self.expires_at_ms())
            .finish()
    }
}

/// A read-only view of one key's record: key, value, version and expiry.
///
/// Cloning is cheap (a reference count). Holding a record pins only that one record,
/// never the database: writers go on.
#[derive(Debug, Clone)]
pub struct Record(pub(crate) Entry);

impl PartialEq for Record {
    fn eq(&self, other: &Record) -> bool {
        self.key() == other.key()
            && self.version() == other.version()
            && self.expires_at_ms() == other.expires_at_ms()
            && self.value() == other.value()
    }
}

impl Record {
    /// The key.
    pub fn key(&self) -> &[u8] {
        self.0.key()
    }

    /// The value: borrowed in place, or, for a string of at most 38 bytes (stored
    /// packed beside the key), an inline copy.
    pub fn value(&self) -> Cow<'_, Value> {
        self.0.value()
    }

    /// A string-kind value's text, borrowed in place (numbers are formatted); `None`
    /// for collections.
    pub fn str_form(&self) -> Option<Cow<'_, [u8]>> {
        self.0.str_form()
    }

    /// The value's type.
    pub fn kind(&self) -> crate::Kind {
        self.0.kind()
    }

    /// The LSN of the batch that last wrote this key.
    pub fn version(&self) -> Lsn {
        self.0.version()
    }

    /// When the key expires, in milliseconds since the Unix epoch; `None` if never.
    pub fn expires_at_ms(&self) -> Option<u64> {
        self.0.expires_at_ms().map(NonZeroU64::get)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::List;

    fn long_string(len: usize) -> Value {
        Value::Bytes(ByteString::new(&vec![b'v'; len]))
    }

    #[test]
    fn an_expiry_time_is_stored_only_when_there_is_one() {
        let plain = Entry::new(b"key", Value::Int(1), 5, None);
        let expiring = Entry::new(b"key", Value::Int(1), 5, NonZeroU64::new(u64::MAX - 1));
        for entry in [&plain, &expiring] {
            assert_eq!((entry.key(), entry.version()), (&b"key"[..], 5));
            assert_eq!(*entry.value(), Value::Int(1));
        }
        assert_eq!(plain.expires_at_ms(), None);
        assert_eq!(expiring.expires_at_ms(), NonZeroU64::new(u64::MAX - 1));
        assert_eq!(
            plain.shape().layout().size() + EXPIRY_BYTES,
            expiring.shape().layout().size()
        );
        let tombstone = Entry::tombstone(b"", 9);
        assert!(tombstone.is_tombstone() && tombstone.key().is_empty());
        assert_eq!(tombstone.version(), 9);
    }

    #[test]
    fn a_short_string_is_packed_after_the_key_and_a_16_byte_key_with_32_bytes_fills_a_line() {
        let entry = Entry::new(&[b'k'; 16], long_string(32), 3, None);
        assert_eq!(entry.shape().layout().size(), 64);
        assert!(entry.stored_value().is_none());
        assert_eq!(*entry.value(), long_string(32));
        assert_eq!(entry.bytes(), Some(&[b'v'; 32][..]));
        assert_eq!(entry.kind(), crate::Kind::String);
        // At the boundary, and one past it (the value then has a block of its own).
        for (len, packed) in [(0, true), (INLINE_BYTES, true), (INLINE_BYTES + 1, false)] {
            for expiry in [None, NonZeroU64::new(77)] {
                let entry = Entry::new(b"key", long_string(len), 4, expiry);
                assert_eq!(entry.shape().packed(), packed, "{len} bytes");
                assert_eq!(entry.key(), b"key");
                assert_eq!(*entry.value(), long_string(len));
                assert_eq!(entry.str_form().as_deref(), Some(&vec![b'v'; len][..]));
                assert_eq!((entry.version(), entry.expires_at_ms()), (4, expiry));
            }
        }
    }

    #[test]
    fn numbers_are_packed_after_the_key_and_read_back_exactly() {
        let values = [
            Value::Int(0),
            Value::Int(-1),
            Value::Int(i64::MIN),
            Value::Int(i64::MAX),
            Value::Float(0.1),
            Value::Float(-0.0),
            Value::Float(f64::MAX),
        ];
        for value in values {
            for expiry in [None, NonZeroU64::new(12)] {
                let entry = Entry::new(&[b'k'; 16], value.clone(), 8, expiry);
                assert!(entry.shape().packed() && entry.stored_value().is_none());
                let expected_bytes = 16 + EXPIRY_BYTES * usize::from(expiry.is_some()) + 16 + 8;
                assert_eq!(entry.shape().layout().size(), expected_bytes);
                assert_eq!((*entry.value()).clone(), value);
                assert_eq!(entry.str_form(), value.str_form());
                assert_eq!(
                    entry.with_str(<[u8]>::to_vec),
                    value.with_str(<[u8]>::to_vec)
                );
                assert_eq!((entry.bytes(), entry.kind()), (None, crate::Kind::String));
                assert_eq!(
                    (entry.key(), entry.version(), entry.expires_at_ms()),
                    (&[b'k'; 16][..], 8, expiry)
                );
            }
        }
        let nan = Entry::new(b"n", Value::Float(f64::NAN), 1, None);
        assert!(matches!(*nan.value(), Value::Float(x) if x.is_nan()));
    }

    #[test]
    fn a_key_too_long_to_pack_keeps_its_value_in_the_block() {
        let key = vec![b'k'; PACKED_MAX_KEY_BYTES + 1];
        let entry = Entry::new(&key, long_string(3), 1, NonZeroU64::new(9));
        assert!(!entry.shape().packed());
        assert_eq!((entry.key(), entry.bytes()), (&key[..], Some(&b"vvv"[..])));
        let key = vec![b'k'; PACKED_MAX_KEY_BYTES];
        let entry = Entry::new(&key, long_string(3), 1, None);
        assert!(entry.shape().packed());
        assert_eq!((entry.key(), entry.bytes()), (&key[..], Some(&b"vvv"[..])));
    }

    #[test]
    fn only_an_unshared_unpacked_entry_changes_in_place() {
        let (before, after) = (long_string(INLINE_BYTES + 1), long_string(INLINE_BYTES + 2));
        let mut entry = Entry::new(b"k", before, 7, None);
        assert_eq!(
            entry.change_value_if_unique(|value| *value = after.clone()),
            Some(())
        );
        assert_eq!(*entry.value(), after);
        let held = entry.clone();
        assert_eq!(
            entry.change_value_if_unique(|_| unreachable!("shared")),
            None
        );
        drop(held);
        assert_eq!(entry.change_value_if_unique(|_| ()), Some(()));
        assert_eq!((entry.key(), entry.version()), (&b"k"[..], 7));
        for value in [long_string(5), Value::Int(5)] {
            let mut packed = Entry::new(b"k", value, 7, None);
            assert_eq!(
                packed.change_value_if_unique(|_| unreachable!("packed")),
                None
            );
        }
    }

    #[test]
    fn the_last_handle_frees_the_value_once() {
        let items = [
            bytes::Bytes::from_static(b"a"),
            bytes::Bytes::from_static(b"b"),
        ];
        let list = Value::List(Box::new(items.into_iter().collect::<List>()));
        let entry = Entry::new(b"list", list.clone(), 2, NonZeroU64::new(5));
        let handles: Vec<Entry> = (0..4).map(|_| entry.clone()).collect();
        drop(entry);
        let list = &list;
        std::thread::scope(|scope| {
            for handle in handles {
                scope.spawn(move || assert_eq!(*handle.value(), *list));
            }
        });
    }
}
