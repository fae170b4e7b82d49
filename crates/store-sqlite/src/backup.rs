//! [`BackupStore`] for SQLite, and restoring a dump into a new file.
//!
//! The dump reads every table inside one read transaction: WAL gives it a
//! snapshot while `serve` goes on writing. A restore builds a *new* file:
//! the schema of the backup's version, every row in one transaction, then
//! the newer migrations — the caller moves the file into place.

use std::borrow::Cow;

use futures_util::TryStreamExt;
use openzero_store::backup::{
    DumpItem, Pending, SEEDED_TABLES, Shape, Value, dependency_order, for_sqlite, is_derived,
    load as load_dump,
};
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnection;
use sqlx::{ConnectOptions, Connection, TypeInfo, ValueRef};
use tokio::sync::mpsc;

use super::*;

/// Rows per `INSERT` while restoring (well under SQLite's 32766 variables).
const BATCH_VALUES: usize = 16_000;

struct Column {
    name: String,
    decl: String,
}

struct Table {
    columns: Vec<Column>,
    /// Name of the integer primary key, when there is one.
    pk: Option<String>,
    /// Columns referencing this same table (`projects.parent_id`).
    self_refs: Vec<String>,
}

async fn tables(conn: &mut SqliteConnection) -> Result<Vec<String>, sqlx::Error> {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&mut *conn)
            .await?;
    Ok(names.into_iter().filter(|t| !is_derived(t)).collect())
}

async fn references(
    conn: &mut SqliteConnection,
    tables: &[String],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let mut refs = Vec::new();
    for t in tables {
        let parents: Vec<String> =
            sqlx::query_scalar("SELECT \"table\" FROM pragma_foreign_key_list(?)")
                .bind(t)
                .fetch_all(&mut *conn)
                .await?;
        refs.extend(parents.into_iter().map(|p| (t.clone(), p)));
    }
    Ok(refs)
}

async fn table(conn: &mut SqliteConnection, name: &str) -> Result<Table, sqlx::Error> {
    let rows = sqlx::query("SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid")
        .bind(name)
        .fetch_all(&mut *conn)
        .await?;
    let mut columns = Vec::new();
    let mut pk = None;
    for r in rows {
        let col: String = r.try_get("name")?;
        if r.try_get::<i64, _>("pk")? == 1 {
            pk = Some(col.clone());
        }
        columns.push(Column {
            name: col,
            decl: r.try_get("type")?,
        });
    }
    let self_refs =
        sqlx::query_scalar("SELECT \"from\" FROM pragma_foreign_key_list(?) WHERE \"table\" = ?")
            .bind(name)
            .bind(name)
            .fetch_all(&mut *conn)
            .await?;
    Ok(Table {
        columns,
        pk,
        self_refs,
    })
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn value_of(r: &sqlx::sqlite::SqliteRow, i: usize) -> Result<Value, sqlx::Error> {
    let raw = r.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let kind = raw.type_info().name().to_owned();
    Ok(match kind.as_str() {
        "INTEGER" => Value::Int(r.try_get(i)?),
        "REAL" => Value::Real(r.try_get(i)?),
        "BLOB" => Value::Bytes(r.try_get(i)?),
        _ => Value::Text(r.try_get(i)?),
    })
}

fn closed() -> StoreError {
    StoreError::Other("the backup writer stopped before the dump ended".into())
}

#[async_trait]
impl openzero_store::BackupStore for SqliteStore {
    async fn dump(&self, out: mpsc::Sender<DumpItem>) -> Result<(), StoreError> {
        // A deferred transaction: its snapshot is taken at the first read and
        // holds to the end, whatever other connections write meanwhile.
        // A connection of its own, read-only, whose one long SELECT per
        // table is not logged as a slow statement.
        let opts = (*self.pool.connect_options())
            .clone()
            .read_only(true)
            .disable_statement_logging();
        let mut conn = opts.connect().await.map_err(|e| self.err(e))?;
        let mut tx = conn.begin().await.map_err(|e| self.err(e))?;
        let names = tables(&mut tx).await.map_err(|e| self.err(e))?;
        let refs = references(&mut tx, &names).await.map_err(|e| self.err(e))?;
        for name in dependency_order(&names, &refs) {
            let t = table(&mut tx, &name).await.map_err(|e| self.err(e))?;
            let columns: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
            let list = columns
                .iter()
                .map(|c| quote(c))
                .collect::<Vec<_>>()
                .join(", ");
            out.send(DumpItem::Table {
                name: name.clone(),
                columns,
            })
            .await
            .map_err(|_| closed())?;
            let sql = format!("SELECT {list} FROM {}", quote(&name));
            let mut rows = sqlx::query(&sql).fetch(&mut *tx);
            while let Some(r) = rows.try_next().await.map_err(|e| self.err(e))? {
                let values = (0..t.columns.len())
                    .map(|i| value_of(&r, i))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| self.err(e))?;
                out.send(DumpItem::Row(values))
                    .await
                    .map_err(|_| closed())?;
            }
        }
        let seqs: Vec<(String, i64)> = sqlx::query_as("SELECT name, seq FROM sqlite_sequence")
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        out.send(DumpItem::Sequences(seqs))
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

impl SqliteStore {
    /// Builds a new database at `path` (which must not exist) from a dump
    /// of schema `version`: the migrations up to that version, every item
    /// received until [`DumpItem::End`] in one transaction, then this
    /// build's newer migrations. Returns the number of rows restored. If the
    /// stream stops before `End`, nothing is committed (the caller removes
    /// the file).
    pub async fn restore_into(
        path: &Path,
        version: i64,
        mut items: mpsc::Receiver<DumpItem>,
    ) -> Result<u64, StoreError> {
        let target = path.display().to_string();
        if path.exists() {
            return Err(StoreError::Other(format!(
                "{target} already exists; a restore writes a new file"
            )));
        }
        let known = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        if version > known {
            return Err(StoreError::TooNew {
                target: "the backup".into(),
                found: version,
                known,
            });
        }
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .pragma("secure_delete", "on");
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await
            .map_err(|e| map_err(path, e))?;
        let result = Self::load(&pool, path, version, &mut items).await;
        pool.close().await;
        result
    }

    async fn load(
        pool: &SqlitePool,
        path: &Path,
        version: i64,
        items: &mut mpsc::Receiver<DumpItem>,
    ) -> Result<u64, StoreError> {
        let err = |e: sqlx::Error| map_err(path, e);
        let partial = Migrator {
            migrations: Cow::Owned(
                MIGRATOR
                    .iter()
                    .filter(|m| m.version <= version)
                    .cloned()
                    .collect(),
            ),
            ..Migrator::DEFAULT
        };
        partial.run(pool).await.map_err(|e| StoreError::Migration {
            target: path.display().to_string(),
            detail: e.to_string(),
        })?;
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(err)?;
        let names = tables(&mut tx).await.map_err(err)?;
        let refs = references(&mut tx, &names).await.map_err(err)?;
        // A new store's seeded rows make way for the backup's.
        for t in dependency_order(&names, &refs).iter().rev() {
            sqlx::query(&format!("DELETE FROM {}", quote(t)))
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        let (total, sequences) =
            load_dump(items, &names, &mut Loader { tx: &mut tx, path }).await?;
        for (t, seq) in sequences {
            if !names.contains(&t) {
                continue;
            }
            let updated =
                sqlx::query("UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = ?")
                    .bind(seq)
                    .bind(&t)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
            if updated.rows_affected() == 0 {
                sqlx::query("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)")
                    .bind(&t)
                    .bind(seq)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
            }
        }
        let broken: Vec<(String,)> =
            sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
                .fetch_all(&mut *tx)
                .await
                .map_err(err)?;
        if let Some((t,)) = broken.first() {
            return Err(StoreError::InvalidData(format!(
                "the backup's {t} rows point at rows it does not hold; nothing was restored"
            )));
        }
        tx.commit().await.map_err(err)?;
        MIGRATOR
            .run(pool)
            .await
            .map_err(|e| StoreError::Migration {
                target: path.display().to_string(),
                detail: e.to_string(),
            })?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(pool)
            .await
            .map_err(err)?;
        Ok(total)
    }
}

/// Inserts rows into SQLite inside the restore's transaction.
struct Loader<'a> {
    tx: &'a mut SqliteConnection,
    path: &'a Path,
}

fn bind_value<'q>(
    q: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    v: Value,
) -> sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    match v {
        Value::Null => q.bind(None::<i64>),
        Value::Int(n) => q.bind(n),
        Value::Real(x) => q.bind(x),
        Value::Text(s) => q.bind(s),
        Value::Bytes(b) => q.bind(b),
        Value::Bool(b) => q.bind(b),
        Value::Time(t) => q.bind(t),
        Value::Vector(x) => q.bind(openzero_store::encode_vector(&x)),
    }
}

