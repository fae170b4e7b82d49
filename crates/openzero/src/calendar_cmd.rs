//! `openzero calendar …`: the agenda, sources, import, subscribe, sync.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use openzero_app::Services;
use openzero_app::calendar::{self, AddReport};
use openzero_config::Loaded;
use openzero_core::calendar::{EventStatus, Occurrence, time_label};

use crate::cli::CalendarCommand;

pub async fn run(loaded: Loaded, cmd: CalendarCommand) -> Result<ExitCode> {
    let services = openzero_server::services(loaded).await?;
    let result = command(&services, cmd).await;
    services.store.close().await;
    result
}

fn day(s: &str, flag: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .filter(|d| (1900..=2200).contains(&chrono::Datelike::year(d)))
        .with_context(|| {
            format!("{flag} '{s}' is not a date between 1900 and 2200: use 2026-12-01")
        })
}

fn print_report(r: &AddReport, verb: &str) {
    outln!(
        "{verb} \"{}\": {} calendar{}, {} event{}.",
        r.source,
        r.calendars,
        if r.calendars == 1 { "" } else { "s" },
        r.events,
        if r.events == 1 { "" } else { "s" }
    );
    if !r.problems.is_empty() {
        outln!(
            "{} problem{} (those events are left out or read as noted):",
            r.problems.len(),
            if r.problems.len() == 1 { "" } else { "s" }
        );
        for p in r.problems.iter().take(10) {
            outln!("  - {p}");
        }
        if r.problems.len() > 10 {
            outln!("  … and {} more", r.problems.len() - 10);
        }
    }
    if r.shifted {
        outln!(
            "Note: most of its events fall at odd hours in your time zone, as if a local calendar were stored in UTC. Check a few against the source."
        );
    }
}

fn agenda_text(items: &[Occurrence], tz: Tz, from: NaiveDate, to: NaiveDate) {
    let mut d = from;
    let mut any = false;
    while d < to {
        let (s, e) = (
            openzero_core::calendar::midnight(tz, d),
            openzero_core::calendar::midnight(tz, d + Duration::days(1)),
        );
        let todays: Vec<&Occurrence> = items.iter().filter(|o| o.overlaps(tz, s, e)).collect();
        if !todays.is_empty() {
            if any || to - from > Duration::days(1) {
                outln!("{}", d.format("%A %-d %B %Y"));
            }
            any = true;
            for o in todays {
                let mut line = format!("  {:<13} {}", time_label(&o.when, tz), o.summary);
                if let Some(l) = &o.location {
                    line.push_str(&format!(" @ {l}"));
                }
                line.push_str(&format!("  [{}]", o.calendar));
                if o.status == EventStatus::Cancelled {
                    line.push_str("  (cancelled)");
                } else if o.status == EventStatus::Tentative {
                    line.push_str("  (tentative)");
                }
                outln!("{line}");
            }
        }
        d += Duration::days(1);
    }
    if !any {
        outln!("Nothing in your calendars.");
    }
}

