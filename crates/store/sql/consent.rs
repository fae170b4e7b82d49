//! Thoughts held for consent and the disclosure log.
//!
//! Shared by both SQL adapters (`#[path]` module in each): the queries are
//! the same in SQLite and PostgreSQL, written with `$N` placeholders that
//! each adapter's `sql()` renders, and `Db` is the adapter's store type.
//! Keep only what both dialects accept here; dialect differences stay in
//! the adapters' own modules.

use super::*;

#[async_trait]
impl ConsentStore for Db {
    async fn add_thought(&self, t: &NewThought) -> Result<Thought, StoreError> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(&sql(&format!(
            "INSERT INTO thoughts (created_at, expires_at, channel, provider, model, question, disclosure) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {THOUGHT_COLUMNS}"
        )))
        .bind(t.created_at)
        .bind(t.expires_at)
        .bind(&t.channel)
        .bind(&t.provider)
        .bind(&t.model)
        .bind(&t.question)
        .bind(disclosure_json(&t.disclosure))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let thought = to_thought(&row)?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(thought)
    }

    async fn get_thought(&self, id: ThoughtId) -> Result<Option<Thought>, StoreError> {
        let row = sqlx::query(&sql(&format!(
            "SELECT {THOUGHT_COLUMNS} FROM thoughts WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        row.map(|r| to_thought(&r)).transpose()
    }

    async fn list_thoughts(&self, limit: i64) -> Result<Vec<Thought>, StoreError> {
        let rows = sqlx::query(&sql(&format!(
            "SELECT {THOUGHT_COLUMNS} FROM thoughts ORDER BY id DESC LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter().map(to_thought).collect()
    }

    async fn decide_thought(
        &self,
        id: ThoughtId,
        decision: Decision,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Decided, StoreError> {
        let mut tx = self.begin().await?;
        // A write first takes the lock (SQLite's database write lock,
        // PostgreSQL's row lock), so decisions on one thought run one at a
        // time instead of failing when both read and then both write.
        sqlx::query(&sql("UPDATE thoughts SET state = state WHERE id = $1"))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        let select = sql(&format!(
            "SELECT {THOUGHT_COLUMNS} FROM thoughts WHERE id = $1"
        ));
        let Some(row) = sqlx::query(&select)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.err(e))?
        else {
            return Ok(Decided::NotFound);
        };
        let before = to_thought(&row)?;
        let next = match decide(before.state, before.expires_at, now, decision) {
            Ok(next) => next,
            Err(DecideError::Expired) => ThoughtState::Expired,
            Err(e) => return Ok(Decided::Refused(e, Box::new(before))),
        };
        // The guard on state makes the decision atomic: of two racing, one
        // updates the row and the other sees it decided.
        let done = sqlx::query(&sql(
            "UPDATE thoughts SET state = $1, decided_at = $2, decided_by = $3 \
             WHERE id = $4 AND state = 'pending'",
        ))
        .bind(next.as_str())
        .bind(now)
        .bind(by)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected();
        let row = sqlx::query(&select)
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        let after = to_thought(&row)?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(if done == 0 {
            Decided::Refused(DecideError::AlreadyDecided(after.state), Box::new(after))
        } else if next == ThoughtState::Expired {
            Decided::Refused(DecideError::Expired, Box::new(after))
        } else {
            Decided::Done(Box::new(after))
        })
    }

    async fn finish_thought(&self, id: ThoughtId, end: &ThoughtEnd) -> Result<(), StoreError> {
        let (state, answer, error) = match end {
            ThoughtEnd::Answered(a) => ("answered", Some(a.as_str()), None),
            ThoughtEnd::Failed(e) => ("failed", None, Some(e.as_str())),
        };
        let mut tx = self.begin().await?;
        sqlx::query(&sql(
            "UPDATE thoughts SET state = $1, answer = $2, error = $3 WHERE id = $4 AND state = 'granted'",
        ))
        .bind(state)
        .bind(answer)
        .bind(error)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))
    }

    async fn add_disclosure(&self, d: &NewDisclosure) -> Result<DisclosureRecord, StoreError> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(&sql(&format!(
            "INSERT INTO disclosures (at, thought_id, provider, model, bytes, sha256, items, approved_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {DISCLOSURE_COLUMNS}"
        )))
        .bind(d.at)
        .bind(d.thought_id)
        .bind(&d.provider)
        .bind(&d.model)
        .bind(d.bytes)
        .bind(&d.sha256)
        .bind(items_json(&d.items))
        .bind(&d.approved_by)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let rec = to_disclosure(&row)?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(rec)
    }

    async fn finish_disclosure(&self, id: i64, outcome: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(&sql("UPDATE disclosures SET outcome = $1 WHERE id = $2"))
            .bind(outcome)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))
    }

    async fn list_disclosures(&self, limit: i64) -> Result<Vec<DisclosureRecord>, StoreError> {
        let rows = sqlx::query(&sql(&format!(
            "SELECT {DISCLOSURE_COLUMNS} FROM disclosures ORDER BY id DESC LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter().map(to_disclosure).collect()
    }
}
