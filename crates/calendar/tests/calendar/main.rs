//! The calendar adapters on hand-written cases whose answer is known, and on
//! the public corpora under `../shared/fixtures/ics` (read at test time,
//! never copied here), checked against an independent implementation.
//!
//! One test binary for the crate (each file a module).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod caldav;
mod cases;
mod google;
mod google_fake;
mod reference;
