//! iCalendar text → the events OpenZero expands.
//!
//! Parsing is calcard's (Stalwart's RFC 5545 parser, lenient with what
//! real calendars send); this module picks out each `VEVENT`'s times with
//! the zone they are written in, and never fails: what cannot be read is
//! reported as a [`Problem`] and the rest of the calendar stays.

use calcard::{
    Entry, Parser,
    common::PartialDateTime,
    icalendar::{
        ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarDuration,
        ICalendarParameterName, ICalendarPeriod, ICalendarProperty, ICalendarRecurrenceRule,
        ICalendarStatus, ICalendarTransparency, ICalendarValue,
    },
};
use chrono::{Duration, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use openzero_core::calendar::EventStatus;

use crate::zone::{Zone, Zones};

/// A time as the calendar wrote it.
#[derive(Debug, Clone)]
pub enum Time {
    /// `VALUE=DATE`: a whole day.
    Date(NaiveDate),
    /// A wall-clock time in a zone (UTC values carry UTC; floating ones the
    /// owner's zone, decided at expansion).
    Local(NaiveDateTime, Zone),
}

impl Time {
    pub fn naive(&self) -> NaiveDateTime {
        match self {
            Time::Date(d) => d.and_time(chrono::NaiveTime::MIN),
            Time::Local(n, _) => *n,
        }
    }
}

/// How long an event lasts when it does not give its end as a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Length {
    pub days: i64,
    pub seconds: i64,
}

impl Length {
    fn of(d: &ICalendarDuration) -> Length {
        let sign = if d.neg { -1 } else { 1 };
        Length {
            days: sign * (i64::from(d.weeks) * 7 + i64::from(d.days)),
            seconds: sign
                * (i64::from(d.hours) * 3600 + i64::from(d.minutes) * 60 + i64::from(d.seconds)),
        }
    }

    pub fn as_duration(&self) -> Duration {
        Duration::days(self.days) + Duration::seconds(self.seconds)
    }
}

/// An RDATE: an extra start, or a period with its own end.
#[derive(Debug, Clone)]
pub enum Rdate {
    Start(Time),
    Period(Time, PeriodEnd),
}

#[derive(Debug, Clone)]
pub enum PeriodEnd {
    At(Time),
    After(Length),
}

/// One `VEVENT`: a single event, a series master, or an instance override.
#[derive(Debug, Clone)]
pub struct Event {
    pub uid: String,
    pub summary: String,
    pub location: Option<String>,
    pub status: EventStatus,
    pub busy: bool,
    pub start: Time,
    pub end: Option<Time>,
    pub length: Option<Length>,
    /// Usually one; RFC 2445 allowed several (their union).
    pub rrules: Vec<ICalendarRecurrenceRule>,
    pub rdates: Vec<Rdate>,
    pub exdates: Vec<Time>,
    /// RECURRENCE-ID and whether it has `RANGE=THISANDFUTURE`.
    pub recurrence_id: Option<(Time, bool)>,
    /// No DTSTART: an override that keeps its original start.
    pub start_from_recurrence_id: bool,
}

/// Something in a calendar that could not be used as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub uid: Option<String>,
    pub summary: Option<String>,
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.summary, &self.uid) {
            (Some(s), _) if !s.is_empty() => write!(f, "\"{s}\": {}", self.what),
            (_, Some(u)) => write!(f, "event {u}: {}", self.what),
            _ => f.write_str(&self.what),
        }
    }
}

/// A parsed calendar file or resource.
#[derive(Debug, Default, Clone)]
pub struct Calendar {
    /// `X-WR-CALNAME`, when the file names itself.
    pub name: Option<String>,
    pub events: Vec<Event>,
    pub problems: Vec<Problem>,
}

