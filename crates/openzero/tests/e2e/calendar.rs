//! Calendars as a user meets them: a local file imported, an ICS address
//! subscribed (served here over HTTP with ETags), the agenda at the right
//! local times across a daylight-saving change, and the morning briefing
//! naming today's events and what changed since the last one.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Oz;
use serde_json::Value;

/// A weekly Monday 09:00 meeting in Berlin from 16 March 2026 (the clocks
/// change on 29 March), plus whatever `extra` VEVENTs say.
fn feed(extra: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nX-WR-CALNAME:Team\r\n\
         BEGIN:VEVENT\r\nUID:sync@team\r\nSUMMARY:Weekly sync\r\nLOCATION:Room 4\r\n\
         DTSTART;TZID=Europe/Berlin:20260316T090000\r\nDTEND;TZID=Europe/Berlin:20260316T100000\r\n\
         RRULE:FREQ=WEEKLY;BYDAY=MO\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:standup@team\r\nSUMMARY:Standup\r\n\
         DTSTART;TZID=Europe/Berlin:20260316T113000\r\nDTEND;TZID=Europe/Berlin:20260316T114500\r\n\
         RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR\r\nEND:VEVENT\r\n\
         {extra}END:VCALENDAR\r\n"
    )
}

/// This week's changes: Monday 30 March's sync moved to Tuesday 14:00,
/// Monday's standup cancelled.
const CHANGES: &str = "BEGIN:VEVENT\r\nUID:sync@team\r\nSUMMARY:Weekly sync\r\n\
    RECURRENCE-ID;TZID=Europe/Berlin:20260330T090000\r\n\
    DTSTART;TZID=Europe/Berlin:20260331T140000\r\nDTEND;TZID=Europe/Berlin:20260331T150000\r\nEND:VEVENT\r\n\
    BEGIN:VEVENT\r\nUID:standup@team\r\nSUMMARY:Standup\r\nSTATUS:CANCELLED\r\n\
    RECURRENCE-ID;TZID=Europe/Berlin:20260330T113000\r\n\
    DTSTART;TZID=Europe/Berlin:20260330T113000\r\nDTEND;TZID=Europe/Berlin:20260330T114500\r\nEND:VEVENT\r\n";

/// What the little feed server serves, and what it was asked.
#[derive(Default)]
struct Feed {
    body: String,
    etag: String,
    /// Requests, and how many came with an If-None-Match that matched.
    requests: usize,
    not_modified: usize,
    /// Headers of the last request, lower-cased names.
    last_headers: Vec<String>,
}

/// Serves `state` as an ICS file at `http://127.0.0.1:PORT/team.ics?token=…`
/// with an ETag; answers 304 to a matching If-None-Match.
fn feed_server(state: Arc<Mutex<Feed>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/cal/private-0123456789/team.ics?token=sekrit",
        listener.local_addr().unwrap()
    );
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut headers = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                headers.push(line.trim_end().to_lowercase());
            }
            let mut s = state.lock().unwrap();
            s.requests += 1;
            let matched = headers
                .iter()
                .any(|h| h.starts_with("if-none-match:") && h.contains(&s.etag.to_lowercase()));
            s.last_headers = headers;
            let resp = if matched {
                s.not_modified += 1;
                format!(
                    "HTTP/1.1 304 Not Modified\r\nETag: {}\r\nConnection: close\r\n\r\n",
                    s.etag
                )
            } else {
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nETag: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                    s.etag,
                    s.body.len(),
                    s.body
                )
            };
            drop(s);
            let _ = conn.write_all(resp.as_bytes());
        }
    });
    url
}

/// What the feed server serves from now on, under a new ETag.
fn publish(state: &Mutex<Feed>, body: impl Into<String>, etag: &str) {
    let mut s = state.lock().unwrap();
    s.body = body.into();
    s.etag = format!("\"{etag}\"");
}

