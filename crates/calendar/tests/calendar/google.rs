//! The read-only Google Calendar client against the fake API in
//! `google_fake.rs`: paging, sync tokens, the conversion to iCalendar as
//! the rest of OpenZero expands it, and every error Google documents.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use openzero_calendar::google::{Changes, GoogleCalendar, GoogleError, event_to_ics};
use openzero_core::calendar::{EventStatus, When};
use serde_json::json;

use crate::google_fake::{self, Fake, HOLIDAYS, PRIMARY, TOKEN};

const BERLIN: Tz = chrono_tz::Europe::Berlin;

fn client(fake: &Fake) -> GoogleCalendar {
    GoogleCalendar::new(&fake.base, Duration::from_secs(10)).unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn timed(start: &str, end: &str) -> When {
    When::Timed {
        start: utc(start),
        end: utc(end),
    }
}

/// The calendar as a caller keeps it: resources by event id.
#[derive(Default)]
struct Mirror(BTreeMap<String, String>);

impl Mirror {
    fn apply(&mut self, ch: &Changes) {
        for (id, ics) in &ch.put {
            self.0.insert(id.clone(), ics.clone());
        }
        for id in &ch.removed {
            self.0.remove(id);
        }
    }

    /// (summary, when, status, busy) of every occurrence from mid-March to
    /// the end of April 2026 in Europe/Berlin, by start.
    fn occurrences(&self) -> Vec<(String, When, EventStatus, bool)> {
        let mut events = Vec::new();
        for ics in self.0.values() {
            let cal = openzero_calendar::parse(ics.as_bytes());
            assert!(cal.problems.is_empty(), "{:?}\n{ics}", cal.problems);
            events.extend(cal.events);
        }
        let (occ, problems) = openzero_calendar::expand(
            &events,
            "Google",
            BERLIN,
            utc("2026-03-15T00:00:00Z"),
            utc("2026-05-01T00:00:00Z"),
        );
        assert!(problems.is_empty(), "{problems:?}");
        let mut out: Vec<_> = occ
            .into_iter()
            .map(|o| (o.summary, o.when, o.status, o.busy))
            .collect();
        out.sort_by_key(|(_, w, _, _)| w.span(BERLIN).0);
        out
    }
}

fn ids(ch: &Changes) -> Vec<&str> {
    ch.put.iter().map(|(id, _)| id.as_str()).collect()
}

#[tokio::test]
async fn a_full_sync_pages_through_every_event_and_expands_to_the_right_times() {
    let fake = Fake::start().await;
    let ch = client(&fake).sync(TOKEN, PRIMARY, None).await.unwrap();
    assert_eq!(
        ids(&ch),
        [
            "allday1",
            "call1",
            "weekly1",
            "weekly1_20260330T070000Z",
            "weekly1_20260406T070000Z"
        ]
    );
    assert!(ch.removed.is_empty(), "{:?}", ch.removed);
    assert!(ch.skipped.is_empty(), "{:?}", ch.skipped);
    assert!(!ch.next_sync_token.is_empty());

    // Six items, two a page: three GETs, each full-sync one alike.
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3, "{reqs:#?}");
    for (i, r) in reqs.iter().enumerate() {
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/calendar/v3/calendars/owner@example.com/events");
        assert_eq!(r.param("showDeleted"), Some("true"));
        assert_eq!(r.param("singleEvents"), Some("false"));
        assert_eq!(r.param("maxResults"), Some("1000"));
        assert_eq!(r.param("syncToken"), None);
        assert_eq!(r.param("pageToken").is_some(), i > 0);
        assert_eq!(
            r.authorization.as_deref(),
            Some(&*format!("Bearer {TOKEN}"))
        );
    }

    let mut mirror = Mirror::default();
    mirror.apply(&ch);
    let busy = true;
    assert_eq!(
        mirror.occurrences(),
        [
            // 09:00 in Berlin, winter time.
            (
                "Standup".into(),
                timed("2026-03-16T08:00:00Z", "2026-03-16T08:30:00Z"),
                EventStatus::Confirmed,
                busy
            ),
            (
                "Standup".into(),
                timed("2026-03-23T08:00:00Z", "2026-03-23T08:30:00Z"),
                EventStatus::Confirmed,
                busy
            ),
            // After 2026-03-29 09:00 is 07:00 UTC; this one was cancelled.
            (
                String::new(),
                timed("2026-03-30T07:00:00Z", "2026-03-30T07:30:00Z"),
                EventStatus::Cancelled,
                busy
            ),
            (
                "Call with Ana, Bo; re: Q2".into(),
                timed("2026-03-31T14:30:00Z", "2026-03-31T15:00:00Z"),
                EventStatus::Tentative,
                busy
            ),
            (
                "Karfreitag".into(),
                When::AllDay {
                    start: day("2026-04-03"),
                    end: day("2026-04-04")
                },
                EventStatus::Confirmed,
                false
            ),
            // Moved from 09:00 to 11:00 (summer time).
            (
                "Standup (moved)".into(),
                timed("2026-04-06T09:00:00Z", "2026-04-06T09:45:00Z"),
                EventStatus::Confirmed,
                busy
            ),
            // 2026-04-13 is an EXDATE.
            (
                "Standup".into(),
                timed("2026-04-20T07:00:00Z", "2026-04-20T07:30:00Z"),
                EventStatus::Confirmed,
                busy
            ),
        ]
    );

    // The series is written on Berlin's wall clock, its UID is its Google
    // id (a cancelled instance carries no iCalUID), the exception points
    // at the instance it replaces, the UTC-only event stays in UTC.
    let ics = |id: &str| mirror.0[id].clone();
    assert!(ics("weekly1").contains("\r\nDTSTART;TZID=Europe/Berlin:20260316T090000\r\n"));
    assert!(ics("weekly1").contains("\r\nRRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6\r\n"));
    assert!(ics("weekly1").contains("\r\nLOCATION:Raum 4.2\\, Haus B\r\n"));
    let moved = ics("weekly1_20260406T070000Z");
    assert!(moved.contains("\r\nUID:weekly1\r\n"), "{moved}");
    assert!(moved.contains("\r\nX-GOOGLE-ICALUID:weekly1@google.com\r\n"));
    assert!(moved.contains("\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260406T090000\r\n"));
    let cancelled = ics("weekly1_20260330T070000Z");
    assert!(cancelled.contains("\r\nUID:weekly1\r\n"), "{cancelled}");
    assert!(cancelled.contains("\r\nSTATUS:CANCELLED\r\n"));
    assert!(cancelled.contains("\r\nDTSTART;TZID=Europe/Berlin:20260330T090000\r\n"));
    assert!(ics("call1").contains("\r\nDTSTART:20260331T143000Z\r\n"));
    assert!(ics("call1").contains("\r\nDESCRIPTION:Agenda:\\n1. numbers\\n2. hiring\r\n"));
    assert!(ics("allday1").contains("\r\nDTEND;VALUE=DATE:20260404\r\n"));
    assert!(ics("allday1").contains("\r\nTRANSP:TRANSPARENT\r\n"));
}

