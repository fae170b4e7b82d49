//! PostgreSQL storage adapter: the server option, selected by a
//! `postgres://` database URL. Same schema and behaviour as SQLite, held
//! equal by the shared conformance suite.
//!
//! **Invariants:** the password in the URL never appears in errors, logs or
//! `Debug`; only this crate knows PostgreSQL's SQLSTATE codes.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use openzero_core::agent::Turn;
use openzero_core::consent::{DecideError, Decision, ThoughtState, decide};
use openzero_core::memory::{Filters, Memory, MemoryId, Source};
use openzero_core::{NewProject, Project, ProjectId, ProjectPatch};
use openzero_store::JobRun;
use openzero_store::{
    Backend, Decided, DisclosureRecord, Embedding, MemoryChanges, MemoryRecord, MemoryStats,
    NewDisclosure, NewThought, OutMessage, Outgoing, ProjectRow, Removed, Store, StoreError,
    Summary, Thought, ThoughtEnd, ThoughtId, ThoughtRow, VectorRow, changes, disclosure_json,
    items_json, now, parse_items, parse_role,
};
use pgvector::Vector;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, PgConnection, Postgres, Row, Transaction};

#[cfg(feature = "testing")]
#[path = "tests/testing.rs"]
pub mod testing;

/// How long to wait for the server before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A store in a PostgreSQL database.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    target: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

const PROJECT_COLUMNS: &str = "id, name, parent_id, status, priority::BIGINT AS priority, domain, progress::BIGINT AS progress, description, created_at, updated_at, last_reviewed_at";

