//! Conversations and their running summaries.
//!
//! Shared by both SQL adapters (`#[path]` module in each): the queries are
//! the same in SQLite and PostgreSQL, written with `$N` placeholders that
//! each adapter's `sql()` renders, and `Db` is the adapter's store type.
//! Keep only what both dialects accept here; dialect differences stay in
//! the adapters' own modules.

use super::*;

#[async_trait]
impl ConversationStore for Db {
    async fn add_turns(&self, channel: &str, turns: &[Turn]) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for t in turns {
            sqlx::query(&sql(
                "INSERT INTO conversations (channel, role, content, created_at) VALUES ($1, $2, $3, $4)",
            ))
            .bind(channel)
            .bind(t.role.as_str())
            .bind(&t.content)
            .bind(t.at)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))
    }

    async fn recent_turns(&self, channel: &str, limit: i64) -> Result<Vec<Turn>, StoreError> {
        let rows: Vec<(String, String, DateTime<Utc>)> = sqlx::query_as(&sql(
            "SELECT role, content, created_at FROM conversations WHERE channel = $1 ORDER BY id DESC LIMIT $2",
        ))
        .bind(channel)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.into_iter()
            .rev()
            .map(|(role, content, at)| {
                Ok(Turn {
                    role: parse_role(&role)?,
                    content,
                    at,
                })
            })
            .collect()
    }

    async fn turns_after(
        &self,
        channel: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, Turn)>, StoreError> {
        let rows: Vec<(i64, String, String, DateTime<Utc>)> = sqlx::query_as(&sql(
            "SELECT id, role, content, created_at FROM conversations \
             WHERE channel = $1 AND id > $2 ORDER BY id DESC LIMIT $3",
        ))
        .bind(channel)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.into_iter()
            .rev()
            .map(|(id, role, content, at)| {
                Ok((
                    id,
                    Turn {
                        role: parse_role(&role)?,
                        content,
                        at,
                    },
                ))
            })
            .collect()
    }

    async fn latest_summary(&self, channel: &str) -> Result<Option<Summary>, StoreError> {
        let row: Option<(i64, String, DateTime<Utc>)> = sqlx::query_as(&sql(
            "SELECT upto, text, created_at FROM conversation_summaries \
             WHERE channel = $1 ORDER BY id DESC LIMIT 1",
        ))
        .bind(channel)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(row.map(|(upto, text, created_at)| Summary {
            upto,
            text,
            created_at,
        }))
    }

    async fn add_summary(&self, channel: &str, upto: i64, text: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(&sql(
            "INSERT INTO conversation_summaries (channel, upto, text, created_at) VALUES ($1, $2, $3, $4)",
        ))
        .bind(channel)
        .bind(upto)
        .bind(text)
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))
    }
}
