//! `openzero training import|list`: activities from GPX, TCX and FIT files.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use openzero_app::training::{self, FileOutcome};
use openzero_config::Loaded;

#[derive(Debug, Subcommand)]
pub enum TrainingCommand {
    /// Import activity files (GPX, TCX, FIT from Garmin, Coros, Wahoo, Suunto, Apple exports)
    #[command(after_help = "\
Examples:
  openzero training import ~/Downloads/Morning_Run.fit
  openzero training import exports/*.gpx exports/*.tcx
  openzero training import run.fit --json

Each file is read whole or skipped with the reason (bad dates, times
running backwards, no timed samples, a damaged file); the rest are
imported. A file imported before is recognised by its bytes and not added
twice. Training load (TRIMP) uses training.hr_rest and training.hr_max.")]
    Import {
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        /// One JSON object per file: file, outcome (added, already, skipped), activity or reason
        #[arg(long)]
        json: bool,
    },

    /// The activities, newest first
    #[command(after_help = "\
Examples:
  openzero training list
  openzero training list --limit 5 --json")]
    List {
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(loaded: &Loaded, cmd: TrainingCommand) -> Result<ExitCode> {
    let services = openzero_server::services(loaded.clone()).await?;
    let result = command(&services, cmd).await;
    services.store.close().await;
    result
}

async fn command(services: &openzero_app::Services, cmd: TrainingCommand) -> Result<ExitCode> {
    let tz = services.tz();
    match cmd {
        TrainingCommand::Import { files, json } => {
            let bar = (files.len() > 3 && std::io::stderr().is_terminal())
                .then(|| crate::memory_cmd::bar(files.len() as u64, "importing"));
            let (mut added, mut already, mut skipped) = (0, 0, 0);
            for path in &files {
                let shown = path.display().to_string();
                let outcome = match std::fs::read(path) {
                    Ok(bytes) => training::import(services, &bytes).await?,
                    Err(e) => FileOutcome::Skipped {
                        reason: format!("cannot read it: {e}"),
                    },
                };
                match &outcome {
                    FileOutcome::Added { .. } => added += 1,
                    FileOutcome::Already => already += 1,
                    FileOutcome::Skipped { .. } => skipped += 1,
                }
                if json {
                    let mut v = serde_json::to_value(&outcome)?;
                    v["file"] = shown.into();
                    outln!("{v}");
                } else {
                    match outcome {
                        FileOutcome::Added { activity, warnings } => {
                            outln!("{shown}: {}", training::line(&activity, tz));
                            for w in warnings {
                                outln!("  note: {w}");
                            }
                        }
                        FileOutcome::Already => outln!("{shown}: imported before"),
                        FileOutcome::Skipped { reason } => outln!("{shown}: skipped: {reason}"),
                    }
                }
                if let Some(b) = &bar {
                    b.inc(1);
                }
            }
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            if !json {
                outln!("{added} imported, {already} imported before, {skipped} skipped.");
            }
            // Every file refused: say so with the exit status.
            if added + already == 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
        TrainingCommand::List { limit, json } => {
            let all = services.store.activities(limit.max(1)).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&all)?);
            } else if all.is_empty() {
                outln!("No activities yet: `openzero training import FILE...` (GPX, TCX or FIT).");
            } else {
                for a in &all {
                    outln!("{}", training::line(a, tz));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
