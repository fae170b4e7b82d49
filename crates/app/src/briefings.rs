//! The briefings capability: the morning briefing and the weekly and
//! monthly reviews, composed from what OpenZero holds, phrased by a local
//! model when one keeps every fact, stored, and delivered through the
//! notifiers. Registers its three jobs with [`jobs`]. Each capability
//! brings its sections through one line in [`SOURCES`].
//!
//! **Invariants:** a briefing is phrased only by a local model (the
//! structured text is delivered if that fails), is always stored, and
//! records the items it carried so the next one does not repeat them.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use openzero_config::Loaded;
use openzero_core::briefing::{self, Inputs, Kind, Place, Section};
use openzero_core::llm::{ChatModel, ChatRequest, Locality};
use openzero_core::memory::Memory;

use crate::clock;
use crate::jobs::{Job, Task};
use crate::{AppError, Services};

/// How far back "on this day" looks for memories.
const RECALL_YEARS: i32 = 10;

/// A briefing takes at most ~2 minutes (the model's phrasing is cut at two).
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// What a capability adds to a briefing of some kind: its sections and
/// the keys of the items they carry (recorded when delivered, so a later
/// briefing can leave out what it already said).
#[derive(Debug, Default)]
pub struct Part {
    pub sections: Vec<Section>,
    pub items: Vec<String>,
}

impl Part {
    /// One section (none when it has no lines).
    pub fn section(heading: &str, lines: Vec<String>, place: Place, rank: u8) -> Self {
        Part {
            sections: vec![Section::new(heading, lines, place, rank)],
            items: Vec::new(),
        }
    }
}

/// A capability's part, for a kind of briefing at a local time.
pub type PartOf<'a> = Pin<Box<dyn Future<Output = Result<Part, AppError>> + Send + 'a>>;

/// A capability's briefing source.
pub type Source = for<'a> fn(&'a Arc<Services>, Kind, DateTime<chrono_tz::Tz>) -> PartOf<'a>;

/// Every capability's sections, by name: one line each. A source that
/// fails is named in the briefing ("could not be read") and the rest goes
/// out.
pub const SOURCES: &[(&str, Source)] = &[
    ("calendar", |s, k, now| {
        Box::pin(crate::calendar::briefing_part(s, k, now))
    }),
    ("mail", |s, k, now| {
        Box::pin(crate::mail::briefing_part(s, k, now))
    }),
    ("tasks", |s, k, now| {
        Box::pin(crate::boards::briefing_part(s, k, now))
    }),
    ("news", |s, k, now| {
        Box::pin(crate::news::briefing_part(s, k, now))
    }),
    ("money", |s, k, now| {
        Box::pin(crate::finance::briefing_part(s, k, now))
    }),
    ("training", |s, k, now| {
        Box::pin(crate::training_feedback::briefing_part(s, k, now))
    }),
];

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
        self.compose_from(kind, phrase, SOURCES).await
    }

    /// [`Self::compose`] with these capabilities' sections.
    async fn compose_from(
        &self,
        kind: Kind,
        phrase: bool,
        sources: &[(&str, Source)],
    ) -> Result<Composed, AppError> {
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
        let mut sections = Vec::new();
        let mut extra_items = Vec::new();
        let mut unread = Vec::new();
        for (name, source) in sources {
            match source(&self.services, kind, now).await {
                Ok(part) => {
                    sections.extend(part.sections);
                    extra_items.extend(part.items);
                }
                Err(e) => {
                    tracing::warn!(source = name, error = %e, "a briefing section could not be read");
                    unread.push(format!("{name}: {e}"));
                }
            }
        }
        sections.push(Section::new(
            "Could not be read",
            unread,
            Place::Tail,
            u8::MAX,
        ));
        let mut inputs = Inputs::new(&projects, &memories, &delivered, now);
        inputs.sections = &sections;
        let b = briefing::compose(kind, &inputs);
        let plain = b.render();
        let mut items = b.items.clone();
        items.extend(extra_items);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn a_section_that_cannot_be_read_is_named_and_the_rest_goes_out() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = openzero_config::load(&openzero_config::Inputs {
            data_dir: Some(dir.path().to_owned()),
            ..Default::default()
        })
        .unwrap();
        let store = crate::open_store(&loaded).await.unwrap();
        let services = Arc::new(Services::new(loaded, store.clone(), Vec::new()));
        let sources: &[(&str, Source)] = &[
            ("broken", |_, _, _| {
                Box::pin(async { Err(AppError::Invalid("the disk is gone".into())) })
            }),
            ("calendar", |_, _, _| {
                Box::pin(async {
                    Ok(Part::section(
                        "Today's calendar",
                        vec!["09:00 Dentist".into()],
                        Place::Lead,
                        10,
                    ))
                })
            }),
        ];
        let b = Briefings::new(services)
            .compose_from(Kind::Daily, false, sources)
            .await
            .unwrap();
        assert!(
            b.text.contains("Today's calendar\n- 09:00 Dentist"),
            "{}",
            b.text
        );
        assert!(
            b.text
                .contains("Could not be read\n- broken: the disk is gone"),
            "{}",
            b.text
        );
        store.close().await;
    }
}
