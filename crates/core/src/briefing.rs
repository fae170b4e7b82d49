//! Briefings and reviews, composed from what exists: first a structured
//! briefing (plain text, always deliverable), which a model may then phrase
//! in Z's voice. Pure: the caller passes projects, memories and the time.
//!
//! Calendar, mail, tasks and training sections appear once those
//! capabilities exist; until then they are left out rather than shown empty.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use crate::memory::Memory;
use crate::{Domain, Project, Status};

/// Which briefing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Daily,
    Weekly,
    Monthly,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Daily => "daily",
            Kind::Weekly => "weekly",
            Kind::Monthly => "monthly",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "daily" | "briefing" => Some(Kind::Daily),
            "weekly" | "review" => Some(Kind::Weekly),
            "monthly" => Some(Kind::Monthly),
            _ => None,
        }
    }
}

/// A project not looked at for this long needs attention.
pub const STALE_DAYS: i64 = 7;

/// What a briefing is made from.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    pub projects: &'a [Project],
    /// Memories to recall (e.g. from this day in earlier years), newest first.
    pub memories: &'a [Memory],
    pub now: DateTime<Tz>,
}

/// A composed briefing: a title and sections of lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Briefing {
    pub kind: Kind,
    pub title: String,
    pub sections: Vec<(String, Vec<String>)>,
}

impl Briefing {
    /// The plain text delivered when no model phrases it.
    pub fn render(&self) -> String {
        let mut out = format!("{}\n", self.title);
        for (heading, lines) in &self.sections {
            out.push_str(&format!("\n{heading}\n"));
            for l in lines {
                out.push_str(&format!("- {l}\n"));
            }
        }
        out.trim_end().to_owned()
    }
}

fn age_days(p: &Project, now: DateTime<Utc>) -> i64 {
    (now - p.last_reviewed_at.unwrap_or(p.updated_at)).num_days()
}

fn line(p: &Project) -> String {
    format!("{} ({}, {}% done)", p.name, p.status, p.progress.get())
}

/// Composes the briefing of `kind`.
pub fn compose(kind: Kind, i: &Inputs<'_>) -> Briefing {
    let now = i.now.with_timezone(&Utc);
    let active: Vec<&Project> = i
        .projects
        .iter()
        .filter(|p| p.status == Status::Active)
        .collect();
    let mut sections = Vec::new();
    let date = i.now.format("%A %-d %B %Y");
    let title = match kind {
        Kind::Daily => format!("Good morning. {date}."),
        Kind::Weekly => format!("Weekly review, {date}."),
        Kind::Monthly => format!("Monthly review, {}.", i.now.format("%B %Y")),
    };
    match kind {
        Kind::Daily => {
            let mut attention: Vec<String> = active
                .iter()
                .filter(|p| age_days(p, now) >= STALE_DAYS)
                .map(|p| format!("{} – not looked at for {} days", line(p), age_days(p, now)))
                .collect();
            attention.extend(
                i.projects
                    .iter()
                    .filter(|p| p.status == Status::Paused)
                    .map(|p| format!("{} – paused", line(p))),
            );
            if !attention.is_empty() {
                sections.push(("Needs your attention".to_owned(), attention));
            }
            let done: Vec<String> = done_since(i.projects, now - Duration::days(1));
            if !done.is_empty() {
                sections.push(("Done since yesterday".to_owned(), done));
            }
            let focus: Vec<String> = {
                let mut a = active.clone();
                a.sort_by_key(|p| (p.priority.get(), std::cmp::Reverse(p.progress.get())));
                a.iter().take(3).map(|p| line(p)).collect()
            };
            if !focus.is_empty() {
                sections.push(("Top priorities".to_owned(), focus));
            }
        }
        Kind::Weekly => {
            let week = now - Duration::days(7);
            let moved: Vec<String> = active
                .iter()
                .filter(|p| p.updated_at >= week)
                .map(|p| line(p))
                .collect();
            if !moved.is_empty() {
                sections.push(("Moved this week".to_owned(), moved));
            }
            let stalled: Vec<String> = active
                .iter()
                .filter(|p| p.updated_at < week)
                .map(|p| {
                    format!(
                        "{} – no change for {} days",
                        line(p),
                        (now - p.updated_at).num_days()
                    )
                })
                .collect();
            let question = stalled.first().map(|s| {
                let name = s.split(" (").next().unwrap_or(s);
                format!("What is the one next step for {name}, or should it be paused?")
            });
            if !stalled.is_empty() {
                sections.push(("Stalled".to_owned(), stalled));
            }
            let done = done_since(i.projects, week);
            if !done.is_empty() {
                sections.push(("Completed".to_owned(), done));
            }
            sections.push((
                "One question".to_owned(),
                vec![
                    question.unwrap_or_else(|| "What would make next week a good one?".to_owned()),
                ],
            ));
        }
        Kind::Monthly => {
            let domains = [
                Domain::Career,
                Domain::Health,
                Domain::Family,
                Domain::Finance,
                Domain::Creative,
                Domain::General,
            ];
            let month = now - Duration::days(31);
            for d in domains {
                let ps: Vec<&Project> = i.projects.iter().filter(|p| p.domain == d).collect();
                if ps.is_empty() {
                    continue;
                }
                let act: Vec<&&Project> =
                    ps.iter().filter(|p| p.status == Status::Active).collect();
                let done = ps
                    .iter()
                    .filter(|p| p.status == Status::Completed && p.updated_at >= month)
                    .count();
                let avg = if act.is_empty() {
                    0
                } else {
                    act.iter().map(|p| u32::from(p.progress.get())).sum::<u32>() / act.len() as u32
                };
                sections.push((
                    format!("{d}"),
                    vec![format!(
                        "{} active (on average {avg}% done), {done} completed this month",
                        act.len()
                    )],
                ));
            }
        }
    }
    if !i.memories.is_empty() && kind == Kind::Daily {
        sections.push((
            "Worth remembering today".to_owned(),
            i.memories
                .iter()
                .take(3)
                .map(|m| {
                    format!(
                        "({}) {}",
                        m.created_at
                            .with_timezone(&i.now.timezone())
                            .format("%Y-%m-%d"),
                        m.text.trim()
                    )
                })
                .collect(),
        ));
    }
    if sections.is_empty() {
        sections.push((
            "Nothing pressing".to_owned(),
            vec![
                "No projects yet: `openzero project add NAME` (or /project add on Telegram)."
                    .to_owned(),
            ],
        ));
    }
    Briefing {
        kind,
        title,
        sections,
    }
}

