//! The owner's calendars as Z reads them: the agenda of any span of days in
//! the owner's zone, the briefing's calendar lines and the look at the
//! coming week kept for "what changed", `/today` and `/week`, and
//! reminders before events. Sources and syncing are in
//! [`crate::calendar_sources`] (re-exported here).
//!
//! **Invariants:** occurrences are expanded at read time from what the
//! sources sent, in the owner's zone; a reminder is queued once per
//! occurrence and start.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use openzero_core::calendar::{Occurrence, When, midnight, sort_agenda};
use openzero_store::calendar::{CalendarRow, CalendarStore};

use crate::{AppError, Services};

pub use crate::calendar_sources::*;

/// Occurrences of a span, and what in the calendars could not be read.
#[derive(Debug, Clone, Default)]
pub struct Agenda {
    pub occurrences: Vec<Occurrence>,
    pub problems: Vec<String>,
}

/// Display names of calendars: the calendar's own, or "source/calendar"
/// when two sources have a calendar of the same name.
fn display_names(cals: &[CalendarRow]) -> HashMap<i64, String> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for c in cals {
        *count.entry(c.name.as_str()).or_default() += 1;
    }
    cals.iter()
        .map(|c| {
            let name = if count.get(c.name.as_str()).copied().unwrap_or(0) > 1 {
                format!("{}/{}", c.source, c.name)
            } else {
                c.name.clone()
            };
            (c.id, name)
        })
        .collect()
}

