//! Due dates as people type them ("tomorrow 9am", "next friday", "in 2
//! weeks", "3 dec"), read in the owner's time zone relative to a `now` the
//! caller passes in.
//!
//! **Invariant:** pure and total: no clock reads, no I/O, and no input makes
//! it panic (all date arithmetic is checked; what does not fit is an error).
//!
//! # The rules
//!
//! Input is case-insensitive; extra spaces, commas and trailing dots are
//! ignored. "Today" is the date of `now` in `tz`; weeks start on Monday.
//! A phrase may start with `on`, `by`, `due`, `until`, `till` or `before`,
//! which change nothing.
//!
//! Days (a [`Due::Day`] unless a time is given):
//! - `today`, `tomorrow` (`tmrw`, `tmr`), `yesterday`, `(the) day after tomorrow`.
//! - `friday` / `fri` (also `tues`, `weds`, `thur`, `thurs`): the coming
//!   Friday, strictly after today (on a Friday, `friday` is a week away).
//! - `this friday`: today if today is Friday, else the same as `friday`.
//! - `next friday`: the Friday of next week (the Monday-based week after the
//!   current one). It differs from `friday` only from Monday to Thursday,
//!   when `friday` is this week's and `next friday` the one 7 days later; on
//!   Friday, Saturday and Sunday both are the same day.
//! - `next week`: Monday of next week. `weekend` / `this weekend`: the
//!   coming Saturday (today on a Saturday or a Sunday); `next weekend`: the
//!   Saturday of next week.
//! - `next month` / `in a month`: the same day next month, clamped to the
//!   month's last day (Jan 31 gives Feb 28, or 29 in a leap year); `next
//!   year` / `in a year` likewise (Feb 29 gives Feb 28).
//! - `in N days|weeks|fortnights|months|years` (N in digits, or `a`, `an`,
//!   `one`..`twelve`); months and years clamp as above.
//! - `end of (the|this|next) week|month|year` (also `eow`, `eom`, `eoy`):
//!   the week ends on Friday (the first Friday on or after today; `end of next
//!   week` is next week's Friday), the month on its last day, the year on
//!   Dec 31.
//! - `2026-12-03` (ISO); `3 dec`, `3rd of december`, `dec 3`, `december 3rd`,
//!   each with an optional 4-digit year (`3 december 2027`, `dec 3, 2027`),
//!   and optionally led by the matching weekday (`thu 3 dec`, as
//!   [`Due::label`] writes it; a weekday that does not match is an error).
//!   Without a year it is the next such date on or after today (a date
//!   already past this year means next year; `feb 29` the next leap year).
//! - Numeric day/month forms (`3/12`, `12.3.`) are refused as ambiguous,
//!   with a hint to write `2026-12-03`.
//!
//! Times (make a [`Due::At`]), after or before any day form, with an
//! optional `at` (`tomorrow 9am`, `friday at 14:30`, `6pm on friday`):
//! - `6pm`, `6 pm`, `6:30pm`, `12am` (00:00), `12pm` (12:00), `18:00`,
//!   `18:00:00`; `noon` / `midday` is 12:00; `midnight` is 23:59 of that
//!   day (a deadline "by midnight" means before the day ends).
//! - A bare hour (`at 6`) is refused as ambiguous (6am or 6pm?).
//! - After a day only: `morning` 09:00, `afternoon` 14:00, `evening` 18:00,
//!   `night` 20:00 (`tomorrow morning`, `this evening`).
//! - `tonight` is today at 20:00 (or at the time given: `tonight 9pm`).
//! - A time with no day is its next occurrence: today if that is still
//!   after `now`, else tomorrow.
//! - Times are wall-clock in `tz`: a time that does not exist (clocks go
//!   forward) becomes the first valid time after the gap (02:30 on the
//!   change day in Berlin is 03:00); a time that happens twice (clocks go
//!   back) is the earlier one.
//! - `in N hours|minutes` (`in an hour`, `in half an hour`) is `now` plus
//!   that, exactly.
//! - `2026-12-03 14:00`, `2026-12-03T14:00(:00)` are wall-clock in `tz`;
//!   with an offset (`2026-12-03T14:00:00+01:00`, `...Z`, RFC 3339) the
//!   instant is exactly that, whatever `tz` is.
//!
//! Anything else is a [`WhenError`] whose hint says what to type instead.
//!
//! [`split_due`] takes the longest phrase above that ends the text (looking
//! at its last 12 words) and returns the words before it as the title,
//! dropping a separator (`,`, `;`, `:`, ` - `) and introducing words (`on`,
//! `by`, `due`, `for`, `until`, `till`, `before`) between them. It finds no
//! date when:
//! - nothing at the end parses ("read chapter 3", "notes for friday's
//!   review": a number alone or a word with a date inside is not a date);
//! - the word right before the phrase shows it is not a due date (`from`,
//!   `of`, `since`, `after`, `last`, `every`, `each`, `the`, `a`, `an`,
//!   `per`, `than`, `about`: "notes from friday", "enjoy the sun");
//! - the phrase is a lone weekday abbreviation (`sun`, `sat`, `wed`...) with
//!   no introducing word or separator before it ("catch some sun");
//! - the whole text is the date (no title would be left).

