//! SQLite storage adapter: the embedded default. One file in the data
//! directory, WAL journal, foreign keys on, migrations embedded and run at open.
//!
//! **Invariants:** an existing file is never recreated or overwritten (a
//! corrupt file is reported, not replaced); only this crate knows SQLite's
//! error codes.

use std::path::{Path, PathBuf};
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
    Summary, Thought, ThoughtEnd, ThoughtId, ThoughtRow, VectorRow, changes, decode_vector,
    disclosure_json, encode_vector, items_json, now, parse_items, parse_role,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// File name of the database inside the data directory.
pub const DEFAULT_FILE_NAME: &str = "openzero.db";

/// A store backed by one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
}

const PROJECT_COLUMNS: &str = "id, name, parent_id, status, priority, domain, progress, description, created_at, updated_at, last_reviewed_at";

impl SqliteStore {
    /// Opens (creating if absent) the database at `path` and brings its
    /// schema up to date.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let exists = path.exists();
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(!exists)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            // Deleted content (a forgotten memory) is overwritten, not left in free pages.
            .pragma("secure_delete", "on");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .map_err(|e| map_err(path, e))?;
        let store = Self {
            pool,
            path: path.to_owned(),
        };
        store.migrate().await?;
        tracing::debug!(path = %path.display(), created = !exists, "sqlite store open");
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await.map_err(|e| {
            let target = self.path.display().to_string();
            match e {
                sqlx::migrate::MigrateError::VersionMissing(found) => StoreError::TooNew {
                    target,
                    found,
                    known: MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0),
                },
                sqlx::migrate::MigrateError::Execute(inner) => map_err(&self.path, inner),
                other => StoreError::Migration {
                    target,
                    detail: other.to_string(),
                },
            }
        })
    }

    fn err(&self, e: sqlx::Error) -> StoreError {
        map_err(&self.path, e)
    }

    /// Queues messages for Telegram inside `tx` (the outbox worker sends them).
    async fn queue_in(
        &self,
        tx: &mut Transaction<'_, Sqlite>,
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

    /// Every transaction takes the write lock at its start (`BEGIN
    /// IMMEDIATE`), so one that reads and then writes waits for other
    /// writers (busy_timeout) instead of failing with "database is locked".
    async fn begin(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.err(e))
    }

    async fn fetch_in(
        tx: &mut Transaction<'_, Sqlite>,
        id: ProjectId,
    ) -> Result<Option<ProjectRow>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
        row.map(|r| to_row(&r)).transpose()
    }
}

const MEMORY_COLUMNS: &str = "id, text, created_at, source, external_id, metadata, model";

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn to_vector_row(r: &sqlx::sqlite::SqliteRow) -> Result<VectorRow, StoreError> {
    let get = |e: sqlx::Error| StoreError::InvalidData(format!("vector row: {e}"));
    let id: i64 = r.try_get("id").map_err(get)?;
    let created: i64 = r.try_get("created_at").map_err(get)?;
    let source: String = r.try_get("source").map_err(get)?;
    let bytes: Vec<u8> = r.try_get("embedding").map_err(get)?;
    Ok(VectorRow {
        id,
        created_at: DateTime::from_timestamp_micros(created)
            .ok_or_else(|| StoreError::InvalidData(format!("memory #{id}: bad time {created}")))?,
        source: Source::new(&source)
            .map_err(|e| StoreError::InvalidData(format!("memory #{id}: {e}")))?,
        vector: decode_vector(id, &bytes)?,
    })
}

fn to_memory(r: &sqlx::sqlite::SqliteRow) -> Result<Memory, StoreError> {
    let get = |e: sqlx::Error| StoreError::InvalidData(format!("memory row: {e}"));
    let id: i64 = r.try_get("id").map_err(get)?;
    let created: i64 = r.try_get("created_at").map_err(get)?;
    let source: String = r.try_get("source").map_err(get)?;
    Ok(Memory {
        id,
        text: r.try_get("text").map_err(get)?,
        created_at: DateTime::from_timestamp_micros(created)
            .ok_or_else(|| StoreError::InvalidData(format!("memory #{id}: bad time {created}")))?,
        source: Source::new(&source)
            .map_err(|e| StoreError::InvalidData(format!("memory #{id}: {e}")))?,
        external_id: r.try_get("external_id").map_err(get)?,
        metadata: r.try_get("metadata").map_err(get)?,
        model: r.try_get("model").map_err(get)?,
    })
}

