//! Memory hygiene: merges of near-duplicates and summaries of small
//! memories (`openzero memory consolidate`), and which memories
//! consolidate has looked at.
//!
//! A merge never deletes an original: its members stay stored, hidden from
//! search while `merged_into` names the memory that stands for them (the
//! kept duplicate, or the summary the merge wrote), and an undo shows them
//! again exactly as they were. Forgetting the memory that stands for a
//! merge deletes the merge and shows its members again.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use openzero_core::memory::{Memory, MemoryId};
use serde::Serialize;

use crate::{MemoryRecord, StoreError};

/// What a merge did to its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MergeKind {
    /// Near-duplicates hidden behind one of them, which stays as it was.
    Duplicates,
    /// Small memories hidden behind a new memory summarising them; undo
    /// deletes the summary.
    Summary,
}

impl MergeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MergeKind::Duplicates => "duplicates",
            MergeKind::Summary => "summary",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "duplicates" => Some(MergeKind::Duplicates),
            "summary" => Some(MergeKind::Summary),
            _ => None,
        }
    }
}

/// The memory a merge hides its members behind.
#[derive(Debug, Clone, PartialEq)]
pub enum MergeInto {
    /// One of the group, kept as it is (near-duplicates).
    Existing(MemoryId),
    /// A new memory written in the same transaction (a summary).
    New(MemoryRecord),
}

/// A merge about to be made.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMerge {
    pub kind: MergeKind,
    pub into: MergeInto,
    /// The memories hidden (for duplicates, not the kept one).
    pub members: Vec<MemoryId>,
    /// How the memory standing for them was chosen or written, for the
    /// owner ("kept the newest", "summarised by the local model …",
    /// "texts joined").
    pub method: String,
    pub at: DateTime<Utc>,
}

/// A merge as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergeRecord {
    pub id: i64,
    pub kind: MergeKind,
    pub into_id: MemoryId,
    pub method: String,
    pub created_at: DateTime<Utc>,
    /// The hidden originals, in id order.
    pub members: Vec<MemoryId>,
}

#[async_trait]
pub trait MemoryHygieneStore: Send + Sync + std::fmt::Debug {
    /// Makes a merge in one transaction: writes the summary (for
    /// [`MergeInto::New`]), records the merge and hides its members, which
    /// are marked reviewed. `None`, with nothing changed, when a member or
    /// the kept memory is gone or already hidden, or a new summary's text
    /// is already stored from its source.
    async fn merge_memories(&self, m: &NewMerge) -> Result<Option<MergeRecord>, StoreError>;

    /// Undoes merge `id` in one transaction: its members are shown again
    /// and a summary it wrote is deleted. Returns what was undone; `None`
    /// if there is no such merge.
    async fn unmerge_memories(&self, id: i64) -> Result<Option<MergeRecord>, StoreError>;

    /// The newest `limit` merges still in place, newest first.
    async fn memory_merges(&self, limit: i64) -> Result<Vec<MergeRecord>, StoreError>;

    /// Memories shown in search that consolidate has not looked at yet,
    /// oldest first (by their time, then id), at most `limit`.
    async fn unreviewed_memories(&self, limit: i64) -> Result<Vec<Memory>, StoreError>;

    /// Records that consolidate looked at these memories (missing ids are
    /// skipped).
    async fn mark_memories_reviewed(
        &self,
        ids: &[MemoryId],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Which of `ids` consolidate has looked at, in no particular order.
    async fn reviewed_memories(&self, ids: &[MemoryId]) -> Result<Vec<MemoryId>, StoreError>;
}
