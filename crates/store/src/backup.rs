//! The backup port: every table's rows as backend-neutral values, and the
//! conversions a restore applies by the destination column's type.
//!
//! A backup is logical, not a file copy, so it moves between backends:
//! SQLite keeps times as text (most tables) or integer microseconds
//! (`memories`), booleans as integers and vectors as little-endian `f32`
//! bytes; PostgreSQL has `timestamptz`, `bool` and pgvector's `vector`. A
//! dump sends what the source holds ([`Value`]); a restore converts each
//! value for the column it goes into ([`for_sqlite`], [`for_postgres`]).
//! Derived tables (full-text indexes, the memory change log, the migration
//! table) are not backed up: the destination's triggers and migrations
//! remake them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};

use crate::StoreError;

/// One value of one column, as the source database held it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
    Bool(bool),
    /// A timestamp, microsecond precision.
    Time(DateTime<Utc>),
    /// An embedding (pgvector); SQLite keeps the same as `f32` bytes.
    Vector(Vec<f32>),
}

/// One piece of a dump, in stream order: for each table its header then its
/// rows; the id counters last.
#[derive(Debug, Clone, PartialEq)]
pub enum DumpItem {
    Table {
        name: String,
        columns: Vec<String>,
    },
    Row(Vec<Value>),
    /// Each table's id counter (the highest id ever handed out), so ids of
    /// deleted rows are not reused after a restore.
    Sequences(Vec<(String, i64)>),
    /// Everything was sent (a dump) or read and checked (a restore's
    /// reader): only now may a restore commit.
    End,
}

/// Reading everything for a backup.
#[async_trait]
pub trait BackupStore: Send + Sync + Debug {
    /// Sends every backed-up table to `out`, all from one consistent snapshot
    /// taken while other writers go on, a referenced table before the
    /// tables that reference it, rows streamed (constant memory).
    async fn dump(&self, out: tokio::sync::mpsc::Sender<DumpItem>) -> Result<(), StoreError>;

    /// Whether the store holds anything of the owner's: a row in any table
    /// other than the derived ones and the boards every new store is given.
    async fn holds_data(&self) -> Result<bool, StoreError>;

    /// Rows in each backed-up table (a restore drill compares them with the
    /// backup's manifest).
    async fn table_counts(&self) -> Result<std::collections::BTreeMap<String, u64>, StoreError>;
}

/// A destination table as a restore sees it.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    /// (name, declared type) in the table's order.
    pub columns: Vec<(String, String)>,
    /// The integer key that self-references point at.
    pub key: Option<String>,
    /// Columns referencing this same table (`projects.parent_id`).
    pub self_refs: Vec<String>,
}

/// Rows of one table on their way into the destination.
#[derive(Debug)]
pub struct Pending {
    pub table: String,
    /// The destination columns the backup's rows fill, in the rows' order:
    /// (name, declared type).
    pub columns: Vec<(String, String)>,
    /// Converted rows waiting for the next insert.
    pub batch: Vec<Vec<Value>>,
    /// (column, key, value) of self-references, set once every row is in
    /// (a parent may come after its child).
    pub later: Vec<(String, i64, i64)>,
    pub rows: u64,
    /// The key column `later` is matched on (the shape's).
    pub key: Option<String>,
    key_at: Option<usize>,
    refs_at: Vec<(usize, String)>,
}

