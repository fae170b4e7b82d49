//! Time zones as iCalendar names them, and local wall-clock times turned
//! into instants the way RFC 5545 §3.3.5 says: a time in a daylight-saving
//! gap is read with the offset from before the gap, a time in an overlap is
//! the first of the two.
//!
//! A `TZID` is resolved by name first (IANA names, the Windows names Outlook
//! sends, "(GMT+01.00) Amsterdam"-style labels and Olson paths, through
//! calcard's table), then by the calendar's own `VTIMEZONE` rules when the
//! name means nothing, and last in the owner's zone (reported).

use std::sync::Arc;

use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarProperty, ICalendarValue,
};
use chrono::{DateTime, Duration, FixedOffset, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use crate::rule;

/// A zone an iCalendar time is written in.
#[derive(Debug, Clone)]
pub enum Zone {
    /// No zone: the owner's wall clock.
    Floating,
    Fixed(FixedOffset),
    Iana(Tz),
    /// A `VTIMEZONE` whose name no table knows, read from its own rules.
    Custom(Arc<CustomZone>),
}

impl Zone {
    /// The instant a wall-clock time in this zone means.
    pub fn to_utc(&self, local: NaiveDateTime, owner: Tz) -> DateTime<Utc> {
        match self {
            Zone::Floating => iana_to_utc(owner, local),
            Zone::Fixed(off) => {
                Utc.from_utc_datetime(&(local - Duration::seconds(off.local_minus_utc().into())))
            }
            Zone::Iana(tz) => iana_to_utc(*tz, local),
            Zone::Custom(z) => z.to_utc(local),
        }
    }

    /// The wall-clock time an instant shows in this zone.
    pub fn to_local(&self, t: DateTime<Utc>, owner: Tz) -> NaiveDateTime {
        match self {
            Zone::Floating => t.with_timezone(&owner).naive_local(),
            Zone::Fixed(off) => t.with_timezone(off).naive_local(),
            Zone::Iana(tz) => t.with_timezone(tz).naive_local(),
            Zone::Custom(z) => t.naive_utc() + Duration::seconds(z.offset_at(t.timestamp()).into()),
        }
    }
}

fn iana_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    if let Some(t) = tz.from_local_datetime(&local).earliest() {
        return t.with_timezone(&Utc);
    }
    // In a gap: the offset in force before it.
    let before = tz
        .offset_from_utc_datetime(&(local - Duration::days(1)))
        .fix();
    Utc.from_utc_datetime(&(local - Duration::seconds(before.local_minus_utc().into())))
}

/// A zone defined only by a `VTIMEZONE`'s observances: the instants where
/// the offset changes, worked out once.
#[derive(Debug)]
pub struct CustomZone {
    /// (UTC seconds, offset in seconds from then on), sorted.
    transitions: Vec<(i64, i32)>,
    initial: i32,
}

impl CustomZone {
    fn offset_at(&self, utc_secs: i64) -> i32 {
        match self.transitions.partition_point(|(t, _)| *t <= utc_secs) {
            0 => self.initial,
            n => self.transitions[n - 1].1,
        }
    }

    fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        let l = local.and_utc().timestamp();
        let before = self.offset_at(l - 86_400);
        let after = self.offset_at(l + 86_400);
        let mut valid: Vec<i64> = [before, after]
            .into_iter()
            .map(|o| l - i64::from(o))
            .filter(|&u| i64::from(self.offset_at(u)) == l - u)
            .collect();
        valid.sort_unstable();
        let secs = valid.first().copied().unwrap_or(l - i64::from(before));
        DateTime::from_timestamp(secs, 0).unwrap_or_else(|| local.and_utc())
    }

    /// Reads a `VTIMEZONE`'s STANDARD and DAYLIGHT parts; `None` when it has
    /// none that can be read.
    pub fn from_vtimezone(cal: &ICalendar, tz: &ICalendarComponent) -> Option<CustomZone> {
        let mut transitions = Vec::new();
        let mut earliest: Option<(i64, i32)> = None;
        for &id in &tz.component_ids {
            let Some(part) = cal.components.get(id as usize) else {
                continue;
            };
            if !matches!(
                part.component_type,
                ICalendarComponentType::Standard | ICalendarComponentType::Daylight
            ) {
                continue;
            }
            let mut start = None;
            let mut from = None;
            let mut to = None;
            let mut rrule = None;
            let mut rdates = Vec::new();
            for e in &part.entries {
                match (&e.name, e.values.first()) {
                    (ICalendarProperty::Dtstart, Some(ICalendarValue::PartialDateTime(p))) => {
                        start = p.to_date_time().map(|d| d.date_time);
                    }
                    (ICalendarProperty::Tzoffsetfrom, Some(v)) => from = utc_offset(v),
                    (ICalendarProperty::Tzoffsetto, Some(v)) => to = utc_offset(v),
                    (ICalendarProperty::Rrule, Some(ICalendarValue::RecurrenceRule(r))) => {
                        rrule = Some(r.as_ref().clone());
                    }
                    (ICalendarProperty::Rdate, _) => {
                        for v in &e.values {
                            if let ICalendarValue::PartialDateTime(p) = v
                                && let Some(d) = p.to_date_time()
                            {
                                rdates.push(d.date_time);
                            }
                        }
                    }
                    _ => {}
                }
            }
            let (Some(start), Some(to)) = (start, to) else {
                continue;
            };
            let from = from.unwrap_or(to);
            let mut onsets = vec![start];
            onsets.extend(rdates);
            if let Some(r) = &rrule {
                // UNTIL in a VTIMEZONE is UTC; turn it into this part's wall clock.
                let until = rule::until_local(r, |utc| utc + Duration::seconds(from.into()));
                if let Ok(set) = rule::build(r, start, until) {
                    let end = start + Duration::days(366 * 200);
                    onsets.extend(
                        set.into_iter()
                            .map(|d| d.naive_utc())
                            .take_while(|d| *d < end)
                            .take(2_000),
                    );
                }
            }
            for onset in onsets {
                let utc = onset.and_utc().timestamp() - i64::from(from);
                transitions.push((utc, to));
                if earliest.is_none_or(|(t, _)| utc < t) {
                    earliest = Some((utc, from));
                }
            }
        }
        let (_, initial) = earliest?;
        transitions.sort_unstable();
        transitions.dedup();
        Some(CustomZone {
            transitions,
            initial,
        })
    }
}

