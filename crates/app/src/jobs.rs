//! Scheduled jobs: each a [`Job`] whose [`Task`] a capability implements
//! and registers in [`registry`], run by `openzero serve` in the owner's
//! time zone (each job on its own task), each slot exactly once (claimed in
//! the store), paused and resumed from the CLI or Telegram. A new job is a
//! `Task`, its `schedule.*` key and one line in [`registry`].
//!
//! **Invariants:** a job that fails or overruns its timeout does not stop
//! the others and is recorded with its error; a slot already claimed
//! (running, done or missed) is never run again, and a job is never run
//! twice at once (a run left `running` by a dead process is taken over
//! after [`RUN_LEASE`]).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use openzero_config::Loaded;
use openzero_core::schedule::{Schedule, decide};
use openzero_store::JobStore;
use serde::Serialize;

use crate::clock;
use crate::{AppError, Services};

/// A run still `running` after this long is taken to be dead (its process
/// stopped mid-run) and may be run again. A briefing takes at most ~2 min.
pub const RUN_LEASE: Duration = Duration::minutes(15);

/// What a job does when its slot comes. A capability implements it and
/// registers the job in [`registry`].
#[async_trait::async_trait]
pub trait Task: Send + Sync + std::fmt::Debug {
    /// Does the work; returns what was delivered, for `jobs run`.
    async fn run(&self, services: &Arc<Services>) -> Result<String, AppError>;
}

/// One scheduled job.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: &'static str,
    /// `None`: disabled by an empty expression.
    pub schedule: Option<Schedule>,
    /// A slot missed by less than this still runs once after a restart.
    pub grace: Duration,
    /// A run taking longer is stopped and recorded as failed.
    pub timeout: std::time::Duration,
    pub task: Arc<dyn Task>,
}

impl Job {
    /// A job whose schedule is the cron expression `expr` (empty: disabled).
    pub fn new(
        loaded: &Loaded,
        name: &'static str,
        expr: &str,
        timeout: std::time::Duration,
        task: Arc<dyn Task>,
    ) -> Result<Self, AppError> {
        Ok(Self {
            name,
            schedule: Schedule::parse(expr)
                .map_err(|e| AppError::Invalid(format!("schedule of {name}: {e}")))?,
            grace: Duration::hours(i64::from(loaded.settings.schedule.grace_hours)),
            timeout,
            task,
        })
    }
}

/// Every job, with its schedule from the settings. A capability adds its
/// jobs with one line here.
pub fn registry(loaded: &Loaded) -> Result<Vec<Job>, AppError> {
    let mut all = Vec::new();
    all.extend(crate::briefings::jobs(loaded)?);
    all.extend(crate::calendar::jobs(loaded)?);
    all.extend(crate::planka_sync::follow::jobs(loaded)?);
    all.extend(crate::news::jobs(loaded)?);
    all.extend(crate::backup::jobs::jobs(loaded)?);
    all.extend(crate::strava::harvest::jobs(loaded)?);
    all.extend(crate::training_report::jobs(loaded)?);
    all.extend(crate::memory_consolidate::jobs(loaded)?);
    Ok(all)
}

/// Finds a job by name.
pub fn find(loaded: &Loaded, name: &str) -> Result<Job, AppError> {
    let all = registry(loaded)?;
    let names: Vec<&str> = all.iter().map(|j| j.name).collect();
    let names = names.join(", ");
    all.into_iter()
        .find(|j| j.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| AppError::Invalid(format!("there is no job '{name}' (jobs: {names})")))
}

/// What `jobs list` shows.
#[derive(Debug, Clone, Serialize)]
pub struct JobInfo {
    pub name: String,
    pub schedule: String,
    pub paused: bool,
    /// Next run, in the owner's time zone (none when disabled).
    pub next: Option<String>,
    pub last_outcome: Option<String>,
    pub last_scheduled_for: Option<DateTime<Utc>>,
}

