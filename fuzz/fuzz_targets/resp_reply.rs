//! Replies from arbitrary bytes, as a client reads a server: the parser ends each
//! input in whole values, "need more" or an error; never a panic, never a string or
//! aggregate past the limits, and the same values whether the bytes arrive at once
//! or in pieces.
#![no_main]

use bytes::BytesMut;
use chiral_net::reply_parse::{ReplyLimits, Value, parse_reply};
use libfuzzer_sys::fuzz_target;

const LIMITS: ReplyLimits = ReplyLimits {
    max_bulk_bytes: 4096,
    max_elements: 64,
    max_depth: 8,
};

fn within_limits(value: &Value, depth: usize) -> bool {
    let children: Vec<&Value> = match value {
        Value::Bulk(bytes) | Value::Verbatim(bytes) => return bytes.len() <= LIMITS.max_bulk_bytes,
        Value::Array(items) | Value::Set(items) | Value::Push(items) => items.iter().collect(),
        Value::Map(pairs) => pairs.iter().flat_map(|(k, v)| [k, v]).collect(),
        _ => return true,
    };
    depth <= LIMITS.max_depth
        && children.len() <= LIMITS.max_elements
        && children.iter().all(|child| within_limits(child, depth + 1))
}

/// Every value in `input`, fed `step` bytes at a time, and whether it ended in an error.
fn parse_in_steps(input: &[u8], step: usize) -> (Vec<Value>, bool) {
    let mut buf = BytesMut::new();
    let mut values = Vec::new();
    for chunk in input.chunks(step.max(1)) {
        buf.extend_from_slice(chunk);
        loop {
            match parse_reply(&mut buf, &LIMITS) {
                Ok(Some(value)) => {
                    assert!(within_limits(&value, 0));
                    values.push(value);
                }
                Ok(None) => break,
                Err(_) => return (values, true),
            }
        }
    }
    (values, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, input)) = data.split_first() else {
        return;
    };
    let (whole, whole_failed) = parse_in_steps(input, input.len());
    let (pieces, pieces_failed) = parse_in_steps(input, usize::from(step % 16) + 1);
    // Bytes that arrive in pieces give the same values (NaN aside, which is not
    // equal to itself); an error may come earlier when a piece ends mid-line only if
    // the whole input errs too.
    if !whole_failed && !pieces_failed {
        assert_eq!(format!("{whole:?}"), format!("{pieces:?}"));
    }
    assert_eq!(whole_failed, pieces_failed, "{input:?}");
});
