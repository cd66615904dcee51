//! The library's version, as macros in the header and as functions at run time, so a
//! program can check that the library it loaded matches the header it was built with.

use std::ffi::c_char;

/// The major version (the header also defines `CHIRAL_VERSION_NUMBER`, computed from
/// the three parts as major * 1000000 + minor * 1000 + patch).
pub const CHIRAL_VERSION_MAJOR: u32 = 0;
/// The minor version.
pub const CHIRAL_VERSION_MINOR: u32 = 1;
/// The patch version.
pub const CHIRAL_VERSION_PATCH: u32 = 0;

/// The library's version as `CHIRAL_VERSION_NUMBER` computes it:
/// major * 1000000 + minor * 1000 + patch.
#[unsafe(no_mangle)]
pub extern "C" fn chiral_version_number() -> u32 {
    CHIRAL_VERSION_MAJOR * 1_000_000 + CHIRAL_VERSION_MINOR * 1000 + CHIRAL_VERSION_PATCH
}

/// The library's version as static NUL-terminated text, `"major.minor.patch"`.
#[unsafe(no_mangle)]
pub extern "C" fn chiral_version_string() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_constants_are_the_package_version() {
        let parts = [
            CHIRAL_VERSION_MAJOR,
            CHIRAL_VERSION_MINOR,
            CHIRAL_VERSION_PATCH,
        ];
        assert_eq!(
            parts.map(|part| part.to_string()).join("."),
            env!("CARGO_PKG_VERSION")
        );
        // SAFETY: a static NUL-terminated string.
        let text = unsafe { std::ffi::CStr::from_ptr(chiral_version_string()) };
        assert_eq!(text.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
        assert_eq!(chiral_version_number(), 1000);
    }
}
