//! The Boutique language from arbitrary bytes: parsing ends in statements or one
//! line-numbered error, never a panic; and every statement it reads, rendered back to
//! text, parses as the same statement (what the fuzzer finds in the quoting and the
//! block rules).
#![no_main]

use chiral_net::boutique;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(statements) = boutique::parse(data) else {
        return;
    };
    for located in statements {
        assert!(located.line >= 1);
        let text = boutique::render(&located.statement);
        let again = boutique::parse(text.as_bytes()).expect("a rendered statement parses");
        assert_eq!(again.len(), 1, "{text}");
        assert_eq!(again[0].statement, located.statement, "{text}");
    }
});
