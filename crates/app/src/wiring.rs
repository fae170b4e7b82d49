//! Picking and opening adapters from the settings.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openzero_config::{DbKind, Loaded};
use openzero_core::ProjectError;
use openzero_store::{Store, StoreError};

/// An application-level failure.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Project(#[from] ProjectError),
    #[error("data directory {path}: {detail}; {hint}")]
    DataDir {
        path: PathBuf,
        detail: String,
        hint: &'static str,
    },
    #[error("nothing to change: give at least one of the options (see --help)")]
    EmptyUpdate,
    #[error(transparent)]
    Memory(#[from] openzero_core::MemoryError),
    #[error(transparent)]
    Notify(#[from] openzero_core::notify::NotifyError),
    #[error(transparent)]
    Model(#[from] openzero_core::llm::LlmError),
    /// No model could be loaded; says why.
    #[error("{0}")]
    ModelUnavailable(String),
    #[error("{0}")]
    Invalid(String),
}

/// Creates the data directory (owner-only) if needed and checks that it is
/// writable, without touching anything already in it.
pub fn ensure_data_dir(path: &Path) -> Result<(), AppError> {
    let fail = |e: std::io::Error| {
        let (detail, hint) = match (e.raw_os_error(), e.kind()) {
            (Some(30), _) => (
                "the file system is read-only".to_owned(),
                "choose a writable place with --data-dir or OPENZERO_DATA_DIR",
            ),
            (Some(28), _) => (
                "the disk is full".to_owned(),
                "free some space and retry (nothing was written)",
            ),
            (_, ErrorKind::PermissionDenied) => (
                "permission denied".to_owned(),
                "fix its permissions or choose another with --data-dir or OPENZERO_DATA_DIR",
            ),
            (Some(20), _) | (_, ErrorKind::AlreadyExists) => (
                "a file is in the way (not a directory)".to_owned(),
                "move it aside or choose another with --data-dir",
            ),
            _ => (
                e.to_string(),
                "check the path, or choose another with --data-dir or OPENZERO_DATA_DIR",
            ),
        };
        AppError::DataDir {
            path: path.to_owned(),
            detail,
            hint,
        }
    };
    if !path.is_dir() {
        create_private_dir(path).map_err(fail)?;
    }
    // Prove we can write here before anything depends on it. The probe is
    // this process's own: two commands starting at once (serve and a CLI
    // command) must not remove each other's.
    let probe = path.join(format!(".openzero-write-probe-{}", std::process::id()));
    let written = std::fs::write(&probe, b"ok");
    let removed = std::fs::remove_file(&probe);
    written.map_err(fail)?;
    match removed {
        Err(e) if e.kind() != ErrorKind::NotFound => return Err(fail(e)),
        _ => {}
    }
    Ok(())
}

#[cfg(unix)]
fn create_private_dir(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

#[cfg(not(unix))]
fn create_private_dir(path: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(path)
}

/// Where the SQLite database lives for these settings, if SQLite is used.
pub fn sqlite_path(loaded: &Loaded) -> Option<PathBuf> {
    match &loaded.settings.database.url {
        None => Some(
            loaded
                .data_dir
                .join(openzero_store_sqlite::DEFAULT_FILE_NAME),
        ),
        Some(u) if u.kind() == DbKind::Sqlite => u.sqlite_path().map(PathBuf::from),
        Some(_) => None,
    }
}

/// Opens the configured store (SQLite in the data directory by default) and
/// runs its migrations.
pub async fn open_store(loaded: &Loaded) -> Result<Arc<dyn Store>, AppError> {
    if let Some(path) = sqlite_path(loaded) {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            ensure_data_dir(dir)?;
        }
        let store = openzero_store_sqlite::SqliteStore::open(&path).await?;
        return Ok(Arc::new(store));
    }
    let url = loaded
        .settings
        .database
        .url
        .as_ref()
        .map(|u| u.expose().to_owned())
        .unwrap_or_default();
    let store = openzero_store_postgres::PgStore::connect(&url).await?;
    Ok(Arc::new(store))
}

/// The file `serve` holds locked in its data directory while it runs, so a
/// restore can refuse to replace a database in use.
pub const SERVE_LOCK: &str = "serve.lock";

/// Takes the serve lock on `data_dir`; it is held while the file stays
/// open. `None` (with a warning) when it cannot be taken: another `serve`
/// holds it, or the directory is not writable — serving goes on either way.
pub fn lock_serve(data_dir: &Path) -> Option<std::fs::File> {
    let path = data_dir.join(SERVE_LOCK);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(&path);
    match file.map(|f| (f.try_lock(), f)) {
        Ok((Ok(()), f)) => Some(f),
        Ok((Err(std::fs::TryLockError::WouldBlock), _)) => {
            tracing::warn!(path = %path.display(), "another openzero serve is running on this data directory");
            None
        }
        Ok((Err(std::fs::TryLockError::Error(e)), _)) | Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot take the serve lock");
            None
        }
    }
}

/// Whether a `serve` holds the lock on `data_dir`.
pub fn serve_is_running(data_dir: &Path) -> bool {
    let Ok(f) = std::fs::OpenOptions::new()
        .write(true)
        .open(data_dir.join(SERVE_LOCK))
    else {
        return false;
    };
    matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}

/// Writes `text` to `path` (created or truncated) readable by the owner
/// only (0600) and flushed to disk.
pub fn write_private_file(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// Replaces `path` with `text` whole or not at all: an owner-only temporary
/// file beside it (`tmp`), flushed, then renamed over it.
pub fn replace_private_file(path: &Path, tmp: &Path, text: &str) -> std::io::Result<()> {
    let done = write_private_file(tmp, text).and_then(|()| std::fs::rename(tmp, path));
    if done.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    done
}