/// Every job's state.
pub async fn list(loaded: &Loaded, store: &dyn JobStore) -> Result<Vec<JobInfo>, AppError> {
    let tz = loaded.settings.general.timezone.0;
    let now = clock::now();
    let mut out = Vec::new();
    for j in registry(loaded)? {
        let (paused, _) = store.job_ensure(j.name, now).await?;
        let last = store.job_runs(j.name, 1).await?.into_iter().next();
        out.push(JobInfo {
            name: j.name.to_owned(),
            schedule: j
                .schedule
                .as_ref()
                .map_or_else(|| "(disabled)".to_owned(), |s| s.expr().to_owned()),
            paused,
            next: j
                .schedule
                .as_ref()
                .and_then(|s| s.next_after(tz, now))
                .map(|t| {
                    t.with_timezone(&tz)
                        .format("%a %Y-%m-%d %H:%M %Z")
                        .to_string()
                }),
            last_outcome: last.as_ref().map(|r| r.outcome.clone()),
            last_scheduled_for: last.map(|r| r.scheduled_for),
        });
    }
    Ok(out)
}

/// Pauses or resumes a job by name.
pub async fn set_paused(
    loaded: &Loaded,
    store: &dyn JobStore,
    name: &str,
    paused: bool,
) -> Result<&'static str, AppError> {
    let j = find(loaded, name)?;
    store.job_ensure(j.name, clock::now()).await?;
    store.job_set_paused(j.name, paused).await?;
    Ok(j.name)
}

/// Runs jobs for `serve`, and for `jobs run`: claims each slot in the
/// store, runs the job's task under its timeout, records the outcome.
#[derive(Debug)]
pub struct Runner {
    services: Arc<Services>,
}

impl Runner {
    pub fn new(services: Arc<Services>) -> Self {
        Self { services }
    }

    /// Runs `job` for `slot` if this caller claims it. Returns the text
    /// delivered, or `None` when the slot was already taken or the job is
    /// running.
    pub async fn run(&self, job: &Job, slot: DateTime<Utc>) -> Result<Option<String>, AppError> {
        if !self
            .services
            .store
            .job_claim(job.name, slot, RUN_LEASE)
            .await?
        {
            return Ok(None);
        }
        tracing::info!(job = job.name, %slot, "job started");
        let result = match tokio::time::timeout(job.timeout, job.task.run(&self.services)).await {
            Ok(r) => r,
            Err(_) => Err(AppError::Invalid(format!(
                "stopped after {} s (its time limit)",
                job.timeout.as_secs()
            ))),
        };
        let error = result.as_ref().err().map(ToString::to_string);
        self.services
            .store
            .job_finish(job.name, slot, error.as_deref())
            .await?;
        match result {
            Ok(text) => {
                tracing::info!(job = job.name, "job done");
                Ok(Some(text))
            }
            Err(e) => {
                tracing::warn!(job = job.name, error = %e, "job failed");
                Err(e)
            }
        }
    }

    /// Looks at one job at `now`: records its missed slots and runs it if
    /// due. Returns when it is next due.
    pub async fn tick_job(
        &self,
        job: &Job,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, AppError> {
        let tz = self.services.loaded.settings.general.timezone.0;
        let Some(schedule) = &job.schedule else {
            return Ok(None);
        };
        let (paused, since) = self.services.store.job_ensure(job.name, now).await?;
        if paused {
            return Ok(schedule.next_after(tz, now));
        }
        let last = self
            .services
            .store
            .job_runs(job.name, 1)
            .await?
            .first()
            .map(|r| r.scheduled_for);
        let d = decide(schedule, tz, last, since, now, job.grace);
        if !d.missed.is_empty() {
            tracing::warn!(
                job = job.name,
                missed = d.missed.len(),
                "slots missed while the service was down"
            );
            self.services.store.job_missed(job.name, &d.missed).await?;
        }
        if let Some(slot) = d.run
            && let Err(e) = self.run(job, slot).await
        {
            // Recorded as failed; the job runs again at its next slot.
            tracing::warn!(job = job.name, error = %e, "job failed");
        }
        Ok(d.next)
    }
}
