// Compiled only under #[cfg(test)]: the parent module declares it so.
//! Due dates read from plain words: every form, zones, DST, errors.

use super::*;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test instant")
        .with_timezone(&Utc)
}

fn berlin() -> Tz {
    chrono_tz::Europe::Berlin
}

fn new_york() -> Tz {
    chrono_tz::America::New_York
}

/// Monday 30 November 2026, 10:00 in Berlin.
fn monday() -> DateTime<Utc> {
    utc("2026-11-30T09:00:00Z")
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
}

fn day(s: &str) -> Due {
    Due::Day { date: date(s) }
}

fn at(s: &str) -> Due {
    Due::At { at: utc(s) }
}

/// Parses in Berlin on `now`.
fn p(text: &str, now: DateTime<Utc>) -> Result<Due, WhenError> {
    parse_due(text, now, berlin())
}

/// Parses in Berlin on Monday 30 November 2026.
fn pm(text: &str) -> Due {
    p(text, monday()).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn hint(text: &str) -> &'static str {
    match p(text, monday()) {
        Ok(due) => panic!("{text:?} parsed as {due:?}"),
        Err(e) => e.hint,
    }
}

#[test]
fn relative_days() {
    assert_eq!(pm("today"), day("2026-11-30"));
    assert_eq!(pm("tomorrow"), day("2026-12-01"));
    assert_eq!(pm("tmrw"), day("2026-12-01"));
    assert_eq!(pm("yesterday"), day("2026-11-29"));
    assert_eq!(pm("day after tomorrow"), day("2026-12-02"));
    assert_eq!(pm("the day after tomorrow"), day("2026-12-02"));
    assert_eq!(pm("tonight"), at("2026-11-30T19:00:00Z"));
    assert_eq!(pm("tonight 9pm"), at("2026-11-30T20:00:00Z"));
    assert_eq!(pm("9pm tonight"), at("2026-11-30T20:00:00Z"));
}

#[test]
fn weekdays_on_a_monday() {
    assert_eq!(pm("friday"), day("2026-12-04"));
    assert_eq!(pm("fri"), day("2026-12-04"));
    assert_eq!(pm("this friday"), day("2026-12-04"));
    assert_eq!(pm("next friday"), day("2026-12-11"));
    assert_eq!(pm("monday"), day("2026-12-07"), "strictly after today");
    assert_eq!(pm("this monday"), day("2026-11-30"), "today counts");
    assert_eq!(pm("next monday"), day("2026-12-07"));
    assert_eq!(pm("tue"), day("2026-12-01"));
    assert_eq!(pm("wed"), day("2026-12-02"));
    assert_eq!(pm("thu"), day("2026-12-03"));
    assert_eq!(pm("thursday"), day("2026-12-03"));
    assert_eq!(pm("sat"), day("2026-12-05"));
    assert_eq!(pm("saturday"), day("2026-12-05"));
    assert_eq!(pm("sun"), day("2026-12-06"));
    assert_eq!(pm("sunday"), day("2026-12-06"));
    assert_eq!(pm("wednesday"), day("2026-12-02"));
    assert_eq!(pm("tuesday"), day("2026-12-01"));
}

#[test]
fn weekdays_on_a_friday_and_a_sunday() {
    let friday = utc("2026-12-04T12:00:00Z");
    assert_eq!(p("friday", friday), Ok(day("2026-12-11")));
    assert_eq!(p("this friday", friday), Ok(day("2026-12-04")));
    assert_eq!(p("next friday", friday), Ok(day("2026-12-11")));
    assert_eq!(p("end of week", friday), Ok(day("2026-12-04")));
    let sunday = utc("2026-12-06T12:00:00Z");
    assert_eq!(p("monday", sunday), Ok(day("2026-12-07")));
    assert_eq!(p("next monday", sunday), Ok(day("2026-12-07")));
    assert_eq!(p("friday", sunday), Ok(day("2026-12-11")));
    assert_eq!(p("next friday", sunday), Ok(day("2026-12-11")));
    assert_eq!(p("this weekend", sunday), Ok(day("2026-12-06")));
    assert_eq!(p("next week", sunday), Ok(day("2026-12-07")));
    assert_eq!(p("end of the week", sunday), Ok(day("2026-12-11")));
}

