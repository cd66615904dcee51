//! Set operations: SADD, SREM. A set that becomes empty is deleted. A set the batch
//! already wrote is changed in place.

use bytes::Bytes;

use super::{changes_nothing, get_kind, in_place, kept_expiry};
use crate::error::OpError;
use crate::op::Reply;
use crate::overlay::Found;
use crate::staging::Tx;
use crate::value::{Kind, Set, Value};

fn set_of(value: Option<&Value>) -> &Set {
    match value {
        Some(Value::Set(set)) => set,
        _ => unreachable!("get_kind checked the kind"),
    }
}

/// Adds `members` to `set`: how many it lacked.
fn insert_members(set: &mut Set, members: Vec<Bytes>) -> i64 {
    let mut added = 0;
    for member in members {
        if set.insert(member) {
            added += 1;
        }
    }
    added
}

/// Removes `members` from `set`: how many it had.
fn remove_members(set: &mut Set, members: &[Bytes]) -> usize {
    members.iter().filter(|member| set.remove(member)).count()
}

pub(super) fn add(tx: &mut Tx<'_>, key: &[u8], members: Vec<Bytes>) -> Result<Reply, OpError> {
    let members = match in_place(tx, key, members, |value, members| match value {
        Value::Set(set) => {
            let added = insert_members(set, members);
            Ok((added, added > 0))
        }
        _ => Err(members),
    }) {
        Ok(added) => return Ok(Reply::Int(added)),
        Err(members) => members,
    };
    let has_all = |set: Found<'_>| {
        members
            .iter()
            .try_fold(true, |all, member| Ok(all && set.set_contains(member)?))
    };
    if changes_nothing(tx, key, Kind::Set, has_all) {
        return Ok(Reply::Int(0));
    }
    let old = get_kind(tx, key, Kind::Set)?;
    let mut set = old
        .as_ref()
        .map(|entry| set_of(entry.stored_value()).clone())
        .unwrap_or_default();
    let added = insert_members(&mut set, members);
    if added > 0 {
        tx.write(key, Value::Set(Box::new(set)), kept_expiry(old.as_ref()));
    }
    Ok(Reply::Int(added))
}

pub(super) fn remove(tx: &mut Tx<'_>, key: &[u8], members: &[Bytes]) -> Result<Reply, OpError> {
    let emptied = |set: &Set| members.iter().filter(|m| set.contains(m)).count() >= set.len();
    if let Ok(removed) = in_place(tx, key, (), |value, ()| match value {
        // (An emptied set deletes the key: that goes the ordinary way.)
        Value::Set(set) if !emptied(set) => {
            let removed = remove_members(set, members);
            Ok((removed, removed > 0))
        }
        _ => Err(()),
    }) {
        return Ok(Reply::Int(removed as i64));
    }
    let has_none = |set: Found<'_>| {
        members
            .iter()
            .try_fold(true, |none, member| Ok(none && !set.set_contains(member)?))
    };
    if changes_nothing(tx, key, Kind::Set, has_none) {
        return Ok(Reply::Int(0));
    }
    let Some(old) = get_kind(tx, key, Kind::Set)? else {
        return Ok(Reply::Int(0));
    };
    let mut set = set_of(old.stored_value()).clone();
    let removed = remove_members(&mut set, members);
    if removed > 0 {
        if set.is_empty() {
            tx.remove(key);
        } else {
            tx.write(key, Value::Set(Box::new(set)), kept_expiry(Some(&old)));
        }
    }
    Ok(Reply::Int(removed as i64))
}
