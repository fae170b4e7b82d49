//! The calendar port: sources, calendars, their resources, snapshots.
//!
//! Shared by both SQL adapters (`#[path]` module in each): every query here
//! is one both dialects accept, with `$N` placeholders the adapter's
//! `sql()` renders.

use super::*;
use chrono::NaiveDate;
use openzero_store::calendar::{
    CalendarRow, CalendarStore, NewSource, ObjectChanges, ObjectRow, SourceKind, SourceRow,
    SyncState,
};

const SOURCE_COLUMNS: &str = "id, name, kind, url, username, created_at, synced_at, last_error";

type SourceTuple = (
    i64,
    String,
    String,
    String,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
);

fn source_row(t: SourceTuple) -> Result<SourceRow, StoreError> {
    Ok(SourceRow {
        kind: SourceKind::parse(t.0, &t.2)?,
        id: t.0,
        name: t.1,
        url: t.3,
        username: t.4,
        created_at: t.5,
        synced_at: t.6,
        last_error: t.7,
    })
}

const CALENDAR_SELECT: &str = "SELECT c.id, c.source_id, s.name, s.kind, c.href, c.name, c.color, \
     c.etag, c.last_modified, c.ctag, c.sync_token, c.remind_minutes, c.flagged_at, \
     (SELECT COUNT(*) FROM calendar_objects o WHERE o.calendar_id = c.id) \
     FROM calendars c JOIN calendar_sources s ON s.id = c.source_id";

type CalendarTuple = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<DateTime<Utc>>,
    i64,
);

fn calendar_row(t: CalendarTuple) -> Result<CalendarRow, StoreError> {
    Ok(CalendarRow {
        kind: SourceKind::parse(t.1, &t.3)?,
        id: t.0,
        source_id: t.1,
        source: t.2,
        href: t.4,
        name: t.5,
        color: t.6,
        state: SyncState {
            etag: t.7,
            last_modified: t.8,
            ctag: t.9,
            sync_token: t.10,
        },
        remind_minutes: t.11,
        flagged_at: t.12,
        objects: t.13,
    })
}

#[async_trait]
impl CalendarStore for Db {
    async fn cal_source_add(&self, s: &NewSource) -> Result<Option<SourceRow>, StoreError> {
        let row: Option<SourceTuple> = sqlx::query_as(&sql(&format!(
            "INSERT INTO calendar_sources (name, kind, url, username, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING RETURNING {SOURCE_COLUMNS}"
        )))
        .bind(&s.name)
        .bind(s.kind.as_str())
        .bind(&s.url)
        .bind(&s.username)
        .bind(now())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        row.map(source_row).transpose()
    }

