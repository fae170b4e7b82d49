//! The dashboard port (shared by both SQL adapters, `#[path]` module in
//! each; every query here is one both dialects accept).

use super::*;
use openzero_store::dashboard::{
    ActiveSession, AuditRow, DashboardStore, NewWebSession, WebSession,
};

const SESSION_COLUMNS: &str = "id, via, user_agent, created_at, last_seen_at, expires_at";

type SessionDb = (
    i64,
    String,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    DateTime<Utc>,
);

fn session((id, via, user_agent, created_at, last_seen_at, expires_at): SessionDb) -> WebSession {
    WebSession {
        id,
        via,
        user_agent,
        created_at,
        last_seen_at,
        expires_at,
    }
}

#[async_trait]
impl DashboardStore for Db {
    async fn web_password(&self) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> =
            sqlx::query_as(&sql("SELECT password_hash FROM web_auth WHERE id = 1"))
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.err(e))?;
        Ok(row.map(|(h,)| h))
    }

    async fn web_password_set(&self, hash: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(&sql(
            "INSERT INTO web_auth (id, password_hash, updated_at) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash, \
             updated_at = excluded.updated_at",
        ))
        .bind(hash)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        sqlx::query(&sql(
            "UPDATE web_sessions SET revoked_at = $1 WHERE revoked_at IS NULL",
        ))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))
    }

    async fn web_session_add(&self, s: &NewWebSession<'_>) -> Result<WebSession, StoreError> {
        let row: SessionDb = sqlx::query_as(&sql(&format!(
            "INSERT INTO web_sessions (token_hash, csrf, via, user_agent, created_at, \
             last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             RETURNING {SESSION_COLUMNS}"
        )))
        .bind(s.token_hash)
        .bind(s.csrf)
        .bind(s.via)
        .bind(s.user_agent)
        .bind(s.now)
        .bind(s.now)
        .bind(s.expires_at)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(session(row))
    }

    async fn web_session_get(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ActiveSession>, StoreError> {
        let row: Option<(
            i64,
            String,
            String,
            DateTime<Utc>,
            DateTime<Utc>,
            DateTime<Utc>,
            String,
        )> = sqlx::query_as(&sql(&format!(
            "SELECT {SESSION_COLUMNS}, csrf FROM web_sessions \
                 WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2"
        )))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let Some((id, via, ua, created, seen, expires, csrf)) = row else {
            return Ok(None);
        };
        // Marked seen once a minute at most: a page view is not a write.
        let seen = if now - seen >= chrono::Duration::minutes(1) {
            sqlx::query(&sql(
                "UPDATE web_sessions SET last_seen_at = $1 WHERE id = $2",
            ))
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
            now
        } else {
            seen
        };
        Ok(Some(ActiveSession {
            session: session((id, via, ua, created, seen, expires)),
            csrf,
        }))
    }

    async fn web_sessions(&self, now: DateTime<Utc>) -> Result<Vec<WebSession>, StoreError> {
        let rows: Vec<SessionDb> = sqlx::query_as(&sql(&format!(
            "SELECT {SESSION_COLUMNS} FROM web_sessions \
             WHERE revoked_at IS NULL AND expires_at > $1 ORDER BY id DESC"
        )))
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows.into_iter().map(session).collect())
    }

    async fn web_session_revoke(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let done = sqlx::query(&sql("UPDATE web_sessions SET revoked_at = $1 \
             WHERE id = $2 AND revoked_at IS NULL AND expires_at > $3"))
        .bind(now)
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn web_login_failed(&self, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(&sql("INSERT INTO web_login_failures (at) VALUES ($1)"))
            .bind(at)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn web_login_failures(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, StoreError> {
        let rows: Vec<(DateTime<Utc>,)> = sqlx::query_as(&sql(
            "SELECT at FROM web_login_failures WHERE at >= $1 ORDER BY at, id",
        ))
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows.into_iter().map(|(a,)| a).collect())
    }

    async fn web_link_add(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(&sql(
            "INSERT INTO web_login_links (token_hash, created_at, expires_at) VALUES ($1, $2, $3)",
        ))
        .bind(token_hash)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn web_link_take(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(&sql("UPDATE web_login_links SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $3"))
        .bind(now)
        .bind(token_hash)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn web_audit_add(
        &self,
        session_id: Option<i64>,
        action: &str,
        detail: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(&sql(
            "INSERT INTO web_audit (at, session_id, action, detail) VALUES ($1, $2, $3, $4)",
        ))
        .bind(at)
        .bind(session_id)
        .bind(action)
        .bind(detail)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn web_prune(&self, before: DateTime<Utc>) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for q in [
            "DELETE FROM web_sessions WHERE expires_at < $1 OR revoked_at < $1",
            "DELETE FROM web_login_links WHERE expires_at < $1 OR used_at < $1",
            "DELETE FROM web_login_failures WHERE at < $1",
        ] {
            // SQLite's `?` are bound once per use; PostgreSQL's `$1` once.
            let rendered = sql(q);
            let uses = rendered.matches('?').count().max(1);
            let mut query = sqlx::query(&rendered);
            for _ in 0..uses {
                query = query.bind(before);
            }
            query.execute(&mut *tx).await.map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))
    }

    async fn web_audit(&self, limit: i64) -> Result<Vec<AuditRow>, StoreError> {
        let rows: Vec<(i64, DateTime<Utc>, Option<i64>, String, String)> = sqlx::query_as(&sql(
            "SELECT id, at, session_id, action, detail FROM web_audit ORDER BY id DESC LIMIT $1",
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .map(|(id, at, session_id, action, detail)| AuditRow {
                id,
                at,
                session_id,
                action,
                detail,
            })
            .collect())
    }
}
