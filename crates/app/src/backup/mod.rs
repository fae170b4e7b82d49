//! Encrypted backups: create, list, verify, retention; restore and the
//! restore drill in [`restore`]; the jobs and the health check in [`jobs`].
//!
//! A backup is one file `openzero-YYYY-MM-DDTHHMMSSZ.jsonl.zst.age` (see
//! `openzero-backup` for what is inside): every table from one snapshot
//! taken while `serve` runs, streamed in constant memory (the store's dump
//! feeds a writer thread through a bounded channel), plus the owner's files.
//! It is written as `….partial`, synced, then renamed: a file with the final
//! name is always whole. It is verified right after writing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, SubsecRound, Utc};
use openzero_backup::age::secrecy::SecretString;
use openzero_backup::{Header, Keep, Manifest, Seal, Unseal, Writer};
use openzero_config::Loaded;
use openzero_store::Store;
use openzero_store::backup::DumpItem;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{AppError, clock};

pub mod jobs;
pub mod restore;

/// The owner's files a backup carries besides the database, by the name
/// they have in the data directory (`openzero.toml` is the configuration
/// file wherever it lives).
pub const FILES: &[&str] = &[
    crate::agent::PERSONA_FILE,
    crate::agent::ABOUT_ME_FILE,
    crate::mail_gmail::TOKEN_FILE,
    crate::strava::TOKEN_FILE,
    crate::calendar_sources::SECRETS_FILE,
    CONFIG_FILE,
];

/// The name the configuration file has inside a backup.
pub const CONFIG_FILE: &str = "openzero.toml";

/// What the writer says when the dump ended without its last item.
const DUMP_STOPPED: &str = "the database dump stopped before its end";

const PREFIX: &str = "openzero-";
const SUFFIX: &str = ".jsonl.zst.age";

fn invalid(e: impl std::fmt::Display) -> AppError {
    AppError::Invalid(e.to_string())
}

/// Where backups go: `backup.dir` or `DATA_DIR/backups`.
pub fn dir(loaded: &Loaded) -> PathBuf {
    loaded
        .settings
        .backup
        .dir
        .clone()
        .unwrap_or_else(|| loaded.data_dir.join("backups"))
}

/// Whether backups can be written: a passphrase or recipients are set.
pub fn configured(loaded: &Loaded) -> bool {
    let b = &loaded.settings.backup;
    b.passphrase.is_some()
        || b.recipients
            .as_deref()
            .is_some_and(|r| !r.trim().is_empty())
}

/// The key backups are written with: recipients when set (the server then
/// cannot read its own backups), else the passphrase.
pub fn seal(loaded: &Loaded) -> Result<Seal, AppError> {
    let b = &loaded.settings.backup;
    if let Some(r) = b.recipients.as_deref().filter(|r| !r.trim().is_empty()) {
        let list = openzero_backup::parse_recipients(r.split([',', ' ', '\n']))
            .map_err(|e| invalid(format!("backup.recipients: {e}")))?;
        return Ok(Seal::Recipients(list));
    }
    match &b.passphrase {
        Some(p) if p.expose().trim().len() >= 8 => Ok(Seal::Passphrase(SecretString::from(
            p.expose().trim().to_owned(),
        ))),
        Some(_) => Err(invalid(
            "the backup passphrase is shorter than 8 characters; choose a longer one",
        )),
        None => Err(invalid(
            "backups need a key: set BACKUP_PASSPHRASE (or backup.passphrase_file), or age public keys in backup.recipients",
        )),
    }
}

/// Whether this machine can open its own backups: the passphrase for
/// passphrase backups, an identity file for recipient backups.
pub fn can_open(loaded: &Loaded) -> bool {
    let b = &loaded.settings.backup;
    match b.recipients.as_deref() {
        Some(r) if !r.trim().is_empty() => b.identity_file.is_some(),
        _ => b.passphrase.is_some(),
    }
}

/// What may open backups here: the passphrase and the identity file, if set.
pub fn unseal(loaded: &Loaded) -> Result<Unseal, AppError> {
    let b = &loaded.settings.backup;
    let mut u = Unseal::default();
    if let Some(p) = &b.passphrase {
        u.passphrase = Some(SecretString::from(p.expose().trim().to_owned()));
    }
    if let Some(f) = &b.identity_file {
        let text = std::fs::read_to_string(f)
            .map_err(|e| invalid(format!("backup.identity_file {}: {e}", f.display())))?;
        u.identities = openzero_backup::parse_identities(&text)
            .map_err(|e| invalid(format!("backup.identity_file {}: {e}", f.display())))?;
    }
    Ok(u)
}

