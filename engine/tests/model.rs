//! Random operation sequences against a simple model, compared after every batch.
//!
//! The model is plain `BTreeMap`s with Redis's rules written out independently of
//! the engine. Operations run in random batches (atomic: a refused operation must
//! leave no trace of its batch), under a manual clock that the test moves.

mod common;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use chiral::{
    Ack, Batch, Db, End, Expiry, ManualClock, Op, OpError, Options, Reply, SetCondition, Ttl,
    WriteError,
};
use proptest::prelude::*;

#[derive(Debug, Clone, PartialEq)]
enum MValue {
    Str(Vec<u8>),
    List(VecDeque<Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
}

#[derive(Debug, Clone)]
struct MEntry {
    value: MValue,
    expires_at: Option<u64>,
}

#[derive(Debug, Clone, Default)]
struct Model {
    keys: BTreeMap<Vec<u8>, MEntry>,
}

#[derive(Debug, Clone)]
enum Step {
    Set {
        key: u8,
        value: u8,
        condition: u8,
        ttl: Option<u64>,
        keep: bool,
    },
    Delete(u8),
    Incr(u8, i64),
    Append(u8, u8),
    Expire(u8, Option<u64>),
    Push(u8, bool, u8),
    Pop(u8, bool),
    SAdd(u8, u8),
    SRem(u8, u8),
    HSet(u8, u8, u8),
    HDel(u8, u8),
    /// LSET key index value.
    LSet(u8, i64, u8),
    /// HINCRBY key field delta.
    HIncr(u8, u8, i64),
    Rename(u8, u8),
    Flush,
}

const KEYS: [&str; 4] = ["a", "b", "c", "d"];

fn k(i: u8) -> Vec<u8> {
    KEYS[i as usize % KEYS.len()].as_bytes().to_vec()
}

fn v(i: u8) -> Vec<u8> {
    if i.is_multiple_of(5) {
        b"7".to_vec()
    } else {
        format!("v{}", i % 8).into_bytes()
    }
}

fn step() -> impl Strategy<Value = Step> {
    let key = 0u8..4;
    prop_oneof![
        4 => (key.clone(), any::<u8>(), 0u8..3, prop::option::of(1u64..50), any::<bool>())
            .prop_map(|(key, value, condition, ttl, keep)| Step::Set { key, value, condition, ttl, keep }),
        1 => key.clone().prop_map(Step::Delete),
        2 => (key.clone(), -3i64..4).prop_map(|(k, d)| Step::Incr(k, d)),
        1 => (key.clone(), any::<u8>()).prop_map(|(k, v)| Step::Append(k, v)),
        1 => (key.clone(), prop::option::of(0u64..50)).prop_map(|(k, t)| Step::Expire(k, t)),
        2 => (key.clone(), any::<bool>(), any::<u8>()).prop_map(|(k, f, v)| Step::Push(k, f, v)),
        1 => (key.clone(), any::<bool>()).prop_map(|(k, f)| Step::Pop(k, f)),
        2 => (key.clone(), any::<u8>()).prop_map(|(k, v)| Step::SAdd(k, v)),
        1 => (key.clone(), any::<u8>()).prop_map(|(k, v)| Step::SRem(k, v)),
        2 => (key.clone(), 0u8..3, any::<u8>()).prop_map(|(k, f, v)| Step::HSet(k, f, v)),
        1 => (key.clone(), 0u8..3).prop_map(|(k, f)| Step::HDel(k, f)),
        1 => (key.clone(), -3i64..3, any::<u8>()).prop_map(|(k, i, v)| Step::LSet(k, i, v)),
        1 => (key.clone(), 0u8..3, -3i64..4).prop_map(|(k, f, d)| Step::HIncr(k, f, d)),
        1 => (key.clone(), key.clone()).prop_map(|(a, b)| Step::Rename(a, b)),
        1 => Just(Step::Flush),
    ]
}

fn to_op(step: &Step, now: u64) -> Op {
    match step.clone() {
        Step::Set {
            key,
            value,
            condition,
            ttl,
            keep,
        } => Op::Set {
            key: k(key).into(),
            value: v(value).into(),
            condition: [
                SetCondition::Always,
                SetCondition::IfAbsent,
                SetCondition::IfPresent,
            ][condition as usize],
            expiry: match (ttl, keep) {
                (Some(ttl), _) => Expiry::AtMs(now + ttl),
                (None, true) => Expiry::Keep,
                (None, false) => Expiry::Never,
            },
            get_old: false,
        },
        Step::Delete(key) => Op::delete(k(key)),
        Step::Incr(key, d) => Op::incr_by(k(key), d),
        Step::Append(key, value) => Op::Append {
            key: k(key).into(),
            value: v(value).into(),
        },
        Step::Expire(key, t) => Op::Expire {
            key: k(key).into(),
            at_ms: t.map(|t| now + t),
            condition: Default::default(),
        },
        Step::Push(key, front, value) => Op::Push {
            key: k(key).into(),
            end: if front { End::Front } else { End::Back },
            values: vec![Bytes::from(v(value))],
            only_if_exists: false,
        },
        Step::Pop(key, front) => Op::Pop {
            key: k(key).into(),
            end: if front { End::Front } else { End::Back },
            count: None,
        },
        Step::SAdd(key, m) => Op::SetAdd {
            key: k(key).into(),
            members: vec![Bytes::from(v(m))],
        },
        Step::SRem(key, m) => Op::SetRemove {
            key: k(key).into(),
            members: vec![Bytes::from(v(m))],
        },
        Step::HSet(key, f, value) => Op::HashSet {
            key: k(key).into(),
            pairs: vec![(Bytes::from(vec![b'f', f]), Bytes::from(v(value)))],
            only_if_absent: false,
        },
        Step::HDel(key, f) => Op::HashDelete {
            key: k(key).into(),
            fields: vec![Bytes::from(vec![b'f', f])],
        },
        Step::LSet(key, index, value) => Op::ListSet {
            key: k(key).into(),
            index,
            value: Bytes::from(v(value)),
        },
        Step::HIncr(key, f, delta) => Op::HashIncrBy {
            key: k(key).into(),
            field: Bytes::from(vec![b'f', f]),
            delta,
        },
        Step::Rename(a, b) => Op::Rename {
            from: k(a).into(),
            to: k(b).into(),
            only_if_absent: false,
        },
        Step::Flush => Op::Flush,
    }
}

impl Model {
    fn live(&self, key: &[u8], now: u64) -> Option<&MEntry> {
        self.keys
            .get(key)
            .filter(|e| e.expires_at.is_none_or(|t| t > now))
    }

