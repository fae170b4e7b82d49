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
