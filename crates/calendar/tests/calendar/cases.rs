//! Recurrence, exceptions, all-day events and daylight-saving changes on
//! calendars written here, where the right answer is known.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use openzero_calendar::{expand, parse};
use openzero_core::calendar::{EventStatus, Occurrence, When, midnight};

fn berlin() -> Tz {
    "Europe/Berlin".parse().unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Occurrences from `from` to `to` (dates, Berlin) as "start–end" in Berlin.
fn agenda(ics: &str, from: &str, to: &str) -> (Vec<Occurrence>, Vec<String>) {
    let cal = parse(ics.replace('\n', "\r\n").as_bytes());
    let (occ, problems) = expand(
        &cal.events,
        "test",
        berlin(),
        midnight(berlin(), day(from)),
        midnight(berlin(), day(to)),
    );
    let mut occ = occ;
    openzero_core::calendar::sort_agenda(&mut occ, berlin());
    let problems = cal
        .problems
        .iter()
        .chain(&problems)
        .map(ToString::to_string)
        .collect();
    (occ, problems)
}

fn label(o: &Occurrence) -> String {
    match o.when {
        When::Timed { start, end } => format!(
            "{} {}–{}",
            o.summary,
            start.with_timezone(&berlin()).format("%Y-%m-%d %H:%M%:z"),
            end.with_timezone(&berlin()).format("%H:%M")
        ),
        When::AllDay { start, end } => format!("{} {start}..{end}", o.summary),
    }
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

const WEEKLY: &str = "BEGIN:VCALENDAR
VERSION:2.0
BEGIN:VEVENT
UID:standup@example.com
SUMMARY:Weekly sync
DTSTART;TZID=Europe/Berlin:20260316T090000
DTEND;TZID=Europe/Berlin:20260316T100000
RRULE:FREQ=WEEKLY;BYDAY=MO
EXDATE;TZID=Europe/Berlin:20260406T090000
END:VEVENT
BEGIN:VEVENT
UID:standup@example.com
RECURRENCE-ID;TZID=Europe/Berlin:20260330T090000
SUMMARY:Weekly sync (moved)
DTSTART;TZID=Europe/Berlin:20260331T140000
DTEND;TZID=Europe/Berlin:20260331T150000
END:VEVENT
BEGIN:VEVENT
UID:standup@example.com
RECURRENCE-ID;TZID=Europe/Berlin:20260413T090000
SUMMARY:Weekly sync
STATUS:CANCELLED
DTSTART;TZID=Europe/Berlin:20260413T090000
DTEND;TZID=Europe/Berlin:20260413T100000
END:VEVENT
END:VCALENDAR
";

#[test]
fn a_weekly_meeting_keeps_its_local_time_across_the_spring_change() {
    let (occ, problems) = agenda(WEEKLY, "2026-03-16", "2026-04-21");
    assert!(problems.is_empty(), "{problems:?}");
    let labels: Vec<String> = occ.iter().map(label).collect();
    assert_eq!(
        labels,
        vec![
            "Weekly sync 2026-03-16 09:00+01:00–10:00",
            "Weekly sync 2026-03-23 09:00+01:00–10:00",
            // Moved from Monday 30 March (after the change on the 29th).
            "Weekly sync (moved) 2026-03-31 14:00+02:00–15:00",
            // 6 April is an EXDATE; 13 April is cancelled, kept marked.
            "Weekly sync 2026-04-13 09:00+02:00–10:00",
            "Weekly sync 2026-04-20 09:00+02:00–10:00",
        ]
    );
    assert_eq!(occ[3].status, EventStatus::Cancelled);
    // The moved instance is still known as the 30 March one.
    assert_eq!(
        occ[2].instance,
        Some(When::Timed {
            start: utc("2026-03-30T07:00:00Z"),
            end: utc("2026-03-30T08:00:00Z")
        })
    );
}

#[test]
fn an_instance_moved_into_the_window_from_outside_it_is_shown() {
    // The 30 March instance moved to the 31st: a window of the 31st alone
    // does not contain the original start.
    let (occ, _) = agenda(WEEKLY, "2026-03-31", "2026-04-01");
    let labels: Vec<String> = occ.iter().map(label).collect();
    assert_eq!(
        labels,
        vec!["Weekly sync (moved) 2026-03-31 14:00+02:00–15:00"]
    );
}

#[test]
fn this_and_future_shifts_every_later_instance() {
    let ics = "BEGIN:VCALENDAR
BEGIN:VEVENT
UID:s
SUMMARY:Run club
DTSTART;TZID=Europe/Berlin:20261102T180000
DTEND;TZID=Europe/Berlin:20261102T190000
RRULE:FREQ=WEEKLY;COUNT=5
END:VEVENT
BEGIN:VEVENT
UID:s
SUMMARY:Run club (new time)
RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20261116T180000
DTSTART;TZID=Europe/Berlin:20261116T190000
DTEND;TZID=Europe/Berlin:20261116T200000
END:VEVENT
END:VCALENDAR
";
    let (occ, _) = agenda(ics, "2026-11-01", "2026-12-31");
    let labels: Vec<String> = occ.iter().map(label).collect();
    assert_eq!(
        labels,
        vec![
            "Run club 2026-11-02 18:00+01:00–19:00",
            "Run club 2026-11-09 18:00+01:00–19:00",
            "Run club (new time) 2026-11-16 19:00+01:00–20:00",
            "Run club (new time) 2026-11-23 19:00+01:00–20:00",
            "Run club (new time) 2026-11-30 19:00+01:00–20:00",
        ]
    );
}

#[test]
fn all_day_events_end_the_day_before_their_dtend() {
    let ics = "BEGIN:VCALENDAR
BEGIN:VEVENT
UID:trip
SUMMARY:Trip
DTSTART;VALUE=DATE:20261127
DTEND;VALUE=DATE:20261130
END:VEVENT
BEGIN:VEVENT
UID:bday
SUMMARY:Birthday
DTSTART;VALUE=DATE:19900315
RRULE:FREQ=YEARLY
END:VEVENT
END:VCALENDAR
";
    let (occ, _) = agenda(ics, "2026-11-30", "2026-12-01");
    assert!(occ.is_empty(), "the trip ends on the 29th: {occ:?}");
    let (occ, _) = agenda(ics, "2026-11-29", "2026-11-30");
    assert_eq!(occ.len(), 1);
    assert_eq!(
        occ[0].when,
        When::AllDay {
            start: day("2026-11-27"),
            end: day("2026-11-30")
        }
    );
    let (occ, _) = agenda(ics, "2027-03-15", "2027-03-16");
    assert_eq!(
        occ.iter().map(label).collect::<Vec<_>>(),
        vec!["Birthday 2027-03-15..2027-03-16"]
    );
}

#[test]
fn outlook_zone_names_utc_and_floating_times_land_right() {
    let ics = "BEGIN:VCALENDAR
BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
UID:outlook
SUMMARY:Outlook
DTSTART;TZID=W. Europe Standard Time:20260701T090000
DTEND;TZID=W. Europe Standard Time:20260701T093000
END:VEVENT
BEGIN:VEVENT
UID:utc
SUMMARY:UTC
DTSTART:20260701T120000Z
DTEND:20260701T123000Z
END:VEVENT
BEGIN:VEVENT
UID:ny
SUMMARY:New York
DTSTART;TZID=America/New_York:20260701T080000
DURATION:PT1H
END:VEVENT
BEGIN:VEVENT
UID:floating
SUMMARY:Floating
DTSTART:20260701T180000
DTEND:20260701T190000
END:VEVENT
END:VCALENDAR
";
    let (occ, problems) = agenda(ics, "2026-07-01", "2026-07-02");
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(
        occ.iter().map(label).collect::<Vec<_>>(),
        vec![
            "Outlook 2026-07-01 09:00+02:00–09:30",
            "New York 2026-07-01 14:00+02:00–15:00",
            "UTC 2026-07-01 14:00+02:00–14:30",
            "Floating 2026-07-01 18:00+02:00–19:00",
        ]
    );
}

#[test]
fn a_zone_known_only_by_its_vtimezone_follows_its_rules() {
    // No table knows this name: the offsets come from the VTIMEZONE.
    let ics = "BEGIN:VCALENDAR
BEGIN:VTIMEZONE
TZID:Office time
BEGIN:STANDARD
DTSTART:19701025T030000
TZOFFSETFROM:+0300
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:19700329T020000
TZOFFSETFROM:+0200
TZOFFSETTO:+0300
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
UID:x
SUMMARY:Summer
DTSTART;TZID=Office time:20260701T100000
END:VEVENT
BEGIN:VEVENT
UID:y
SUMMARY:Winter
DTSTART;TZID=Office time:20261201T100000
END:VEVENT
END:VCALENDAR
";
    let (occ, problems) = agenda(ics, "2026-01-01", "2027-01-01");
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(
        occ.iter().map(label).collect::<Vec<_>>(),
        vec![
            "Summer 2026-07-01 09:00+02:00–09:00",
            "Winter 2026-12-01 09:00+01:00–09:00",
        ]
    );
}

#[test]
fn a_broken_event_is_reported_and_the_rest_of_the_calendar_stays() {
    let ics = "BEGIN:VCALENDAR
BEGIN:VEVENT
UID:backwards
SUMMARY:Backwards
DTSTART:20261130T100000Z
DTEND:20261130T090000Z
END:VEVENT
BEGIN:VEVENT
UID:badrule
SUMMARY:Bad rule
DTSTART:20261130T120000Z
RRULE:FREQ=MONTHLY;BYWEEKNO=3
END:VEVENT
BEGIN:VEVENT
UID:nostart
SUMMARY:No start
END:VEVENT
BEGIN:VEVENT
UID:fine
SUMMARY:Fine
DTSTART:20261130T150000Z
DTEND:20261130T160000Z
END:VEVENT
END:VCALENDAR
";
    let (occ, problems) = agenda(ics, "2026-11-30", "2026-12-31");
    let labels: Vec<String> = occ.iter().map(label).collect();
    // The bad rule keeps its first occurrence only.
    assert_eq!(
        labels,
        vec![
            "Bad rule 2026-11-30 13:00+01:00–13:00",
            "Fine 2026-11-30 16:00+01:00–17:00"
        ]
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("Backwards") && p.contains("ends before it starts")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("Bad rule") && p.contains("RRULE")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("No start") && p.contains("no DTSTART")),
        "{problems:?}"
    );
}

#[test]
fn garbage_is_reported_not_a_panic() {
    for input in [
        &b""[..],
        b"hello",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:2026",
        &[0xff, 0xfe, 0x00, 0x41],
    ] {
        let cal = parse(input);
        assert!(cal.events.is_empty());
        assert!(!cal.problems.is_empty(), "{input:?}");
    }
}

#[test]
fn a_daily_series_from_years_ago_expands_only_the_window() {
    let ics = "BEGIN:VCALENDAR
BEGIN:VEVENT
UID:d
SUMMARY:Pills
DTSTART;TZID=Europe/Berlin:20000101T080000
RRULE:FREQ=DAILY
END:VEVENT
END:VCALENDAR
";
    let (occ, _) = agenda(ics, "2026-11-30", "2026-12-01");
    assert_eq!(
        occ.iter().map(label).collect::<Vec<_>>(),
        vec!["Pills 2026-11-30 08:00+01:00–08:00"]
    );
}

#[test]
fn google_exports_in_utc_recur_on_the_calendar_zone_wall_clock() {
    // X-WR-TIMEZONE: the UTC times mean Berlin wall-clock recurrence.
    let ics = "BEGIN:VCALENDAR
X-WR-CALNAME:Family
X-WR-TIMEZONE:Europe/Berlin
BEGIN:VEVENT
UID:g
SUMMARY:Swim
DTSTART:20260302T170000Z
DTEND:20260302T180000Z
RRULE:FREQ=WEEKLY
END:VEVENT
END:VCALENDAR
";
    let cal = parse(ics.as_bytes());
    assert_eq!(cal.name.as_deref(), Some("Family"));
    let (occ, _) = agenda(ics, "2026-04-06", "2026-04-07");
    assert_eq!(
        occ.iter().map(label).collect::<Vec<_>>(),
        vec!["Swim 2026-04-06 18:00+02:00–19:00"]
    );
}

#[test]
fn an_overnight_series_keeps_its_exact_length_across_the_autumn_change() {
    // 22:00-06:00 is 8 hours; on the night of 24/25 October 2026 the clock
    // goes back, so it ends at 05:00 local (RFC 5545: exact durations).
    let ics = "BEGIN:VCALENDAR
BEGIN:VEVENT
UID:night
SUMMARY:Night shift
DTSTART;TZID=Europe/Berlin:20261023T220000
DTEND;TZID=Europe/Berlin:20261024T060000
RRULE:FREQ=DAILY;COUNT=3
END:VEVENT
END:VCALENDAR
";
    let (occ, _) = agenda(ics, "2026-10-23", "2026-10-27");
    let spans: Vec<String> = occ
        .iter()
        .map(|o| {
            let (s, e) = o.when.span(berlin());
            format!(
                "{} {}h",
                s.with_timezone(&berlin()).format("%d %H:%M"),
                (e - s).num_hours()
            )
        })
        .collect();
    assert_eq!(spans, vec!["23 22:00 8h", "24 22:00 8h", "25 22:00 8h"]);
}

#[test]
fn a_rule_that_never_matches_gives_its_first_occurrence_and_stops() {
    // 30 February never comes; the iteration must give up, not walk to
    // the year 10000 for every event of the feed.
    let mut ics = String::from("BEGIN:VCALENDAR\n");
    for i in 0..20 {
        ics.push_str(&format!(
            "BEGIN:VEVENT\nUID:never{i}\nSUMMARY:Never {i}\nDTSTART:20260101T090000Z\nRRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30\nEND:VEVENT\n"
        ));
    }
    ics.push_str("END:VCALENDAR\n");
    let (occ, _) = agenda(&ics, "2026-01-01", "2027-01-01");
    assert_eq!(occ.len(), 20, "only each DTSTART");
}

#[test]
fn dates_at_the_edge_of_time_are_no_panic() {
    let ics = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:w\nSUMMARY:W\nDTSTART:20260101T090000Z\nRRULE:FREQ=WEEKLY\nEND:VEVENT\nEND:VCALENDAR\n";
    let cal = parse(ics.as_bytes());
    for (from, to) in [
        (NaiveDate::MIN, NaiveDate::MIN),
        (NaiveDate::MAX, NaiveDate::MAX),
    ] {
        let f = chrono::NaiveDateTime::new(from, chrono::NaiveTime::MIN).and_utc();
        let t = chrono::NaiveDateTime::new(to, chrono::NaiveTime::MIN).and_utc();
        let _ = expand(&cal.events, "x", berlin(), f, t);
    }
}

#[test]
fn the_same_event_twice_in_a_feed_is_shown_once() {
    let ev = "BEGIN:VEVENT\nUID:dup@x\nSUMMARY:Dup\nDTSTART:20261130T090000Z\nDTEND:20261130T100000Z\nEND:VEVENT\n";
    let ics = format!("BEGIN:VCALENDAR\n{ev}{ev}END:VCALENDAR\n");
    let (occ, _) = agenda(&ics, "2026-11-30", "2026-12-01");
    assert_eq!(occ.len(), 1, "{occ:?}");
}
