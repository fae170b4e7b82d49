//! Strava's rate limits, read from each answer's headers, never assumed:
//! `X-RateLimit-Limit: 200,2000` and `X-RateLimit-Usage: 12,345` (per 15
//! minutes, per day), and the newer read limits `X-ReadRateLimit-*`. The
//! 15-minute windows start at 0, 15, 30 and 45 past the hour; the day
//! starts at midnight UTC (Strava's "Rate Limits" page).

use chrono::{DateTime, Duration, DurationRound, Utc};
use reqwest::header::HeaderMap;
use serde::Serialize;

/// One limit's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    pub limit: u32,
    pub usage: u32,
}

/// What the last answer said about the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RateLimits {
    pub short: Window,
    pub daily: Window,
}

impl RateLimits {
    /// The tighter of the overall and the read limits, from an answer's
    /// headers; `None` when it carried none.
    pub fn from_headers(h: &HeaderMap) -> Option<Self> {
        let pair = |name: &str| -> Option<(u32, u32)> {
            let v = h.get(name)?.to_str().ok()?;
            let mut it = v.split(',').map(|p| p.trim().parse::<u32>());
            Some((it.next()?.ok()?, it.next()?.ok()?))
        };
        let of = |limit: &str, usage: &str| -> Option<Self> {
            let (l15, lday) = pair(limit)?;
            let (u15, uday) = pair(usage)?;
            Some(Self {
                short: Window {
                    limit: l15,
                    usage: u15,
                },
                daily: Window {
                    limit: lday,
                    usage: uday,
                },
            })
        };
        let overall = of("x-ratelimit-limit", "x-ratelimit-usage");
        let read = of("x-readratelimit-limit", "x-readratelimit-usage");
        match (overall, read) {
            (Some(a), Some(b)) => Some(Self {
                short: tighter(a.short, b.short),
                daily: tighter(a.daily, b.daily),
            }),
            (a, b) => a.or(b),
        }
    }

    /// Requests left before either window is spent.
    pub fn room(&self) -> u32 {
        let left = |w: Window| w.limit.saturating_sub(w.usage);
        left(self.short).min(left(self.daily))
    }

    /// When there is room again, if there is none now (keeping `margin`
    /// requests for the webhook's fetches): the next quarter hour, or the
    /// next UTC midnight when the day is spent.
    pub fn wait_until(&self, now: DateTime<Utc>, margin: u32) -> Option<DateTime<Utc>> {
        if self.daily.usage + margin >= self.daily.limit {
            return Some(next_day(now));
        }
        if self.short.usage + margin >= self.short.limit {
            return Some(next_quarter(now));
        }
        None
    }
}

fn tighter(a: Window, b: Window) -> Window {
    if a.limit.saturating_sub(a.usage) <= b.limit.saturating_sub(b.usage) {
        a
    } else {
        b
    }
}

/// The start of the next 15-minute window.
pub fn next_quarter(now: DateTime<Utc>) -> DateTime<Utc> {
    now.duration_trunc(Duration::minutes(15)).unwrap_or(now) + Duration::minutes(15)
}

/// The next midnight UTC.
pub fn next_day(now: DateTime<Utc>) -> DateTime<Utc> {
    now.duration_trunc(Duration::days(1)).unwrap_or(now) + Duration::days(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_tighter_limit_counts_and_windows_end_on_the_quarter_and_the_day() {
        let h = headers(&[
            ("x-ratelimit-limit", "200,2000"),
            ("x-ratelimit-usage", "10,100"),
            ("x-readratelimit-limit", "100,1000"),
            ("x-readratelimit-usage", "98,120"),
        ]);
        let r = RateLimits::from_headers(&h).expect("limits");
        assert_eq!(
            r.short,
            Window {
                limit: 100,
                usage: 98
            }
        );
        assert_eq!(r.room(), 2);
        let now: DateTime<Utc> = "2026-11-30T10:52:10Z".parse().expect("time");
        assert_eq!(
            r.wait_until(now, 5),
            Some("2026-11-30T11:00:00Z".parse().expect("time"))
        );
        assert_eq!(r.wait_until(now, 0), None);
        let spent = headers(&[
            ("x-ratelimit-limit", "200,2000"),
            ("x-ratelimit-usage", "3,2000"),
        ]);
        let r = RateLimits::from_headers(&spent).expect("limits");
        assert_eq!(
            r.wait_until(now, 0),
            Some("2026-12-01T00:00:00Z".parse().expect("time"))
        );
        assert_eq!(
            RateLimits::from_headers(&headers(&[("x-ratelimit-limit", "oops")])),
            None
        );
    }
}