/// Reads iCalendar bytes (UTF-8, or Latin-1 when not UTF-8). Never fails.
pub fn parse(bytes: &[u8]) -> Calendar {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => std::borrow::Cow::Borrowed(t),
        Err(_) => std::borrow::Cow::Owned(bytes.iter().map(|&b| b as char).collect::<String>()),
    };
    let mut out = Calendar::default();
    let mut parser = Parser::new(&text);
    let mut found = false;
    loop {
        match parser.entry() {
            Entry::ICalendar(cal) => {
                found = true;
                read_calendar(&cal, &mut out);
            }
            Entry::Eof => break,
            Entry::VCard(_) => {}
            Entry::InvalidLine(line) => out.problems.push(Problem {
                uid: None,
                summary: None,
                what: format!("unreadable line skipped: {}", clip(&line, 80)),
            }),
            Entry::UnexpectedComponentEnd { expected, found } => out.problems.push(Problem {
                uid: None,
                summary: None,
                what: format!(
                    "END:{} where END:{} was expected",
                    found.as_str(),
                    expected.as_str()
                ),
            }),
            Entry::UnterminatedComponent(c) => out.problems.push(Problem {
                uid: None,
                summary: None,
                what: format!("BEGIN:{c} is never ended; the file is cut short"),
            }),
            Entry::TooManyComponents => {
                out.problems.push(Problem {
                    uid: None,
                    summary: None,
                    what: "too many components; the rest of the file was not read".into(),
                });
                break;
            }
            _ => break,
        }
    }
    if !found {
        out.problems.insert(
            0,
            Problem {
                uid: None,
                summary: None,
                what: "no BEGIN:VCALENDAR found: not an iCalendar file".into(),
            },
        );
    }
    out
}

fn clip(s: &str, n: usize) -> String {
    let mut t: String = s.chars().take(n).collect();
    if t.len() < s.len() {
        t.push('…');
    }
    t
}

fn text_of<'a>(comp: &'a ICalendarComponent, prop: &ICalendarProperty) -> Option<&'a str> {
    comp.property(prop)
        .and_then(|e| e.values.first())
        .and_then(|v| v.as_text())
}

fn read_calendar(cal: &ICalendar, out: &mut Calendar) {
    let zones = Zones::of(cal);
    let root = cal.components.first();
    let x_wr = |name: &str| {
        root.and_then(|r| text_of(r, &ICalendarProperty::Other(name.to_string())))
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    if out.name.is_none() {
        out.name = x_wr("X-WR-CALNAME").map(str::to_string);
    }
    // Google and others export UTC times with the calendar's zone beside
    // them; recurrence is meant on that zone's wall clock.
    let wr_zone: Option<Tz> = x_wr("X-WR-TIMEZONE").and_then(|z| z.parse().ok());
    for comp in &cal.components {
        if comp.component_type != ICalendarComponentType::VEvent {
            continue;
        }
        match read_event(comp, &zones, wr_zone) {
            Ok((ev, mut problems)) => {
                out.problems.append(&mut problems);
                out.events.push(ev);
            }
            Err(p) => out.problems.push(p),
        }
    }
}

struct Reader<'a> {
    zones: &'a Zones,
    wr_zone: Option<Tz>,
    problems: Vec<Problem>,
}

impl Reader<'_> {
    fn time(&mut self, p: &PartialDateTime, tzid: Option<&str>) -> Option<Time> {
        let dt = p.to_date_time()?;
        if p.hour.is_none() {
            return Some(Time::Date(dt.date_time.date()));
        }
        if let Some(off) = dt.offset {
            if off.local_minus_utc() == 0 {
                if let Some(z) = self.wr_zone {
                    let utc = dt.date_time.and_utc();
                    return Some(Time::Local(
                        utc.with_timezone(&z).naive_local(),
                        Zone::Iana(z),
                    ));
                }
                return Some(Time::Local(dt.date_time, Zone::Iana(chrono_tz::UTC)));
            }
            return Some(Time::Local(dt.date_time, Zone::Fixed(off)));
        }
        match tzid {
            None => Some(Time::Local(dt.date_time, Zone::Floating)),
            Some(name) => match self.zones.resolve(name) {
                Some(z) => Some(Time::Local(dt.date_time, z)),
                None => {
                    self.problems.push(Problem {
                        uid: None,
                        summary: None,
                        what: format!("unknown time zone \"{name}\"; its times are read in yours"),
                    });
                    Some(Time::Local(dt.date_time, Zone::Floating))
                }
            },
        }
    }
}

