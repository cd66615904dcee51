//! Requests from arbitrary bytes: the server's parser must end each input in whole
//! requests, "need more" or a protocol error; never a panic, never an argument past
//! the limits, and the same requests whether the bytes arrive at once or in pieces.
#![no_main]

use bytes::BytesMut;
use chiral_net::parse::{ParseLimits, parse_request};
use libfuzzer_sys::fuzz_target;

const LIMITS: ParseLimits = ParseLimits {
    max_args: 64,
    max_bulk_bytes: 4096,
    max_inline_bytes: 1024,
};

/// Every request in `input`, fed `step` bytes at a time, and how it ended.
fn parse_in_steps(input: &[u8], step: usize) -> (Vec<Vec<bytes::Bytes>>, bool) {
    let mut buf = BytesMut::new();
    let mut requests = Vec::new();
    for chunk in input.chunks(step.max(1)) {
        buf.extend_from_slice(chunk);
        loop {
            match parse_request(&mut buf, &LIMITS) {
                Ok(Some(args)) => {
                    assert!(args.len() <= LIMITS.max_args);
                    assert!(
                        args.iter()
                            .all(|arg| arg.len()
                                <= LIMITS.max_bulk_bytes.max(LIMITS.max_inline_bytes))
                    );
                    requests.push(args);
                }
                Ok(None) => break,
                Err(_) => return (requests, true),
            }
        }
    }
    (requests, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, input)) = data.split_first() else {
        return;
    };
    let whole = parse_in_steps(input, input.len());
    let pieces = parse_in_steps(input, usize::from(step % 16) + 1);
    assert_eq!(whole, pieces, "the same requests whatever the arrival");
});