#[tokio::test]
async fn the_page_size_asked_for_is_sent() {
    let fake = Fake::start().await;
    let ch = client(&fake)
        .with_page_size(1)
        .sync(TOKEN, PRIMARY, None)
        .await
        .unwrap();
    assert_eq!(ch.put.len(), 5);
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 6);
    assert!(reqs.iter().all(|r| r.param("maxResults") == Some("1")));
}

#[tokio::test]
async fn an_incremental_sync_returns_only_what_changed() {
    let fake = Fake::start().await;
    let g = client(&fake);
    let full = g.sync(TOKEN, PRIMARY, None).await.unwrap();
    let mut mirror = Mirror::default();
    mirror.apply(&full);

    let mut call = google_fake::fixture_events().remove(4);
    call["summary"] = json!("Call with Ana");
    call["status"] = json!("confirmed");
    fake.put_event(PRIMARY, call);
    fake.delete_event(PRIMARY, "allday1");
    fake.put_event(
        PRIMARY,
        google_fake::cancelled_instance("weekly1_20260420T070000Z", "2026-04-20T09:00:00+02:00"),
    );
    fake.put_event(
        PRIMARY,
        google_fake::event(
            "new1",
            "Dentist",
            json!({"dateTime": "2026-04-01T16:00:00+02:00", "timeZone": "Europe/Berlin"}),
            json!({"dateTime": "2026-04-01T17:00:00+02:00", "timeZone": "Europe/Berlin"}),
        ),
    );
    fake.clear_requests();

    let ch = g
        .sync(TOKEN, PRIMARY, Some(&full.next_sync_token))
        .await
        .unwrap();
    assert_eq!(ids(&ch), ["call1", "new1", "weekly1_20260420T070000Z"]);
    assert_eq!(ch.removed, ["allday1"]);
    assert!(ch.skipped.is_empty(), "{:?}", ch.skipped);
    assert_ne!(ch.next_sync_token, full.next_sync_token);
    for r in fake.requests() {
        assert_eq!(r.method, "GET");
        assert_eq!(r.param("syncToken"), Some(full.next_sync_token.as_str()));
        assert_eq!(r.param("showDeleted"), Some("true"));
        assert_eq!(r.param("singleEvents"), Some("false"));
    }

    mirror.apply(&ch);
    let occ = mirror.occurrences();
    let find = |summary: &str| {
        occ.iter()
            .find(|o| o.0 == summary)
            .unwrap_or_else(|| panic!("{summary} in {occ:#?}"))
    };
    assert!(occ.iter().all(|o| o.0 != "Karfreitag"), "{occ:#?}");
    assert_eq!(find("Call with Ana").2, EventStatus::Confirmed);
    assert_eq!(
        find("Dentist").1,
        timed("2026-04-01T14:00:00Z", "2026-04-01T15:00:00Z")
    );
    let last = occ.last().unwrap();
    assert_eq!(
        (&last.1, last.2),
        (
            &timed("2026-04-20T07:00:00Z", "2026-04-20T07:30:00Z"),
            EventStatus::Cancelled
        )
    );

    // Nothing changed since: nothing returned.
    let again = g
        .sync(TOKEN, PRIMARY, Some(&ch.next_sync_token))
        .await
        .unwrap();
    assert!(again.put.is_empty() && again.removed.is_empty() && again.skipped.is_empty());
}

