//! Semantic memory: what a memory is, and how search results are ranked.
//! Vectors and texts come in from adapters; this module only decides.

use std::cmp::Ordering;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Database id of a memory.
pub type MemoryId = i64;

/// Longest memory text we accept, in bytes (a long email fits; a book does not).
pub const MAX_TEXT_BYTES: usize = 100_000;

/// Why a memory was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemoryError {
    #[error("a memory needs some text")]
    EmptyText,
    #[error("memory text is too long ({0} bytes; at most {MAX_TEXT_BYTES})")]
    TooLong(usize),
    #[error(
        "invalid source '{0}': use 1 to 32 lowercase letters, digits, '-' or '_' (e.g. chat, telegram, email, import)"
    )]
    InvalidSource(String),
    #[error("memory #{0} does not exist")]
    NotFound(MemoryId),
}

/// Where a memory came from: `chat`, `telegram`, `email`, `import`, …
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Source(String);

impl Source {
    pub fn new(s: &str) -> Result<Self, MemoryError> {
        let t = s.trim().to_ascii_lowercase();
        let ok = !t.is_empty()
            && t.len() <= 32
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(t))
        } else {
            Err(MemoryError::InvalidSource(s.to_owned()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Source {
    type Error = MemoryError;
    fn try_from(s: String) -> Result<Self, MemoryError> {
        Source::new(&s)
    }
}

impl From<Source> for String {
    fn from(s: Source) -> String {
        s.0
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks memory text: not blank, not huge. Kept exactly as given otherwise.
pub fn validate_text(text: &str) -> Result<(), MemoryError> {
    if text.trim().is_empty() {
        return Err(MemoryError::EmptyText);
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(MemoryError::TooLong(text.len()));
    }
    Ok(())
}

/// A stored memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    pub id: MemoryId,
    pub text: String,
    pub created_at: DateTime<Utc>,
    pub source: Source,
    pub external_id: Option<String>,
    /// JSON text, as given.
    pub metadata: Option<String>,
    /// Model of the stored vector; `None` while the text waits to be embedded.
    pub model: Option<String>,
}

/// Search options.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filters {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub source: Option<Source>,
}

/// Constant of reciprocal rank fusion: larger values flatten the head.
pub const RRF_K: f32 = 60.0;

/// Fuses ranked id lists (best first) by reciprocal rank fusion: each list
/// adds `1 / (RRF_K + rank)` to an id's score. Ties keep the order in which
/// ids were first seen, dense list first.
pub fn fuse(lists: &[&[MemoryId]], k: usize) -> Vec<(MemoryId, f32)> {
    let mut scores: HashMap<MemoryId, (f32, usize)> = HashMap::new();
    let mut seen = 0usize;
    for list in lists {
        for (rank, id) in list.iter().enumerate() {
            let entry = scores.entry(*id).or_insert_with(|| {
                seen += 1;
                (0.0, seen)
            });
            entry.0 += 1.0 / (RRF_K + rank as f32 + 1.0);
        }
    }
    let mut out: Vec<(MemoryId, f32, usize)> =
        scores.into_iter().map(|(id, (s, o))| (id, s, o)).collect();
    out.sort_by(|a, b| {
        b.1.partial_cmp(&a.1)
            .unwrap_or(Ordering::Equal)
            .then(a.2.cmp(&b.2))
    });
    out.into_iter().take(k).map(|(id, s, _)| (id, s)).collect()
}

/// Cosine below which a memory is not considered related at all. For
/// MiniLM, unrelated sentences score about -0.1 to 0.15; related ones 0.3 and up.
pub const MIN_SIMILARITY: f32 = 0.2;

/// Common English words that match almost everything and say nothing.
const STOPWORDS: &[&str] = &[
    "a", "about", "am", "an", "and", "are", "as", "at", "be", "but", "by", "can", "did", "do",
    "does", "for", "from", "had", "has", "have", "how", "i", "if", "in", "into", "is", "it", "its",
    "me", "my", "no", "not", "of", "on", "or", "our", "so", "than", "that", "the", "their", "them",
    "then", "there", "these", "they", "this", "to", "was", "we", "were", "what", "when", "where",
    "which", "who", "why", "will", "with", "you", "your",
];

/// Words of a query for full-text search: letters and digits only, so no
/// user text can be read as search syntax, without stop words (unless the
/// query is nothing but stop words).
pub fn query_terms(query: &str) -> Vec<String> {
    let all: Vec<String> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .take(32)
        .collect();
    let content: Vec<String> = all
        .iter()
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .cloned()
        .collect();
    if content.is_empty() { all } else { content }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_normalised_and_checked() {
        assert_eq!(
            Source::new(" Telegram ").map(|s| s.0),
            Ok("telegram".into())
        );
        assert!(Source::new("").is_err());
        assert!(Source::new("two words").is_err());
        assert!(Source::new(&"a".repeat(33)).is_err());
    }

    #[test]
    fn text_must_have_content_and_bounded_size() {
        assert_eq!(validate_text("  \n"), Err(MemoryError::EmptyText));
        assert!(validate_text(&"x".repeat(MAX_TEXT_BYTES + 1)).is_err());
        assert!(validate_text("🏃").is_ok());
    }

    #[test]
    fn fusion_rewards_agreement_between_lists() {
        // 3 is second in both lists; 1 and 7 top one list each.
        let dense = [1, 3, 5];
        let words = [7, 3, 9];
        let fused = fuse(&[&dense, &words], 3);
        assert_eq!(fused[0].0, 3);
        assert_eq!(fused.len(), 3);
        assert_eq!(fused[1].0, 1, "ties keep the dense list's order");
    }

    #[test]
    fn query_terms_strip_search_syntax() {
        assert_eq!(
            query_terms("dentist\" OR NEAR(x) -tuesday* ü"),
            ["dentist", "near", "x", "tuesday", "ü"]
        );
        assert_eq!(query_terms("when is the dentist"), ["dentist"]);
        assert_eq!(
            query_terms("the who"),
            ["the", "who"],
            "all stop words: keep them"
        );
        assert!(query_terms("\"\"*()").is_empty());
    }
}
