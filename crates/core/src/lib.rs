//! OpenZero's domain model.
//!
//! **Invariant:** this crate does no I/O: no files, no network, no clock reads
//! except where a caller passes the time in. Everything here is tested with
//! plain synchronous unit tests.

pub mod agent;
pub mod board;
pub mod board_sync;
pub mod briefing;
pub mod calendar;
pub mod commands;
pub mod consent;
pub mod embedding;
pub mod health;
pub mod llm;
pub mod login;
pub mod mail;
pub mod memory;
pub mod memory_hygiene;
pub mod notify;
pub mod project;
pub mod recall;
pub mod repeat;
pub mod schedule;
pub mod text_index;
pub mod tools;
pub mod tree;
pub mod vector_index;
pub mod when;

pub use memory::{Filters, Memory, MemoryError, MemoryId, Source};
pub use project::{
    Domain, NewProject, Priority, Progress, Project, ProjectError, ProjectId, ProjectPatch, Status,
    check_parent, check_unique, path_of, resolve, validate_name,
};
pub use tree::{EMPTY_TREE, ordered, render_tree};
