//! Redis's glob patterns, for SCAN/KEYS `MATCH`.
//!
//! `*` any run of bytes, `?` one byte, `[abc]`, `[^abc]`, `[a-z]` classes, `\x` a
//! literal `x`. Patterns come from clients, so matching must not blow up: this
//! matcher backtracks only to the last `*`, which keeps it O(pattern × text) where a
//! naive recursive matcher is exponential.

/// Whether `text` matches the glob `pattern`.
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    if pattern == b"*" {
        // The commonest pattern (an ACL user's `allkeys`, KEYS *), checked for every
        // key a command touches: no need to walk the text.
        return true;
    }
    let (mut p, mut t) = (0usize, 0usize);
    // Where to resume after the last `*`: the pattern position after it, and the text
    // position the star currently stops at.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    star = Some((p + 1, t));
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {
                    if let Some((true, next)) = match_one(pattern, p, text[t]) {
                        p = next;
                        t += 1;
                        continue;
                    }
                }
            }
        }
        // Mismatch (or pattern exhausted): let the last star swallow one more byte.
        match star {
            Some((after_star, stopped_at)) => {
                p = after_star;
                t = stopped_at + 1;
                star = Some((after_star, t));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches the single-byte pattern element at `pattern[p]` (a literal, an escape or a
/// class) against `byte`: whether it matched and where the next element starts.
/// `None` if `pattern[p]` is `*` or `?` (the caller handles those).
fn match_one(pattern: &[u8], p: usize, byte: u8) -> Option<(bool, usize)> {
    match pattern[p] {
        b'\\' if p + 1 < pattern.len() => Some((pattern[p + 1] == byte, p + 2)),
        b'[' => Some(match_class(pattern, p + 1, byte)),
        b'*' | b'?' => None,
        literal => Some((literal == byte, p + 1)),
    }
}

/// Matches a class whose body starts at `pattern[p]` (just after `[`). An unclosed
/// class runs to the end of the pattern, as in Redis.
fn match_class(pattern: &[u8], mut p: usize, byte: u8) -> (bool, usize) {
    let negate = pattern.get(p) == Some(&b'^');
    if negate {
        p += 1;
    }
    let mut matched = false;
    while p < pattern.len() && pattern[p] != b']' {
        if pattern[p] == b'\\' && p + 1 < pattern.len() {
            matched |= pattern[p + 1] == byte;
            p += 2;
        } else if p + 2 < pattern.len() && pattern[p + 1] == b'-' && pattern[p + 2] != b']' {
            let (low, high) = (
                pattern[p].min(pattern[p + 2]),
                pattern[p].max(pattern[p + 2]),
            );
            matched |= (low..=high).contains(&byte);
            p += 3;
        } else {
            matched |= pattern[p] == byte;
            p += 1;
        }
    }
    // Step over the closing `]` if there is one.
    let next = if p < pattern.len() { p + 1 } else { p };
    (matched != negate, next)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn redis_examples() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "", true),
            ("*", "anything", true),
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("h*llo", "heeeello", true),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-b]llo", "hbllo", true),
            ("h[a-b]llo", "hcllo", false),
            ("h\\*llo", "h*llo", true),
            ("h\\*llo", "hello", false),
            ("user:*:name", "user:42:name", true),
            ("user:*:name", "user:42:age", false),
            ("*a*b", "xxaxxb", true),
            ("*a*b", "xxaxxbc", false),
            ("a", "", false),
            ("", "", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                glob_match(pattern.as_bytes(), text.as_bytes()),
                *expected,
                "{pattern} ~ {text}"
            );
        }
    }

    #[test]
    fn many_stars_stay_fast() {
        // Exponential for a naive recursive matcher.
        let pattern = "*a".repeat(30) + "b";
        let text = "a".repeat(5000);
        assert!(!glob_match(pattern.as_bytes(), text.as_bytes()));
    }
}
