//! The in-process vector index of the current embedding model, kept in step
//! with the store.
//!
//! The vectors are persisted in the database with the rest of the data; this
//! is their in-memory copy for fast exact search. It is built once (page by
//! page from the store) and then caught up before every search from the
//! store's change log, so memories added or forgotten by another process (a
//! CLI command while `serve` runs) are seen at the next search, and a
//! forgotten memory can never be found again. Backends that search vectors
//! themselves (pgvector) never build it.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use openzero_core::memory::{Filters, MemoryId, Source};
use openzero_core::vector_index::VectorIndex;
use openzero_embed::MODEL_ID;
use openzero_store::{MemoryStore, StoreError, VectorRow};
use tokio::sync::{Mutex, MutexGuard};

/// Turns of one conversation further apart than this count apart.
pub const SPAN_HOURS: i64 = 6;
/// Rows read per page while building.
const PAGE: i64 = 2_000;
/// Dimension of the default model, used until the first vector says otherwise.
const DEFAULT_DIM: usize = 384;
/// Change-log entries kept after a large write (import, reindex). A reader
/// further behind rebuilds, which after that much change is cheaper anyway.
pub const KEEP_CHANGES: i64 = 10_000;

/// The index and how far into the change log it has read.
#[derive(Debug)]
pub struct Synced {
    index: VectorIndex,
    /// Every row by time with its source (a number in `sources`), to find
    /// a memory's neighbours in its conversation without a lookup per row.
    by_time: BTreeMap<(i64, MemoryId), u32>,
    sources: Vec<Source>,
    last_change: i64,
    built: bool,
}

impl Synced {
    /// Exact top-`k` of the current model, best first.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        min_score: f32,
        filters: &Filters,
    ) -> Vec<(MemoryId, f32)> {
        self.index.search(query, k, min_score, filters)
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The stored vector of `id`.
    pub fn vector(&self, id: MemoryId) -> Option<&[f32]> {
        self.index.vector(id)
    }

    /// When `id` was created, if it has a vector here.
    pub fn created_at(&self, id: MemoryId) -> Option<DateTime<Utc>> {
        self.index
            .meta(id)
            .and_then(|(t, _)| DateTime::from_timestamp_micros(t))
    }

    /// The memories just before and just after `id` from the same source,
    /// each at most `gap` away: the turns around it in its conversation.
    pub fn neighbours(&self, id: MemoryId, gap: chrono::Duration) -> Vec<MemoryId> {
        let Some((t, _)) = self.index.meta(id) else {
            return Vec::new();
        };
        let Some(&source) = self.by_time.get(&(t, id)) else {
            return Vec::new();
        };
        let gap = gap.num_microseconds().unwrap_or(i64::MAX);
        let same = |((at, _), s): &(&(i64, MemoryId), &u32)| (at - t).abs() <= gap && **s == source;
        let before = self
            .by_time
            .range(..(t, id))
            .rev()
            .take(4)
            .find(same)
            .map(|x| x.0.1);
        let after = self
            .by_time
            .range((t, id + 1)..)
            .take(4)
            .find(same)
            .map(|x| x.0.1);
        before.into_iter().chain(after).collect()
    }

    /// Groups `ids` by conversation: each memory of `ids` with a vector
    /// here maps to the earliest of `ids` in its conversation (the chain
    /// of memories from one source, each at most `gap` after the one
    /// before). Only memories of `ids` from one source at most
    /// [`SPAN_HOURS`] apart are checked for a chain between them, by
    /// reading the rows between them once, so a search costs rows of hours,
    /// not of whole conversations.
    pub fn conversations(
        &self,
        ids: &[MemoryId],
        gap: chrono::Duration,
    ) -> HashMap<MemoryId, MemoryId> {
        /// Rows read between two memories at most before giving up on a chain.
        const ROWS: usize = 2_000;
        let gap = gap.num_microseconds().unwrap_or(i64::MAX);
        let span = chrono::Duration::hours(SPAN_HOURS)
            .num_microseconds()
            .unwrap_or(i64::MAX);
        let mut keyed: Vec<(u32, i64, MemoryId)> = ids
            .iter()
            .filter_map(|id| {
                let (t, _) = self.index.meta(*id)?;
                let s = *self.by_time.get(&(t, *id))?;
                Some((s, t, *id))
            })
            .collect();
        keyed.sort_unstable();
        keyed.dedup();
        let mut first: HashMap<MemoryId, MemoryId> = HashMap::with_capacity(keyed.len());
        let mut group = None;
        for (k, &(source, t, id)) in keyed.iter().enumerate() {
            let joined = k.checked_sub(1).and_then(|p| keyed.get(p)).filter(|prev| {
                prev.0 == source
                    && t - prev.1 <= span
                    && self.chained((prev.1, prev.2), (t, id), source, gap, ROWS)
            });
            if joined.is_none() {
                group = Some(id);
            }
            first.insert(id, group.unwrap_or(id));
        }
        first
    }

    /// True when `from` and `to` (by time) are joined by memories of
    /// `source`, each at most `gap` after the one before; false also when
    /// more than `rows` rows lie between them.
    fn chained(
        &self,
        from: (i64, MemoryId),
        to: (i64, MemoryId),
        source: u32,
        gap: i64,
        rows: usize,
    ) -> bool {
        let mut last = from.0;
        for (n, ((at, _), s)) in self.by_time.range(from..=to).skip(1).enumerate() {
            if n >= rows || *at - last > gap {
                return false;
            }
            if *s == source {
                last = *at;
            }
        }
        true
    }

    fn remove(&mut self, id: MemoryId) {
        if let Some((t, _)) = self.index.meta(id) {
            self.by_time.remove(&(t, id));
        }
        self.index.remove(id);
    }

    fn put(&mut self, row: &VectorRow) {
        if self.index.is_empty() && row.vector.len() != self.index.dim() {
            self.index = VectorIndex::new(row.vector.len());
        }
        if let Some((t, _)) = self.index.meta(row.id) {
            self.by_time.remove(&(t, row.id));
        }
        if let Err(e) = self.index.upsert(
            row.id,
            row.created_at.timestamp_micros(),
            &row.source,
            &row.vector,
        ) {
            // Left out of meaning search (words still find it); reindex repairs it.
            tracing::warn!(error = %e, "vector skipped: run `openzero memory reindex`");
        } else {
            let source = match self.sources.iter().position(|s| *s == row.source) {
                Some(i) => i as u32,
                None => {
                    self.sources.push(row.source.clone());
                    (self.sources.len() - 1) as u32
                }
            };
            self.by_time
                .insert((row.created_at.timestamp_micros(), row.id), source);
        }
    }
}

