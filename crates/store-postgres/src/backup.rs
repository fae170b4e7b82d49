//! [`BackupStore`] for PostgreSQL, and restoring a dump into a database.
//!
//! The dump reads inside one `REPEATABLE READ, READ ONLY` transaction: one
//! snapshot while `serve` goes on writing. A restore runs in **one**
//! transaction: OpenZero's tables are dropped, the schema of the backup's
//! version is made, every row goes in, this build's newer migrations run —
//! and only then does it commit, so a failure changes nothing.

use std::collections::{BTreeSet, HashMap};

use futures_util::TryStreamExt;
use openzero_store::backup::{
    DumpItem, Pending, SEEDED_TABLES, Shape, Value, created_tables, dependency_order, for_postgres,
    is_derived, load as load_dump,
};
use sqlx::ConnectOptions;
use tokio::sync::mpsc;

use super::*;

/// Values per `INSERT` while restoring (PostgreSQL allows 65535 parameters).
const BATCH_VALUES: usize = 30_000;

struct Column {
    name: String,
    udt: String,
}

struct Table {
    columns: Vec<Column>,
    /// The id column with a sequence (serial or identity), if any.
    serial: Option<String>,
    /// Columns referencing this same table (`projects.parent_id`).
    self_refs: Vec<String>,
}

/// The tables OpenZero's migrations create: the only ones a dump reads and a
/// restore drops (a shared schema's other tables are left alone).
fn ours() -> BTreeSet<String> {
    created_tables(MIGRATOR.iter().map(|m| m.sql.as_ref()))
}

async fn tables(conn: &mut PgConnection) -> Result<Vec<String>, sqlx::Error> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .fetch_all(&mut *conn)
    .await?;
    let ours = ours();
    Ok(names
        .into_iter()
        .filter(|t| !is_derived(t) && ours.contains(t))
        .collect())
}

async fn references(conn: &mut PgConnection) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT child.relname::text, parent.relname::text FROM pg_constraint c \
         JOIN pg_class child ON child.oid = c.conrelid \
         JOIN pg_class parent ON parent.oid = c.confrelid \
         WHERE c.contype = 'f' AND child.relnamespace = current_schema()::regnamespace",
    )
    .fetch_all(&mut *conn)
    .await
}

async fn table(conn: &mut PgConnection, name: &str) -> Result<Table, sqlx::Error> {
    let rows: Vec<(String, String, bool)> = sqlx::query_as(
        "SELECT column_name::text, udt_name::text, \
                COALESCE(is_identity = 'YES' OR column_default LIKE 'nextval(%', false) \
         FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER' \
         ORDER BY ordinal_position",
    )
    .bind(name)
    .fetch_all(&mut *conn)
    .await?;
    let serial = rows.iter().find(|r| r.2).map(|r| r.0.clone());
    let self_refs: Vec<String> = sqlx::query_scalar(
        "SELECT a.attname::text FROM pg_constraint c \
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) \
         WHERE c.contype = 'f' AND c.conrelid = c.confrelid AND c.conrelid = $1::regclass",
    )
    .bind(quote(name))
    .fetch_all(&mut *conn)
    .await?;
    Ok(Table {
        columns: rows
            .into_iter()
            .map(|(name, udt, _)| Column { name, udt })
            .collect(),
        serial,
        self_refs,
    })
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// How a column is read: its own type where the driver has one, else its
/// text form (json, dates, …).
fn select_expr(c: &Column) -> String {
    match c.udt.as_str() {
        "int2" | "int4" | "int8" | "float4" | "float8" | "bool" | "bytea" | "timestamptz"
        | "timestamp" | "vector" | "text" | "varchar" => quote(&c.name),
        _ => format!("{}::text", quote(&c.name)),
    }
}

fn value_of(r: &PgRow, i: usize, udt: &str) -> Result<Value, sqlx::Error> {
    Ok(match udt {
        "int2" => opt(r.try_get::<Option<i16>, _>(i)?, |n| Value::Int(n.into())),
        "int4" => opt(r.try_get::<Option<i32>, _>(i)?, |n| Value::Int(n.into())),
        "int8" => opt(r.try_get::<Option<i64>, _>(i)?, Value::Int),
        "float4" => opt(r.try_get::<Option<f32>, _>(i)?, |x| Value::Real(x.into())),
        "float8" => opt(r.try_get::<Option<f64>, _>(i)?, Value::Real),
        "bool" => opt(r.try_get::<Option<bool>, _>(i)?, Value::Bool),
        "bytea" => opt(r.try_get::<Option<Vec<u8>>, _>(i)?, Value::Bytes),
        "timestamptz" => opt(r.try_get::<Option<DateTime<Utc>>, _>(i)?, Value::Time),
        "timestamp" => opt(r.try_get::<Option<chrono::NaiveDateTime>, _>(i)?, |t| {
            Value::Time(t.and_utc())
        }),
        "vector" => opt(r.try_get::<Option<Vector>, _>(i)?, |v| {
            Value::Vector(v.to_vec())
        }),
        _ => opt(r.try_get::<Option<String>, _>(i)?, Value::Text),
    })
}

fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> Value) -> Value {
    v.map_or(Value::Null, f)
}

