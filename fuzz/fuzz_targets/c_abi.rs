//! The C ABI driven by arbitrary calls: keys, values, lengths, NULL pointers, enum
//! numbers and buffer sizes all come from the input. Whatever a C caller passes
//! within the documented contract, no call panics, every refusal is a clear status,
//! and string keys written and read back through the ABI agree with a model.
#![no_main]

use std::collections::HashMap;
use std::ptr::{null, null_mut};

use chiral_ffi::*;
use libfuzzer_sys::fuzz_target;

/// Reads the input as a sequence of small values.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        let (&first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        first
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    /// A byte string of up to 15 bytes, from a tiny alphabet of keys so that calls
    /// collide on the same keys.
    fn key(&mut self) -> Vec<u8> {
        let which = self.byte();
        match which % 4 {
            0 => vec![],
            1 => vec![b'a' + which % 3],
            2 => format!("k{}", which % 5).into_bytes(),
            _ => self.bytes(15).to_vec(),
        }
    }

    fn bytes(&mut self, max: usize) -> &'a [u8] {
        let len = (self.byte() as usize % (max + 1)).min(self.0.len());
        let (taken, rest) = self.0.split_at(len);
        self.0 = rest;
        taken
    }

    fn done(&self) -> bool {
        self.0.is_empty()
    }
}

/// The model: string values known to be at keys (absent: unknown).
type Model = HashMap<Vec<u8>, Option<Vec<u8>>>;

fn no_panic(status: chiral_status) -> chiral_status {
    assert_ne!(status, CHIRAL_ERR_PANIC, "a panic reached the boundary");
    status
}

