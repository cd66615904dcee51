//! `chiral-cli` against the real `chiral-server`: the Boutique script prints what
//! boutique.expected describes, each error case prints its one line, a script that
//! does not parse runs nothing, and the shell reads blocks that span lines.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::Running;

fn cli(server: &Running, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chiral-cli"))
        .arg("-p")
        .arg(server.port.to_string())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chiral-cli starts");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "chiral-cli failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn script(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/boutique")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

fn expected(name: &str) -> String {
    std::fs::read_to_string(script(name)).unwrap()
}

#[test]
fn the_boutique_script_and_its_error_cases() {
    let server = Running::with_args(&["--in-memory"]);
    let output = cli(&server, &["-f", &script("boutique.bq")], b"");
    assert_eq!(stdout(&output), expected("boutique.out"));
    let output = cli(&server, &["-f", &script("errors.bq")], b"");
    assert_eq!(stdout(&output), expected("errors.out"));
}

#[test]
fn a_script_that_does_not_parse_runs_nothing() {
    let server = Running::with_args(&["--in-memory"]);
    let broken = b"SET ran yes\nset users:x {\n  a 1\n";
    let output = cli(&server, &["-f", "-"], broken);
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains("line 2: a block is not closed") && error.contains("nothing was run"),
        "{error}"
    );
    let output = cli(&server, &["EXISTS", "ran"], b"");
    assert_eq!(stdout(&output), "(integer) 0\n");
}

#[test]
fn the_shell_reads_blocks_across_lines_and_stops_at_quit() {
    let server = Running::with_args(&["--in-memory"]);
    let session = b"schema tag {\n  name string8\n  uses uint64\n}\ncoll tags { tag name }\n\
set tags:red {\n  uses 3\n}\nget tags:red { uses }\nset tags:red { color 1 }\nPING\nquit\nPING\n";
    let output = cli(&server, &[], session);
    assert_eq!(
        stdout(&output),
        "OK\nOK\nOK\nuses = 3\n(error) ERR unknown field color in schema tag\nPONG\n"
    );
}

#[test]
fn a_lost_server_is_an_error_not_a_reply() {
    let server = Running::with_args(&["--in-memory"]);
    let port = server.port.to_string();
    server.kill();
    let output = Command::new(env!("CARGO_BIN_EXE_chiral-cli"))
        .args(["-p", &port, "PING"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot connect"));
}
