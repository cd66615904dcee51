//! List operations: LPUSH/RPUSH(X), LPOP/RPOP, LSET, LREM, LTRIM.
//!
//! A list that becomes empty is deleted, as in Redis.

use bytes::Bytes;

use super::{get_kind, kept_expiry, resolve_index, resolve_range};
use crate::error::OpError;
use crate::op::{End, Reply};
use crate::staging::Tx;
use crate::value::{Kind, List, Value};

fn list_of(value: &Value) -> &List {
    match value {
        Value::List(list) => list,
        _ => unreachable!("get_kind checked the kind"),
    }
}

/// Stores `list` under `key`, or deletes the key if the list is empty.
fn store(tx: &mut Tx<'_>, key: &[u8], list: List, expires_at_ms: Option<u64>) {
    if list.is_empty() {
        tx.remove(key);
    } else {
        tx.write(key, Value::List(Box::new(list)), expires_at_ms);
    }
}

pub(super) fn push(
    tx: &mut Tx<'_>,
    key: &[u8],
    end: End,
    values: Vec<Bytes>,
    only_if_exists: bool,
) -> Result<Reply, OpError> {
    let old = get_kind(tx, key, Kind::List)?;
    if old.is_none() && only_if_exists {
        return Ok(Reply::Int(0));
    }
    let mut list = old
        .as_ref()
        .map(|entry| list_of(entry.value()).clone())
        .unwrap_or_default();
    for value in values {
        match end {
            End::Front => list.push_front(value),
            End::Back => list.push_back(value),
        }
    }
    let len = list.len();
    store(tx, key, list, kept_expiry(old.as_ref()));
    Ok(Reply::Int(len as i64))
}

pub(super) fn pop(
    tx: &mut Tx<'_>,
    key: &[u8],
    end: End,
    count: Option<usize>,
) -> Result<Reply, OpError> {
    let Some(old) = get_kind(tx, key, Kind::List)? else {
        return Ok(Reply::Nil);
    };
    let mut list = list_of(old.value()).clone();
    let wanted = count.unwrap_or(1).min(list.len());
    let mut popped = Vec::with_capacity(wanted);
    for _ in 0..wanted {
        let value = match end {
            End::Front => list.pop_front(),
            End::Back => list.pop_back(),
        };
        popped.push(Reply::Bytes(value.expect("wanted is at most the length")));
    }
    if wanted > 0 {
        store(tx, key, list, kept_expiry(Some(&old)));
    }
    Ok(match count {
        Some(_) => Reply::Array(popped),
        None => popped.pop().unwrap_or(Reply::Nil),
    })
}

pub(super) fn set(tx: &mut Tx<'_>, key: &[u8], index: i64, value: Bytes) -> Result<Reply, OpError> {
    let Some(old) = get_kind(tx, key, Kind::List)? else {
        return Err(OpError::NoSuchKey);
    };
    let mut list = list_of(old.value()).clone();
    let index = resolve_index(list.len(), index).ok_or(OpError::IndexOutOfRange)?;
    list.set(index, value);
    store(tx, key, list, kept_expiry(Some(&old)));
    Ok(Reply::Ok)
}

pub(super) fn remove(
    tx: &mut Tx<'_>,
    key: &[u8],
    count: i64,
    value: &[u8],
) -> Result<Reply, OpError> {
    let Some(old) = get_kind(tx, key, Kind::List)? else {
        return Ok(Reply::Int(0));
    };
    let list = list_of(old.value());
    let limit = if count == 0 {
        usize::MAX
    } else {
        count.unsigned_abs() as usize
    };
    let matches: Vec<usize> = if count >= 0 {
        list.iter()
            .enumerate()
            .filter(|(_, v)| **v == value)
            .map(|(i, _)| i)
            .take(limit)
            .collect()
    } else {
        let mut from_tail: Vec<usize> = list
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, v)| **v == value)
            .map(|(i, _)| i)
            .take(limit)
            .collect();
        from_tail.reverse();
        from_tail
    };
    if matches.is_empty() {
        return Ok(Reply::Int(0));
    }
    let mut list = list.clone();
    // Remove from the back so earlier indexes stay valid.
    for &index in matches.iter().rev() {
        list.remove(index);
    }
    store(tx, key, list, kept_expiry(Some(&old)));
    Ok(Reply::Int(matches.len() as i64))
}

pub(super) fn trim(tx: &mut Tx<'_>, key: &[u8], start: i64, stop: i64) -> Result<Reply, OpError> {
    let Some(old) = get_kind(tx, key, Kind::List)? else {
        return Ok(Reply::Ok);
    };
    let list = list_of(old.value());
    let kept = match resolve_range(list.len(), start, stop) {
        Some(range) if range.len() == list.len() => return Ok(Reply::Ok),
        Some(range) => list.clone().slice(range),
        None => List::new(),
    };
    store(tx, key, kept, kept_expiry(Some(&old)));
    Ok(Reply::Ok)
}