/// `AND …` clauses for the filters; binds come from [`bind_filters`].
const FILTER_SQL: &str = " AND (? IS NULL OR m.created_at >= ?) AND (? IS NULL OR m.created_at <= ?) AND (? IS NULL OR m.source = ?)";

fn bind_filters<'q>(
    q: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    f: &Filters,
) -> sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    let since = f.since.map(micros);
    let until = f.until.map(micros);
    let source = f.source.as_ref().map(|s| s.as_str().to_owned());
    q.bind(since)
        .bind(since)
        .bind(until)
        .bind(until)
        .bind(source.clone())
        .bind(source)
}

fn to_row(r: &sqlx::sqlite::SqliteRow) -> Result<ProjectRow, sqlx::Error> {
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

/// Turns a SQLite error into one the owner can act on.
fn map_err(path: &Path, e: sqlx::Error) -> StoreError {
    let target = path.display().to_string();
    match e {
        sqlx::Error::Database(db) => {
            let code: i64 = db.code().and_then(|c| c.parse().ok()).unwrap_or(-1);
            let detail = db.message().to_owned();
            // Primary result code is the low byte of the extended code.
            match code & 0xff {
                26 => StoreError::Corrupt {
                    path: target,
                    detail,
                },
                11 => StoreError::Corrupt {
                    path: target,
                    detail,
                },
                13 => StoreError::DiskFull { target },
                8 => StoreError::ReadOnly { target, detail },
                14 => StoreError::Unreachable {
                    target,
                    detail,
                    hint: "check that the data directory exists and is writable",
                },
                10 if detail.contains("disk") || detail.contains("full") => {
                    StoreError::DiskFull { target }
                }
                _ => StoreError::Other(detail),
            }
        }
        sqlx::Error::Io(io) => {
            if io.raw_os_error() == Some(28) {
                StoreError::DiskFull { target }
            } else if io.raw_os_error() == Some(30) {
                StoreError::ReadOnly {
                    target,
                    detail: io.to_string(),
                }
            } else {
                StoreError::Unreachable {
                    target,
                    detail: io.to_string(),
                    hint: "check that the data directory exists and is writable",
                }
            }
        }
        sqlx::Error::PoolTimedOut => StoreError::Unreachable {
            target,
            detail: "timed out waiting for the database".into(),
            hint: "another process may hold a lock on it; retry",
        },
        sqlx::Error::Migrate(m) => match *m {
            sqlx::migrate::MigrateError::Execute(inner) => map_err(path, inner),
            other => StoreError::Migration {
                target,
                detail: other.to_string(),
            },
        },
        other => StoreError::Other(other.to_string()),
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn target(&self) -> String {
        self.path.display().to_string()
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
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE id = ?"
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
        let mut tx = self.begin().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO projects (name, parent_id, status, priority, domain, progress, description, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {PROJECT_COLUMNS}"
        ))
        .bind(&p.name)
        .bind(p.parent_id)
        .bind(p.status.as_str())
        .bind(i64::from(p.priority))
        .bind(p.domain.as_str())
        .bind(i64::from(p.progress))
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
        let mut tx = self.begin().await?;
        let current: Project = Self::fetch_in(&mut tx, id)
            .await
            .map_err(|e| self.err(e))?
            .ok_or(StoreError::ProjectNotFound(id))?
            .try_into()?;
        let next = patch.apply(&current);
        let row = sqlx::query(&format!(
            "UPDATE projects SET name = ?, parent_id = ?, status = ?, priority = ?, domain = ?, progress = ?, \
             description = ?, updated_at = ? WHERE id = ? RETURNING {PROJECT_COLUMNS}"
        ))
        .bind(&next.name)
        .bind(next.parent_id)
        .bind(next.status.as_str())
        .bind(i64::from(next.priority))
        .bind(next.domain.as_str())
        .bind(i64::from(next.progress))
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
        let mut tx = self.begin().await?;
        let project: Project = Self::fetch_in(&mut tx, id)
            .await
            .map_err(|e| self.err(e))?
            .ok_or(StoreError::ProjectNotFound(id))?
            .try_into()?;
        let moved =
            sqlx::query("UPDATE projects SET parent_id = ?, updated_at = ? WHERE parent_id = ?")
                .bind(project.parent_id)
                .bind(now())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?
                .rows_affected();
        sqlx::query("DELETE FROM projects WHERE id = ?")
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
        let n = sqlx::query("UPDATE projects SET last_reviewed_at = ? WHERE id = ?")
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
        sqlx::query_scalar("SELECT value FROM preferences WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.err(e))
    }

    async fn set_preference(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO preferences (key, value, updated_at) VALUES (?, ?, ?) \
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
        let mut tx = self.begin().await?;
        let mut out = Vec::with_capacity(records.len());
        for m in records {
            let hash = m.content_hash();
            let inserted = sqlx::query(
            "INSERT INTO memories (text, created_at, source, external_id, metadata, content_hash, model, embedding, inserted_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, content_hash) DO NOTHING",
        )
        .bind(&m.text)
        .bind(micros(m.created_at))
        .bind(m.source.as_str())
        .bind(&m.external_id)
        .bind(&m.metadata)
        .bind(&hash)
        .bind(m.embedding.as_ref().map(|e| e.model.clone()))
        .bind(m.embedding.as_ref().map(|e| encode_vector(&e.vector)))
        .bind(micros(now()))
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?
        .rows_affected()
            == 1;
            let row = sqlx::query(&format!(
                "SELECT {MEMORY_COLUMNS} FROM memories WHERE source = ? AND content_hash = ?"
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
        let n = sqlx::query("UPDATE memories SET model = ?, embedding = ? WHERE id = ?")
            .bind(&e.model)
            .bind(encode_vector(&e.vector))
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
            "SELECT id, text FROM memories WHERE model IS NULL OR model <> ? OR embedding IS NULL ORDER BY id LIMIT ?",
        )
        .bind(model)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))
    }

    async fn get_memories(&self, ids: &[MemoryId]) -> Result<Vec<Memory>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!("SELECT {MEMORY_COLUMNS} FROM memories WHERE id IN ({marks})");
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(&self.pool).await.map_err(|e| self.err(e))? {
                out.push(to_memory(&r)?);
            }
        }
        Ok(out)
    }

    async fn memory_vectors(
        &self,
        model: &str,
        after: MemoryId,
        limit: i64,
    ) -> Result<Vec<VectorRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, created_at, source, embedding FROM memories \
             WHERE model = ? AND embedding IS NOT NULL AND id > ? ORDER BY id LIMIT ?",
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
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT id, created_at, source, embedding FROM memories \
                 WHERE model = ? AND embedding IS NOT NULL AND id IN ({marks})"
            );
            let mut q = sqlx::query(&sql).bind(model);
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(&self.pool).await.map_err(|e| self.err(e))? {
                out.push(to_vector_row(&r)?);
            }
        }
        Ok(out)
    }

    async fn memory_changes(&self, after: i64) -> Result<MemoryChanges, StoreError> {
        // One read transaction: the log and the prune mark from one snapshot.
        let mut tx = self.begin().await?;
        let (pruned,): (i64,) =
            sqlx::query_as("SELECT coalesce(max(upto), 0) FROM memory_changes_pruned")
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        let rows: Vec<(i64, i64)> =
            sqlx::query_as("SELECT seq, memory_id FROM memory_changes WHERE seq > ? ORDER BY seq")
                .bind(after)
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(changes(after, pruned, rows))
    }

    async fn prune_memory_changes(&self, keep: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let (last,): (i64,) = sqlx::query_as("SELECT coalesce(max(seq), 0) FROM memory_changes")
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        let upto = last - keep.max(0);
        if upto > 0 {
            sqlx::query("DELETE FROM memory_changes WHERE seq <= ?")
                .bind(upto)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            sqlx::query("UPDATE memory_changes_pruned SET upto = max(upto, ?)")
                .bind(upto)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))
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
        // Each term quoted: FTS5 reads nothing in it as syntax.
        let expr = terms
            .iter()
            .map(|t| format!("\"{}\"", t.replace('"', "")))
            .collect::<Vec<_>>()
            .join(" OR ");
        let rows = if *filters == Filters::default() {
            // No filter: rank inside the full-text index alone. Joining every
            // match to `memories` first cost most of a hybrid search when a
            // common word matched thousands of memories.
            sqlx::query(
                "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ? \
                 ORDER BY bm25(memories_fts), rowid LIMIT ?",
            )
            .bind(expr)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
        } else {
            let sql = format!(
                "SELECT m.id FROM memories_fts f JOIN memories m ON m.id = f.rowid \
                 WHERE memories_fts MATCH ?{FILTER_SQL} ORDER BY bm25(memories_fts), m.id LIMIT ?"
            );
            bind_filters(sqlx::query(&sql).bind(expr), filters)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
        }
        .map_err(|e| self.err(e))?;
        rows.iter()
            .map(|r| r.try_get::<i64, _>(0).map_err(|e| self.err(e)))
            .collect()
    }

    async fn forget_memory(&self, id: MemoryId) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM memories WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected();
        if n == 1 {
            // secure_delete zeroes the row in the new page version; the old
            // version still sits in the database file until a checkpoint
            // writes the new one over it. Forget means gone from disk now.
            let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&self.pool)
                .await
                .map_err(|e| self.err(e))?;
            if busy != 0 {
                tracing::warn!(
                    id,
                    "checkpoint after forget was blocked by a reader; it completes at the next checkpoint"
                );
            }
        }
        Ok(n == 1)
    }

    async fn list_memories(&self, after: MemoryId, limit: i64) -> Result<Vec<Memory>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {MEMORY_COLUMNS} FROM memories WHERE id > ? ORDER BY id LIMIT ?"
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
            "SELECT count(*), coalesce(sum(CASE WHEN model = ? AND embedding IS NOT NULL THEN 1 ELSE 0 END), 0) FROM memories",
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
        let mut tx = self.begin().await?;
        for t in turns {
            sqlx::query(
                "INSERT INTO conversations (channel, role, content, created_at) VALUES (?, ?, ?, ?)",
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
            "SELECT role, content, created_at FROM conversations WHERE channel = ? ORDER BY id DESC LIMIT ?",
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

    async fn tg_store_updates(&self, updates: &[(i64, String)]) -> Result<usize, StoreError> {
        let mut tx = self.begin().await?;
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
        let mut tx = self.begin().await?;
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
        let mut tx = self.begin().await?;
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
        .bind(micros(from))
        .bind(micros(until))
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

    async fn close(&self) {
        self.pool.close().await;
    }
}

const THOUGHT_COLUMNS: &str = "id, created_at, expires_at, channel, provider, model, question, \
     disclosure, state, decided_at, decided_by, answer, error";
const DISCLOSURE_COLUMNS: &str =
    "id, at, thought_id, provider, model, bytes, sha256, items, approved_by, outcome";

fn to_thought(r: &sqlx::sqlite::SqliteRow) -> Result<Thought, StoreError> {
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

fn to_disclosure(r: &sqlx::sqlite::SqliteRow) -> Result<DisclosureRecord, StoreError> {
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

/// SQL written with `$n` placeholders, in SQLite's numbered form (`?n`).
fn sql(q: &str) -> String {
    q.replace('$', "?")
}