#[test]
fn weeks_months_and_ends() {
    assert_eq!(pm("next week"), day("2026-12-07"));
    assert_eq!(pm("weekend"), day("2026-12-05"));
    assert_eq!(pm("this weekend"), day("2026-12-05"));
    assert_eq!(pm("next weekend"), day("2026-12-12"));
    assert_eq!(pm("next month"), day("2026-12-30"));
    assert_eq!(pm("next year"), day("2027-11-30"));
    assert_eq!(pm("end of week"), day("2026-12-04"));
    assert_eq!(pm("eow"), day("2026-12-04"));
    assert_eq!(pm("end of next week"), day("2026-12-11"));
    assert_eq!(pm("end of month"), day("2026-11-30"));
    assert_eq!(pm("end of the month"), day("2026-11-30"));
    assert_eq!(pm("eom"), day("2026-11-30"));
    assert_eq!(pm("end of next month"), day("2026-12-31"));
    assert_eq!(pm("end of year"), day("2026-12-31"));
    assert_eq!(pm("eoy"), day("2026-12-31"));
    assert_eq!(pm("end of next year"), day("2027-12-31"));
}

#[test]
fn in_n_units() {
    assert_eq!(pm("in 3 days"), day("2026-12-03"));
    assert_eq!(pm("in 1 day"), day("2026-12-01"));
    assert_eq!(pm("in 0 days"), day("2026-11-30"));
    assert_eq!(pm("in 2 weeks"), day("2026-12-14"));
    assert_eq!(pm("in a week"), day("2026-12-07"));
    assert_eq!(pm("in a fortnight"), day("2026-12-14"));
    assert_eq!(pm("in 1 month"), day("2026-12-30"));
    assert_eq!(pm("in a month"), day("2026-12-30"));
    assert_eq!(pm("in three months"), day("2027-02-28"), "clamped");
    assert_eq!(pm("in a year"), day("2027-11-30"));
    assert_eq!(pm("in 2 hours"), at("2026-11-30T11:00:00Z"));
    assert_eq!(pm("in an hour"), at("2026-11-30T10:00:00Z"));
    assert_eq!(pm("in half an hour"), at("2026-11-30T09:30:00Z"));
    assert_eq!(pm("in 90 minutes"), at("2026-11-30T10:30:00Z"));
    assert_eq!(pm("in 3 days at 5pm"), at("2026-12-03T16:00:00Z"));
}

#[test]
fn month_end_clamping() {
    let jan31 = utc("2026-01-31T10:00:00Z");
    assert_eq!(p("next month", jan31), Ok(day("2026-02-28")));
    assert_eq!(p("in 1 month", jan31), Ok(day("2026-02-28")));
    assert_eq!(p("end of month", jan31), Ok(day("2026-01-31")));
    assert_eq!(p("end of next month", jan31), Ok(day("2026-02-28")));
    let leap = utc("2028-01-31T10:00:00Z");
    assert_eq!(p("next month", leap), Ok(day("2028-02-29")));
    let feb29 = utc("2028-02-29T10:00:00Z");
    assert_eq!(p("next year", feb29), Ok(day("2029-02-28")));
}

#[test]
fn calendar_dates() {
    assert_eq!(pm("2026-12-03"), day("2026-12-03"));
    assert_eq!(pm("3 dec"), day("2026-12-03"));
    assert_eq!(pm("dec 3"), day("2026-12-03"));
    assert_eq!(pm("december 3"), day("2026-12-03"));
    assert_eq!(pm("december 3rd"), day("2026-12-03"));
    assert_eq!(pm("3rd of december"), day("2026-12-03"));
    assert_eq!(pm("the 3rd of december"), day("2026-12-03"));
    assert_eq!(pm("3 december 2027"), day("2027-12-03"));
    assert_eq!(pm("dec 3, 2027"), day("2027-12-03"));
    assert_eq!(pm("Dec. 3"), day("2026-12-03"));
    assert_eq!(pm("sept 1"), day("2027-09-01"));
    assert_eq!(pm("thu 3 dec"), day("2026-12-03"), "as label() writes it");
    assert_eq!(pm("30 nov"), day("2026-11-30"), "today is not past");
    assert_eq!(pm("29 nov"), day("2027-11-29"), "past means next year");
    assert_eq!(pm("feb 29"), day("2028-02-29"), "the next leap year");
    assert_eq!(
        pm("3 dec 2020"),
        day("2020-12-03"),
        "an explicit year stays"
    );
}

