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
    NewDisclosure, NewThought, OutMessage, Outgoing, ProjectRow, Removed, StoreError, Summary,
    Thought, ThoughtEnd, ThoughtId, ThoughtRow, VectorRow, changes, disclosure_json, items_json,
    now, parse_items, parse_role,
};
#[allow(unused_imports)] // used by the port modules through `use super::*`
use openzero_store::{
    BriefingStore, ConsentStore, ConversationStore, Database, InboxStore, JobStore, MemoryStore,
    OutboxStore, PreferenceStore, ProjectStore,
};
use openzero_store::{InboxEvent, Incoming};
use pgvector::Vector;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, PgConnection, Postgres, Row, Transaction};

mod backup;
#[cfg(feature = "testing")]
#[path = "tests/testing.rs"]
pub mod testing;

/// How long to wait for the server before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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
#[path = "../../store/sql/training.rs"]
mod training;

/// This adapter's store, as the shared query modules (`crates/store/sql/`) name it.
/// Its sqlx database, for the shared modules' generic executors.
type DbKind = Postgres;
type Db = PgStore;

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
    async fn begin(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(|e| self.err(e))
    }

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
        let (pool, target) = Self::pool(url).await?;
        let store = Self { pool, target };
        store.migrate().await?;
        tracing::debug!(target = %store.target, "postgres store open");
        Ok(store)
    }

    /// A pool on `url` and the URL as it may be shown (no password).
    async fn pool(url: &str) -> Result<(PgPool, String), StoreError> {
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
        Ok((pool, target))
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

/// A memory time as the `memories` columns hold it (`timestamptz`), for
/// the shared query modules.
fn mem_time(t: DateTime<Utc>) -> DateTime<Utc> {
    t
}

/// A vector as the `memories.embedding` column holds it (pgvector).
fn vector_param(v: &[f32]) -> Vector {
    Vector::from(v.to_vec())
}

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
impl Database for PgStore {
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
