//! The phrase parser behind [`super::parse_due`] and [`super::split_due`]:
//! tokens, day forms, times, ISO dates and instants.

use super::*;

/// Lower-cased words, commas and trailing dots dropped, an ISO date and a
/// following clock (`2026-12-03 14:00`) joined into one `2026-12-03t14:00`.
pub(super) fn tokens(text: &str) -> Vec<String> {
    let lower = text.to_lowercase().replace(',', " ");
    let words: Vec<&str> = lower
        .split_whitespace()
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = Vec::with_capacity(words.len());
    let mut i = 0;
    while let Some(&w) = words.get(i) {
        match words.get(i + 1) {
            Some(&next) if iso_date(w).is_some() && is_clock_like(next) => {
                out.push(format!("{w}t{next}"));
                i += 2;
            }
            _ => {
                out.push(w.to_string());
                i += 1;
            }
        }
    }
    out
}

/// A clock with maybe seconds and an offset: `14:00`, `14:00:00+01:00`.
pub(super) fn is_clock_like(w: &str) -> bool {
    w.starts_with(|c: char| c.is_ascii_digit())
        && w.contains(':')
        && w.chars().all(|c| c.is_ascii_digit() || ":.+-z".contains(c))
}

/// The whole phrase: `[opener] (iso-instant | in N hours | day [time] | time [on day])`.
pub(super) fn phrase(cx: &Ctx, toks: &[&str]) -> Result<Due, Hint> {
    let mut skip = 0;
    while skip < 2 && toks.get(skip).is_some_and(|w| OPENERS.contains(w)) {
        skip += 1;
    }
    let t = toks.get(skip..).unwrap_or_default();
    if t.is_empty() {
        return Err(GENERIC);
    }
    if let [one] = t
        && let Some(due) = iso_instant(cx, one)
    {
        return due;
    }
    if let Some((delta, n)) = in_clock(t)? {
        if n != t.len() {
            return Err(GENERIC);
        }
        return cx
            .now
            .checked_add_signed(delta)
            .filter(|at| representable(*at, cx.tz))
            .map(|at| Due::At { at })
            .ok_or(TOO_FAR);
    }
    if let Some((day, n)) = day_phrase(cx, t)? {
        let rest = t.get(n..).unwrap_or_default();
        if rest.is_empty() {
            return match day.time {
                None => Ok(Due::Day { date: day.date }),
                Some(time) => at_local(cx.tz, day.date, time),
            };
        }
        return match time_phrase(rest, true)? {
            Some((time, m)) if m == rest.len() => at_local(cx.tz, day.date, time),
            _ => Err(GENERIC),
        };
    }
    if let Some((time, n)) = time_phrase(t, false)? {
        let mut rest = t.get(n..).unwrap_or_default();
        if rest.is_empty() {
            return next_occurrence(cx, time);
        }
        if rest.first() == Some(&"on") {
            rest = rest.get(1..).unwrap_or_default();
        }
        return match day_phrase(cx, rest)? {
            Some((day, m)) if m == rest.len() => at_local(cx.tz, day.date, time),
            _ => Err(GENERIC),
        };
    }
    Err(GENERIC)
}

/// `in N hours|minutes`, `in half an hour`.
pub(super) fn in_clock(t: &[&str]) -> Step<TimeDelta> {
    if t.first() != Some(&"in") {
        return Ok(None);
    }
    if t.get(1..4) == Some(&["half", "an", "hour"][..]) {
        return Ok(Some((TimeDelta::minutes(30), 4)));
    }
    let Some(n) = t.get(1).map(|w| number(w)).transpose()?.flatten() else {
        return Ok(None);
    };
    let delta = match t.get(2).copied() {
        Some("hour" | "hours" | "hr" | "hrs" | "h") => TimeDelta::try_hours(i64::from(n)),
        Some("minute" | "minutes" | "min" | "mins") => TimeDelta::try_minutes(i64::from(n)),
        _ => return Ok(None),
    };
    delta.map(|d| Some((d, 3))).ok_or(TOO_FAR)
}

