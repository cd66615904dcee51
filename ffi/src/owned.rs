//! Byte strings handed to the caller to own: popped list elements.

use crate::status::call_void;

/// Bytes the caller owns, from a call that removed them from the database (a pop).
/// Free with `chiral_bytes_free`. An empty value has `data` NULL and `len` 0.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug)]
pub struct chiral_bytes {
    /// The bytes (NULL when `len` is 0).
    pub data: *mut u8,
    /// How many.
    pub len: usize,
}

impl From<&[u8]> for chiral_bytes {
    fn from(bytes: &[u8]) -> chiral_bytes {
        if bytes.is_empty() {
            return chiral_bytes {
                data: std::ptr::null_mut(),
                len: 0,
            };
        }
        let boxed: Box<[u8]> = bytes.into();
        let len = boxed.len();
        chiral_bytes {
            data: Box::into_raw(boxed).cast::<u8>(),
            len,
        }
    }
}

/// Frees the bytes of `*bytes` and sets it to NULL and 0, so a second free is
/// harmless. NULL is ignored.
///
/// # Safety
/// `bytes` must be NULL or point to a `chiral_bytes` filled by this library (or
/// already freed), not changed by the caller.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chiral_bytes_free(bytes: *mut chiral_bytes) {
    call_void(|| {
        // SAFETY: NULL or a valid chiral_bytes, as the caller promises.
        let Some(bytes) = (unsafe { bytes.as_mut() }) else {
            return;
        };
        if !bytes.data.is_null() {
            let slice = std::ptr::slice_from_raw_parts_mut(bytes.data, bytes.len);
            // SAFETY: `data` and `len` came from `Box::into_raw` of a `Box<[u8]>` of
            // that length in `From<&[u8]>`, and are reset below so they are freed once.
            drop(unsafe { Box::from_raw(slice) });
        }
        bytes.data = std::ptr::null_mut();
        bytes.len = 0;
    });
}
