//! The memory-use port (shared by both SQL adapters, `#[path]` module in
//! each; every query here is one both dialects accept).

use super::*;
use openzero_store::memory_use::MemoryUseStore;

#[async_trait]
impl MemoryUseStore for Db {
    async fn memory_used(
        &self,
        ids: &[MemoryId],
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        for id in ids {
            // A memory forgotten meanwhile is simply not recorded.
            sqlx::query(&sql("INSERT INTO memory_uses (memory_id, at, used_by) \
                 SELECT id, $1, $2 FROM memories WHERE id = $3"))
            .bind(at)
            .bind(by)
            .bind(*id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))
    }

    async fn memory_uses(
        &self,
        id: MemoryId,
        limit: i64,
    ) -> Result<Vec<(DateTime<Utc>, String)>, StoreError> {
        sqlx::query_as(&sql(
            "SELECT at, used_by FROM memory_uses WHERE memory_id = $1 ORDER BY id DESC LIMIT $2",
        ))
        .bind(id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))
    }
}