#[async_trait]
impl openzero_store::backup::Loader for Loader<'_> {
    async fn shape(&mut self, name: &str) -> Result<Shape, StoreError> {
        let t = table(self.tx, name)
            .await
            .map_err(|e| map_err(self.path, e))?;
        Ok(Shape {
            columns: t.columns.into_iter().map(|c| (c.name, c.decl)).collect(),
            key: t.pk,
            self_refs: t.self_refs,
        })
    }

    fn convert(&self, v: Value, decl: &str) -> Result<Value, String> {
        Ok(for_sqlite(v, decl))
    }

    async fn insert(&mut self, p: &mut Pending) -> Result<(), StoreError> {
        if p.batch.is_empty() {
            return Ok(());
        }
        let cols = p
            .columns
            .iter()
            .map(|(n, _)| quote(n))
            .collect::<Vec<_>>()
            .join(", ");
        let one = format!("({})", vec!["?"; p.columns.len()].join(", "));
        let sql = format!(
            "INSERT INTO {} ({cols}) VALUES {}",
            quote(&p.table),
            vec![one; p.batch.len()].join(", ")
        );
        let mut q = sqlx::query(&sql);
        for row in p.batch.drain(..) {
            for v in row {
                q = bind_value(q, v);
            }
        }
        q.execute(&mut *self.tx)
            .await
            .map_err(|e| map_err(self.path, e))?;
        Ok(())
    }

    async fn set_later(&mut self, p: &Pending) -> Result<(), StoreError> {
        let Some(pk) = &p.key else { return Ok(()) };
        for (col, key, v) in &p.later {
            let sql = format!(
                "UPDATE {} SET {} = ? WHERE {} = ?",
                quote(&p.table),
                quote(col),
                quote(pk)
            );
            sqlx::query(&sql)
                .bind(v)
                .bind(key)
                .execute(&mut *self.tx)
                .await
                .map_err(|e| map_err(self.path, e))?;
        }
        Ok(())
    }

    fn batch_values(&self) -> usize {
        BATCH_VALUES
    }
}
