//! Repeating tasks: how a rule is written and when the next one is due.
//!
//! A repeating task that reaches a done list is followed by the next one,
//! due on the rule's next date after the later of its own due day and
//! today (so a late completion does not create a task already overdue).
//!
//! Rules, case-insensitive: `daily` / `every day`; `weekdays` / `every
//! weekday` (Monday to Friday); `weekly` / `every week` (the same weekday
//! as the task's due day); `every monday` (or `mondays`, `every mon`);
//! `monthly` / `every month` (the same day of the month, clamped to the
//! month's end); `every 1st` / `monthly on the 15th` / `on the 1st of the
//! month`; `yearly` / `every year`.
//!
//! **Invariant:** pure; dates only (the time of day of a due instant is
//! kept by the caller).

use chrono::{Datelike, Duration, Months, NaiveDate, Weekday};

/// A repeat rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    Daily,
    Weekdays,
    /// On this weekday, or the due day's when `None`.
    Weekly(Option<Weekday>),
    /// On this day of the month (1-31, clamped), or the due day's.
    Monthly(Option<u32>),
    Yearly,
}

fn weekday(w: &str) -> Option<Weekday> {
    let w = w.trim_end_matches('s');
    Some(match w {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tues" | "tuesday" => Weekday::Tue,
        "wed" | "weds" | "wednesday" => Weekday::Wed,
        "thu" | "thur" | "thurs" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => return None,
    })
}

fn day_of_month(w: &str) -> Option<u32> {
    let digits = w.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let n: u32 = digits.parse().ok()?;
    (1..=31).contains(&n).then_some(n)
}

impl Repeat {
    /// Reads a rule; `Err` says what is accepted.
    pub fn parse(text: &str) -> Result<Repeat, String> {
        let lower = text.trim().to_lowercase();
        let words: Vec<&str> = lower
            .split_whitespace()
            .filter(|w| !matches!(*w, "every" | "on" | "the" | "of" | "each"))
            .collect();
        let r = match words.as_slice() {
            ["daily"] | ["day"] => Repeat::Daily,
            ["weekdays"] | ["weekday"] => Repeat::Weekdays,
            ["weekly"] | ["week"] => Repeat::Weekly(None),
            ["monthly"] | ["month"] => Repeat::Monthly(None),
            ["yearly"] | ["year"] | ["annually"] => Repeat::Yearly,
            [w] if weekday(w).is_some() => Repeat::Weekly(weekday(w)),
            ["weekly", w] if weekday(w).is_some() => Repeat::Weekly(weekday(w)),
            [d] | ["monthly", d] | [d, "month"] | ["month", d] if day_of_month(d).is_some() => {
                Repeat::Monthly(day_of_month(d))
            }
            _ => {
                return Err(format!(
                    "cannot read {text:?} as a repeat rule: try daily, weekdays, weekly, every monday, monthly, every 1st or yearly"
                ));
            }
        };
        Ok(r)
    }

    /// The rule as stored and shown (reads back to the same rule).
    pub fn as_text(&self) -> String {
        match self {
            Repeat::Daily => "daily".into(),
            Repeat::Weekdays => "weekdays".into(),
            Repeat::Weekly(None) => "weekly".into(),
            Repeat::Weekly(Some(w)) => format!("every {}", full(*w)),
            Repeat::Monthly(None) => "monthly".into(),
            Repeat::Monthly(Some(d)) => format!("monthly on the {d}{}", suffix(*d)),
            Repeat::Yearly => "yearly".into(),
        }
    }

