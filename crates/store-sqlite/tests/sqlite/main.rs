//! The SQLite adapter: the conformance suite and its own file handling.
//!
//! One test binary for the crate (each file a module): one link step
//! instead of one per file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod conformance;
mod sqlite_files;