    fn put(&mut self, key: Vec<u8>, value: MValue, expires_at: Option<u64>, now: u64) {
        if expires_at.is_some_and(|t| t <= now) {
            self.keys.remove(&key);
        } else {
            self.keys.insert(key, MEntry { value, expires_at });
        }
    }

    fn apply(&mut self, step: &Step, now: u64) -> Result<Reply, OpError> {
        let live = |m: &Model, key: &[u8]| m.live(key, now).cloned();
        match step.clone() {
            Step::Set {
                key,
                value,
                condition,
                ttl,
                keep,
            } => {
                let old = live(self, &k(key));
                let go = match condition {
                    0 => true,
                    1 => old.is_none(),
                    _ => old.is_some(),
                };
                if !go {
                    return Ok(Reply::Nil);
                }
                let expires = match (ttl, keep) {
                    (Some(ttl), _) => Some(now + ttl),
                    (None, true) => old.and_then(|o| o.expires_at),
                    (None, false) => None,
                };
                self.put(k(key), MValue::Str(v(value)), expires, now);
                Ok(Reply::Ok)
            }
            Step::Delete(key) => {
                let existed = live(self, &k(key)).is_some();
                self.keys.remove(&k(key));
                Ok(Reply::Int(existed as i64))
            }
            Step::Incr(key, d) => {
                let old = live(self, &k(key));
                let current = match &old {
                    None => 0,
                    Some(MEntry {
                        value: MValue::Str(s),
                        ..
                    }) => chiral::parse_int(s).ok_or(OpError::NotInteger)?,
                    Some(_) => return Err(OpError::WrongType),
                };
                let new = current.checked_add(d).ok_or(OpError::Overflow)?;
                self.put(
                    k(key),
                    MValue::Str(new.to_string().into_bytes()),
                    old.and_then(|o| o.expires_at),
                    now,
                );
                Ok(Reply::Int(new))
            }
            Step::Append(key, value) => {
                let old = live(self, &k(key));
                let mut s = match &old {
                    None => Vec::new(),
                    Some(MEntry {
                        value: MValue::Str(s),
                        ..
                    }) => s.clone(),
                    Some(_) => return Err(OpError::WrongType),
                };
                s.extend(v(value));
                let len = s.len();
                self.put(k(key), MValue::Str(s), old.and_then(|o| o.expires_at), now);
                Ok(Reply::Int(len as i64))
            }
            Step::Expire(key, t) => {
                let Some(old) = live(self, &k(key)) else {
                    return Ok(Reply::Int(0));
                };
                match t {
                    None if old.expires_at.is_none() => Ok(Reply::Int(0)),
                    None => {
                        self.put(k(key), old.value, None, now);
                        Ok(Reply::Int(1))
                    }
                    Some(t) => {
                        self.put(k(key), old.value, Some(now + t), now);
                        Ok(Reply::Int(1))
                    }
                }
            }
            Step::Push(key, front, value) => {
                let old = live(self, &k(key));
                let mut list = match &old {
                    None => VecDeque::new(),
                    Some(MEntry {
                        value: MValue::List(l),
                        ..
                    }) => l.clone(),
                    Some(_) => return Err(OpError::WrongType),
                };
                if front {
                    list.push_front(v(value))
                } else {
                    list.push_back(v(value))
                }
                let len = list.len();
                self.put(
                    k(key),
                    MValue::List(list),
                    old.and_then(|o| o.expires_at),
                    now,
                );
                Ok(Reply::Int(len as i64))
            }
            Step::Pop(key, front) => {
                let old = live(self, &k(key));
                let mut list = match &old {
                    None => return Ok(Reply::Nil),
                    Some(MEntry {
                        value: MValue::List(l),
                        ..
                    }) => l.clone(),
                    Some(_) => return Err(OpError::WrongType),
                };
                let item = if front {
                    list.pop_front()
                } else {
                    list.pop_back()
                }
                .unwrap();
                if list.is_empty() {
                    self.keys.remove(&k(key));
                } else {
                    self.put(
                        k(key),
                        MValue::List(list),
                        old.and_then(|o| o.expires_at),
                        now,
                    );
                }
                Ok(Reply::Bytes(item.into()))
            }
            Step::SAdd(key, m) | Step::SRem(key, m) => {
                let adding = matches!(step, Step::SAdd(..));
                let old = live(self, &k(key));
                let mut set = match &old {
                    None if !adding => return Ok(Reply::Int(0)),
                    None => BTreeSet::new(),
                    Some(MEntry {
                        value: MValue::Set(s),
                        ..
                    }) => s.clone(),
                    Some(_) => return Err(OpError::WrongType),
                };
                let changed = if adding {
                    set.insert(v(m))
                } else {
                    set.remove(&v(m))
                };
                if changed {
                    if set.is_empty() {
                        self.keys.remove(&k(key));
                    } else {
                        self.put(
                            k(key),
                            MValue::Set(set),
                            old.and_then(|o| o.expires_at),
                            now,
                        );
                    }
                }
                Ok(Reply::Int(changed as i64))
            }
            Step::HSet(key, f, value) => {
                let old = live(self, &k(key));
                let mut hash = match &old {
                    None => BTreeMap::new(),
                    Some(MEntry {
                        value: MValue::Hash(h),
                        ..
                    }) => h.clone(),
                    Some(_) => return Err(OpError::WrongType),
                };
                let new = hash.insert(vec![b'f', f], v(value)).is_none();
                self.put(
                    k(key),
                    MValue::Hash(hash),
                    old.and_then(|o| o.expires_at),
                    now,
                );
                Ok(Reply::Int(new as i64))
            }
            Step::HDel(key, f) => {
                let old = live(self, &k(key));
                let mut hash = match &old {
                    None => return Ok(Reply::Int(0)),
                    Some(MEntry {
                        value: MValue::Hash(h),
                        ..
                    }) => h.clone(),
                    Some(_) => return Err(OpError::WrongType),
                };
                let removed = hash.remove(&vec![b'f', f]).is_some();
                if removed {
                    if hash.is_empty() {
                        self.keys.remove(&k(key));
                    } else {
                        self.put(
                            k(key),
                            MValue::Hash(hash),
                            old.and_then(|o| o.expires_at),
                            now,
                        );
                    }
                }
                Ok(Reply::Int(removed as i64))
            }
            Step::LSet(key, index, value) => {
                let old = live(self, &k(key));
                let mut list = match &old {
                    None => return Err(OpError::NoSuchKey),
                    Some(MEntry {
                        value: MValue::List(l),
                        ..
                    }) => l.clone(),
                    Some(_) => return Err(OpError::WrongType),
                };
                let len = list.len() as i64;
                let at = if index < 0 { index + len } else { index };
                if !(0..len).contains(&at) {
                    return Err(OpError::IndexOutOfRange);
                }
                list[at as usize] = v(value);
                self.put(
                    k(key),
                    MValue::List(list),
                    old.and_then(|o| o.expires_at),
                    now,
                );
                Ok(Reply::Ok)
            }
            Step::HIncr(key, f, delta) => {
                let old = live(self, &k(key));
                let mut hash = match &old {
                    None => BTreeMap::new(),
                    Some(MEntry {
                        value: MValue::Hash(h),
                        ..
                    }) => h.clone(),
                    Some(_) => return Err(OpError::WrongType),
                };
                let field = vec![b'f', f];
                let current = match hash.get(&field) {
                    None => 0,
                    Some(text) => std::str::from_utf8(text)
                        .ok()
                        .and_then(|t| t.parse::<i64>().ok())
                        .ok_or(OpError::HashNotInteger)?,
                };
                let new = current + delta;
                hash.insert(field, new.to_string().into_bytes());
                self.put(
                    k(key),
                    MValue::Hash(hash),
                    old.and_then(|o| o.expires_at),
                    now,
                );
                Ok(Reply::Int(new))
            }
            Step::Rename(a, b) => {
                let Some(old) = live(self, &k(a)) else {
                    return Err(OpError::NoSuchKey);
                };
                if a % 4 != b % 4 {
                    self.keys.remove(&k(a));
                    self.put(k(b), old.value, old.expires_at, now);
                }
                Ok(Reply::Ok)
            }
            Step::Flush => {
                self.keys.clear();
                Ok(Reply::Ok)
            }
        }
    }
}

/// Compares every key's visible state.
fn check_state(db: &Db, model: &Model, now: u64) -> Result<(), TestCaseError> {
    let r = db.reader();
    let sorted = |mut v: Vec<Bytes>| {
        v.sort();
        v.into_iter().map(|b| b.to_vec()).collect::<Vec<_>>()
    };
    for i in 0..4u8 {
        let key = k(i);
        let expected = model.live(&key, now);
        let ttl = r.ttl(&key).unwrap();
        match expected {
            None => prop_assert_eq!(ttl, Ttl::Missing, "key {:?}", String::from_utf8_lossy(&key)),
            Some(e) => {
                let want = match e.expires_at {
                    None => Ttl::Persistent,
                    Some(t) => Ttl::ExpiresInMs(t - now),
                };
                prop_assert_eq!(ttl, want);
                match &e.value {
                    MValue::Str(s) => prop_assert_eq!(r.get(&key).unwrap().unwrap(), s.clone()),
                    MValue::List(l) => {
                        let got: Vec<Vec<u8>> = r
                            .lrange(&key, 0, -1)
                            .unwrap()
                            .into_iter()
                            .map(|b| b.to_vec())
                            .collect();
                        prop_assert_eq!(got, l.iter().cloned().collect::<Vec<_>>());
                    }
                    MValue::Set(s) => prop_assert_eq!(
                        sorted(r.smembers(&key).unwrap()),
                        s.iter().cloned().collect::<Vec<_>>()
                    ),
                    MValue::Hash(h) => {
                        let mut got: Vec<(Vec<u8>, Vec<u8>)> = r
                            .hgetall(&key)
                            .unwrap()
                            .into_iter()
                            .map(|(f, v)| (f.to_vec(), v.to_vec()))
                            .collect();
                        got.sort();
                        prop_assert_eq!(
                            got,
                            h.iter()
                                .map(|(f, v)| (f.clone(), v.clone()))
                                .collect::<Vec<_>>()
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_model(batches in prop::collection::vec((prop::collection::vec(step(), 1..6), 0u64..20), 1..40)) {
        let clock = Arc::new(ManualClock::new(1_000));
        let db = Db::open_in_memory(Options { clock: clock.clone(), ..Options::default() }).unwrap();
        let mut model = Model::default();
        for (steps, advance_ms) in batches {
            clock.advance_ms(advance_ms);
            let now = clock.now_ms_for_test();
            let mut next = model.clone();
            let mut expected = Vec::new();
            let mut refusal = None;
            for (index, step) in steps.iter().enumerate() {
                match next.apply(step, now) {
                    Ok(reply) => expected.push(reply),
                    Err(error) => {
                        refusal = Some(WriteError::Op { index, error });
                        break;
                    }
                }
            }
            let batch = steps.iter().fold(Batch::new(), |b, s| b.with(to_op(s, now)));
            let outcome = db.write(batch, Ack::Visible);
            match refusal {
                Some(refusal) => prop_assert_eq!(outcome, Err(refusal)),
                None => {
                    let replies: Vec<Reply> = outcome.unwrap().commit().unwrap().replies.into_iter().map(Result::unwrap).collect();
                    prop_assert_eq!(replies, expected);
                    model = next;
                }
            }
            check_state(&db, &model, now)?;
        }
    }
}

trait NowForTest {
    fn now_ms_for_test(&self) -> u64;
}

impl NowForTest for ManualClock {
    fn now_ms_for_test(&self) -> u64 {
        chiral::Clock::now_ms(self)
    }
}
