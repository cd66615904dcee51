//! Writes of one operation: strings (set, delete, increment) and collections (lists,
//! sets, hashes: push, pop, add, remove, and whole values).
//!
//! Each function sends one operation to the commit thread and, unless the ack mode
//! says otherwise, waits until it is visible. Refused operations change nothing.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use chiral::{Ack, Batch, Expiry, Hash, List, Op, Reply, Set, SetCondition, Value, WriteError};

use crate::args::{
    ack, bytes, chiral_ack, chiral_end, chiral_slice, end, handle, out, slices, write,
};
use crate::db::chiral_db;
use crate::owned::chiral_bytes;
use crate::status::{CHIRAL_NOT_FOUND, CHIRAL_OK, Failure, FfiResult, call, chiral_status};
use crate::view::refuse_if_view_open;

/// Sends `op` and waits as `ack` says; its reply, or `None` for an eventual write.
pub(crate) fn apply(db: &chiral_db, op: Op, ack: Ack) -> FfiResult<Option<Reply>> {
    refuse_if_view_open("write")?;
    let receipt = db
        .db
        .write(Batch::of(op), ack)
        .map_err(|error| match error {
            // One operation: its error is the call's, without "operation 0 failed".
            WriteError::Op { error, .. } => Failure::from(error),
            error => Failure::from(error),
        })?;
    let Some(mut commit) = receipt.commit() else {
        return Ok(None);
    };
    let reply = commit.replies.pop().expect("one reply per operation");
    Ok(Some(reply?))
}

/// The expiry for a time to live of `ttl_ms` from now; 0 means none.
pub(crate) fn expiry(ttl_ms: u64) -> Expiry {
    if ttl_ms == 0 {
        return Expiry::Never;
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        });
    Expiry::AtMs(now_ms.saturating_add(ttl_ms))
}

/// The SET operation that stores `value` with a time to live.
pub(crate) fn set_op(key: &[u8], value: Value, ttl_ms: u64) -> Op {
    Op::Set {
        key: key.into(),
        value,
        condition: SetCondition::Always,
        expiry: expiry(ttl_ms),
        get_old: false,
    }
}

fn int_reply(reply: Option<Reply>) -> Option<i64> {
    match reply {
        Some(Reply::Int(n)) => Some(n),
        _ => None,
    }
}

/// SET: stores `value` at `key`, replacing any value of any type. `ttl_ms` > 0 makes
/// the key expire that many milliseconds from now; 0 means never. `ack` is one of
/// `CHIRAL_ACK_*`.
///
/// # Safety
/// `db` NULL or a live database; `key` and `value` NULL (with length 0) or readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_set(
    db: *const chiral_db,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    ttl_ms: u64,
    ack: chiral_ack,
) -> chiral_status {
    call(|| {
        // SAFETY: as the caller promises.
        let (db, key, value) = unsafe {
            (
                handle(db, "db")?,
                bytes(key, key_len, "key")?,
                bytes(value, value_len, "value")?,
            )
        };
        apply(db, set_op(key, Value::from(value), ttl_ms), self::ack(ack)?)?;
        Ok(CHIRAL_OK)
    })
}

/// DEL: deletes `key`. `CHIRAL_OK` if it existed, `CHIRAL_NOT_FOUND` if not (an
/// eventual delete answers `CHIRAL_OK`: it does not wait to know).
///
/// # Safety
/// `db` NULL or a live database; `key` NULL (with length 0) or readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_delete(
    db: *const chiral_db,
    key: *const u8,
    key_len: usize,
    ack: chiral_ack,
) -> chiral_status {
    call(|| {
        // SAFETY: as the caller promises.
        let (db, key) = unsafe { (handle(db, "db")?, bytes(key, key_len, "key")?) };
        Ok(match apply(db, Op::delete(key), self::ack(ack)?)? {
            Some(Reply::Int(0)) => CHIRAL_NOT_FOUND,
            _ => CHIRAL_OK,
        })
    })
}

/// INCRBY: adds `delta` to the integer at `key` (a missing key counts as 0) and
/// writes the result to `*out_value` (may be NULL). `CHIRAL_ERR_NOT_A_NUMBER` if the
/// value is not an integer, `CHIRAL_ERR_OVERFLOW` if the sum does not fit 64 bits.
///
/// # Safety
/// `db` NULL or a live database; `key` NULL (with length 0) or readable; `out_value`
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_incr(
    db: *const chiral_db,
    key: *const u8,
    key_len: usize,
    delta: i64,
    out_value: *mut i64,
) -> chiral_status {
    call(|| {
        // SAFETY: as the caller promises.
        let (db, key) = unsafe { (handle(db, "db")?, bytes(key, key_len, "key")?) };
        let value = int_reply(apply(db, Op::incr_by(key, delta), Ack::Visible)?)
            .expect("INCRBY replies an integer");
        // SAFETY: NULL or writable, as the caller promises.
        unsafe { write(out_value, value) };
        Ok(CHIRAL_OK)
    })
}

