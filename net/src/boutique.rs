//! The Boutique language: schemas, collections and documents written as blocks,
//! mixed with Redis-style command lines, as `chiral-cli` runs them.
//!
//! ```text
//! # a comment
//! schema user {                      -> SCHEMA.CREATE user id string64 ...
//!     id               string64
//!     last_login_time  uint64
//! }
//! coll users { user id }             -> COLL.CREATE users user id
//! set users:u1 {                     -> DOC.SET users u1 last_login_time 1312309023
//!     last_login_time 1312309023
//! }
//! get users:u1 { last_login_time }   -> DOC.GET users u1 last_login_time
//! del users:u1                       -> DOC.DEL users u1 (if users is a collection)
//! SET greeting "hello world"         -> any other line is a Redis command
//! ```
//!
//! Words are separated by spaces, tabs and newlines; a word may be quoted with `'` or
//! `"` (inside double quotes `\n`, `\t`, `\r`, `\\`, `\"` and `\xHH` are escapes, as
//! in redis-cli). A statement ends at the end of its line, or at the `}` that closes
//! its block. `#` outside quotes starts a comment that runs to the end of the line.
//! The parser trusts nothing: every input is a list of statements or one error
//! naming its line, within [`MAX_SCRIPT_BYTES`].

use thiserror::Error;

/// The largest script the parser reads.
pub const MAX_SCRIPT_BYTES: usize = 16 << 20;

/// Names and values (or names and types), in order.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// One statement of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    /// `schema NAME { FIELD TYPE ... }`.
    Schema {
        /// The schema's name.
        name: Vec<u8>,
        /// Field names and type names, in order.
        fields: Pairs,
    },
    /// `coll NAME { SCHEMA KEY-FIELD }`.
    Coll {
        /// The collection's name.
        name: Vec<u8>,
        /// Its schema.
        schema: Vec<u8>,
        /// The field that holds each document's id.
        key_field: Vec<u8>,
    },
    /// `set COLL:ID { FIELD VALUE ... }`.
    Set {
        /// The collection.
        collection: Vec<u8>,
        /// The document's id.
        id: Vec<u8>,
        /// Field names and values.
        fields: Pairs,
    },
    /// `get COLL:ID { FIELD ... }` (an empty block: every field).
    Get {
        /// The collection.
        collection: Vec<u8>,
        /// The document's id.
        id: Vec<u8>,
        /// The fields asked for.
        fields: Vec<Vec<u8>>,
    },
    /// `del COLL:ID`: a document, when COLL is a collection; else the key `COLL:ID`.
    Del {
        /// The collection.
        collection: Vec<u8>,
        /// The document's id.
        id: Vec<u8>,
    },
    /// Any other line: a Redis-style command and its arguments.
    Command(Vec<Vec<u8>>),
}

/// A statement and the line it starts on (counting from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// Where the statement starts.
    pub line: usize,
    /// The statement.
    pub statement: Statement,
}

/// Why a script does not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}: {message}")]
pub struct SyntaxError {
    /// The line of the error.
    pub line: usize,
    /// What is wrong.
    pub message: String,
    /// Whether the script ended inside a block or a quote: more input may complete
    /// it (what an interactive shell asks for).
    pub incomplete: bool,
}

/// Parses a whole script.
pub fn parse(script: &[u8]) -> Result<Vec<Located>, SyntaxError> {
    if script.len() > MAX_SCRIPT_BYTES {
        return Err(SyntaxError {
            line: 1,
            message: format!(
                "the script is {} bytes, over the limit of {MAX_SCRIPT_BYTES}",
                script.len()
            ),
            incomplete: false,
        });
    }
    let tokens = tokenize(script)?;
    let mut statements = Vec::new();
    let mut rest = &tokens[..];
    while let Some(first) = rest.first() {
        match first.kind {
            Kind::Newline => rest = &rest[1..],
            Kind::Open | Kind::Close => {
                return Err(first.error("a brace where a statement should start"));
            }
            Kind::Word => {
                let (statement, after) = statement(rest)?;
                statements.push(Located {
                    line: first.line,
                    statement,
                });
                rest = after;
            }
        }
    }
    Ok(statements)
}

