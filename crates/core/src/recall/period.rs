//! Periods named in a question about the past ("last week", "in May",
//! "yesterday", "3 weeks ago", "on 12 March", "in 2025"), read in the
//! owner's time zone relative to the moment the question is asked.
//!
//! **Invariant:** pure and total: no clock reads, and no input makes it
//! panic; a phrase it cannot place is simply not a period. Weeks start on
//! Monday. A month or weekday without a year is the latest one that has
//! begun by `now` ("in May" asked in March means last year's May).

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;

use crate::calendar::midnight;
use crate::when::parse;

/// A half-open span of time `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Period {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

/// A count as written ("3", "three", "a", "a couple", "a few"), at most
/// 500 so date arithmetic stays in range.
fn number(word: &str) -> Option<i64> {
    match word {
        "couple" => Some(2),
        "few" => Some(3),
        _ => parse::number(word)
            .ok()
            .flatten()
            .filter(|n| *n <= 500)
            .map(i64::from),
    }
}

fn days(from: NaiveDate, to_exclusive: NaiveDate, tz: Tz) -> Option<Period> {
    let start = midnight(tz, from);
    let end = midnight(tz, to_exclusive);
    (start < end).then_some(Period { start, end })
}

fn month_span(year: i32, month: u32, tz: Tz) -> Option<Period> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    days(first, next, tz)
}

fn week_of(day: NaiveDate, tz: Tz) -> Option<Period> {
    let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
    days(monday, monday + Duration::days(7), tz)
}

fn shift_months(year: i32, month: u32, back: i64) -> Option<(i32, u32)> {
    let index = i64::from(year) * 12 + i64::from(month) - 1 - back;
    Some((
        i32::try_from(index.div_euclid(12)).ok()?,
        u32::try_from(index.rem_euclid(12)).ok()? + 1,
    ))
}

/// The period a question names, if it names one.
pub fn named_period(question: &str, now: DateTime<Utc>, tz: Tz) -> Option<Period> {
    let words: Vec<String> = question
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let today = now.with_timezone(&tz).date_naive();
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    for i in 0..words.len() {
        let found = match (w(i), w(i + 1), w(i + 2)) {
            ("yesterday", ..) => days(today - Duration::days(1), today, tz),
            ("today" | "tonight", ..) => days(today, today + Duration::days(1), tz),
            ("last" | "past" | "previous", "week", _) => week_of(today - Duration::days(7), tz),
            ("this", "week", _) => week_of(today, tz),
            ("last" | "previous", "weekend", _) => {
                let back = i64::from(today.weekday().num_days_from_monday()) + 2;
                let saturday = today - Duration::days(if back >= 7 { back - 7 } else { back });
                // The weekend that has begun most recently and is not today's own Saturday-in-progress.
                let saturday = if saturday >= today {
                    saturday - Duration::days(7)
                } else {
                    saturday
                };
                days(saturday, saturday + Duration::days(2), tz)
            }
            ("this", "weekend", _) => {
                let offset = i64::from(today.weekday().num_days_from_monday());
                let saturday = today - Duration::days(offset) + Duration::days(5);
                days(saturday, saturday + Duration::days(2), tz)
            }
            ("last" | "previous", "month", _) => {
                shift_months(today.year(), today.month(), 1).and_then(|(y, m)| month_span(y, m, tz))
            }
            ("this", "month", _) => month_span(today.year(), today.month(), tz),
            ("last" | "previous", "year", _) => NaiveDate::from_ymd_opt(today.year() - 1, 1, 1)
                .zip(NaiveDate::from_ymd_opt(today.year(), 1, 1))
                .and_then(|(a, b)| days(a, b, tz)),
            ("this", "year", _) => NaiveDate::from_ymd_opt(today.year(), 1, 1)
                .zip(NaiveDate::from_ymd_opt(today.year() + 1, 1, 1))
                .and_then(|(a, b)| days(a, b, tz)),
            (n, unit, "ago") => number(n).and_then(|n| match unit {
                "day" | "days" => {
                    let d = today - Duration::days(n);
                    days(d, d + Duration::days(1), tz)
                }
                "week" | "weeks" => week_of(today - Duration::days(7 * n), tz),
                "month" | "months" => shift_months(today.year(), today.month(), n)
                    .and_then(|(y, m)| month_span(y, m, tz)),
                "year" | "years" => {
                    let y = today.year() - i32::try_from(n).ok()?;
                    NaiveDate::from_ymd_opt(y, 1, 1)
                        .zip(NaiveDate::from_ymd_opt(y + 1, 1, 1))
                        .and_then(|(a, b)| days(a, b, tz))
                }
                _ => None,
            }),
            (p, m, y) if matches!(p, "in" | "during" | "of" | "last") => {
                if let Some(month) = parse::month(m) {
                    match y.parse::<i32>() {
                        Ok(year) if (1970..=2200).contains(&year) => month_span(year, month, tz),
                        _ => {
                            let year = if month <= today.month() {
                                today.year()
                            } else {
                                today.year() - 1
                            };
                            month_span(year, month, tz)
                        }
                    }
                } else if let Some(day) = parse::weekday(m).filter(|_| p == "last") {
                    last_weekday(today, day, tz)
                } else if let Ok(year) = m.parse::<i32>() {
                    (p != "last" && (1970..=2200).contains(&year) && year <= today.year())
                        .then(|| {
                            NaiveDate::from_ymd_opt(year, 1, 1)
                                .zip(NaiveDate::from_ymd_opt(year + 1, 1, 1))
                                .and_then(|(a, b)| days(a, b, tz))
                        })
                        .flatten()
                } else {
                    None
                }
            }
            ("on", d, _) if parse::weekday(d).is_some() => {
                parse::weekday(d).and_then(|day| last_weekday(today, day, tz))
            }
            (d, m, _) | (m, d, _) if parse::month(m).is_some() && day_of(d).is_some() => {
                let (Some(month), Some(day)) = (parse::month(m), day_of(d)) else {
                    continue;
                };
                let this_year = NaiveDate::from_ymd_opt(today.year(), month, day);
                let date = match this_year {
                    Some(x) if x <= today => Some(x),
                    _ => NaiveDate::from_ymd_opt(today.year() - 1, month, day),
                };
                date.and_then(|x| days(x, x + Duration::days(1), tz))
            }
            (iso, ..) if iso.len() == 10 => NaiveDate::parse_from_str(iso, "%Y-%m-%d")
                .ok()
                .and_then(|x| days(x, x + Duration::days(1), tz)),
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// A day of the month as written ("3", "3rd"), 1 to 31.
pub(crate) fn day_of(word: &str) -> Option<u32> {
    parse::day_number(word).filter(|d| (1..=31).contains(d))
}

/// The latest `day` strictly before today ("on Monday" asked on a Monday is a week ago).
fn last_weekday(today: NaiveDate, day: Weekday, tz: Tz) -> Option<Period> {
    let back = (7 + i64::from(today.weekday().num_days_from_monday())
        - i64::from(day.num_days_from_monday()))
        % 7;
    let d = today - Duration::days(if back == 0 { 7 } else { back });
    days(d, d + Duration::days(1), tz)
}
