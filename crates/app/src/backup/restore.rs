//! Restoring a backup, and the restore drill.
//!
//! A restore first reads the whole file and checks it against its manifest
//! (a wrong passphrase, a cut or changed file is refused before anything is
//! touched), then streams it a second time into the destination: a new
//! SQLite file moved into place only when complete, or one PostgreSQL
//! transaction. A destination that holds data is replaced only with
//! `--force`, after a backup of what is there.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use openzero_backup::{Entry, Reader};
use openzero_config::Loaded;
use openzero_store::Store;
use openzero_store::backup::DumpItem;
use openzero_store_postgres::PgStore;
use openzero_store_sqlite::SqliteStore;
use serde::Serialize;

use super::{CONFIG_FILE, invalid, io_err, unseal, verify_file};
use crate::AppError;

/// What the reader says when the restore stopped taking rows.
const READER_STOPPED: &str = "the restore stopped";

/// Where a restore goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// The SQLite database of this data directory.
    Sqlite(PathBuf),
    /// A PostgreSQL database (URL with its password; never shown).
    Postgres(String),
}

impl Target {
    /// The configured store's target.
    pub fn configured(loaded: &Loaded) -> Self {
        match crate::wiring::sqlite_path(loaded) {
            Some(p) => Target::Sqlite(p),
            None => Target::Postgres(
                loaded
                    .settings
                    .database
                    .url
                    .as_ref()
                    .map(|u| u.expose().to_owned())
                    .unwrap_or_default(),
            ),
        }
    }

    fn shown(&self) -> String {
        match self {
            Target::Sqlite(p) => p.display().to_string(),
            // Host, port and database only: no user, password or parameters.
            Target::Postgres(u) => match url::Url::parse(u) {
                Ok(url) => format!(
                    "postgres://{}{}{}",
                    url.host_str().unwrap_or("localhost"),
                    url.port().map(|p| format!(":{p}")).unwrap_or_default(),
                    url.path()
                ),
                Err(_) => "the PostgreSQL database".into(),
            },
        }
    }
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub target: String,
    pub rows: u64,
    pub tables: usize,
    pub seconds: f64,
    /// The schema version of the backup (newer migrations ran after it).
    pub from_schema: i64,
    /// With `--force`: the backup of what the destination held before.
    pub safety_backup: Option<PathBuf>,
    /// Files written into the data directory.
    pub files: Vec<PathBuf>,
    /// Rows per table, as the backup's manifest lists them.
    pub table_rows: std::collections::BTreeMap<String, u64>,
}

async fn open(target: &Target) -> Result<Arc<dyn Store>, AppError> {
    Ok(match target {
        Target::Sqlite(p) => Arc::new(SqliteStore::open(p).await?),
        Target::Postgres(u) => Arc::new(PgStore::connect(u).await?),
    })
}