/// Every day form; see the module documentation.
pub(super) fn day_phrase(cx: &Ctx, t: &[&str]) -> Step<DayHit> {
    let today = cx.today;
    let Some(&first) = t.first() else {
        return Ok(None);
    };
    let second = t.get(1).copied();
    let day = |date: Option<NaiveDate>, used: usize| -> Step<DayHit> {
        date.map(|date| Some((DayHit { date, time: None }, used)))
            .ok_or(TOO_FAR)
    };
    match first {
        "today" => return day(Some(today), 1),
        "tonight" => {
            let time = NaiveTime::from_hms_opt(20, 0, 0);
            return Ok(Some((DayHit { date: today, time }, 1)));
        }
        "tomorrow" | "tmrw" | "tmr" => return day(today.succ_opt(), 1),
        "yesterday" => return day(today.pred_opt(), 1),
        "day" if t.get(1..3) == Some(&["after", "tomorrow"][..]) => {
            return day(add_days(today, 2), 3);
        }
        "the" => {
            if t.get(1..4) == Some(&["day", "after", "tomorrow"][..]) {
                return day(add_days(today, 2), 4);
            }
            // "(by) the end of the month", "the weekend".
            if matches!(second, Some("end" | "weekend")) {
                return Ok(
                    day_phrase(cx, t.get(1..).unwrap_or_default())?.map(|(hit, n)| (hit, n + 1))
                );
            }
            return Ok(
                explicit_date(cx, t.get(1..).unwrap_or_default())?.map(|(hit, n)| (hit, n + 1))
            );
        }
        "this" => match second {
            Some("weekend") => return day(weekend(today), 2),
            Some("morning" | "afternoon" | "evening") => return day(Some(today), 1),
            Some(w) => {
                if let Some(wd) = weekday(w) {
                    return day(on_or_after(today, wd), 2);
                }
            }
            None => {}
        },
        "next" => match second {
            Some("week") => return day(in_next_week(today, Weekday::Mon), 2),
            Some("weekend") => return day(in_next_week(today, Weekday::Sat), 2),
            Some("month") => return day(today.checked_add_months(Months::new(1)), 2),
            Some("year") => return day(today.checked_add_months(Months::new(12)), 2),
            Some(w) => {
                if let Some(wd) = weekday(w) {
                    return day(in_next_week(today, wd), 2);
                }
            }
            None => {}
        },
        "weekend" => return day(weekend(today), 1),
        "eow" => return day(on_or_after(today, Weekday::Fri), 1),
        "eom" => return day(month_end(today, 0), 1),
        "eoy" => return day(NaiveDate::from_ymd_opt(today.year(), 12, 31), 1),
        "end" if second == Some("of") => {
            let mut j = 2;
            if matches!(t.get(j).copied(), Some("the" | "this")) {
                j += 1;
            }
            let next = t.get(j) == Some(&"next");
            if next {
                j += 1;
            }
            let date = match t.get(j).copied() {
                Some("week") if next => in_next_week(today, Weekday::Fri),
                Some("week") => on_or_after(today, Weekday::Fri),
                Some("month") => month_end(today, u32::from(next)),
                Some("year") => today
                    .year()
                    .checked_add(i32::from(next))
                    .and_then(|y| NaiveDate::from_ymd_opt(y, 12, 31)),
                _ => return Ok(None),
            };
            return day(date, j + 1);
        }
        "in" => return in_days(today, t),
        _ => {}
    }
    if let Some(wd) = weekday(first) {
        if let Some((hit, n)) = explicit_date(cx, t.get(1..).unwrap_or_default())? {
            if hit.date.weekday() != wd {
                return Err(WRONG_WEEKDAY);
            }
            return Ok(Some((hit, n + 1)));
        }
        return day(strictly_after(today, wd), 1);
    }
    explicit_date(cx, t)
}

/// `in N days|weeks|fortnights|months|years`.
pub(super) fn in_days(today: NaiveDate, t: &[&str]) -> Step<DayHit> {
    let Some(n) = t.get(1).map(|w| number(w)).transpose()?.flatten() else {
        return Ok(None);
    };
    let date = match t.get(2).copied() {
        Some("day" | "days") => add_days(today, n),
        Some("week" | "weeks") => n.checked_mul(7).and_then(|d| add_days(today, d)),
        Some("fortnight" | "fortnights") => n.checked_mul(14).and_then(|d| add_days(today, d)),
        Some("month" | "months") => today.checked_add_months(Months::new(n)),
        Some("year" | "years") => n
            .checked_mul(12)
            .and_then(|m| today.checked_add_months(Months::new(m))),
        _ => return Ok(None),
    };
    date.map(|date| Some((DayHit { date, time: None }, 3)))
        .ok_or(TOO_FAR)
}