fn utc_offset(v: &ICalendarValue) -> Option<i32> {
    match v {
        ICalendarValue::PartialDateTime(p) => {
            let secs = i32::from(p.tz_hour?) * 3600 + i32::from(p.tz_minute.unwrap_or(0)) * 60;
            Some(if p.tz_minus { -secs } else { secs })
        }
        ICalendarValue::Text(t) => parse_offset(t),
        _ => None,
    }
}

/// `+0100`, `-0530`, `+013000`.
fn parse_offset(t: &str) -> Option<i32> {
    let t = t.trim();
    let (sign, digits) = match t.as_bytes().first()? {
        b'+' => (1, &t[1..]),
        b'-' => (-1, &t[1..]),
        _ => (1, t),
    };
    if !(digits.len() == 4 || digits.len() == 6) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = digits[0..2].parse().ok()?;
    let m: i32 = digits[2..4].parse().ok()?;
    let s: i32 = if digits.len() == 6 {
        digits[4..6].parse().ok()?
    } else {
        0
    };
    Some(sign * (h * 3600 + m * 60 + s))
}

/// The zones a calendar names: every `VTIMEZONE` by its `TZID`.
#[derive(Debug, Default)]
pub struct Zones {
    by_name: std::collections::HashMap<String, Zone>,
}

impl Zones {
    pub fn of(cal: &ICalendar) -> Zones {
        let mut by_name = std::collections::HashMap::new();
        for comp in &cal.components {
            if comp.component_type != ICalendarComponentType::VTimezone {
                continue;
            }
            let Some(name) = comp
                .property(&ICalendarProperty::Tzid)
                .and_then(|e| e.values.first())
                .and_then(|v| v.as_text())
            else {
                continue;
            };
            // A known name wins (CalConnect's advice: embedded rules are often
            // stale); X-LIC-LOCATION and Microsoft's CDO ids come next.
            let zone = match comp.timezone().map(|(_, tz)| tz) {
                Some(calcard::common::timezone::Tz::Tz(tz)) => Some(Zone::Iana(tz)),
                Some(calcard::common::timezone::Tz::Fixed(off)) => Some(Zone::Fixed(off)),
                _ => CustomZone::from_vtimezone(cal, comp).map(|z| Zone::Custom(Arc::new(z))),
            };
            if let Some(zone) = zone {
                by_name.insert(name.to_string(), zone);
            }
        }
        Zones { by_name }
    }

    /// The zone a `TZID` names, or `None` when neither the calendar nor any
    /// table knows it.
    pub fn resolve(&self, name: &str) -> Option<Zone> {
        if let Some(z) = self.by_name.get(name) {
            return Some(z.clone());
        }
        match name.parse::<calcard::common::timezone::Tz>() {
            Ok(calcard::common::timezone::Tz::Tz(tz)) => Some(Zone::Iana(tz)),
            Ok(calcard::common::timezone::Tz::Fixed(off)) => Some(Zone::Fixed(off)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(h, min, 0))
            .expect("valid")
    }

    #[test]
    fn a_time_in_the_spring_gap_is_read_with_the_offset_before_it() {
        let berlin: Tz = "Europe/Berlin".parse().expect("zone");
        // 02:30 does not exist on 2026-03-29 in Berlin: read at +01:00.
        let t = Zone::Iana(berlin).to_utc(local(2026, 3, 29, 2, 30), berlin);
        assert_eq!(t.to_rfc3339(), "2026-03-29T01:30:00+00:00");
    }

    #[test]
    fn a_time_in_the_autumn_overlap_is_the_first_one() {
        let berlin: Tz = "Europe/Berlin".parse().expect("zone");
        let t = Zone::Iana(berlin).to_utc(local(2026, 10, 25, 2, 30), berlin);
        assert_eq!(t.to_rfc3339(), "2026-10-25T00:30:00+00:00");
    }

    #[test]
    fn windows_and_outlook_names_resolve() {
        let z = Zones::default();
        assert!(matches!(
            z.resolve("W. Europe Standard Time"),
            Some(Zone::Iana(_))
        ));
        assert!(matches!(z.resolve("Europe/Berlin"), Some(Zone::Iana(_))));
        assert!(z.resolve("Nowhere/Special").is_none());
    }

    #[test]
    fn offsets_parse() {
        assert_eq!(parse_offset("+0100"), Some(3600));
        assert_eq!(parse_offset("-0530"), Some(-19800));
        assert_eq!(parse_offset("+013000"), Some(5400));
        assert_eq!(parse_offset("1x"), None);
    }
}