impl PgStore {
    /// Creates database `name` on the server of `admin_url` (a role allowed
    /// to create databases) and returns the URL of the new database. For
    /// benchmarks; `name` must be a plain identifier.
    pub async fn create_database(admin_url: &str, name: &str) -> Result<String, StoreError> {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(StoreError::Other(format!(
                "not a plain database name: {name}"
            )));
        }
        let target = strip_url(admin_url);
        let mut conn = PgConnection::connect(admin_url)
            .await
            .map_err(|e| map_err(&target, e))?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .map_err(|e| map_err(&target, e))?;
        conn.close().await.ok();
        let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
        Ok(format!("{base}/{name}"))
    }

    /// Drops database `name` (made by [`PgStore::create_database`]).
    pub async fn drop_database(admin_url: &str, name: &str) -> Result<(), StoreError> {
        let target = strip_url(admin_url);
        let mut conn = PgConnection::connect(admin_url)
            .await
            .map_err(|e| map_err(&target, e))?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await
            .map_err(|e| map_err(&target, e))?;
        conn.close().await.ok();
        Ok(())
    }

    /// Connects to `url` (`postgres://user:pass@host:port/db`) and brings the
    /// schema up to date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let opts = PgConnectOptions::from_str(url).map_err(|e| StoreError::Unreachable {
            target: "DATABASE_URL".into(),
            detail: strip_url(&e.to_string()),
            hint: "expected postgres://USER:PASSWORD@HOST:PORT/DATABASE",
        })?;
        let target = format!(
            "postgres://{}@{}:{}/{}",
            opts.get_username(),
            opts.get_host(),
            opts.get_port(),
            opts.get_database().unwrap_or(opts.get_username())
        );
        let opts = opts.application_name("openzero");
        // One direct connection first: the pool retries refused connections
        // until its timeout, which would hide the real cause behind a delay.
        let probe = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&opts))
            .await
            .map_err(|_| StoreError::Unreachable {
                target: target.clone(),
                detail: format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
                hint: "is PostgreSQL running and reachable? check the host and port in DATABASE_URL",
            })?
            .map_err(|e| map_err(&target, e))?;
        probe.close().await.ok();
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(opts)
            .await
            .map_err(|e| map_err(&target, e))?;
        let store = Self { pool, target };
        store.migrate().await?;
        tracing::debug!(target = %store.target, "postgres store open");
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::VersionMissing(found) => StoreError::TooNew {
                target: self.target.clone(),
                found,
                known: MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0),
            },
            sqlx::migrate::MigrateError::Execute(inner) => self.err(inner),
            other => StoreError::Migration {
                target: self.target.clone(),
                detail: with_pgvector_hint(other.to_string()),
            },
        })
    }

    fn err(&self, e: sqlx::Error) -> StoreError {
        map_err(&self.target, e)
    }

    /// Queues messages for Telegram inside `tx` (the outbox worker sends them).
    async fn queue_in(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        messages: &[OutMessage],
    ) -> Result<(), StoreError> {
        for m in messages {
            sqlx::query(&sql(
                "INSERT INTO telegram_outbox (chat_id, text, buttons, created_at) VALUES ($1, $2, $3, $4)",
            ))
            .bind(m.chat_id)
            .bind(&m.text)
            .bind(&m.buttons)
            .bind(now())
            .execute(&mut **tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    async fn fetch_in(
        tx: &mut Transaction<'_, Postgres>,
        id: ProjectId,
        lock: bool,
    ) -> Result<Option<ProjectRow>, sqlx::Error> {
        let lock = if lock { " FOR UPDATE" } else { "" };
        let row = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE id = $1{lock}"
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
        row.map(|r| to_row(&r)).transpose()
    }
}

/// Error texts from URL parsing may echo the URL; never let a password through.
fn strip_url(s: &str) -> String {
    match (s.find("://"), s.rfind('@')) {
        (Some(a), Some(b)) if b > a => format!("{}://…{}", &s[..a], &s[b..]),
        _ => s.to_owned(),
    }
}

const MEMORY_COLUMNS: &str = "id, text, created_at, source, external_id, metadata, model";

fn to_vector_row(r: &PgRow) -> Result<VectorRow, StoreError> {
    let get = |e: sqlx::Error| StoreError::InvalidData(format!("vector row: {e}"));
    let id: i64 = r.try_get("id").map_err(get)?;
    let source: String = r.try_get("source").map_err(get)?;
    let vector: Vector = r.try_get("embedding").map_err(get)?;
    Ok(VectorRow {
        id,
        created_at: r.try_get("created_at").map_err(get)?,
        source: Source::new(&source)
            .map_err(|e| StoreError::InvalidData(format!("memory #{id}: {e}")))?,
        vector: vector.to_vec(),
    })
}

fn to_memory(r: &PgRow) -> Result<Memory, StoreError> {
    let get = |e: sqlx::Error| StoreError::InvalidData(format!("memory row: {e}"));
    let id: i64 = r.try_get("id").map_err(get)?;
    let source: String = r.try_get("source").map_err(get)?;
    Ok(Memory {
        id,
        text: r.try_get("text").map_err(get)?,
        created_at: r.try_get("created_at").map_err(get)?,
        source: Source::new(&source)
            .map_err(|e| StoreError::InvalidData(format!("memory #{id}: {e}")))?,
        external_id: r.try_get("external_id").map_err(get)?,
        metadata: r.try_get("metadata").map_err(get)?,
        model: r.try_get("model").map_err(get)?,
    })
}

/// Filter clauses using parameters `$n`, `$n+1`, `$n+2` (since, until, source).
fn filter_sql(n: usize) -> String {
    format!(
        " AND (${a}::timestamptz IS NULL OR created_at >= ${a}) AND (${b}::timestamptz IS NULL OR created_at <= ${b}) AND (${c}::text IS NULL OR source = ${c})",
        a = n,
        b = n + 1,
        c = n + 2
    )
}

fn bind_filters<'q>(
    q: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    f: &Filters,
) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
    q.bind(f.since)
        .bind(f.until)
        .bind(f.source.as_ref().map(|s| s.as_str().to_owned()))
}

