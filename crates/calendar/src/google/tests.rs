// Compiled only under #[cfg(test)]: the parent module declares it so.
//! The Google client's unit tests: GET only, conversion, errors.

use super::*;
use serde_json::json;

fn ics(v: Value) -> String {
    event_to_ics(&v)
        .expect("readable")
        .expect("an event that is shown")
}

#[test]
fn only_get_is_ever_sent() {
    let source = [include_str!("mod.rs"), include_str!("event.rs")].concat();
    let lower = source.to_lowercase();
    for name in [
        ["po", "st"],
        ["p", "ut"],
        ["pat", "ch"],
        ["del", "ete"],
        ["req", "uest"],
    ] {
        let name = name.concat();
        let upper = name.to_uppercase();
        for needle in [
            format!(".{name}("),
            format!("method::{name}"),
            format!("\"{name}\""),
        ] {
            assert!(!lower.contains(&needle), "google.rs names {needle}");
        }
        assert!(
            !source.contains(&["Method::", upper.as_str()].concat()),
            "google.rs names the method {upper}"
        );
    }
    assert!(!source.contains(&["Method::", "from_bytes"].concat()));
    // The client is used in one place, for a GET.
    let field = [".ht", "tp"].concat();
    let uses: Vec<&str> = source.split(&field).skip(1).collect();
    assert_eq!(uses.len(), 1, "{uses:?}");
    assert!(uses[0].trim_start().starts_with(".get(url)"));
}

#[test]
fn text_is_escaped_and_lines_are_folded_at_75_octets() {
    assert_eq!(escape("a,b;c\\d\ne\r\nf\u{7}g"), "a\\,b\\;c\\\\d\\ne\\nfg");
    let mut out = String::new();
    let long = format!("SUMMARY:{}", "ä".repeat(100));
    line(&mut out, &long);
    for l in out.trim_end_matches("\r\n").split("\r\n") {
        assert!(l.len() <= 75, "{} octets", l.len());
    }
    assert_eq!(out.replace("\r\n ", ""), format!("{long}\r\n"));
}

