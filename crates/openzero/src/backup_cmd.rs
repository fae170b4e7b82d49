//! `openzero backup create|list|verify|restore|drill`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Result;
use clap::Subcommand;
use openzero_app::backup::{self, restore};
use openzero_config::Loaded;

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Write an encrypted backup of everything now (safe while `serve` runs)
    #[command(after_help = "\
Examples:
  BACKUP_PASSPHRASE='long and private' openzero backup create
  openzero backup create --to /mnt/usb/openzero
  openzero backup create --json

The last line printed is the path of the file written. The backup holds
every table (vectors included, so a restore needs no re-embedding),
persona.md, about-me.md, the configuration and the connection tokens;
it is compressed, encrypted with age (backup.passphrase or
backup.recipients), written as .partial then renamed, and checked right
after writing. Without --to, backup.keep_* decides which older ones go.")]
    Create {
        /// Directory to write into (default backup.dir, else DATA_DIR/backups)
        #[arg(long, value_name = "DIR")]
        to: Option<PathBuf>,
        /// Print the result as JSON (path, bytes, rows, tables, seconds, checked)
        #[arg(long)]
        json: bool,
    },

    /// The backups in the backup directory, newest first
    #[command(after_help = "\
Examples:
  openzero backup list
  openzero backup list --dir /mnt/usb/openzero --json")]
    List {
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },

    /// Decrypt a backup and check every row against its manifest
    #[command(after_help = "\
Examples:
  openzero backup verify ~/.local/share/openzero/backups/openzero-2026-11-30T030000Z.jsonl.zst.age
  openzero backup verify FILE --json

A wrong passphrase, a file cut short or changed by even one byte is
refused with the reason; exit status 1.")]
    Verify {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },

    /// Restore a backup into an empty store (or, with --force, over one)
    #[command(after_help = "\
Examples:
  openzero backup restore FILE                       # into the configured store
  openzero --data-dir /srv/oz backup restore FILE    # a new SQLite data directory
  openzero backup restore FILE --database-url postgres://oz@db/openzero
  echo \"$URL\" | openzero backup restore FILE --database-url -
  openzero backup restore FILE --force               # replace; what is there is backed up first

Stop `openzero serve` first. The whole file is checked before anything is
touched; the database is replaced only once every row is in (a new SQLite
file moved into place, or one PostgreSQL transaction). A backup from an
older OpenZero is brought up to date by the migrations; either backend
restores onto either. persona.md and about-me.md go into the data
directory (a different one there is kept as NAME.before-restore); the
configuration is written as openzero.toml.restored when one exists.")]
    Restore {
        file: PathBuf,
        /// Restore into this PostgreSQL database instead of the configured
        /// store; `-` reads the URL from standard input (keeps its password
        /// out of the process list)
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// Replace a store that holds data (it is backed up first)
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },

    /// Restore the newest backup into a scratch store and read it back
    #[command(after_help = "\
Examples:
  openzero backup drill

What the weekly restore-drill job does: a backup is good only once it
has been restored.")]
    Drill {
        #[arg(long)]
        json: bool,
    },
}

fn spinner(what: &str) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let b = indicatif::ProgressBar::new_spinner();
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} {msg} {pos} rows ({per_sec})")
    {
        b.set_style(style);
    }
    b.set_message(what.to_owned());
    b.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(b)
}