/// Every occurrence overlapping `[from, to)` across all calendars, in
/// agenda order. `calendars` limits it to those names.
pub async fn agenda(
    store: &dyn CalendarStore,
    tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Agenda, AppError> {
    let cals = store.cal_calendars().await?;
    let names = display_names(&cals);
    let mut by_cal: BTreeMap<i64, Vec<openzero_calendar::Event>> = BTreeMap::new();
    let mut out = Agenda::default();
    for obj in store.cal_objects(None).await? {
        let parsed = openzero_calendar::parse(obj.ics.as_bytes());
        let cal_name = names.get(&obj.calendar_id).cloned().unwrap_or_default();
        out.problems
            .extend(parsed.problems.iter().map(|p| format!("{cal_name}: {p}")));
        by_cal
            .entry(obj.calendar_id)
            .or_default()
            .extend(parsed.events);
    }
    for (id, events) in by_cal {
        let cal_name = names.get(&id).cloned().unwrap_or_default();
        let (mut occ, problems) = openzero_calendar::expand(&events, &cal_name, tz, from, to);
        for o in &mut occ {
            o.calendar_id = id;
        }
        out.problems
            .extend(problems.iter().map(|p| format!("{cal_name}: {p}")));
        out.occurrences.append(&mut occ);
    }
    out.problems.sort();
    out.problems.dedup();
    sort_agenda(&mut out.occurrences, tz);
    Ok(out)
}

/// The agenda of whole days `from..to` (exclusive) in `tz`.
pub async fn agenda_days(
    store: &dyn CalendarStore,
    tz: Tz,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Agenda, AppError> {
    agenda(store, tz, midnight(tz, from), midnight(tz, to)).await
}

/// How an occurrence is written as JSON: `start`/`end` in RFC 3339 with the
/// owner's offset, or `YYYY-MM-DD` for all-day events (end exclusive).
pub fn occurrence_json(o: &Occurrence, tz: Tz) -> serde_json::Value {
    let (start, end) = match o.when {
        When::Timed { start, end } => (
            start.with_timezone(&tz).to_rfc3339(),
            end.with_timezone(&tz).to_rfc3339(),
        ),
        When::AllDay { start, end } => (start.to_string(), end.to_string()),
    };
    serde_json::json!({
        "uid": o.uid,
        "summary": o.summary,
        "start": start,
        "end": end,
        "all_day": o.when.is_all_day(),
        "location": o.location,
        "calendar": o.calendar,
        "status": o.status.as_str(),
        "busy": o.busy,
    })
}

/// Days the morning briefing watches for changes (today and the next five).
const WATCH_DAYS: i64 = 6;

/// The calendar lines of a briefing: the day (with overlaps, the first
/// free hour and what changed since the last briefing's look) for the
/// daily one, the coming week for the weekly review.
pub async fn briefing_lines(
    store: &dyn CalendarStore,
    tz: Tz,
    now: DateTime<Utc>,
    weekly: bool,
) -> Result<Vec<String>, AppError> {
    let today = now.with_timezone(&tz).date_naive();
    if weekly {
        let a = agenda_days(store, tz, today, today + chrono::Duration::days(7)).await?;
        return Ok(openzero_core::calendar::week_lines(
            &a.occurrences,
            tz,
            today,
            7,
        ));
    }
    let day = agenda_days(store, tz, today, today + chrono::Duration::days(1)).await?;
    let mut changes = Vec::new();
    if let Some((taken, before)) = last_snapshot(store, today).await? {
        // Only the days both looks cover: the last look (maybe Friday's)
        // saw up to its own day + WATCH_DAYS.
        let end = (today + chrono::Duration::days(WATCH_DAYS))
            .min(taken + chrono::Duration::days(WATCH_DAYS + 1));
        let (from, to) = (midnight(tz, today), midnight(tz, end));
        let now_window = agenda(store, tz, from, to).await?.occurrences;
        let before: Vec<Occurrence> = before
            .into_iter()
            .filter(|o| o.overlaps(tz, from, to))
            .collect();
        changes = openzero_core::calendar::changes(&before, &now_window, tz);
        // "Cancelled" may be "moved out of the window": look further.
        if changes
            .iter()
            .any(|c| matches!(c, openzero_core::calendar::Change::Cancelled(_)))
        {
            let wide = agenda(
                store,
                tz,
                midnight(tz, today - chrono::Duration::days(30)),
                midnight(tz, today + chrono::Duration::days(120)),
            )
            .await?
            .occurrences;
            let by_key: HashMap<String, &Occurrence> = wide
                .iter()
                .filter(|o| o.status != openzero_core::calendar::EventStatus::Cancelled)
                .map(|o| (o.key(), o))
                .collect();
            for c in &mut changes {
                if let openzero_core::calendar::Change::Cancelled(o) = c
                    && o.status != openzero_core::calendar::EventStatus::Cancelled
                    && let Some(now) = by_key.get(&o.key())
                {
                    *c = openzero_core::calendar::Change::Moved {
                        before: o.when,
                        now: (*now).clone(),
                    };
                }
            }
        }
    }
    Ok(openzero_core::calendar::briefing_lines(
        &day.occurrences,
        &changes,
        tz,
        now,
        (8, 20),
    ))
}

/// The most recent look kept before `today` (up to a week back), with the
/// day it was taken.
async fn last_snapshot(
    store: &dyn CalendarStore,
    today: NaiveDate,
) -> Result<Option<(NaiveDate, Vec<Occurrence>)>, AppError> {
    for back in 1..=7 {
        let d = today - chrono::Duration::days(back);
        if let Some((_, json)) = store.cal_snapshot(d).await? {
            return match serde_json::from_str(&json) {
                Ok(v) => Ok(Some((d, v))),
                Err(e) => {
                    tracing::warn!(day = %d, error = %e, "calendar snapshot unreadable; changes not shown");
                    Ok(None)
                }
            };
        }
    }
    Ok(None)
}

/// Keeps how the coming days look, for the next briefing's "what changed".
pub async fn keep_snapshot(
    store: &dyn CalendarStore,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let today = now.with_timezone(&tz).date_naive();
    let a = agenda_days(
        store,
        tz,
        today,
        today + chrono::Duration::days(WATCH_DAYS + 1),
    )
    .await?;
    let json = serde_json::to_string(&a.occurrences)
        .map_err(|e| AppError::Invalid(format!("calendar snapshot: {e}")))?;
    store.cal_snapshot_put(today, &json).await?;
    Ok(())
}

/// `/today` and `/week` in chat: the agenda of `days` days from today.
pub async fn chat_agenda(services: &Services, days: i64) -> Result<String, AppError> {
    let tz = services.loaded.settings.general.timezone.0;
    let now = crate::clock::now();
    let today = now.with_timezone(&tz).date_naive();
    let store: &dyn CalendarStore = &*services.store;
    if store.cal_sources().await?.is_empty() {
        return Ok("No calendars yet. Add one with `openzero calendar add-url URL` or `openzero calendar add-caldav URL --user NAME`.".into());
    }
    let a = agenda_days(store, tz, today, today + chrono::Duration::days(days)).await?;
    if days == 1 {
        let lines = openzero_core::calendar::briefing_lines(&a.occurrences, &[], tz, now, (8, 20));
        let head = format!("Today, {}", now.with_timezone(&tz).format("%A %-d %B"));
        return Ok(
            if a.occurrences
                .iter()
                .all(|o| o.status == openzero_core::calendar::EventStatus::Cancelled)
            {
                format!("{head}: nothing in your calendars.")
            } else {
                format!(
                    "{head}\n{}",
                    lines
                        .iter()
                        .map(|l| format!("• {l}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            },
        );
    }
    let lines = openzero_core::calendar::week_lines(&a.occurrences, tz, today, days as u32);
    Ok(if lines.is_empty() {
        "The next seven days: nothing in your calendars.".into()
    } else {
        format!(
            "The next seven days\n{}",
            lines
                .iter()
                .map(|l| format!("• {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

/// Sends the reminders due at `now`: for each calendar with reminders on,
/// every timed event starting within its minutes gets one notification
/// (keyed by the occurrence and its start, so a restart or a second pass
/// never repeats it, and a moved event is reminded again at its new time).
/// Returns how many were queued.
pub async fn remind_due(services: &Services, now: DateTime<Utc>) -> Result<usize, AppError> {
    let store: &dyn CalendarStore = &*services.store;
    let cals = store.cal_calendars().await?;
    let names = display_names(&cals);
    let minutes: HashMap<String, i64> = cals
        .iter()
        .filter_map(|c| {
            c.remind_minutes
                .map(|m| (names.get(&c.id).cloned().unwrap_or_default(), m))
        })
        .collect();
    let Some(longest) = minutes.values().copied().max() else {
        return Ok(0);
    };
    let tz = services.loaded.settings.general.timezone.0;
    let a = agenda(store, tz, now, now + chrono::Duration::minutes(longest + 1)).await?;
    let mut sent = 0;
    for o in a.occurrences {
        let When::Timed { start, .. } = o.when else {
            continue;
        };
        let Some(m) = minutes.get(&o.calendar) else {
            continue;
        };
        if o.status == openzero_core::calendar::EventStatus::Cancelled
            || start <= now
            || start - chrono::Duration::minutes(*m) > now
        {
            continue;
        }
        let left = (start - now).num_minutes().max(1);
        let mut text = format!(
            "⏰ {} {}",
            openzero_core::calendar::time_label(&o.when, tz),
            o.summary
        );
        if let Some(l) = &o.location {
            text.push_str(&format!(" @ {l}"));
        }
        text.push_str(&format!(" (in {left} min)"));
        let key = format!("reminder:{}:{}", o.key(), start.timestamp());
        services.notify_once(&key, &text).await?;
        sent += 1;
    }
    Ok(sent)
}

/// The reminder loop `serve` runs: a pass every 30 seconds.
pub async fn remind(services: Arc<Services>, mut stop: tokio::sync::watch::Receiver<bool>) {
    while !*stop.borrow() {
        if let Err(e) = remind_due(&services, crate::clock::now()).await {
            tracing::warn!(error = %e, "calendar reminders not checked");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(30)) => {}
            _ = stop.changed() => break,
        }
    }
}

/// Turns reminders on (minutes before) or off for the calendars called
/// `name` (a calendar, or every calendar of a source by that name).
/// Returns the calendars changed.
pub async fn set_reminders(
    store: &dyn CalendarStore,
    name: &str,
    minutes: Option<i64>,
) -> Result<Vec<String>, AppError> {
    let cals = store.cal_calendars().await?;
    let names = display_names(&cals);
    let chosen: Vec<&CalendarRow> = cals
        .iter()
        .filter(|c| {
            c.source == name || names.get(&c.id).is_some_and(|n| n == name) || c.name == name
        })
        .collect();
    if chosen.is_empty() {
        return Err(AppError::Invalid(format!(
            "there is no calendar or source \"{name}\" (see `openzero calendar list`)"
        )));
    }
    let mut out = Vec::new();
    for c in chosen {
        store.cal_set_reminders(c.id, minutes).await?;
        out.push(names.get(&c.id).cloned().unwrap_or_else(|| c.name.clone()));
    }
    Ok(out)
}

/// `serve`'s part: the reminders loop.
pub fn serve_parts(services: &Arc<Services>, parts: &mut crate::serve_parts::Parts) {
    let services = services.clone();
    parts.worker("calendar-reminders", move |stop| {
        let services = services.clone();
        async move {
            remind(services, stop).await;
            Ok(())
        }
    });
}

/// The briefing's calendar: today's in the morning briefing (first), the
/// coming week's in the weekly review.
pub async fn briefing_part(
    services: &Arc<Services>,
    kind: openzero_core::briefing::Kind,
    now: DateTime<Tz>,
) -> Result<crate::briefings::Part, AppError> {
    use openzero_core::briefing::{Kind, Place};
    let (heading, place, rank, weekly) = match kind {
        Kind::Daily => ("Today's calendar", Place::Lead, 10, false),
        Kind::Weekly => ("The coming week", Place::Tail, 20, true),
        Kind::Monthly => return Ok(crate::briefings::Part::default()),
    };
    let store = &*services.store;
    let lines = briefing_lines(store, now.timezone(), now.with_timezone(&Utc), weekly).await?;
    Ok(crate::briefings::Part::section(heading, lines, place, rank))
}
