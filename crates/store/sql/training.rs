//! The training port (shared by both SQL adapters, `#[path]` module in
//! each; every query here is one both dialects accept).

use super::*;
use openzero_store::training::{ActivityRow, NewActivity, TrainingStore};

const COLUMNS: &str = "id, source, external_id, sport, name, start_at, elapsed_s, moving_s, \
     distance_m, avg_hr, trimp, efficiency, imported_at";

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    source: String,
    external_id: String,
    sport: String,
    name: Option<String>,
    start_at: DateTime<Utc>,
    elapsed_s: f64,
    moving_s: f64,
    distance_m: f64,
    avg_hr: Option<f64>,
    trimp: Option<f64>,
    efficiency: Option<f64>,
    imported_at: DateTime<Utc>,
}

impl From<Row> for ActivityRow {
    fn from(r: Row) -> Self {
        ActivityRow {
            id: r.id,
            source: r.source,
            external_id: r.external_id,
            sport: r.sport,
            name: r.name,
            start_at: r.start_at,
            elapsed_s: r.elapsed_s,
            moving_s: r.moving_s,
            distance_m: r.distance_m,
            avg_hr: r.avg_hr,
            trimp: r.trimp,
            efficiency: r.efficiency,
            imported_at: r.imported_at,
        }
    }
}

#[async_trait]
impl TrainingStore for Db {
    async fn activity_add(
        &self,
        a: &NewActivity,
        now: DateTime<Utc>,
    ) -> Result<Option<ActivityRow>, StoreError> {
        let row: Option<Row> = sqlx::query_as(&sql(&format!(
            "INSERT INTO activities (source, external_id, sport, name, start_at, elapsed_s, \
             moving_s, distance_m, avg_hr, trimp, efficiency, samples, laps, imported_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (source, external_id) DO NOTHING RETURNING {COLUMNS}"
        )))
        .bind(&a.source)
        .bind(&a.external_id)
        .bind(&a.sport)
        .bind(&a.name)
        // Stored times are microsecond UTC on both backends (PostgreSQL
        // keeps no finer), so a restore elsewhere reads the same.
        .bind(chrono::SubsecRound::trunc_subsecs(a.start_at, 6))
        .bind(a.elapsed_s)
        .bind(a.moving_s)
        .bind(a.distance_m)
        .bind(a.avg_hr)
        .bind(a.trimp)
        .bind(a.efficiency)
        .bind(&a.samples)
        .bind(&a.laps)
        .bind(chrono::SubsecRound::trunc_subsecs(now, 6))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(row.map(Into::into))
    }

    async fn activities(&self, limit: i64) -> Result<Vec<ActivityRow>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(&sql(&format!(
            "SELECT {COLUMNS} FROM activities ORDER BY start_at DESC, id DESC LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn activity_find(
        &self,
        source: &str,
        external_id: &str,
    ) -> Result<Option<ActivityRow>, StoreError> {
        let row: Option<Row> = sqlx::query_as(&sql(&format!(
            "SELECT {COLUMNS} FROM activities WHERE source = $1 AND external_id = $2"
        )))
        .bind(source)
        .bind(external_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(row.map(Into::into))
    }

    async fn activity_rename(
        &self,
        source: &str,
        external_id: &str,
        name: Option<&str>,
        sport: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(&sql(
            "UPDATE activities SET name = COALESCE($3, name), sport = COALESCE($4, sport) \
             WHERE source = $1 AND external_id = $2",
        ))
        .bind(source)
        .bind(external_id)
        .bind(name)
        .bind(sport)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(done.rows_affected() > 0)
    }

    async fn activity_set_load(&self, id: i64, trimp: Option<f64>) -> Result<bool, StoreError> {
        let done = sqlx::query(&sql("UPDATE activities SET trimp = $2 WHERE id = $1"))
            .bind(id)
            .bind(trimp)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(done.rows_affected() > 0)
    }

    async fn activity_remove(&self, source: &str, external_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(&sql(
            "DELETE FROM activities WHERE source = $1 AND external_id = $2",
        ))
        .bind(source)
        .bind(external_id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(done.rows_affected() > 0)
    }

    async fn activity_get(
        &self,
        id: i64,
    ) -> Result<Option<(ActivityRow, String, String)>, StoreError> {
        let row: Option<Row> = sqlx::query_as(&sql(&format!(
            "SELECT {COLUMNS} FROM activities WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let Some(row) = row else { return Ok(None) };
        let (samples, laps): (String, String) =
            sqlx::query_as(&sql("SELECT samples, laps FROM activities WHERE id = $1"))
                .bind(id)
                .fetch_one(&self.pool)
                .await
                .map_err(|e| self.err(e))?;
        Ok(Some((row.into(), samples, laps)))
    }
}
