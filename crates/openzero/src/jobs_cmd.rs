//! `openzero jobs` and `openzero briefing`.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Result, bail};
use openzero_app::briefings::Briefings;
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
            JobsCommand::History { name, limit, json } => {
                let job = jobs::find(loaded, &name)?;
                let tz = loaded.settings.general.timezone.0;
                let runs = store.job_runs(job.name, limit.max(1)).await?;
                let local = |t: Option<chrono::DateTime<chrono::Utc>>| {
                    t.map_or_else(
                        || "-".to_owned(),
                        |t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z").to_string(),
                    )
                };
                if json {
                    for r in &runs {
                        outln!(
                            "{}",
                            serde_json::json!({
                                "job": job.name,
                                "scheduled_for": r.scheduled_for,
                                "scheduled_local": local(Some(r.scheduled_for)),
                                "started_at": r.started_at,
                                "ended_at": r.ended_at,
                                "outcome": r.outcome,
                                "error": r.error,
                            })
                        );
                    }
                } else if runs.is_empty() {
                    outln!("{} has not run yet.", job.name);
                } else {
                    outln!("{:<26} {:<8} {:<10} ERROR", "SLOT", "OUTCOME", "TOOK");
                    for r in &runs {
                        let took = match (r.started_at, r.ended_at) {
                            (Some(a), Some(b)) => {
                                format!("{:.1} s", (b - a).num_milliseconds() as f64 / 1000.0)
                            }
                            _ => "-".to_owned(),
                        };
                        let line = format!(
                            "{:<26} {:<8} {:<10} {}",
                            local(Some(r.scheduled_for)),
                            r.outcome,
                            took,
                            r.error.as_deref().unwrap_or("")
                        );
                        outln!("{}", line.trim_end());
                    }
                }
            }
            JobsCommand::Run { name } => {
                let job = jobs::find(loaded, &name)?;
                let runner = Runner::new(openzero_server::services_over(
            loaded.clone(),
            store.clone(),
        ));
                let slot = openzero_app::clock::now();
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
        let briefings = Briefings::new(openzero_server::services_over(
            loaded.clone(),
            store.clone(),
        ));
        let b = briefings.compose(kind, !dry_run).await?;
        if !dry_run {
            briefings.deliver(kind, &b).await?;
        }
        outln!("{}", b.text);
        Ok::<_, anyhow::Error>(ExitCode::SUCCESS)
    }
    .await;
    store.close().await;
    result
}
