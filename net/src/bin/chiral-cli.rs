//! `chiral-cli`: Chiral's command line. An interactive shell (history, line editing)
//! and a script runner, for Redis-style commands and the Boutique language of
//! schemas, collections and documents (see `chiral_net::boutique`).
//!
//! ```text
//! chiral-cli                              # a shell on 127.0.0.1:7379
//! chiral-cli -f boutique.bq               # run a script
//! chiral-cli -p 7379 DOC.GET users u1     # one command
//! ```
//!
//! Replies print as redis-cli prints them in a terminal; Boutique statements print
//! what they did (`OK`, `field = value`, `1 document deleted`). A script that does
//! not parse runs nothing; a statement the server refuses prints its error and the
//! script goes on, as redis-cli does.

use std::collections::HashSet;
use std::io::{IsTerminal, Read as _};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use chiral_net::boutique::{self, MAX_SCRIPT_BYTES, Statement};
use clap::{ArgAction, Parser};
use redis::Value;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Chiral's command line: Redis-style commands and the Boutique language.",
    disable_help_flag = true
)]
struct Cli {
    /// The server's host.
    #[arg(short = 'h', long, default_value = "127.0.0.1")]
    host: String,
    /// The server's port.
    #[arg(short = 'p', long, default_value_t = 7379)]
    port: u16,
    /// Connect to this Unix socket instead of TCP.
    #[arg(short = 's', long)]
    socket: Option<PathBuf>,
    /// The password (AUTH); with --user, that user's.
    #[arg(short = 'a', long, env = "CHIRAL_CLI_AUTH")]
    pass: Option<String>,
    /// The ACL user to authenticate as.
    #[arg(long)]
    user: Option<String>,
    /// Run the script in this file (`-` for standard input), then exit.
    #[arg(short = 'f', long)]
    file: Option<PathBuf>,
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
    /// A command to run, then exit (without it, and without -f: the shell).
    command: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("chiral-cli: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    let mut shell = Shell::connect(cli)?;
    if let Some(path) = &cli.file {
        let script = read_script(path)?;
        let statements = boutique::parse(&script)
            .map_err(|error| anyhow::anyhow!("{}: {error} (nothing was run)", path.display()))?;
        for located in statements {
            shell.run(&located.statement)?;
        }
        Ok(())
    } else if !cli.command.is_empty() {
        let words = cli
            .command
            .iter()
            .map(|word| word.as_bytes().to_vec())
            .collect();
        shell.run(&Statement::Command(words))
    } else {
        shell.interactive(&cli.prompt())
    }
}

impl Cli {
    fn prompt(&self) -> String {
        match &self.socket {
            Some(path) => format!("{}> ", path.display()),
            None => format!("{}:{}> ", self.host, self.port),
        }
    }
}

/// Reads a script, within the parser's size limit.
fn read_script(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    let limit = MAX_SCRIPT_BYTES as u64 + 1;
    let mut script = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin().take(limit).read_to_end(&mut script)?;
    } else {
        std::fs::File::open(path)
            .with_context(|| format!("cannot open {}", path.display()))?
            .take(limit)
            .read_to_end(&mut script)?;
    }
    Ok(script)
}

/// A connection and what the shell knows of the server's collections.
struct Shell {
    con: redis::Connection,
    /// The collections' names, read when a `del` needs them (forgotten after `coll`).
    collections: Option<HashSet<Vec<u8>>>,
}

impl Shell {
    fn connect(cli: &Cli) -> anyhow::Result<Shell> {
        let url = match &cli.socket {
            Some(path) => format!("redis+unix://{}", path.display()),
            None => format!("redis://{}:{}/", cli.host, cli.port),
        };
        let client = redis::Client::open(url).context("bad server address")?;
        let mut con = client.get_connection().with_context(|| {
            format!("cannot connect to {}", cli.prompt().trim_end_matches("> "))
        })?;
        if let Some(password) = &cli.pass {
            let mut auth = redis::cmd("AUTH");
            if let Some(user) = &cli.user {
                auth.arg(user);
            }
            auth.arg(password)
                .query::<()>(&mut con)
                .context("authentication failed")?;
        }
        Ok(Shell {
            con,
            collections: None,
        })
    }