    async fn cal_sources(&self) -> Result<Vec<SourceRow>, StoreError> {
        let rows: Vec<SourceTuple> = sqlx::query_as(&sql(&format!(
            "SELECT {SOURCE_COLUMNS} FROM calendar_sources ORDER BY name"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.into_iter().map(source_row).collect()
    }

    async fn cal_source_remove(&self, name: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let id: Option<i64> =
            sqlx::query_scalar(&sql("SELECT id FROM calendar_sources WHERE name = $1"))
                .bind(name)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        let Some(id) = id else {
            return Ok(false);
        };
        // Spelled out rather than left to ON DELETE CASCADE, so it holds
        // even where foreign keys are off.
        sqlx::query(&sql("DELETE FROM calendar_objects WHERE calendar_id IN \
             (SELECT id FROM calendars WHERE source_id = $1)"))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        sqlx::query(&sql("DELETE FROM calendars WHERE source_id = $1"))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        sqlx::query(&sql("DELETE FROM calendar_sources WHERE id = $1"))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(true)
    }

    async fn cal_source_synced(&self, id: i64, error: Option<&str>) -> Result<(), StoreError> {
        sqlx::query(&sql(
            "UPDATE calendar_sources SET synced_at = $1, last_error = $2 WHERE id = $3",
        ))
        .bind(now())
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn cal_calendar_upsert(
        &self,
        source_id: i64,
        href: &str,
        name: &str,
        color: Option<&str>,
    ) -> Result<CalendarRow, StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(&sql(
            "INSERT INTO calendars (source_id, href, name, color) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (source_id, href) DO UPDATE SET name = excluded.name, color = excluded.color",
        ))
        .bind(source_id)
        .bind(href)
        .bind(name)
        .bind(color)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let row: CalendarTuple = sqlx::query_as(&sql(&format!(
            "{CALENDAR_SELECT} WHERE c.source_id = $1 AND c.href = $2"
        )))
        .bind(source_id)
        .bind(href)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        calendar_row(row)
    }

    async fn cal_calendars(&self) -> Result<Vec<CalendarRow>, StoreError> {
        let rows: Vec<CalendarTuple> = sqlx::query_as(&sql(&format!(
            "{CALENDAR_SELECT} ORDER BY s.name, c.name, c.id"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.into_iter().map(calendar_row).collect()
    }

    async fn cal_calendar_remove(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for q in [
            "DELETE FROM calendar_objects WHERE calendar_id = $1",
            "DELETE FROM calendars WHERE id = $1",
        ] {
            sqlx::query(&sql(q))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn cal_apply(
        &self,
        calendar_id: i64,
        changes: &ObjectChanges,
        state: &SyncState,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let at = now();
        if changes.replace_all {
            sqlx::query(&sql("DELETE FROM calendar_objects WHERE calendar_id = $1"))
                .bind(calendar_id)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        }
        for href in &changes.removed {
            sqlx::query(&sql(
                "DELETE FROM calendar_objects WHERE calendar_id = $1 AND href = $2",
            ))
            .bind(calendar_id)
            .bind(href)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        for (href, etag, ics) in &changes.put {
            sqlx::query(&sql(
                "INSERT INTO calendar_objects (calendar_id, href, etag, ics, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (calendar_id, href) DO UPDATE SET \
                 etag = excluded.etag, ics = excluded.ics, updated_at = excluded.updated_at",
            ))
            .bind(calendar_id)
            .bind(href)
            .bind(etag)
            .bind(ics)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        sqlx::query(&sql(
            "UPDATE calendars SET etag = $1, last_modified = $2, ctag = $3, sync_token = $4 \
             WHERE id = $5",
        ))
        .bind(&state.etag)
        .bind(&state.last_modified)
        .bind(&state.ctag)
        .bind(&state.sync_token)
        .bind(calendar_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn cal_objects(&self, calendars: Option<&[i64]>) -> Result<Vec<ObjectRow>, StoreError> {
        type Row = (i64, String, Option<String>, String);
        let rows: Vec<Row> = match calendars {
            None => sqlx::query_as(
                "SELECT calendar_id, href, etag, ics FROM calendar_objects ORDER BY calendar_id, href",
            )
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?,
            Some(ids) => {
                let mut out = Vec::new();
                for id in ids {
                    let mut part: Vec<Row> = sqlx::query_as(&sql(
                        "SELECT calendar_id, href, etag, ics FROM calendar_objects \
                         WHERE calendar_id = $1 ORDER BY href",
                    ))
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| self.err(e))?;
                    out.append(&mut part);
                }
                out
            }
        };
        Ok(rows
            .into_iter()
            .map(|(calendar_id, href, etag, ics)| ObjectRow {
                calendar_id,
                href,
                etag,
                ics,
            })
            .collect())
    }

    async fn cal_etags(
        &self,
        calendar_id: i64,
    ) -> Result<Vec<(String, Option<String>)>, StoreError> {
        sqlx::query_as(&sql(
            "SELECT href, etag FROM calendar_objects WHERE calendar_id = $1 ORDER BY href",
        ))
        .bind(calendar_id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))
    }

    async fn cal_set_reminders(&self, id: i64, minutes: Option<i64>) -> Result<(), StoreError> {
        sqlx::query(&sql(
            "UPDATE calendars SET remind_minutes = $1 WHERE id = $2",
        ))
        .bind(minutes)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn cal_flag(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(&sql(
            "UPDATE calendars SET flagged_at = $1 WHERE id = $2 AND flagged_at IS NULL",
        ))
        .bind(now())
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn cal_snapshot_put(&self, day: NaiveDate, occurrences: &str) -> Result<(), StoreError> {
        sqlx::query(&sql(
            "INSERT INTO calendar_snapshots (day, taken_at, occurrences) VALUES ($1, $2, $3) \
             ON CONFLICT (day) DO UPDATE SET taken_at = excluded.taken_at, \
             occurrences = excluded.occurrences",
        ))
        .bind(day.to_string())
        .bind(now())
        .bind(occurrences)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn cal_snapshot(
        &self,
        day: NaiveDate,
    ) -> Result<Option<(DateTime<Utc>, String)>, StoreError> {
        sqlx::query_as(&sql(
            "SELECT taken_at, occurrences FROM calendar_snapshots WHERE day = $1",
        ))
        .bind(day.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))
    }
}
