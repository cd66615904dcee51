//! INCR and friends parse numbers from client bytes: parsing never panics, an
//! accepted integer is exactly the canonical text of its value, and an accepted
//! float is never NaN.
#![no_main]

use chiral::{parse_float, parse_int};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(n) = parse_int(data) {
        assert_eq!(
            n.to_string().as_bytes(),
            data,
            "accepted a non-canonical integer"
        );
    } else if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(n) = text.parse::<i64>() {
            assert_ne!(n.to_string(), text, "refused a canonical integer");
        }
    }
    if let Some(x) = parse_float(data) {
        assert!(!x.is_nan());
    }
});