/// `2026-12-03`, `3 dec [2027]`, `3rd of december`, `dec 3 [2027]`, and
/// the refusal of `3/12`.
pub(super) fn explicit_date(cx: &Ctx, t: &[&str]) -> Step<DayHit> {
    let Some(&first) = t.first() else {
        return Ok(None);
    };
    let hit = |date, used| Some((DayHit { date, time: None }, used));
    if let Some(date) = iso_date(first) {
        return date.map(|d| hit(d, 1));
    }
    if is_numeric_day_month(first) {
        return Err(NUMERIC);
    }
    let (month, day, mut used) = if let Some(d) = day_number(first) {
        let of = usize::from(t.get(1) == Some(&"of"));
        match t.get(1 + of).and_then(|w| month(w)) {
            Some(m) => (m, d, 2 + of),
            None => return Ok(None),
        }
    } else if let Some(m) = month(first) {
        match t.get(1).and_then(|w| day_number(w)) {
            Some(d) => (m, d, 2),
            None => return Ok(None),
        }
    } else {
        return Ok(None);
    };
    let year = t.get(used).and_then(|w| year_number(w));
    if year.is_some() {
        used += 1;
    }
    resolve_date(cx.today, year, month, day).map(|d| hit(d, used))
}

/// The date of a day and month, in `year` or else the next one on or after `today`.
pub(super) fn resolve_date(
    today: NaiveDate,
    year: Option<i32>,
    month: u32,
    day: u32,
) -> Result<NaiveDate, Hint> {
    // 2000 is a leap year: a day and month that do not exist there never do.
    if NaiveDate::from_ymd_opt(2000, month, day).is_none() {
        return Err(NO_SUCH_DATE);
    }
    if let Some(year) = year {
        return NaiveDate::from_ymd_opt(year, month, day).ok_or(NO_SUCH_DATE);
    }
    let first = today.year();
    (first..=first.saturating_add(8))
        .filter_map(|y| NaiveDate::from_ymd_opt(y, month, day))
        .find(|d| *d >= today)
        .ok_or(TOO_FAR)
}

/// A time of day, with an optional leading `at`. Part-of-day words
/// (`morning`...) count only `after_day`.
pub(super) fn time_phrase(t: &[&str], after_day: bool) -> Step<NaiveTime> {
    let at = usize::from(t.first() == Some(&"at"));
    let Some(&w) = t.get(at) else {
        return Ok(None);
    };
    let fixed = |h, m| {
        NaiveTime::from_hms_opt(h, m, 0)
            .map(|time| Some((time, at + 1)))
            .ok_or(NO_SUCH_TIME)
    };
    match w {
        "noon" | "midday" => return fixed(12, 0),
        "midnight" => return fixed(23, 59),
        "morning" if after_day && at == 0 => return fixed(9, 0),
        "afternoon" if after_day && at == 0 => return fixed(14, 0),
        "evening" if after_day && at == 0 => return fixed(18, 0),
        "night" if after_day && at == 0 => return fixed(20, 0),
        _ => {}
    }
    if let Some((base, pm)) = strip_meridiem(w)
        && let Some(time) = twelve_hour(base, pm)
    {
        return time.map(|time| Some((time, at + 1)));
    }
    if let Some(pm) = t.get(at + 1).and_then(|m| meridiem(m))
        && let Some(time) = twelve_hour(w, pm)
    {
        return time.map(|time| Some((time, at + 2)));
    }
    if let Some(time) = clock(w) {
        return time.map(|time| Some((time, at + 1)));
    }
    if at == 1 && (1..=2).contains(&w.len()) && w.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BARE_HOUR);
    }
    Ok(None)
}

/// `am` or `pm` (also `a.m`, `p.m`, their trailing dot already gone): is it pm?
pub(super) fn meridiem(w: &str) -> Option<bool> {
    match w {
        "am" | "a.m" => Some(false),
        "pm" | "p.m" => Some(true),
        _ => None,
    }
}

/// `6pm` into `("6", true)`.
pub(super) fn strip_meridiem(w: &str) -> Option<(&str, bool)> {
    ["am", "a.m", "pm", "p.m"].iter().find_map(|suffix| {
        let base = w.strip_suffix(suffix)?;
        (!base.is_empty()).then_some((base, suffix.starts_with('p')))
    })
}