#[test]
fn year_rollover_near_the_end_of_december() {
    let late = utc("2026-12-30T15:00:00Z");
    assert_eq!(p("dec 31", late), Ok(day("2026-12-31")));
    assert_eq!(p("jan 2", late), Ok(day("2027-01-02")));
    assert_eq!(p("dec 29", late), Ok(day("2027-12-29")));
    assert_eq!(p("next week", late), Ok(day("2027-01-04")));
    assert_eq!(p("next month", late), Ok(day("2027-01-30")));
    assert_eq!(p("in 3 days", late), Ok(day("2027-01-02")));
    assert_eq!(p("end of year", late), Ok(day("2026-12-31")));
    // 23:30 UTC on Dec 31 is already Jan 1 in Berlin, not in New York.
    let eve = utc("2026-12-31T23:30:00Z");
    assert_eq!(p("today", eve), Ok(day("2027-01-01")));
    assert_eq!(parse_due("today", eve, new_york()), Ok(day("2026-12-31")));
    assert_eq!(parse_due("jan 1", eve, new_york()), Ok(day("2027-01-01")));
}

#[test]
fn times() {
    assert_eq!(pm("tomorrow 9am"), at("2026-12-01T08:00:00Z"));
    assert_eq!(pm("tomorrow at 6pm"), at("2026-12-01T17:00:00Z"));
    assert_eq!(pm("tomorrow at 6 pm"), at("2026-12-01T17:00:00Z"));
    assert_eq!(pm("tomorrow 6:30pm"), at("2026-12-01T17:30:00Z"));
    assert_eq!(pm("tomorrow 6:30 p.m."), at("2026-12-01T17:30:00Z"));
    assert_eq!(pm("tomorrow 18:00"), at("2026-12-01T17:00:00Z"));
    assert_eq!(pm("tomorrow 12am"), at("2026-11-30T23:00:00Z"));
    assert_eq!(pm("tomorrow 12pm"), at("2026-12-01T11:00:00Z"));
    assert_eq!(pm("tomorrow noon"), at("2026-12-01T11:00:00Z"));
    assert_eq!(pm("tomorrow midnight"), at("2026-12-01T22:59:00Z"));
    assert_eq!(pm("tomorrow morning"), at("2026-12-01T08:00:00Z"));
    assert_eq!(pm("friday evening"), at("2026-12-04T17:00:00Z"));
    assert_eq!(pm("this afternoon"), at("2026-11-30T13:00:00Z"));
    assert_eq!(pm("friday at 14:30"), at("2026-12-04T13:30:00Z"));
    assert_eq!(pm("next monday noon"), at("2026-12-07T11:00:00Z"));
    assert_eq!(pm("3 dec 9am"), at("2026-12-03T08:00:00Z"));
    assert_eq!(pm("dec 3 2027 at 9am"), at("2027-12-03T08:00:00Z"));
    assert_eq!(pm("at 6pm on friday"), at("2026-12-04T17:00:00Z"));
    assert_eq!(pm("9am tomorrow"), at("2026-12-01T08:00:00Z"));
    assert_eq!(pm("thu 3 dec 14:00"), at("2026-12-03T13:00:00Z"));
    assert_eq!(pm("on friday at noon"), at("2026-12-04T11:00:00Z"));
    assert_eq!(pm("by friday"), day("2026-12-04"));
}

#[test]
fn a_time_alone_is_its_next_occurrence() {
    // 10:00 in Berlin.
    assert_eq!(pm("6pm"), at("2026-11-30T17:00:00Z"));
    assert_eq!(pm("at 6pm"), at("2026-11-30T17:00:00Z"));
    assert_eq!(pm("18:00"), at("2026-11-30T17:00:00Z"));
    assert_eq!(pm("noon"), at("2026-11-30T11:00:00Z"));
    assert_eq!(pm("midnight"), at("2026-11-30T22:59:00Z"));
    assert_eq!(pm("9am"), at("2026-12-01T08:00:00Z"), "passed: tomorrow");
    assert_eq!(
        pm("10:00"),
        at("2026-12-01T09:00:00Z"),
        "now is not after now"
    );
}