impl Pending {
    /// Matches the backup's `columns` of `table` with the destination's.
    pub fn new(table: &str, columns: &[String], shape: &Shape) -> Result<Self, StoreError> {
        let cols = columns
            .iter()
            .map(|c| {
                shape
                    .columns
                    .iter()
                    .find(|(n, _)| n == c)
                    .cloned()
                    .ok_or_else(|| unknown(&format!("a column {table}.{c}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let at = |name: &str| cols.iter().position(|(n, _)| n == name);
        Ok(Self {
            table: table.to_owned(),
            key_at: shape.key.as_deref().and_then(at),
            refs_at: shape
                .self_refs
                .iter()
                .filter_map(|r| at(r).map(|i| (i, r.clone())))
                .collect(),
            key: shape.key.clone(),
            columns: cols,
            batch: Vec::new(),
            later: Vec::new(),
            rows: 0,
        })
    }

    /// Converts one row for the destination and queues it; a reference to
    /// the same table waits in `later`.
    pub fn push(
        &mut self,
        values: Vec<Value>,
        convert: &dyn Fn(Value, &str) -> Result<Value, String>,
    ) -> Result<(), StoreError> {
        if values.len() != self.columns.len() {
            return Err(StoreError::InvalidData(format!(
                "a row of {} has {} values for {} columns",
                self.table,
                values.len(),
                self.columns.len()
            )));
        }
        let mut row = Vec::with_capacity(values.len());
        for (v, (name, ty)) in values.into_iter().zip(&self.columns) {
            row.push(
                convert(v, ty)
                    .map_err(|e| StoreError::InvalidData(format!("{}.{name}: {e}", self.table)))?,
            );
        }
        if let Some(Value::Int(key)) = self.key_at.map(|k| row[k].clone()) {
            for (i, col) in &self.refs_at {
                if let Value::Int(v) = row[*i] {
                    row[*i] = Value::Null;
                    self.later.push((col.clone(), key, v));
                }
            }
        }
        self.batch.push(row);
        self.rows += 1;
        Ok(())
    }
}

/// What a backend does for a restore, inside its transaction.
#[async_trait]
pub trait Loader: Send {
    /// The destination table's shape.
    async fn shape(&mut self, table: &str) -> Result<Shape, StoreError>;
    /// A value converted for a column of type `ty`.
    fn convert(&self, v: Value, ty: &str) -> Result<Value, String>;
    /// Inserts `p.batch` and empties it.
    async fn insert(&mut self, p: &mut Pending) -> Result<(), StoreError>;
    /// Sets `p.later` once every row of the table is in.
    async fn set_later(&mut self, p: &Pending) -> Result<(), StoreError>;
    /// Values one insert may carry.
    fn batch_values(&self) -> usize;
}

async fn finish(loader: &mut dyn Loader, mut p: Pending) -> Result<u64, StoreError> {
    loader.insert(&mut p).await?;
    if !p.later.is_empty() {
        loader.set_later(&p).await?;
    }
    Ok(p.rows)
}

/// Loads a dump's items through `loader` until [`DumpItem::End`]: each
/// table checked against `tables` (the destination's), its rows converted,
/// inserted in batches, its self-references set last. Returns the rows
/// loaded and the id counters. A stream that ends before `End` is an error
/// (the caller's transaction then rolls back).
pub async fn load(
    items: &mut tokio::sync::mpsc::Receiver<DumpItem>,
    tables: &[String],
    loader: &mut dyn Loader,
) -> Result<(u64, Vec<(String, i64)>), StoreError> {
    let mut total = 0u64;
    let mut current: Option<Pending> = None;
    let mut sequences = Vec::new();
    loop {
        let Some(item) = items.recv().await else {
            return Err(StoreError::InvalidData(
                "the backup stream stopped before its end; nothing was restored".into(),
            ));
        };
        match item {
            DumpItem::Table { name, columns } => {
                if let Some(done) = current.take() {
                    total += finish(loader, done).await?;
                }
                if !tables.contains(&name) {
                    return Err(unknown(&format!("a table {name}")));
                }
                let shape = loader.shape(&name).await?;
                current = Some(Pending::new(&name, &columns, &shape)?);
            }
            DumpItem::Row(values) => {
                let Some(p) = current.as_mut() else {
                    return Err(StoreError::InvalidData(
                        "the backup has a row before any table".into(),
                    ));
                };
                p.push(values, &|v, ty| loader.convert(v, ty))?;
                if p.batch.len() * p.columns.len().max(1) >= loader.batch_values() {
                    loader.insert(p).await?;
                }
            }
            DumpItem::Sequences(s) => sequences = s,
            DumpItem::End => break,
        }
    }
    if let Some(done) = current.take() {
        total += finish(loader, done).await?;
    }
    Ok((total, sequences))
}

/// Tables never backed up: remade by the destination itself.
pub fn is_derived(table: &str) -> bool {
    matches!(
        table,
        "_sqlx_migrations" | "sqlite_sequence" | "memory_changes" | "memory_changes_pruned"
    ) || table.starts_with("memories_fts")
        || table.starts_with("sqlite_")
}

/// Tables a new store is given rows in by its migrations (the seed's five
/// boards and their lists): a restore replaces those rows, and they alone do
/// not make a store "hold data".
pub const SEEDED_TABLES: &[&str] = &["boards", "board_lists"];

/// Orders `tables` so that a table comes after every table it references
/// (`refs`: child → parent; self-references ignored), ties by name. A cycle
/// (none in the schema today) keeps the remaining tables in name order.
pub fn dependency_order(tables: &[String], refs: &[(String, String)]) -> Vec<String> {
    let known: BTreeSet<&str> = tables.iter().map(String::as_str).collect();
    let mut parents: BTreeMap<&str, BTreeSet<&str>> =
        known.iter().map(|t| (*t, BTreeSet::new())).collect();
    for (child, parent) in refs {
        if child != parent
            && known.contains(parent.as_str())
            && let Some(p) = parents.get_mut(child.as_str())
        {
            p.insert(parent.as_str());
        }
    }
    let mut done: Vec<String> = Vec::with_capacity(tables.len());
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    while placed.len() < known.len() {
        let ready: Vec<&str> = parents
            .iter()
            .filter(|(t, ps)| !placed.contains(*t) && ps.iter().all(|p| placed.contains(p)))
            .map(|(t, _)| *t)
            .collect();
        let next = if ready.is_empty() {
            // A cycle: take the rest by name.
            known
                .iter()
                .copied()
                .filter(|t| !placed.contains(t))
                .collect()
        } else {
            ready
        };
        for t in next {
            placed.insert(t);
            done.push(t.to_owned());
        }
    }
    done
}

/// Reads a time written by either backend or by sqlx into SQLite text:
/// RFC 3339 (`T` or space, any fraction, `Z` or an offset) or a naive UTC
/// `YYYY-MM-DD HH:MM:SS[.f]`.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let t = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    let spaced = t.replacen(' ', "T", 1);
    if let Ok(d) = DateTime::parse_from_rfc3339(&spaced) {
        return Some(d.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%:z"] {
        if let Ok(d) = DateTime::parse_from_str(&spaced, f) {
            return Some(d.with_timezone(&Utc));
        }
    }
    NaiveDateTime::parse_from_str(&spaced, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

fn vector_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// `v` as it goes into a SQLite column declared `decl` (SQLite's affinity
/// rules: a declared type containing `INT` is an integer column).
pub fn for_sqlite(v: Value, decl: &str) -> Value {
    let integer = decl.to_ascii_uppercase().contains("INT") || decl.eq_ignore_ascii_case("BOOLEAN");
    match v {
        Value::Time(t) if integer => Value::Int(t.timestamp_micros()),
        Value::Bool(b) => Value::Int(i64::from(b)),
        Value::Vector(x) => Value::Bytes(vector_bytes(&x)),
        other => other,
    }
}

/// `v` as it goes into a PostgreSQL column of type `udt` (its
/// `information_schema` `udt_name`); an impossible conversion is named.
pub fn for_postgres(v: Value, udt: &str) -> Result<Value, String> {
    let bad = |v: &Value| format!("a value of {v:?} cannot go into a column of type {udt}");
    Ok(match (udt, v) {
        (_, Value::Null) => Value::Null,
        ("int2" | "int4" | "int8", Value::Int(n)) => Value::Int(n),
        ("int2" | "int4" | "int8", Value::Bool(b)) => Value::Int(i64::from(b)),
        ("int2" | "int4" | "int8", Value::Text(s)) => {
            Value::Int(s.trim().parse().map_err(|_| bad(&Value::Text(s.clone())))?)
        }
        ("float4" | "float8" | "numeric", Value::Real(x)) => Value::Real(x),
        ("float4" | "float8" | "numeric", Value::Int(n)) => Value::Real(n as f64),
        ("bool", Value::Bool(b)) => Value::Bool(b),
        ("bool", Value::Int(n)) => Value::Bool(n != 0),
        ("timestamptz" | "timestamp", Value::Time(t)) => Value::Time(t),
        ("timestamptz" | "timestamp", Value::Int(n)) => {
            Value::Time(DateTime::from_timestamp_micros(n).ok_or_else(|| bad(&Value::Int(n)))?)
        }
        ("timestamptz" | "timestamp", Value::Text(s)) => {
            Value::Time(parse_time(&s).ok_or_else(|| bad(&Value::Text(s.clone())))?)
        }
        ("bytea", Value::Bytes(b)) => Value::Bytes(b),
        ("vector", Value::Vector(x)) => Value::Vector(x),
        ("vector", Value::Bytes(b)) => {
            if !b.len().is_multiple_of(4) {
                return Err(format!("a vector of {} bytes is not whole floats", b.len()));
            }
            Value::Vector(
                b.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            )
        }
        ("text" | "varchar" | "bpchar", Value::Text(s)) => Value::Text(s),
        ("text" | "varchar" | "bpchar", Value::Int(n)) => Value::Text(n.to_string()),
        ("text" | "varchar" | "bpchar", Value::Real(x)) => Value::Text(x.to_string()),
        ("text" | "varchar" | "bpchar", Value::Time(t)) => {
            Value::Text(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, false))
        }
        // jsonb, date, …: their text form, cast by the server.
        (_, Value::Text(s)) => Value::Text(s),
        (_, v) => return Err(bad(&v)),
    })
}

/// The table names a set of migration scripts creates, for a restore that
/// must clear exactly those (and nothing else in a shared schema).
pub fn created_tables<'a>(scripts: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for sql in scripts {
        let words: Vec<&str> = sql
            .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
            .filter(|w| !w.is_empty())
            .collect();
        for (i, w) in words.iter().enumerate() {
            if w.eq_ignore_ascii_case("create")
                && words
                    .get(i + 1)
                    .is_some_and(|n| n.eq_ignore_ascii_case("table"))
            {
                let mut j = i + 2;
                if words.get(j).is_some_and(|n| n.eq_ignore_ascii_case("if")) {
                    j += 3;
                }
                if let Some(name) = words.get(j) {
                    out.insert(name.trim_matches('"').to_ascii_lowercase());
                }
            }
        }
    }
    out
}

/// The error a restore gives when a backup names what this build lacks.
pub fn unknown(what: &str) -> StoreError {
    StoreError::InvalidData(format!(
        "the backup holds {what}, which this OpenZero does not know; restore it with the version that wrote it or a newer one"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn referenced_tables_come_first_and_self_references_do_not_block() {
        let tables = s(&["cards", "board_lists", "boards", "projects", "card_history"]);
        let refs = vec![
            ("cards".into(), "boards".into()),
            ("cards".into(), "board_lists".into()),
            ("cards".into(), "projects".into()),
            ("board_lists".into(), "boards".into()),
            ("card_history".into(), "cards".into()),
            ("projects".into(), "projects".into()),
        ];
        let order = dependency_order(&tables, &refs);
        let pos = |t: &str| order.iter().position(|x| x == t).unwrap();
        assert_eq!(order.len(), 5);
        assert!(pos("boards") < pos("board_lists"));
        assert!(pos("board_lists") < pos("cards"));
        assert!(pos("projects") < pos("cards"));
        assert!(pos("cards") < pos("card_history"));
    }

    #[test]
    fn a_cycle_still_orders_every_table() {
        let tables = s(&["a", "b", "c"]);
        let refs = vec![("a".into(), "b".into()), ("b".into(), "a".into())];
        let order = dependency_order(&tables, &refs);
        assert_eq!(order, s(&["c", "a", "b"]));
    }

    #[test]
    fn times_from_either_backend_read_back_exactly() {
        let t = DateTime::parse_from_rfc3339("2026-11-30T07:55:42.488231Z")
            .unwrap()
            .with_timezone(&Utc);
        for text in [
            "2026-11-30T07:55:42.488231+00:00",
            "2026-11-30 07:55:42.488231+00:00",
            "2026-11-30T08:55:42.488231+01:00",
            "2026-11-30 07:55:42.488231",
            "2026-11-30T07:55:42.488231Z",
        ] {
            assert_eq!(parse_time(text), Some(t), "{text}");
        }
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn sqlite_times_in_integer_columns_become_microseconds() {
        let t = parse_time("2026-11-30T07:55:42.488231Z").unwrap();
        assert_eq!(
            for_sqlite(Value::Time(t), "INTEGER"),
            Value::Int(t.timestamp_micros())
        );
        assert_eq!(for_sqlite(Value::Time(t), "TEXT"), Value::Time(t));
        assert_eq!(for_sqlite(Value::Bool(true), "BOOLEAN"), Value::Int(1));
        assert_eq!(
            for_sqlite(Value::Vector(vec![1.0, -0.5]), "BLOB"),
            Value::Bytes(vec![0, 0, 128, 63, 0, 0, 0, 191])
        );
    }

    #[test]
    fn postgres_columns_get_their_own_types_from_sqlite_values() {
        let t = parse_time("2026-11-30T07:55:42.488231+00:00").unwrap();
        assert_eq!(
            for_postgres(Value::Int(t.timestamp_micros()), "timestamptz"),
            Ok(Value::Time(t))
        );
        assert_eq!(
            for_postgres(
                Value::Text("2026-11-30 08:55:42.488231+01:00".into()),
                "timestamptz"
            ),
            Ok(Value::Time(t))
        );
        assert_eq!(for_postgres(Value::Int(0), "bool"), Ok(Value::Bool(false)));
        assert_eq!(
            for_postgres(Value::Bytes(vec![0, 0, 128, 63]), "vector"),
            Ok(Value::Vector(vec![1.0]))
        );
        assert!(for_postgres(Value::Bytes(vec![0, 0, 128]), "vector").is_err());
        assert!(for_postgres(Value::Text("soon".into()), "timestamptz").is_err());
        assert_eq!(for_postgres(Value::Null, "vector"), Ok(Value::Null));
    }

    #[test]
    fn created_tables_reads_create_table_statements() {
        let t = created_tables([
            "CREATE TABLE projects (id INTEGER);\ncreate table if not exists \"Cards\"(id int);",
            "CREATE INDEX x ON projects (id); CREATE VIRTUAL TABLE memories_fts USING fts5(text);",
        ]);
        assert_eq!(
            t,
            ["cards", "projects"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        );
    }
}
