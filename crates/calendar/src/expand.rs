//! Events → occurrences in a window, in the owner's zone.
//!
//! A series is the master's DTSTART (always its first instance, RFC 5545
//! §3.8.5.3), its RRULE and RDATEs, less its EXDATEs; an override with a
//! RECURRENCE-ID replaces the instance it names (and with
//! `RANGE=THISANDFUTURE` shifts every later one); a cancelled instance
//! stays in the result marked cancelled so callers can say what changed.
//! Only the window is expanded: the iteration stops past its end.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use openzero_core::calendar::{EventStatus, Occurrence, When};

use crate::ics::{Event, Length, PeriodEnd, Problem, Rdate, Time};
use crate::rule;
use crate::zone::Zone;

/// At most this many instances of one series are looked at per expansion:
/// a rule every second of a year is not a calendar.
const MAX_STEPS: usize = 500_000;

/// Occurrences of `events` overlapping `[from, to)`, and what could not be
/// expanded. `calendar` names the calendar on each occurrence.
pub fn expand(
    events: &[Event],
    calendar: &str,
    owner: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> (Vec<Occurrence>, Vec<Problem>) {
    let mut x = Expander {
        calendar,
        owner,
        from,
        to,
        out: Vec::new(),
        problems: Vec::new(),
    };
    let mut overrides: HashMap<&str, Vec<&Event>> = HashMap::new();
    let mut masters: Vec<&Event> = Vec::new();
    for ev in events {
        if ev.recurrence_id.is_some() {
            overrides.entry(ev.uid.as_str()).or_default().push(ev);
        } else {
            masters.push(ev);
        }
    }
    // The same event twice (a feed that repeats itself) is shown once.
    let mut seen = HashSet::new();
    // (Only with a real UID: two UID-less events are two events.)
    masters.retain(|m| {
        m.uid.starts_with("no-uid:")
            || seen.insert((
                m.uid.as_str(),
                m.start.naive(),
                m.summary.as_str(),
                m.end.as_ref().map(Time::naive),
                format!("{:?}{:?}", m.rrules, m.exdates),
            ))
    });
    let mut with_master = HashSet::new();
    for m in masters {
        let ovs = overrides
            .get(m.uid.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if !m.rrules.is_empty() || !m.rdates.is_empty() {
            with_master.insert(m.uid.as_str());
            x.series(m, ovs);
        } else {
            x.single(m, None);
        }
    }
    // Overrides whose series is not here (an invitation to one instance).
    for (uid, ovs) in &overrides {
        if !with_master.contains(uid) {
            for ov in ovs {
                if ov.start_from_recurrence_id {
                    x.problem(ov, "changes an instance of a series that is not here and has no DTSTART; skipped");
                    continue;
                }
                let rid = ov
                    .recurrence_id
                    .as_ref()
                    .and_then(|(t, _)| x.when_of(t, Length::ZERO));
                x.single(ov, rid);
            }
        }
    }
    (x.out, x.problems)
}

impl Length {
    const ZERO: Length = Length {
        days: 0,
        seconds: 0,
    };
}

struct Expander<'a> {
    calendar: &'a str,
    owner: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    out: Vec<Occurrence>,
    problems: Vec<Problem>,
}

/// Identifies an instance of a series: its original start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum InstanceKey {
    At(DateTime<Utc>),
    Day(NaiveDate),
}

