//! The owner's calendar as Z sees it: occurrences already expanded into
//! instants (or dates, for all-day events), the agenda of a span of days,
//! conflicts, free time, and what changed since an earlier look.
//!
//! **Invariant:** pure; parsing iCalendar, expanding recurrence and talking
//! to calendar servers live in the `openzero-calendar` adapter crate. Every
//! function takes the owner's zone and "now" as arguments.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// When an occurrence happens: at instants, or on whole days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum When {
    /// From `start` to `end` (UTC instants; `end >= start`).
    Timed {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
    /// Whole days from `start` up to, not including, `end` (dates in the
    /// owner's zone, as iCalendar's `VALUE=DATE` means them).
    AllDay { start: NaiveDate, end: NaiveDate },
}

impl When {
    /// The instants this covers in `tz` (an all-day event runs from the
    /// first day's midnight to the end day's midnight there).
    pub fn span(&self, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        match *self {
            When::Timed { start, end } => (start, end),
            When::AllDay { start, end } => (midnight(tz, start), midnight(tz, end)),
        }
    }

    pub fn is_all_day(&self) -> bool {
        matches!(self, When::AllDay { .. })
    }

    /// The time of day it starts at in `tz`, for ordering an agenda:
    /// all-day events come first.
    fn sort_key(&self, tz: Tz) -> (DateTime<Utc>, bool) {
        (self.span(tz).0, !self.is_all_day())
    }
}

/// The first instant of `day` in `tz` (the first valid local time when
/// midnight falls in a daylight-saving gap).
pub fn midnight(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    let mut t = day.and_time(NaiveTime::MIN);
    for _ in 0..48 {
        if let Some(dt) = tz.from_local_datetime(&t).earliest() {
            return dt.with_timezone(&Utc);
        }
        t += Duration::minutes(30);
    }
    // No zone has a 24-hour gap; a fixed reading keeps this total.
    Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN))
}

/// An event's status, as the calendar states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    #[default]
    Confirmed,
    Tentative,
    Cancelled,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Confirmed => "confirmed",
            EventStatus::Tentative => "tentative",
            EventStatus::Cancelled => "cancelled",
        }
    }
}

/// One occurrence of an event: a single event, or one instance of a series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occurrence {
    /// The calendar's name as the owner sees it.
    pub calendar: String,
    /// The calendar's stored id (0 when not from storage): what identifies
    /// it even when its shown name changes.
    #[serde(default)]
    pub calendar_id: i64,
    pub uid: String,
    /// The instance's original start in a series (its RECURRENCE-ID), so a
    /// moved instance is still recognised as the same one.
    pub instance: Option<When>,
    pub summary: String,
    pub location: Option<String>,
    pub when: When,
    pub status: EventStatus,
    /// Busy unless the event says it is transparent (free).
    pub busy: bool,
}

impl Occurrence {
    /// What identifies this occurrence across syncs: its calendar, UID and
    /// original start.
    pub fn key(&self) -> String {
        let instance = match self.instance {
            None => String::new(),
            Some(When::Timed { start, .. }) => start.format("%Y%m%dT%H%M%SZ").to_string(),
            Some(When::AllDay { start, .. }) => start.format("%Y%m%d").to_string(),
        };
        let cal = if self.calendar_id != 0 {
            self.calendar_id.to_string()
        } else {
            self.calendar.clone()
        };
        format!("{cal}\u{1f}{}\u{1f}{}", self.uid, instance)
    }

    pub fn overlaps(&self, tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        let (s, e) = self.when.span(tz);
        // A zero-length event at `from` is inside the span.
        s < to && (e > from || (s == e && s >= from))
    }
}

/// Orders occurrences as an agenda reads: by start, all-day first on a
/// day, then by summary.
pub fn sort_agenda(items: &mut [Occurrence], tz: Tz) {
    items.sort_by(|a, b| {
        a.when
            .sort_key(tz)
            .cmp(&b.when.sort_key(tz))
            .then_with(|| a.summary.cmp(&b.summary))
            .then_with(|| a.calendar.cmp(&b.calendar))
    });
}