#[test]
fn times_follow_the_zone_given() {
    let e = ics(json!({
        "id": "a", "iCalUID": "a@google.com",
        "start": {"dateTime": "2026-03-30T07:00:00Z", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-03-30T10:00:00", "timeZone": "Europe/Berlin"},
    }));
    assert!(
        e.contains("\r\nDTSTART;TZID=Europe/Berlin:20260330T090000\r\n"),
        "{e}"
    );
    assert!(
        e.contains("\r\nDTEND;TZID=Europe/Berlin:20260330T100000\r\n"),
        "{e}"
    );
    let e = ics(json!({
        "id": "b",
        "start": {"dateTime": "2026-03-30T09:00:00+02:00", "timeZone": "Not/AZone"},
        "end": {"dateTime": "2026-03-30T09:30:00.500+02:00", "timeZone": "UTC"},
    }));
    assert!(e.contains("\r\nUID:b\r\n"), "{e}");
    assert!(e.contains("\r\nDTSTART:20260330T070000Z\r\n"), "{e}");
    assert!(e.contains("\r\nDTEND:20260330T073000Z\r\n"), "{e}");
    let err = event_to_ics(&json!({"id": "c", "start": {"dateTime": "2026-03-30T09:00:00"}}))
        .expect_err("no zone");
    assert!(err.contains("no offset"), "{err}");
    let err =
        event_to_ics(&json!({"id": "d", "start": {"date": "30.03.2026"}})).expect_err("bad date");
    assert!(err.contains("not a date"), "{err}");
}

#[test]
fn working_locations_and_deletions_are_not_shown_but_focus_time_is() {
    let base = json!({"id": "w", "start": {"date": "2026-03-30"}, "end": {"date": "2026-03-31"}});
    let mut w = base.clone();
    w["eventType"] = json!("workingLocation");
    assert_eq!(event_to_ics(&w), Ok(None));
    let mut f = base.clone();
    f["eventType"] = json!("focusTime");
    assert!(event_to_ics(&f).expect("ok").is_some());
    let mut o = base;
    o["eventType"] = json!("outOfOffice");
    assert!(event_to_ics(&o).expect("ok").is_some());
    assert_eq!(
        event_to_ics(&json!({"id": "x", "status": "cancelled"})),
        Ok(None)
    );
}

#[test]
fn recurrence_lines_cannot_break_out_of_the_event() {
    let ev = |r: Value| json!({"id": "r", "start": {"dateTime": "2026-03-30T09:00:00Z"}, "recurrence": r});
    assert!(event_to_ics(&ev(json!(["RRULE:FREQ=DAILY\r\nEND:VEVENT"]))).is_err());
    assert!(event_to_ics(&ev(json!(["SUMMARY:sneaky"]))).is_err());
    assert!(event_to_ics(&ev(json!(["RRULE"]))).is_err());
    assert!(event_to_ics(&ev(json!([7]))).is_err());
    let ok = ics(ev(json!([
        "RRULE:FREQ=WEEKLY;BYDAY=MO",
        "exdate;TZID=Europe/Berlin:20260406T090000"
    ])));
    assert!(ok.contains("\r\nRRULE:FREQ=WEEKLY;BYDAY=MO\r\n"));
    assert!(ok.contains("\r\nexdate;TZID=Europe/Berlin:20260406T090000\r\n"));
}

#[test]
fn a_cancelled_instance_of_a_series_deleted_in_the_same_sync_is_removed() {
    let mut c = Collected::default();
    c.add(&json!({"id": "m", "status": "cancelled"}));
    c.add(&json!({
        "id": "m_20260330T070000Z", "status": "cancelled", "recurringEventId": "m",
        "originalStartTime": {"dateTime": "2026-03-30T09:00:00+02:00", "timeZone": "Europe/Berlin"}
    }));
    c.add(&json!({
        "id": "n_20260330T070000Z", "status": "cancelled", "recurringEventId": "n",
        "originalStartTime": {"dateTime": "2026-03-30T09:00:00+02:00"}
    }));
    c.add(&json!({"summary": "no id"}));
    c.add(&json!({"id": "bad", "start": {"dateTime": 5}}));
    let ch = c.finish("t".to_owned());
    assert_eq!(ch.removed, ["m", "m_20260330T070000Z"]);
    assert_eq!(ch.put.len(), 1);
    assert_eq!(ch.put[0].0, "n_20260330T070000Z");
    assert!(ch.put[0].1.contains("\r\nUID:n\r\n"));
    assert!(
        ch.put[0]
            .1
            .contains("\r\nRECURRENCE-ID:20260330T070000Z\r\n")
    );
    assert!(ch.put[0].1.contains("\r\nDTSTART:20260330T070000Z\r\n"));
    assert_eq!(ch.skipped.len(), 2, "{:?}", ch.skipped);
    assert!(ch.skipped[1].starts_with("event bad: start.dateTime"));
}

#[test]
fn retry_after_is_seconds_or_a_date() {
    let now = DateTime::parse_from_rfc3339("2026-03-30T10:00:00Z")
        .expect("time")
        .with_timezone(&Utc);
    let mut h = HeaderMap::new();
    assert_eq!(retry_after(&h, now), None);
    h.insert(RETRY_AFTER, "30".parse().expect("header"));
    assert_eq!(retry_after(&h, now), Some(30));
    h.insert(
        RETRY_AFTER,
        "Mon, 30 Mar 2026 10:02:00 GMT".parse().expect("header"),
    );
    assert_eq!(retry_after(&h, now), Some(120));
    h.insert(RETRY_AFTER, "soon".parse().expect("header"));
    assert_eq!(retry_after(&h, now), None);
}

#[test]
fn errors_are_classified_and_never_hold_the_token() {
    let body = br#"{"error":{"errors":[{"domain":"usageLimits","reason":"userRateLimitExceeded","message":"User Rate Limit Exceeded"}],"code":403,"message":"User Rate Limit Exceeded"}}"#;
    assert_eq!(
        classify(403, Some(3), body, "tok", Listing::Events),
        GoogleError::RateLimited {
            retry_after: Some(3)
        }
    );
    assert_eq!(
        classify(410, None, b"", "tok", Listing::Events),
        GoogleError::SyncTokenExpired
    );
    assert!(matches!(
        classify(410, None, b"", "tok", Listing::Calendars),
        GoogleError::Http { status: 410, .. }
    ));
    assert_eq!(
        classify(503, None, b"", "tok", Listing::Events),
        GoogleError::Server(503)
    );
    let e = classify(
        400,
        None,
        b"bad token secret-123",
        "secret-123",
        Listing::Events,
    );
    assert!(!e.to_string().contains("secret-123"), "{e}");
    let forbidden = br#"{"error":{"errors":[{"domain":"global","reason":"forbidden","message":"Forbidden"}],"code":403,"message":"Forbidden"}}"#;
    assert_eq!(
        classify(403, None, forbidden, "tok", Listing::Events),
        GoogleError::Http {
            status: 403,
            detail: "Forbidden (forbidden)".to_owned()
        }
    );
}

#[test]
fn addresses_are_checked() {
    let t = Duration::from_secs(5);
    assert!(GoogleCalendar::new(DEFAULT_API_BASE, t).is_ok());
    assert!(GoogleCalendar::new("http://127.0.0.1:9/", t).is_ok());
    assert!(matches!(
        GoogleCalendar::new("http://www.googleapis.com/", t),
        Err(GoogleError::BadUrl(_))
    ));
    assert!(matches!(
        GoogleCalendar::new("https://u:p@www.googleapis.com/", t),
        Err(GoogleError::BadUrl(_))
    ));
    let g = GoogleCalendar::new("https://example.com/api", t).expect("client");
    let u = g
        .endpoint(&["calendar", "v3", "calendars", "a#b/c@d", "events"])
        .expect("url");
    assert_eq!(
        u.as_str(),
        "https://example.com/api/calendar/v3/calendars/a%23b%2Fc@d/events"
    );
}
