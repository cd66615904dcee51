//! The C and C++ examples, compiled by the system's compilers against the static
//! library and the checked-in headers, run, and their output compared with the
//! `.expected` file beside each.
//!
//! With `CHIRAL_VALGRIND=1` every program runs under valgrind's memcheck, and any
//! invalid read or write, or any leak, fails the test (.ci/run does this).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `target/<profile>`, with a `libchiral_ffi.a` built from the current source.
///
/// `cargo test` builds the library as an rlib for the tests but does not refresh the
/// static library, so this runs `cargo build` for it (once per test process).
fn library_dir() -> Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| build_library().map_err(|error| format!("{error:#}")));
    built.clone().map_err(anyhow::Error::msg)
}

fn build_library() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // target/<profile>/deps/c_programs-<hash>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .context("the test binary is not in target/<profile>/deps")?;
    let target_dir = dir.parent().context("no target directory")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--quiet",
            "-p",
            "chiral-ffi",
            "--lib",
            "--target-dir",
        ])
        .arg(target_dir);
    if dir.file_name().is_some_and(|name| name == "release") {
        command.arg("--release");
    }
    let status = command.status().context("running cargo build")?;
    if !status.success() {
        bail!("cargo build -p chiral-ffi failed: {status}");
    }
    Ok(dir.to_path_buf())
}

/// Compiles `source` (C99, or C++17 for `.cpp`) with every warning an error.
fn compile(source: &Path, out_dir: &Path) -> Result<PathBuf> {
    let cpp = source.extension().is_some_and(|ext| ext == "cpp");
    let binary = out_dir.join(source.file_stem().context("no file name")?);
    let mut command = Command::new(if cpp { "g++" } else { "gcc" });
    command
        .arg(if cpp { "-std=c++17" } else { "-std=c99" })
        .args(["-Wall", "-Wextra", "-Werror", "-pedantic", "-g", "-O1"])
        .arg("-I")
        .arg(repo().join("bindings/c"))
        .arg("-I")
        .arg(repo().join("bindings/cpp"))
        .arg(source)
        .arg(library_dir()?.join("libchiral_ffi.a"))
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&binary);
    let output = command.output().context("running the compiler")?;
    if !output.status.success() {
        bail!(
            "compiling {} failed:\n{}",
            source.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(binary)
}

/// Runs `binary` with `args` (under valgrind if asked) and returns its stdout.
fn run(binary: &Path, args: &[&Path]) -> Result<String> {
    let valgrind = std::env::var_os("CHIRAL_VALGRIND").is_some();
    let mut command = if valgrind {
        let mut command = Command::new("valgrind");
        command.args([
            "--quiet",
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect",
        ]);
        command.arg(binary);
        command
    } else {
        Command::new(binary)
    };
    let output = command.args(args).output().context("running the program")?;
    if !output.status.success() {
        bail!(
            "{} failed ({}):\n{}{}",
            binary.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8(output.stdout)?)
}

/// Builds and runs one example, checking its output against `<name>.expected`.
fn example(path: &str, with_data_dir: bool) -> Result<()> {
    let source = repo().join(path);
    let build = tempfile::tempdir()?;
    let binary = compile(&source, build.path())?;
    let expected = std::fs::read_to_string(source.with_extension("expected"))
        .with_context(|| format!("reading the expected output of {path}"))?;
    let data = tempfile::tempdir()?;
    let data_dir = data.path().join("data");
    let args: Vec<&Path> = if with_data_dir {
        vec![&data_dir]
    } else {
        vec![]
    };
    let output = run(&binary, &args)?;
    assert_eq!(output, expected, "the output of {path}");
    Ok(())
}

#[test]
fn basic_in_memory() -> Result<()> {
    example("bindings/c/examples/basic.c", false)
}

#[test]
fn basic_on_disk() -> Result<()> {
    example("bindings/c/examples/basic.c", true)
}

#[test]
fn batch_with_preconditions() -> Result<()> {
    example("bindings/c/examples/batch.c", false)
}

#[test]
fn zero_copy_view_in_memory() -> Result<()> {
    example("bindings/c/examples/view.c", false)
}

#[test]
fn zero_copy_view_of_a_snapshot() -> Result<()> {
    example("bindings/c/examples/view.c", true)
}

#[test]
fn four_reader_threads_and_a_writer() -> Result<()> {
    example("bindings/c/examples/threads.c", false)
}

#[test]
fn change_callback() -> Result<()> {
    example("bindings/c/examples/callback.c", false)
}

#[test]
fn documents_in_memory() -> Result<()> {
    example("bindings/c/examples/documents.c", false)
}

#[test]
fn documents_on_disk() -> Result<()> {
    example("bindings/c/examples/documents.c", true)
}

#[test]
fn the_c_api_contract_and_every_error_path() -> Result<()> {
    example("bindings/c/tests/api.c", true)
}

#[test]
fn cpp_wrapper_in_memory() -> Result<()> {
    example("bindings/cpp/examples/basic.cpp", false)
}

#[test]
fn cpp_wrapper_on_disk() -> Result<()> {
    example("bindings/cpp/examples/basic.cpp", true)
}
