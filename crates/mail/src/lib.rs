//! Mail adapters: parsing MIME into what OpenZero keeps ([`parse`]), local
//! archives ([`import`]) and, later in this crate, the read-only IMAP and
//! Gmail sources.
//!
//! **Invariant:** read-only by construction. Nothing here can change a
//! mailbox: no IMAP command that sets a flag, copies, moves, appends or
//! expunges is written anywhere in this crate (a test greps for them).

pub mod gmail;
pub mod imap;
pub mod import;
pub mod oauth;
pub mod parse;

pub use parse::{Attachment, Parsed, parse};