/// `6` or `6:30` on a 12-hour clock. `None` when not shaped like one.
pub(super) fn twelve_hour(base: &str, pm: bool) -> Option<Result<NaiveTime, Hint>> {
    let (h, m) = match base.split_once(':') {
        Some((h, m)) => (h, Some(m)),
        None => (base, None),
    };
    let hour = digits(h, 1, 2)?;
    let minute = match m {
        Some(m) => digits(m, 2, 2)?,
        None => 0,
    };
    if !(1..=12).contains(&hour) {
        return Some(Err(NO_SUCH_TIME));
    }
    let hour = hour % 12 + if pm { 12 } else { 0 };
    Some(NaiveTime::from_hms_opt(hour, minute, 0).ok_or(NO_SUCH_TIME))
}

/// `18:00`, `18:00:00`, `18:00:00.250` on a 24-hour clock. `None` when not
/// shaped like one.
pub(super) fn clock(w: &str) -> Option<Result<NaiveTime, Hint>> {
    let mut parts = w.split(':');
    let hour = digits(parts.next()?, 1, 2)?;
    let minute = digits(parts.next()?, 2, 2)?;
    let (second, nano) = match parts.next() {
        None => (0, 0),
        Some(s) => {
            let (whole, frac) = match s.split_once('.') {
                Some((whole, frac)) => (whole, Some(frac)),
                None => (s, None),
            };
            let nano = match frac {
                None => 0,
                Some(f) => {
                    let value = digits(f, 1, 9)?;
                    let scale = 10u32.checked_pow(9u32.saturating_sub(f.len() as u32))?;
                    value.checked_mul(scale)?
                }
            };
            (digits(whole, 2, 2)?, nano)
        }
    };
    if parts.next().is_some() {
        return None;
    }
    Some(NaiveTime::from_hms_nano_opt(hour, minute, second, nano).ok_or(NO_SUCH_TIME))
}

/// `2026-12-03T14:00`, `2026-12-03t14:00:00+01:00`, `...z`: `None` when not
/// an ISO date with a time.
pub(super) fn iso_instant(cx: &Ctx, w: &str) -> Option<Result<Due, Hint>> {
    let (date, time) = w.split_once('t')?;
    let date = match iso_date(date)? {
        Ok(date) => date,
        Err(hint) => return Some(Err(hint)),
    };
    let (clock_text, offset) = if let Some(c) = time.strip_suffix('z') {
        (c, Some(Ok(0)))
    } else if let Some(pos) = time.find(['+', '-']) {
        let (c, o) = time.split_at(pos);
        (c, Some(offset_seconds(o).ok_or(BAD_OFFSET)))
    } else {
        (time, None)
    };
    let time = match clock(clock_text) {
        Some(Ok(time)) => time,
        _ => return Some(Err(NO_SUCH_TIME)),
    };
    Some(match offset {
        None => at_local(cx.tz, date, time),
        Some(Err(hint)) => Err(hint),
        Some(Ok(secs)) => FixedOffset::east_opt(secs)
            .and_then(|off| off.from_local_datetime(&date.and_time(time)).single())
            .map(|at| Due::At {
                at: at.with_timezone(&Utc),
            })
            .ok_or(TOO_FAR),
    })
}

/// `+01:00`, `-0500`, `+01` in seconds east of UTC.
pub(super) fn offset_seconds(o: &str) -> Option<i32> {
    let (sign, rest) = match o.split_at_checked(1)? {
        ("+", rest) => (1, rest),
        ("-", rest) => (-1, rest),
        _ => return None,
    };
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        None if rest.len() == 4 => rest.split_at_checked(2)?,
        None => (rest, "00"),
    };
    let (h, m) = (digits(h, 2, 2)?, digits(m, 2, 2)?);
    if h > 23 || m > 59 {
        return None;
    }
    i32::try_from(h * 3600 + m * 60).ok().map(|s| sign * s)
}

/// `2026-12-03` (4-digit year, 1- or 2-digit month and day): `None` when
/// not shaped like one, an error when shaped like one but no such date.
pub(super) fn iso_date(w: &str) -> Option<Result<NaiveDate, Hint>> {
    let mut parts = w.split('-');
    let year = digits(parts.next()?, 4, 4)?;
    let month = digits(parts.next()?, 1, 2)?;
    let day = digits(parts.next()?, 1, 2)?;
    if parts.next().is_some() {
        return None;
    }
    let year = i32::try_from(year).ok()?;
    Some(NaiveDate::from_ymd_opt(year, month, day).ok_or(NO_SUCH_DATE))
}

