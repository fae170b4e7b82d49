//! The mail port: messages, watermarks and rules.
//!
//! Shared by both SQL adapters (`#[path]` module in each): every query here
//! is one both dialects accept, with `$N` placeholders the adapter's
//! `sql()` renders.

use super::*;
use openzero_core::mail::Rule;
use openzero_store::mail::{
    MailQuery, MailRow, MailStore, NewMail, NewRule, Watermark, parse_action, parse_kind,
};

const MAIL_COLUMNS: &str = "id, account, folder, key, from_addr, to_addr, subject, sent_at, \
     received_at, body, attachments, problems, action, rule, summary, delivered_at";

type MailTuple = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<chrono::DateTime<chrono::Utc>>,
    chrono::DateTime<chrono::Utc>,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<chrono::DateTime<chrono::Utc>>,
);

fn mail_row(t: MailTuple) -> Result<MailRow, StoreError> {
    let action = parse_action(t.0, &t.12)?;
    Ok(MailRow {
        id: t.0,
        account: t.1,
        folder: t.2,
        key: t.3,
        from: t.4,
        to: t.5,
        subject: t.6,
        date: t.7,
        received_at: t.8,
        body: t.9,
        attachments: t.10,
        problems: t.11,
        action,
        rule: t.13,
        summary: t.14,
        delivered_at: t.15,
    })
}

type RuleTuple = (i64, i64, String, Option<String>, String, String);

fn rule_row(t: RuleTuple) -> Result<Rule, StoreError> {
    Ok(Rule {
        id: t.0,
        position: t.1,
        sender: t.2,
        subject: t.3,
        kind: parse_kind(t.0, &t.4)?,
        action: parse_action(t.0, &t.5)?,
    })
}

/// What `mail_list` searches: sender, subject, summary and body, folded
/// to lower case here (SQLite's `LOWER` knows only ASCII; both backends
/// must find "Ünïcödé" the same way).
fn search_text(m: &NewMail) -> String {
    [
        m.from.as_str(),
        &m.subject,
        m.summary.as_deref().unwrap_or(""),
        &m.body,
    ]
    .join("\n")
    .to_lowercase()
}

#[async_trait]
impl MailStore for Db {
    async fn mail_ingest(
        &self,
        batch: &[NewMail],
        mark: Option<(&str, &str, Watermark)>,
    ) -> Result<Vec<Option<i64>>, StoreError> {
        let mut tx = self.begin().await?;
        let mut new = Vec::new();
        let at = now();
        for m in batch {
            let id: Option<i64> = sqlx::query_scalar(&sql(
                "INSERT INTO mail_messages (account, folder, uid, key, from_addr, to_addr, subject, \
                 sent_at, received_at, body, attachments, problems, action, rule_id, rule, summary, \
                 delivered_at, search) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
                 ON CONFLICT (account, key) DO NOTHING RETURNING id",
            ))
            .bind(&m.account)
            .bind(&m.folder)
            .bind(m.uid)
            .bind(&m.key)
            .bind(&m.from)
            .bind(&m.to)
            .bind(&m.subject)
            .bind(m.date)
            .bind(at)
            .bind(&m.body)
            .bind(&m.attachments)
            .bind(&m.problems)
            .bind(m.action.as_str())
            .bind(m.rule_id)
            .bind(&m.rule)
            .bind(&m.summary)
            .bind(if m.pending { None } else { Some(at) })
            .bind(search_text(m))
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
            new.push(id);
        }
        if let Some((account, folder, w)) = mark {
            sqlx::query(&sql(
                "INSERT INTO mail_watermarks (account, folder, uidvalidity, uid, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account, folder) DO UPDATE SET \
                 uidvalidity = excluded.uidvalidity, uid = excluded.uid, updated_at = excluded.updated_at",
            ))
            .bind(account)
            .bind(folder)
            .bind(w.uidvalidity)
            .bind(w.uid)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(new)
    }

    async fn mail_known(&self, account: &str, keys: &[String]) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for chunk in keys.chunks(200) {
            let list: Vec<String> = (2..=chunk.len() + 1).map(|i| format!("${i}")).collect();
            let q = sql(&format!(
                "SELECT key FROM mail_messages WHERE account = $1 AND key IN ({})",
                list.join(", ")
            ));
            let mut query = sqlx::query_scalar::<_, String>(&q).bind(account);
            for k in chunk {
                query = query.bind(k);
            }
            out.extend(query.fetch_all(&self.pool).await.map_err(|e| self.err(e))?);
        }
        Ok(out)
    }

    async fn mail_watermark(
        &self,
        account: &str,
        folder: &str,
    ) -> Result<Option<Watermark>, StoreError> {
        let row: Option<(i64, i64)> = sqlx::query_as(&sql(
            "SELECT uidvalidity, uid FROM mail_watermarks WHERE account = $1 AND folder = $2",
        ))
        .bind(account)
        .bind(folder)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(row.map(|(uidvalidity, uid)| Watermark { uidvalidity, uid }))
    }

