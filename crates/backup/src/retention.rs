//! Which backups a retention keeps.

use chrono::{DateTime, Utc};

/// How many copies a retention keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keep {
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
}

/// Which backups a retention removes: it keeps the newest backup of each of
/// the `daily` most recent days that have one, of the `weekly` most recent
/// ISO weeks and of the `monthly` most recent months (days, weeks and
/// months in the owner's zone `tz`), and always the newest of all.
pub fn to_remove<T: Clone>(
    backups: &[(T, DateTime<Utc>)],
    tz: chrono_tz::Tz,
    keep: Keep,
) -> Vec<T> {
    use chrono::Datelike;
    let mut order: Vec<usize> = (0..backups.len()).collect();
    order.sort_by_key(|i| std::cmp::Reverse(backups[*i].1));
    let mut kept = vec![false; backups.len()];
    if let Some(first) = order.first() {
        kept[*first] = true;
    }
    let mut bucket = |n: u32, key: &dyn Fn(DateTime<Utc>) -> (i32, u32)| {
        let mut seen: Vec<(i32, u32)> = Vec::new();
        for &i in &order {
            let k = key(backups[i].1);
            if seen.contains(&k) {
                continue;
            }
            if seen.len() as u32 >= n {
                break;
            }
            seen.push(k);
            kept[i] = true;
        }
    };
    bucket(keep.daily, &|t| {
        let d = t.with_timezone(&tz).date_naive();
        (d.year(), d.ordinal())
    });
    bucket(keep.weekly, &|t| {
        let w = t.with_timezone(&tz).date_naive().iso_week();
        (w.year(), w.week())
    });
    bucket(keep.monthly, &|t| {
        let d = t.with_timezone(&tz).date_naive();
        (d.year(), d.month())
    });
    order
        .into_iter()
        .filter(|i| !kept[*i])
        .map(|i| backups[i].0.clone())
        .collect()
}

#[cfg(test)]
mod retention_tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn thirty_dailies_keep_the_newest_of_each_day_and_drop_the_rest() {
        // 40 days of one backup at 03:00 plus a manual one on the last day.
        let mut b: Vec<(String, DateTime<Utc>)> = (0..40)
            .map(|d| {
                let t = at("2026-10-22T03:00:00Z") + chrono::Duration::days(d);
                (t.to_rfc3339(), t)
            })
            .collect();
        b.push(("manual".into(), at("2026-11-30T12:00:00Z")));
        let keep = Keep {
            daily: 30,
            weekly: 0,
            monthly: 0,
        };
        let gone = to_remove(&b, chrono_tz::UTC, keep);
        // 41 backups over 40 days: 30 days kept (one each), 11 removed —
        // the 10 oldest days and the older of the last day's two.
        assert_eq!(gone.len(), 11);
        assert!(gone.contains(&at("2026-11-30T03:00:00Z").to_rfc3339()));
        assert!(!gone.contains(&"manual".to_string()));
        assert!(gone.contains(&at("2026-10-22T03:00:00Z").to_rfc3339()));
        assert!(!gone.contains(&at("2026-11-01T03:00:00Z").to_rfc3339()));
    }

    #[test]
    fn weeks_and_months_reach_further_back_and_days_follow_the_owners_zone() {
        let b: Vec<(u32, DateTime<Utc>)> = (0..120)
            .map(|d| {
                (
                    d,
                    at("2026-08-02T23:30:00Z") + chrono::Duration::days(i64::from(d)),
                )
            })
            .collect();
        let keep = Keep {
            daily: 7,
            weekly: 4,
            monthly: 3,
        };
        let gone = to_remove(&b, chrono_tz::Europe::Berlin, keep);
        let kept: Vec<u32> = (0..120).filter(|d| !gone.contains(d)).collect();
        // 7 days, then Sundays of 4 weeks (3 beyond the dailies), then
        // month ends (in Berlin, 23:30 UTC is already the next day).
        assert!(kept.len() >= 7 + 3 && kept.len() <= 7 + 4 + 3, "{kept:?}");
        assert!(kept.contains(&119));
        assert!(!kept.contains(&0));
        let none = to_remove(
            &b,
            chrono_tz::UTC,
            Keep {
                daily: 0,
                weekly: 0,
                monthly: 0,
            },
        );
        assert_eq!(none.len(), 119, "the newest is always kept");
    }
}
