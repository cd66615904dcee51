//! `bindings/c/chiral.h` is what cbindgen makes of this crate today.
//!
//! Run with `CHIRAL_BLESS=1` to rewrite the header after changing the ABI.

use std::path::Path;

#[test]
fn the_checked_in_header_is_fresh() -> anyhow::Result<()> {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).map_err(anyhow::Error::msg)?;
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()?
        .write(&mut generated);
    let header = crate_dir.join("../bindings/c/chiral.h");
    if std::env::var_os("CHIRAL_BLESS").is_some() {
        std::fs::write(&header, &generated)?;
    }
    let checked_in = std::fs::read(&header).unwrap_or_default();
    assert!(
        checked_in == generated,
        "bindings/c/chiral.h is stale: run `CHIRAL_BLESS=1 cargo test -p chiral-ffi --test header` and commit it"
    );
    Ok(())
}