/// LPUSH/RPUSH: pushes `value` at `end` of the list at `key` (creating it); the new
/// length goes to `*out_len` (may be NULL).
///
/// # Safety
/// `db` NULL or a live database; `key` and `value` NULL (with length 0) or readable;
/// `out_len` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_list_push(
    db: *const chiral_db,
    key: *const u8,
    key_len: usize,
    end: chiral_end,
    value: *const u8,
    value_len: usize,
    out_len: *mut u64,
) -> chiral_status {
    call(|| {
        // SAFETY: as the caller promises.
        let (db, key, value) = unsafe {
            (
                handle(db, "db")?,
                bytes(key, key_len, "key")?,
                bytes(value, value_len, "value")?,
            )
        };
        let op = Op::Push {
            key: key.into(),
            end: self::end(end)?,
            values: vec![Bytes::copy_from_slice(value)],
            only_if_exists: false,
        };
        let length = int_reply(apply(db, op, Ack::Visible)?).expect("a push replies the length");
        // SAFETY: NULL or writable, as the caller promises.
        unsafe { write(out_len, length.unsigned_abs()) };
        Ok(CHIRAL_OK)
    })
}

/// LPOP/RPOP: removes the element at `end` of the list at `key` and hands it to the
/// caller in `*out_value` (free it with `chiral_bytes_free`). `CHIRAL_NOT_FOUND` if
/// the list is empty or missing.
///
/// # Safety
/// `db` NULL or a live database; `key` NULL (with length 0) or readable; `out_value`
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_list_pop(
    db: *const chiral_db,
    key: *const u8,
    key_len: usize,
    end: chiral_end,
    out_value: *mut chiral_bytes,
) -> chiral_status {
    call(|| {
        let out_value = out(out_value, "out_value")?;
        // SAFETY: as the caller promises.
        let (db, key) = unsafe { (handle(db, "db")?, bytes(key, key_len, "key")?) };
        let op = Op::Pop {
            key: key.into(),
            end: self::end(end)?,
            count: None,
        };
        match apply(db, op, Ack::Visible)? {
            Some(Reply::Bytes(element)) => {
                // SAFETY: checked non-NULL, writable as the caller promises.
                unsafe { write(out_value, chiral_bytes::from(&element[..])) };
                Ok(CHIRAL_OK)
            }
            _ => Ok(CHIRAL_NOT_FOUND),
        }
    })
}

/// SADD of one member to the set at `key` (creating it). `CHIRAL_OK` whether or not
/// the member was already there; `*out_added` (may be NULL) tells: true if new.
///
/// # Safety
/// `db` NULL or a live database; `key` and `member` NULL (with length 0) or
/// readable; `out_added` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_set_add(
    db: *const chiral_db,
    key: *const u8,
    key_len: usize,
    member: *const u8,
    member_len: usize,
    out_added: *mut bool,
) -> chiral_status {
    call(|| {
        // SAFETY: as the caller promises.
        let (db, key, member) = unsafe {
            (
                handle(db, "db")?,
                bytes(key, key_len, "key")?,
                bytes(member, member_len, "member")?,
            )
        };
        let op = Op::SetAdd {
            key: key.into(),
            members: vec![Bytes::copy_from_slice(member)],
        };
        let added = int_reply(apply(db, op, Ack::Visible)?) == Some(1);
        // SAFETY: NULL or writable, as the caller promises.
        unsafe { write(out_added, added) };
        Ok(CHIRAL_OK)
    })
}

/// SREM of one member: `CHIRAL_OK` if it was removed, `CHIRAL_NOT_FOUND` if it was
/// not in the set.
///
/// # Safety
/// `db` NULL or a live database; `key` and `member` NULL (with length 0) or readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_set_remove(
    db: *const chiral_db,
    key: *const u8,
    key_len: usize,
    member: *const u8,
    member_len: usize,
) -> chiral_status {
    call(|| {
        // SAFETY: as the caller promises.
        let (db, key, member) = unsafe {
            (
                handle(db, "db")?,
                bytes(key, key_len, "key")?,
                bytes(member, member_len, "member")?,
            )
        };
        let op = Op::SetRemove {
            key: key.into(),
            members: vec![Bytes::copy_from_slice(member)],
        };
        Ok(match int_reply(apply(db, op, Ack::Visible)?) {
            Some(1) => CHIRAL_OK,
            _ => CHIRAL_NOT_FOUND,
        })
    })
}

/// HSET of one field: sets `field` of the hash at `key` to `value` (creating the
/// hash).
///
/// # Safety
/// `db` NULL or a live database; `key`, `field` and `value` NULL (with length 0) or
/// readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_hash_set(
    db: *const chiral_db,
    key: *const u8,
    key_len: usize,
    field: *const u8,
    field_len: usize,
    value: *const u8,
    value_len: usize,
) -> chiral_status {
    call(|| {
        // SAFETY: as the caller promises.
        let (db, key, field, value) = unsafe {
            (
                handle(db, "db")?,
                bytes(key, key_len, "key")?,
                bytes(field, field_len, "field")?,
                bytes(value, value_len, "value")?,
            )
        };
        let op = Op::HashSet {
            key: key.into(),
            pairs: vec![(Bytes::copy_from_slice(field), Bytes::copy_from_slice(value))],
            only_if_absent: false,
        };
        apply(db, op, Ack::Visible)?;
        Ok(CHIRAL_OK)
    })
}