#[test]
fn iso_and_rfc3339() {
    assert_eq!(pm("2026-12-03 14:00"), at("2026-12-03T13:00:00Z"));
    assert_eq!(pm("2026-12-03T14:00"), at("2026-12-03T13:00:00Z"));
    assert_eq!(pm("2026-12-03t14:00:00"), at("2026-12-03T13:00:00Z"));
    assert_eq!(pm("2026-12-03 at 2pm"), at("2026-12-03T13:00:00Z"));
    assert_eq!(pm("2026-12-03 2pm"), at("2026-12-03T13:00:00Z"));
    assert_eq!(pm("2026-12-03T14:00:00+01:00"), at("2026-12-03T13:00:00Z"));
    assert_eq!(pm("2026-12-03T14:00:00-05:00"), at("2026-12-03T19:00:00Z"));
    assert_eq!(pm("2026-12-03T14:00:00Z"), at("2026-12-03T14:00:00Z"));
    assert_eq!(pm("2026-12-03 14:00:00+0530"), at("2026-12-03T08:30:00Z"));
    assert_eq!(
        pm("2026-12-03T14:00:00.5+01:00"),
        at("2026-12-03T13:00:00.5Z")
    );
    // An offset wins over the zone.
    assert_eq!(
        parse_due("2026-12-03T14:00:00+01:00", monday(), new_york()),
        Ok(at("2026-12-03T13:00:00Z"))
    );
    // Without one it is New York's wall clock.
    assert_eq!(
        parse_due("2026-12-03 14:00", monday(), new_york()),
        Ok(at("2026-12-03T19:00:00Z"))
    );
}

#[test]
fn case_and_spaces_do_not_matter() {
    assert_eq!(pm("  TOMORROW   At  6PM "), at("2026-12-01T17:00:00Z"));
    assert_eq!(pm("Next Friday"), day("2026-12-11"));
    assert_eq!(pm("IN 3 DAYS"), day("2026-12-03"));
    assert_eq!(pm("3 DECEMBER 2027"), day("2027-12-03"));
    assert_eq!(pm("Noon"), at("2026-11-30T11:00:00Z"));
    assert_eq!(pm("End Of Month"), day("2026-11-30"));
}

#[test]
fn dst_gap_moves_to_the_first_valid_time() {
    // Berlin skips 02:00-03:00 on Sunday 29 March 2026.
    let saturday = utc("2026-03-28T12:00:00Z");
    assert_eq!(
        p("tomorrow 2:30am", saturday),
        Ok(at("2026-03-29T01:00:00Z"))
    );
    let due = p("tomorrow 2:30am", saturday).expect("due");
    assert_eq!(due.to_string_in(berlin()), "2026-03-29T03:00:00+02:00");
    assert_eq!(
        p("2026-03-29 02:00", saturday),
        Ok(at("2026-03-29T01:00:00Z"))
    );
    assert_eq!(p("tomorrow 3am", saturday), Ok(at("2026-03-29T01:00:00Z")));
    assert_eq!(
        p("tomorrow 1:59am", saturday),
        Ok(at("2026-03-29T00:59:00Z"))
    );
    // New York skips 02:00-03:00 on 8 March 2026.
    let ny = parse_due("2026-03-08 2:15am", saturday, new_york());
    assert_eq!(ny, Ok(at("2026-03-08T07:00:00Z")));
}

#[test]
fn dst_overlap_takes_the_earlier() {
    // Berlin runs 02:00-03:00 twice on 25 October 2026.
    let saturday = utc("2026-10-24T12:00:00Z");
    assert_eq!(
        p("tomorrow 2:30am", saturday),
        Ok(at("2026-10-25T00:30:00Z"))
    );
    // New York runs 01:00-02:00 twice on 1 November 2026.
    assert_eq!(
        parse_due("2026-11-01 1:30am", saturday, new_york()),
        Ok(at("2026-11-01T05:30:00Z"))
    );
}

