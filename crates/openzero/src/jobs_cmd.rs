//! `openzero jobs` and `openzero briefing`.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Result, bail};
use openzero_app::jobs::{self, Runner};
use openzero_config::Loaded;
use openzero_core::briefing::Kind;

use crate::cli::JobsCommand;

pub async fn jobs(loaded: &Loaded, cmd: JobsCommand) -> Result<ExitCode> {
    let store = openzero_app::open_store(loaded).await?;
    let result = async {
        match cmd {
            JobsCommand::List { json } => {
                let all = jobs::list(loaded, &*store).await?;
                if json {
                    for j in &all {
                        outln!("{}", serde_json::to_string(j)?);
                    }
                } else {
                    outln!("{:<16} {:<18} {:<7} {:<28} LAST", "JOB", "SCHEDULE", "STATE", "NEXT");
                    for j in &all {
                        outln!(
                            "{:<16} {:<18} {:<7} {:<28} {}",
                            j.name,
                            j.schedule,
                            if j.paused { "paused" } else { "active" },
                            j.next.as_deref().unwrap_or("-"),
                            j.last_outcome.as_deref().unwrap_or("never run")
                        );
                    }
                }
            }
            JobsCommand::Pause { name } => {
                let n = jobs::set_paused(loaded, &*store, &name, true).await?;
                outln!("Paused {n}: it will not run until `openzero jobs resume {n}` (kept across restarts).");
            }
            JobsCommand::Resume { name } => {
                let n = jobs::set_paused(loaded, &*store, &name, false).await?;
                outln!("Resumed {n}.");
            }
            JobsCommand::Run { name } => {
                let job = jobs::find(loaded, &name)?;
                let runner = Runner::new(loaded.clone(), store.clone());
                let slot = chrono::Utc::now();
                match runner.run(&job, slot).await? {
                    Some(text) => outln!("{text}"),
                    None => bail!("{} is already running", job.name),
                }
            }
        }
        Ok::<_, anyhow::Error>(ExitCode::SUCCESS)
    }
    .await;
    store.close().await;
    result
}

pub async fn briefing(loaded: &Loaded, which: &str, dry_run: bool) -> Result<ExitCode> {
    let store: Arc<dyn openzero_store::Store> = openzero_app::open_store(loaded).await?;
    let result = async {
        if which == "last" {
            match store.last_briefing(None).await? {
                Some((kind, at, text)) => {
                    let tz = loaded.settings.general.timezone.0;
                    eprintln!(
                        "({kind}, {})",
                        at.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z")
                    );
                    outln!("{text}");
                }
                None => outln!("No briefing yet. `openzero briefing daily` makes one now."),
            }
            return Ok(ExitCode::SUCCESS);
        }
        let Some(kind) = Kind::parse(which) else {
            bail!("'{which}' is not a briefing: daily, weekly, monthly or last");
        };
        let runner = Runner::new(loaded.clone(), store.clone());
        let text = runner.compose(kind, !dry_run).await?;
        if !dry_run {
            runner.deliver(kind, &text).await?;
        }
        outln!("{text}");
        Ok::<_, anyhow::Error>(ExitCode::SUCCESS)
    }
    .await;
    store.close().await;
    result
}
