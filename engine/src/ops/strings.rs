//! SET and the string operations: INCRBY, INCRBYFLOAT, APPEND, SETRANGE, GETDEL, GETEX.

use bytes::Bytes;

use super::{get_kind, kept_expiry};
use crate::doc::DocError;
use crate::entry::Entry;
use crate::error::OpError;
use crate::op::{Expiry, Reply, SetCondition};
use crate::options::Limits;
use crate::staging::Tx;
use crate::value::{ByteString, Kind, Value, add_floats, format_float};

fn string_reply(entry: &Entry) -> Reply {
    entry
        .with_str(|text| Reply::Bytes(Bytes::copy_from_slice(text)))
        .unwrap_or(Reply::Nil)
}

pub(super) fn set(
    tx: &mut Tx<'_>,
    key: &[u8],
    value: Value,
    condition: SetCondition,
    expiry: Expiry,
    get_old: bool,
) -> Result<Reply, OpError> {
    if matches!(value, Value::Doc(_)) {
        // A document is checked against its collection's schema on every write.
        return Err(DocError::Invalid("documents are written with DOC.SET, not SET".into()).into());
    }
    // A blind SET (no condition, no GET, no KEEPTTL) does not need the old value: skip
    // the lookup, the commonest write's one probe of the published map.
    let needs_old = get_old || condition != SetCondition::Always || expiry == Expiry::Keep;
    let old = match (needs_old, get_old) {
        (false, _) => None,
        (true, true) => get_kind(tx, key, Kind::String)?,
        (true, false) => tx.get(key)?,
    };
    let proceed = match condition {
        SetCondition::Always => true,
        SetCondition::IfAbsent => old.is_none(),
        SetCondition::IfPresent => old.is_some(),
    };
    let reply = match (&old, get_old) {
        (Some(old), true) => string_reply(old),
        (None, true) => Reply::Nil,
        (_, false) if proceed => Reply::Ok,
        (_, false) => Reply::Nil,
    };
    if proceed {
        let expires_at_ms = match expiry {
            Expiry::Never => None,
            Expiry::Keep => kept_expiry(old.as_ref()),
            Expiry::AtMs(at) => Some(at),
        };
        tx.write(key, value, expires_at_ms);
    }
    Ok(reply)
}

pub(super) fn set_all_if_absent(
    tx: &mut Tx<'_>,
    pairs: Vec<(Bytes, Bytes)>,
) -> Result<Reply, OpError> {
    for (key, _) in &pairs {
        if tx.get(key)?.is_some() {
            return Ok(Reply::Int(0));
        }
    }
    for (key, value) in pairs {
        tx.write(&key, Value::Bytes(ByteString::new(&value)), None);
    }
    Ok(Reply::Int(1))
}

pub(super) fn incr_by(tx: &mut Tx<'_>, key: &[u8], delta: i64) -> Result<Reply, OpError> {
    let old = tx.get(key)?;
    let current = match &old {
        Some(entry) => entry.value().to_int()?,
        None => 0,
    };
    let new = current.checked_add(delta).ok_or(OpError::Overflow)?;
    tx.write(key, Value::Int(new), kept_expiry(old.as_ref()));
    Ok(Reply::Int(new))
}

pub(super) fn incr_by_float(tx: &mut Tx<'_>, key: &[u8], delta: f64) -> Result<Reply, OpError> {
    let old = tx.get(key)?;
    let current = match &old {
        Some(entry) => entry.value().to_float()?,
        None => 0.0,
    };
    if delta.is_nan() {
        return Err(OpError::NotFloat);
    }
    let new = add_floats(current, delta).ok_or(OpError::NotFinite)?;
    tx.write(key, Value::Float(new), kept_expiry(old.as_ref()));
    Ok(Reply::Bytes(Bytes::from(format_float(new))))
}

/// The current string bytes of `key` (empty if missing), refusing other kinds.
fn current_text(tx: &Tx<'_>, key: &[u8]) -> Result<(Vec<u8>, Option<u64>, bool), OpError> {
    let old = get_kind(tx, key, Kind::String)?;
    let text = old
        .as_ref()
        .and_then(|entry| entry.with_str(<[u8]>::to_vec))
        .unwrap_or_default();
    Ok((text, kept_expiry(old.as_ref()), old.is_some()))
}

fn check_size(size_bytes: usize, limits: &Limits) -> Result<(), OpError> {
    if size_bytes > limits.max_value_bytes {
        return Err(OpError::ValueTooLarge {
            size_bytes,
            limit_bytes: limits.max_value_bytes,
        });
    }
    Ok(())
}

pub(super) fn append(
    tx: &mut Tx<'_>,
    key: &[u8],
    suffix: &[u8],
    limits: &Limits,
) -> Result<Reply, OpError> {
    let (mut text, expires_at_ms, _) = current_text(tx, key)?;
    check_size(text.len().saturating_add(suffix.len()), limits)?;
    text.extend_from_slice(suffix);
    let len = text.len();
    tx.write(key, Value::from(text), expires_at_ms);
    Ok(Reply::Int(len as i64))
}

pub(super) fn set_range(
    tx: &mut Tx<'_>,
    key: &[u8],
    offset: usize,
    patch: &[u8],
    limits: &Limits,
) -> Result<Reply, OpError> {
    let (mut text, expires_at_ms, exists) = current_text(tx, key)?;
    if patch.is_empty() {
        // Redis writes nothing (and creates nothing) for an empty patch.
        return Ok(Reply::Int(if exists { text.len() as i64 } else { 0 }));
    }
    let end = offset.saturating_add(patch.len());
    check_size(end, limits)?;
    if text.len() < end {
        text.resize(end, 0);
    }
    text[offset..end].copy_from_slice(patch);
    let len = text.len();
    tx.write(key, Value::from(text), expires_at_ms);
    Ok(Reply::Int(len as i64))
}

pub(super) fn get_delete(tx: &mut Tx<'_>, key: &[u8]) -> Result<Reply, OpError> {
    match get_kind(tx, key, Kind::String)? {
        Some(old) => {
            tx.remove(key);
            Ok(string_reply(&old))
        }
        None => Ok(Reply::Nil),
    }
}

pub(super) fn get_expire(tx: &mut Tx<'_>, key: &[u8], expiry: Expiry) -> Result<Reply, OpError> {
    let Some(old) = get_kind(tx, key, Kind::String)? else {
        return Ok(Reply::Nil);
    };
    let reply = string_reply(&old);
    match expiry {
        Expiry::Keep => {}
        Expiry::Never if old.expires_at_ms().is_none() => {}
        Expiry::Never => tx.write(key, old.value().into_owned(), None),
        Expiry::AtMs(at) => tx.write(key, old.value().into_owned(), Some(at)),
    }
    Ok(reply)
}