fn done_since(projects: &[Project], since: DateTime<Utc>) -> Vec<String> {
    projects
        .iter()
        .filter(|p| p.status == Status::Completed && p.updated_at >= since)
        .map(line)
        .collect()
}

/// Asks a model to phrase the structured briefing in Z's voice, keeping
/// every fact.
pub fn phrasing_prompt(b: &Briefing) -> Vec<crate::agent::ChatMessage> {
    use crate::agent::{ChatMessage, Role};
    vec![
        ChatMessage::new(
            Role::System,
            "You are Z. Rewrite this briefing for the owner: warm, direct, short. \
             Keep every project name, number and date exactly; add nothing that is not there.",
        ),
        ChatMessage::new(Role::User, b.render()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Priority, Progress};
    use chrono::TimeZone;

    fn project(
        id: i64,
        name: &str,
        status: Status,
        progress: u8,
        days_ago: i64,
        now: DateTime<Utc>,
    ) -> Project {
        Project {
            id,
            name: name.into(),
            parent_id: None,
            status,
            priority: Priority::try_from(i64::from(id as u8 % 5 + 1)).expect("priority"),
            domain: if id % 2 == 0 {
                Domain::Health
            } else {
                Domain::Career
            },
            progress: Progress::try_from(i64::from(progress)).expect("progress"),
            description: None,
            created_at: now - Duration::days(90),
            updated_at: now - Duration::days(days_ago),
            last_reviewed_at: None,
        }
    }

    fn inputs<'a>(projects: &'a [Project], now: DateTime<Tz>) -> Inputs<'a> {
        Inputs {
            projects,
            memories: &[],
            now,
        }
    }

    #[test]
    fn the_daily_briefing_names_what_needs_attention_and_what_was_done() {
        let now = chrono_tz::Europe::Berlin
            .with_ymd_and_hms(2026, 11, 24, 7, 30, 0)
            .unwrap();
        let utc = now.with_timezone(&Utc);
        let ps = [
            project(1, "Career", Status::Active, 40, 10, utc),
            project(2, "Marathon", Status::Active, 70, 1, utc),
            project(3, "Novel", Status::Paused, 10, 30, utc),
            project(4, "Kindergarten", Status::Completed, 100, 0, utc),
        ];
        let text = compose(Kind::Daily, &inputs(&ps, now)).render();
        assert!(
            text.starts_with("Good morning. Tuesday 24 November 2026."),
            "{text}"
        );
        assert!(
            text.contains("Career (active, 40% done) – not looked at for 10 days"),
            "{text}"
        );
        assert!(
            !text.contains("Marathon (active, 70% done) – not looked at"),
            "{text}"
        );
        assert!(text.contains("Novel (paused, 10% done) – paused"), "{text}");
        assert!(
            text.contains("Done since yesterday\n- Kindergarten"),
            "{text}"
        );
    }

    #[test]
    fn the_weekly_review_splits_moved_from_stalled_and_asks_one_question() {
        let now = chrono_tz::America::New_York
            .with_ymd_and_hms(2026, 11, 29, 10, 0, 0)
            .unwrap();
        let utc = now.with_timezone(&Utc);
        let ps = [
            project(1, "Career", Status::Active, 40, 12, utc),
            project(2, "Marathon", Status::Active, 70, 2, utc),
        ];
        let b = compose(Kind::Weekly, &inputs(&ps, now));
        let text = b.render();
        assert!(text.contains("Moved this week\n- Marathon"), "{text}");
        assert!(
            text.contains("Stalled\n- Career (active, 40% done) – no change for 12 days"),
            "{text}"
        );
        assert!(
            text.contains("What is the one next step for Career"),
            "{text}"
        );
    }

    #[test]
    fn the_monthly_review_goes_by_life_domain() {
        let now = chrono_tz::UTC
            .with_ymd_and_hms(2026, 12, 1, 9, 0, 0)
            .unwrap();
        let utc = now.with_timezone(&Utc);
        let ps = [
            project(1, "Career", Status::Active, 40, 3, utc),
            project(3, "Side job", Status::Active, 60, 3, utc),
            project(2, "Marathon", Status::Completed, 100, 5, utc),
        ];
        let text = compose(Kind::Monthly, &inputs(&ps, now)).render();
        assert!(
            text.contains("career\n- 2 active (on average 50% done), 0 completed this month"),
            "{text}"
        );
        assert!(
            text.contains("health\n- 0 active (on average 0% done), 1 completed this month"),
            "{text}"
        );
    }

    #[test]
    fn with_nothing_there_is_still_a_briefing() {
        let now = chrono_tz::UTC
            .with_ymd_and_hms(2026, 11, 24, 7, 30, 0)
            .unwrap();
        let text = compose(Kind::Daily, &inputs(&[], now)).render();
        assert!(text.contains("No projects yet"), "{text}");
    }
}
