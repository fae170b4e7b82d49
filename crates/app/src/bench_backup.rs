//! `openzero bench backup`: an encrypted backup of 100,000 memories with
//! their vectors and its restore, beside SQLite's own online backup
//! (`sqlite3 .backup`) with the same compression and encryption, and that
//! file decrypted back into place. Targets (the backups issue): backup
//! ≤ 10 s, restore ≤ 30 s.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use openzero_backup::age::secrecy::SecretString;
use openzero_config::Loaded;
use openzero_config::{Secret, Settings};
use openzero_store::Store;
use openzero_store_sqlite::SqliteStore;

use crate::AppError;
use crate::backup::restore::{self, Target};
use crate::bench::{Figure, Report, fig, machine};

/// Backup and restore targets, in seconds.
pub const BACKUP_TARGET_S: f64 = 10.0;
pub const RESTORE_TARGET_S: f64 = 30.0;

const PASSPHRASE: &str = "benchmark passphrase, not a secret";

fn invalid(e: impl std::fmt::Display) -> AppError {
    AppError::Invalid(e.to_string())
}

fn loaded(data_dir: &Path) -> Loaded {
    let mut settings = Settings::default();
    settings.backup.passphrase = Some(Secret::new(PASSPHRASE));
    Loaded {
        settings,
        data_dir: data_dir.to_owned(),
        config_file: data_dir.join("openzero.toml"),
        config_file_found: false,
        warnings: Vec::new(),
        origins: Default::default(),
    }
}

fn with_baseline(mut f: Figure, base: f64, name: &str) -> Figure {
    f.baseline = Some(base);
    f.baseline_name = name.into();
    f
}

/// Runs the benchmark in `work_dir` with `memories` memories; with
/// `postgres` (a URL allowed to create databases) the restore into
/// PostgreSQL and a backup from it are timed too. `say` gets progress.
pub async fn backup(
    work_dir: &Path,
    memories: usize,
    postgres: Option<&str>,
    say: &(dyn Fn(&str) + Sync),
) -> Result<Report, AppError> {
    let mut report = Report {
        figures: Vec::new(),
        notes: vec![machine()],
    };
    let _ = std::fs::remove_dir_all(work_dir);
    let data = work_dir.join("data");
    crate::wiring::ensure_data_dir(&data)?;
    let loaded = loaded(&data);
    let db = data.join("openzero.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).await?);
    say(&format!(
        "filling a scratch store with {memories} memories and their vectors"
    ));
    let set = crate::bench::dataset(memories, 0)?;
    crate::bench::fill(&*store, &set).await?;
    drop(set);
    let db_bytes = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);

    say("backup create");
    let backups = work_dir.join("backups");
    let t = Instant::now();
    let made =
        crate::backup::create(&loaded, &store, Some(&backups), Arc::new(AtomicU64::new(0))).await?;
    let ours = t.elapsed().as_secs_f64();
    store.close().await;

    say("baseline: sqlite3 .backup, then zstd and age");
    let (base_backup, sealed) = sqlite_backup_baseline(&db, work_dir)?;

    report.figures.push(with_baseline(
        fig(
            "backup",
            &format!("backup of {memories} memories with vectors, written and checked (SQLite)"),
            "s",
            ours,
            false,
        ),
        base_backup,
        "sqlite3 .backup + zstd + age",
    ));

    say("backup restore into a new SQLite file");
    let restored = work_dir.join("restored");
    let t = Instant::now();
    let r = restore::restore(
        &loaded,
        &made.path,
        &Target::Sqlite(restored.join("openzero.db")),
        &restored,
        false,
        Arc::new(AtomicU64::new(0)),
    )
    .await?;
    let ours_restore = t.elapsed().as_secs_f64();
    say("baseline: the sealed .backup file decrypted and decompressed into place");
    let base_restore = file_restore_baseline(&sealed, &work_dir.join("file-restored.db"))?;
    report.figures.push(with_baseline(
        fig(
            "backup",
            &format!(
                "restore of {} rows into an empty SQLite store (FTS rebuilt)",
                r.rows
            ),
            "s",
            ours_restore,
            false,
        ),
        base_restore,
        "age + zstd + file copy",
    ));

    if let Some(admin) = postgres {
        say("backup restore into PostgreSQL");
        let name = format!("oz_bench_backup_{}", std::process::id());
        let url = openzero_store_postgres::PgStore::create_database(admin, &name).await?;
        let t = Instant::now();
        let pg = restore::restore(
            &loaded,
            &made.path,
            &Target::Postgres(url.clone()),
            &work_dir.join("pg"),
            false,
            Arc::new(AtomicU64::new(0)),
        )
        .await;
        let pg_restore = t.elapsed().as_secs_f64();
        let from_pg = match pg {
            Ok(_) => {
                let store: Arc<dyn Store> =
                    Arc::new(openzero_store_postgres::PgStore::connect(&url).await?);
                let t = Instant::now();
                let made = crate::backup::create(
                    &loaded,
                    &store,
                    Some(&work_dir.join("pg-backups")),
                    Arc::new(AtomicU64::new(0)),
                )
                .await;
                let secs = t.elapsed().as_secs_f64();
                store.close().await;
                made.map(|_| secs)
            }
            Err(e) => Err(e),
        };
        openzero_store_postgres::PgStore::drop_database(admin, &name).await?;
        let from_pg = from_pg?;
        report.figures.push(fig(
            "backup",
            &format!(
                "restore of {} rows into PostgreSQL (pgvector, tsvector and GIN rebuilt)",
                r.rows
            ),
            "s",
            pg_restore,
            false,
        ));
        report.figures.push(fig(
            "backup",
            &format!("backup of {memories} memories with vectors (PostgreSQL)"),
            "s",
            from_pg,
            false,
        ));
    } else {
        report
            .notes
            .push("PostgreSQL not measured: give --postgres URL (scripts/bench does)".into());
    }
    report.notes.push(format!(
        "database {:.0} MB; backup file {:.0} MB; targets: backup ≤ {BACKUP_TARGET_S} s, restore ≤ {RESTORE_TARGET_S} s; \
         both sides pay age's passphrase KDF (scrypt, ~1 s) when sealing and again when opening",
        db_bytes as f64 / 1e6,
        made.bytes as f64 / 1e6
    ));
    report.notes.push(
        "the baseline copies pages, so it restores only to SQLite of the same schema; ours is logical: either backend, older schemas migrated"
            .into(),
    );
    Ok(report)
}

