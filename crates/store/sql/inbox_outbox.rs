//! The durable inbox of incoming events and Telegram's outbox.
//!
//! Shared by both SQL adapters (`#[path]` module in each): the queries are
//! the same in SQLite and PostgreSQL, written with `$N` placeholders that
//! each adapter's `sql()` renders, and `Db` is the adapter's store type.
//! Keep only what both dialects accept here; dialect differences stay in
//! the adapters' own modules.

use super::*;

#[async_trait]
impl InboxStore for Db {
    async fn inbox_store(&self, source: &str, events: &[Incoming]) -> Result<usize, StoreError> {
        let mut tx = self.begin().await?;
        let mut new = 0;
        for e in events {
            new += sqlx::query(&sql(
                "INSERT INTO inbox (source, external_id, position, payload, received_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source, external_id) DO NOTHING",
            ))
            .bind(source)
            .bind(&e.external_id)
            .bind(e.position)
            .bind(&e.payload)
            .bind(now())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected() as usize;
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(new)
    }

    async fn inbox_position(&self, source: &str) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar(&sql("SELECT MAX(position) FROM inbox WHERE source = $1"))
            .bind(source)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.err(e))
    }

    async fn inbox_unhandled(
        &self,
        source: &str,
        limit: i64,
    ) -> Result<Vec<InboxEvent>, StoreError> {
        let rows: Vec<(i64, String, String)> = sqlx::query_as(&sql(
            "SELECT id, external_id, payload FROM inbox WHERE source = $1 AND handled_at IS NULL \
             ORDER BY position, id LIMIT $2",
        ))
        .bind(source)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .map(|(id, external_id, payload)| InboxEvent {
                id,
                external_id,
                payload,
            })
            .collect())
    }

    async fn inbox_finish(&self, id: i64, replies: &[OutMessage]) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        // The payload is no longer needed once handled (it may hold the
        // owner's words; the conversation keeps what matters).
        let done = sqlx::query(&sql(
            "UPDATE inbox SET handled_at = $1, payload = '' WHERE id = $2 AND handled_at IS NULL",
        ))
        .bind(now())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected();
        if done == 1 {
            self.queue_in(&mut tx, replies).await?;
        }
        tx.commit().await.map_err(|e| self.err(e))
    }
}

#[async_trait]
impl OutboxStore for Db {
    async fn tg_queue(&self, messages: &[OutMessage]) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        self.queue_in(&mut tx, messages).await?;
        tx.commit().await.map_err(|e| self.err(e))
    }

    async fn tg_queue_once(&self, key: &str, messages: &[OutMessage]) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let fresh = sqlx::query(&sql(
            "INSERT INTO outbox_keys (key, created_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        ))
        .bind(key)
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected()
            == 1;
        if fresh {
            self.queue_in(&mut tx, messages).await?;
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(fresh)
    }

    async fn tg_outbox(&self, limit: i64) -> Result<Vec<Outgoing>, StoreError> {
        type Row = (
            i64,
            i64,
            String,
            Option<String>,
            i64,
            Option<chrono::DateTime<chrono::Utc>>,
        );
        let rows: Vec<Row> = sqlx::query_as(&sql(
            "SELECT id, chat_id, text, buttons, attempts, sending_at FROM telegram_outbox \
             WHERE sent_at IS NULL ORDER BY id LIMIT $1",
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .map(|(id, chat_id, text, buttons, attempts, sending)| Outgoing {
                id,
                message: OutMessage {
                    chat_id,
                    text,
                    buttons,
                },
                attempts,
                in_doubt: sending.is_some(),
            })
            .collect())
    }

    async fn tg_sending(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query(&sql(
            "UPDATE telegram_outbox SET sending_at = $1 WHERE id = $2",
        ))
        .bind(now())
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn tg_sent(&self, id: i64, message_id: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(&sql(
            "UPDATE telegram_outbox SET sent_at = $1, message_id = $2 WHERE id = $3",
        ))
        .bind(now())
        .bind(message_id)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))
    }

    async fn tg_send_failed(&self, id: i64, error: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(&sql(
            "UPDATE telegram_outbox SET attempts = attempts + 1, last_error = $1, sending_at = NULL \
             WHERE id = $2",
        ))
        .bind(error)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))
    }
}