/// Digits and `/` or `.` separators, like `3/12`, `3.12`, `3/12/2026`.
pub(super) fn is_numeric_day_month(w: &str) -> bool {
    w.contains(['/', '.'])
        && w.starts_with(|c: char| c.is_ascii_digit())
        && w.chars()
            .all(|c| c.is_ascii_digit() || c == '/' || c == '.')
}

/// A day of the month as written: `3`, `03`, `3rd`, `21st` (0 and 32..99
/// included; the date check refuses them).
pub(crate) fn day_number(w: &str) -> Option<u32> {
    let bare = ["st", "nd", "rd", "th"]
        .iter()
        .find_map(|s| w.strip_suffix(s))
        .unwrap_or(w);
    digits(bare, 1, 2)
}

/// A 4-digit year.
pub(super) fn year_number(w: &str) -> Option<i32> {
    digits(w, 4, 4).and_then(|y| i32::try_from(y).ok())
}

/// A count: digits, or `a`, `an`, `one`..`twelve`. Digits too large are an
/// error, not "not a number".
pub(crate) fn number(w: &str) -> Result<Option<u32>, Hint> {
    let word = match w {
        "a" | "an" | "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        _ if !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()) => {
            return w.parse().map(Some).map_err(|_| TOO_FAR);
        }
        _ => return Ok(None),
    };
    Ok(Some(word))
}

/// `w` as a number if it is `min..=max` ASCII digits.
pub(crate) fn digits(w: &str, min: usize, max: usize) -> Option<u32> {
    if !(min..=max).contains(&w.len()) || !w.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    w.parse().ok()
}

pub(crate) fn month(w: &str) -> Option<u32> {
    Some(match w {
        "jan" | "january" => 1,
        "feb" | "february" => 2,
        "mar" | "march" => 3,
        "apr" | "april" => 4,
        "may" => 5,
        "jun" | "june" => 6,
        "jul" | "july" => 7,
        "aug" | "august" => 8,
        "sep" | "sept" | "september" => 9,
        "oct" | "october" => 10,
        "nov" | "november" => 11,
        "dec" | "december" => 12,
        _ => return None,
    })
}

pub(crate) fn weekday(w: &str) -> Option<Weekday> {
    Some(match w {
        "monday" | "mon" => Weekday::Mon,
        "tuesday" | "tue" | "tues" => Weekday::Tue,
        "wednesday" | "wed" | "weds" => Weekday::Wed,
        "thursday" | "thu" | "thur" | "thurs" => Weekday::Thu,
        "friday" | "fri" => Weekday::Fri,
        "saturday" | "sat" => Weekday::Sat,
        "sunday" | "sun" => Weekday::Sun,
        _ => return None,
    })
}

pub(super) fn add_days(date: NaiveDate, n: u32) -> Option<NaiveDate> {
    date.checked_add_days(Days::new(u64::from(n)))
}

/// Days from `from`'s weekday forward to `to` (0 to 6).
pub(super) fn days_until(from: NaiveDate, to: Weekday) -> u32 {
    (7 + to.num_days_from_monday() - from.weekday().num_days_from_monday()) % 7
}

/// The first `wd` on or after `today`.
pub(super) fn on_or_after(today: NaiveDate, wd: Weekday) -> Option<NaiveDate> {
    add_days(today, days_until(today, wd))
}

/// The first `wd` strictly after `today`.
pub(super) fn strictly_after(today: NaiveDate, wd: Weekday) -> Option<NaiveDate> {
    match days_until(today, wd) {
        0 => add_days(today, 7),
        n => add_days(today, n),
    }
}

/// The `wd` of the Monday-based week after `today`'s.
pub(super) fn in_next_week(today: NaiveDate, wd: Weekday) -> Option<NaiveDate> {
    let monday = 7 - today.weekday().num_days_from_monday();
    add_days(today, monday + wd.num_days_from_monday())
}

/// The coming Saturday, or today on a Saturday or Sunday.
pub(super) fn weekend(today: NaiveDate) -> Option<NaiveDate> {
    match today.weekday() {
        Weekday::Sun => Some(today),
        _ => on_or_after(today, Weekday::Sat),
    }
}