/// A statement's text, which [`parse`] reads back as the same statement.
pub fn render(statement: &Statement) -> String {
    let pairs = |fields: &Pairs| -> String {
        fields
            .iter()
            .map(|(name, value)| format!("  {} {}\n", quote(name), quote(value)))
            .collect()
    };
    match statement {
        Statement::Schema { name, fields } => {
            format!("schema {} {{\n{}}}\n", quote(name), pairs(fields))
        }
        Statement::Coll {
            name,
            schema,
            key_field,
        } => format!(
            "coll {} {{ {} {} }}\n",
            quote(name),
            quote(schema),
            quote(key_field)
        ),
        Statement::Set {
            collection,
            id,
            fields,
        } => format!(
            "set {} {{\n{}}}\n",
            quote(&doc_ref(collection, id)),
            pairs(fields)
        ),
        Statement::Get {
            collection,
            id,
            fields,
        } => {
            let names: Vec<String> = fields.iter().map(|name| quote(name)).collect();
            format!(
                "get {} {{ {} }}\n",
                quote(&doc_ref(collection, id)),
                names.join(" ")
            )
        }
        Statement::Del { collection, id } => format!("del {}\n", quote(&doc_ref(collection, id))),
        Statement::Command(words) => {
            let words: Vec<String> = words.iter().map(|word| quote(word)).collect();
            format!("{}\n", words.join(" "))
        }
    }
}

fn doc_ref(collection: &[u8], id: &[u8]) -> Vec<u8> {
    [collection, b":", id].concat()
}

/// A word in double quotes, escaped as redis-cli prints strings (and as [`parse`]
/// reads them back).
pub fn quote(word: &[u8]) -> String {
    let mut out = String::from("\"");
    for &byte in word {
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b' '..=b'~' => out.push(byte as char),
            _ => out.push_str(&format!("\\x{byte:02x}")),
        }
    }
    out.push('"');
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    Open,
    Close,
    Newline,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    /// The word's bytes (unquoted); empty for the others.
    text: Vec<u8>,
    /// Whether the word was quoted (a quoted `{` is a word, not a brace).
    quoted: bool,
    line: usize,
}

impl Token {
    fn error(&self, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            line: self.line,
            message: message.into(),
            incomplete: false,
        }
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        self.kind == Kind::Word
            && !self.quoted
            && self.text.eq_ignore_ascii_case(keyword.as_bytes())
    }
}

fn tokenize(script: &[u8]) -> Result<Vec<Token>, SyntaxError> {
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut at = 0;
    let simple = |kind, line| Token {
        kind,
        text: Vec::new(),
        quoted: false,
        line,
    };
    while at < script.len() {
        match script[at] {
            b'\n' => {
                tokens.push(simple(Kind::Newline, line));
                line += 1;
                at += 1;
            }
            b' ' | b'\t' | b'\r' => at += 1,
            b'#' => {
                while at < script.len() && script[at] != b'\n' {
                    at += 1;
                }
            }
            b'{' => {
                tokens.push(simple(Kind::Open, line));
                at += 1;
            }
            b'}' => {
                tokens.push(simple(Kind::Close, line));
                at += 1;
            }
            quote @ (b'"' | b'\'') => {
                let start_line = line;
                let (text, end, newlines) =
                    quoted(script, at, quote).map_err(|message| SyntaxError {
                        line: start_line,
                        message: message.into(),
                        incomplete: message == UNCLOSED_QUOTE,
                    })?;
                tokens.push(Token {
                    kind: Kind::Word,
                    text,
                    quoted: true,
                    line: start_line,
                });
                line += newlines;
                at = end;
            }
            _ => {
                let start = at;
                while at < script.len() && !b" \t\r\n{}\"'#".contains(&script[at]) {
                    at += 1;
                }
                tokens.push(Token {
                    kind: Kind::Word,
                    text: script[start..at].to_vec(),
                    quoted: false,
                    line,
                });
            }
        }
    }
    Ok(tokens)
}

/// The error for a quote that runs to the end of the script.
const UNCLOSED_QUOTE: &str = "a quote is not closed";

/// The quoted word starting at `start` (its opening quote): its bytes, the position
/// after the closing quote, and how many newlines it spans.
fn quoted(script: &[u8], start: usize, quote: u8) -> Result<(Vec<u8>, usize, usize), &'static str> {
    let mut text = Vec::new();
    let mut newlines = 0;
    let mut at = start + 1;
    loop {
        let Some(&byte) = script.get(at) else {
            return Err(UNCLOSED_QUOTE);
        };
        at += 1;
        match byte {
            b'\n' => {
                newlines += 1;
                text.push(byte);
            }
            _ if byte == quote => return Ok((text, at, newlines)),
            b'\\' if quote == b'"' => {
                let escaped = *script.get(at).ok_or(UNCLOSED_QUOTE)?;
                at += 1;
                text.push(match escaped {
                    b'n' => b'\n',
                    b't' => b'\t',
                    b'r' => b'\r',
                    b'x' => {
                        let hex = script.get(at..at + 2).ok_or("\\x needs two hex digits")?;
                        at += 2;
                        std::str::from_utf8(hex)
                            .ok()
                            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                            .ok_or("\\x needs two hex digits")?
                    }
                    other => other,
                });
            }
            b'\\' if quote == b'\'' && script.get(at) == Some(&b'\'') => {
                at += 1;
                text.push(b'\'');
            }
            _ => text.push(byte),
        }
    }
}

