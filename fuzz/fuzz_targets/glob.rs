//! SCAN/KEYS MATCH patterns come from clients: matching any pattern against any key
//! must not panic or blow up in time, and must keep the laws every glob obeys.
#![no_main]

use chiral::glob_match;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First byte splits the input into a pattern and a text.
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let split = usize::from(split).min(rest.len());
    let (pattern, text) = rest.split_at(split);

    let matched = glob_match(pattern, text);

    // A leading `*` can only widen a pattern.
    let mut starred = b"*".to_vec();
    starred.extend_from_slice(pattern);
    if matched {
        assert!(
            glob_match(&starred, text),
            "adding a leading * lost a match"
        );
    }
    // Every text matches itself with every byte escaped, and matches `*`.
    let escaped: Vec<u8> = text.iter().flat_map(|&b| [b'\\', b]).collect();
    assert!(
        glob_match(&escaped, text),
        "escaped text does not match itself"
    );
    assert!(glob_match(b"*", text));
    // `?` repeated len times matches exactly the texts of that length.
    let questions = vec![b'?'; text.len()];
    assert!(glob_match(&questions, text));
    if !text.is_empty() {
        assert!(!glob_match(&questions[1..], text));
    }
});