/// Restores the backup at `file` into `target`; `data_dir` receives the
/// owner's files. `progress` counts rows restored.
pub async fn restore(
    loaded: &Loaded,
    file: &Path,
    target: &Target,
    data_dir: &Path,
    force: bool,
    progress: Arc<AtomicU64>,
) -> Result<Restored, AppError> {
    let started = std::time::Instant::now();
    if data_dir == loaded.data_dir && crate::wiring::serve_is_running(&loaded.data_dir) {
        return Err(invalid(
            "`openzero serve` is running on this data directory: stop it first (systemctl stop openzero), then restore; nothing was changed",
        ));
    }
    let unseal = Arc::new(unseal(loaded)?);
    // 1. The whole file checked before anything changes.
    let (p, u) = (file.to_owned(), unseal.clone());
    let (header, manifest) = tokio::task::spawn_blocking(move || verify_file(&p, &u))
        .await
        .map_err(|e| invalid(e.to_string()))??;

    // 2. The destination: empty, or backed up first with --force.
    let mut safety_backup = None;
    let exists = match target {
        Target::Sqlite(p) => p.exists(),
        Target::Postgres(_) => true,
    };
    if exists {
        let store = open(target).await?;
        let holds = store.holds_data().await;
        let outcome = match holds {
            Ok(true) if !force => Err(invalid(format!(
                "{} already holds data; nothing was changed. Restore into an empty place (--data-dir, --database-url), or add --force to replace it (what is there is backed up first)",
                target.shown()
            ))),
            Ok(true) => {
                let to = super::dir(loaded).join("before-restore");
                super::create(loaded, &store, Some(&to), Arc::new(AtomicU64::new(0)))
                    .await
                    .map(|c| Some(c.path))
            }
            Ok(false) => Ok(None),
            Err(e) => Err(e.into()),
        };
        store.close().await;
        safety_backup = outcome?;
    }

    // 3. The rows streamed in; the destination changes only when all is in.
    let (tx, rx) = tokio::sync::mpsc::channel::<DumpItem>(1024);
    let (p, u, counter) = (file.to_owned(), unseal.clone(), progress.clone());
    let reader = tokio::task::spawn_blocking(move || -> Result<Vec<(String, Vec<u8>)>, String> {
        let f = std::fs::File::open(&p).map_err(|e| e.to_string())?;
        let mut r = Reader::open(std::io::BufReader::with_capacity(1 << 20, f), &u)
            .map_err(|e| e.to_string())?;
        let mut files = Vec::new();
        while let Some(entry) = r.next_entry().map_err(|e| e.to_string())? {
            match entry {
                Entry::Item(item) => {
                    if matches!(item, DumpItem::Row(_)) {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    if tx.blocking_send(item).is_err() {
                        return Err(READER_STOPPED.into());
                    }
                }
                Entry::File { name, bytes } => files.push((name, bytes)),
            }
        }
        // Only now, with the manifest checked, may the restore commit.
        let _ = tx.blocking_send(DumpItem::End);
        Ok(files)
    });
    let version = header.schema_version;
    let loaded_rows = match target {
        Target::Sqlite(path) => restore_sqlite(path, version, rx).await,
        Target::Postgres(url) => PgStore::restore_into(url, version, rx)
            .await
            .map_err(Into::into),
    };
    let files = reader.await.map_err(|e| invalid(e.to_string()))?;
    // The reader failing (the file changed since it was checked) leaves the
    // restore without its end: the reader's error is the cause.
    let files = match (&loaded_rows, files) {
        (_, Err(e)) if e != READER_STOPPED => {
            return Err(invalid(format!("{}: {e}", file.display())));
        }
        (_, Err(_)) => Vec::new(),
        (_, Ok(f)) => f,
    };
    let rows = loaded_rows?;

    // 4. The owner's files.
    let written = restore_files(loaded, data_dir, &files)?;
    Ok(Restored {
        target: target.shown(),
        rows,
        tables: manifest.tables.len(),
        seconds: started.elapsed().as_secs_f64(),
        from_schema: header.schema_version,
        safety_backup,
        files: written,
        table_rows: manifest
            .tables
            .iter()
            .map(|(k, v)| (k.clone(), v.rows))
            .collect(),
    })
}

/// Builds the database beside `path` and moves it into place when whole.
async fn restore_sqlite(
    path: &Path,
    version: i64,
    rx: tokio::sync::mpsc::Receiver<DumpItem>,
) -> Result<u64, AppError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::wiring::ensure_data_dir(dir)?;
    let building = path.with_extension("db.restoring");
    let sidecars = |p: &Path| {
        for ext in ["-wal", "-shm", "-journal"] {
            let mut s = p.as_os_str().to_owned();
            s.push(ext);
            let _ = std::fs::remove_file(PathBuf::from(s));
        }
    };
    let _ = std::fs::remove_file(&building);
    sidecars(&building);
    match SqliteStore::restore_into(&building, version, rx).await {
        Ok(rows) => {
            // The old database is moved aside whole (with its journal, which
            // must not be replayed onto the new one), never deleted.
            if path.exists() {
                let aside = aside_name(path);
                let with = |p: &Path, ext: &str| {
                    let mut s = p.as_os_str().to_owned();
                    s.push(ext);
                    PathBuf::from(s)
                };
                std::fs::rename(path, &aside).map_err(|e| io_err("cannot move", path, e))?;
                let _ = std::fs::rename(with(path, "-wal"), with(&aside, "-wal"));
                let _ = std::fs::remove_file(with(path, "-shm"));
                let _ = std::fs::remove_file(with(path, "-journal"));
            }
            std::fs::rename(&building, path).map_err(|e| io_err("cannot move", &building, e))?;
            sidecars(&building);
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(rows)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&building);
            sidecars(&building);
            Err(e.into())
        }
    }
}

