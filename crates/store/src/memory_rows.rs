//! The memory port's value types and the row helpers both SQL adapters
//! share (vectors as bytes, the change log, content hashes).

use openzero_core::memory::{MemoryId, Source};

use crate::StoreError;

/// One memory's vector with the columns search filters on.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorRow {
    pub id: MemoryId,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub source: Source,
    pub vector: Vec<f32>,
}

/// What changed in memory since a point of the change log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemoryChanges {
    /// The newest change seen; pass it next time.
    pub last: i64,
    /// Memories added, re-embedded or forgotten since, each once.
    pub ids: Vec<MemoryId>,
    /// The log was pruned past the point asked for: rebuild from scratch.
    pub truncated: bool,
}

/// A memory about to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryRecord {
    pub text: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub source: Source,
    pub external_id: Option<String>,
    /// JSON text.
    pub metadata: Option<String>,
    pub embedding: Option<Embedding>,
}

impl MemoryRecord {
    /// Identity for de-duplication: the same text from the same source is one memory.
    pub fn content_hash(&self) -> String {
        content_hash(&self.text)
    }
}

/// SHA-256 of the text, hex.
pub fn content_hash(text: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A vector and the model that made it.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    pub model: String,
    pub vector: Vec<f32>,
}

/// Memory counts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemoryStats {
    pub total: i64,
    /// With a vector of the current model.
    pub embedded: i64,
    /// Waiting for (re-)embedding with the current model.
    pub backlog: i64,
    pub by_source: Vec<(String, i64)>,
    /// Hidden from search by a merge (`memory consolidate`), kept for undo.
    pub merged: i64,
    /// Shown in search and not looked at by `memory consolidate` yet.
    pub unreviewed: i64,
}

/// Vector as stored: little-endian f32 bytes.
pub fn encode_vector(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Inverse of [`encode_vector`] for memory `id`; a length that is not whole
/// floats is invalid stored data.
pub fn decode_vector(id: openzero_core::MemoryId, b: &[u8]) -> Result<Vec<f32>, StoreError> {
    if !b.len().is_multiple_of(4) {
        return Err(StoreError::InvalidData(format!(
            "memory #{id}: vector of {} bytes",
            b.len()
        )));
    }
    Ok(b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Builds [`MemoryChanges`] from change-log rows `(seq, memory_id)` after
/// `after`, given the highest pruned seq: shared by the adapters so every
/// backend reports gaps and duplicates the same way.
pub fn changes(after: i64, pruned: i64, rows: Vec<(i64, MemoryId)>) -> MemoryChanges {
    let last = rows.last().map_or(after.max(pruned), |r| r.0);
    let mut seen = std::collections::HashSet::new();
    let ids = rows
        .into_iter()
        .map(|r| r.1)
        .filter(|id| seen.insert(*id))
        .collect();
    MemoryChanges {
        last,
        ids,
        truncated: after < pruned,
    }
}