/// One statement at the start of `tokens`, and the tokens after it.
fn statement(tokens: &[Token]) -> Result<(Statement, &[Token]), SyntaxError> {
    let first = &tokens[0];
    let has_block = tokens.get(2).is_some_and(|token| token.kind == Kind::Open);
    if has_block {
        let (block, rest) = block(&tokens[2..])?;
        let target = &tokens[1];
        if target.kind != Kind::Word {
            return Err(target.error("a name should come before the block"));
        }
        let statement = if first.is_keyword("schema") {
            Statement::Schema {
                name: target.text.clone(),
                fields: pairs(first, &block, "schema fields are pairs: NAME TYPE")?,
            }
        } else if first.is_keyword("coll") {
            match &block[..] {
                [schema, key_field] => Statement::Coll {
                    name: target.text.clone(),
                    schema: schema.text.clone(),
                    key_field: key_field.text.clone(),
                },
                _ => return Err(first.error("a collection's block is { SCHEMA KEY-FIELD }")),
            }
        } else if first.is_keyword("set") {
            let (collection, id) = split_ref(target)?;
            Statement::Set {
                collection,
                id,
                fields: pairs(first, &block, "a document's fields are pairs: FIELD VALUE")?,
            }
        } else if first.is_keyword("get") {
            let (collection, id) = split_ref(target)?;
            Statement::Get {
                collection,
                id,
                fields: block.iter().map(|token| token.text.clone()).collect(),
            }
        } else {
            return Err(first.error(format!(
                "unknown block statement '{}': use schema, coll, set or get",
                String::from_utf8_lossy(&first.text)
            )));
        };
        return Ok((statement, end_of_statement(rest)?));
    }
    // A line of words.
    let end = tokens
        .iter()
        .position(|token| token.kind == Kind::Newline)
        .unwrap_or(tokens.len());
    let words = &tokens[..end];
    if let Some(brace) = words.iter().find(|token| token.kind != Kind::Word) {
        return Err(brace.error("a block must follow a statement's name: `set users:u1 { ... }`"));
    }
    let statement = match words {
        [del, target] if del.is_keyword("del") && is_doc_ref(target) => {
            let (collection, id) = split_ref(target)?;
            Statement::Del { collection, id }
        }
        _ => Statement::Command(words.iter().map(|token| token.text.clone()).collect()),
    };
    Ok((statement, &tokens[end..]))
}

/// The words of the block that opens at `tokens[0]`, and the tokens after its `}`.
fn block(tokens: &[Token]) -> Result<(Vec<Token>, &[Token]), SyntaxError> {
    let open = &tokens[0];
    let mut words = Vec::new();
    for (at, token) in tokens.iter().enumerate().skip(1) {
        match token.kind {
            Kind::Word => words.push(token.clone()),
            Kind::Newline => {}
            Kind::Close => return Ok((words, &tokens[at + 1..])),
            Kind::Open => return Err(token.error("blocks do not nest")),
        }
    }
    Err(SyntaxError {
        incomplete: true,
        ..open.error("a block is not closed with '}'")
    })
}

/// After a block's `}`: only the end of the line may follow.
fn end_of_statement(tokens: &[Token]) -> Result<&[Token], SyntaxError> {
    match tokens.first() {
        None => Ok(tokens),
        Some(token) if token.kind == Kind::Newline => Ok(&tokens[1..]),
        Some(token) => Err(token.error("a statement should end after its block")),
    }
}

fn pairs(statement: &Token, block: &[Token], rule: &str) -> Result<Pairs, SyntaxError> {
    if !block.len().is_multiple_of(2) {
        return Err(statement.error(rule));
    }
    Ok(block
        .chunks(2)
        .map(|pair| (pair[0].text.clone(), pair[1].text.clone()))
        .collect())
}

/// Whether a word has the `COLL:ID` form of a document reference.
fn is_doc_ref(token: &Token) -> bool {
    token
        .text
        .iter()
        .position(|&b| b == b':')
        .is_some_and(|at| at > 0)
}

