//! List operations: LPUSH/RPUSH(X), LPOP/RPOP, LSET, LREM, LTRIM.
//!
//! A list that becomes empty is deleted, as in Redis. Pushes, pops and LSET change a
//! list the batch already wrote in place.

use bytes::Bytes;

use super::{get_kind, in_place, kept_expiry, resolve_index, resolve_range};
use crate::error::OpError;
use crate::op::{End, Reply};
use crate::staging::Tx;
use crate::value::{Kind, List, Value};

fn list_of(value: Option<&Value>) -> &List {
    match value {
        Some(Value::List(list)) => list,
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

/// Pushes `values` at `end` of `list`, one by one: its new length.
fn push_values(list: &mut List, end: End, values: Vec<Bytes>) -> usize {
    for value in values {
        match end {
            End::Front => list.push_front(value),
            End::Back => list.push_back(value),
        }
    }
    list.len()
}

/// Pops `count` items from `end` of `list` (it has that many), in pop order.
fn pop_values(list: &mut List, end: End, count: usize) -> Vec<Reply> {
    (0..count)
        .map(|_| {
            let value = match end {
                End::Front => list.pop_front(),
                End::Back => list.pop_back(),
            };
            Reply::Bytes(value.expect("the list has `count` items"))
        })
        .collect()
}

pub(super) fn push(
    tx: &mut Tx<'_>,
    key: &[u8],
    end: End,
    values: Vec<Bytes>,
    only_if_exists: bool,
) -> Result<Reply, OpError> {
    let values = match in_place(tx, key, values, |value, values| match value {
        Value::List(list) => Ok((push_values(list, end, values), true)),
        _ => Err(values),
    }) {
        Ok(len) => return Ok(Reply::Int(len as i64)),
        Err(values) => values,
    };
    let old = get_kind(tx, key, Kind::List)?;
    if old.is_none() && only_if_exists {
        return Ok(Reply::Int(0));
    }
    let mut list = old
        .as_ref()
        .map(|entry| list_of(entry.stored_value()).clone())
        .unwrap_or_default();
    let len = push_values(&mut list, end, values);
    store(tx, key, list, kept_expiry(old.as_ref()));
    Ok(Reply::Int(len as i64))
}

pub(super) fn pop(
    tx: &mut Tx<'_>,
    key: &[u8],
    end: End,
    count: Option<usize>,
) -> Result<Reply, OpError> {
    let wanted = count.unwrap_or(1);
    let popped = match in_place(tx, key, (), |value, ()| match value {
        // (An emptied list deletes the key: that goes the ordinary way.)
        Value::List(list) if wanted < list.len() => Ok((pop_values(list, end, wanted), wanted > 0)),
        _ => Err(()),
    }) {
        Ok(popped) => popped,
        Err(()) => {
            let Some(old) = get_kind(tx, key, Kind::List)? else {
                return Ok(Reply::Nil);
            };
            let mut list = list_of(old.stored_value()).clone();
            let available = wanted.min(list.len());
            let popped = pop_values(&mut list, end, available);
            if !popped.is_empty() {
                store(tx, key, list, kept_expiry(Some(&old)));
            }
            popped
        }
    };
    Ok(match count {
        Some(_) => Reply::Array(popped),
        None => popped.into_iter().next().unwrap_or(Reply::Nil),
    })
}

pub(super) fn set(tx: &mut Tx<'_>, key: &[u8], index: i64, value: Bytes) -> Result<Reply, OpError> {
    let value = match in_place(tx, key, value, |stored, value| match stored {
        Value::List(list) => match resolve_index(list.len(), index) {
            Some(index) => {
                list.set(index, value);
                Ok(((), true))
            }
            None => Err(value),
        },
        _ => Err(value),
    }) {
        Ok(()) => return Ok(Reply::Ok),
        Err(value) => value,
    };
    let Some(old) = get_kind(tx, key, Kind::List)? else {
        return Err(OpError::NoSuchKey);
    };
    let mut list = list_of(old.stored_value()).clone();
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
    let list = list_of(old.stored_value());
    let limit = if count == 0 {
        usize::MAX
    } else {
        count.unsigned_abs() as usize
    };
    let items: Vec<&[u8]> = list.iter().collect();
    let matches: Vec<usize> = if count >= 0 {
        items
            .iter()
            .enumerate()
            .filter(|(_, v)| **v == value)
            .map(|(i, _)| i)
            .take(limit)
            .collect()
    } else {
        let mut from_tail: Vec<usize> = items
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
    let list = list_of(old.stored_value());
    let kept = match resolve_range(list.len(), start, stop) {
        Some(range) if range.len() == list.len() => return Ok(Reply::Ok),
        Some(range) => list.range(range),
        None => List::new(),
    };
    store(tx, key, kept, kept_expiry(Some(&old)));
    Ok(Reply::Ok)
}
