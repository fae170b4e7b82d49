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
    NewDisclosure, NewThought, OutMessage, Outgoing, ProjectRow, Removed, StoreError, Summary,
    Thought, ThoughtEnd, ThoughtId, ThoughtRow, VectorRow, changes, decode_vector, disclosure_json,
    encode_vector, items_json, now, parse_items, parse_role,
};
#[allow(unused_imports)] // used by the port modules through `use super::*`
use openzero_store::{
    BriefingStore, ConsentStore, ConversationStore, Database, InboxStore, JobStore, MemoryStore,
    OutboxStore, PreferenceStore, ProjectStore,
};
use openzero_store::{InboxEvent, Incoming};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

mod backup;
#[path = "../../store/sql/board.rs"]
mod board;
#[path = "../../store/sql/calendar.rs"]
mod calendar;
#[path = "../../store/sql/consent.rs"]
mod consent;
#[path = "../../store/sql/conversations.rs"]
mod conversations;
#[path = "../../store/sql/dashboard.rs"]
mod dashboard;
#[path = "../../store/sql/finance.rs"]
mod finance;
#[path = "../../store/sql/inbox_outbox.rs"]
mod inbox_outbox;
mod jobs;
#[path = "../../store/sql/mail.rs"]
mod mail;
mod memory;
#[path = "../../store/sql/memory_hygiene.rs"]
mod memory_hygiene;
#[path = "../../store/sql/memory_use.rs"]
mod memory_use;
#[path = "../../store/sql/news.rs"]
mod news;
mod projects;
#[path = "../../store/sql/sync_link.rs"]
mod sync_link;
mod text_cache;
#[path = "../../store/sql/training.rs"]
mod training;

/// This adapter's store, as the shared query modules (`crates/store/sql/`) name it.
/// Its sqlx database, for the shared modules' generic executors.
type DbKind = Sqlite;
type Db = SqliteStore;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// File name of the database inside the data directory.
pub const DEFAULT_FILE_NAME: &str = "openzero.db";

/// A store backed by one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
    text: std::sync::Arc<text_cache::TextCache>,
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
            text: std::sync::Arc::default(),
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

/// A memory time as the `memories` columns hold it (integer microseconds),
/// for the shared query modules.
fn mem_time(t: DateTime<Utc>) -> i64 {
    micros(t)
}

/// A vector as the `memories.embedding` column holds it (f32 bytes).
fn vector_param(v: &[f32]) -> Vec<u8> {
    encode_vector(v)
}

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
impl Database for SqliteStore {
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