fn closed() -> StoreError {
    StoreError::Other("the backup writer stopped before the dump ended".into())
}

#[async_trait]
impl openzero_store::BackupStore for PgStore {
    async fn dump(&self, out: mpsc::Sender<DumpItem>) -> Result<(), StoreError> {
        // A connection of its own, whose one long SELECT per table is not
        // logged as a slow statement.
        let opts = (*self.pool.connect_options())
            .clone()
            .disable_statement_logging();
        let mut conn = PgConnection::connect_with(&opts)
            .await
            .map_err(|e| self.err(e))?;
        let mut tx = conn.begin().await.map_err(|e| self.err(e))?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        let names = tables(&mut tx).await.map_err(|e| self.err(e))?;
        let refs = references(&mut tx).await.map_err(|e| self.err(e))?;
        let mut sequences = Vec::new();
        for name in dependency_order(&names, &refs) {
            let t = table(&mut tx, &name).await.map_err(|e| self.err(e))?;
            let list = t
                .columns
                .iter()
                .map(select_expr)
                .collect::<Vec<_>>()
                .join(", ");
            out.send(DumpItem::Table {
                name: name.clone(),
                columns: t.columns.iter().map(|c| c.name.clone()).collect(),
            })
            .await
            .map_err(|_| closed())?;
            let sql = format!("SELECT {list} FROM {}", quote(&name));
            let mut rows = sqlx::query(&sql).fetch(&mut *tx);
            while let Some(r) = rows.try_next().await.map_err(|e| self.err(e))? {
                let values = t
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| value_of(&r, i, &c.udt))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| self.err(e))?;
                out.send(DumpItem::Row(values))
                    .await
                    .map_err(|_| closed())?;
            }
            drop(rows);
            if let Some(col) = &t.serial {
                let last: Option<i64> = sqlx::query_scalar(
                    "SELECT pg_sequence_last_value(pg_get_serial_sequence($1, $2)::regclass)",
                )
                .bind(quote(&name))
                .bind(col)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
                if let Some(n) = last {
                    sequences.push((name.clone(), n));
                }
            }
        }
        out.send(DumpItem::Sequences(sequences))
            .await
            .map_err(|_| closed())?;
        tx.rollback().await.map_err(|e| self.err(e))?;
        conn.close().await.map_err(|e| self.err(e))?;
        out.send(DumpItem::End).await.map_err(|_| closed())?;
        Ok(())
    }

    async fn table_counts(&self) -> Result<std::collections::BTreeMap<String, u64>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.err(e))?;
        let mut out = std::collections::BTreeMap::new();
        for t in tables(&mut conn).await.map_err(|e| self.err(e))? {
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", quote(&t)))
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| self.err(e))?;
            out.insert(t, u64::try_from(n).unwrap_or(0));
        }
        Ok(out)
    }

    async fn holds_data(&self) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.err(e))?;
        for t in tables(&mut conn).await.map_err(|e| self.err(e))? {
            if SEEDED_TABLES.contains(&t.as_str()) {
                continue;
            }
            let any: bool =
                sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 FROM {})", quote(&t)))
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(|e| self.err(e))?;
            if any {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

impl PgStore {
    /// Replaces OpenZero's tables in the database at `url` with a dump of
    /// schema `version`, in one transaction committed only after
    /// [`DumpItem::End`] arrived and this build's newer migrations ran.
    /// Returns the number of rows restored.
    pub async fn restore_into(
        url: &str,
        version: i64,
        mut items: mpsc::Receiver<DumpItem>,
    ) -> Result<u64, StoreError> {
        let known = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        if version > known {
            return Err(StoreError::TooNew {
                target: "the backup".into(),
                found: version,
                known,
            });
        }
        let (pool, target) = Self::pool(url).await?;
        let result = load(&pool, &target, version, &mut items).await;
        pool.close().await;
        result
    }
}

async fn load(
    pool: &PgPool,
    target: &str,
    version: i64,
    items: &mut mpsc::Receiver<DumpItem>,
) -> Result<u64, StoreError> {
    let err = |e: sqlx::Error| map_err(target, e);
    let migration = |e: sqlx::migrate::MigrateError| StoreError::Migration {
        target: target.to_owned(),
        detail: with_pgvector_hint(e.to_string()),
    };
    let mut tx = pool.begin().await.map_err(err)?;
    // What OpenZero made here before goes, in this transaction.
    let existing: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(err)?;
    let mut ours = ours();
    ours.insert("_sqlx_migrations".into());
    let drop: Vec<String> = existing
        .iter()
        .filter(|t| ours.contains(*t))
        .map(|t| quote(t))
        .collect();
    if !drop.is_empty() {
        // No CASCADE: something of another application's that depends on
        // OpenZero's tables makes the restore stop (and roll back) instead
        // of being dropped with them.
        sqlx::query(&format!("DROP TABLE IF EXISTS {}", drop.join(", ")))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
    }
    let functions: Vec<String> = sqlx::query_scalar(
        "SELECT p.oid::regprocedure::text FROM pg_proc p \
         WHERE p.pronamespace = current_schema()::regnamespace AND p.proname LIKE 'openzero\\_%'",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(err)?;
    for f in functions {
        sqlx::query(&format!("DROP FUNCTION IF EXISTS {f}"))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
    }
    migrate_in(&mut tx, version).await.map_err(migration)?;
    let names = tables(&mut tx).await.map_err(err)?;
    let refs = references(&mut tx).await.map_err(err)?;
    for t in dependency_order(&names, &refs).iter().rev() {
        sqlx::query(&format!("DELETE FROM {}", quote(t)))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
    }
    let (total, sequences) = load_dump(
        items,
        &names,
        &mut Loader {
            tx: &mut tx,
            target,
        },
    )
    .await?;
    let sequences: HashMap<String, i64> = sequences.into_iter().collect();
    // Every id counter at least past the highest id, and past the source's
    // counter so ids of deleted rows are not handed out again.
    for name in &names {
        let t = table(&mut tx, name).await.map_err(err)?;
        let Some(col) = t.serial else { continue };
        let max: i64 = sqlx::query_scalar(&format!(
            "SELECT COALESCE(MAX({})::bigint, 0) FROM {}",
            quote(&col),
            quote(name)
        ))
        .fetch_one(&mut *tx)
        .await
        .map_err(err)?;
        let last = max.max(sequences.get(name).copied().unwrap_or(0));
        sqlx::query("SELECT setval(pg_get_serial_sequence($1, $2), $3, $4)")
            .bind(quote(name))
            .bind(&col)
            .bind(last.max(1))
            .bind(last > 0)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
    }
    migrate_in(&mut tx, i64::MAX).await.map_err(migration)?;
    tx.commit().await.map_err(err)?;
    Ok(total)
}

/// Runs the migrations up to `upto` on the restore's connection, inside its
/// transaction (each becomes a savepoint). Written over sqlx's `Migrate`
/// trait: `Migrator::run` on a borrowed connection is not `Send` enough for
/// a spawned task.
async fn migrate_in(conn: &mut PgConnection, upto: i64) -> Result<(), sqlx::migrate::MigrateError> {
    use sqlx::migrate::Migrate;
    conn.ensure_migrations_table().await?;
    let applied: Vec<i64> = conn
        .list_applied_migrations()
        .await?
        .into_iter()
        .map(|a| a.version)
        .collect();
    for m in MIGRATOR.iter() {
        if m.version > upto || applied.contains(&m.version) || m.migration_type.is_down_migration()
        {
            continue;
        }
        conn.apply(m).await?;
    }
    Ok(())
}

/// Inserts rows into PostgreSQL inside the restore's transaction.
struct Loader<'a> {
    tx: &'a mut PgConnection,
    target: &'a str,
}

#[async_trait]
impl openzero_store::backup::Loader for Loader<'_> {
    async fn shape(&mut self, name: &str) -> Result<Shape, StoreError> {
        let t = table(self.tx, name)
            .await
            .map_err(|e| map_err(self.target, e))?;
        Ok(Shape {
            columns: t.columns.into_iter().map(|c| (c.name, c.udt)).collect(),
            key: t.serial,
            self_refs: t.self_refs,
        })
    }

    fn convert(&self, v: Value, udt: &str) -> Result<Value, String> {
        for_postgres(v, udt)
    }

    async fn insert(&mut self, p: &mut Pending) -> Result<(), StoreError> {
        if p.batch.is_empty() {
            return Ok(());
        }
        let names = p
            .columns
            .iter()
            .map(|(n, _)| quote(n))
            .collect::<Vec<_>>()
            .join(", ");
        let mut n = 0;
        let mut groups = Vec::with_capacity(p.batch.len());
        for _ in 0..p.batch.len() {
            let one = p
                .columns
                .iter()
                .map(|(_, udt)| {
                    n += 1;
                    format!("${n}::{udt}")
                })
                .collect::<Vec<_>>()
                .join(", ");
            groups.push(format!("({one})"));
        }
        let sql = format!(
            "INSERT INTO {} ({names}) OVERRIDING SYSTEM VALUE VALUES {}",
            quote(&p.table),
            groups.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for row in p.batch.drain(..) {
            for v in row {
                q = match v {
                    Value::Null => q.bind(None::<String>),
                    Value::Int(n) => q.bind(n),
                    Value::Real(x) => q.bind(x),
                    Value::Text(s) => q.bind(s),
                    Value::Bytes(b) => q.bind(b),
                    Value::Bool(b) => q.bind(b),
                    Value::Time(t) => q.bind(t),
                    Value::Vector(x) => q.bind(Vector::from(x)),
                };
            }
        }
        q.execute(&mut *self.tx)
            .await
            .map_err(|e| map_err(self.target, e))?;
        Ok(())
    }

    async fn set_later(&mut self, p: &Pending) -> Result<(), StoreError> {
        let Some(key) = &p.key else { return Ok(()) };
        for (col, id, v) in &p.later {
            sqlx::query(&format!(
                "UPDATE {} SET {} = $1 WHERE {} = $2",
                quote(&p.table),
                quote(col),
                quote(key)
            ))
            .bind(v)
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| map_err(self.target, e))?;
        }
        Ok(())
    }

    fn batch_values(&self) -> usize {
        BATCH_VALUES
    }
}