    /// The shell: reads statements with line editing and history until EOF or quit.
    fn interactive(&mut self, prompt: &str) -> anyhow::Result<()> {
        let mut editor = rustyline::DefaultEditor::new()?;
        // History is kept for a person at a terminal, not for piped input.
        let history = std::env::var_os("HOME")
            .filter(|_| std::io::stdin().is_terminal())
            .map(|home| PathBuf::from(home).join(".chiral_cli_history"));
        if let Some(history) = &history {
            let _ = editor.load_history(history);
        }
        let mut pending = String::new();
        loop {
            let line = match editor.readline(if pending.is_empty() { prompt } else { "... " }) {
                Ok(line) => line,
                Err(rustyline::error::ReadlineError::Interrupted) => {
                    pending.clear();
                    continue;
                }
                Err(rustyline::error::ReadlineError::Eof) => break,
                Err(error) => return Err(error.into()),
            };
            pending.push_str(&line);
            pending.push('\n');
            match boutique::parse(pending.as_bytes()) {
                Err(error) if error.incomplete => continue,
                Err(error) => println!("(error) {}", error.message),
                Ok(statements) => {
                    let _ = editor.add_history_entry(pending.trim_end());
                    for located in statements {
                        if let Statement::Command(words) = &located.statement
                            && words.len() == 1
                            && (words[0].eq_ignore_ascii_case(b"quit")
                                || words[0].eq_ignore_ascii_case(b"exit"))
                        {
                            return save(&mut editor, history.as_ref());
                        }
                        self.run(&located.statement)?;
                    }
                }
            }
            pending.clear();
        }
        save(&mut editor, history.as_ref())
    }

    /// Runs one statement and prints its outcome. A refusal by the server is
    /// printed; a lost connection is an error.
    fn run(&mut self, statement: &Statement) -> anyhow::Result<()> {
        let outcome = match statement {
            Statement::Schema { name, fields } => {
                let mut cmd = redis::cmd("SCHEMA.CREATE");
                cmd.arg(name);
                for (field, ty) in fields {
                    cmd.arg(field).arg(ty);
                }
                self.query(&cmd).map(|reply| format_reply(&reply, ""))
            }
            Statement::Coll {
                name,
                schema,
                key_field,
            } => {
                self.collections = None;
                let mut cmd = redis::cmd("COLL.CREATE");
                cmd.arg(name).arg(schema).arg(key_field);
                self.query(&cmd).map(|reply| format_reply(&reply, ""))
            }
            Statement::Set {
                collection,
                id,
                fields,
            } => {
                let mut cmd = redis::cmd("DOC.SET");
                cmd.arg(collection).arg(id);
                for (field, value) in fields {
                    cmd.arg(field).arg(value);
                }
                self.query(&cmd).map(|_| "OK".to_string())
            }
            Statement::Get {
                collection,
                id,
                fields,
            } => {
                let mut cmd = redis::cmd("DOC.GET");
                cmd.arg(collection).arg(id);
                for field in fields {
                    cmd.arg(field);
                }
                self.query(&cmd)
                    .map(|reply| format_document(fields, &reply))
            }
            Statement::Del { collection, id } => {
                if self.is_collection(collection)? {
                    let mut cmd = redis::cmd("DOC.DEL");
                    cmd.arg(collection).arg(id);
                    self.query(&cmd).map(|reply| match reply {
                        Value::Int(1) => "1 document deleted".to_string(),
                        Value::Int(n) => format!("{n} documents deleted"),
                        other => format_reply(&other, ""),
                    })
                } else {
                    let mut cmd = redis::cmd("DEL");
                    cmd.arg([&collection[..], b":", &id[..]].concat());
                    self.query(&cmd).map(|reply| format_reply(&reply, ""))
                }
            }
            Statement::Command(words) => {
                let mut cmd = redis::cmd(&String::from_utf8_lossy(&words[0]));
                for word in &words[1..] {
                    cmd.arg(word);
                }
                if words[0].eq_ignore_ascii_case(b"coll.create") {
                    self.collections = None;
                }
                self.query(&cmd).map(|reply| format_reply(&reply, ""))
            }
        };
        match outcome {
            Ok(text) => println!("{text}"),
            Err(error) if is_refusal(&error) => println!("(error) {}", error_text(&error)),
            Err(error) => bail!("{error}"),
        }
        Ok(())
    }

