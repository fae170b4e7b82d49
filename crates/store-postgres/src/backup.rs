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
    DumpItem, SEEDED_TABLES, Value, created_tables, dependency_order, for_postgres, is_derived,
    unknown,
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

struct Loading {
    name: String,
    table: Table,
    columns: Vec<usize>,
    batch: Vec<Vec<Value>>,
    /// (column, id, value) of self-references, set after every row is in.
    later: Vec<(String, i64, i64)>,
    rows: u64,
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
    let mut total = 0u64;
    let mut current: Option<Loading> = None;
    let mut sequences: HashMap<String, i64> = HashMap::new();
    loop {
        let Some(item) = items.recv().await else {
            return Err(StoreError::InvalidData(
                "the backup stream stopped before its end; nothing was restored".into(),
            ));
        };
        match item {
            DumpItem::Table { name, columns } => {
                if let Some(done) = current.take() {
                    total += finish(&mut tx, done).await.map_err(err)?;
                }
                if !names.contains(&name) {
                    return Err(unknown(&format!("a table {name}")));
                }
                let t = table(&mut tx, &name).await.map_err(err)?;
                let idx = columns
                    .iter()
                    .map(|c| {
                        t.columns
                            .iter()
                            .position(|k| &k.name == c)
                            .ok_or_else(|| unknown(&format!("a column {name}.{c}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                current = Some(Loading {
                    name,
                    table: t,
                    columns: idx,
                    batch: Vec::new(),
                    later: Vec::new(),
                    rows: 0,
                });
            }
            DumpItem::Row(values) => {
                let Some(l) = current.as_mut() else {
                    return Err(StoreError::InvalidData(
                        "the backup has a row before any table".into(),
                    ));
                };
                push_row(l, values)?;
                if l.batch.len() * l.columns.len().max(1) >= BATCH_VALUES {
                    flush(&mut tx, l).await.map_err(err)?;
                }
            }
            DumpItem::Sequences(s) => sequences = s.into_iter().collect(),
            DumpItem::End => break,
        }
    }
    if let Some(done) = current.take() {
        total += finish(&mut tx, done).await.map_err(err)?;
    }
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

fn push_row(l: &mut Loading, values: Vec<Value>) -> Result<(), StoreError> {
    if values.len() != l.columns.len() {
        return Err(StoreError::InvalidData(format!(
            "a row of {} has {} values for {} columns",
            l.name,
            values.len(),
            l.columns.len()
        )));
    }
    let mut row = Vec::with_capacity(values.len());
    for (v, &i) in values.into_iter().zip(&l.columns) {
        let c = &l.table.columns[i];
        row.push(
            for_postgres(v, &c.udt)
                .map_err(|e| StoreError::InvalidData(format!("{}.{}: {e}", l.name, c.name)))?,
        );
    }
    if let Some(pk) = &l.table.serial {
        let key = l
            .columns
            .iter()
            .position(|&i| &l.table.columns[i].name == pk)
            .map(|p| row[p].clone());
        for r in &l.table.self_refs {
            let p = l
                .columns
                .iter()
                .position(|&i| &l.table.columns[i].name == r);
            if let (Some(Value::Int(key)), Some(p)) = (&key, p)
                && let Value::Int(v) = row[p]
            {
                row[p] = Value::Null;
                l.later.push((r.clone(), *key, v));
            }
        }
    }
    l.batch.push(row);
    l.rows += 1;
    Ok(())
}

async fn flush(tx: &mut PgConnection, l: &mut Loading) -> Result<(), sqlx::Error> {
    if l.batch.is_empty() {
        return Ok(());
    }
    let cols: Vec<&Column> = l.columns.iter().map(|&i| &l.table.columns[i]).collect();
    let names = cols
        .iter()
        .map(|c| quote(&c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let mut n = 0;
    let mut groups = Vec::with_capacity(l.batch.len());
    for _ in 0..l.batch.len() {
        let one = cols
            .iter()
            .map(|c| {
                n += 1;
                format!("${n}::{}", c.udt)
            })
            .collect::<Vec<_>>()
            .join(", ");
        groups.push(format!("({one})"));
    }
    let sql = format!(
        "INSERT INTO {} ({names}) OVERRIDING SYSTEM VALUE VALUES {}",
        quote(&l.name),
        groups.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for row in l.batch.drain(..) {
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
    q.execute(&mut *tx).await?;
    Ok(())
}

async fn finish(tx: &mut PgConnection, mut l: Loading) -> Result<u64, sqlx::Error> {
    flush(tx, &mut l).await?;
    if let Some(pk) = &l.table.serial {
        for (col, key, v) in l.later.drain(..) {
            sqlx::query(&format!(
                "UPDATE {} SET {} = $1 WHERE {} = $2",
                quote(&l.name),
                quote(&col),
                quote(pk)
            ))
            .bind(v)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(l.rows)
}
