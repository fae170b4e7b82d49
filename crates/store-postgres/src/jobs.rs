//! PostgreSQL: scheduled jobs and delivered briefings.

use super::*;

#[async_trait]
impl JobStore for PgStore {
    async fn job_ensure(
        &self,
        job: &str,
        since: DateTime<Utc>,
    ) -> Result<(bool, DateTime<Utc>), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(&sql(
            "INSERT INTO job_state (job, since) VALUES ($1, $2) ON CONFLICT (job) DO NOTHING",
        ))
        .bind(job)
        .bind(since)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let row: (bool, DateTime<Utc>) =
            sqlx::query_as(&sql("SELECT paused, since FROM job_state WHERE job = $1"))
                .bind(job)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(row)
    }

    async fn job_set_paused(&self, job: &str, paused: bool) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let n = sqlx::query(&sql("UPDATE job_state SET paused = $1 WHERE job = $2"))
            .bind(paused)
            .bind(job)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected();
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(n == 1)
    }

    async fn job_claim(
        &self,
        job: &str,
        slot: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        // Serialises claims of one job across processes.
        sqlx::query("SELECT 1 FROM job_state WHERE job = $1 FOR UPDATE")
            .bind(job)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        let at = now();
        let stale = at - lease;
        let busy: i64 = sqlx::query_scalar(&sql(
            "SELECT count(*) FROM job_runs WHERE job = $1 AND outcome = 'running' \
             AND started_at >= $2 AND scheduled_for <> $3",
        ))
        .bind(job)
        .bind(stale)
        .bind(slot)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        if busy > 0 {
            return Ok(false);
        }
        let taken_over = sqlx::query(&sql(
            "UPDATE job_runs SET started_at = $1 WHERE job = $2 AND scheduled_for = $3 \
             AND outcome = 'running' AND started_at < $4",
        ))
        .bind(at)
        .bind(job)
        .bind(slot)
        .bind(stale)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected();
        let n = if taken_over == 1 {
            1
        } else {
            sqlx::query(&sql(
                "INSERT INTO job_runs (job, scheduled_for, started_at, outcome) VALUES ($1, $2, $3, 'running') \
                 ON CONFLICT (job, scheduled_for) DO NOTHING",
            ))
            .bind(job)
            .bind(slot)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected()
        };
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(n == 1)
    }

    async fn job_finish(
        &self,
        job: &str,
        slot: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(&sql(
            "UPDATE job_runs SET ended_at = $1, outcome = $2, error = $3 WHERE job = $4 AND scheduled_for = $5",
        ))
        .bind(now())
        .bind(if error.is_some() { "failed" } else { "ok" })
        .bind(error)
        .bind(job)
        .bind(slot)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))
    }

    async fn job_missed(&self, job: &str, slots: &[DateTime<Utc>]) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for slot in slots {
            sqlx::query(&sql(
                "INSERT INTO job_runs (job, scheduled_for, outcome) VALUES ($1, $2, 'missed') \
                 ON CONFLICT (job, scheduled_for) DO NOTHING",
            ))
            .bind(job)
            .bind(slot)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))
    }

    async fn job_runs(&self, job: &str, limit: i64) -> Result<Vec<JobRun>, StoreError> {
        let rows: Vec<(
            DateTime<Utc>,
            Option<DateTime<Utc>>,
            Option<DateTime<Utc>>,
            String,
            Option<String>,
        )> = sqlx::query_as(&sql(
            "SELECT scheduled_for, started_at, ended_at, outcome, error FROM job_runs \
             WHERE job = $1 ORDER BY scheduled_for DESC LIMIT $2",
        ))
        .bind(job)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .map(
                |(scheduled_for, started_at, ended_at, outcome, error)| JobRun {
                    scheduled_for,
                    started_at,
                    ended_at,
                    outcome,
                    error,
                },
            )
            .collect())
    }
}

#[async_trait]
impl BriefingStore for PgStore {
    async fn add_briefing(
        &self,
        kind: &str,
        text: &str,
        items: &[String],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let at = now();
        sqlx::query(&sql(
            "INSERT INTO briefings (kind, created_at, text) VALUES ($1, $2, $3)",
        ))
        .bind(kind)
        .bind(at)
        .bind(text)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        for item in items {
            sqlx::query(&sql(
                "INSERT INTO briefing_items (item, delivered_at) VALUES ($1, $2) \
                 ON CONFLICT (item) DO UPDATE SET delivered_at = excluded.delivered_at",
            ))
            .bind(item)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))
    }

    async fn delivered_items(
        &self,
        items: &[String],
    ) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        let mut out = Vec::new();
        for chunk in items.chunks(200) {
            let list: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let q = format!(
                "SELECT item, delivered_at FROM briefing_items WHERE item IN ({})",
                list.join(", ")
            );
            let q = sql(&q);
            let mut query = sqlx::query_as::<_, (String, DateTime<Utc>)>(&q);
            for item in chunk {
                query = query.bind(item);
            }
            out.extend(query.fetch_all(&self.pool).await.map_err(|e| self.err(e))?);
        }
        Ok(out)
    }

    async fn last_briefing(
        &self,
        kind: Option<&str>,
    ) -> Result<Option<(String, DateTime<Utc>, String)>, StoreError> {
        sqlx::query_as(&sql("SELECT kind, created_at, text FROM briefings \
             WHERE $1 IS NULL OR kind = $1 ORDER BY id DESC LIMIT 1"))
        .bind(kind)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))
    }
}
