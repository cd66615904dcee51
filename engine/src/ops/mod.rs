//! How each write operation changes the database, one file per family.
//!
//! Every function here runs on the commit thread inside a [`Tx`], reads the current
//! state, checks everything, and only then writes: an operation that returns an
//! error has changed nothing (the undo log backs this up for multi-key operations).
//! A collection the same batch already wrote is changed in place ([`in_place`]).

mod docs;
mod hashes;
mod keys;
mod lists;
mod sets;
mod strings;

use std::ops::Range;

use crate::entry::Entry;
use crate::error::OpError;
use crate::op::{Op, Reply};
use crate::options::Limits;
use crate::overlay::Found;
use crate::staging::Tx;
use crate::value::{Kind, Value};

/// Applies one operation.
pub(crate) fn apply(tx: &mut Tx<'_>, op: Op, limits: &Limits) -> Result<Reply, OpError> {
    check_limits(&op, limits)?;
    match op {
        Op::Set {
            key,
            value,
            condition,
            expiry,
            get_old,
        } => strings::set(tx, &key, value, condition, expiry, get_old),
        Op::IncrBy { key, delta } => strings::incr_by(tx, &key, delta),
        Op::IncrByFloat { key, delta } => strings::incr_by_float(tx, &key, delta),
        Op::Append { key, value } => strings::append(tx, &key, &value, limits),
        Op::SetRange { key, offset, value } => strings::set_range(tx, &key, offset, &value, limits),
        Op::GetDelete { key } => strings::get_delete(tx, &key),
        Op::GetExpire { key, expiry } => strings::get_expire(tx, &key, expiry),
        Op::Delete { key } => keys::delete(tx, &key),
        Op::Expire {
            key,
            at_ms,
            condition,
        } => keys::expire(tx, &key, at_ms, condition),
        Op::Rename {
            from,
            to,
            only_if_absent,
        } => keys::rename(tx, &from, &to, only_if_absent),
        Op::SetAllIfAbsent { pairs } => strings::set_all_if_absent(tx, pairs),
        Op::Flush => {
            tx.flush();
            Ok(Reply::Ok)
        }
        Op::Push {
            key,
            end,
            values,
            only_if_exists,
        } => lists::push(tx, &key, end, values, only_if_exists),
        Op::Pop { key, end, count } => lists::pop(tx, &key, end, count),
        Op::ListSet { key, index, value } => lists::set(tx, &key, index, value),
        Op::ListRemove { key, count, value } => lists::remove(tx, &key, count, &value),
        Op::ListTrim { key, start, stop } => lists::trim(tx, &key, start, stop),
        Op::SetAdd { key, members } => sets::add(tx, &key, members),
        Op::SetRemove { key, members } => sets::remove(tx, &key, &members),
        Op::HashSet {
            key,
            pairs,
            only_if_absent,
        } => hashes::set(tx, &key, pairs, only_if_absent),
        Op::HashDelete { key, fields } => hashes::delete(tx, &key, &fields),
        Op::HashIncrBy { key, field, delta } => hashes::incr_by(tx, &key, field, delta),
        Op::HashIncrByFloat { key, field, delta } => hashes::incr_by_float(tx, &key, field, delta),
        Op::CreateSchema { schema } => docs::create_schema(tx, schema, limits),
        Op::AddField { schema, field } => docs::add_field(tx, &schema, field, limits),
        Op::CreateCollection { collection } => docs::create_collection(tx, collection),
        Op::DocSet {
            collection,
            id,
            fields,
        } => docs::set(tx, &collection, &id, &fields, limits),
        Op::DocDelete { collection, id } => docs::delete(tx, &collection, &id, limits),
    }
}

fn check_limits(op: &Op, limits: &Limits) -> Result<(), OpError> {
    for key in op.keys() {
        if key.len() > limits.max_key_bytes {
            return Err(OpError::KeyTooLarge {
                size_bytes: key.len(),
                limit_bytes: limits.max_key_bytes,
            });
        }
    }
    let largest = op.largest_value_bytes();
    if largest > limits.max_value_bytes {
        return Err(OpError::ValueTooLarge {
            size_bytes: largest,
            limit_bytes: limits.max_value_bytes,
        });
    }
    Ok(())
}

/// The key's live entry if it holds `kind`; `WrongType` if it holds another kind.
pub(crate) fn get_kind(tx: &Tx<'_>, key: &[u8], kind: Kind) -> Result<Option<Entry>, OpError> {
    match tx.get(key)? {
        Some(entry) if entry.kind() != kind => Err(OpError::WrongType),
        found => Ok(found),
    }
}

