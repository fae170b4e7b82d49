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

    /// When it begins: the instant, or the day's first moment in `tz`.
    pub fn starts_at(&self, tz: Tz) -> DateTime<Utc> {
        match *self {
            Due::Day { date } => crate::calendar::midnight(tz, date),
            Due::At { at } => at,
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

pub(crate) mod parse;
use parse::*;

#[cfg(test)]
mod tests;