#[test]
fn in_new_york() {
    let tz = new_york();
    // 04:00 in New York, Monday 30 November.
    let now = utc("2026-11-30T09:00:00Z");
    assert_eq!(parse_due("today", now, tz), Ok(day("2026-11-30")));
    assert_eq!(
        parse_due("tonight", now, tz),
        Ok(at("2026-12-01T01:00:00Z"))
    );
    assert_eq!(parse_due("9am", now, tz), Ok(at("2026-11-30T14:00:00Z")));
    assert_eq!(
        parse_due("friday 5pm", now, tz),
        Ok(at("2026-12-04T22:00:00Z"))
    );
    // 03:00 UTC Tuesday is still Monday evening in New York.
    let late = utc("2026-12-01T03:00:00Z");
    assert_eq!(parse_due("tomorrow", late, tz), Ok(day("2026-12-01")));
    assert_eq!(parse_due("tomorrow", late, berlin()), Ok(day("2026-12-02")));
}

#[test]
fn refusals_with_hints() {
    assert_eq!(hint(""), EMPTY);
    assert_eq!(hint("   "), EMPTY);
    assert_eq!(hint("🙂"), GENERIC);
    assert_eq!(hint("soon"), GENERIC);
    assert_eq!(hint("3"), GENERIC);
    assert_eq!(hint("32 dec"), NO_SUCH_DATE);
    assert_eq!(hint("31 nov"), NO_SUCH_DATE);
    assert_eq!(hint("feb 29 2027"), NO_SUCH_DATE);
    assert_eq!(hint("0 jan"), NO_SUCH_DATE);
    assert_eq!(hint("2026-13-01"), NO_SUCH_DATE);
    assert_eq!(hint("2026-02-30"), NO_SUCH_DATE);
    assert_eq!(hint("3/12"), NUMERIC);
    assert_eq!(hint("12/3/2026"), NUMERIC);
    assert_eq!(hint("3.12."), NUMERIC);
    assert_eq!(hint("in 99999999999 days"), TOO_FAR);
    assert_eq!(hint("in 99999999 days"), TOO_FAR);
    assert_eq!(hint("in 4294967295 weeks"), TOO_FAR);
    assert_eq!(hint("in 4294967295 years"), TOO_FAR);
    assert_eq!(hint("in 4294967295 hours"), TOO_FAR);
    assert_eq!(hint("tomorrow at 6"), BARE_HOUR);
    assert_eq!(hint("tomorrow 25:00"), NO_SUCH_TIME);
    assert_eq!(hint("13pm"), NO_SUCH_TIME);
    assert_eq!(hint("0am"), NO_SUCH_TIME);
    assert_eq!(hint("2026-12-03T25:00"), NO_SUCH_TIME);
    assert_eq!(hint("2026-12-03T14:00+25:00"), BAD_OFFSET);
    assert_eq!(hint("fri 3 dec"), WRONG_WEEKDAY);
    assert_eq!(hint("tomorrow tomorrow"), GENERIC);
    assert_eq!(hint("in 2 hours at 5pm"), GENERIC);
    assert_eq!(hint("next"), GENERIC);
    assert_eq!(hint("on"), GENERIC);
    assert_eq!(hint("friday at"), GENERIC);
    assert_eq!(hint("morning"), GENERIC);
    assert_eq!(hint("friday's"), GENERIC);
}

#[test]
fn the_error_reads_well() {
    let e = p("soon", monday()).expect_err("soon");
    assert_eq!(
        e.to_string(),
        "cannot read \"soon\" as a date: try tomorrow, friday, in 3 days, 2026-12-03 or 2026-12-03 14:00"
    );
    assert_eq!(e.text, "soon");
}