/// `sqlite3 DB ".backup COPY"` (SQLite's online backup; `VACUUM INTO` when
/// the sqlite3 program is missing), then the copy compressed and encrypted
/// like ours. Returns the seconds and the sealed file.
fn sqlite_backup_baseline(db: &Path, work: &Path) -> Result<(f64, std::path::PathBuf), AppError> {
    let copy = work.join("baseline-copy.db");
    let sealed = work.join("baseline.db.zst.age");
    let t = Instant::now();
    let cli = std::process::Command::new("sqlite3")
        .arg(db)
        .arg(format!(".backup '{}'", copy.display()))
        .status();
    if !matches!(cli, Ok(s) if s.success()) {
        let status = std::process::Command::new("sqlite3")
            .arg("-version")
            .status();
        if status.is_ok() {
            return Err(invalid("sqlite3 .backup failed"));
        }
        return Err(invalid(
            "the sqlite3 program is needed for the baseline (apt install sqlite3)",
        ));
    }
    let out = std::fs::File::create(&sealed).map_err(invalid)?;
    let enc = openzero_backup::age::Encryptor::with_user_passphrase(SecretString::from(
        PASSPHRASE.to_owned(),
    ));
    let mut w = enc
        .wrap_output(std::io::BufWriter::new(out))
        .map_err(invalid)?;
    {
        let mut z = zstd::stream::write::Encoder::new(&mut w, 3).map_err(invalid)?;
        let mut f = std::fs::File::open(&copy).map_err(invalid)?;
        std::io::copy(&mut f, &mut z).map_err(invalid)?;
        z.finish().map_err(invalid)?;
    }
    let mut inner = w.finish().map_err(invalid)?;
    inner.flush().map_err(invalid)?;
    inner.get_ref().sync_all().map_err(invalid)?;
    let secs = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&copy);
    Ok((secs, sealed))
}

/// The sealed baseline file opened back into a database file.
fn file_restore_baseline(sealed: &Path, dest: &Path) -> Result<f64, AppError> {
    let t = Instant::now();
    let f = std::fs::File::open(sealed).map_err(invalid)?;
    let dec = openzero_backup::age::Decryptor::new(std::io::BufReader::new(f)).map_err(invalid)?;
    let id = openzero_backup::age::scrypt::Identity::new(SecretString::from(PASSPHRASE.to_owned()));
    let r = dec
        .decrypt(std::iter::once(&id as &dyn openzero_backup::age::Identity))
        .map_err(invalid)?;
    let mut z = zstd::stream::read::Decoder::new(r).map_err(invalid)?;
    let mut out = std::fs::File::create(dest).map_err(invalid)?;
    std::io::copy(&mut z, &mut out).map_err(invalid)?;
    out.sync_all().map_err(invalid)?;
    Ok(t.elapsed().as_secs_f64())
}