/// Shared, lazily built index (one per process).
#[derive(Debug)]
pub struct MemoryIndex {
    inner: Mutex<Synced>,
}

impl Default for MemoryIndex {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Synced {
                index: VectorIndex::new(DEFAULT_DIM),
                by_time: BTreeMap::new(),
                sources: Vec::new(),
                last_change: 0,
                built: false,
            }),
        }
    }
}

impl MemoryIndex {
    /// The index, built or caught up with every change the store has
    /// committed. Holds the lock until the guard is dropped.
    pub async fn synced(
        &self,
        store: &dyn MemoryStore,
    ) -> Result<MutexGuard<'_, Synced>, StoreError> {
        let mut s = self.inner.lock().await;
        let changes = store.memory_changes(s.last_change).await?;
        if !s.built || changes.truncated {
            // Changes made while building are in the log after `changes.last`
            // and are applied (again, harmlessly) at the next search.
            let started = std::time::Instant::now();
            s.index = VectorIndex::new(DEFAULT_DIM);
            s.by_time.clear();
            s.sources.clear();
            let mut after = 0;
            loop {
                let page = store.memory_vectors(MODEL_ID, after, PAGE).await?;
                let Some(last) = page.last() else { break };
                after = last.id;
                for row in &page {
                    s.put(row);
                }
            }
            s.last_change = changes.last;
            s.built = true;
            tracing::info!(
                vectors = s.index.len(),
                ms = started.elapsed().as_millis() as u64,
                "memory index built"
            );
            return Ok(s);
        }
        if !changes.ids.is_empty() {
            let rows = store.memory_vectors_of(MODEL_ID, &changes.ids).await?;
            let present: std::collections::HashSet<MemoryId> = rows.iter().map(|r| r.id).collect();
            for id in &changes.ids {
                if !present.contains(id) {
                    s.remove(*id);
                }
            }
            for row in &rows {
                s.put(row);
            }
            tracing::debug!(changed = changes.ids.len(), "memory index caught up");
        }
        s.last_change = changes.last;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(rows: &[(MemoryId, i64, &str)]) -> Synced {
        let mut s = Synced {
            index: VectorIndex::new(2),
            by_time: BTreeMap::new(),
            sources: Vec::new(),
            last_change: 0,
            built: true,
        };
        let base = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::days(20_000);
        for &(id, minute, source) in rows {
            s.put(&VectorRow {
                id,
                created_at: base + chrono::Duration::minutes(minute),
                source: Source::new(source).expect("a valid source"),
                vector: vec![1.0, 0.0],
            });
        }
        s
    }

    #[test]
    fn conversations_follow_chains_of_turns_from_one_source() {
        // Chat turns a few minutes apart with a mail in between, a pause of
        // two hours, then more chat; a mail thread alongside.
        let ix = index(&[
            (1, 0, "chat"),
            (2, 5, "chat"),
            (3, 7, "email"),
            (4, 30, "chat"),
            (5, 50, "chat"),
            (6, 170, "chat"),
            (7, 175, "chat"),
            (8, 12, "email"),
        ]);
        let gap = chrono::Duration::minutes(30);
        let got = ix.conversations(&[5, 1, 7, 6, 3, 8], gap);
        assert_eq!(got[&1], got[&5], "1 → 2 → 4 → 5, each within 30 minutes");
        assert_eq!(got[&6], got[&7]);
        assert_ne!(got[&5], got[&6], "two hours apart: another conversation");
        assert_eq!(got[&3], got[&8], "the mail thread is its own");
        assert_ne!(got[&1], got[&3], "another source never joins");
        assert_eq!(got.len(), 6);
        // Turns further apart than SPAN_HOURS count apart even when chained.
        let long: Vec<(MemoryId, i64, &str)> = (0..40).map(|i| (100 + i, i * 20, "chat")).collect();
        let ix = index(&long);
        let got = ix.conversations(&[100, 110, 139], gap);
        assert_eq!(got[&100], got[&110], "200 minutes apart, chained");
        assert_ne!(got[&110], got[&139], "580 minutes apart");
    }
}