use chrono::{
    DateTime, Datelike, Days, FixedOffset, Months, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeDelta, TimeZone, Timelike, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// A due date: a whole day, or an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Due {
    /// Some time that day, in the owner's zone.
    Day { date: NaiveDate },
    /// At that instant.
    At { at: DateTime<Utc> },
}

impl Due {
    /// `2026-12-03` or `2026-12-03T14:00:00+01:00` (RFC 3339 in `tz`): how JSON shows it.
    pub fn to_string_in(&self, tz: Tz) -> String {
        match *self {
            Due::Day { date } => date.format("%Y-%m-%d").to_string(),
            Due::At { at } => at
                .with_timezone(&tz)
                .format("%Y-%m-%dT%H:%M:%S%:z")
                .to_string(),
        }
    }

    /// `Thu 3 Dec` or `Thu 3 Dec 14:00` in `tz`, for people.
    pub fn label(&self, tz: Tz) -> String {
        match *self {
            Due::Day { date } => date.format("%a %-d %b").to_string(),
            Due::At { at } => at.with_timezone(&tz).format("%a %-d %b %H:%M").to_string(),
        }
    }

    /// The local day it falls on in `tz`.
    pub fn day(&self, tz: Tz) -> NaiveDate {
        match *self {
            Due::Day { date } => date,
            Due::At { at } => local_date(at, tz),
        }
    }

    /// Overdue at `now`: a day before today (in tz), or an instant before now.
    pub fn overdue(&self, tz: Tz, now: DateTime<Utc>) -> bool {
        match *self {
            Due::Day { date } => date < local_date(now, tz),
            Due::At { at } => at < now,
        }
    }
}

/// Text that is not a due date, with what to type instead.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("cannot read {text:?} as a date: {hint}")]
pub struct WhenError {
    pub text: String,
    pub hint: &'static str,
}

const GENERIC: &str = "try tomorrow, friday, in 3 days, 2026-12-03 or 2026-12-03 14:00";
const EMPTY: &str =
    "there is nothing to read; try tomorrow, friday, in 3 days, 2026-12-03 or 2026-12-03 14:00";
const NUMERIC: &str =
    "numbers like 3/12 could be 3 December or March 12; write 2026-12-03 or 3 dec";
const NO_SUCH_DATE: &str = "there is no such date; try 3 dec or 2026-12-03";
const NO_SUCH_TIME: &str = "there is no such time of day; try 9am, 6:30pm or 18:00";
const BARE_HOUR: &str = "a bare hour could be morning or evening; write 6am, 6pm or 18:00";
const BAD_OFFSET: &str = "that UTC offset is not valid; write it like 2026-12-03T14:00:00+01:00";
const TOO_FAR: &str = "that is too far away; try tomorrow, in 3 days or 2026-12-03";
const WRONG_WEEKDAY: &str = "that weekday does not match the date; give just the date, like 3 dec";

/// Words that may open a phrase without changing it.
const OPENERS: [&str; 6] = ["on", "by", "due", "until", "till", "before"];
/// Words dropped between a title and its date phrase.
const INTRODUCERS: [&str; 7] = ["on", "by", "due", "for", "until", "till", "before"];
/// Words right before a date phrase that show it is not a due date.
const BLOCKERS: [&str; 13] = [
    "from", "of", "since", "after", "last", "every", "each", "the", "a", "an", "per", "than",
    "about",
];
/// Separators dropped between a title and its date phrase.
const SEPARATORS: [char; 6] = [',', ';', ':', '-', '–', '—'];
/// How many words at the end of a text `split_due` looks at.
const MAX_PHRASE_WORDS: usize = 12;