#[tokio::test]
async fn an_unreadable_event_is_skipped_and_the_rest_is_synced() {
    let fake = Fake::start().await;
    let g = client(&fake);
    let full = g.sync(TOKEN, PRIMARY, None).await.unwrap();
    fake.put_event(
        PRIMARY,
        google_fake::event(
            "bad1",
            "When?",
            json!({"dateTime": "next monday"}),
            json!({"dateTime": "next tuesday"}),
        ),
    );
    let mut hacked = google_fake::event(
        "bad2",
        "Sneaky",
        json!({"date": "2026-04-01"}),
        json!({"date": "2026-04-02"}),
    );
    hacked["recurrence"] = json!(["RRULE:FREQ=DAILY\r\nEND:VEVENT\r\nBEGIN:VEVENT"]);
    fake.put_event(PRIMARY, hacked);
    fake.put_event(
        PRIMARY,
        google_fake::event(
            "good1",
            "Fine",
            json!({"date": "2026-04-01"}),
            json!({"date": "2026-04-02"}),
        ),
    );
    let ch = g
        .sync(TOKEN, PRIMARY, Some(&full.next_sync_token))
        .await
        .unwrap();
    assert_eq!(ids(&ch), ["good1"]);
    assert_eq!(ch.skipped.len(), 2, "{:?}", ch.skipped);
    assert!(
        ch.skipped[0].starts_with("event bad1: start.dateTime"),
        "{:?}",
        ch.skipped
    );
    assert!(
        ch.skipped[1].starts_with("event bad2: "),
        "{:?}",
        ch.skipped
    );
}

#[tokio::test]
async fn gone_means_sync_again_from_scratch() {
    let fake = Fake::start().await;
    let g = client(&fake);
    let full = g.sync(TOKEN, PRIMARY, None).await.unwrap();
    fake.expire_sync_tokens();
    let err = g
        .sync(TOKEN, PRIMARY, Some(&full.next_sync_token))
        .await
        .unwrap_err();
    assert_eq!(err, GoogleError::SyncTokenExpired);
    let again = g.sync(TOKEN, PRIMARY, None).await.unwrap();
    assert_eq!(again.put.len(), full.put.len());
}