/// A backup's file name for its time.
pub fn file_name(at: DateTime<Utc>) -> String {
    format!("{PREFIX}{}{SUFFIX}", at.format("%Y-%m-%dT%H%M%SZ"))
}

/// The time in a backup's file name, if it is one.
pub fn time_of(name: &str) -> Option<DateTime<Utc>> {
    let stamp = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc())
}

/// A backup's size for people: KB under a megabyte, else MB.
pub fn size(bytes: u64) -> String {
    if bytes < 1_000_000 {
        format!("{:.0} KB", (bytes as f64 / 1e3).ceil())
    } else {
        format!("{:.1} MB", bytes as f64 / 1e6)
    }
}

/// One backup file on disk.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub path: PathBuf,
    pub created_at: DateTime<Utc>,
    pub bytes: u64,
}

/// The backups in `dir`, newest first (half-written `.partial` files are
/// not backups and are not listed).
pub fn list(dir: &Path) -> Result<Vec<Listed>, AppError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(invalid(format!("{}: {e}", dir.display()))),
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(created_at) = time_of(&name) {
            let bytes = e.metadata().map(|m| m.len()).unwrap_or(0);
            out.push(Listed {
                path: e.path(),
                created_at,
                bytes,
            });
        }
    }
    out.sort_by_key(|b| std::cmp::Reverse(b.created_at));
    Ok(out)
}

/// How a new backup was checked right after writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Checked {
    /// Decrypted and every row checked against the manifest.
    Full,
    /// Encrypted to keys this machine does not hold: its bytes on disk were
    /// read back and match what was written.
    Bytes,
}

/// A backup written.
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    pub path: PathBuf,
    pub bytes: u64,
    pub rows: u64,
    pub tables: usize,
    pub files: Vec<String>,
    pub seconds: f64,
    pub checked: Checked,
    /// Where the copy in `backup.second_dir` went.
    pub copy: Option<PathBuf>,
    /// Older backups removed by the retention.
    pub removed: Vec<PathBuf>,
}

/// A writer that hashes what passes through (the ciphertext, to check the
/// file on disk afterwards).
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: std::io::Write> std::io::Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(hex(h.finalize()))
}