/// Reads `text` relative to `now` in `tz`. Case-insensitive, extra spaces ignored.
///
/// See the module documentation for every accepted form and the rules.
pub fn parse_due(text: &str, now: DateTime<Utc>, tz: Tz) -> Result<Due, WhenError> {
    let fail = |hint| WhenError {
        text: text.to_string(),
        hint,
    };
    let owned = tokens(text);
    if owned.is_empty() {
        return Err(fail(EMPTY));
    }
    let toks: Vec<&str> = owned.iter().map(String::as_str).collect();
    let cx = Ctx {
        now,
        tz,
        today: local_date(now, tz),
    };
    phrase(&cx, &toks).map_err(fail)
}

/// Finds a due date inside a free-text task ("renew passport next month", "call mum tomorrow at 6pm"):
/// returns the title without the date words and the due date, or the text unchanged and None.
///
/// See the module documentation for how the phrase is found.
pub fn split_due(text: &str, now: DateTime<Utc>, tz: Tz) -> (String, Option<Due>) {
    let unchanged = || (text.to_string(), None);
    let body = text.trim_end().trim_end_matches(['.', '!']).trim_end();
    let starts = word_starts(body);
    let first = starts.len().saturating_sub(MAX_PHRASE_WORDS);
    for &start in starts.get(first..).unwrap_or_default() {
        let phrase = body.get(start..).unwrap_or_default();
        let Ok(due) = parse_due(phrase, now, tz) else {
            continue;
        };
        // The longest phrase decides: no shorter one is tried after it.
        let head = body.get(..start).unwrap_or_default();
        let Some((title, introduced)) = strip_tail(head) else {
            return unchanged();
        };
        if title.is_empty() || (!introduced && is_lone_abbreviation(phrase)) {
            return unchanged();
        }
        return (title.trim_start().to_string(), Some(due));
    }
    unchanged()
}

/// The parser's view of the moment.
struct Ctx {
    now: DateTime<Utc>,
    tz: Tz,
    today: NaiveDate,
}

/// A day phrase: the date, and the time it implies (`tonight`), if any.
#[derive(Debug, Clone, Copy)]
struct DayHit {
    date: NaiveDate,
    time: Option<NaiveTime>,
}

type Hint = &'static str;
/// `Ok(None)`: not this form; `Ok(Some((value, tokens used)))`; `Err`: this
/// form, but not a valid one.
type Step<T> = Result<Option<(T, usize)>, Hint>;