    async fn mail_pending(&self, limit: i64) -> Result<Vec<MailRow>, StoreError> {
        let rows: Vec<MailTuple> = sqlx::query_as(&sql(&format!(
            "SELECT {MAIL_COLUMNS} FROM mail_messages WHERE delivered_at IS NULL ORDER BY id LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.into_iter().map(mail_row).collect()
    }

    async fn mail_delivered(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query(&sql(
            "UPDATE mail_messages SET delivered_at = $1 WHERE id = $2 AND delivered_at IS NULL",
        ))
        .bind(now())
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn mail_list(&self, q: &MailQuery) -> Result<Vec<MailRow>, StoreError> {
        let mut sql_text = format!("SELECT {MAIL_COLUMNS} FROM mail_messages WHERE 1 = 1");
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        if q.urgent_only {
            sql_text.push_str(" AND action = 'urgent'");
        } else if !q.include_archived {
            sql_text.push_str(" AND action <> 'archive'");
        }
        if q.since.is_some() {
            let i = next();
            sql_text.push_str(&format!(" AND COALESCE(sent_at, received_at) >= ${i}"));
        }
        for _ in &q.words {
            let i = next();
            sql_text.push_str(&format!(" AND search LIKE ${i} ESCAPE '\\'"));
        }
        let i = next();
        sql_text.push_str(&format!(
            " ORDER BY COALESCE(sent_at, received_at) DESC, id DESC LIMIT ${i}"
        ));
        let sql_text = sql(&sql_text);
        let mut query = sqlx::query_as::<_, MailTuple>(&sql_text);
        if let Some(since) = q.since {
            query = query.bind(since);
        }
        for w in &q.words {
            let escaped = w
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            query = query.bind(format!("%{escaped}%"));
        }
        let rows = query
            .bind(if q.limit > 0 { q.limit } else { 50 })
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        rows.into_iter().map(mail_row).collect()
    }

    async fn mail_get(&self, id: i64) -> Result<Option<MailRow>, StoreError> {
        let row: Option<MailTuple> = sqlx::query_as(&sql(&format!(
            "SELECT {MAIL_COLUMNS} FROM mail_messages WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        row.map(mail_row).transpose()
    }

    async fn mail_rules(&self) -> Result<Vec<Rule>, StoreError> {
        let rows: Vec<RuleTuple> = sqlx::query_as(&sql(
            "SELECT id, position, sender, subject, kind, action FROM mail_rules \
             WHERE proposed_at IS NULL ORDER BY position, id",
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.into_iter().map(rule_row).collect()
    }

    async fn mail_rule_add(&self, r: &NewRule) -> Result<Rule, StoreError> {
        let mut tx = self.begin().await?;
        let position = match r.position {
            Some(p) => {
                // Make room: rules at or after it move down one.
                sqlx::query(&sql(
                    "UPDATE mail_rules SET position = position + 1 WHERE position >= $1",
                ))
                .bind(p)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
                p
            }
            None => {
                let last: Option<i64> =
                    sqlx::query_scalar(&sql("SELECT MAX(position) FROM mail_rules"))
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(|e| self.err(e))?;
                last.map_or(1, |l| l + 1)
            }
        };
        let row: RuleTuple = sqlx::query_as(&sql(
            "INSERT INTO mail_rules (position, sender, subject, kind, action, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             RETURNING id, position, sender, subject, kind, action",
        ))
        .bind(position)
        .bind(&r.sender)
        .bind(&r.subject)
        .bind(r.kind.as_str())
        .bind(r.action.as_str())
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        rule_row(row)
    }

    async fn mail_rule_propose(&self, r: &NewRule) -> Result<Rule, StoreError> {
        let row: RuleTuple = sqlx::query_as(&sql(
            "INSERT INTO mail_rules (position, sender, subject, kind, action, created_at, proposed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) \
             RETURNING id, position, sender, subject, kind, action",
        ))
        .bind(r.position.unwrap_or(0))
        .bind(&r.sender)
        .bind(&r.subject)
        .bind(r.kind.as_str())
        .bind(r.action.as_str())
        .bind(now())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rule_row(row)
    }

    async fn mail_rules_proposed(
        &self,
    ) -> Result<Vec<(Rule, chrono::DateTime<chrono::Utc>)>, StoreError> {
        let rows: Vec<(
            i64,
            i64,
            String,
            Option<String>,
            String,
            String,
            chrono::DateTime<chrono::Utc>,
        )> = sqlx::query_as(&sql(
            "SELECT id, position, sender, subject, kind, action, proposed_at FROM mail_rules \
                 WHERE proposed_at IS NOT NULL ORDER BY id",
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.into_iter()
            .map(|(id, position, sender, subject, kind, action, at)| {
                Ok((rule_row((id, position, sender, subject, kind, action))?, at))
            })
            .collect()
    }

    async fn mail_rule_confirm(&self, id: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let last: Option<i64> = sqlx::query_scalar(&sql(
            "SELECT MAX(position) FROM mail_rules WHERE proposed_at IS NULL",
        ))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let n = sqlx::query(&sql(
            "UPDATE mail_rules SET proposed_at = NULL, position = $1 \
             WHERE id = $2 AND proposed_at IS NOT NULL",
        ))
        .bind(last.map_or(1, |l| l + 1))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected();
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(n == 1)
    }

    async fn mail_rule_remove(&self, id: i64) -> Result<bool, StoreError> {
        let n = sqlx::query(&sql("DELETE FROM mail_rules WHERE id = $1"))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected();
        Ok(n == 1)
    }
}
