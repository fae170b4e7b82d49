//! The memory-hygiene port (shared by both SQL adapters, `#[path]` module
//! in each). Memory times differ by dialect (integer microseconds on
//! SQLite, `timestamptz` on PostgreSQL) and so do vectors: each adapter
//! gives `mem_time` and `vector_param` for its own columns.

use super::*;
use openzero_store::memory_hygiene::{
    MemoryHygieneStore, MergeInto, MergeKind, MergeRecord, NewMerge,
};

/// Ids bound per `IN (…)` list.
const CHUNK: usize = 500;

/// `$from, $from+1, …` for `n` values.
fn marks(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn merge_row(
    id: i64,
    kind: &str,
    into_id: i64,
    method: String,
    created_at: DateTime<Utc>,
    members: Vec<MemoryId>,
) -> Result<MergeRecord, StoreError> {
    Ok(MergeRecord {
        id,
        kind: MergeKind::parse(kind).ok_or_else(|| {
            StoreError::InvalidData(format!("memory merge #{id}: unknown kind '{kind}'"))
        })?,
        into_id,
        method,
        created_at,
        members,
    })
}

type MergeHead = (i64, String, i64, String, DateTime<Utc>);

impl Db {
    async fn merge_members_in(
        &self,
        tx: &mut Transaction<'static, DbKind>,
        merge: i64,
    ) -> Result<Vec<MemoryId>, StoreError> {
        sqlx::query_scalar(&sql(
            "SELECT memory_id FROM memory_merge_members WHERE merge_id = $1 ORDER BY memory_id",
        ))
        .bind(merge)
        .fetch_all(&mut **tx)
        .await
        .map_err(|e| self.err(e))
    }
}

#[async_trait]
impl MemoryHygieneStore for Db {
    async fn merge_memories(&self, m: &NewMerge) -> Result<Option<MergeRecord>, StoreError> {
        let mut members = m.members.clone();
        members.sort_unstable();
        members.dedup();
        if members.is_empty() {
            return Ok(None);
        }
        let mut tx = self.begin().await?;
        let into_id: i64 = match &m.into {
            MergeInto::Existing(id) => {
                let shown: i64 = sqlx::query_scalar(&sql(
                    "SELECT count(*) FROM memories WHERE id = $1 AND merged_into IS NULL",
                ))
                .bind(*id)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
                if shown != 1 {
                    return Ok(None);
                }
                *id
            }
            MergeInto::New(r) => {
                let id: Option<i64> = sqlx::query_scalar(&sql(
                    "INSERT INTO memories (text, created_at, source, external_id, metadata, \
                     content_hash, model, embedding, inserted_at, reviewed_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                     ON CONFLICT (source, content_hash) DO NOTHING RETURNING id",
                ))
                .bind(&r.text)
                .bind(mem_time(r.created_at))
                .bind(r.source.as_str())
                .bind(&r.external_id)
                .bind(&r.metadata)
                .bind(r.content_hash())
                .bind(r.embedding.as_ref().map(|e| e.model.clone()))
                .bind(r.embedding.as_ref().map(|e| vector_param(&e.vector)))
                .bind(mem_time(now()))
                .bind(mem_time(m.at))
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
                match id {
                    Some(id) => id,
                    None => return Ok(None),
                }
            }
        };
        if members.contains(&into_id) {
            return Ok(None);
        }
        for id in &members {
            let n = sqlx::query(&sql(
                "UPDATE memories SET merged_into = $1, reviewed_at = $2 \
                 WHERE id = $3 AND merged_into IS NULL",
            ))
            .bind(into_id)
            .bind(mem_time(m.at))
            .bind(*id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected();
            if n != 1 {
                // Gone or already hidden: the transaction is dropped, nothing changed.
                return Ok(None);
            }
        }
        sqlx::query(&sql("UPDATE memories SET reviewed_at = $1 WHERE id = $2"))
            .bind(mem_time(m.at))
            .bind(into_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        let id: i64 = sqlx::query_scalar(&sql(
            "INSERT INTO memory_merges (kind, into_id, method, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        ))
        .bind(m.kind.as_str())
        .bind(into_id)
        .bind(&m.method)
        .bind(m.at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        for member in &members {
            sqlx::query(&sql(
                "INSERT INTO memory_merge_members (merge_id, memory_id) VALUES ($1, $2)",
            ))
            .bind(id)
            .bind(*member)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(Some(MergeRecord {
            id,
            kind: m.kind,
            into_id,
            method: m.method.clone(),
            created_at: m.at,
            members,
        }))
    }

    async fn unmerge_memories(&self, id: i64) -> Result<Option<MergeRecord>, StoreError> {
        let mut tx = self.begin().await?;
        let head: Option<MergeHead> = sqlx::query_as(&sql(
            "SELECT id, kind, into_id, method, created_at FROM memory_merges WHERE id = $1",
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let Some((id, kind, into_id, method, created_at)) = head else {
            return Ok(None);
        };
        let members = self.merge_members_in(&mut tx, id).await?;
        let record = merge_row(id, &kind, into_id, method, created_at, members)?;
        sqlx::query(&sql(
            "UPDATE memories SET merged_into = NULL WHERE merged_into = $1 \
             AND id IN (SELECT memory_id FROM memory_merge_members WHERE merge_id = $2)",
        ))
        .bind(into_id)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        sqlx::query(&sql("DELETE FROM memory_merges WHERE id = $1"))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        if record.kind == MergeKind::Summary {
            // The summary was written by this merge: it goes with it (any
            // later merge into it is undone by the same cascade).
            sqlx::query(&sql("DELETE FROM memories WHERE id = $1"))
                .bind(into_id)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(Some(record))
    }

    async fn memory_merges(&self, limit: i64) -> Result<Vec<MergeRecord>, StoreError> {
        let mut tx = self.begin().await?;
        let heads: Vec<MergeHead> = sqlx::query_as(&sql(
            "SELECT id, kind, into_id, method, created_at FROM memory_merges \
             ORDER BY id DESC LIMIT $1",
        ))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let mut out = Vec::with_capacity(heads.len());
        for (id, kind, into_id, method, created_at) in heads {
            let members = self.merge_members_in(&mut tx, id).await?;
            out.push(merge_row(id, &kind, into_id, method, created_at, members)?);
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(out)
    }

    async fn unreviewed_memories(&self, limit: i64) -> Result<Vec<Memory>, StoreError> {
        let rows = sqlx::query(&sql(&format!(
            "SELECT {MEMORY_COLUMNS} FROM memories \
             WHERE reviewed_at IS NULL AND merged_into IS NULL \
             ORDER BY created_at, id LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter().map(to_memory).collect()
    }

    async fn mark_memories_reviewed(
        &self,
        ids: &[MemoryId],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for chunk in ids.chunks(CHUNK) {
            let q = sql(&format!(
                "UPDATE memories SET reviewed_at = $1 WHERE id IN ({})",
                marks(2, chunk.len())
            ));
            let mut q = sqlx::query(&q).bind(mem_time(at));
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(&mut *tx).await.map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))
    }

    async fn reviewed_memories(&self, ids: &[MemoryId]) -> Result<Vec<MemoryId>, StoreError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            let q = sql(&format!(
                "SELECT id FROM memories WHERE reviewed_at IS NOT NULL AND id IN ({})",
                marks(1, chunk.len())
            ));
            let mut q = sqlx::query_scalar(&q);
            for id in chunk {
                q = q.bind(*id);
            }
            out.extend(
                q.fetch_all(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?
                    .into_iter()
                    .map(|id: i64| id),
            );
        }
        Ok(out)
    }
}