fn hex(d: impl AsRef<[u8]>) -> String {
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates `path` for writing, owner-only, failing if it exists.
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// The owner's files as they are now: (name in the backup, bytes).
fn owner_files(loaded: &Loaded) -> Vec<(String, Vec<u8>)> {
    FILES
        .iter()
        .filter_map(|name| {
            let path = if *name == CONFIG_FILE {
                loaded.config_file.clone()
            } else {
                loaded.data_dir.join(name)
            };
            std::fs::read(&path).ok().map(|b| ((*name).to_owned(), b))
        })
        .collect()
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> AppError {
    let hint = if e.raw_os_error() == Some(28) {
        " (the disk is full; nothing was kept)"
    } else {
        ""
    };
    invalid(format!("{what} {}: {e}{hint}", path.display()))
}

/// Writes one backup of `store` into `to` (default [`dir`]), checks it,
/// copies it to `backup.second_dir` and, in the default directory, applies
/// the retention. `progress` sees the rows written so far.
pub async fn create(
    loaded: &Loaded,
    store: &Arc<dyn Store>,
    to: Option<&Path>,
    progress: Arc<AtomicU64>,
) -> Result<Created, AppError> {
    let started = std::time::Instant::now();
    let seal = seal(loaded)?;
    let target = to.map_or_else(|| dir(loaded), Path::to_path_buf);
    crate::wiring::ensure_data_dir(&target)?;
    let now = clock::now().trunc_subsecs(0);
    let header = Header {
        openzero_backup: openzero_backup::FORMAT_VERSION,
        created_at: now,
        openzero: env!("CARGO_PKG_VERSION").to_owned(),
        backend: store.backend().as_str().to_owned(),
        schema_version: store.schema_version().await?,
    };
    let mut name = file_name(now);
    // Two backups in one second (a manual one beside the job): the later
    // waits for the next second's name rather than overwrite.
    while target.join(&name).exists() {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        name = file_name(clock::now().trunc_subsecs(0));
    }
    let final_path = target.join(&name);
    let partial = target.join(format!("{name}.{}.partial", std::process::id()));
    remove_stale_partials(&target);
    let file = create_private(&partial).map_err(|e| io_err("cannot write", &partial, e))?;
    let files = owner_files(loaded);
    let file_names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();

    let (tx, mut rx) = tokio::sync::mpsc::channel::<DumpItem>(1024);
    let counter = progress.clone();
    let writer = tokio::task::spawn_blocking(move || -> Result<(Manifest, String, u64), String> {
        let out = Hashing {
            inner: std::io::BufWriter::with_capacity(1 << 20, file),
            hash: Sha256::new(),
            bytes: 0,
        };
        let mut w = Writer::new(out, &seal, &header).map_err(|e| e.to_string())?;
        let mut ended = false;
        while let Some(item) = rx.blocking_recv() {
            if matches!(item, DumpItem::Row(_)) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            let end = item == DumpItem::End;
            w.item(&item).map_err(|e| e.to_string())?;
            if end {
                ended = true;
                break;
            }
        }
        if !ended {
            return Err(DUMP_STOPPED.into());
        }
        for (name, bytes) in &files {
            w.file(name, bytes).map_err(|e| e.to_string())?;
        }
        let (out, manifest) = w.finish().map_err(|e| e.to_string())?;
        let file = out.inner.into_inner().map_err(|e| e.error().to_string())?;
        file.sync_all().map_err(|e| e.to_string())?;
        Ok((manifest, hex(out.hash.finalize()), out.bytes))
    });
    let dumped = store.dump(tx).await;
    let written = writer
        .await
        .map_err(|e| invalid(format!("the backup writer failed: {e}")));
    let (manifest, sha, bytes) = match (dumped, written) {
        (Ok(()), Ok(Ok(w))) => w,
        // The writer failing (a full disk) stops the dump: its error is the cause.
        (_, Ok(Err(e))) if !e.starts_with(DUMP_STOPPED) => {
            let _ = std::fs::remove_file(&partial);
            let hint = if e.contains("os error 28") {
                " (the disk is full; nothing was kept)"
            } else {
                ""
            };
            return Err(invalid(format!(
                "the backup could not be written: {e}{hint}"
            )));
        }
        (Err(e), _) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e.into());
        }
        (Ok(()), Ok(Err(e))) => {
            let _ = std::fs::remove_file(&partial);
            return Err(invalid(format!("the backup could not be written: {e}")));
        }
        (_, Err(e)) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, &final_path).map_err(|e| io_err("cannot rename", &partial, e))?;
    sync_dir(&target);

    // Checked right after writing: fully when this machine can open it.
    let checked = if can_open(loaded) {
        let unseal = unseal(loaded)?;
        let path = final_path.clone();
        let (_, m) = tokio::task::spawn_blocking(move || verify_file(&path, &unseal))
            .await
            .map_err(|e| invalid(e.to_string()))??;
        if m != manifest {
            return Err(invalid(format!(
                "{} does not read back as written",
                final_path.display()
            )));
        }
        Checked::Full
    } else {
        let path = final_path.clone();
        let on_disk = tokio::task::spawn_blocking(move || sha256_file(&path))
            .await
            .map_err(|e| invalid(e.to_string()))?
            .map_err(|e| io_err("cannot read back", &final_path, e))?;
        if on_disk != sha {
            return Err(invalid(format!(
                "{} on disk differs from what was written",
                final_path.display()
            )));
        }
        Checked::Bytes
    };

    let copy = match &loaded.settings.backup.second_dir {
        Some(second) => Some(copy_to(&final_path, second, &sha).await?),
        None => None,
    };
    let mut removed = Vec::new();
    if to.is_none() {
        removed.extend(prune(loaded, &target)?);
        if let Some(second) = &loaded.settings.backup.second_dir {
            removed.extend(prune(loaded, second)?);
        }
    }
    let created = Created {
        path: final_path,
        bytes,
        rows: manifest.rows(),
        tables: manifest.tables.len(),
        files: file_names,
        seconds: started.elapsed().as_secs_f64(),
        checked,
        copy,
        removed,
    };
    tracing::info!(
        path = %created.path.display(),
        bytes = created.bytes,
        rows = created.rows,
        seconds = created.seconds,
        "backup written"
    );
    Ok(created)
}

/// Removes `.partial` files a killed backup left more than an hour ago.
fn remove_stale_partials(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(3600));
        if name.starts_with(PREFIX) && name.ends_with(".partial") && old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Copies a backup into `second`, checks the copy's bytes, and returns its path.