    /// The next date strictly after `after` for a task first due on `due`
    /// (whose weekday or day of the month a bare weekly/monthly rule keeps).
    pub fn next(&self, due: NaiveDate, after: NaiveDate) -> Option<NaiveDate> {
        let mut d = after.succ_opt()?;
        match self {
            Repeat::Daily => Some(d),
            Repeat::Weekdays => {
                while matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
                    d = d.succ_opt()?;
                }
                Some(d)
            }
            Repeat::Weekly(w) => {
                let w = w.unwrap_or(due.weekday());
                let ahead = (7 + w.num_days_from_monday() - d.weekday().num_days_from_monday()) % 7;
                d.checked_add_signed(Duration::days(i64::from(ahead)))
            }
            Repeat::Monthly(day) => {
                let day = day.unwrap_or(due.day());
                // This month's, else the next month's (clamped to its end).
                for m in 0..3u32 {
                    let first = NaiveDate::from_ymd_opt(d.year(), d.month(), 1)?
                        .checked_add_months(Months::new(m))?;
                    let last = first.checked_add_months(Months::new(1))?.pred_opt()?;
                    let cand = first.with_day(day.min(last.day()))?;
                    if cand >= d {
                        return Some(cand);
                    }
                }
                None
            }
            Repeat::Yearly => {
                let mut y = d.year();
                loop {
                    let cand = NaiveDate::from_ymd_opt(y, due.month(), due.day())
                        .or_else(|| NaiveDate::from_ymd_opt(y, due.month(), 28))?;
                    if cand >= d {
                        return Some(cand);
                    }
                    y = y.checked_add(1)?;
                    if y > d.year() + 2 {
                        return None;
                    }
                }
            }
        }
    }
}

fn full(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

fn suffix(d: u32) -> &'static str {
    match (d % 10, d % 100) {
        (1, n) if n != 11 => "st",
        (2, n) if n != 12 => "nd",
        (3, n) if n != 13 => "rd",
        _ => "th",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn rules_read_and_write_back() {
        for (text, want) in [
            ("daily", Repeat::Daily),
            ("Every Day", Repeat::Daily),
            ("every weekday", Repeat::Weekdays),
            ("weekly", Repeat::Weekly(None)),
            ("every monday", Repeat::Weekly(Some(Weekday::Mon))),
            ("Mondays", Repeat::Weekly(Some(Weekday::Mon))),
            ("monthly", Repeat::Monthly(None)),
            ("every 1st", Repeat::Monthly(Some(1))),
            ("monthly on the 15th", Repeat::Monthly(Some(15))),
            ("on the 1st of the month", Repeat::Monthly(Some(1))),
            ("yearly", Repeat::Yearly),
        ] {
            let r = Repeat::parse(text).expect(text);
            assert_eq!(r, want, "{text}");
            assert_eq!(Repeat::parse(&r.as_text()), Ok(r), "{}", r.as_text());
        }
        for bad in ["", "sometimes", "every 32nd", "every 0th", "🙂"] {
            assert!(Repeat::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_next_date_follows_the_rule() {
        let mon = d("2026-11-30");
        assert_eq!(Repeat::Daily.next(mon, mon), Some(d("2026-12-01")));
        assert_eq!(
            Repeat::Weekdays.next(mon, d("2026-12-04")),
            Some(d("2026-12-07"))
        );
        assert_eq!(Repeat::Weekly(None).next(mon, mon), Some(d("2026-12-07")));
        assert_eq!(
            Repeat::Weekly(Some(Weekday::Fri)).next(mon, mon),
            Some(d("2026-12-04"))
        );
        // The 31st in a month without one: its last day.
        assert_eq!(
            Repeat::Monthly(None).next(d("2026-01-31"), d("2026-01-31")),
            Some(d("2026-02-28"))
        );
        assert_eq!(
            Repeat::Monthly(Some(1)).next(mon, mon),
            Some(d("2026-12-01"))
        );
        assert_eq!(
            Repeat::Yearly.next(d("2024-02-29"), d("2026-03-01")),
            Some(d("2027-02-28"))
        );
        // No panic at the end of time.
        assert_eq!(Repeat::Daily.next(NaiveDate::MAX, NaiveDate::MAX), None);
        let _ = Repeat::Monthly(Some(31)).next(NaiveDate::MAX, NaiveDate::MAX);
        let _ = Repeat::Yearly.next(NaiveDate::MAX, NaiveDate::MAX);
    }
}
