//! Briefings and reviews, composed from what exists: first a structured
//! briefing (plain text, always deliverable), which a model may then phrase
//! in Z's voice. Pure: the caller passes projects, memories and the time.
//!
//! The capabilities (calendar, mail, tasks, training, news, money, …)
//! bring their own [`Section`]s, each saying where it goes (before the
//! projects' sections or after them) and in what order; an empty section
//! is left out rather than shown empty.
//!
//! A daily briefing does not repeat itself: each line it carries has a key
//! ([`Briefing::items`]); the caller records them when it delivers, passes
//! them back in [`Inputs::delivered`], and a line delivered recently is left
//! out (see [`remind_after`]).

use std::collections::HashMap;

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

/// Where a capability's section goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Place {
    /// Before the projects' sections (today's calendar, mail, tasks due).
    Lead,
    /// After them (training, money), before a review's closing question.
    Tail,
}

/// A section a capability contributes: shown under its heading, in its
/// place, sections of one place ordered by `rank` (then as given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub heading: String,
    pub lines: Vec<String>,
    pub place: Place,
    pub rank: u8,
}

impl Section {
    pub fn new(heading: impl Into<String>, lines: Vec<String>, place: Place, rank: u8) -> Self {
        Section {
            heading: heading.into(),
            lines,
            place,
            rank,
        }
    }
}

/// What a briefing is made from.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    pub projects: &'a [Project],
    /// Memories to recall (from this day in earlier years), newest first.
    pub memories: &'a [Memory],
    pub now: DateTime<Tz>,
    /// Items delivered before, with when (keys as in [`Briefing::items`]).
    pub delivered: &'a HashMap<String, DateTime<Utc>>,
    /// The capabilities' sections for this kind of briefing.
    pub sections: &'a [Section],
}

impl<'a> Inputs<'a> {
    /// Inputs with only projects, memories and the time.
    pub fn new(
        projects: &'a [Project],
        memories: &'a [Memory],
        delivered: &'a HashMap<String, DateTime<Utc>>,
        now: DateTime<Tz>,
    ) -> Self {
        Self {
            projects,
            memories,
            now,
            delivered,
            sections: &[],
        }
    }
}

/// How long a delivered item stays out of the daily briefing: a project
/// needing attention is named again after 3 days if it still does; a
/// completion is told once; a memory recalled comes back a year later.
pub fn remind_after(item: &str) -> Duration {
    match item.split(':').next() {
        Some("attention") => Duration::days(3),
        Some("recall") => Duration::days(300),
        _ => Duration::days(30),
    }
}

