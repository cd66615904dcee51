//! Hash operations: HSET, HSETNX, HDEL, HINCRBY, HINCRBYFLOAT. A hash that becomes
//! empty is deleted.

use bytes::Bytes;

use super::{get_kind, kept_expiry};
use crate::entry::Entry;
use crate::error::OpError;
use crate::op::Reply;
use crate::staging::Tx;
use crate::value::{Hash, Kind, Value, format_float, parse_float, parse_int};

fn hash_of(value: &Value) -> &Hash {
    match value {
        Value::Hash(hash) => hash,
        _ => unreachable!("get_kind checked the kind"),
    }
}

fn current(tx: &Tx<'_>, key: &[u8]) -> Result<(Option<Entry>, Hash), OpError> {
    let old = get_kind(tx, key, Kind::Hash)?;
    let hash = old
        .as_ref()
        .map(|entry| hash_of(entry.value()).clone())
        .unwrap_or_default();
    Ok((old, hash))
}

pub(super) fn set(
    tx: &mut Tx<'_>,
    key: &[u8],
    pairs: Vec<(Bytes, Bytes)>,
    only_if_absent: bool,
) -> Result<Reply, OpError> {
    let (old, mut hash) = current(tx, key)?;
    let mut added = 0;
    let mut changed = false;
    for (field, value) in pairs {
        if only_if_absent && hash.contains_key(&field) {
            continue;
        }
        changed = true;
        if hash.insert(field, value).is_none() {
            added += 1;
        }
    }
    if changed {
        tx.write(key, Value::Hash(Box::new(hash)), kept_expiry(old.as_ref()));
    }
    Ok(Reply::Int(added))
}

pub(super) fn delete(tx: &mut Tx<'_>, key: &[u8], fields: &[Bytes]) -> Result<Reply, OpError> {
    let (old, mut hash) = current(tx, key)?;
    let removed = fields
        .iter()
        .filter(|field| hash.remove(*field).is_some())
        .count();
    if removed > 0 {
        if hash.is_empty() {
            tx.remove(key);
        } else {
            tx.write(key, Value::Hash(Box::new(hash)), kept_expiry(old.as_ref()));
        }
    }
    Ok(Reply::Int(removed as i64))
}

pub(super) fn incr_by(
    tx: &mut Tx<'_>,
    key: &[u8],
    field: Bytes,
    delta: i64,
) -> Result<Reply, OpError> {
    let (old, mut hash) = current(tx, key)?;
    let current = match hash.get(&field) {
        Some(text) => parse_int(text).ok_or(OpError::HashNotInteger)?,
        None => 0,
    };
    let new = current.checked_add(delta).ok_or(OpError::Overflow)?;
    hash.insert(field, Bytes::from(new.to_string()));
    tx.write(key, Value::Hash(Box::new(hash)), kept_expiry(old.as_ref()));
    Ok(Reply::Int(new))
}

pub(super) fn incr_by_float(
    tx: &mut Tx<'_>,
    key: &[u8],
    field: Bytes,
    delta: f64,
) -> Result<Reply, OpError> {
    let (old, mut hash) = current(tx, key)?;
    let current = match hash.get(&field) {
        Some(text) => parse_float(text).ok_or(OpError::HashNotFloat)?,
        None => 0.0,
    };
    let new = current + delta;
    if !new.is_finite() {
        return Err(OpError::NotFinite);
    }
    let text = Bytes::from(format_float(new));
    hash.insert(field, text.clone());
    tx.write(key, Value::Hash(Box::new(hash)), kept_expiry(old.as_ref()));
    Ok(Reply::Bytes(text))
}