async fn copy_to(path: &Path, second: &Path, sha: &str) -> Result<PathBuf, AppError> {
    let name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    let dest = second.join(&name);
    let tmp = second.join(format!(
        "{}.{}.partial",
        name.to_string_lossy(),
        std::process::id()
    ));
    let (src, sha) = (path.to_owned(), sha.to_owned());
    let (dest2, tmp2, second2) = (dest.clone(), tmp.clone(), second.to_owned());
    tokio::task::spawn_blocking(move || -> Result<(), AppError> {
        crate::wiring::ensure_data_dir(&second2)?;
        let mut from = std::fs::File::open(&src).map_err(|e| io_err("cannot read", &src, e))?;
        let mut to = create_private(&tmp2).map_err(|e| io_err("cannot write", &tmp2, e))?;
        let copied = std::io::copy(&mut from, &mut to).and_then(|_| to.sync_all());
        if let Err(e) = copied {
            let _ = std::fs::remove_file(&tmp2);
            return Err(io_err("cannot copy to", &tmp2, e));
        }
        let on_disk = sha256_file(&tmp2).map_err(|e| io_err("cannot read back", &tmp2, e))?;
        if on_disk != sha {
            let _ = std::fs::remove_file(&tmp2);
            return Err(invalid(format!(
                "the copy in {} differs",
                second2.display()
            )));
        }
        std::fs::rename(&tmp2, &dest2).map_err(|e| io_err("cannot rename", &tmp2, e))?;
        sync_dir(&second2);
        Ok(())
    })
    .await
    .map_err(|e| invalid(e.to_string()))??;
    Ok(dest)
}

/// Applies `backup.keep_*` to the backups in `dir`; returns what it removed.
pub fn prune(loaded: &Loaded, dir: &Path) -> Result<Vec<PathBuf>, AppError> {
    let b = &loaded.settings.backup;
    let keep = Keep {
        daily: b.keep_daily,
        weekly: b.keep_weekly,
        monthly: b.keep_monthly,
    };
    let all: Vec<(PathBuf, DateTime<Utc>)> = list(dir)?
        .into_iter()
        .map(|l| (l.path, l.created_at))
        .collect();
    let gone = openzero_backup::to_remove(&all, loaded.settings.general.timezone.0, keep);
    for p in &gone {
        if let Err(e) = std::fs::remove_file(p) {
            tracing::warn!(path = %p.display(), error = %e, "backup retention: cannot remove");
        }
    }
    Ok(gone)
}

/// Reads a whole backup file and checks it against its manifest.
pub fn verify_file(path: &Path, unseal: &Unseal) -> Result<(Header, Manifest), AppError> {
    let f = std::fs::File::open(path).map_err(|e| io_err("cannot read", path, e))?;
    openzero_backup::verify(std::io::BufReader::with_capacity(1 << 20, f), unseal)
        .map_err(|e| invalid(format!("{}: {e}", path.display())))
}

/// What `backup verify` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    pub path: PathBuf,
    pub created_at: DateTime<Utc>,
    pub openzero: String,
    pub backend: String,
    pub schema_version: i64,
    pub rows: u64,
    pub tables: std::collections::BTreeMap<String, u64>,
    pub files: Vec<String>,
}

/// `backup verify FILE`: decrypts and checks every line.
pub async fn verify(loaded: &Loaded, path: &Path) -> Result<Verified, AppError> {
    let unseal = unseal(loaded)?;
    let p = path.to_owned();
    let (h, m) = tokio::task::spawn_blocking(move || verify_file(&p, &unseal))
        .await
        .map_err(|e| invalid(e.to_string()))??;
    Ok(Verified {
        path: path.to_owned(),
        created_at: h.created_at,
        openzero: h.openzero,
        backend: h.backend,
        schema_version: h.schema_version,
        rows: m.rows(),
        tables: m.tables.iter().map(|(k, v)| (k.clone(), v.rows)).collect(),
        files: m.files.keys().cloned().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_their_time_and_nothing_else_is_a_backup() {
        let t = DateTime::parse_from_rfc3339("2026-11-30T03:00:07Z")
            .unwrap()
            .with_timezone(&Utc);
        let n = file_name(t);
        assert_eq!(n, "openzero-2026-11-30T030007Z.jsonl.zst.age");
        assert_eq!(time_of(&n), Some(t));
        assert_eq!(time_of(&format!("{n}.123.partial")), None);
        assert_eq!(time_of("openzero.db"), None);
    }
}