async fn command(services: &Arc<Services>, cmd: CalendarCommand) -> Result<ExitCode> {
    let tz = services.tz();
    let store = &*services.store;
    match cmd {
        CalendarCommand::Agenda {
            from,
            to,
            days,
            all,
            json,
        } => {
            let today = openzero_app::clock::now().with_timezone(&tz).date_naive();
            let from = match from {
                Some(s) => day(&s, "--from")?,
                None => today,
            };
            let to = match (to, days) {
                (Some(s), _) => day(&s, "--to")? + Duration::days(1),
                (None, Some(n)) => from + Duration::days(i64::from(n.clamp(1, 3660))),
                (None, None) => from + Duration::days(1),
            };
            if to <= from {
                bail!("--to is before --from");
            }
            if to - from > Duration::days(3660) {
                bail!("at most ten years at a time");
            }
            let agenda = calendar::agenda_days(store, tz, from, to).await?;
            let items: Vec<Occurrence> = agenda
                .occurrences
                .into_iter()
                .filter(|o| all || o.status != EventStatus::Cancelled)
                .collect();
            if json {
                for o in &items {
                    outln!("{}", calendar::occurrence_json(o, tz));
                }
            } else {
                agenda_text(&items, tz, from, to);
            }
            for p in agenda.problems.iter().take(5) {
                eprintln!("note: {p}");
            }
        }
        CalendarCommand::List { json } => {
            let sources = store.cal_sources().await?;
            let cals = store.cal_calendars().await?;
            if json {
                for s in &sources {
                    let mine: Vec<serde_json::Value> = cals
                        .iter()
                        .filter(|c| c.source_id == s.id)
                        .map(|c| {
                            serde_json::json!({
                                "name": c.name, "events": c.objects, "color": c.color,
                                "reminders_minutes": c.remind_minutes,
                            })
                        })
                        .collect();
                    outln!(
                        "{}",
                        serde_json::json!({
                            "name": s.name, "kind": s.kind.as_str(),
                            "url": shown_url(&s.url, s.kind),
                            "user": s.username, "synced_at": s.synced_at,
                            "error": s.last_error, "calendars": mine,
                        })
                    );
                }
            } else if sources.is_empty() {
                outln!(
                    "No calendars yet. Add one with `openzero calendar import FILE.ics`, `add-url URL` or `add-caldav URL --user NAME`."
                );
            } else {
                for s in &sources {
                    let when = s
                        .synced_at
                        .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_else(|| "never".into());
                    outln!(
                        "{} ({}, {}) synced {when}",
                        s.name,
                        s.kind.as_str(),
                        shown_url(&s.url, s.kind)
                    );
                    if let Some(e) = &s.last_error {
                        outln!("  last sync failed: {e}");
                    }
                    for c in cals.iter().filter(|c| c.source_id == s.id) {
                        outln!(
                            "  - {} ({} resource{})",
                            c.name,
                            c.objects,
                            if c.objects == 1 { "" } else { "s" }
                        );
                    }
                }
            }
        }
        CalendarCommand::Import { file, name } => {
            let r = calendar::import_file(store, tz, &file, name.as_deref()).await?;
            print_report(&r, "Imported");
        }
        CalendarCommand::AddUrl { url, name } => {
            let r = calendar::add_url(store, tz, &url, name.as_deref()).await?;
            print_report(&r, "Subscribed to");
        }
        CalendarCommand::AddCaldav {
            url,
            user,
            password_file,
            name,
        } => {
            let password = match (std::env::var("CALDAV_PASSWORD").ok(), password_file) {
                (_, Some(f)) => std::fs::read_to_string(&f)
                    .with_context(|| format!("cannot read {}", f.display()))?
                    .trim_end_matches(['\r', '\n'])
                    .to_string(),
                (Some(p), None) => p,
                (None, None) => {
                    let term = console::Term::stderr();
                    if !term.is_term() {
                        bail!("no password: set CALDAV_PASSWORD or give --password-file");
                    }
                    eprint!("CalDAV password for {user}: ");
                    term.read_secure_line()
                        .context("cannot read the password")?
                }
            };
            let r = calendar::add_caldav(
                &services.loaded,
                store,
                &url,
                &user,
                &password,
                name.as_deref(),
            )
            .await?;
            print_report(&r, "Added");
        }
        CalendarCommand::Connect {
            provider,
            name,
            refresh_token_file,
        } => {
            if !provider.eq_ignore_ascii_case("google") {
                bail!(
                    "'{provider}' cannot be connected: google (its Calendar API); CalDAV accounts use add-caldav"
                );
            }
            let token = match refresh_token_file {
                Some(f) => Some(
                    std::fs::read_to_string(&f)
                        .with_context(|| format!("cannot read {}", f.display()))?
                        .trim()
                        .to_string(),
                ),
                None => None,
            };
            let pasted = crate::commands::pasted_line();
            let say = |s: &str| outln!("{s}");
            let r = openzero_app::calendar_google::connect(
                &services.loaded,
                store,
                &name,
                token,
                &say,
                pasted,
            )
            .await?;
            print_report(&r, "Connected");
        }
        CalendarCommand::Remind { name, minutes } => {
            let m = if minutes.eq_ignore_ascii_case("off") {
                None
            } else {
                let m: i64 = minutes
                    .parse()
                    .ok()
                    .filter(|m| (1..=10_080).contains(m))
                    .with_context(|| {
                        format!("'{minutes}' is not a number of minutes (1 to 10080) or off")
                    })?;
                Some(m)
            };
            let cals = calendar::set_reminders(store, &name, m).await?;
            match m {
                Some(m) => outln!(
                    "Reminders {m} minutes before events in: {}.",
                    cals.join(", ")
                ),
                None => outln!("Reminders off for: {}.", cals.join(", ")),
            }
        }
        CalendarCommand::Remove { name } => {
            if !calendar::remove(&services.loaded, store, &name).await? {
                bail!("there is no calendar source \"{name}\" (see `openzero calendar list`)");
            }
            outln!("Removed \"{name}\" and its events.");
        }
        CalendarCommand::Sync { source } => {
            let reports = calendar::sync(services, source.as_deref()).await?;
            if reports.is_empty() {
                outln!("No calendars to sync.");
            }
            let mut failed = false;
            for r in reports {
                match r.error {
                    None => outln!(
                        "{}: {} calendar{} changed",
                        r.source,
                        r.changed,
                        if r.changed == 1 { "" } else { "s" }
                    ),
                    Some(e) => {
                        failed = true;
                        outln!("{}: failed: {e}", r.source);
                    }
                }
            }
            if failed {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A source's address as shown: feed tokens hidden.
fn shown_url(url: &str, kind: openzero_store::calendar::SourceKind) -> String {
    match kind {
        openzero_store::calendar::SourceKind::Ics => calendar::redact_url(url),
        _ => url.to_string(),
    }
}
