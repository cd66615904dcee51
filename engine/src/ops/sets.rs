//! Set operations: SADD, SREM. A set that becomes empty is deleted.

use bytes::Bytes;

use super::{get_kind, kept_expiry};
use crate::error::OpError;
use crate::op::Reply;
use crate::staging::Tx;
use crate::value::{Kind, Set, Value};

fn set_of(value: &Value) -> &Set {
    match value {
        Value::Set(set) => set,
        _ => unreachable!("get_kind checked the kind"),
    }
}

pub(super) fn add(tx: &mut Tx<'_>, key: &[u8], members: Vec<Bytes>) -> Result<Reply, OpError> {
    let old = get_kind(tx, key, Kind::Set)?;
    let mut set = old
        .as_ref()
        .map(|entry| set_of(entry.value()).clone())
        .unwrap_or_default();
    let mut added = 0;
    for member in members {
        if set.insert(member).is_none() {
            added += 1;
        }
    }
    if added > 0 {
        tx.write(key, Value::Set(Box::new(set)), kept_expiry(old.as_ref()));
    }
    Ok(Reply::Int(added))
}

pub(super) fn remove(tx: &mut Tx<'_>, key: &[u8], members: &[Bytes]) -> Result<Reply, OpError> {
    let Some(old) = get_kind(tx, key, Kind::Set)? else {
        return Ok(Reply::Int(0));
    };
    let mut set = set_of(old.value()).clone();
    let removed = members
        .iter()
        .filter(|member| set.remove(*member).is_some())
        .count();
    if removed > 0 {
        if set.is_empty() {
            tx.remove(key);
        } else {
            tx.write(key, Value::Set(Box::new(set)), kept_expiry(Some(&old)));
        }
    }
    Ok(Reply::Int(removed as i64))
}