/// The last day of the month `ahead` months after `today`'s.
pub(super) fn month_end(today: NaiveDate, ahead: u32) -> Option<NaiveDate> {
    today
        .with_day(1)?
        .checked_add_months(Months::new(ahead.checked_add(1)?))?
        .pred_opt()
}

/// Wall-clock `time` on `date` in `tz`: in a gap the first valid time after
/// it, in an overlap the earlier (as `calendar::midnight` does).
pub(super) fn at_local(tz: Tz, date: NaiveDate, time: NaiveTime) -> Result<Due, Hint> {
    local_instant(tz, date.and_time(time))
        .map(|at| Due::At { at })
        .ok_or(TOO_FAR)
}

pub(super) fn local_instant(tz: Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    if let Some(at) = tz.from_local_datetime(&wall).earliest() {
        return Some(at.with_timezone(&Utc));
    }
    // In a gap: step whole minutes to where the clock resumes (gaps in the
    // zone database start and end on whole minutes and last at most a day).
    let mut t = wall.with_second(0)?.with_nanosecond(0)?;
    for _ in 0..(26 * 60) {
        t = t.checked_add_signed(TimeDelta::minutes(1))?;
        if let Some(at) = tz.from_local_datetime(&t).earliest() {
            return Some(at.with_timezone(&Utc));
        }
    }
    None
}

/// `time` today if that is still after now, else tomorrow.
pub(super) fn next_occurrence(cx: &Ctx, time: NaiveTime) -> Result<Due, Hint> {
    let today = local_instant(cx.tz, cx.today.and_time(time)).ok_or(TOO_FAR)?;
    if today > cx.now {
        return Ok(Due::At { at: today });
    }
    at_local(cx.tz, cx.today.succ_opt().ok_or(TOO_FAR)?, time)
}

/// The wall-clock date of `at` in `tz`, without chrono's panic when the
/// local time falls outside its range (the UTC date then).
pub(super) fn local_date(at: DateTime<Utc>, tz: Tz) -> NaiveDate {
    let offset = tz.offset_from_utc_datetime(&at.naive_utc()).fix();
    at.naive_utc()
        .checked_add_offset(offset)
        .map_or(at.date_naive(), |local| local.date())
}

/// Whether `at` has a wall-clock time in `tz` that chrono can represent.
pub(super) fn representable(at: DateTime<Utc>, tz: Tz) -> bool {
    let offset = tz.offset_from_utc_datetime(&at.naive_utc()).fix();
    at.naive_utc().checked_add_offset(offset).is_some()
}

/// Byte offsets where the words of `s` start.
pub(super) fn word_starts(s: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut in_word = false;
    for (i, c) in s.char_indices() {
        if c.is_whitespace() {
            in_word = false;
        } else if !in_word {
            starts.push(i);
            in_word = true;
        }
    }
    starts
}

/// The title before a date phrase, without the separators and introducing
/// words that lead into it, and whether there were any. `None` when the
/// word before the phrase shows it is not a due date.
pub(super) fn strip_tail(head: &str) -> Option<(&str, bool)> {
    let mut title = head.trim_end();
    let last_word = |s: &str| {
        s.rsplit(char::is_whitespace)
            .next()
            .unwrap_or_default()
            .to_lowercase()
    };
    if BLOCKERS.contains(&last_word(title).as_str()) {
        return None;
    }
    let mut introduced = false;
    loop {
        let cut = title.trim_end_matches(SEPARATORS).trim_end();
        if cut.len() != title.len() {
            title = cut;
            introduced = true;
            continue;
        }
        let word = last_word(title);
        if !INTRODUCERS.contains(&word.as_str()) {
            return Some((title, introduced));
        }
        // The lower-cased word of an ASCII introducer has the same length.
        let end = title.len().saturating_sub(word.len());
        title = title.get(..end).unwrap_or_default().trim_end();
        introduced = true;
    }
}

/// A phrase that is only a weekday abbreviation (`sun`, `sat.`, `wed`).
pub(super) fn is_lone_abbreviation(phrase: &str) -> bool {
    let words = tokens(phrase);
    match words.as_slice() {
        [w] => weekday(w).is_some() && !w.ends_with("day"),
        _ => false,
    }
}
