//! RRULE → the `rrule` crate's iterator, run on the wall clock.
//!
//! Recurrence is defined on local wall-clock time (a weekly 09:00 meeting
//! stays at 09:00 across a daylight-saving change), so a series is iterated
//! in naive local time — carried in `rrule`'s UTC zone, which has no
//! changes — and each result is turned into an instant afterwards by
//! [`crate::zone::Zone::to_utc`].

use calcard::icalendar::{ICalendarFrequency, ICalendarRecurrenceRule, ICalendarWeekday};
use chrono::{Month, NaiveDateTime, NaiveTime, TimeZone};
use rrule::{Frequency, NWeekday, RRule, RRuleSet, Weekday};

/// The rule's UNTIL as a wall-clock time of the series: a UTC value goes
/// through `utc_to_local`, a date means the end of that day.
pub fn until_local(
    r: &ICalendarRecurrenceRule,
    utc_to_local: impl Fn(NaiveDateTime) -> NaiveDateTime,
) -> Option<NaiveDateTime> {
    let u = r.until.as_ref()?;
    let dt = u.to_date_time()?;
    if u.hour.is_none() {
        return Some(
            dt.date_time
                .date()
                .and_time(NaiveTime::from_hms_opt(23, 59, 59)?),
        );
    }
    Some(match dt.offset {
        Some(off) => {
            utc_to_local(dt.date_time - chrono::Duration::seconds(off.local_minus_utc().into()))
        }
        None => dt.date_time,
    })
}

fn weekday(w: ICalendarWeekday) -> Weekday {
    match w {
        ICalendarWeekday::Monday => Weekday::Mon,
        ICalendarWeekday::Tuesday => Weekday::Tue,
        ICalendarWeekday::Wednesday => Weekday::Wed,
        ICalendarWeekday::Thursday => Weekday::Thu,
        ICalendarWeekday::Friday => Weekday::Fri,
        ICalendarWeekday::Saturday => Weekday::Sat,
        ICalendarWeekday::Sunday => Weekday::Sun,
    }
}

/// The series of `r` from `start` (wall clock), bounded by `until` (wall
/// clock). An error names what in the rule is wrong.
pub fn build(
    r: &ICalendarRecurrenceRule,
    start: NaiveDateTime,
    until: Option<NaiveDateTime>,
) -> Result<RRuleSet, String> {
    let freq = match r.freq {
        ICalendarFrequency::Yearly => Frequency::Yearly,
        ICalendarFrequency::Monthly => Frequency::Monthly,
        ICalendarFrequency::Weekly => Frequency::Weekly,
        ICalendarFrequency::Daily => Frequency::Daily,
        ICalendarFrequency::Hourly => Frequency::Hourly,
        ICalendarFrequency::Minutely => Frequency::Minutely,
        ICalendarFrequency::Secondly => Frequency::Secondly,
    };
    if r.interval == Some(0) {
        return Err("INTERVAL=0".into());
    }
    let carrier = |n: NaiveDateTime| rrule::Tz::UTC.from_utc_datetime(&n);
    let mut rr = RRule::new(freq).interval(r.interval.unwrap_or(1));
    if let Some(c) = r.count {
        rr = rr.count(c);
    }
    if let Some(u) = until {
        rr = rr.until(carrier(u));
    }
    if let Some(w) = r.wkst {
        rr = rr.week_start(weekday(w));
    }
    if !r.bysetpos.is_empty() {
        rr = rr.by_set_pos(r.bysetpos.clone());
    }
    if !r.bymonth.is_empty() {
        let months: Vec<Month> = r
            .bymonth
            .iter()
            .map(|m| Month::try_from(m.month()).map_err(|_| format!("BYMONTH={}", m.month())))
            .collect::<Result<_, _>>()?;
        rr = rr.by_month(&months);
    }
    if !r.bymonthday.is_empty() {
        rr = rr.by_month_day(r.bymonthday.clone());
    }
    if !r.byyearday.is_empty() {
        rr = rr.by_year_day(r.byyearday.clone());
    }
    if !r.byweekno.is_empty() {
        rr = rr.by_week_no(r.byweekno.clone());
    }
    if !r.byday.is_empty() {
        rr = rr.by_weekday(
            r.byday
                .iter()
                .map(|d| match d.ordwk {
                    Some(n) if n != 0 => NWeekday::Nth(n, weekday(d.weekday)),
                    _ => NWeekday::Every(weekday(d.weekday)),
                })
                .collect(),
        );
    }
    if !r.byhour.is_empty() {
        rr = rr.by_hour(r.byhour.clone());
    }
    if !r.byminute.is_empty() {
        rr = rr.by_minute(r.byminute.clone());
    }
    if !r.bysecond.is_empty() {
        rr = rr.by_second(r.bysecond.clone());
    }
    // Limited: a rule that never yields (BYMONTH=2;BYMONTHDAY=30) stops
    // after the crate's loop bound instead of running to the year 10000.
    rr.build(carrier(start))
        .map(RRuleSet::limit)
        .map_err(|e| e.to_string())
}
