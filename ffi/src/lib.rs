//! Chiral's C ABI: embed the engine in any language with a C FFI.
//!
//! The header `bindings/c/chiral.h` is generated from this crate by cbindgen; every
//! item here is documented for it. The rules of the ABI:
//!
//! - Handles (`chiral_db`, `chiral_reader`, `chiral_view`, `chiral_batch`,
//!   `chiral_iter`, `chiral_subscription`, `chiral_options`) are opaque, made by one
//!   function and freed by its paired free, which accepts NULL.
//! - Every fallible function returns a `chiral_status`; `CHIRAL_NOT_FOUND` and
//!   `CHIRAL_DONE` are answers, not errors. Out-parameters are written only on
//!   success (the one exception: a too-small buffer learns the size it needs). The
//!   message of the calling thread's last error is copied out by `chiral_last_error`.
//! - No panic crosses the boundary: each exported function runs in `status::call`,
//!   which turns a panic into `CHIRAL_ERR_PANIC`. NULL and out-of-range arguments give
//!   `CHIRAL_ERR_ARGUMENT`.
//! - A database handle is shared by all threads; a reader, with the views and
//!   iterators made from it, belongs to one thread at a time; a batch too.
//!
//! The map: `status` (codes, last error, the guard), `args` (checking C's
//! arguments), `options`, `db` (open, close, snapshot), `write` (one-operation
//! writes), `batch` (atomic batches with preconditions), `read` (readers and copying
//! reads), `view` (zero-copy reads), `iter` (scans and collections), `docs` (schemas,
//! collections, documents), `watch` (change callbacks), `owned` (bytes the caller
//! frees), `version`.

mod args;
mod batch;
mod db;
mod docs;
mod iter;
mod options;
mod owned;
mod read;
mod status;
mod version;
mod view;
mod watch;
mod write;

pub use args::{
    CHIRAL_ACK_DURABLE, CHIRAL_ACK_EVENTUAL, CHIRAL_ACK_VISIBLE, CHIRAL_END_HEAD, CHIRAL_END_TAIL,
    chiral_ack, chiral_end, chiral_slice,
};
pub use batch::*;
pub use db::*;
pub use docs::*;
pub use iter::*;
pub use options::*;
pub use owned::*;
pub use read::*;
pub use status::*;
pub use version::*;
pub use view::*;
pub use watch::*;
pub use write::*;
