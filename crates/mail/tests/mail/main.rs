//! The mail adapters on real-world input: the public corpora under
//! `../shared/fixtures/email` (read at test time, never copied here), and
//! the read-only guarantee checked on the source itself.
//!
//! One test binary for the crate (each file a module).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod corpus;
mod read_only;