/// HDEL of one field: `CHIRAL_OK` if it was removed, `CHIRAL_NOT_FOUND` if the hash
/// had no such field.
///
/// # Safety
/// `db` NULL or a live database; `key` and `field` NULL (with length 0) or readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_hash_delete(
    db: *const chiral_db,
    key: *const u8,
    key_len: usize,
    field: *const u8,
    field_len: usize,
) -> chiral_status {
    call(|| {
        // SAFETY: as the caller promises.
        let (db, key, field) = unsafe {
            (
                handle(db, "db")?,
                bytes(key, key_len, "key")?,
                bytes(field, field_len, "field")?,
            )
        };
        let op = Op::HashDelete {
            key: key.into(),
            fields: vec![Bytes::copy_from_slice(field)],
        };
        Ok(match int_reply(apply(db, op, Ack::Visible)?) {
            Some(1) => CHIRAL_OK,
            _ => CHIRAL_NOT_FOUND,
        })
    })
}

/// Stores a whole list at `key`: the `count` elements of `items`, in order,
/// replacing any value (an empty list deletes the key).
///
/// # Safety
/// `db` NULL or a live database; `key` NULL (with length 0) or readable; `items`
/// NULL (with `count` 0) or `count` slices, each NULL (with length 0) or readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_list_put(
    db: *const chiral_db,
    key: *const u8,
    key_len: usize,
    items: *const chiral_slice,
    count: usize,
    ack: chiral_ack,
) -> chiral_status {
    call(|| {
        // SAFETY: as the caller promises.
        let (db, key, items) = unsafe {
            (
                handle(db, "db")?,
                bytes(key, key_len, "key")?,
                slices(items, count, "items")?,
            )
        };
        let list: List = items.into_iter().map(Bytes::copy_from_slice).collect();
        put_whole(db, key, Value::List(Box::new(list)), count, self::ack(ack)?)
    })
}

/// Stores a whole set at `key`: the `count` members of `members` (duplicates count
/// once), replacing any value (an empty set deletes the key).
///
/// # Safety
/// As `chiral_list_put`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_set_put(
    db: *const chiral_db,
    key: *const u8,
    key_len: usize,
    members: *const chiral_slice,
    count: usize,
    ack: chiral_ack,
) -> chiral_status {
    call(|| {
        // SAFETY: as the caller promises.
        let (db, key, members) = unsafe {
            (
                handle(db, "db")?,
                bytes(key, key_len, "key")?,
                slices(members, count, "members")?,
            )
        };
        let set: Set = members.into_iter().map(Bytes::copy_from_slice).collect();
        put_whole(db, key, Value::Set(Box::new(set)), count, self::ack(ack)?)
    })
}

/// Stores a whole hash at `key`: `fields[i]` maps to `values[i]` for `i < count`
/// (a repeated field keeps its last value), replacing any value (an empty hash
/// deletes the key).
///
/// # Safety
/// As `chiral_list_put`, for both `fields` and `values`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_hash_put(
    db: *const chiral_db,
    key: *const u8,
    key_len: usize,
    fields: *const chiral_slice,
    values: *const chiral_slice,
    count: usize,
    ack: chiral_ack,
) -> chiral_status {
    call(|| {
        // SAFETY: as the caller promises.
        let (db, key, fields, values) = unsafe {
            (
                handle(db, "db")?,
                bytes(key, key_len, "key")?,
                slices(fields, count, "fields")?,
                slices(values, count, "values")?,
            )
        };
        let hash: Hash = fields
            .into_iter()
            .zip(values)
            .map(|(field, value)| (Bytes::copy_from_slice(field), Bytes::copy_from_slice(value)))
            .collect();
        put_whole(db, key, Value::Hash(Box::new(hash)), count, self::ack(ack)?)
    })
}

/// Writes a whole collection; an empty one deletes the key, as Redis never keeps
/// empty collections.
fn put_whole(db: &chiral_db, key: &[u8], value: Value, count: usize, ack: Ack) -> FfiResult {
    let op = if count == 0 {
        Op::delete(key)
    } else {
        set_op(key, value, 0)
    };
    apply(db, op, ack)?;
    Ok(CHIRAL_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_ttl_never_expires_and_a_ttl_is_in_the_future() {
        assert_eq!(expiry(0), Expiry::Never);
        let Expiry::AtMs(at) = expiry(60_000) else {
            panic!("a ttl sets an expiry time");
        };
        let Expiry::AtMs(later) = expiry(120_000) else {
            panic!("a ttl sets an expiry time");
        };
        assert!(later > at);
        assert_eq!(expiry(u64::MAX), Expiry::AtMs(u64::MAX));
    }
}