/// A NULL pointer or the slice's, as the input says; NULL with a non-zero length must
/// be refused.
fn pointer(input: &mut Input<'_>, bytes: &[u8]) -> (*const u8, bool) {
    if input.byte() % 16 == 0 {
        (null(), !bytes.is_empty())
    } else {
        (bytes.as_ptr(), false)
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let mut db = null_mut();
    // SAFETY: NULL options, a writable out-parameter.
    assert_eq!(
        unsafe { chiral_db_open_in_memory(null(), &mut db) },
        CHIRAL_OK
    );
    let mut reader = null_mut();
    // SAFETY: a live database, a writable out-parameter.
    assert_eq!(unsafe { chiral_reader_new(db, &mut reader) }, CHIRAL_OK);
    let mut batch = null_mut();
    // SAFETY: a writable out-parameter.
    assert_eq!(unsafe { chiral_batch_new(&mut batch) }, CHIRAL_OK);
    let mut model = Model::new();

    for _ in 0..64 {
        if input.done() {
            break;
        }
        let op = input.byte();
        let key = input.key();
        let (key_ptr, mut key_refused) = pointer(&mut input, &key);
        // SAFETY (for every call below): handles are live, pointers are NULL or point
        // to slices of the lengths passed, out-parameters are writable.
        let status = match op % 12 {
            0 => {
                let value = input.bytes(40).to_vec();
                let ttl_ms = u64::from(input.byte() % 2) * 100_000;
                let ack = input.u32() % 4;
                let status = no_panic(unsafe {
                    chiral_set(
                        db,
                        key_ptr,
                        key.len(),
                        value.as_ptr(),
                        value.len(),
                        ttl_ms,
                        ack,
                    )
                });
                if status == CHIRAL_OK && ack != CHIRAL_ACK_EVENTUAL {
                    model.insert(key.clone(), Some(value));
                } else if status == CHIRAL_OK {
                    model.remove(&key);
                }
                status
            }
            1 => {
                let mut buf = [0u8; 48];
                let capacity = input.byte() as usize % (buf.len() + 1);
                let mut len = usize::MAX;
                let status = no_panic(unsafe {
                    chiral_get(
                        reader,
                        key_ptr,
                        key.len(),
                        buf.as_mut_ptr(),
                        capacity,
                        &mut len,
                    )
                });
                if !key_refused {
                    match model.get(&key) {
                        Some(Some(value)) if value.len() <= capacity => {
                            assert_eq!(status, CHIRAL_OK);
                            assert_eq!(&buf[..len], &value[..]);
                        }
                        Some(Some(value)) => {
                            assert_eq!(status, CHIRAL_ERR_BUFFER_TOO_SMALL);
                            assert_eq!(len, value.len());
                        }
                        Some(None) => assert_eq!(status, CHIRAL_NOT_FOUND),
                        None => {}
                    }
                }
                status
            }
            2 => {
                let ack = input.u32() % 4;
                let status = no_panic(unsafe { chiral_delete(db, key_ptr, key.len(), ack) });
                if matches!(status, CHIRAL_OK | CHIRAL_NOT_FOUND) {
                    if ack == CHIRAL_ACK_EVENTUAL {
                        model.remove(&key);
                    } else {
                        model.insert(key.clone(), None);
                    }
                }
                status
            }
            3 => {
                let delta = i64::from(input.u32() as i32) << (input.byte() % 40);
                model.remove(&key);
                let mut value = 0;
                no_panic(unsafe { chiral_incr(db, key_ptr, key.len(), delta, &mut value) })
            }
            4 => {
                let value = input.bytes(8).to_vec();
                let end = input.u32() % 3;
                model.remove(&key);
                no_panic(unsafe {
                    chiral_list_push(
                        db,
                        key_ptr,
                        key.len(),
                        end,
                        value.as_ptr(),
                        value.len(),
                        null_mut(),
                    )
                })
            }
            5 => {
                let end = input.u32() % 3;
                let mut popped = chiral_bytes {
                    data: null_mut(),
                    len: 0,
                };
                model.remove(&key);
                let status =
                    no_panic(unsafe { chiral_list_pop(db, key_ptr, key.len(), end, &mut popped) });
                unsafe { chiral_bytes_free(&mut popped) };
                status
            }
            6 => {
                let member = input.bytes(8).to_vec();
                model.remove(&key);
                match input.byte() % 3 {
                    0 => no_panic(unsafe {
                        chiral_set_add(
                            db,
                            key_ptr,
                            key.len(),
                            member.as_ptr(),
                            member.len(),
                            null_mut(),
                        )
                    }),
                    1 => no_panic(unsafe {
                        chiral_set_remove(db, key_ptr, key.len(), member.as_ptr(), member.len())
                    }),
                    _ => no_panic(unsafe {
                        chiral_set_contains(
                            reader,
                            key_ptr,
                            key.len(),
                            member.as_ptr(),
                            member.len(),
                        )
                    }),
                }
            }
            7 => {
                let field = input.bytes(8).to_vec();
                let value = input.bytes(8).to_vec();
                model.remove(&key);
                let mut buf = [0u8; 8];
                let mut len = 0;
                match input.byte() % 3 {
                    0 => no_panic(unsafe {
                        chiral_hash_set(
                            db,
                            key_ptr,
                            key.len(),
                            field.as_ptr(),
                            field.len(),
                            value.as_ptr(),
                            value.len(),
                        )
                    }),
                    1 => no_panic(unsafe {
                        chiral_hash_get(
                            reader,
                            key_ptr,
                            key.len(),
                            field.as_ptr(),
                            field.len(),
                            buf.as_mut_ptr(),
                            buf.len(),
                            &mut len,
                        )
                    }),
                    _ => no_panic(unsafe {
                        chiral_hash_delete(db, key_ptr, key.len(), field.as_ptr(), field.len())
                    }),
                }
            }
            8 => {
                // Batches change keys the model cannot follow cheaply: forget them all.
                model.clear();
                let value = input.bytes(8).to_vec();
                match input.byte() % 6 {
                    0 => no_panic(unsafe {
                        chiral_batch_set(batch, key_ptr, key.len(), value.as_ptr(), value.len(), 0)
                    }),
                    1 => no_panic(unsafe { chiral_batch_delete(batch, key_ptr, key.len()) }),
                    2 => no_panic(unsafe { chiral_batch_incr(batch, key_ptr, key.len(), 1) }),
                    3 => no_panic(unsafe {
                        chiral_batch_require_version(
                            batch,
                            key_ptr,
                            key.len(),
                            u64::from(input.byte()),
                        )
                    }),
                    4 => no_panic(unsafe {
                        chiral_batch_require_exists(
                            batch,
                            key_ptr,
                            key.len(),
                            input.byte() % 2 == 0,
                        )
                    }),
                    _ => {
                        // A commit takes no key.
                        key_refused = false;
                        let mut lsn = 0;
                        no_panic(unsafe {
                            chiral_batch_commit(db, batch, input.u32() % 4, &mut lsn)
                        })
                    }
                }
            }
            9 => {
                let mut view = null_mut();
                assert_eq!(unsafe { chiral_view_open(reader, &mut view) }, CHIRAL_OK);
                let (mut data, mut len) = (null(), 0usize);
                let status = no_panic(unsafe {
                    chiral_view_get(view, key_ptr, key.len(), &mut data, &mut len)
                });
                if !key_refused {
                    match model.get(&key) {
                        Some(Some(value)) => {
                            assert_eq!(status, CHIRAL_OK);
                            assert_eq!(
                                unsafe { std::slice::from_raw_parts(data, len) },
                                &value[..]
                            );
                        }
                        Some(None) => assert_eq!(status, CHIRAL_NOT_FOUND),
                        None => {}
                    }
                }
                // Writes from a thread holding a view are refused, never hang.
                let refused = no_panic(unsafe {
                    chiral_set(
                        db,
                        b"x".as_ptr(),
                        1,
                        b"y".as_ptr(),
                        1,
                        0,
                        CHIRAL_ACK_VISIBLE,
                    )
                });
                assert_eq!(refused, CHIRAL_ERR_VIEW_OPEN);
                unsafe { chiral_view_free(view) };
                status
            }
            10 => {
                let pattern = input.bytes(6).to_vec();
                let (pattern_ptr, _) = pointer(&mut input, &pattern);
                let mut iter = null_mut();
                let status = no_panic(unsafe {
                    chiral_scan(
                        reader,
                        key_ptr,
                        key.len(),
                        pattern_ptr,
                        pattern.len(),
                        &mut iter,
                    )
                });
                drain(iter, input.byte() % 2 == 0);
                status
            }
            _ => {
                let mut iter = null_mut();
                let status = match input.byte() % 5 {
                    0 => no_panic(unsafe {
                        chiral_list_range(
                            reader,
                            key_ptr,
                            key.len(),
                            i64::from(input.byte() as i8),
                            -1,
                            &mut iter,
                        )
                    }),
                    1 => no_panic(unsafe {
                        chiral_set_members(reader, key_ptr, key.len(), &mut iter)
                    }),
                    2 => no_panic(unsafe {
                        chiral_hash_entries(reader, key_ptr, key.len(), &mut iter)
                    }),
                    3 => {
                        let mut version = 0;
                        no_panic(unsafe {
                            chiral_key_version(reader, key_ptr, key.len(), &mut version)
                        })
                    }
                    _ => {
                        let mut kind = chiral_kind::CHIRAL_KIND_STRING;
                        no_panic(unsafe { chiral_key_kind(reader, key_ptr, key.len(), &mut kind) })
                    }
                };
                drain(iter, input.byte() % 2 == 0);
                status
            }
        };
        if key_refused {
            assert_eq!(
                status, CHIRAL_ERR_ARGUMENT,
                "a NULL key with a length was accepted"
            );
        }
    }
    // SAFETY: live handles, each freed once.
    unsafe {
        chiral_batch_free(batch);
        chiral_reader_free(reader);
        chiral_db_free(db);
    }
});

/// Reads an iterator to its end (as items or as pairs, whichever the input says;
/// the wrong kind must be refused) and frees it. NULL is allowed.
fn drain(iter: *mut chiral_iter, pairs: bool) {
    if iter.is_null() {
        return;
    }
    for _ in 0..1000 {
        let (mut a, mut a_len, mut b, mut b_len) = (null(), 0usize, null(), 0usize);
        // SAFETY: a live iterator and writable out-parameters.
        let status = no_panic(unsafe {
            if pairs {
                chiral_iter_next_pair(iter, &mut a, &mut a_len, &mut b, &mut b_len)
            } else {
                chiral_iter_next(iter, &mut a, &mut a_len)
            }
        });
        if status != CHIRAL_OK {
            assert!(matches!(status, CHIRAL_DONE | CHIRAL_ERR_ARGUMENT));
            break;
        }
    }
    // SAFETY: a live iterator, freed once.
    unsafe { chiral_iter_free(iter) };
}