#[test]
fn garbage_never_panics() {
    let nows = [
        monday(),
        DateTime::<Utc>::MIN_UTC,
        DateTime::<Utc>::MAX_UTC,
        utc("2026-03-29T01:00:00Z"),
    ];
    let inputs = [
        "",
        "🙂",
        "🙂🙂 tomorrow",
        "İ",
        "ǅ 3 dec",
        "in",
        "in a",
        "in -3 days",
        "in 4294967296 days",
        "in 18446744073709551616 minutes",
        "next 🙂",
        "end of",
        "end of the",
        "the",
        "at",
        "at at at",
        "9999-12-31 23:59",
        "9999-12-31T23:59:59+23:59",
        "0000-01-01T00:00:00-23:59",
        "2026-12-03t",
        "2026-12-03tz",
        "2026-12-03t14:00+",
        "2026-12-03t14:00:00.1234567890z",
        "2026-12-03t14:00:00.z",
        "2026--03",
        "dec",
        "dec 99",
        "99 dec 9999",
        "tomorrow 99:99",
        "12:60",
        "pm",
        ":pm",
        "1:pm",
        "npm",
        "a.m.",
        "-",
        ",,,",
        "...",
        "/",
        "3/",
        "in 2 hours",
        "in 99999 years",
        "next year",
        "next month",
        "end of next year",
        "feb 29",
        "friday",
        "tonight",
        "noon",
        "midnight",
        "in 3 days at noon",
    ];
    for now in nows {
        for tz in [berlin(), new_york(), chrono_tz::Pacific::Kiritimati] {
            for text in inputs {
                if let Ok(due) = parse_due(text, now, tz) {
                    let _ = (due.label(tz), due.to_string_in(tz), due.day(tz));
                    let _ = due.overdue(tz, now);
                }
                let _ = split_due(text, now, tz);
            }
        }
    }
}

#[test]
fn extremes_do_not_panic_in_the_methods() {
    for at in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
        let due = Due::At { at };
        for tz in [
            berlin(),
            chrono_tz::Pacific::Kiritimati,
            chrono_tz::Etc::GMTPlus12,
        ] {
            let _ = (due.label(tz), due.to_string_in(tz), due.day(tz));
            let _ = due.overdue(tz, at);
            let _ = parse_due("today", at, tz);
        }
    }
    for date in [NaiveDate::MIN, NaiveDate::MAX] {
        let due = Due::Day { date };
        let _ = (
            due.label(berlin()),
            due.to_string_in(berlin()),
            due.day(berlin()),
        );
    }
}

#[test]
fn formatting() {
    let tz = berlin();
    assert_eq!(day("2026-12-03").to_string_in(tz), "2026-12-03");
    assert_eq!(day("2026-12-03").label(tz), "Thu 3 Dec");
    let due = at("2026-12-03T13:00:00Z");
    assert_eq!(due.to_string_in(tz), "2026-12-03T14:00:00+01:00");
    assert_eq!(due.label(tz), "Thu 3 Dec 14:00");
    assert_eq!(due.to_string_in(new_york()), "2026-12-03T08:00:00-05:00");
    assert_eq!(
        due.to_string_in(chrono_tz::UTC),
        "2026-12-03T13:00:00+00:00"
    );
    let summer = at("2026-07-01T12:00:00Z");
    assert_eq!(summer.to_string_in(tz), "2026-07-01T14:00:00+02:00");
    // The label reads back as the same due.
    assert_eq!(pm(&due.label(tz)), due);
    assert_eq!(pm(&day("2026-12-03").label(tz)), day("2026-12-03"));
    // A round trip through the JSON form.
    assert_eq!(pm(&due.to_string_in(tz)), due);
    assert_eq!(pm(&due.to_string_in(new_york())), due);
}

#[test]
fn day_and_overdue() {
    let tz = berlin();
    // 23:30 UTC is already the next day in Berlin.
    let late = at("2026-12-03T23:30:00Z");
    assert_eq!(late.day(tz), date("2026-12-04"));
    assert_eq!(late.day(new_york()), date("2026-12-03"));
    assert_eq!(day("2026-12-03").day(tz), date("2026-12-03"));

    let now = utc("2026-12-03T12:00:00Z");
    assert!(!day("2026-12-03").overdue(tz, now), "today is not overdue");
    assert!(day("2026-12-02").overdue(tz, now));
    assert!(!day("2026-12-04").overdue(tz, now));
    assert!(at("2026-12-03T11:59:59Z").overdue(tz, now));
    assert!(!at("2026-12-03T12:00:00Z").overdue(tz, now));
    // 23:30 UTC on Dec 3 is Dec 4 in Berlin: Dec 3 is overdue there only.
    let night = utc("2026-12-03T23:30:00Z");
    assert!(day("2026-12-03").overdue(tz, night));
    assert!(!day("2026-12-03").overdue(new_york(), night));
}