/// `NAME.before-restore`, or with the time added when that exists already
/// (an earlier restore's copy is never overwritten).
fn aside_name(path: &Path) -> PathBuf {
    let plain = PathBuf::from(format!("{}.before-restore", path.display()));
    if !plain.exists() {
        return plain;
    }
    PathBuf::from(format!(
        "{}.before-restore-{}",
        path.display(),
        crate::clock::now().format("%Y%m%dT%H%M%S%.6f")
    ))
}

/// Writes the backup's files: persona and about-me into the data directory
/// (a different one already there is kept as `NAME.before-restore`), the
/// configuration only where none exists (else as `openzero.toml.restored`,
/// to compare by hand: this machine's database URL and paths may differ).
fn restore_files(
    loaded: &Loaded,
    data_dir: &Path,
    files: &[(String, Vec<u8>)],
) -> Result<Vec<PathBuf>, AppError> {
    let mut written = Vec::new();
    for (name, bytes) in files {
        if !super::FILES.contains(&name.as_str()) {
            continue;
        }
        let mut dest = if name == CONFIG_FILE && data_dir == loaded.data_dir {
            loaded.config_file.clone()
        } else {
            data_dir.join(name)
        };
        if let Ok(existing) = std::fs::read(&dest) {
            if existing == *bytes {
                continue;
            }
            if name == CONFIG_FILE {
                dest = dest.with_extension("toml.restored");
            } else {
                let aside = aside_name(&dest);
                std::fs::rename(&dest, &aside).map_err(|e| io_err("cannot move", &dest, e))?;
            }
        }
        if let Some(parent) = dest.parent() {
            crate::wiring::ensure_data_dir(parent)?;
        }
        let text = String::from_utf8_lossy(bytes);
        crate::wiring::write_private_file(&dest, &text)
            .map_err(|e| io_err("cannot write", &dest, e))?;
        written.push(dest);
    }
    Ok(written)
}

/// What a restore drill found.
#[derive(Debug, Clone, Serialize)]
pub struct Drill {
    pub file: PathBuf,
    pub rows: u64,
    pub seconds: f64,
}

/// The restore drill: the newest backup restored into a temporary SQLite
/// store, then read back — every table's row count against the manifest,
/// and the project tree and memory through the ports a user's commands use.
pub async fn drill(loaded: &Loaded) -> Result<Drill, AppError> {
    let started = std::time::Instant::now();
    let newest = super::list(&super::dir(loaded))?
        .into_iter()
        .next()
        .ok_or_else(|| invalid("there is no backup to drill yet"))?;
    let scratch = loaded
        .data_dir
        .join(format!(".restore-drill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let result = async {
        let db = scratch.join("drill.db");
        let target = Target::Sqlite(db.clone());
        let r = restore(
            loaded,
            &newest.path,
            &target,
            &scratch,
            false,
            Arc::new(AtomicU64::new(0)),
        )
        .await?;
        let store = SqliteStore::open(&db).await?;
        use openzero_store::prelude::*;
        let checked = async {
            let counts = store.table_counts().await?;
            for (table, want) in &r.table_rows {
                let got = counts.get(table).copied().unwrap_or(0);
                if got != *want {
                    return Err(invalid(format!(
                        "the drill restored {got} rows of {table}, the backup holds {want}"
                    )));
                }
            }
            store.list_projects().await?;
            store.memory_stats("").await?;
            Ok::<_, AppError>(())
        }
        .await;
        store.close().await;
        checked.map(|()| r.rows)
    }
    .await;
    let _ = std::fs::remove_dir_all(&scratch);
    let rows = result?;
    Ok(Drill {
        file: newest.path,
        rows,
        seconds: started.elapsed().as_secs_f64(),
    })
}
