//! Scheduled jobs: registered in one place ([`registry`]), run by
//! `openzero serve` in the owner's time zone, each slot exactly once
//! (claimed in the store), paused and resumed from the CLI or Telegram.
//! Today: the morning briefing and the weekly and monthly reviews. A later
//! job (mail poll, calendar sync, backups, Strava, feeds) is one more
//! [`Action`] variant, one line in [`registry`] and its `schedule.*` key.
//!
//! **Invariants:** a job that fails does not stop the others and is
//! recorded with its error; a slot already claimed (running, done or
//! missed) is never run again, and a job is never run twice at once (a run
//! left `running` by a dead process is taken over after [`RUN_LEASE`]); a
//! briefing is phrased only by a local model (the structured text is
//! delivered if that fails), is always stored, and records the items it
//! carried so the next one does not repeat them.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use openzero_config::Loaded;
use openzero_core::briefing::{self, Inputs, Kind};
use openzero_core::memory::Memory;
use openzero_core::schedule::{Schedule, decide};
use openzero_llm::{ChatModel, ChatRequest, Locality};
use openzero_store::Store;
use serde::Serialize;

use crate::clock;
use crate::{AppError, Services};

/// A run still `running` after this long is taken to be dead (its process
/// stopped mid-run) and may be run again. A briefing takes at most ~2 min.
pub const RUN_LEASE: Duration = Duration::minutes(15);

/// How far back "on this day" looks for memories.
const RECALL_YEARS: i32 = 10;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Compose and deliver a briefing or review.
    Briefing(Kind),
}

/// One scheduled job.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: &'static str,
    pub action: Action,
    /// `None`: disabled by an empty expression.
    pub schedule: Option<Schedule>,
    pub grace: Duration,
}

/// Every job, with its schedule from the settings.
pub fn registry(loaded: &Loaded) -> Result<Vec<Job>, AppError> {
    let s = &loaded.settings.schedule;
    let grace = Duration::hours(i64::from(s.grace_hours));
    let job = |name: &'static str, action: Action, expr: &str| -> Result<Job, AppError> {
        Ok(Job {
            name,
            action,
            schedule: Schedule::parse(expr)
                .map_err(|e| AppError::Invalid(format!("schedule of {name}: {e}")))?,
            grace,
        })
    };
    Ok(vec![
        job(
            "daily-briefing",
            Action::Briefing(Kind::Daily),
            &s.daily_briefing,
        )?,
        job(
            "weekly-review",
            Action::Briefing(Kind::Weekly),
            &s.weekly_review,
        )?,
        job(
            "monthly-review",
            Action::Briefing(Kind::Monthly),
            &s.monthly_review,
        )?,
    ])
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
pub async fn list(loaded: &Loaded, store: &dyn Store) -> Result<Vec<JobInfo>, AppError> {
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
    store: &dyn Store,
    name: &str,
    paused: bool,
) -> Result<&'static str, AppError> {
    let j = find(loaded, name)?;
    store.job_ensure(j.name, clock::now()).await?;
    store.job_set_paused(j.name, paused).await?;
    Ok(j.name)
}

/// A briefing ready to deliver: its text and the keys of the items it
/// carries.
#[derive(Debug, Clone)]
pub struct Composed {
    pub text: String,
    pub items: Vec<String>,
}

/// Runs jobs for `serve`, and for `jobs run` / `briefing`. Cheap to make:
/// the models it uses are the process's own, in [`Services`].
#[derive(Debug)]
pub struct Runner {
    services: Arc<Services>,
    loaded: Loaded,
    store: Arc<dyn Store>,
}

impl Runner {
    pub fn new(services: Arc<Services>) -> Self {
        Self {
            loaded: services.loaded.clone(),
            store: services.store.clone(),
            services,
        }
    }

