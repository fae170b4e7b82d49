//! The briefings capability: the morning briefing and the weekly and
//! monthly reviews, composed from what OpenZero holds, phrased by a local
//! model when one keeps every fact, stored, and delivered through the
//! notifiers. Registers its three jobs with [`jobs`].
//!
//! **Invariants:** a briefing is phrased only by a local model (the
//! structured text is delivered if that fails), is always stored, and
//! records the items it carried so the next one does not repeat them.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use openzero_config::Loaded;
use openzero_core::briefing::{self, Inputs, Kind};
use openzero_core::llm::{ChatModel, ChatRequest, Locality};
use openzero_core::memory::Memory;

use crate::clock;
use crate::jobs::{Job, Task};
use crate::{AppError, Services};

/// How far back "on this day" looks for memories.
const RECALL_YEARS: i32 = 10;

/// A briefing takes at most ~2 minutes (the model's phrasing is cut at two).
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// The briefing jobs, with their schedules from `schedule.*`.
pub fn jobs(loaded: &Loaded) -> Result<Vec<Job>, AppError> {
    let s = &loaded.settings.schedule;
    let job = |name, kind, expr: &str| {
        Job::new(loaded, name, expr, TIMEOUT, Arc::new(BriefingTask(kind)))
    };
    Ok(vec![
        job("daily-briefing", Kind::Daily, &s.daily_briefing)?,
        job("weekly-review", Kind::Weekly, &s.weekly_review)?,
        job("monthly-review", Kind::Monthly, &s.monthly_review)?,
    ])
}

/// The job that composes and delivers one kind of briefing.
#[derive(Debug)]
struct BriefingTask(Kind);

#[async_trait::async_trait]
impl Task for BriefingTask {
    async fn run(&self, services: &Arc<Services>) -> Result<String, AppError> {
        let b = Briefings::new(services.clone());
        let composed = b.compose(self.0, true).await?;
        b.deliver(self.0, &composed).await?;
        Ok(composed.text)
    }
}

/// A briefing ready to deliver: its text and the keys of the items it
/// carries.
#[derive(Debug, Clone)]
pub struct Composed {
    pub text: String,
    pub items: Vec<String>,
}

/// Composing and delivering briefings, for the scheduled jobs, `openzero
/// briefing` and `/daily`. Cheap to make: the models it uses are the
/// process's own, in [`Services`].
#[derive(Debug)]
pub struct Briefings {
    services: Arc<Services>,
}

impl Briefings {
    pub fn new(services: Arc<Services>) -> Self {
        Self { services }
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
            out.extend(self.services.store.memories_between(from, until, 3).await?);
        }
        Ok(out)
    }

    /// The briefing of `kind` as it would be delivered now: structured, then
    /// phrased by the local model when one answers within two minutes.
    pub async fn compose(&self, kind: Kind, phrase: bool) -> Result<Composed, AppError> {
        let tz = self.services.loaded.settings.general.timezone.0;
        let now = clock::now().with_timezone(&tz);
        let projects = crate::projects::list(&*self.services.store).await?;
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
            self.services
                .store
                .delivered_items(&keys)
                .await?
                .into_iter()
                .collect()
        } else {
            HashMap::new()
        };
        let (mail, mail_items) = if kind == Kind::Daily {
            crate::mail::MailService::new(self.services.clone())
                .briefing_lines()
                .await?
        } else {
            (Vec::new(), Vec::new())
        };
        let calendar = match kind {
            Kind::Daily | Kind::Weekly => {
                crate::calendar::briefing_lines(
                    &*self.services.store,
                    tz,
                    now.with_timezone(&Utc),
                    kind == Kind::Weekly,
                )
                .await?
            }
            Kind::Monthly => Vec::new(),
        };
        let tasks = match kind {
            Kind::Daily => {
                crate::boards::briefing_lines(&*self.services.store, tz, now.with_timezone(&Utc))
                    .await?
            }
            Kind::Weekly => {
                crate::boards::week_lines(&*self.services.store, now.with_timezone(&Utc)).await?
            }
            Kind::Monthly => Vec::new(),
        };
        let (news, news_items) = if kind == Kind::Daily {
            crate::news::briefing_lines(&self.services).await?
        } else {
            (Vec::new(), Vec::new())
        };
        let money = if kind == Kind::Monthly {
            crate::finance::monthly_lines(&self.services, now.date_naive()).await?
        } else {
            Vec::new()
        };
        let training = crate::training_feedback::briefing_lines(&self.services, kind).await?;
        let mut inputs = Inputs::new(&projects, &memories, &delivered, now);
        inputs.training = &training;
        inputs.news = &news;
        inputs.money = &money;
        inputs.mail = &mail;
        inputs.calendar = &calendar;
        inputs.tasks = &tasks;
        let b = briefing::compose(kind, &inputs);
        let plain = b.render();
        let mut items = b.items.clone();
        items.extend(mail_items);
        items.extend(news_items);
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
        self.services
            .store
            .add_briefing(kind.as_str(), &b.text, &b.items)
            .await?;
        if kind == Kind::Weekly {
            let now = openzero_store::now();
            for p in crate::projects::list(&*self.services.store).await? {
                if p.status == openzero_core::Status::Active {
                    self.services.store.mark_reviewed(p.id, now).await?;
                }
            }
        }
        Ok(())
    }

    /// Records a briefing and queues it, whole, on every channel the owner
    /// uses (each channel cuts it to its own size).
    pub async fn deliver(&self, kind: Kind, b: &Composed) -> Result<(), AppError> {
        self.record(kind, b).await?;
        if kind == Kind::Daily {
            let tz = self.services.loaded.settings.general.timezone.0;
            // The briefing goes out even when its look at the week cannot be kept.
            if let Err(e) =
                crate::calendar::keep_snapshot(&*self.services.store, tz, clock::now()).await
            {
                tracing::warn!(error = %e, "calendar snapshot not kept; tomorrow's changes are not shown");
            }
        }
        self.services.notify(&b.text).await
    }
}