/// Lower-cased words, commas and trailing dots dropped, an ISO date and a
/// following clock (`2026-12-03 14:00`) joined into one `2026-12-03t14:00`.
fn tokens(text: &str) -> Vec<String> {
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
fn is_clock_like(w: &str) -> bool {
    w.starts_with(|c: char| c.is_ascii_digit())
        && w.contains(':')
        && w.chars().all(|c| c.is_ascii_digit() || ":.+-z".contains(c))
}

/// The whole phrase: `[opener] (iso-instant | in N hours | day [time] | time [on day])`.
fn phrase(cx: &Ctx, toks: &[&str]) -> Result<Due, Hint> {
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
fn in_clock(t: &[&str]) -> Step<TimeDelta> {
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
fn day_phrase(cx: &Ctx, t: &[&str]) -> Step<DayHit> {
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
fn in_days(today: NaiveDate, t: &[&str]) -> Step<DayHit> {
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
fn explicit_date(cx: &Ctx, t: &[&str]) -> Step<DayHit> {
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
fn resolve_date(
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
fn time_phrase(t: &[&str], after_day: bool) -> Step<NaiveTime> {
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
fn meridiem(w: &str) -> Option<bool> {
    match w {
        "am" | "a.m" => Some(false),
        "pm" | "p.m" => Some(true),
        _ => None,
    }
}

/// `6pm` into `("6", true)`.
fn strip_meridiem(w: &str) -> Option<(&str, bool)> {
    ["am", "a.m", "pm", "p.m"].iter().find_map(|suffix| {
        let base = w.strip_suffix(suffix)?;
        (!base.is_empty()).then_some((base, suffix.starts_with('p')))
    })
}

/// `6` or `6:30` on a 12-hour clock. `None` when not shaped like one.
fn twelve_hour(base: &str, pm: bool) -> Option<Result<NaiveTime, Hint>> {
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
fn clock(w: &str) -> Option<Result<NaiveTime, Hint>> {
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
fn iso_instant(cx: &Ctx, w: &str) -> Option<Result<Due, Hint>> {
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
fn offset_seconds(o: &str) -> Option<i32> {
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
fn iso_date(w: &str) -> Option<Result<NaiveDate, Hint>> {
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
fn is_numeric_day_month(w: &str) -> bool {
    w.contains(['/', '.'])
        && w.starts_with(|c: char| c.is_ascii_digit())
        && w.chars()
            .all(|c| c.is_ascii_digit() || c == '/' || c == '.')
}

/// A day of the month as written: `3`, `03`, `3rd`, `21st` (0 and 32..99
/// included; the date check refuses them).
fn day_number(w: &str) -> Option<u32> {
    let bare = ["st", "nd", "rd", "th"]
        .iter()
        .find_map(|s| w.strip_suffix(s))
        .unwrap_or(w);
    digits(bare, 1, 2)
}

/// A 4-digit year.
fn year_number(w: &str) -> Option<i32> {
    digits(w, 4, 4).and_then(|y| i32::try_from(y).ok())
}

/// A count: digits, or `a`, `an`, `one`..`twelve`. Digits too large are an
/// error, not "not a number".
fn number(w: &str) -> Result<Option<u32>, Hint> {
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
fn digits(w: &str, min: usize, max: usize) -> Option<u32> {
    if !(min..=max).contains(&w.len()) || !w.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    w.parse().ok()
}

fn month(w: &str) -> Option<u32> {
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

fn weekday(w: &str) -> Option<Weekday> {
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

fn add_days(date: NaiveDate, n: u32) -> Option<NaiveDate> {
    date.checked_add_days(Days::new(u64::from(n)))
}

/// Days from `from`'s weekday forward to `to` (0 to 6).
fn days_until(from: NaiveDate, to: Weekday) -> u32 {
    (7 + to.num_days_from_monday() - from.weekday().num_days_from_monday()) % 7
}

/// The first `wd` on or after `today`.
fn on_or_after(today: NaiveDate, wd: Weekday) -> Option<NaiveDate> {
    add_days(today, days_until(today, wd))
}

/// The first `wd` strictly after `today`.
fn strictly_after(today: NaiveDate, wd: Weekday) -> Option<NaiveDate> {
    match days_until(today, wd) {
        0 => add_days(today, 7),
        n => add_days(today, n),
    }
}

/// The `wd` of the Monday-based week after `today`'s.
fn in_next_week(today: NaiveDate, wd: Weekday) -> Option<NaiveDate> {
    let monday = 7 - today.weekday().num_days_from_monday();
    add_days(today, monday + wd.num_days_from_monday())
}

/// The coming Saturday, or today on a Saturday or Sunday.
fn weekend(today: NaiveDate) -> Option<NaiveDate> {
    match today.weekday() {
        Weekday::Sun => Some(today),
        _ => on_or_after(today, Weekday::Sat),
    }
}

/// The last day of the month `ahead` months after `today`'s.
fn month_end(today: NaiveDate, ahead: u32) -> Option<NaiveDate> {
    today
        .with_day(1)?
        .checked_add_months(Months::new(ahead.checked_add(1)?))?
        .pred_opt()
}

/// Wall-clock `time` on `date` in `tz`: in a gap the first valid time after
/// it, in an overlap the earlier (as `calendar::midnight` does).
fn at_local(tz: Tz, date: NaiveDate, time: NaiveTime) -> Result<Due, Hint> {
    local_instant(tz, date.and_time(time))
        .map(|at| Due::At { at })
        .ok_or(TOO_FAR)
}

fn local_instant(tz: Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
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
fn next_occurrence(cx: &Ctx, time: NaiveTime) -> Result<Due, Hint> {
    let today = local_instant(cx.tz, cx.today.and_time(time)).ok_or(TOO_FAR)?;
    if today > cx.now {
        return Ok(Due::At { at: today });
    }
    at_local(cx.tz, cx.today.succ_opt().ok_or(TOO_FAR)?, time)
}

/// The wall-clock date of `at` in `tz`, without chrono's panic when the
/// local time falls outside its range (the UTC date then).
fn local_date(at: DateTime<Utc>, tz: Tz) -> NaiveDate {
    let offset = tz.offset_from_utc_datetime(&at.naive_utc()).fix();
    at.naive_utc()
        .checked_add_offset(offset)
        .map_or(at.date_naive(), |local| local.date())
}

/// Whether `at` has a wall-clock time in `tz` that chrono can represent.
fn representable(at: DateTime<Utc>, tz: Tz) -> bool {
    let offset = tz.offset_from_utc_datetime(&at.naive_utc()).fix();
    at.naive_utc().checked_add_offset(offset).is_some()
}

/// Byte offsets where the words of `s` start.
fn word_starts(s: &str) -> Vec<usize> {
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
fn strip_tail(head: &str) -> Option<(&str, bool)> {
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
fn is_lone_abbreviation(phrase: &str) -> bool {
    let words = tokens(phrase);
    match words.as_slice() {
        [w] => weekday(w).is_some() && !w.ends_with("day"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
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
}
