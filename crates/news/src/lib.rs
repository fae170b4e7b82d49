//! News feeds read into plain items, with no I/O: [`parse`] reads RSS
//! 0.9x/1.0/2.0, Atom and JSON Feed (through `feed-rs`) into [`Item`]s with
//! plain text; [`opml`] reads and writes subscription lists; [`story`]
//! finds the same story across feeds (guid, link without tracking
//! parameters, normalised title); [`rank`] orders stories by the owner's
//! interests and their age.
//!
//! **Invariants:** nothing a feed holds can panic the parser: a feed that
//! cannot be read is [`NewsError::Malformed`] with a short reason; every
//! item's text is plain (tags and entities resolved) and bounded; a title
//! is never empty (the text's first words, else the link, else "(untitled)").

pub mod article;
mod error;
pub mod opml;
mod parse;
mod prepare;
pub mod rank;
pub mod story;

pub use error::NewsError;
pub use parse::{Feed, Item, parse};