#[test]
fn serde_shape() {
    let json = serde_json::to_string(&day("2026-12-03")).expect("json");
    assert_eq!(json, r#"{"kind":"day","date":"2026-12-03"}"#);
    let json = serde_json::to_string(&at("2026-12-03T13:00:00Z")).expect("json");
    assert_eq!(json, r#"{"kind":"at","at":"2026-12-03T13:00:00Z"}"#);
    let back: Due = serde_json::from_str(&json).expect("back");
    assert_eq!(back, at("2026-12-03T13:00:00Z"));
}

fn split(text: &str) -> (String, Option<Due>) {
    split_due(text, monday(), berlin())
}

fn splits(text: &str, title: &str, due: Due) {
    assert_eq!(split(text), (title.to_string(), Some(due)), "{text:?}");
}

fn no_date(text: &str) {
    assert_eq!(split(text), (text.to_string(), None), "{text:?}");
}

#[test]
fn split_reads_the_end_of_the_month_with_its_article() {
    splits(
        "pay rent by the end of the month",
        "pay rent",
        day("2026-11-30"),
    );
    splits(
        "file the taxes by the end of next month",
        "file the taxes",
        day("2026-12-31"),
    );
    splits(
        "clean the garage the weekend",
        "clean the garage",
        day("2026-12-05"),
    );
    no_date("read the end of the book");
}

#[test]
fn split_finds_the_date_at_the_end() {
    splits(
        "renew my passport next month",
        "renew my passport",
        day("2026-12-30"),
    );
    splits(
        "call mum tomorrow at 6pm",
        "call mum",
        at("2026-12-01T17:00:00Z"),
    );
    splits(
        "Call Mum Tomorrow At 6PM.",
        "Call Mum",
        at("2026-12-01T17:00:00Z"),
    );
    splits("pay rent by friday", "pay rent", day("2026-12-04"));
    splits(
        "pay rent on the 3rd of december",
        "pay rent",
        day("2026-12-03"),
    );
    splits(
        "dentist next friday 9am",
        "dentist",
        at("2026-12-11T08:00:00Z"),
    );
    splits(
        "submit report in 3 days",
        "submit report",
        day("2026-12-03"),
    );
    splits(
        "submit report due 2026-12-03",
        "submit report",
        day("2026-12-03"),
    );
    splits(
        "submit report due: friday",
        "submit report",
        day("2026-12-04"),
    );
    splits("buy milk, tomorrow", "buy milk", day("2026-12-01"));
    splits("buy milk - tomorrow", "buy milk", day("2026-12-01"));
    splits("buy milk — tomorrow", "buy milk", day("2026-12-01"));
    splits("lunch at noon", "lunch", at("2026-11-30T11:00:00Z"));
    splits("book table for saturday", "book table", day("2026-12-05"));
    splits("water plants on sun", "water plants", day("2026-12-06"));
    splits("water plants, sun", "water plants", day("2026-12-06"));
    splits(
        "read chapter 3 tomorrow",
        "read chapter 3",
        day("2026-12-01"),
    );
    splits(
        "send invoice end of month",
        "send invoice",
        day("2026-11-30"),
    );
    splits("tax return by 31 jan 2027", "tax return", day("2027-01-31"));
    splits(
        "  extra   spaces   friday  ",
        "extra   spaces",
        day("2026-12-04"),
    );
    splits(
        "café réservation demain friday",
        "café réservation demain",
        day("2026-12-04"),
    );
}

#[test]
fn split_leaves_text_without_a_date_alone() {
    no_date("buy milk");
    no_date("read chapter 3");
    no_date("meeting notes for friday's review");
    no_date("notes from friday");
    no_date("enjoy the sun");
    no_date("catch some sun");
    no_date("every monday");
    no_date("clean up after last friday");
    no_date("call mum at 6");
    no_date("install npm");
    no_date("tomorrow");
    no_date("by friday");
    no_date("");
    no_date("🙂");
    no_date("split 3/12");
    no_date("fix bug 2026-13-01");
}