    fn query(&mut self, cmd: &redis::Cmd) -> redis::RedisResult<Value> {
        cmd.query(&mut self.con)
    }

    /// Whether the server has a collection called `name` (asked once, then cached).
    fn is_collection(&mut self, name: &[u8]) -> anyhow::Result<bool> {
        if self.collections.is_none() {
            let listed: Vec<Vec<Vec<u8>>> = redis::cmd("COLL.LIST").query(&mut self.con)?;
            self.collections = Some(
                listed
                    .into_iter()
                    .filter_map(|c| c.into_iter().next())
                    .collect(),
            );
        }
        Ok(self
            .collections
            .as_ref()
            .is_some_and(|names| names.contains(name)))
    }
}

fn save(editor: &mut rustyline::DefaultEditor, history: Option<&PathBuf>) -> anyhow::Result<()> {
    if let Some(history) = history {
        let _ = editor.save_history(history);
    }
    Ok(())
}

/// Whether the error is the server refusing a command (printed, the script goes on),
/// not a lost connection.
fn is_refusal(error: &redis::RedisError) -> bool {
    error.code().is_some() && !error.is_io_error() && !error.is_connection_dropped()
}

/// A refusal as the server worded it: `ERR unknown field ...`.
fn error_text(error: &redis::RedisError) -> String {
    match (error.code(), error.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_string(),
        _ => error.to_string(),
    }
}

/// A document as `get` prints it: `field = value` per field, `(nil)` if none.
fn format_document(asked: &[Vec<u8>], reply: &Value) -> String {
    let line = |name: &[u8], value: &Value| {
        format!("{} = {}", String::from_utf8_lossy(name), plain(value))
    };
    match reply {
        Value::Nil => "(nil)".to_string(),
        // Every field: the server sends field, value pairs.
        Value::Array(items) if asked.is_empty() => items
            .chunks(2)
            .map(|pair| match pair {
                [Value::BulkString(name), value] => line(name, value),
                _ => format_reply(reply, ""),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Array(values) => asked
            .iter()
            .zip(values)
            .map(|(name, value)| line(name, value))
            .collect::<Vec<_>>()
            .join("\n"),
        other => format_reply(other, ""),
    }
}

/// A field's value without quotes (`(nil)` if absent).
fn plain(value: &Value) -> String {
    match value {
        Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Value::Nil => "(nil)".to_string(),
        other => format_reply(other, ""),
    }
}

/// A reply as redis-cli prints it in a terminal; `indent` is the width of the
/// enclosing array's numbering.
fn format_reply(value: &Value, indent: &str) -> String {
    match value {
        Value::Nil => "(nil)".to_string(),
        Value::Okay => "OK".to_string(),
        Value::SimpleString(text) => text.clone(),
        Value::Int(n) => format!("(integer) {n}"),
        Value::Double(x) => format!("(double) {x}"),
        Value::Boolean(b) => format!("({b})"),
        Value::BulkString(bytes) => boutique::quote(bytes),
        Value::VerbatimString { text, .. } => text.clone(),
        Value::BigNumber(n) => format!("(big number) {n:?}"),
        Value::ServerError(error) => format!("(error) {error:?}"),
        Value::Array(items) | Value::Set(items) | Value::Push { data: items, .. } => {
            numbered(items.iter().collect(), indent)
        }
        Value::Map(pairs) => numbered(pairs.iter().flat_map(|(k, v)| [k, v]).collect(), indent),
        Value::Attribute { data, .. } => format_reply(data, indent),
        _ => format!("{value:?}"),
    }
}

fn numbered(items: Vec<&Value>, indent: &str) -> String {
    if items.is_empty() {
        return "(empty array)".to_string();
    }
    let width = items.len().to_string().len();
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let label = format!("{:>width$}) ", index + 1);
            let inner = format!("{indent}{}", " ".repeat(label.len()));
            let text = format_reply(item, &inner);
            if index == 0 {
                format!("{label}{text}")
            } else {
                format!("{indent}{label}{text}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
