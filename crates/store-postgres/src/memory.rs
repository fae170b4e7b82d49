//! PostgreSQL: semantic memory.

use super::*;

#[async_trait]
impl MemoryStore for PgStore {
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (source, content_hash) DO NOTHING",
        )
        .bind(&m.text)
        .bind(m.created_at)
        .bind(m.source.as_str())
        .bind(&m.external_id)
        .bind(&m.metadata)
        .bind(&hash)
        .bind(m.embedding.as_ref().map(|e| e.model.clone()))
        .bind(m.embedding.as_ref().map(|e| Vector::from(e.vector.clone())))
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected()
            == 1;
            let row = sqlx::query(&format!(
                "SELECT {MEMORY_COLUMNS} FROM memories WHERE source = $1 AND content_hash = $2"
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
        let n = sqlx::query("UPDATE memories SET model = $1, embedding = $2 WHERE id = $3")
            .bind(&e.model)
            .bind(Vector::from(e.vector.clone()))
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
            "SELECT id, text FROM memories WHERE model IS NULL OR model <> $1 OR embedding IS NULL ORDER BY id LIMIT $2",
        )
        .bind(model)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))
    }

    async fn get_memories(&self, ids: &[MemoryId]) -> Result<Vec<Memory>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {MEMORY_COLUMNS} FROM memories WHERE id = ANY($1)"
        ))
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter().map(to_memory).collect()
    }

    async fn memory_vectors(
        &self,
        model: &str,
        after: MemoryId,
        limit: i64,
    ) -> Result<Vec<VectorRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, created_at, source, embedding FROM memories \
             WHERE model = $1 AND embedding IS NOT NULL AND merged_into IS NULL AND id > $2 ORDER BY id LIMIT $3",
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
        let rows = sqlx::query(
            "SELECT id, created_at, source, embedding FROM memories \
             WHERE model = $1 AND embedding IS NOT NULL AND merged_into IS NULL AND id = ANY($2)",
        )
        .bind(model)
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter().map(to_vector_row).collect()
    }

    async fn memory_changes(&self, after: i64) -> Result<MemoryChanges, StoreError> {
        // One snapshot for the log and the prune mark.
        let mut tx = self.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        let (pruned,): (i64,) =
            sqlx::query_as("SELECT coalesce(max(upto), 0) FROM memory_changes_pruned")
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        let rows: Vec<(i64, i64)> =
            sqlx::query_as("SELECT seq, memory_id FROM memory_changes WHERE seq > $1 ORDER BY seq")
                .bind(after)
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
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
            sqlx::query("DELETE FROM memory_changes WHERE seq <= $1")
                .bind(upto)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            sqlx::query("UPDATE memory_changes_pruned SET upto = greatest(upto, $1)")
                .bind(upto)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))
    }

    fn searches_vectors(&self) -> bool {
        true
    }

    async fn dense_search(
        &self,
        model: &str,
        query: &[f32],
        limit: i64,
        min_score: f32,
        filters: &Filters,
    ) -> Result<Option<Vec<(MemoryId, f32)>>, StoreError> {
        // Exact: no vector index is created, so `ORDER BY <=>` scans every
        // vector of the model (an HNSW index would trade recall for speed).
        let sql = format!(
            "SELECT id, (1 - (embedding <=> $1))::real AS score FROM memories m \
             WHERE m.model = $2 AND m.embedding IS NOT NULL AND m.merged_into IS NULL \
             AND vector_dims(m.embedding) = $3 \
             AND 1 - (m.embedding <=> $1) >= $4{} \
             ORDER BY m.embedding <=> $1, m.id LIMIT $5",
            filter_sql(6)
        );
        let q = sqlx::query(&sql)
            .bind(Vector::from(query.to_vec()))
            .bind(model)
            .bind(query.len() as i32)
            .bind(f64::from(min_score))
            .bind(limit);
        let rows = bind_filters(q, filters)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0).map_err(|e| self.err(e))?,
                    r.try_get(1).map_err(|e| self.err(e))?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()
            .map(Some)
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
        // Terms are letters and digits only; each is quoted as a lexeme.
        let query = terms
            .iter()
            .map(|t| format!("'{}'", t.replace(['\'', '\\'], "")))
            .collect::<Vec<_>>()
            .join(" | ");
        let sql = format!(
            "SELECT id FROM memories WHERE tsv @@ to_tsquery('simple', $1) AND merged_into IS NULL{} \
             ORDER BY ts_rank(tsv, to_tsquery('simple', $1)) DESC, id LIMIT $5",
            filter_sql(2)
        );
        let rows = bind_filters(sqlx::query(&sql).bind(query), filters)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| r.try_get::<i64, _>(0).map_err(|e| self.err(e)))
            .collect()
    }

    async fn forget_memory(&self, id: MemoryId) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM memories WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected();
        Ok(n == 1)
    }

    async fn list_memories(&self, after: MemoryId, limit: i64) -> Result<Vec<Memory>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {MEMORY_COLUMNS} FROM memories WHERE id > $1 ORDER BY id LIMIT $2"
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
            "SELECT count(*), count(*) FILTER (WHERE model = $1 AND embedding IS NOT NULL) FROM memories",
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
            "SELECT count(*) FILTER (WHERE merged_into IS NOT NULL), \
             count(*) FILTER (WHERE merged_into IS NULL AND reviewed_at IS NULL) FROM memories",
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
        .bind(from)
        .bind(until)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter().map(to_memory).collect()
    }
}