fn to_row(r: &PgRow) -> Result<ProjectRow, sqlx::Error> {
    Ok(ProjectRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        parent_id: r.try_get("parent_id")?,
        status: r.try_get("status")?,
        priority: r.try_get("priority")?,
        domain: r.try_get("domain")?,
        progress: r.try_get("progress")?,
        description: r.try_get("description")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        last_reviewed_at: r.try_get("last_reviewed_at")?,
    })
}

/// Adds what to do when the error is about the pgvector extension.
fn with_pgvector_hint(detail: String) -> String {
    if detail.contains("extension \"vector\"") {
        format!(
            "{detail}. Memory search on PostgreSQL needs the pgvector extension: install it \
             (Debian: apt install postgresql-<version>-pgvector) and have a superuser run \
             `CREATE EXTENSION vector;` in this database, or use the embedded SQLite store"
        )
    } else {
        detail
    }
}

/// Turns a PostgreSQL error into one the owner can act on.
fn map_err(target: &str, e: sqlx::Error) -> StoreError {
    let target = target.to_owned();
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let detail = db.message().to_owned();
            if detail.contains("extension \"vector\"") {
                return StoreError::Migration {
                    target,
                    detail: with_pgvector_hint(detail),
                };
            }
            match code.as_str() {
                "28P01" | "28000" => StoreError::Auth { target, detail },
                "3D000" => StoreError::Unreachable {
                    target,
                    detail,
                    hint: "create the database first (createdb) or fix its name in DATABASE_URL",
                },
                "53100" => StoreError::DiskFull { target },
                "25006" => StoreError::ReadOnly { target, detail },
                "57P03" | "57P01" | "53300" => StoreError::Unreachable {
                    target,
                    detail,
                    hint: "the server is starting, stopping or full; retry shortly",
                },
                _ => StoreError::Other(format!("{detail} (SQLSTATE {code})")),
            }
        }
        sqlx::Error::Io(io) => StoreError::Unreachable {
            target,
            detail: io.to_string(),
            hint: "is PostgreSQL running? check the host and port in DATABASE_URL",
        },
        sqlx::Error::Tls(t) => StoreError::Unreachable {
            target,
            detail: format!("TLS: {t}"),
            hint: "check sslmode in DATABASE_URL",
        },
        sqlx::Error::PoolTimedOut => StoreError::Unreachable {
            target,
            detail: "timed out after 10 s".into(),
            hint: "is PostgreSQL running and reachable? check the host and port in DATABASE_URL",
        },
        sqlx::Error::Migrate(m) => match *m {
            sqlx::migrate::MigrateError::Execute(inner) => map_err(&target, inner),
            other => StoreError::Migration {
                target,
                detail: other.to_string(),
            },
        },
        other => StoreError::Other(strip_url(&other.to_string())),
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn target(&self) -> String {
        self.target.clone()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT count(*) FROM projects")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    async fn schema_version(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.err(e))
    }

    async fn list_projects(&self) -> Result<Vec<Project>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| to_row(r).map_err(|e| self.err(e))?.try_into())
            .collect()
    }

    async fn get_project(&self, id: ProjectId) -> Result<Option<Project>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        row.map(|r| to_row(&r).map_err(|e| self.err(e))?.try_into())
            .transpose()
    }

    async fn create_project(&self, p: &NewProject) -> Result<Project, StoreError> {
        let t = now();
        // An explicit transaction: with a bare INSERT ... RETURNING, the
        // implicit commit happens after the row is read, and a failure there
        // (disk full) would be lost, reporting success for unsaved data.
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        let row = sqlx::query(&format!(
            "INSERT INTO projects (name, parent_id, status, priority, domain, progress, description, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {PROJECT_COLUMNS}"
        ))
        .bind(&p.name)
        .bind(p.parent_id)
        .bind(p.status.as_str())
        .bind(i16::from(p.priority.get()))
        .bind(p.domain.as_str())
        .bind(i16::from(p.progress.get()))
        .bind(&p.description)
        .bind(t)
        .bind(t)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        to_row(&row).map_err(|e| self.err(e))?.try_into()
    }

    async fn update_project(
        &self,
        id: ProjectId,
        patch: &ProjectPatch,
    ) -> Result<Project, StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        let current: Project = Self::fetch_in(&mut tx, id, true)
            .await
            .map_err(|e| self.err(e))?
            .ok_or(StoreError::ProjectNotFound(id))?
            .try_into()?;
        let next = patch.apply(&current);
        let row = sqlx::query(&format!(
            "UPDATE projects SET name = $1, parent_id = $2, status = $3, priority = $4, domain = $5, progress = $6, \
             description = $7, updated_at = $8 WHERE id = $9 RETURNING {PROJECT_COLUMNS}"
        ))
        .bind(&next.name)
        .bind(next.parent_id)
        .bind(next.status.as_str())
        .bind(i16::from(next.priority.get()))
        .bind(next.domain.as_str())
        .bind(i16::from(next.progress.get()))
        .bind(&next.description)
        .bind(now())
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        to_row(&row).map_err(|e| self.err(e))?.try_into()
    }

    async fn remove_project(&self, id: ProjectId) -> Result<Removed, StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        let project: Project = Self::fetch_in(&mut tx, id, true)
            .await
            .map_err(|e| self.err(e))?
            .ok_or(StoreError::ProjectNotFound(id))?
            .try_into()?;
        let moved =
            sqlx::query("UPDATE projects SET parent_id = $1, updated_at = $2 WHERE parent_id = $3")
                .bind(project.parent_id)
                .bind(now())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?
                .rows_affected();
        sqlx::query("DELETE FROM projects WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(Removed {
            project,
            children_moved: moved,
        })
    }

    async fn mark_reviewed(&self, id: ProjectId, at: DateTime<Utc>) -> Result<(), StoreError> {
        let n = sqlx::query("UPDATE projects SET last_reviewed_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::ProjectNotFound(id));
        }
        Ok(())
    }

    async fn get_preference(&self, key: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT value FROM preferences WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.err(e))
    }

    async fn set_preference(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO preferences (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value)
        .bind(now())
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(|e| self.err(e))
    }

    async fn list_preferences(&self) -> Result<Vec<(String, String)>, StoreError> {
        sqlx::query_as("SELECT key, value FROM preferences ORDER BY key")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))
    }

    async fn add_memories(
        &self,
        records: &[MemoryRecord],
    ) -> Result<Vec<(Memory, bool)>, StoreError> {
        // One transaction for the batch: all stored, or none and an error.
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        let mut out = Vec::with_capacity(records.len());
        for m in records {
            let hash = m.content_hash();
            let inserted = sqlx::query(
            "INSERT INTO memories (text, created_at, source, external_id, metadata, content_hash, model, embedding, inserted_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (source, content_hash) DO NOTHING",
        )
        .bind(&m.text)
        .bind(m.created_at)
        .bind(m.source.as_str())
        .bind(&m.external_id)
        .bind(&m.metadata)
        .bind(&hash)
        .bind(m.embedding.as_ref().map(|e| e.model.clone()))
        .bind(m.embedding.as_ref().map(|e| Vector::from(e.vector.clone())))
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected()
            == 1;
            let row = sqlx::query(&format!(
                "SELECT {MEMORY_COLUMNS} FROM memories WHERE source = $1 AND content_hash = $2"
            ))
            .bind(m.source.as_str())
            .bind(&hash)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
            out.push((to_memory(&row)?, inserted));
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(out)
    }

    async fn set_embedding(&self, id: MemoryId, e: &Embedding) -> Result<(), StoreError> {
        let n = sqlx::query("UPDATE memories SET model = $1, embedding = $2 WHERE id = $3")
            .bind(&e.model)
            .bind(Vector::from(e.vector.clone()))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::Other(format!("memory #{id} does not exist")));
        }
        Ok(())
    }

    async fn memories_needing_embedding(
        &self,
        model: &str,
        limit: i64,
    ) -> Result<Vec<(MemoryId, String)>, StoreError> {
        sqlx::query_as(
            "SELECT id, text FROM memories WHERE model IS NULL OR model <> $1 OR embedding IS NULL ORDER BY id LIMIT $2",
        )
        .bind(model)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))
    }

    async fn get_memories(&self, ids: &[MemoryId]) -> Result<Vec<Memory>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {MEMORY_COLUMNS} FROM memories WHERE id = ANY($1)"
        ))
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter().map(to_memory).collect()
    }

    async fn memory_vectors(
        &self,
        model: &str,
        after: MemoryId,
        limit: i64,
    ) -> Result<Vec<VectorRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, created_at, source, embedding FROM memories \
             WHERE model = $1 AND embedding IS NOT NULL AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(model)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter().map(to_vector_row).collect()
    }

    async fn memory_vectors_of(
        &self,
        model: &str,
        ids: &[MemoryId],
    ) -> Result<Vec<VectorRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, created_at, source, embedding FROM memories \
             WHERE model = $1 AND embedding IS NOT NULL AND id = ANY($2)",
        )
        .bind(model)
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter().map(to_vector_row).collect()
    }

    async fn memory_changes(&self, after: i64) -> Result<MemoryChanges, StoreError> {
        // One snapshot for the log and the prune mark.
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        let (pruned,): (i64,) =
            sqlx::query_as("SELECT coalesce(max(upto), 0) FROM memory_changes_pruned")
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        let rows: Vec<(i64, i64)> =
            sqlx::query_as("SELECT seq, memory_id FROM memory_changes WHERE seq > $1 ORDER BY seq")
                .bind(after)
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(changes(after, pruned, rows))
    }

    async fn prune_memory_changes(&self, keep: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        let (last,): (i64,) = sqlx::query_as("SELECT coalesce(max(seq), 0) FROM memory_changes")
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        let upto = last - keep.max(0);
        if upto > 0 {
            sqlx::query("DELETE FROM memory_changes WHERE seq <= $1")
                .bind(upto)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            sqlx::query("UPDATE memory_changes_pruned SET upto = greatest(upto, $1)")
                .bind(upto)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))
    }

    fn searches_vectors(&self) -> bool {
        true
    }

    async fn dense_search(
        &self,
        model: &str,
        query: &[f32],
        limit: i64,
        min_score: f32,
        filters: &Filters,
    ) -> Result<Option<Vec<(MemoryId, f32)>>, StoreError> {
        // Exact: no vector index is created, so `ORDER BY <=>` scans every
        // vector of the model (an HNSW index would trade recall for speed).
        let sql = format!(
            "SELECT id, (1 - (embedding <=> $1))::real AS score FROM memories m \
             WHERE m.model = $2 AND m.embedding IS NOT NULL AND vector_dims(m.embedding) = $3 \
             AND 1 - (m.embedding <=> $1) >= $4{} \
             ORDER BY m.embedding <=> $1, m.id LIMIT $5",
            filter_sql(6)
        );
        let q = sqlx::query(&sql)
            .bind(Vector::from(query.to_vec()))
            .bind(model)
            .bind(query.len() as i32)
            .bind(f64::from(min_score))
            .bind(limit);
        let rows = bind_filters(q, filters)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0).map_err(|e| self.err(e))?,
                    r.try_get(1).map_err(|e| self.err(e))?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()
            .map(Some)
    }

    async fn text_search(
        &self,
        terms: &[String],
        filters: &Filters,
        limit: i64,
    ) -> Result<Vec<MemoryId>, StoreError> {
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        // Terms are letters and digits only; each is quoted as a lexeme.
        let query = terms
            .iter()
            .map(|t| format!("'{}'", t.replace(['\'', '\\'], "")))
            .collect::<Vec<_>>()
            .join(" | ");
        let sql = format!(
            "SELECT id FROM memories WHERE tsv @@ to_tsquery('simple', $1){} \
             ORDER BY ts_rank(tsv, to_tsquery('simple', $1)) DESC, id LIMIT $5",
            filter_sql(2)
        );
        let rows = bind_filters(sqlx::query(&sql).bind(query), filters)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| r.try_get::<i64, _>(0).map_err(|e| self.err(e)))
            .collect()
    }

    async fn forget_memory(&self, id: MemoryId) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM memories WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected();
        Ok(n == 1)
    }

    async fn list_memories(&self, after: MemoryId, limit: i64) -> Result<Vec<Memory>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {MEMORY_COLUMNS} FROM memories WHERE id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter().map(to_memory).collect()
    }

    async fn memory_stats(&self, model: &str) -> Result<MemoryStats, StoreError> {
        let (total, embedded): (i64, i64) = sqlx::query_as(
            "SELECT count(*), count(*) FILTER (WHERE model = $1 AND embedding IS NOT NULL) FROM memories",
        )
        .bind(model)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let by_source =
            sqlx::query_as("SELECT source, count(*) FROM memories GROUP BY source ORDER BY source")
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.err(e))?;
        Ok(MemoryStats {
            total,
            embedded,
            backlog: total - embedded,
            by_source,
        })
    }

    async fn add_turns(&self, channel: &str, turns: &[Turn]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        for t in turns {
            sqlx::query(
                "INSERT INTO conversations (channel, role, content, created_at) VALUES ($1, $2, $3, $4)",
            )
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
        let rows: Vec<(String, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT role, content, created_at FROM conversations WHERE channel = $1 ORDER BY id DESC LIMIT $2",
        )
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
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
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

    async fn tg_store_updates(&self, updates: &[(i64, String)]) -> Result<usize, StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        let mut new = 0;
        for (id, payload) in updates {
            new += sqlx::query(&sql(
                "INSERT INTO telegram_updates (update_id, payload, received_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (update_id) DO NOTHING",
            ))
            .bind(id)
            .bind(payload)
            .bind(now())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected() as usize;
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(new)
    }

    async fn tg_next_offset(&self) -> Result<i64, StoreError> {
        let max: Option<i64> = sqlx::query_scalar("SELECT MAX(update_id) FROM telegram_updates")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(max.map_or(0, |m| m + 1))
    }

    async fn tg_unhandled(&self, limit: i64) -> Result<Vec<(i64, String)>, StoreError> {
        sqlx::query_as(&sql(
            "SELECT update_id, payload FROM telegram_updates WHERE handled_at IS NULL \
             ORDER BY update_id LIMIT $1",
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))
    }

    async fn tg_finish(&self, update_id: i64, replies: &[OutMessage]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        // The payload is no longer needed once handled (it may hold the
        // owner's words; the conversation keeps what matters).
        let done = sqlx::query(&sql(
            "UPDATE telegram_updates SET handled_at = $1, payload = '' \
             WHERE update_id = $2 AND handled_at IS NULL",
        ))
        .bind(now())
        .bind(update_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected();
        if done == 1 {
            self.queue_in(&mut tx, replies).await?;
        }
        tx.commit().await.map_err(|e| self.err(e))
    }

    async fn tg_queue(&self, messages: &[OutMessage]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        self.queue_in(&mut tx, messages).await?;
        tx.commit().await.map_err(|e| self.err(e))
    }

    async fn tg_outbox(&self, limit: i64) -> Result<Vec<Outgoing>, StoreError> {
        let rows: Vec<(i64, i64, String, Option<String>, i64)> = sqlx::query_as(&sql(
            "SELECT id, chat_id, text, buttons, attempts FROM telegram_outbox \
             WHERE sent_at IS NULL ORDER BY id LIMIT $1",
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .map(|(id, chat_id, text, buttons, attempts)| Outgoing {
                id,
                message: OutMessage {
                    chat_id,
                    text,
                    buttons,
                },
                attempts,
            })
            .collect())
    }

    async fn tg_sent(&self, id: i64, message_id: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
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
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
        sqlx::query(&sql(
            "UPDATE telegram_outbox SET attempts = attempts + 1, last_error = $1 WHERE id = $2",
        ))
        .bind(error)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))
    }

    async fn job_ensure(
        &self,
        job: &str,
        since: DateTime<Utc>,
    ) -> Result<(bool, DateTime<Utc>), StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
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
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
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
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
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
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
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
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
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

    async fn add_briefing(
        &self,
        kind: &str,
        text: &str,
        items: &[String],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
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

    async fn memories_between(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Memory>, StoreError> {
        let rows = sqlx::query(&sql(&format!(
            "SELECT {MEMORY_COLUMNS} FROM memories WHERE created_at >= $1 AND created_at < $2 \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        )))
        .bind(from)
        .bind(until)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter().map(to_memory).collect()
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

    async fn add_thought(&self, t: &NewThought) -> Result<Thought, StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
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
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
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
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
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
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
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
        let mut tx = self.pool.begin().await.map_err(|e| self.err(e))?;
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

    async fn close(&self) {
        self.pool.close().await;
    }
}

const THOUGHT_COLUMNS: &str = "id, created_at, expires_at, channel, provider, model, question, \
     disclosure, state, decided_at, decided_by, answer, error";
const DISCLOSURE_COLUMNS: &str =
    "id, at, thought_id, provider, model, bytes, sha256, items, approved_by, outcome";

fn to_thought(r: &sqlx::postgres::PgRow) -> Result<Thought, StoreError> {
    let get = |e: sqlx::Error| StoreError::InvalidData(format!("thought row: {e}"));
    ThoughtRow {
        id: r.try_get("id").map_err(get)?,
        created_at: r.try_get("created_at").map_err(get)?,
        expires_at: r.try_get("expires_at").map_err(get)?,
        channel: r.try_get("channel").map_err(get)?,
        provider: r.try_get("provider").map_err(get)?,
        model: r.try_get("model").map_err(get)?,
        question: r.try_get("question").map_err(get)?,
        disclosure: r.try_get("disclosure").map_err(get)?,
        state: r.try_get("state").map_err(get)?,
        decided_at: r.try_get("decided_at").map_err(get)?,
        decided_by: r.try_get("decided_by").map_err(get)?,
        answer: r.try_get("answer").map_err(get)?,
        error: r.try_get("error").map_err(get)?,
    }
    .try_into()
}

fn to_disclosure(r: &sqlx::postgres::PgRow) -> Result<DisclosureRecord, StoreError> {
    let get = |e: sqlx::Error| StoreError::InvalidData(format!("disclosure row: {e}"));
    let id: i64 = r.try_get("id").map_err(get)?;
    let items: String = r.try_get("items").map_err(get)?;
    Ok(DisclosureRecord {
        id,
        at: r.try_get("at").map_err(get)?,
        thought_id: r.try_get("thought_id").map_err(get)?,
        provider: r.try_get("provider").map_err(get)?,
        model: r.try_get("model").map_err(get)?,
        bytes: r.try_get("bytes").map_err(get)?,
        sha256: r.try_get("sha256").map_err(get)?,
        items: parse_items(id, &items)?,
        approved_by: r.try_get("approved_by").map_err(get)?,
        outcome: r.try_get("outcome").map_err(get)?,
    })
}

/// SQL as written (`$n` placeholders are PostgreSQL's own).
fn sql(q: &str) -> String {
    q.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_errors_never_echo_a_password() {
        let s = strip_url("invalid port in postgres://me:hunter2@db:x/oz");
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("@db:x/oz"));
    }
}