fn read_event(
    comp: &ICalendarComponent,
    zones: &Zones,
    wr_zone: Option<Tz>,
) -> Result<(Event, Vec<Problem>), Problem> {
    let uid = text_of(comp, &ICalendarProperty::Uid).map(str::to_string);
    let summary = text_of(comp, &ICalendarProperty::Summary).map(|s| s.trim().to_string());
    let problem = |what: &str| Problem {
        uid: uid.clone(),
        summary: summary.clone(),
        what: what.to_string(),
    };
    let mut r = Reader {
        zones,
        wr_zone,
        problems: Vec::new(),
    };
    let mut start = None;
    let mut end = None;
    let mut length = None;
    let mut rrules = Vec::new();
    let mut rdates = Vec::new();
    let mut exdates = Vec::new();
    let mut recurrence_id = None;
    let mut status = EventStatus::Confirmed;
    let mut busy = true;
    let mut bad_start = false;
    for e in &comp.entries {
        let tzid = e.tz_id();
        match (&e.name, e.values.first()) {
            (ICalendarProperty::Dtstart, Some(ICalendarValue::PartialDateTime(p))) => {
                start = r.time(p, tzid);
                bad_start = start.is_none();
            }
            (ICalendarProperty::Dtstart, _) => bad_start = true,
            (ICalendarProperty::Dtend, Some(ICalendarValue::PartialDateTime(p))) => {
                end = r.time(p, tzid);
            }
            (ICalendarProperty::Duration, Some(ICalendarValue::Duration(d))) => {
                length = Some(Length::of(d));
            }
            (ICalendarProperty::Rrule, Some(ICalendarValue::RecurrenceRule(rule))) => {
                rrules.push(rule.as_ref().clone());
            }
            (ICalendarProperty::Rrule, _) => {
                r.problems.push(problem(
                    "unreadable RRULE; only the first occurrence is shown",
                ));
            }
            (ICalendarProperty::Rdate, _) => {
                for v in &e.values {
                    match v {
                        ICalendarValue::PartialDateTime(p) => {
                            if let Some(t) = r.time(p, tzid) {
                                rdates.push(Rdate::Start(t));
                            }
                        }
                        ICalendarValue::Period(ICalendarPeriod::Range { start, end }) => {
                            if let (Some(s), Some(e)) = (r.time(start, tzid), r.time(end, tzid)) {
                                rdates.push(Rdate::Period(s, PeriodEnd::At(e)));
                            }
                        }
                        ICalendarValue::Period(ICalendarPeriod::Duration { start, duration }) => {
                            if let Some(s) = r.time(start, tzid) {
                                rdates
                                    .push(Rdate::Period(s, PeriodEnd::After(Length::of(duration))));
                            }
                        }
                        _ => {}
                    }
                }
            }
            (ICalendarProperty::Exdate, _) => {
                for v in &e.values {
                    if let ICalendarValue::PartialDateTime(p) = v
                        && let Some(t) = r.time(p, tzid)
                    {
                        exdates.push(t);
                    }
                }
            }
            (ICalendarProperty::RecurrenceId, Some(ICalendarValue::PartialDateTime(p))) => {
                let future = e
                    .parameters(&ICalendarParameterName::Range)
                    .next()
                    .is_some();
                recurrence_id = r.time(p, tzid).map(|t| (t, future));
            }
            (ICalendarProperty::Status, Some(ICalendarValue::Status(s))) => {
                status = match s {
                    ICalendarStatus::Cancelled => EventStatus::Cancelled,
                    ICalendarStatus::Tentative => EventStatus::Tentative,
                    _ => EventStatus::Confirmed,
                };
            }
            (
                ICalendarProperty::Transp,
                Some(ICalendarValue::Transparency(ICalendarTransparency::Transparent)),
            ) => busy = false,
            _ => {}
        }
    }
    let start_from_recurrence_id = start.is_none();
    let start = match (start, &recurrence_id) {
        (Some(s), _) => s,
        // An override may leave DTSTART out: it keeps its original start.
        (None, Some((rid, _))) if !bad_start => rid.clone(),
        (None, _) if bad_start => return Err(problem("unreadable DTSTART; event skipped")),
        (None, _) => return Err(problem("no DTSTART; event skipped")),
    };
    let uid = match uid.clone() {
        Some(u) if !u.trim().is_empty() => u,
        // Without a UID an event is still shown; it is named by its content.
        _ => format!(
            "no-uid:{}:{}",
            summary.clone().unwrap_or_default(),
            start.naive()
        ),
    };
    for p in &mut r.problems {
        p.uid.get_or_insert_with(|| uid.clone());
        if p.summary.is_none() {
            p.summary.clone_from(&summary);
        }
    }
    Ok((
        Event {
            uid,
            summary: summary.unwrap_or_default(),
            location: text_of(comp, &ICalendarProperty::Location)
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty()),
            status,
            busy,
            start,
            end,
            length,
            rrules,
            rdates,
            exdates,
            recurrence_id,
            start_from_recurrence_id,
        },
        r.problems,
    ))
}
