//! The Planka client against a stateful fake of Planka v1's REST API
//! (`openzero_planka::fake`, feature `fake`), on `127.0.0.1:0`.
//!
//! One test binary for the crate (each file a module).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client;
mod failures;