/// `calendar sync` that must fail (exit 1): what it printed.
fn failed_sync(oz: &Oz) -> String {
    let out = oz
        .cmd()
        .env("USER_TIMEZONE", "Europe/Berlin")
        .args(["calendar", "sync"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

fn agenda_json(oz: &Oz, from: &str, to: &str) -> Vec<Value> {
    common::json_lines(
        oz.cmd()
            .env("USER_TIMEZONE", "Europe/Berlin")
            .args(["calendar", "agenda", "--from", from, "--to", to, "--json"]),
    )
}

fn row(v: &Value) -> String {
    format!(
        "{} {} {}",
        v["start"].as_str().unwrap(),
        v["end"].as_str().unwrap(),
        v["summary"].as_str().unwrap()
    )
}

fn berlin(oz: &Oz, args: &[&str]) -> String {
    let out = oz
        .cmd()
        .env("USER_TIMEZONE", "Europe/Berlin")
        .args(args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

#[test]
fn a_subscribed_feed_gives_the_agenda_at_local_times_and_refreshes_with_a_conditional_get() {
    let oz = Oz::new();
    oz.ok(&["init"]);
    let state = Arc::new(Mutex::new(Feed {
        body: feed(""),
        etag: "\"v1\"".into(),
        ..Feed::default()
    }));
    let url = feed_server(state.clone());
    let out = berlin(&oz, &["calendar", "add-url", &url]);
    assert!(
        out.contains("Subscribed to \"Team\": 1 calendar, 2 events."),
        "{out}"
    );

    // Across the change on 29 March: 09:00 local both weeks (+01:00, +02:00).
    let rows: Vec<String> = agenda_json(&oz, "2026-03-23", "2026-03-30")
        .iter()
        .filter(|v| v["summary"] == "Weekly sync")
        .map(row)
        .collect();
    assert_eq!(
        rows,
        vec![
            "2026-03-23T09:00:00+01:00 2026-03-23T10:00:00+01:00 Weekly sync",
            "2026-03-30T09:00:00+02:00 2026-03-30T10:00:00+02:00 Weekly sync",
        ]
    );
    let first = &agenda_json(&oz, "2026-03-30", "2026-03-30")[0];
    for key in [
        "uid", "summary", "start", "end", "all_day", "location", "calendar",
    ] {
        assert!(first.get(key).is_some(), "no {key} in {first}");
    }
    assert_eq!(first["calendar"], "Team");
    assert_eq!(first["location"], "Room 4");
    assert_eq!(first["all_day"], false);

    // Unchanged: the sync costs one 304 and changes nothing.
    let out = berlin(&oz, &["calendar", "sync"]);
    assert!(out.contains("Team: 0 calendars changed"), "{out}");
    assert_eq!(state.lock().unwrap().not_modified, 1);

    // Changed upstream: the moved and cancelled instances show.
    publish(&state, feed(CHANGES), "v2");
    let out = berlin(&oz, &["calendar", "sync"]);
    assert!(out.contains("Team: 1 calendar changed"), "{out}");
    let rows: Vec<String> = agenda_json(&oz, "2026-03-30", "2026-03-31")
        .iter()
        .map(row)
        .collect();
    assert_eq!(
        rows,
        vec![
            "2026-03-31T11:30:00+02:00 2026-03-31T11:45:00+02:00 Standup",
            "2026-03-31T14:00:00+02:00 2026-03-31T15:00:00+02:00 Weekly sync",
        ],
        "Monday's sync moved to Tuesday, Monday's standup cancelled"
    );

    // The token in the address is never shown.
    let list = berlin(&oz, &["calendar", "list"]);
    assert!(
        !list.contains("sekrit") && !list.contains("0123456789"),
        "{list}"
    );
    assert!(list.contains("Team (ics"), "{list}");

    // A feed that turns into an error page: the last good copy stays.
    publish(&state, "<html>Service unavailable</html>", "v3");
    let out = failed_sync(&oz);
    assert!(out.contains("did not serve an iCalendar file"), "{out}");
    assert_eq!(agenda_json(&oz, "2026-03-30", "2026-03-31").len(), 2);
    let list = berlin(&oz, &["calendar", "list"]);
    assert!(list.contains("last sync failed"), "{list}");

    // A feed that comes back empty (a server hiccup): the last copy stays.
    publish(
        &state,
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n",
        "v4",
    );
    let out = failed_sync(&oz);
    assert!(
        out.contains("came back with no events; the last copy"),
        "{out}"
    );
    assert!(!out.contains("sekrit"), "{out}");
    assert_eq!(agenda_json(&oz, "2026-03-30", "2026-03-31").len(), 2);
}

#[test]
fn the_morning_briefing_lists_today_and_what_changed_since_the_last_one() {
    let oz = Oz::new();
    oz.ok(&["init"]);
    let state = Arc::new(Mutex::new(Feed {
        body: feed(""),
        etag: "\"v1\"".into(),
        ..Feed::default()
    }));
    let url = feed_server(state.clone());
    berlin(&oz, &["calendar", "add-url", &url, "--name", "Team"]);
    let env: Vec<(String, String)> = [
        ("USER_TIMEZONE", "Europe/Berlin"),
        ("OPENZERO__SCHEDULE__DAILY_BRIEFING", "30 7 * * MON-FRI"),
        ("OPENZERO__SCHEDULE__WEEKLY_REVIEW", ""),
        ("OPENZERO__SCHEDULE__MONTHLY_REVIEW", ""),
        ("OPENZERO__SCHEDULE__CALENDAR_SYNC", ""),
        ("LLM_PROVIDER", "llamacpp"),
        ("OPENAI_BASE_URL", "http://127.0.0.1:1/v1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let briefing_at = |clock: &str| {
        let served = common::serve(&oz, &["--clock", clock], env.iter().map(|(k, v)| (k, v)));
        let start = Instant::now();
        loop {
            let out = oz
                .cmd()
                .envs(env.iter().map(|(k, v)| (k, v)))
                .args(["jobs", "history", "daily-briefing", "--json"])
                .assert()
                .success()
                .get_output()
                .stdout
                .clone();
            let runs = String::from_utf8(out).unwrap();
            if runs
                .lines()
                .any(|l| l.contains(&clock[..10]) && l.contains("\"ok\""))
            {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(40),
                "no briefing: {runs}\n{}",
                served.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        served.stop();
        String::from_utf8(oz.ok(&["briefing", "last"]).get_output().stdout.clone()).unwrap()
    };

    // Friday before the change: the briefing sees the day (and keeps a look).
    let friday = briefing_at("2026-03-27T07:29:57+01:00");
    assert!(friday.contains("Today's calendar"), "{friday}");
    assert!(friday.contains("11:30–11:45 Standup (Team)"), "{friday}");
    assert!(!friday.contains("Weekly sync"), "not on Fridays: {friday}");

    // Over the weekend the sync moves Monday's meeting and cancels a standup.
    publish(&state, feed(CHANGES), "v2");
    berlin(&oz, &["calendar", "sync"]);

    // Monday after the change: local times right, the changes named.
    let monday = briefing_at("2026-03-30T07:29:57+02:00");
    assert!(
        monday.starts_with("Good morning. Monday 30 March 2026."),
        "{monday}"
    );
    assert!(
        !monday.contains("- 11:30–11:45 Standup"),
        "cancelled today: {monday}"
    );
    assert!(
        monday.contains("Moved: Weekly sync, now Tue 14:00 (was Mon 09:00)"),
        "{monday}"
    );
    assert!(
        monday.contains("Cancelled: 11:30–11:45 Standup"),
        "{monday}"
    );
}

#[test]
fn importing_a_file_keeps_what_can_be_read_and_says_what_could_not() {
    let oz = Oz::new();
    oz.ok(&["init"]);
    let path = oz.work.join("mixed.ics");
    std::fs::write(
        &path,
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:ok\r\nSUMMARY:Dentist\r\n\
         DTSTART;TZID=W. Europe Standard Time:20261201T093000\r\nDURATION:PT45M\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:back\r\nSUMMARY:Backwards\r\nDTSTART:20261201T100000Z\r\n\
         DTEND:20261201T090000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    )
    .unwrap();
    let out = berlin(
        &oz,
        &[
            "calendar",
            "import",
            path.to_str().unwrap(),
            "--name",
            "Health",
        ],
    );
    assert!(out.contains("Imported \"Health\""), "{out}");
    let rows: Vec<String> = agenda_json(&oz, "2026-12-01", "2026-12-01")
        .iter()
        .map(row)
        .collect();
    assert_eq!(
        rows,
        vec!["2026-12-01T09:30:00+01:00 2026-12-01T10:15:00+01:00 Dentist"]
    );
    let out = oz
        .cmd()
        .env("USER_TIMEZONE", "Europe/Berlin")
        .args(["calendar", "agenda", "--from", "2026-12-01"])
        .assert()
        .success()
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("Backwards") && err.contains("ends before it starts"),
        "{err}"
    );

    // Not a calendar at all: a readable error, nothing added.
    let junk = oz.work.join("junk.ics");
    std::fs::write(&junk, "hello").unwrap();
    let out = oz
        .fails(&["calendar", "import", junk.to_str().unwrap()])
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(err.contains("not an iCalendar file"), "{err}");
    let list = berlin(&oz, &["calendar", "list", "--json"]);
    assert_eq!(list.lines().count(), 1, "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_reach_telegram_once_and_today_answers_in_chat() {
    use crate::telegram::{OWNER, TOKEN, message, push, sent_to, start_fake};
    let oz = Oz::new();
    oz.ok(&["init"]);
    let path = oz.work.join("team.ics");
    std::fs::write(&path, feed("")).unwrap();
    berlin(&oz, &["calendar", "import", path.to_str().unwrap()]);
    let out = berlin(&oz, &["calendar", "remind", "Team", "15"]);
    assert!(
        out.contains("Reminders 15 minutes before events in: Team."),
        "{out}"
    );

    let (api, fake) = start_fake().await;
    let owner = OWNER.to_string();
    let env = [
        ("USER_TIMEZONE", "Europe/Berlin"),
        ("TELEGRAM_BOT_TOKEN", TOKEN),
        ("TELEGRAM_ALLOWED_USER_ID", owner.as_str()),
        ("OPENZERO__TELEGRAM__API_BASE_URL", api.as_str()),
        ("OPENZERO__SCHEDULE__DAILY_BRIEFING", ""),
        ("OPENZERO__SCHEDULE__WEEKLY_REVIEW", ""),
        ("OPENZERO__SCHEDULE__MONTHLY_REVIEW", ""),
        ("OPENZERO__SCHEDULE__CALENDAR_SYNC", ""),
    ];
    let reminders = |f: &crate::telegram::Fake| {
        sent_to(f, OWNER)
            .into_iter()
            .filter(|t| t.contains('⏰'))
            .collect::<Vec<_>>()
    };
    let wait = |what: &str, ok: &dyn Fn() -> bool| {
        let start = Instant::now();
        while !ok() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // Monday 30 March, 08:45:05: the 09:00 sync is 15 minutes away.
    let served = common::serve(&oz, &["--clock", "2026-03-30T08:45:05+02:00"], env);
    let start = Instant::now();
    while reminders(&fake).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no reminder: {}",
            served.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let r = reminders(&fake);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].contains("09:00–10:00 Weekly sync @ Room 4"), "{r:?}");

    // /today in chat: the day at local times.
    push(&fake, vec![message(1, OWNER, "/today")]);
    wait("the answer to /today", &|| {
        sent_to(&fake, OWNER)
            .iter()
            .any(|t| t.contains("Today, Monday 30 March"))
    });
    let today = sent_to(&fake, OWNER)
        .into_iter()
        .find(|t| t.contains("Today, Monday 30 March"))
        .unwrap();
    assert!(today.contains("09:00–10:00 Weekly sync"), "{today}");
    assert!(today.contains("11:30–11:45 Standup"), "{today}");
    served.stop();

    // Restarted a minute later: the same reminder is not sent again.
    let served = common::serve(&oz, &["--clock", "2026-03-30T08:46:00+02:00"], env);
    std::thread::sleep(Duration::from_secs(3));
    served.stop();
    assert_eq!(reminders(&fake).len(), 1, "{:?}", reminders(&fake));
}

#[test]
fn a_local_calendar_stored_in_utc_is_flagged_once_on_import() {
    let oz = Oz::new();
    oz.ok(&["init"]);
    // A club's weekday sessions "at 09:00-17:00" written as UTC: in Los
    // Angeles they would fall at 01:00-09:00.
    let mut ics = String::from("BEGIN:VCALENDAR\r\nX-WR-CALNAME:Club\r\n");
    for d in 2..10 {
        ics.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:s{d}\r\nSUMMARY:Session {d}\r\nDTSTART:202611{d:02}T090000Z\r\nDTEND:202611{d:02}T100000Z\r\nEND:VEVENT\r\n"
        ));
    }
    ics.push_str("END:VCALENDAR\r\n");
    let path = oz.work.join("club.ics");
    std::fs::write(&path, &ics).unwrap();
    let run = || {
        let out = oz
            .cmd()
            .env("USER_TIMEZONE", "America/Los_Angeles")
            .args(["calendar", "import", path.to_str().unwrap()])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        String::from_utf8(out).unwrap()
    };
    let first = run();
    assert!(first.contains("odd hours"), "{first}");
    let second = run();
    assert!(!second.contains("odd hours"), "flagged twice: {second}");
}