impl Expander<'_> {
    fn problem(&mut self, ev: &Event, what: &str) {
        self.problems.push(Problem {
            uid: Some(ev.uid.clone()),
            summary: Some(ev.summary.clone()).filter(|s| !s.is_empty()),
            what: what.to_string(),
        });
    }

    fn zone_of<'t>(&self, t: &'t Time) -> Option<&'t Zone> {
        match t {
            Time::Date(_) => None,
            Time::Local(_, z) => Some(z),
        }
    }

    fn utc(&self, local: NaiveDateTime, zone: &Zone) -> DateTime<Utc> {
        zone.to_utc(local, self.owner)
    }

    /// The occurrence span for a start given as written and a length;
    /// `None` when it runs past the end of representable time.
    fn when_of(&self, start: &Time, len: Length) -> Option<When> {
        match start {
            Time::Date(d) => {
                let days = len.days.max(0) + len.seconds.max(0) / 86_400;
                Some(When::AllDay {
                    start: *d,
                    end: d.checked_add_signed(Duration::try_days(days)?)?,
                })
            }
            Time::Local(n, z) => {
                let s = self.utc(*n, z);
                // Days are nominal (same wall time), seconds exact.
                let e_local = n.checked_add_signed(Duration::try_days(len.days)?)?;
                let e = self
                    .utc(e_local, z)
                    .checked_add_signed(Duration::try_seconds(len.seconds)?)?;
                Some(When::Timed { start: s, end: e })
            }
        }
    }

    fn key_of(&self, t: &Time) -> InstanceKey {
        match t {
            Time::Date(d) => InstanceKey::Day(*d),
            Time::Local(n, z) => InstanceKey::At(self.utc(*n, z)),
        }
    }

    /// How long `ev` lasts, or `None` (reported) when it ends before it starts.
    fn length(&mut self, ev: &Event) -> Option<Length> {
        let len = match (&ev.end, ev.length) {
            (Some(end), _) => match (&ev.start, end) {
                (Time::Date(s), Time::Date(e)) => Length {
                    days: (*e - *s).num_days(),
                    seconds: 0,
                },
                (Time::Date(s), Time::Local(e, _)) => Length {
                    days: (e.date() - *s).num_days(),
                    seconds: 0,
                },
                // RFC 5545 §3.8.5.3: a series given with DTEND repeats its
                // exact length (an overnight event across a change keeps its hours).
                (Time::Local(s, zs), Time::Local(e, ze)) => Length {
                    days: 0,
                    seconds: (self.utc(*e, ze) - self.utc(*s, zs)).num_seconds(),
                },
                (Time::Local(s, _), Time::Date(e)) => Length {
                    days: 0,
                    seconds: (e.and_time(chrono::NaiveTime::MIN) - *s).num_seconds(),
                },
            },
            (None, Some(l)) => l,
            (None, None) => match ev.start {
                Time::Date(_) => Length {
                    days: 1,
                    seconds: 0,
                },
                Time::Local(..) => Length::ZERO,
            },
        };
        // A century bounds every sum below; no calendar event is longer.
        const CENTURY_DAYS: i64 = 36_525;
        if len.days.abs() > CENTURY_DAYS || len.seconds.abs() > CENTURY_DAYS * 86_400 {
            self.problem(ev, "lasts longer than a century; event skipped");
            return None;
        }
        if len.as_duration() < Duration::zero() {
            self.problem(ev, "ends before it starts; event skipped");
            return None;
        }
        Some(len)
    }

    fn push(&mut self, ev: &Event, when: When, instance: Option<When>, status: EventStatus) {
        let o = Occurrence {
            calendar: self.calendar.to_string(),
            calendar_id: 0,
            uid: ev.uid.clone(),
            instance,
            summary: ev.summary.clone(),
            location: ev.location.clone(),
            when,
            status,
            busy: ev.busy,
        };
        if o.overlaps(self.owner, self.from, self.to) {
            self.out.push(o);
        }
    }

    fn single(&mut self, ev: &Event, instance: Option<When>) {
        let Some(len) = self.length(ev) else { return };
        match self.when_of(&ev.start, len) {
            Some(when) => self.push(ev, when, instance, ev.status),
            None => self.problem(ev, "outside the calendar's range of dates; event skipped"),
        }
    }

    fn series(&mut self, m: &Event, overrides: &[&Event]) {
        let Some(len) = self.length(m) else { return };
        let start_local = m.start.naive();
        let zone = self.zone_of(&m.start).cloned();
        let all_day = matches!(m.start, Time::Date(_));

        // Overrides, by the instance they replace.
        let mut by_key: HashMap<InstanceKey, &Event> = HashMap::new();
        let mut future: Vec<(NaiveDateTime, &Event)> = Vec::new();
        for ov in overrides {
            let Some((rid, this_and_future)) = &ov.recurrence_id else {
                continue;
            };
            let key = self.key_of(rid);
            by_key.insert(key, ov);
            if *this_and_future {
                future.push((rid.naive(), ov));
            }
        }
        future.sort_by_key(|(t, _)| *t);
        let exdates: HashSet<InstanceKey> = m.exdates.iter().map(|t| self.key_of(t)).collect();
        let exdays: HashSet<NaiveDate> = m
            .exdates
            .iter()
            .filter_map(|t| match t {
                Time::Date(d) => Some(*d),
                _ => None,
            })
            .collect();

        // The window on the series' wall clock, with a margin for zone
        // offsets, the event's own length and any THISANDFUTURE shift.
        let shift_margin = future
            .iter()
            .map(|(rid, ov)| (ov.start.naive() - *rid).num_seconds().abs())
            .max()
            .unwrap_or(0);
        let margin = Duration::days(2) + Duration::seconds(shift_margin);
        // Periods and overrides may outlast the master: the longest counts.
        let longest = m
            .rdates
            .iter()
            .filter_map(|r| match r {
                Rdate::Period(_, PeriodEnd::After(l)) => Some(l.as_duration()),
                Rdate::Period(s, PeriodEnd::At(e)) => Some(e.naive() - s.naive()),
                Rdate::Start(_) => None,
            })
            .chain(
                overrides
                    .iter()
                    .filter_map(|o| o.end.as_ref().map(|e| e.naive() - o.start.naive())),
            )
            .chain(
                overrides
                    .iter()
                    .filter_map(|o| o.length.map(|l| l.as_duration())),
            )
            .fold(len.as_duration(), |a, b| {
                a.max(b.min(Duration::days(36_525)))
            });
        let (Some(lo), Some(hi)) = (
            self.from
                .naive_utc()
                .checked_sub_signed(longest)
                .and_then(|t| t.checked_sub_signed(margin)),
            self.to.naive_utc().checked_add_signed(margin),
        ) else {
            return;
        };

        // Every instance start: DTSTART, the rule's, the RDATEs.
        let mut starts: Vec<(NaiveDateTime, Option<PeriodEnd>, Option<&Zone>)> = Vec::new();
        if start_local >= lo && start_local <= hi {
            starts.push((start_local, None, None));
        }
        for r in &m.rrules {
            let until = rule::until_local(r, |utc| match &zone {
                Some(z) => z.to_local(utc.and_utc(), self.owner),
                // An all-day series ending at a UTC instant: the owner's day.
                None => Zone::Floating.to_local(utc.and_utc(), self.owner),
            });
            match until {
                Some(u) if u < start_local => {}
                _ => match rule::build(r, start_local, until) {
                    Ok(set) => {
                        let mut steps = 0usize;
                        for t in &set {
                            let t = t.naive_utc();
                            if t > hi {
                                break;
                            }
                            steps += 1;
                            if steps > MAX_STEPS {
                                self.problem(m, "repeats too often; later instances not shown");
                                break;
                            }
                            if t >= lo && t != start_local {
                                starts.push((t, None, None));
                            }
                        }
                    }
                    Err(e) => self.problem(
                        m,
                        &format!("unusable RRULE ({e}); only its first occurrence is shown"),
                    ),
                },
            }
        }
        for rd in &m.rdates {
            let (t, end) = match rd {
                Rdate::Start(t) => (t, None),
                Rdate::Period(t, e) => (t, Some(e.clone())),
            };
            let (local, z) = match t {
                Time::Date(d) => (d.and_time(chrono::NaiveTime::MIN), None),
                Time::Local(n, z) => (*n, Some(z)),
            };
            if local >= lo && local <= hi {
                starts.push((local, end, z));
            }
        }
        starts.sort_by_key(|s| s.0);
        starts.dedup_by_key(|s| s.0);

        let mut used = HashSet::new();
        for (local, period_end, rd_zone) in starts {
            let t = match (all_day, rd_zone.or(zone.as_ref())) {
                (true, _) | (_, None) => Time::Date(local.date()),
                (false, Some(z)) => Time::Local(local, z.clone()),
            };
            let key = self.key_of(&t);
            if exdates.contains(&key) || exdays.contains(&local.date()) {
                continue;
            }
            let Some(original) = self.when_of(&t, len) else {
                continue;
            };
            // An override may be written as a date for a timed series.
            let day = InstanceKey::Day(local.date());
            let matched = [key, day].into_iter().find(|k| by_key.contains_key(k));
            if let Some(k) = matched
                && let Some(ov) = by_key.get(&k).copied()
            {
                used.insert(k);
                if let Some(olen) = self.override_length(ov, len)
                    && let Some(when) = self.when_of(&ov.start, olen)
                {
                    self.push(ov, when, Some(original), ov.status);
                }
                continue;
            }
            // The last THISANDFUTURE override before this instance rules it.
            let ruling = future
                .iter()
                .rev()
                .find(|(rid, _)| *rid < local)
                .map(|(rid, ov)| (*rid, *ov));
            match ruling {
                Some((rid, ov)) => {
                    let shift = ov.start.naive() - rid;
                    let olen = self.override_length(ov, len).unwrap_or(len);
                    let shifted = match &t {
                        Time::Date(d) => Time::Date(*d + Duration::days(shift.num_days())),
                        Time::Local(n, z) => Time::Local(*n + shift, z.clone()),
                    };
                    if let Some(when) = self.when_of(&shifted, olen) {
                        self.push(ov, when, Some(original), ov.status);
                    }
                }
                None => {
                    let when = match period_end {
                        None => original,
                        Some(PeriodEnd::After(l)) => self.when_of(&t, l).unwrap_or(original),
                        Some(PeriodEnd::At(e)) => match (&t, &e) {
                            (Time::Local(..), Time::Local(en, ez)) => When::Timed {
                                start: original.span(self.owner).0,
                                end: self.utc(*en, ez),
                            },
                            _ => original,
                        },
                    };
                    self.push(m, when, Some(original), m.status);
                }
            }
        }
        // Overrides of instances outside the window (moved into it, perhaps)
        // or of no generated instance at all: shown at their own time.
        for (k, ov) in by_key {
            if used.contains(&k) {
                continue;
            }
            let Some((rid, _)) = &ov.recurrence_id else {
                continue;
            };
            let original = self.when_of(rid, len);
            if let Some(olen) = self.override_length(ov, len)
                && let Some(when) = self.when_of(&ov.start, olen)
            {
                self.push(ov, when, original, ov.status);
            }
        }
    }

    /// An override that gives no end keeps the length of its series.
    fn override_length(&mut self, ov: &Event, series: Length) -> Option<Length> {
        if ov.end.is_none() && ov.length.is_none() {
            return Some(series);
        }
        self.length(ov)
    }
}
