//! Hash operations: HSET, HSETNX, HDEL, HINCRBY, HINCRBYFLOAT. A hash that becomes
//! empty is deleted. A hash the batch already wrote is changed in place.

use bytes::Bytes;

use super::{changes_nothing, get_kind, in_place, kept_expiry};
use crate::entry::Entry;
use crate::error::OpError;
use crate::op::Reply;
use crate::overlay::Found;
use crate::staging::Tx;
use crate::value::{Hash, Kind, Value, add_floats, format_float, parse_float, parse_int};

fn hash_of(value: Option<&Value>) -> &Hash {
    match value {
        Some(Value::Hash(hash)) => hash,
        _ => unreachable!("get_kind checked the kind"),
    }
}

fn current(tx: &Tx<'_>, key: &[u8]) -> Result<(Option<Entry>, Hash), OpError> {
    let old = get_kind(tx, key, Kind::Hash)?;
    let hash = old
        .as_ref()
        .map(|entry| hash_of(entry.stored_value()).clone())
        .unwrap_or_default();
    Ok((old, hash))
}

/// Sets `pairs` in `hash` (only fields it lacks, if `only_if_absent`): how many
/// fields it added, and whether it changed anything.
fn insert_pairs(hash: &mut Hash, pairs: Vec<(Bytes, Bytes)>, only_if_absent: bool) -> (i64, bool) {
    let mut added = 0;
    let mut changed = false;
    for (field, value) in pairs {
        if only_if_absent && hash.contains_key(&field) {
            continue;
        }
        changed = true;
        if hash.insert(field, value) {
            added += 1;
        }
    }
    (added, changed)
}

pub(super) fn set(
    tx: &mut Tx<'_>,
    key: &[u8],
    pairs: Vec<(Bytes, Bytes)>,
    only_if_absent: bool,
) -> Result<Reply, OpError> {
    let pairs = match in_place(tx, key, pairs, |value, pairs| match value {
        Value::Hash(hash) => Ok(insert_pairs(hash, pairs, only_if_absent)),
        _ => Err(pairs),
    }) {
        Ok(added) => return Ok(Reply::Int(added)),
        Err(pairs) => pairs,
    };
    let has_all_fields = |hash: Found<'_>| {
        pairs.iter().try_fold(true, |all, (field, _)| {
            Ok(all && hash.hash_get(field)?.is_some())
        })
    };
    if only_if_absent && changes_nothing(tx, key, Kind::Hash, has_all_fields) {
        return Ok(Reply::Int(0));
    }
    let (old, mut hash) = current(tx, key)?;
    let (added, changed) = insert_pairs(&mut hash, pairs, only_if_absent);
    if changed {
        tx.write(key, Value::Hash(Box::new(hash)), kept_expiry(old.as_ref()));
    }
    Ok(Reply::Int(added))
}

/// Removes `fields` from `hash`: how many it had.
fn remove_fields(hash: &mut Hash, fields: &[Bytes]) -> usize {
    fields.iter().filter(|field| hash.remove(field)).count()
}

pub(super) fn delete(tx: &mut Tx<'_>, key: &[u8], fields: &[Bytes]) -> Result<Reply, OpError> {
    let emptied =
        |hash: &Hash| fields.iter().filter(|f| hash.contains_key(f)).count() >= hash.len();
    if let Ok(removed) = in_place(tx, key, (), |value, ()| match value {
        // (An emptied hash deletes the key: that goes the ordinary way.)
        Value::Hash(hash) if !emptied(hash) => {
            let removed = remove_fields(hash, fields);
            Ok((removed, removed > 0))
        }
        _ => Err(()),
    }) {
        return Ok(Reply::Int(removed as i64));
    }
    let has_none = |hash: Found<'_>| {
        fields.iter().try_fold(true, |none, field| {
            Ok(none && hash.hash_get(field)?.is_none())
        })
    };
    if changes_nothing(tx, key, Kind::Hash, has_none) {
        return Ok(Reply::Int(0));
    }
    let (old, mut hash) = current(tx, key)?;
    let removed = remove_fields(&mut hash, fields);
    if removed > 0 {
        if hash.is_empty() {
            tx.remove(key);
        } else {
            tx.write(key, Value::Hash(Box::new(hash)), kept_expiry(old.as_ref()));
        }
    }
    Ok(Reply::Int(removed as i64))
}

/// `field`'s integer plus `delta`.
fn added_int(hash: &Hash, field: &Bytes, delta: i64) -> Result<i64, OpError> {
    let current = match hash.get(field) {
        Some(text) => parse_int(text).ok_or(OpError::HashNotInteger)?,
        None => 0,
    };
    current.checked_add(delta).ok_or(OpError::Overflow)
}

pub(super) fn incr_by(
    tx: &mut Tx<'_>,
    key: &[u8],
    field: Bytes,
    delta: i64,
) -> Result<Reply, OpError> {
    update_field(tx, key, field, |hash, field| {
        let new = added_int(hash, field, delta)?;
        Ok((Bytes::from(new.to_string()), Reply::Int(new)))
    })
}

/// `field`'s float plus `delta`, as the text stored.
fn added_float(hash: &Hash, field: &Bytes, delta: f64) -> Result<Bytes, OpError> {
    let current = match hash.get(field) {
        Some(text) => parse_float(text).ok_or(OpError::HashNotFloat)?,
        None => 0.0,
    };
    let new = add_floats(current, delta).ok_or(OpError::NotFinite)?;
    Ok(Bytes::from(format_float(new)))
}

pub(super) fn incr_by_float(
    tx: &mut Tx<'_>,
    key: &[u8],
    field: Bytes,
    delta: f64,
) -> Result<Reply, OpError> {
    update_field(tx, key, field, |hash, field| {
        let text = added_float(hash, field, delta)?;
        Ok((text.clone(), Reply::Bytes(text)))
    })
}

/// Stores under `field` the text `next` computes from the hash, and answers its
/// reply (HINCRBY, HINCRBYFLOAT); an error from `next` changes nothing.
fn update_field(
    tx: &mut Tx<'_>,
    key: &[u8],
    field: Bytes,
    next: impl Fn(&Hash, &Bytes) -> Result<(Bytes, Reply), OpError>,
) -> Result<Reply, OpError> {
    let field = match in_place(tx, key, field, |value, field| match value {
        Value::Hash(hash) => match next(hash, &field) {
            Ok((text, reply)) => {
                hash.insert(field, text);
                Ok((reply, true))
            }
            Err(_) => Err(field),
        },
        _ => Err(field),
    }) {
        Ok(reply) => return Ok(reply),
        Err(field) => field,
    };
    let (old, mut hash) = current(tx, key)?;
    let (text, reply) = next(&hash, &field)?;
    hash.insert(field, text);
    tx.write(key, Value::Hash(Box::new(hash)), kept_expiry(old.as_ref()));
    Ok(reply)
}