/// A composed briefing: a title and sections of lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Briefing {
    pub kind: Kind,
    pub title: String,
    pub sections: Vec<(String, Vec<String>)>,
    /// Keys of the items carried (daily only), to record on delivery.
    pub items: Vec<String>,
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
    let mut items = Vec::new();
    let date = i.now.format("%A %-d %B %Y");
    let title = match kind {
        Kind::Daily => format!("Good morning. {date}."),
        Kind::Weekly => format!("Weekly review, {date}."),
        Kind::Monthly => format!("Monthly review, {}.", i.now.format("%B %Y")),
    };
    let mut contributed: Vec<&Section> =
        i.sections.iter().filter(|s| !s.lines.is_empty()).collect();
    contributed.sort_by_key(|s| (s.place, s.rank));
    let placed = |place: Place| {
        contributed
            .iter()
            .filter(move |s| s.place == place)
            .map(|s| (s.heading.clone(), s.lines.clone()))
    };
    sections.extend(placed(Place::Lead));
    match kind {
        Kind::Daily => {
            let mut attention: Vec<(String, String)> = active
                .iter()
                .filter(|p| age_days(p, now) >= STALE_DAYS)
                .map(|p| {
                    (
                        format!("attention:project:{}", p.id),
                        format!("{} – not looked at for {} days", line(p), age_days(p, now)),
                    )
                })
                .collect();
            attention.extend(
                i.projects
                    .iter()
                    .filter(|p| p.status == Status::Paused)
                    .map(|p| {
                        (
                            format!("attention:project:{}", p.id),
                            format!("{} – paused", line(p)),
                        )
                    }),
            );
            let done: Vec<(String, String)> = i
                .projects
                .iter()
                .filter(|p| {
                    p.status == Status::Completed && p.updated_at >= now - Duration::days(1)
                })
                .map(|p| (format!("done:project:{}", p.id), line(p)))
                .collect();
            let recall: Vec<(String, String)> = i
                .memories
                .iter()
                .map(|m| {
                    (
                        format!("recall:memory:{}", m.id),
                        format!(
                            "({}) {}",
                            m.created_at
                                .with_timezone(&i.now.timezone())
                                .format("%Y-%m-%d"),
                            m.text.trim()
                        ),
                    )
                })
                .collect();
            for (heading, lines, max) in [
                ("Needs your attention", attention, usize::MAX),
                ("Done since yesterday", done, usize::MAX),
                ("On this day", recall, 3),
            ] {
                let fresh: Vec<(String, String)> = lines
                    .into_iter()
                    .filter(|(key, _)| {
                        i.delivered
                            .get(key)
                            .is_none_or(|at| now - *at >= remind_after(key))
                    })
                    .take(max)
                    .collect();
                if !fresh.is_empty() {
                    items.extend(fresh.iter().map(|(k, _)| k.clone()));
                    sections.push((
                        heading.to_owned(),
                        fresh.into_iter().map(|(_, l)| l).collect(),
                    ));
                }
            }
            let focus: Vec<String> = {
                let mut a = active.clone();
                a.sort_by_key(|p| (p.priority.get(), std::cmp::Reverse(p.progress.get())));
                a.iter().take(3).map(|p| line(p)).collect()
            };
            if !focus.is_empty() {
                sections.push(("Top priorities".to_owned(), focus));
            }
            sections.extend(placed(Place::Tail));
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
            sections.extend(placed(Place::Tail));
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
            sections.extend(placed(Place::Tail));
        }
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
        items,
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

/// The runs of digits in `t`, line by line, leaving out list markers
/// ("1. ", "2) ": layout, not facts). What a faithfulness check compares.
pub(crate) fn numbers(t: &str) -> Vec<String> {
    t.lines()
        .map(|l| {
            let l = l.trim_start();
            let digits = l.bytes().take_while(u8::is_ascii_digit).count();
            match l.as_bytes().get(digits) {
                Some(b'.' | b')') if digits > 0 && digits <= 2 => &l[digits + 1..],
                _ => l,
            }
        })
        .flat_map(|l| {
            l.split(|c: char| !c.is_ascii_digit())
                .filter(|d| !d.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Checks a model's phrasing against the plain briefing: every project the
/// plain text names must still be named, every number below the title (a
/// percentage, a count of days) must still be there, and every number in
/// the phrasing must be one the plain text has (no invented percentages,
/// days or dates). Small models fail all three; then the plain briefing
/// goes out instead. The error says what was lost or made up.
pub fn check_phrasing(plain: &str, phrased: &str, project_names: &[&str]) -> Result<(), String> {
    let lower = phrased.to_lowercase();
    if let Some(lost) = project_names
        .iter()
        .filter(|n| plain.contains(*n))
        .find(|n| !lower.contains(&n.to_lowercase()))
    {
        return Err(format!("left out {lost}"));
    }
    let known = numbers(plain);
    let said = numbers(phrased);
    // Counted, not only looked up: "4:30" in a text that has a 4 and a 30
    // elsewhere is a made-up figure too.
    let count = |all: &[String], n: &String| all.iter().filter(|m| *m == n).count();
    if let Some(made_up) = said.iter().find(|n| count(&said, n) > count(&known, n)) {
        return Err(format!("made up the number {made_up}"));
    }
    // The title's date may be rephrased; the facts below it may not go.
    let body = plain.split_once('\n').map_or("", |(_, b)| b);
    match numbers(body).into_iter().find(|n| !said.contains(n)) {
        Some(lost) => Err(format!("left out the number {lost}")),
        None => Ok(()),
    }
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

    static NONE: std::sync::LazyLock<HashMap<String, DateTime<Utc>>> =
        std::sync::LazyLock::new(HashMap::new);

    fn inputs<'a>(projects: &'a [Project], now: DateTime<Tz>) -> Inputs<'a> {
        Inputs::new(projects, &[], &NONE, now)
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
    fn a_daily_briefing_does_not_repeat_what_it_already_said() {
        let now = chrono_tz::America::New_York
            .with_ymd_and_hms(2026, 11, 24, 7, 30, 0)
            .unwrap();
        let utc = now.with_timezone(&Utc);
        let ps = [
            project(1, "Career", Status::Active, 40, 10, utc),
            project(3, "Novel", Status::Paused, 10, 30, utc),
            project(4, "Kindergarten", Status::Completed, 100, 0, utc),
        ];
        // Noted a year ago, late in the evening local time (next day in UTC).
        let memory = Memory {
            id: 12,
            text: "Anna's first day at school ".into(),
            created_at: chrono_tz::America::New_York
                .with_ymd_and_hms(2025, 11, 24, 21, 0, 0)
                .unwrap()
                .with_timezone(&Utc),
            source: crate::memory::Source::new("chat").unwrap(),
            external_id: None,
            metadata: None,
            model: None,
        };
        let sections = [
            Section::new("Training", vec!["Form +3".into()], Place::Tail, 0),
            Section::new("Mail", vec![], Place::Lead, 20),
            Section::new("Tasks due", vec!["Call the bank".into()], Place::Lead, 30),
            Section::new(
                "Today's calendar",
                vec!["09:00 Dentist".into()],
                Place::Lead,
                10,
            ),
        ];
        let mut delivered = HashMap::new();
        let mut i = Inputs::new(&ps, std::slice::from_ref(&memory), &delivered, now);
        i.sections = &sections;
        let first = compose(Kind::Daily, &i);
        let text = first.render();
        // Sections in their place and rank; an empty one left out.
        assert!(
            text.contains(
                "Today's calendar\n- 09:00 Dentist\n\nTasks due\n- Call the bank\n\nNeeds your attention"
            ),
            "{text}"
        );
        assert!(!text.contains("Mail"), "{text}");
        assert!(text.trim_end().ends_with("Training\n- Form +3"), "{text}");
        assert!(
            text.contains("On this day\n- (2025-11-24) Anna's first day at school\n"),
            "{text}"
        );
        assert_eq!(
            first.items,
            [
                "attention:project:1",
                "attention:project:3",
                "done:project:4",
                "recall:memory:12"
            ]
        );

        // Delivered yesterday: the completion and the memory are not told
        // again, the paused project waits three days to be named again.
        for k in &first.items {
            delivered.insert(k.clone(), utc - Duration::days(1));
        }
        delivered.insert("attention:project:1".into(), utc - Duration::days(3));
        let again = compose(
            Kind::Daily,
            &Inputs::new(&ps, std::slice::from_ref(&memory), &delivered, now),
        );
        let text = again.render();
        assert!(
            text.contains("Career (active, 40% done) – not looked at"),
            "{text}"
        );
        assert!(!text.contains("Novel"), "{text}");
        assert!(!text.contains("Kindergarten"), "{text}");
        assert!(!text.contains("On this day"), "{text}");
        assert!(!text.contains("Today's calendar"), "{text}");
        assert_eq!(again.items, ["attention:project:1"]);
    }

    #[test]
    fn a_phrasing_that_drops_a_project_or_changes_a_number_is_refused() {
        let plain = "Good morning. Tuesday 24 November 2026.\n\nTop priorities\n\
                     - Career (active, 40% done)\n- Marathon (active, 70% done)";
        let names = ["Career", "Marathon", "Novel"];
        let good = "Morning! It's Tuesday 24 November 2026.\n1. Career is 40% done.\n\
                    2. marathon: 70% there.";
        assert_eq!(check_phrasing(plain, good, &names), Ok(()));
        // What a 135M model really wrote: numbers changed, one made up.
        let bad = "Top priorities\n- Career (active, 35% done)\n- Marathon (active, 42.67%)";
        assert_eq!(
            check_phrasing(plain, bad, &names),
            Err("made up the number 35".into())
        );
        assert_eq!(
            check_phrasing(plain, "Career is 40% done. 2026!", &names),
            Err("left out Marathon".into())
        );
        // Each number it has may come back as often as it was there, no
        // more: a pace of 4:30 is made up even where a 4 and a 30 exist.
        let run = "Run\n- 10 km in 48:20 · 4:50 /km\n- Race in 30 days";
        assert_eq!(
            check_phrasing(
                run,
                "10 km in 48:20 at 4:50 /km, 4:30 at best; race in 30 days",
                &[]
            ),
            Err("made up the number 4".into())
        );
        assert_eq!(
            check_phrasing(run, "Nice: 10 km in 48:20, 4:50 /km. Race in 30 days!", &[]),
            Ok(())
        );
        // What it wrote on a fresh install: every name somewhere, no
        // number at all — the facts are gone.
        let waffle = "I'm glad to see you're taking a positive approach to your career \
                      and your marathon. Prioritise self-care.";
        assert_eq!(
            check_phrasing(plain, waffle, &names),
            Err("left out the number 40".into())
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
