//! The time the scheduler and briefings go by: the real clock, or the real
//! clock shifted to start at a given instant (`openzero serve --clock`, for
//! trying a schedule, and for tests that need 07:29:58 on a DST morning).
//! Records keep real timestamps; only "what time is it for the schedule"
//! moves.

use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};

static OFFSET: OnceLock<Duration> = OnceLock::new();

/// Now, as the scheduler sees it.
pub fn now() -> DateTime<Utc> {
    Utc::now() + OFFSET.get().copied().unwrap_or_else(Duration::zero)
}

/// Makes [`now`] start at `at` and run on from there at real speed. Once
/// per process; false if the clock was already set.
pub fn start_at(at: DateTime<Utc>) -> bool {
    OFFSET.set(at - Utc::now()).is_ok()
}