    /// The local model that phrases briefings (`None`: none usable, or a
    /// cloud model, which never sees a briefing unasked).
    async fn model(&self) -> Option<Arc<dyn ChatModel>> {
        match self.services.chat_model().await {
            Ok(m) if m.info().locality == Locality::Local => Some(m),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, "briefings go out unphrased: no chat model");
                None
            }
        }
    }

    /// Memories from this day (in the owner's time zone) in earlier years.
    async fn on_this_day(&self, now: DateTime<chrono_tz::Tz>) -> Result<Vec<Memory>, AppError> {
        let tz = now.timezone();
        let mut out = Vec::new();
        for years in 1..=RECALL_YEARS {
            let Some(day) = now.date_naive().with_year(now.year() - years) else {
                continue; // 29 February in a year without one
            };
            let start = |d: chrono::NaiveDate| {
                d.and_hms_opt(0, 0, 0)
                    .and_then(|t| tz.from_local_datetime(&t).earliest())
                    .map(|t| t.with_timezone(&Utc))
            };
            let (Some(from), Some(until)) = (start(day), day.succ_opt().and_then(start)) else {
                continue;
            };
            out.extend(self.store.memories_between(from, until, 3).await?);
        }
        Ok(out)
    }

    /// The briefing of `kind` as it would be delivered now: structured, then
    /// phrased by the local model when one answers within two minutes.
    pub async fn compose(&self, kind: Kind, phrase: bool) -> Result<Composed, AppError> {
        let tz = self.loaded.settings.general.timezone.0;
        let now = clock::now().with_timezone(&tz);
        let projects = crate::projects::list(&*self.store).await?;
        let memories = if kind == Kind::Daily {
            self.on_this_day(now).await?
        } else {
            Vec::new()
        };
        let mut keys: Vec<String> = projects
            .iter()
            .flat_map(|p| {
                [
                    format!("attention:project:{}", p.id),
                    format!("done:project:{}", p.id),
                ]
            })
            .collect();
        keys.extend(memories.iter().map(|m| format!("recall:memory:{}", m.id)));
        let delivered: HashMap<String, DateTime<Utc>> = if kind == Kind::Daily {
            self.store
                .delivered_items(&keys)
                .await?
                .into_iter()
                .collect()
        } else {
            HashMap::new()
        };
        let b = briefing::compose(kind, &Inputs::new(&projects, &memories, &delivered, now));
        let plain = b.render();
        let items = b.items.clone();
        let composed = |text: String| Composed {
            text,
            items: items.clone(),
        };
        if !phrase {
            return Ok(composed(plain));
        }
        let Some(model) = self.model().await else {
            return Ok(composed(plain));
        };
        let req = ChatRequest {
            messages: briefing::phrasing_prompt(&b),
            max_tokens: 400,
            temperature: 0.2,
            tools: Vec::new(),
        };
        match tokio::time::timeout(std::time::Duration::from_secs(120), model.chat(req, None)).await
        {
            Ok(Ok(r)) if !r.text.trim().is_empty() => {
                let mut names: Vec<&str> = projects.iter().map(|p| p.name.as_str()).collect();
                if kind == Kind::Monthly {
                    names.extend(openzero_core::Domain::ALL.iter().map(|d| d.as_str()));
                }
                match briefing::check_phrasing(&plain, r.text.trim(), &names) {
                    Ok(()) => Ok(composed(r.text.trim().to_owned())),
                    Err(why) => {
                        tracing::warn!(%why, "briefing delivered unphrased: the model changed its facts");
                        Ok(composed(plain))
                    }
                }
            }
            Ok(Ok(_)) => Ok(composed(plain)),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "briefing delivered unphrased: the model failed");
                Ok(composed(plain))
            }
            Err(_) => {
                tracing::warn!("briefing delivered unphrased: the model took too long");
                Ok(composed(plain))
            }
        }
    }

    /// Stores a briefing with the items it carried (so the next one does
    /// not repeat them). A weekly review marks the active projects
    /// reviewed, so "not looked at for N days" counts from it.
    pub async fn record(&self, kind: Kind, b: &Composed) -> Result<(), AppError> {
        self.store
            .add_briefing(kind.as_str(), &b.text, &b.items)
            .await?;
        if kind == Kind::Weekly {
            let now = openzero_store::now();
            for p in crate::projects::list(&*self.store).await? {
                if p.status == openzero_core::Status::Active {
                    self.store.mark_reviewed(p.id, now).await?;
                }
            }
        }
        Ok(())
    }

    /// Records a briefing and queues it, whole, on every channel the owner
    /// uses (each channel cuts it to its own size).
    pub async fn deliver(&self, kind: Kind, b: &Composed) -> Result<(), AppError> {
        self.record(kind, b).await?;
        self.services.notify(&b.text).await
    }

    /// Runs `job` for `slot` if this caller claims it. Returns the text
    /// delivered, or `None` when the slot was already taken or the job is
    /// running.
    pub async fn run(&self, job: &Job, slot: DateTime<Utc>) -> Result<Option<String>, AppError> {
        if !self.store.job_claim(job.name, slot, RUN_LEASE).await? {
            return Ok(None);
        }
        tracing::info!(job = job.name, %slot, "job started");
        let result = async {
            match job.action {
                Action::Briefing(kind) => {
                    let b = self.compose(kind, true).await?;
                    self.deliver(kind, &b).await?;
                    Ok::<_, AppError>(b.text)
                }
            }
        }
        .await;
        let error = result.as_ref().err().map(ToString::to_string);
        self.store
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

    /// One pass over every job at `now`: records missed slots, runs the
    /// due ones. Returns when to look again.
    pub async fn tick(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let tz = self.loaded.settings.general.timezone.0;
        let jobs = match registry(&self.loaded) {
            Ok(j) => j,
            Err(e) => {
                tracing::error!(error = %e, "no jobs run");
                return None;
            }
        };
        let mut next: Option<DateTime<Utc>> = None;
        for job in &jobs {
            let Some(schedule) = &job.schedule else {
                continue;
            };
            let outcome = async {
                let (paused, since) = self.store.job_ensure(job.name, now).await?;
                if paused {
                    return Ok::<_, AppError>(schedule.next_after(tz, now));
                }
                let last = self
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
                    self.store.job_missed(job.name, &d.missed).await?;
                }
                if let Some(slot) = d.run
                    && let Err(e) = self.run(job, slot).await
                {
                    // Recorded as failed; the other jobs go on.
                    tracing::warn!(job = job.name, error = %e, "job failed");
                }
                Ok(d.next)
            }
            .await;
            match outcome {
                Ok(Some(n)) => next = Some(next.map_or(n, |m| m.min(n))),
                Ok(None) => {}
                Err(e) => tracing::error!(job = job.name, error = %e, "job skipped this pass"),
            }
        }
        next
    }
}
