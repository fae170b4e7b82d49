//! SQLite: full-text ranking from postings kept in memory
//! ([`openzero_core::text_index`], FTS5's `bm25()` without reading a row per
//! match), caught up from the memory change log before each search the way
//! the in-process vector index is: memories added, moved, merged or
//! forgotten by any process are seen at the next search. Built on the first
//! text search (about 0.3 s and 15–30 MB at 100,000 memories). FTS5 stays
//! the index of record and answers what this cannot (a term of several
//! words).

use openzero_core::text_index::TextIndex;
use tokio::sync::Mutex;

use super::*;

/// Rows read per page while building.
const PAGE: i64 = 5_000;

#[derive(Debug, Default)]
pub(crate) struct TextCache {
    inner: Mutex<Held>,
}

#[derive(Debug, Default)]
struct Held {
    index: TextIndex,
    last_change: i64,
    built: bool,
}

impl Held {
    fn put(&mut self, r: &sqlx::sqlite::SqliteRow) -> Result<(), StoreError> {
        let get = |e: sqlx::Error| StoreError::InvalidData(format!("memory row: {e}"));
        let id: i64 = r.try_get("id").map_err(get)?;
        let created: i64 = r.try_get("created_at").map_err(get)?;
        let source: String = r.try_get("source").map_err(get)?;
        let text: String = r.try_get("text").map_err(get)?;
        let source = Source::new(&source)
            .map_err(|e| StoreError::InvalidData(format!("memory #{id}: {e}")))?;
        self.index.upsert(id, created, &source, &text);
        Ok(())
    }
}

impl SqliteStore {
    /// The ranking `text_search` promises, from memory; None when FTS5 must
    /// answer (see [`TextIndex::search`]).
    pub(crate) async fn text_search_held(
        &self,
        terms: &[String],
        filters: &Filters,
        limit: i64,
    ) -> Result<Option<Vec<MemoryId>>, StoreError> {
        let mut held = self.text.inner.lock().await;
        // The log first: what changes while rows are read is applied
        // (again, harmlessly) at the next search.
        let changes = self.memory_changes(held.last_change).await?;
        if !held.built || changes.truncated {
            held.index = TextIndex::default();
            let mut after = 0;
            loop {
                let rows = sqlx::query(
                    "SELECT id, created_at, source, text FROM memories \
                     WHERE merged_into IS NULL AND id > ? ORDER BY id LIMIT ?",
                )
                .bind(after)
                .bind(PAGE)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.err(e))?;
                let Some(last) = rows.last() else { break };
                after = last.try_get("id").map_err(|e| self.err(e))?;
                for r in &rows {
                    held.put(r)?;
                }
            }
            held.built = true;
        } else {
            for chunk in changes.ids.chunks(500) {
                let marks = vec!["?"; chunk.len()].join(", ");
                let sql = format!(
                    "SELECT id, created_at, source, text FROM memories \
                     WHERE merged_into IS NULL AND id IN ({marks})"
                );
                let mut q = sqlx::query(&sql);
                for id in chunk {
                    q = q.bind(id);
                }
                let rows = q.fetch_all(&self.pool).await.map_err(|e| self.err(e))?;
                for id in chunk {
                    held.index.remove(*id);
                }
                for r in &rows {
                    held.put(r)?;
                }
            }
        }
        held.last_change = changes.last;
        let limit = usize::try_from(limit.max(0)).unwrap_or(usize::MAX);
        Ok(held.index.search(terms, filters, limit))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use chrono::TimeZone;
    use openzero_store::{MemoryRecord, MemoryStore};

    use super::*;

    const WORDS: &[&str] = &[
        "dentist",
        "tuesday",
        "bike",
        "tax",
        "return",
        "anna",
        "ben",
        "move",
        "sister",
        "flat",
        "the",
        "a",
        "of",
        "call",
        "bill",
        "paid",
        "plan",
        "run",
        "lesson",
        "piano",
        "café",
        "Cafe",
        "MÜLLER",
        "müller",
        "naïve",
        "Ørsted",
        "µs",
        "Ελλάδα",
        "ελλαδα",
        "Straße",
        "Việt",
        "ĐÀ",
    ];

    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    fn record(rng: &mut Rng, i: usize) -> MemoryRecord {
        let len = 1 + rng.below(14) as usize;
        let mut text: Vec<String> = (0..len)
            .map(|_| WORDS[rng.below(WORDS.len() as u64) as usize].to_owned())
            .collect();
        text.push(format!("n{i}"));
        MemoryRecord {
            text: text.join(if i.is_multiple_of(2) { " " } else { ", " }),
            created_at: Utc.timestamp_micros(i as i64 * 1_000_000).single().unwrap(),
            source: Source::new(["chat", "email", "telegram"][i % 3]).unwrap(),
            external_id: None,
            metadata: None,
            embedding: None,
        }
    }

    async fn same_as_fts5(s: &SqliteStore, rng: &mut Rng, n: usize) {
        let at = |i: i64| Utc.timestamp_micros(i * 1_000_000).single().unwrap();
        let filters = [
            Filters::default(),
            Filters {
                source: Some(Source::new("email").unwrap()),
                ..Filters::default()
            },
            Filters {
                since: Some(at(n as i64 / 4)),
                until: Some(at(n as i64 / 2)),
                source: Some(Source::new("chat").unwrap()),
            },
        ];
        for _ in 0..40 {
            let words = 1 + rng.below(4) as usize;
            let mut terms: Vec<String> = (0..words)
                .map(|_| WORDS[rng.below(WORDS.len() as u64) as usize].to_owned())
                .collect();
            if rng.below(5) == 0 {
                terms.push("absent".into());
            }
            for f in &filters {
                for limit in [3, 50, 10_000] {
                    let held = s.text_search_held(&terms, f, limit).await.unwrap();
                    let fts = s.text_search_fts(&terms, f, limit).await.unwrap();
                    assert_eq!(held, Some(fts), "{terms:?} {f:?} limit {limit}");
                }
            }
        }
    }

    #[tokio::test]
    async fn held_ranking_equals_fts5_through_adds_and_forgets() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        let mut rng = Rng(0x5EED);
        let records: Vec<MemoryRecord> = (0..600).map(|i| record(&mut rng, i)).collect();
        s.add_memories(&records).await.unwrap();
        same_as_fts5(&s, &mut rng, 600).await;
        // Caught up from the change log: forgotten, added.
        for id in (1..600).step_by(9) {
            assert!(s.forget_memory(id).await.unwrap());
        }
        let more: Vec<MemoryRecord> = (600..800).map(|i| record(&mut rng, i)).collect();
        s.add_memories(&more).await.unwrap();
        same_as_fts5(&s, &mut rng, 800).await;
        // A term of two words is a phrase: FTS5 answers it.
        assert_eq!(
            s.text_search_held(&["tax-return".into()], &Filters::default(), 5)
                .await
                .unwrap(),
            None
        );
        s.close().await;
    }
}
