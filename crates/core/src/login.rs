//! Dashboard sign-in rules that need no I/O: when failed logins lock the
//! door, and for how long.
//!
//! **Invariant:** [`locked_until`] only looks at the failures it is given;
//! failures while locked are not recorded (so a locked door does not stay
//! locked forever under a stream of guesses), which the caller does.

use chrono::{DateTime, Duration, Utc};

/// Failed logins that lock the door…
pub const MAX_FAILURES: usize = 5;

/// …when they fall within this window…
pub fn window() -> Duration {
    Duration::minutes(15)
}

/// …for this long after the last of them.
pub fn lock() -> Duration {
    Duration::minutes(15)
}

/// How far back the failures that matter go.
pub fn look_back() -> Duration {
    window() + lock()
}

/// When login opens again, if `failures` (oldest first) lock it at `now`.
pub fn locked_until(failures: &[DateTime<Utc>], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    failures
        .windows(MAX_FAILURES)
        .filter(|w| w[MAX_FAILURES - 1] - w[0] <= window())
        .map(|w| w[MAX_FAILURES - 1] + lock())
        .max()
        .filter(|until| *until > now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(min: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::minutes(1_000) + Duration::minutes(min)
    }

    #[test]
    fn five_failures_in_fifteen_minutes_lock_for_fifteen() {
        let f: Vec<_> = [0, 2, 4, 6, 8].map(at).to_vec();
        assert_eq!(locked_until(&f[..4], at(9)), None, "four is not enough");
        assert_eq!(locked_until(&f, at(9)), Some(at(23)));
        assert_eq!(locked_until(&f, at(22)), Some(at(23)));
        assert_eq!(locked_until(&f, at(23)), None, "open again after 15 min");
    }

    #[test]
    fn failures_spread_out_never_lock() {
        let f: Vec<_> = [0, 4, 8, 12, 16, 20, 24].map(at).to_vec();
        assert_eq!(locked_until(&f, at(25)), None);
    }

    #[test]
    fn the_latest_burst_decides() {
        let f: Vec<_> = [0, 1, 2, 3, 4, 40, 41, 42, 43, 44].map(at).to_vec();
        assert_eq!(locked_until(&f, at(45)), Some(at(59)));
        assert_eq!(locked_until(&f[..5], at(10)), Some(at(19)));
        assert_eq!(
            locked_until(&f, at(20)),
            Some(at(59)),
            "the later lock wins"
        );
    }
}