#[tokio::test]
async fn a_refused_token_is_unauthorized_and_never_shown() {
    let fake = Fake::start().await;
    let g = client(&fake);
    let secret = "ya29.a0-expired-secret-token-XYZ";
    let errors = [
        g.sync(secret, PRIMARY, None).await.unwrap_err(),
        g.calendars(secret).await.unwrap_err(),
    ];
    for err in errors {
        assert_eq!(err, GoogleError::Unauthorized);
        assert!(!err.to_string().contains(secret));
        assert!(!format!("{err:?}").contains(secret));
    }
    assert!(!format!("{g:?}").contains(secret));
    // The token went to the server only as a bearer header.
    for r in fake.requests() {
        assert_eq!(r.authorization, Some(format!("Bearer {secret}")));
        assert!(r.query.iter().all(|(_, v)| !v.contains(secret)));
    }
    // A token that cannot be a header value is not sent at all.
    let n = fake.requests().len();
    assert_eq!(
        g.calendars("bad\ntoken").await.unwrap_err(),
        GoogleError::Unauthorized
    );
    assert_eq!(fake.requests().len(), n);
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_told_apart() {
    let fake = Fake::start().await;
    let g = client(&fake);
    let rate = json!({"error": {
        "errors": [{"domain": "usageLimits", "reason": "rateLimitExceeded", "message": "Rate Limit Exceeded"}],
        "code": 429, "message": "Rate Limit Exceeded"}})
    .to_string();
    fake.answer_next(429, Some("7"), &rate);
    assert_eq!(
        g.sync(TOKEN, PRIMARY, None).await.unwrap_err(),
        GoogleError::RateLimited {
            retry_after: Some(7)
        }
    );
    let user_rate = json!({"error": {
        "errors": [{"domain": "usageLimits", "reason": "userRateLimitExceeded", "message": "User Rate Limit Exceeded"}],
        "code": 403, "message": "User Rate Limit Exceeded"}})
    .to_string();
    fake.answer_next(403, None, &user_rate);
    assert_eq!(
        g.calendars(TOKEN).await.unwrap_err(),
        GoogleError::RateLimited { retry_after: None }
    );
    fake.answer_next(503, None, "Service Unavailable");
    assert_eq!(
        g.sync(TOKEN, PRIMARY, None).await.unwrap_err(),
        GoogleError::Server(503)
    );
    // A calendar that is not there: Google's message.
    let err = g.sync(TOKEN, "nobody@example.com", None).await.unwrap_err();
    assert_eq!(
        err,
        GoogleError::Http {
            status: 404,
            detail: "Not Found (notFound)".into()
        }
    );
    // A page after a failed one starts again: the client keeps no state.
    assert_eq!(g.sync(TOKEN, PRIMARY, None).await.unwrap().put.len(), 5);
}

#[tokio::test]
async fn garbage_is_malformed_never_a_panic() {
    let fake = Fake::start().await;
    let g = client(&fake);
    let bodies = [
        r#"{"kind": "calendar#events", "items": ["#,
        "<html><body>Service moved</body></html>",
        r#"{"kind": "calendar#events", "items": 5}"#,
        // The last page without a sync token.
        r#"{"kind": "calendar#events", "items": []}"#,
        "",
    ];
    for body in bodies {
        fake.answer_next(200, None, body);
        let err = g.sync(TOKEN, PRIMARY, None).await.unwrap_err();
        assert!(
            matches!(err, GoogleError::Malformed(_)),
            "{body:?}: {err:?}"
        );
    }
    fake.answer_next(200, None, "[1, 2, 3]");
    assert!(matches!(
        g.calendars(TOKEN).await.unwrap_err(),
        GoogleError::Malformed(_)
    ));
    // Items that are not events are skipped, the page stands.
    fake.answer_next(
        200,
        None,
        r#"{"kind": "calendar#events", "items": [7, null, {"id": ""}, {"id": "x", "start": []}], "nextSyncToken": "t"}"#,
    );
    let ch = g.sync(TOKEN, PRIMARY, None).await.unwrap();
    assert!(ch.put.is_empty());
    assert_eq!(ch.skipped.len(), 4, "{:?}", ch.skipped);
    assert_eq!(ch.next_sync_token, "t");
}

#[tokio::test]
async fn the_calendar_list_is_read_across_pages() {
    let fake = Fake::start().await;
    let cals = client(&fake).calendars(TOKEN).await.unwrap();
    let seen: Vec<_> = cals
        .iter()
        .map(|c| {
            (
                c.id.as_str(),
                c.name.as_str(),
                c.primary,
                c.color.as_deref(),
                c.access_role.as_deref(),
                c.time_zone.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                PRIMARY,
                PRIMARY,
                true,
                Some("#9fe1e7"),
                Some("owner"),
                Some("Europe/Berlin")
            ),
            (
                "family0123@group.calendar.google.com",
                "Family",
                false,
                Some("#f691b2"),
                Some("writer"),
                Some("Europe/Berlin")
            ),
            (
                HOLIDAYS,
                "Feiertage in Deutschland",
                false,
                Some("#16a765"),
                Some("reader"),
                Some("Europe/Berlin")
            ),
        ]
    );
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    for (i, r) in reqs.iter().enumerate() {
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/calendar/v3/users/me/calendarList");
        assert_eq!(r.param("maxResults"), Some("250"));
        assert_eq!(r.param("pageToken").is_some(), i > 0);
    }
}

#[tokio::test]
async fn a_calendar_id_with_a_hash_reaches_its_calendar() {
    let fake = Fake::start().await;
    let ch = client(&fake).sync(TOKEN, HOLIDAYS, None).await.unwrap();
    assert_eq!(ids(&ch), ["20260406_easter_monday"]);
    let reqs = fake.requests();
    assert_eq!(
        reqs[0].path,
        "/calendar/v3/calendars/de.german%23holiday@group.v.calendar.google.com/events"
    );
}

#[tokio::test]
async fn only_get_requests_are_ever_sent() {
    let fake = Fake::start().await;
    let g = client(&fake);
    g.calendars(TOKEN).await.unwrap();
    let full = g.sync(TOKEN, PRIMARY, None).await.unwrap();
    fake.delete_event(PRIMARY, "call1");
    g.sync(TOKEN, PRIMARY, Some(&full.next_sync_token))
        .await
        .unwrap();
    fake.expire_sync_tokens();
    let _ = g.sync(TOKEN, PRIMARY, Some(&full.next_sync_token)).await;
    let reqs = fake.requests();
    assert!(reqs.len() >= 7, "{reqs:#?}");
    assert!(reqs.iter().all(|r| r.method == "GET"), "{reqs:#?}");
}

#[test]
fn event_text_is_escaped_and_folded() {
    let summary = "Lunch, with; friends\nand \\ more";
    let description = format!("Über {}", "Ärger und Ölpreise, ".repeat(12));
    let ics = event_to_ics(&google_fake::event(
        "esc1",
        summary,
        json!({"dateTime": "2026-03-31T12:00:00+02:00", "timeZone": "Europe/Berlin"}),
        json!({"dateTime": "2026-03-31T13:00:00+02:00", "timeZone": "Europe/Berlin"}),
    ))
    .unwrap()
    .unwrap();
    assert!(ics.ends_with("END:VCALENDAR\r\n"));
    assert!(ics.contains("\r\nSUMMARY:Lunch\\, with\\; friends\\nand \\\\ more\r\n"));
    assert!(!ics.replace("\r\n", "").contains('\n'));
    let long = ics.clone();
    let mut ev = google_fake::event(
        "esc2",
        "x",
        json!({"date": "2026-03-31"}),
        json!({"date": "2026-04-01"}),
    );
    ev["description"] = json!(description);
    let folded = event_to_ics(&ev).unwrap().unwrap();
    for text in [&long, &folded] {
        for l in text.split("\r\n") {
            assert!(l.len() <= 75, "{} octets: {l}", l.len());
        }
    }
    assert!(folded.contains("\r\n "), "{folded}");
    let cal = openzero_calendar::parse(long.as_bytes());
    assert_eq!(cal.events[0].summary, summary);
    let cal = openzero_calendar::parse(folded.as_bytes());
    assert!(cal.problems.is_empty(), "{:?}", cal.problems);
    assert_eq!(cal.events.len(), 1);
    let unfolded = folded.replace("\r\n ", "");
    let escaped = description.replace(',', "\\,");
    assert!(unfolded.contains(&format!("\r\nDESCRIPTION:{escaped}\r\n")));
}

#[tokio::test]
async fn no_answer_is_a_network_error_without_the_token() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let g =
        GoogleCalendar::new(&format!("http://127.0.0.1:{port}/"), Duration::from_secs(5)).unwrap();
    let err = g
        .sync(TOKEN, PRIMARY, Some("sync-token"))
        .await
        .unwrap_err();
    assert!(matches!(err, GoogleError::Network(_)), "{err:?}");
    assert!(!format!("{err} {err:?}").contains(TOKEN), "{err}");
}