/// How an occurrence is written for the owner: `09:00–10:00`, or
/// `all day`, in their zone.
pub fn time_label(when: &When, tz: Tz) -> String {
    match *when {
        When::Timed { start, end } => {
            let s = start.with_timezone(&tz);
            let e = end.with_timezone(&tz);
            if s == e {
                s.format("%H:%M").to_string()
            } else if s.date_naive() == e.date_naive() {
                format!("{}–{}", s.format("%H:%M"), e.format("%H:%M"))
            } else {
                format!("{}–{}", s.format("%H:%M"), e.format("%a %H:%M"))
            }
        }
        When::AllDay { start, end } => {
            if end <= start + Duration::days(1) {
                "all day".to_string()
            } else {
                format!(
                    "all day (to {})",
                    (end - Duration::days(1)).format("%a %-d %b")
                )
            }
        }
    }
}

/// Two occurrences that overlap in time, both busy and not cancelled.
/// All-day events never conflict (they mark a day, not the owner's time).
pub fn conflicts(items: &[Occurrence]) -> Vec<(usize, usize)> {
    let mut timed: Vec<(usize, DateTime<Utc>, DateTime<Utc>)> = items
        .iter()
        .enumerate()
        .filter(|(_, o)| o.busy && o.status != EventStatus::Cancelled)
        .filter_map(|(i, o)| match o.when {
            When::Timed { start, end } if end > start => Some((i, start, end)),
            _ => None,
        })
        .collect();
    timed.sort_by_key(|t| (t.1, t.2));
    let mut out = Vec::new();
    for (n, &(i, _, end)) in timed.iter().enumerate() {
        for &(j, start_j, _) in &timed[n + 1..] {
            if start_j >= end {
                break;
            }
            out.push((i.min(j), i.max(j)));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Free stretches of at least `min` between `from` and `to`, given the busy
/// occurrences (all-day and cancelled ones do not block time).
pub fn free_slots(
    items: &[Occurrence],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    min: Duration,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut busy: Vec<(DateTime<Utc>, DateTime<Utc>)> = items
        .iter()
        .filter(|o| o.busy && o.status != EventStatus::Cancelled)
        .filter_map(|o| match o.when {
            When::Timed { start, end } if end > from && start < to => Some((start, end)),
            _ => None,
        })
        .collect();
    busy.sort();
    let mut out = Vec::new();
    let mut cursor = from;
    for (s, e) in busy {
        if s > cursor && s - cursor >= min {
            out.push((cursor, s.min(to)));
        }
        cursor = cursor.max(e);
        if cursor >= to {
            break;
        }
    }
    if to > cursor && to - cursor >= min {
        out.push((cursor, to));
    }
    out
}

/// What happened to an occurrence between two looks at the calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    New(Occurrence),
    Moved { before: When, now: Occurrence },
    Cancelled(Occurrence),
}

/// Compares what a span looked like before with how it looks now, by
/// occurrence key: new, moved, cancelled (removed or marked cancelled). A
/// series moved as a whole (09:00 → 10:00) changes its instances' keys; a
/// gone and a new instance of the same event on the same day in `tz` are
/// one move.
pub fn changes(before: &[Occurrence], now: &[Occurrence], tz: Tz) -> Vec<Change> {
    use std::collections::HashMap;
    let old: HashMap<String, &Occurrence> = before.iter().map(|o| (o.key(), o)).collect();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let mut new = Vec::new();
    for o in now {
        let key = o.key();
        seen.insert(key.clone());
        match old.get(&key) {
            None if o.status != EventStatus::Cancelled => new.push(o),
            None => {}
            Some(prev) => {
                if o.status == EventStatus::Cancelled && prev.status != EventStatus::Cancelled {
                    out.push(Change::Cancelled(o.clone()));
                } else if o.status != EventStatus::Cancelled && prev.when != o.when {
                    out.push(Change::Moved {
                        before: prev.when,
                        now: o.clone(),
                    });
                }
            }
        }
    }
    let mut gone: Vec<&Occurrence> = before
        .iter()
        .filter(|o| o.status != EventStatus::Cancelled && !seen.contains(&o.key()))
        .collect();
    let day = |o: &Occurrence| o.when.span(tz).0.with_timezone(&tz).date_naive();
    for n in new {
        let same = gone.iter().position(|g| {
            g.uid == n.uid
                && g.calendar_id == n.calendar_id
                && g.calendar == n.calendar
                && day(g) == day(n)
        });
        match same {
            Some(i) => {
                let g = gone.remove(i);
                out.push(Change::Moved {
                    before: g.when,
                    now: n.clone(),
                });
            }
            None => out.push(Change::New(n.clone())),
        }
    }
    out.extend(gone.into_iter().map(|g| Change::Cancelled(g.clone())));
    out
}

/// A subscribed calendar whose times look stored in UTC although it is a
/// local calendar: most timed events sit on whole UTC hours that, in the
/// owner's zone, fall at odd times (before 7:00 or after 21:00) while the
/// same events read as UTC wall time land in working hours. Returns the
/// share of events that look shifted when it is most of them.
pub fn looks_shifted(starts: &[DateTime<Utc>], tz: Tz) -> Option<f64> {
    use chrono::Timelike;
    if starts.len() < 5 {
        return None;
    }
    let offset_hours = |t: &DateTime<Utc>| {
        let local = t.with_timezone(&tz);
        let off = local.naive_local() - t.naive_utc();
        off.num_minutes()
    };
    let mut shifted = 0usize;
    for t in starts {
        if offset_hours(t) == 0 {
            return None;
        }
        let local_hour = t.with_timezone(&tz).hour();
        let utc_hour = t.hour();
        let odd_local = !(7..21).contains(&local_hour);
        let plausible_utc = (8..19).contains(&utc_hour);
        if odd_local && plausible_utc {
            shifted += 1;
        }
    }
    let share = shifted as f64 / starts.len() as f64;
    (share >= 0.6).then_some(share)
}

/// The morning briefing's calendar lines: today's events in order (with
/// overlaps flagged), the first free hour between `day_start` and
/// `day_end` (local hours) after `now`, and what changed since the last
/// look (`changes`).
pub fn briefing_lines(
    today: &[Occurrence],
    changes: &[Change],
    tz: Tz,
    now: DateTime<Utc>,
    (day_start, day_end): (u32, u32),
) -> Vec<String> {
    let live: Vec<Occurrence> = today
        .iter()
        .filter(|o| o.status != EventStatus::Cancelled)
        .cloned()
        .collect();
    let overlaps = conflicts(&live);
    let mut lines = Vec::new();
    for (i, o) in live.iter().enumerate() {
        let mut line = format!("{} {}", time_label(&o.when, tz), o.summary);
        if let Some(l) = &o.location {
            line.push_str(&format!(" @ {l}"));
        }
        line.push_str(&format!(" ({})", o.calendar));
        if o.status == EventStatus::Tentative {
            line.push_str(" (tentative)");
        }
        let clash: Vec<&str> = overlaps
            .iter()
            .filter_map(|&(a, b)| {
                if a == i {
                    Some(live[b].summary.as_str())
                } else if b == i {
                    Some(live[a].summary.as_str())
                } else {
                    None
                }
            })
            .collect();
        if !clash.is_empty() {
            line.push_str(&format!(" ⚠ overlaps {}", clash.join(", ")));
        }
        lines.push(line);
    }
    let local_now = now.with_timezone(&tz);
    let day = local_now.date_naive();
    let at = |h: u32| {
        day.and_hms_opt(h.min(23), 0, 0)
            .and_then(|t| tz.from_local_datetime(&t).earliest())
            .map(|t| t.with_timezone(&Utc))
    };
    if let (Some(s), Some(e)) = (at(day_start), at(day_end)) {
        let from = s.max(now);
        if let Some((fs, fe)) = free_slots(&live, from, e, Duration::hours(1)).first() {
            let label = |t: &DateTime<Utc>| t.with_timezone(&tz).format("%H:%M").to_string();
            if !live.iter().any(|o| !o.when.is_all_day()) {
                lines.push("No timed events: the day is free.".to_string());
            } else {
                lines.push(format!(
                    "First free hour: {} (free until {})",
                    label(fs),
                    label(fe)
                ));
            }
        }
    }
    for c in changes {
        lines.push(match c {
            Change::New(o) => format!("New: {} {}", time_label(&o.when, tz), o.summary),
            Change::Moved { before, now } if before.span(tz).0 == now.when.span(tz).0 => {
                let end = |w: &When| w.span(tz).1.with_timezone(&tz).format("%H:%M").to_string();
                format!(
                    "Changed: {} now ends {} (was {})",
                    now.summary,
                    end(&now.when),
                    end(before)
                )
            }
            Change::Moved { before, now } => format!(
                "Moved: {}, now {} (was {})",
                now.summary,
                when_label(&now.when, tz),
                when_label(before, tz)
            ),
            Change::Cancelled(o) => format!("Cancelled: {} {}", time_label(&o.when, tz), o.summary),
        });
    }
    lines
}

/// A day and time: `Tue 14:00`, or the date for all-day events.
fn when_label(w: &When, tz: Tz) -> String {
    match w {
        When::Timed { start, .. } => start.with_timezone(&tz).format("%a %H:%M").to_string(),
        When::AllDay { start, .. } => start.format("%a %-d %b").to_string(),
    }
}

/// The weekly review's look at the coming days: one line per day with its
/// events (cancelled left out), and how many overlaps the week holds.
pub fn week_lines(items: &[Occurrence], tz: Tz, first: NaiveDate, days: u32) -> Vec<String> {
    let live: Vec<Occurrence> = items
        .iter()
        .filter(|o| o.status != EventStatus::Cancelled)
        .cloned()
        .collect();
    let mut lines = Vec::new();
    for n in 0..days {
        let d = first + Duration::days(i64::from(n));
        let (s, e) = (midnight(tz, d), midnight(tz, d + Duration::days(1)));
        let todays: Vec<String> = live
            .iter()
            .filter(|o| o.overlaps(tz, s, e))
            .map(|o| match o.when {
                When::AllDay { .. } => o.summary.clone(),
                When::Timed { start, .. } => {
                    let st = start.with_timezone(&tz);
                    if st.date_naive() == d {
                        format!("{} {}", st.format("%H:%M"), o.summary)
                    } else {
                        format!("(continues) {}", o.summary)
                    }
                }
            })
            .collect();
        if !todays.is_empty() {
            lines.push(format!("{}: {}", d.format("%a %-d %b"), todays.join("; ")));
        }
    }
    let n = conflicts(&live).len();
    if n > 0 {
        lines.push(format!(
            "{n} overlap{} to sort out",
            if n == 1 { "" } else { "s" }
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> Tz {
        "Europe/Berlin".parse().expect("zone")
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn occ(uid: &str, start: &str, end: &str) -> Occurrence {
        Occurrence {
            calendar: "work".into(),
            calendar_id: 0,
            uid: uid.into(),
            instance: None,
            summary: uid.into(),
            location: None,
            when: When::Timed {
                start: at(start),
                end: at(end),
            },
            status: EventStatus::Confirmed,
            busy: true,
        }
    }

    #[test]
    fn all_day_spans_local_midnights_across_a_dst_change() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 29).expect("date");
        let w = When::AllDay {
            start: day,
            end: day + Duration::days(1),
        };
        let (s, e) = w.span(berlin());
        assert_eq!(s, at("2026-03-28T23:00:00Z"));
        // The day of the spring change is 23 hours long.
        assert_eq!(e - s, Duration::hours(23));
    }

    #[test]
    fn midnight_in_a_gap_is_the_first_valid_time() {
        // Santiago skips 00:00-01:00 on its spring change.
        let tz: Tz = "America/Santiago".parse().expect("zone");
        let day = NaiveDate::from_ymd_opt(2026, 9, 6).expect("date");
        let m = midnight(tz, day).with_timezone(&tz);
        assert_eq!(m.date_naive(), day);
        assert_eq!(m.format("%H:%M").to_string(), "01:00");
    }

    #[test]
    fn conflicts_are_overlaps_of_busy_timed_events_only() {
        let mut free = occ("free", "2026-11-30T09:30:00Z", "2026-11-30T10:30:00Z");
        free.busy = false;
        let items = vec![
            occ("a", "2026-11-30T09:00:00Z", "2026-11-30T10:00:00Z"),
            occ("b", "2026-11-30T09:30:00Z", "2026-11-30T11:00:00Z"),
            occ("c", "2026-11-30T11:00:00Z", "2026-11-30T12:00:00Z"),
            free,
        ];
        assert_eq!(conflicts(&items), vec![(0, 1)]);
    }

    #[test]
    fn free_slots_fill_the_gaps() {
        let items = vec![
            occ("a", "2026-11-30T09:00:00Z", "2026-11-30T10:00:00Z"),
            occ("b", "2026-11-30T09:30:00Z", "2026-11-30T11:00:00Z"),
            occ("c", "2026-11-30T11:30:00Z", "2026-11-30T12:00:00Z"),
        ];
        let slots = free_slots(
            &items,
            at("2026-11-30T08:00:00Z"),
            at("2026-11-30T13:00:00Z"),
            Duration::minutes(30),
        );
        assert_eq!(
            slots,
            vec![
                (at("2026-11-30T08:00:00Z"), at("2026-11-30T09:00:00Z")),
                (at("2026-11-30T11:00:00Z"), at("2026-11-30T11:30:00Z")),
                (at("2026-11-30T12:00:00Z"), at("2026-11-30T13:00:00Z")),
            ]
        );
    }

    #[test]
    fn changes_name_new_moved_and_cancelled() {
        let before = vec![
            occ("weekly", "2026-11-30T09:00:00Z", "2026-11-30T10:00:00Z"),
            occ("gone", "2026-11-30T12:00:00Z", "2026-11-30T13:00:00Z"),
            occ("same", "2026-11-30T14:00:00Z", "2026-11-30T15:00:00Z"),
        ];
        let mut now = vec![
            occ("weekly", "2026-11-30T10:00:00Z", "2026-11-30T11:00:00Z"),
            occ("same", "2026-11-30T14:00:00Z", "2026-11-30T15:00:00Z"),
            occ("fresh", "2026-11-30T16:00:00Z", "2026-11-30T17:00:00Z"),
        ];
        now[1].status = EventStatus::Confirmed;
        let c = changes(&before, &now, berlin());
        assert_eq!(c.len(), 3, "{c:?}");
        assert!(matches!(&c[0], Change::Moved { now, .. } if now.uid == "weekly"));
        assert!(matches!(&c[1], Change::New(o) if o.uid == "fresh"));
        assert!(matches!(&c[2], Change::Cancelled(o) if o.uid == "gone"));
    }

    #[test]
    fn a_calendar_stored_in_utc_looks_shifted_in_los_angeles() {
        let tz: Tz = "America/Los_Angeles".parse().expect("zone");
        // Working-day meetings at 9-17 "UTC wall time": 01:00-09:00 in LA.
        let starts: Vec<_> = (0..8)
            .map(|d| at(&format!("2026-11-{:02}T09:00:00Z", d + 2)))
            .collect();
        assert!(looks_shifted(&starts, tz).is_some());
        let local: Vec<_> = (0..8)
            .map(|d| at(&format!("2026-11-{:02}T17:00:00Z", d + 2)))
            .collect();
        assert_eq!(looks_shifted(&local, tz), None);
    }

    #[test]
    fn labels_read_in_the_owner_zone() {
        let o = occ("a", "2026-07-01T07:00:00Z", "2026-07-01T08:30:00Z");
        assert_eq!(time_label(&o.when, berlin()), "09:00–10:30");
    }

    #[test]
    fn the_briefing_lists_the_day_flags_overlaps_and_names_changes() {
        let tz = berlin();
        let mut lunch = occ("lunch", "2026-11-30T11:00:00Z", "2026-11-30T12:00:00Z");
        lunch.summary = "Lunch".into();
        let mut review = occ("review", "2026-11-30T11:30:00Z", "2026-11-30T12:30:00Z");
        review.summary = "Review".into();
        let mut sync = occ("sync", "2026-11-30T08:00:00Z", "2026-11-30T09:00:00Z");
        sync.summary = "Weekly sync".into();
        let before = sync.clone();
        let mut moved = sync.clone();
        moved.when = When::Timed {
            start: at("2026-11-30T13:00:00Z"),
            end: at("2026-11-30T14:00:00Z"),
        };
        let mut today = vec![moved.clone(), lunch, review];
        sort_agenda(&mut today, tz);
        let ch = changes(&[before], &[moved], tz);
        let lines = briefing_lines(&today, &ch, tz, at("2026-11-30T06:30:00Z"), (8, 20));
        assert_eq!(
            lines,
            vec![
                "12:00–13:00 Lunch (work) ⚠ overlaps Review",
                "12:30–13:30 Review (work) ⚠ overlaps Lunch",
                "14:00–15:00 Weekly sync (work)",
                "First free hour: 08:00 (free until 12:00)",
                "Moved: Weekly sync, now Mon 14:00 (was Mon 09:00)",
            ]
        );
    }

    #[test]
    fn the_week_reads_one_line_per_busy_day() {
        let tz = berlin();
        let items = vec![
            occ("a", "2026-11-30T08:00:00Z", "2026-11-30T09:00:00Z"),
            occ("b", "2026-12-02T17:00:00Z", "2026-12-02T18:00:00Z"),
        ];
        let lines = week_lines(
            &items,
            tz,
            NaiveDate::from_ymd_opt(2026, 11, 30).expect("d"),
            7,
        );
        assert_eq!(lines, vec!["Mon 30 Nov: 09:00 a", "Wed 2 Dec: 18:00 b"]);
    }

    #[test]
    fn a_series_moved_an_hour_reads_as_moves_not_new_and_cancelled() {
        let tz = berlin();
        let mut before = occ("s", "2026-11-30T08:00:00Z", "2026-11-30T09:00:00Z");
        before.instance = Some(before.when);
        let mut now = occ("s", "2026-11-30T09:00:00Z", "2026-11-30T10:00:00Z");
        now.instance = Some(now.when);
        let c = changes(&[before], &[now], tz);
        assert_eq!(c.len(), 1, "{c:?}");
        assert!(matches!(&c[0], Change::Moved { .. }));
        let lines = briefing_lines(&[], &c, tz, at("2026-11-30T06:00:00Z"), (8, 20));
        assert!(
            lines
                .iter()
                .any(|l| l == "Moved: s, now Mon 10:00 (was Mon 09:00)"),
            "{lines:?}"
        );
    }

    #[test]
    fn a_renamed_calendar_does_not_change_its_events() {
        let mut a = occ("x", "2026-11-30T08:00:00Z", "2026-11-30T09:00:00Z");
        a.calendar_id = 7;
        let mut b = a.clone();
        b.calendar = "fastmail/work".into();
        assert!(changes(&[a], &[b], berlin()).is_empty());
    }
}
