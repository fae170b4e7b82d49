//! The finance port (shared by both SQL adapters, `#[path]` module in each;
//! every query here is one both dialects accept).

use std::collections::HashSet;

use super::*;
use chrono::NaiveDate;
use openzero_store::finance::{BatchRow, FinanceStore, NewTx, RuleRow, TxQuery, TxRow};

type TxTuple = (
    i64,
    i64,
    String,
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn tx_row(t: TxTuple) -> Result<TxRow, StoreError> {
    let day = NaiveDate::parse_from_str(&t.3, "%Y-%m-%d")
        .map_err(|_| StoreError::InvalidData(format!("transaction {}: bad day {:?}", t.0, t.3)))?;
    Ok(TxRow {
        id: t.0,
        batch_id: t.1,
        account: t.2,
        day,
        amount_minor: t.4,
        currency: t.5,
        payee: t.6,
        description: t.7,
        bank_id: t.8,
        category: t.9,
        category_source: t.10,
    })
}

#[async_trait]
impl FinanceStore for Db {
    async fn fin_known(&self, keys: &[String]) -> Result<HashSet<String>, StoreError> {
        let mut out = HashSet::new();
        for chunk in keys.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let q = format!(
                "SELECT dedupe_key FROM finance_transactions WHERE dedupe_key IN ({})",
                marks.join(", ")
            );
            let q = sql(&q);
            let mut query = sqlx::query_scalar::<_, String>(&q);
            for k in chunk {
                query = query.bind(k);
            }
            out.extend(query.fetch_all(&self.pool).await.map_err(|e| self.err(e))?);
        }
        Ok(out)
    }

    async fn fin_import(
        &self,
        file: &str,
        format: &str,
        rows: &[NewTx],
    ) -> Result<(i64, usize), StoreError> {
        let mut tx = self.begin().await?;
        let at = now();
        let batch: i64 = sqlx::query_scalar(&sql(
            "INSERT INTO finance_batches (file, format, imported_at) VALUES ($1, $2, $3) RETURNING id",
        ))
        .bind(file)
        .bind(format)
        .bind(at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        // Many rows per statement: one round trip per 100 rows, not per row.
        let mut added = 0usize;
        for chunk in rows.chunks(100) {
            let values: Vec<String> = (0..chunk.len())
                .map(|r| {
                    let marks: Vec<String> = (1..=12).map(|c| format!("${}", r * 12 + c)).collect();
                    format!("({})", marks.join(", "))
                })
                .collect();
            let q = sql(&format!(
                "INSERT INTO finance_transactions (batch_id, account, dedupe_key, day, amount_minor, \
                 currency, payee, description, bank_id, category, category_source, created_at) \
                 VALUES {} ON CONFLICT (dedupe_key) DO NOTHING",
                values.join(", ")
            ));
            let mut query = sqlx::query(&q);
            for r in chunk {
                query = query
                    .bind(batch)
                    .bind(&r.account)
                    .bind(&r.key)
                    .bind(r.day.format("%Y-%m-%d").to_string())
                    .bind(r.amount_minor)
                    .bind(&r.currency)
                    .bind(&r.payee)
                    .bind(&r.description)
                    .bind(&r.bank_id)
                    .bind(&r.category)
                    .bind(&r.category_source)
                    .bind(at);
            }
            added += query
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?
                .rows_affected() as usize;
        }
        sqlx::query(&sql("UPDATE finance_batches SET added = $1 WHERE id = $2"))
            .bind(added as i64)
            .bind(batch)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok((batch, added))
    }

    async fn fin_undo(&self, batch: i64) -> Result<Option<usize>, StoreError> {
        let mut tx = self.begin().await?;
        let live: Option<i64> = sqlx::query_scalar(&sql(
            "SELECT id FROM finance_batches WHERE id = $1 AND undone_at IS NULL",
        ))
        .bind(batch)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        if live.is_none() {
            return Ok(None);
        }
        let gone = sqlx::query(&sql("DELETE FROM finance_transactions WHERE batch_id = $1"))
            .bind(batch)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected() as usize;
        sqlx::query(&sql(
            "UPDATE finance_batches SET undone_at = $1 WHERE id = $2",
        ))
        .bind(now())
        .bind(batch)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(Some(gone))
    }

    async fn fin_batches(&self) -> Result<Vec<BatchRow>, StoreError> {
        let rows: Vec<(i64, String, String, DateTime<Utc>, i64, Option<DateTime<Utc>>)> =
            sqlx::query_as(&sql(
                "SELECT id, file, format, imported_at, added, undone_at FROM finance_batches ORDER BY id",
            ))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .map(
                |(id, file, format, imported_at, added, undone_at)| BatchRow {
                    id,
                    file,
                    format,
                    imported_at,
                    added,
                    undone_at,
                },
            )
            .collect())
    }

    async fn fin_list(&self, q: &TxQuery) -> Result<Vec<TxRow>, StoreError> {
        let day = |d: Option<NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string());
        let rows: Vec<TxTuple> = sqlx::query_as(&sql(
            "SELECT id, batch_id, account, day, amount_minor, currency, payee, description, bank_id, \
             category, category_source FROM finance_transactions \
             WHERE ($1 IS NULL OR day >= $1) AND ($2 IS NULL OR day <= $2) \
             AND ($3 IS NULL OR category = $3) AND ($4 = FALSE OR category IS NULL) \
             ORDER BY day DESC, id DESC LIMIT $5",
        ))
        .bind(day(q.from))
        .bind(day(q.to))
        .bind(&q.category)
        .bind(q.uncategorized)
        .bind(q.limit.unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.into_iter().map(tx_row).collect()
    }

    async fn fin_categorize(
        &self,
        id: i64,
        category: Option<&str>,
        source: &str,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(&sql(
            "UPDATE finance_transactions SET category = $1, category_source = $2 WHERE id = $3",
        ))
        .bind(category)
        .bind(category.map(|_| source))
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected();
        Ok(n > 0)
    }

    async fn fin_rules(&self) -> Result<Vec<RuleRow>, StoreError> {
        let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(&sql(
            "SELECT id, pattern, category, position FROM finance_rules ORDER BY position, id",
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .map(|(id, pattern, category, position)| RuleRow {
                id,
                pattern,
                category,
                position,
            })
            .collect())
    }

    async fn fin_rule_add(&self, pattern: &str, category: &str) -> Result<RuleRow, StoreError> {
        let (id, position): (i64, i64) = sqlx::query_as(&sql(
            "INSERT INTO finance_rules (pattern, category, position) VALUES ($1, $2, \
             (SELECT COALESCE(MAX(position), 0) + 1 FROM finance_rules)) RETURNING id, position",
        ))
        .bind(pattern)
        .bind(category)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(RuleRow {
            id,
            pattern: pattern.to_owned(),
            category: category.to_owned(),
            position,
        })
    }

    async fn fin_rule_remove(&self, id: i64) -> Result<bool, StoreError> {
        let n = sqlx::query(&sql("DELETE FROM finance_rules WHERE id = $1"))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected();
        Ok(n > 0)
    }

    async fn fin_budgets(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        sqlx::query_as(&sql(
            "SELECT category, currency, amount_minor FROM finance_budgets ORDER BY category",
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))
    }

    async fn fin_budget_set(
        &self,
        category: &str,
        currency: &str,
        amount_minor: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(&sql(
            "DELETE FROM finance_budgets WHERE category = $1 AND currency = $2",
        ))
        .bind(category)
        .bind(currency)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        if let Some(a) = amount_minor {
            sqlx::query(&sql(
                "INSERT INTO finance_budgets (category, currency, amount_minor) VALUES ($1, $2, $3)",
            ))
            .bind(category)
            .bind(currency)
            .bind(a)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))
    }
}