/// `COLL:ID` split at its first `:`.
fn split_ref(token: &Token) -> Result<(Vec<u8>, Vec<u8>), SyntaxError> {
    match token.text.iter().position(|&b| b == b':') {
        Some(at) if at > 0 => Ok((token.text[..at].to_vec(), token.text[at + 1..].to_vec())),
        _ => Err(token.error(format!(
            "'{}' should be COLLECTION:ID",
            String::from_utf8_lossy(&token.text)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Vec<u8> {
        text.as_bytes().to_vec()
    }

    #[test]
    fn the_boutique_example_parses() {
        let script = br#"
# Define the schema
schema user {
      id                 string64
      last_login_time    uint64
      last_visited_page  string64
}

coll users { user id }

set users:user_id_here {
      last_login_time 1312309023
      last_visited_page '/dashboard'
}
get users:user_id_here {
      last_login_time
}
del users:user_id_here
SET "a b" 'c'   # a comment
"#;
        let parsed = parse(script).unwrap();
        let lines: Vec<usize> = parsed.iter().map(|located| located.line).collect();
        assert_eq!(lines, vec![3, 9, 11, 15, 18, 19]);
        let statements: Vec<Statement> = parsed.into_iter().map(|l| l.statement).collect();
        assert_eq!(
            statements,
            vec![
                Statement::Schema {
                    name: v("user"),
                    fields: vec![
                        (v("id"), v("string64")),
                        (v("last_login_time"), v("uint64")),
                        (v("last_visited_page"), v("string64")),
                    ],
                },
                Statement::Coll {
                    name: v("users"),
                    schema: v("user"),
                    key_field: v("id"),
                },
                Statement::Set {
                    collection: v("users"),
                    id: v("user_id_here"),
                    fields: vec![
                        (v("last_login_time"), v("1312309023")),
                        (v("last_visited_page"), v("/dashboard")),
                    ],
                },
                Statement::Get {
                    collection: v("users"),
                    id: v("user_id_here"),
                    fields: vec![v("last_login_time")],
                },
                Statement::Del {
                    collection: v("users"),
                    id: v("user_id_here"),
                },
                Statement::Command(vec![v("SET"), v("a b"), v("c")]),
            ]
        );
    }

    #[test]
    fn errors_name_their_line() {
        let cases: [(&[u8], usize, &str); 7] = [
            (b"schema user {\n id\n}", 1, "pairs"),
            (b"set users:x {\n a 1\n", 1, "not closed"),
            (b"\n\nget nocolon { a }", 3, "COLLECTION:ID"),
            (b"coll users { user }", 1, "SCHEMA KEY-FIELD"),
            (b"set users:x { a 'b }", 1, "quote"),
            (b"frob x { }", 1, "unknown block"),
            (b"}\n", 1, "brace"),
        ];
        for (script, line, words) in cases {
            let error = parse(script).unwrap_err();
            assert_eq!(error.line, line, "{error}");
            assert!(error.message.contains(words), "{error}");
        }
    }

    #[test]
    fn words_quote_and_escape_like_redis_cli() {
        let parsed = parse(br#"SET k "a\"b\\c\n\x41" 'it\'s' "{" "#).unwrap();
        assert_eq!(
            parsed[0].statement,
            Statement::Command(vec![v("SET"), v("k"), v("a\"b\\c\nA"), v("it's"), v("{")])
        );
        // A plain `del` of a key without a collection part is a command.
        assert_eq!(
            parse(b"del plain").unwrap()[0].statement,
            Statement::Command(vec![v("del"), v("plain")])
        );
    }

    #[test]
    fn rendered_statements_parse_back() {
        let statements = [
            Statement::Set {
                collection: v("c"),
                id: v("i:d"),
                fields: vec![(v("f"), b"\x00\xff\"\\ {}#'".to_vec())],
            },
            Statement::Get {
                collection: v("c"),
                id: v(""),
                fields: vec![],
            },
            Statement::Command(vec![v("ECHO"), v("")]),
        ];
        for statement in statements {
            let text = render(&statement);
            assert_eq!(
                parse(text.as_bytes()).unwrap()[0].statement,
                statement,
                "{text}"
            );
        }
    }

    #[test]
    fn the_size_limit_is_checked_first() {
        let big = vec![b'a'; MAX_SCRIPT_BYTES + 1];
        assert!(parse(&big).unwrap_err().message.contains("over the limit"));
    }
}