/// Mirrors `counter` into `bar` until the returned handle is dropped.
fn follow(counter: Arc<AtomicU64>, bar: Option<indicatif::ProgressBar>) -> Option<Follow> {
    let bar = bar?;
    let b = bar.clone();
    let task = tokio::spawn(async move {
        loop {
            b.set_position(counter.load(Ordering::Relaxed));
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    });
    Some(Follow { bar, task })
}

struct Follow {
    bar: indicatif::ProgressBar,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Follow {
    fn drop(&mut self) {
        self.task.abort();
        self.bar.finish_and_clear();
    }
}

pub async fn run(loaded: &Loaded, cmd: BackupCommand) -> Result<ExitCode> {
    match cmd {
        BackupCommand::Create { to, json } => {
            let store = openzero_app::open_store(loaded).await?;
            let counter = Arc::new(AtomicU64::new(0));
            let bar = if json {
                None
            } else {
                let total: u64 = store
                    .table_counts()
                    .await
                    .map(|c| c.values().sum())
                    .unwrap_or(0);
                spinner("backing up").inspect(|b| b.set_length(total))
            };
            let shown = follow(counter.clone(), bar);
            let result = backup::create(loaded, &store, to.as_deref(), counter).await;
            drop(shown);
            store.close().await;
            let c = result?;
            if json {
                println!("{}", serde_json::to_string(&c)?);
            } else {
                println!(
                    "{} rows in {} tables, {} files, {} in {:.1} s; {}",
                    c.rows,
                    c.tables,
                    c.files.len(),
                    backup::size(c.bytes),
                    c.seconds,
                    match c.checked {
                        backup::Checked::Full => "decrypted and checked against its manifest",
                        backup::Checked::Bytes =>
                            "encrypted to your age keys (this machine cannot read it); its bytes were read back and match",
                    }
                );
                if let Some(copy) = &c.copy {
                    println!("copied to {}", copy.display());
                }
                for r in &c.removed {
                    println!("removed (retention) {}", r.display());
                }
                println!("{}", c.path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        BackupCommand::List { dir, json } => {
            let dir = dir.unwrap_or_else(|| backup::dir(loaded));
            let all = backup::list(&dir)?;
            if json {
                for b in &all {
                    println!("{}", serde_json::to_string(b)?);
                }
            } else if all.is_empty() {
                println!("no backups in {}", dir.display());
            } else {
                let tz = loaded.settings.general.timezone.0;
                for b in &all {
                    println!(
                        "{}  {:>9}  {}",
                        b.created_at.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
                        backup::size(b.bytes),
                        b.path.display()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        BackupCommand::Verify { file, json } => {
            let v = backup::verify(loaded, &file).await?;
            if json {
                println!("{}", serde_json::to_string(&v)?);
            } else {
                println!(
                    "good: {} rows in {} tables and {} files, written {} by OpenZero {} from {} (schema {})",
                    v.rows,
                    v.tables.len(),
                    v.files.len(),
                    v.created_at.format("%Y-%m-%d %H:%M UTC"),
                    v.openzero,
                    v.backend,
                    v.schema_version
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        BackupCommand::Restore {
            file,
            database_url,
            force,
            json,
        } => {
            let target = match database_url {
                Some(url) if url == "-" => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    let url = line.trim().to_owned();
                    if url.is_empty() {
                        anyhow::bail!("--database-url -: no URL on standard input");
                    }
                    restore::Target::Postgres(url)
                }
                Some(url) => restore::Target::Postgres(url),
                None => restore::Target::configured(loaded),
            };
            let counter = Arc::new(AtomicU64::new(0));
            let shown = follow(
                counter.clone(),
                if json { None } else { spinner("restoring") },
            );
            let result =
                restore::restore(loaded, &file, &target, &loaded.data_dir, force, counter).await;
            drop(shown);
            let r = result?;
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                if let Some(s) = &r.safety_backup {
                    println!("what was there is backed up in {}", s.display());
                }
                println!(
                    "restored {} rows in {} tables into {} in {:.1} s (backup schema {}, brought up to date)",
                    r.rows, r.tables, r.target, r.seconds, r.from_schema
                );
                for f in &r.files {
                    println!("wrote {}", f.display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        BackupCommand::Drill { json } => {
            let d = restore::drill(loaded).await?;
            if json {
                println!("{}", serde_json::to_string(&d)?);
            } else {
                println!(
                    "restored {} ({} rows) into a scratch store and read it back in {:.1} s",
                    d.file.display(),
                    d.rows,
                    d.seconds
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
