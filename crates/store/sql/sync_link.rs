//! The sync-links port (shared by both SQL adapters, `#[path]` module in
//! each; every query here is one both dialects accept).

use super::*;
use openzero_store::sync_link::{SyncLink, SyncLinkStore};

#[async_trait]
impl SyncLinkStore for Db {
    async fn sync_links(&self, service: &str, kind: &str) -> Result<Vec<SyncLink>, StoreError> {
        let rows: Vec<(String, i64, String, String)> = sqlx::query_as(&sql(
            "SELECT kind, local_id, remote_id, base FROM sync_links \
             WHERE service = $1 AND kind = $2 ORDER BY local_id",
        ))
        .bind(service)
        .bind(kind)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .map(|(kind, local_id, remote_id, base)| SyncLink {
                kind,
                local_id,
                remote_id,
                base,
            })
            .collect())
    }

    async fn sync_link_put(&self, service: &str, link: &SyncLink) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(&sql(
            "DELETE FROM sync_links WHERE service = $1 AND kind = $2 \
             AND (local_id = $3 OR remote_id = $4)",
        ))
        .bind(service)
        .bind(&link.kind)
        .bind(link.local_id)
        .bind(&link.remote_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        sqlx::query(&sql(
            "INSERT INTO sync_links (service, kind, local_id, remote_id, base) \
             VALUES ($1, $2, $3, $4, $5)",
        ))
        .bind(service)
        .bind(&link.kind)
        .bind(link.local_id)
        .bind(&link.remote_id)
        .bind(&link.base)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))
    }

    async fn sync_link_forget(
        &self,
        service: &str,
        kind: &str,
        local_id: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(&sql(
            "DELETE FROM sync_links WHERE service = $1 AND kind = $2 AND local_id = $3",
        ))
        .bind(service)
        .bind(kind)
        .bind(local_id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn boards_stamp(&self) -> Result<String, StoreError> {
        let counts: (i64, i64, i64) = sqlx::query_as(&sql(
            "SELECT (SELECT COUNT(*) FROM cards), (SELECT COUNT(*) FROM board_lists), \
             (SELECT COUNT(*) FROM boards)",
        ))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let last: Option<DateTime<Utc>> = sqlx::query_scalar(&sql(
            "SELECT updated_at FROM cards ORDER BY updated_at DESC LIMIT 1",
        ))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let names: Vec<String> =
            sqlx::query_scalar(&sql("SELECT name FROM board_lists ORDER BY id"))
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.err(e))?;
        let boards: Vec<(String, bool)> =
            sqlx::query_as(&sql("SELECT name, archived FROM boards ORDER BY id"))
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.err(e))?;
        Ok(format!(
            "{counts:?} {last:?} {} {boards:?}",
            names.join("\u{1f}")
        ))
    }
}