/// Whether `key` holds, in the snapshot, a `kind` value that `unchanged` says the
/// operation leaves as it is, read in place: a large collection there is not copied
/// out just to learn that a member is already there. Values in the overlay (shared,
/// not copied, by the ordinary way), absent keys, other kinds and errors say no, and
/// go the ordinary way (which answers the errors).
pub(crate) fn changes_nothing(
    tx: &Tx<'_>,
    key: &[u8],
    kind: Kind,
    unchanged: impl FnOnce(Found<'_>) -> Result<bool, OpError>,
) -> bool {
    let verdict = tx.peek(key, |found| match found {
        Some(found @ Found::Base(_)) if found.kind() == kind => unchanged(found),
        _ => Ok(false),
    });
    matches!(verdict, Ok(Ok(true)))
}

/// Runs `change` with `input` on the value staged under `key`, in place (see
/// [`Tx::change_in_place`]). `change` answers its reply and whether it changed the
/// value, or declines by handing `input` back having changed nothing (the value is
/// not its kind, or the operation would fail or delete the key); so does a key that
/// does not qualify. The caller then goes the ordinary way, which also answers the
/// errors.
pub(crate) fn in_place<I, R>(
    tx: &mut Tx<'_>,
    key: &[u8],
    input: I,
    change: impl FnOnce(&mut Value, I) -> Result<(R, bool), I>,
) -> Result<R, I> {
    let mut input = Some(input);
    let changed = tx.change_in_place(key, |value| {
        match change(value, input.take().expect("`change` runs once")) {
            Ok(reply) => Some(reply),
            Err(declined) => {
                input = Some(declined);
                None
            }
        }
    });
    changed.ok_or_else(|| input.expect("handed back, or `change` never ran"))
}

/// The expiry a rewrite of `entry` keeps.
pub(crate) fn kept_expiry(entry: Option<&Entry>) -> Option<u64> {
    entry
        .and_then(|entry| entry.expires_at_ms())
        .map(|at| at.get())
}

/// Resolves Redis's inclusive `start..=stop` indexes (negative ones count from the
/// end) against a sequence of `len` items; `None` if the range is empty.
pub(crate) fn resolve_range(len: usize, start: i64, stop: i64) -> Option<Range<usize>> {
    let len_i = i64::try_from(len).ok()?;
    let start = if start < 0 {
        (start + len_i).max(0)
    } else {
        start
    };
    let stop = if stop < 0 {
        stop + len_i
    } else {
        stop.min(len_i - 1)
    };
    (start <= stop && start < len_i).then(|| start as usize..stop as usize + 1)
}

/// Resolves GETRANGE's `start..=end` over a string of `len` bytes. Strings clamp
/// differently from lists (Redis 7's `getrangeCommand`): an end before the string
/// becomes its first byte rather than an empty range, unless both indexes count
/// from the end and the start lies after the end.
pub(crate) fn resolve_string_range(len: usize, start: i64, end: i64) -> Option<Range<usize>> {
    let len_i = i64::try_from(len).ok()?;
    if len == 0 || (start < 0 && end < 0 && start > end) {
        return None;
    }
    let from_end = |index: i64| if index < 0 { index + len_i } else { index };
    let start = from_end(start).max(0);
    let end = from_end(end).clamp(0, len_i - 1);
    (start <= end).then(|| start as usize..end as usize + 1)
}

/// Resolves one index (negative counts from the end); `None` if out of range.
pub(crate) fn resolve_index(len: usize, index: i64) -> Option<usize> {
    let len_i = i64::try_from(len).ok()?;
    let index = if index < 0 { index + len_i } else { index };
    (0..len_i).contains(&index).then_some(index as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_redis() {
        assert_eq!(resolve_range(5, 0, -1), Some(0..5));
        assert_eq!(resolve_range(5, -2, -1), Some(3..5));
        assert_eq!(resolve_range(5, 1, 100), Some(1..5));
        assert_eq!(resolve_range(5, -100, 1), Some(0..2));
        assert_eq!(resolve_range(5, 3, 1), None);
        assert_eq!(resolve_range(5, 5, 10), None);
        assert_eq!(resolve_range(0, 0, -1), None);
        assert_eq!(resolve_range(5, 0, -100), None);
    }

    /// Redis 7.0.15's GETRANGE on "0x10" and on "", for each case of its clamping.
    #[test]
    fn string_ranges_follow_redis() {
        assert_eq!(resolve_string_range(4, -6, -5), Some(0..1));
        assert_eq!(resolve_string_range(4, -1, -2), None);
        assert_eq!(resolve_string_range(4, 0, -1), Some(0..4));
        assert_eq!(resolve_string_range(4, 1, 100), Some(1..4));
        assert_eq!(resolve_string_range(4, 2, -10), None);
        assert_eq!(resolve_string_range(4, 5, 10), None);
        assert_eq!(resolve_string_range(4, 0, 0), Some(0..1));
        assert_eq!(resolve_string_range(4, -100, 1), Some(0..2));
        assert_eq!(resolve_string_range(0, 0, -1), None);
        assert_eq!(resolve_string_range(0, -1, 0), None);
    }

    #[test]
    fn indexes_follow_redis() {
        assert_eq!(resolve_index(3, 0), Some(0));
        assert_eq!(resolve_index(3, -1), Some(2));
        assert_eq!(resolve_index(3, 3), None);
        assert_eq!(resolve_index(3, -4), None);
    }
}
