//! SQLite: semantic memory.

use super::*;

#[async_trait]
impl MemoryStore for SqliteStore {
    async fn add_memories(
        &self,
        records: &[MemoryRecord],
    ) -> Result<Vec<(Memory, bool)>, StoreError> {
        // One transaction for the batch: all stored, or none and an error.
        let mut tx = self.begin().await?;
        let mut out = Vec::with_capacity(records.len());
        for m in records {
            let hash = m.content_hash();
            let inserted = sqlx::query(
            "INSERT INTO memories (text, created_at, source, external_id, metadata, content_hash, model, embedding, inserted_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, content_hash) DO NOTHING",
        )
        .bind(&m.text)
        .bind(micros(m.created_at))
        .bind(m.source.as_str())
        .bind(&m.external_id)
        .bind(&m.metadata)
        .bind(&hash)
        .bind(m.embedding.as_ref().map(|e| e.model.clone()))
        .bind(m.embedding.as_ref().map(|e| encode_vector(&e.vector)))
        .bind(micros(now()))
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected()
            == 1;
            let row = sqlx::query(&format!(
                "SELECT {MEMORY_COLUMNS} FROM memories WHERE source = ? AND content_hash = ?"
            ))
            .bind(m.source.as_str())
            .bind(&hash)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
            out.push((to_memory(&row)?, inserted));
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(out)
    }

    async fn set_embedding(&self, id: MemoryId, e: &Embedding) -> Result<(), StoreError> {
        let n = sqlx::query("UPDATE memories SET model = ?, embedding = ? WHERE id = ?")
            .bind(&e.model)
            .bind(encode_vector(&e.vector))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::Other(format!("memory #{id} does not exist")));
        }
        Ok(())
    }

    async fn memories_needing_embedding(
        &self,
        model: &str,
        limit: i64,
    ) -> Result<Vec<(MemoryId, String)>, StoreError> {
        sqlx::query_as(
            "SELECT id, text FROM memories WHERE model IS NULL OR model <> ? OR embedding IS NULL ORDER BY id LIMIT ?",
        )
        .bind(model)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))
    }

    async fn get_memories(&self, ids: &[MemoryId]) -> Result<Vec<Memory>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!("SELECT {MEMORY_COLUMNS} FROM memories WHERE id IN ({marks})");
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(&self.pool).await.map_err(|e| self.err(e))? {
                out.push(to_memory(&r)?);
            }
        }
        Ok(out)
    }

    async fn memory_vectors(
        &self,
        model: &str,
        after: MemoryId,
        limit: i64,
    ) -> Result<Vec<VectorRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, created_at, source, embedding FROM memories \
             WHERE model = ? AND embedding IS NOT NULL AND merged_into IS NULL AND id > ? ORDER BY id LIMIT ?",
        )
        .bind(model)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter().map(to_vector_row).collect()
    }

    async fn memory_vectors_of(
        &self,
        model: &str,
        ids: &[MemoryId],
    ) -> Result<Vec<VectorRow>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT id, created_at, source, embedding FROM memories \
                 WHERE model = ? AND embedding IS NOT NULL AND merged_into IS NULL AND id IN ({marks})"
            );
            let mut q = sqlx::query(&sql).bind(model);
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(&self.pool).await.map_err(|e| self.err(e))? {
                out.push(to_vector_row(&r)?);
            }
        }
        Ok(out)
    }

    async fn memory_changes(&self, after: i64) -> Result<MemoryChanges, StoreError> {
        // One statement, so one snapshot: the prune mark (first, as seq -1)
        // and the log. Every search asks this twice (vectors, words), so it
        // is one round trip to the connection's thread and takes no write lock.
        let mut rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT -1, coalesce(max(upto), 0) FROM memory_changes_pruned \
             UNION ALL SELECT seq, memory_id FROM memory_changes WHERE seq > ? ORDER BY 1",
        )
        .bind(after)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let pruned = match rows.first() {
            Some(&(-1, upto)) => upto,
            _ => {
                return Err(StoreError::InvalidData(
                    "memory change log: no prune mark".into(),
                ));
            }
        };
        rows.remove(0);
        Ok(changes(after, pruned, rows))
    }

    async fn prune_memory_changes(&self, keep: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let (last,): (i64,) = sqlx::query_as("SELECT coalesce(max(seq), 0) FROM memory_changes")
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        let upto = last - keep.max(0);
        if upto > 0 {
            sqlx::query("DELETE FROM memory_changes WHERE seq <= ?")
                .bind(upto)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            sqlx::query("UPDATE memory_changes_pruned SET upto = max(upto, ?)")
                .bind(upto)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))
    }

    async fn text_search(
        &self,
        terms: &[String],
        filters: &Filters,
        limit: i64,
    ) -> Result<Vec<MemoryId>, StoreError> {
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(ids) = self.text_search_held(terms, filters, limit).await? {
            return Ok(ids);
        }
        self.text_search_fts(terms, filters, limit).await
    }

    async fn forget_memory(&self, id: MemoryId) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM memories WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected();
        if n == 1 {
            // secure_delete zeroes the row in the new page version; the old
            // version still sits in the database file until a checkpoint
            // writes the new one over it. Forget means gone from disk now.
            let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&self.pool)
                .await
                .map_err(|e| self.err(e))?;
            if busy != 0 {
                tracing::warn!(
                    id,
                    "checkpoint after forget was blocked by a reader; it completes at the next checkpoint"
                );
            }
        }
        Ok(n == 1)
    }

    async fn list_memories(&self, after: MemoryId, limit: i64) -> Result<Vec<Memory>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {MEMORY_COLUMNS} FROM memories WHERE id > ? ORDER BY id LIMIT ?"
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter().map(to_memory).collect()
    }

    async fn memory_stats(&self, model: &str) -> Result<MemoryStats, StoreError> {
        let (total, embedded): (i64, i64) = sqlx::query_as(
            "SELECT count(*), coalesce(sum(CASE WHEN model = ? AND embedding IS NOT NULL THEN 1 ELSE 0 END), 0) FROM memories",
        )
        .bind(model)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let by_source =
            sqlx::query_as("SELECT source, count(*) FROM memories GROUP BY source ORDER BY source")
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.err(e))?;
        let (merged, unreviewed): (i64, i64) = sqlx::query_as(
            "SELECT coalesce(sum(CASE WHEN merged_into IS NOT NULL THEN 1 ELSE 0 END), 0), \
             coalesce(sum(CASE WHEN merged_into IS NULL AND reviewed_at IS NULL THEN 1 ELSE 0 END), 0) \
             FROM memories",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(MemoryStats {
            total,
            embedded,
            backlog: total - embedded,
            by_source,
            merged,
            unreviewed,
        })
    }

    async fn memories_between(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Memory>, StoreError> {
        let rows = sqlx::query(&sql(&format!(
            "SELECT {MEMORY_COLUMNS} FROM memories WHERE created_at >= $1 AND created_at < $2 \
             AND merged_into IS NULL ORDER BY created_at DESC, id DESC LIMIT $3"
        )))
        .bind(micros(from))
        .bind(micros(until))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter().map(to_memory).collect()
    }
}

