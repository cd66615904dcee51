//! Operations on keys whatever their type: DEL, EXPIRE and PERSIST, RENAME.

use crate::error::OpError;
use crate::op::{ExpireCondition, Reply};
use crate::staging::Tx;

pub(super) fn delete(tx: &mut Tx<'_>, key: &[u8]) -> Result<Reply, OpError> {
    if tx.get(key)?.is_some() {
        tx.remove(key);
        Ok(Reply::Int(1))
    } else {
        Ok(Reply::Int(0))
    }
}

pub(super) fn expire(
    tx: &mut Tx<'_>,
    key: &[u8],
    at_ms: Option<u64>,
    condition: ExpireCondition,
) -> Result<Reply, OpError> {
    let Some(old) = tx.get(key)? else {
        return Ok(Reply::Int(0));
    };
    let current = old.expires_at_ms().map(|at| at.get());
    let Some(at_ms) = at_ms else {
        // PERSIST
        if current.is_none() {
            return Ok(Reply::Int(0));
        }
        tx.write(key, old.value().into_owned(), None);
        return Ok(Reply::Int(1));
    };
    let allowed = match condition {
        ExpireCondition::Always => true,
        ExpireCondition::IfNone => current.is_none(),
        ExpireCondition::IfSome => current.is_some(),
        // A key without expiry lives forever: no time is later than that.
        ExpireCondition::IfLater => current.is_some_and(|current| at_ms > current),
        ExpireCondition::IfEarlier => current.is_none_or(|current| at_ms < current),
        ExpireCondition::IfSomeAndEarlier => current.is_some_and(|current| at_ms < current),
    };
    if !allowed {
        return Ok(Reply::Int(0));
    }
    tx.write(key, old.value().into_owned(), Some(at_ms));
    Ok(Reply::Int(1))
}

pub(super) fn rename(
    tx: &mut Tx<'_>,
    from: &[u8],
    to: &[u8],
    only_if_absent: bool,
) -> Result<Reply, OpError> {
    let Some(entry) = tx.get(from)? else {
        return Err(OpError::NoSuchKey);
    };
    let done = if only_if_absent {
        Reply::Int(1)
    } else {
        Reply::Ok
    };
    if from == to {
        return Ok(if only_if_absent { Reply::Int(0) } else { done });
    }
    if only_if_absent && tx.get(to)?.is_some() {
        return Ok(Reply::Int(0));
    }
    tx.remove(from);
    tx.write(
        to,
        entry.value().into_owned(),
        entry.expires_at_ms().map(|at| at.get()),
    );
    Ok(done)
}