impl SqliteStore {
    /// `text_search` by FTS5 itself: for terms the held postings cannot
    /// answer, and the reference they are tested against.
    pub(crate) async fn text_search_fts(
        &self,
        terms: &[String],
        filters: &Filters,
        limit: i64,
    ) -> Result<Vec<MemoryId>, StoreError> {
        // Each term quoted: FTS5 reads nothing in it as syntax.
        let expr = terms
            .iter()
            .map(|t| format!("\"{}\"", t.replace('"', "")))
            .collect::<Vec<_>>()
            .join(" OR ");
        let rows = if *filters == Filters::default() {
            // No filter: rank inside the full-text index alone. Joining every
            // match to `memories` first cost most of a hybrid search when a
            // common word matched thousands of memories.
            sqlx::query(
                "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ? \
                 ORDER BY bm25(memories_fts), rowid LIMIT ?",
            )
            .bind(expr)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
        } else {
            let sql = format!(
                "SELECT m.id FROM memories_fts f JOIN memories m ON m.id = f.rowid \
                 WHERE memories_fts MATCH ?{FILTER_SQL} ORDER BY bm25(memories_fts), m.id LIMIT ?"
            );
            bind_filters(sqlx::query(&sql).bind(expr), filters)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
        }
        .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| r.try_get::<i64, _>(0).map_err(|e| self.err(e)))
            .collect()
    }
}
