//! When jobs run: cron expressions evaluated in the owner's time zone,
//! correct across daylight-saving changes, and what to do after the service
//! was down (run a missed slot once if still inside its grace window, else
//! record it as missed). Pure: the caller passes the time in.
//!
//! **Invariants:** a slot is identified by its scheduled instant; a wall
//! time that happens twice (clocks go back) is one slot; a wall time that
//! does not exist (clocks go forward) still gets its slot, right after the
//! jump; at most one slot runs per decision, the latest due one.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

/// A parsed cron expression (5 fields: minute hour day-of-month month
/// day-of-week; `MON-FRI`, `*/15`, `L` and friends as croner reads them).
#[derive(Debug, Clone)]
pub struct Schedule {
    expr: String,
    cron: croner::Cron,
}

/// A cron expression that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{expr}' is not a cron expression ({why}); for example \"30 7 * * MON-FRI\" is 07:30 on weekdays"
)]
pub struct ScheduleError {
    pub expr: String,
    pub why: String,
}

impl Schedule {
    /// `None` for an empty expression: the job is disabled.
    pub fn parse(expr: &str) -> Result<Option<Self>, ScheduleError> {
        let expr = expr.trim();
        if expr.is_empty() {
            return Ok(None);
        }
        let cron = croner::parser::CronParser::builder()
            .build()
            .parse(expr)
            .map_err(|e| ScheduleError {
                expr: expr.to_owned(),
                why: e.to_string(),
            })?;
        Ok(Some(Self {
            expr: expr.to_owned(),
            cron,
        }))
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The first slot strictly after `after`, in `tz`.
    pub fn next_after(&self, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&after.with_timezone(&tz), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// Slots in `(after, until]`, oldest first, at most `cap` (the newest
    /// ones when there are more).
    pub fn slots(
        &self,
        tz: Tz,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        cap: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut t = after;
        while let Some(next) = self.next_after(tz, t) {
            if next > until {
                break;
            }
            out.push(next);
            if out.len() > cap {
                out.remove(0);
            }
            t = next;
        }
        out
    }
}

/// What to do with a job now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The slot to run now, if any (the latest due one, inside its grace).
    pub run: Option<DateTime<Utc>>,
    /// Due slots that will not run: record them as missed.
    pub missed: Vec<DateTime<Utc>>,
    /// When to look again.
    pub next: Option<DateTime<Utc>>,
}

/// Slots recorded as missed after a long absence, at most.
pub const MAX_MISSED: usize = 50;

/// Decides for a job whose latest recorded slot is `last` (`None`: none
/// yet, counting from `since`, when the job was first known), at `now`.
pub fn decide(
    schedule: &Schedule,
    tz: Tz,
    last: Option<DateTime<Utc>>,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    grace: Duration,
) -> Decision {
    let from = last.unwrap_or(since);
    let mut due = schedule.slots(tz, from, now, MAX_MISSED);
    let run = match due.last() {
        Some(&latest) if now - latest <= grace => {
            due.pop();
            Some(latest)
        }
        _ => None,
    };
    Decision {
        run,
        missed: due,
        next: schedule.next_after(tz, now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        tz.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .earliest()
            .expect("a valid local time")
            .with_timezone(&Utc)
    }

    fn local(tz: Tz, t: DateTime<Utc>) -> String {
        t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
    }

    fn daily(expr: &str) -> Schedule {
        Schedule::parse(expr).expect("parses").expect("enabled")
    }

    const BERLIN: Tz = chrono_tz::Europe::Berlin;
    const NEW_YORK: Tz = chrono_tz::America::New_York;

    #[test]
    fn empty_disables_and_nonsense_is_explained() {
        assert!(Schedule::parse("  ").unwrap().is_none());
        let err = Schedule::parse("every morning").unwrap_err();
        assert!(err.to_string().contains("30 7 * * MON-FRI"), "{err}");
    }

    #[test]
    fn weekday_briefing_stays_at_0730_local_across_both_changes() {
        let s = daily("30 7 * * MON-FRI");
        for (tz, from, to) in [
            (
                BERLIN,
                at(BERLIN, 2026, 3, 26, 0, 0),
                at(BERLIN, 2026, 4, 2, 0, 0),
            ),
            (
                BERLIN,
                at(BERLIN, 2026, 10, 22, 0, 0),
                at(BERLIN, 2026, 10, 29, 0, 0),
            ),
            (
                NEW_YORK,
                at(NEW_YORK, 2026, 3, 5, 0, 0),
                at(NEW_YORK, 2026, 3, 12, 0, 0),
            ),
            (
                NEW_YORK,
                at(NEW_YORK, 2026, 10, 29, 0, 0),
                at(NEW_YORK, 2026, 11, 5, 0, 0),
            ),
        ] {
            let slots = s.slots(tz, from, to, 100);
            assert_eq!(
                slots.len(),
                5,
                "{tz}: {:?}",
                slots.iter().map(|t| local(tz, *t)).collect::<Vec<_>>()
            );
            for t in &slots {
                assert_eq!(
                    t.with_timezone(&tz).format("%H:%M").to_string(),
                    "07:30",
                    "{tz}"
                );
            }
        }
    }

    #[test]
    fn a_time_inside_the_spring_gap_runs_once_right_after_the_jump() {
        // 2026-03-29 in Berlin: 02:00 jumps to 03:00; 02:30 does not exist.
        let s = daily("30 2 * * *");
        let slots = s.slots(
            BERLIN,
            at(BERLIN, 2026, 3, 28, 12, 0),
            at(BERLIN, 2026, 3, 30, 12, 0),
            10,
        );
        let shown: Vec<String> = slots.iter().map(|t| local(BERLIN, *t)).collect();
        assert_eq!(shown, ["2026-03-29 03:00 CEST", "2026-03-30 02:30 CEST"]);
        // New York, 2026-03-08: 02:00 jumps to 03:00.
        let slots = s.slots(
            NEW_YORK,
            at(NEW_YORK, 2026, 3, 8, 0, 0),
            at(NEW_YORK, 2026, 3, 8, 23, 0),
            10,
        );
        assert_eq!(
            slots.len(),
            1,
            "lost or doubled: {:?}",
            slots
                .iter()
                .map(|t| local(NEW_YORK, *t))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_time_inside_the_autumn_repeat_runs_once() {
        // 2026-10-25 in Berlin: 03:00 goes back to 02:00; 02:30 happens twice.
        let s = daily("30 2 * * *");
        let slots = s.slots(
            BERLIN,
            at(BERLIN, 2026, 10, 25, 0, 0),
            at(BERLIN, 2026, 10, 25, 23, 0),
            10,
        );
        assert_eq!(
            slots.len(),
            1,
            "{:?}",
            slots.iter().map(|t| local(BERLIN, *t)).collect::<Vec<_>>()
        );
        let s = daily("30 1 * * *");
        let slots = s.slots(
            NEW_YORK,
            at(NEW_YORK, 2026, 11, 1, 0, 0),
            at(NEW_YORK, 2026, 11, 1, 23, 0),
            10,
        );
        assert_eq!(
            slots.len(),
            1,
            "{:?}",
            slots
                .iter()
                .map(|t| local(NEW_YORK, *t))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn down_across_the_briefing_back_at_0815_runs_it_once_at_1100_it_is_missed() {
        let s = daily("30 7 * * MON-FRI");
        let grace = Duration::hours(3);
        // Last run Monday 07:30; down from Monday noon; Tuesday 24 Nov 2026.
        let last = Some(at(BERLIN, 2026, 11, 23, 7, 30));
        let since = at(BERLIN, 2026, 1, 1, 0, 0);
        let back = at(BERLIN, 2026, 11, 24, 8, 15);
        let d = decide(&s, BERLIN, last, since, back, grace);
        assert_eq!(d.run, Some(at(BERLIN, 2026, 11, 24, 7, 30)));
        assert!(d.missed.is_empty());
        assert_eq!(d.next, Some(at(BERLIN, 2026, 11, 25, 7, 30)));
        // After running it: a restart right after finds nothing to do.
        let again = decide(&s, BERLIN, d.run, since, back + Duration::minutes(1), grace);
        assert_eq!(again.run, None);
        assert!(again.missed.is_empty());
        // Back at 11:00 instead: outside the grace window, recorded as missed.
        let late = decide(
            &s,
            BERLIN,
            last,
            since,
            at(BERLIN, 2026, 11, 24, 11, 0),
            grace,
        );
        assert_eq!(late.run, None);
        assert_eq!(late.missed, vec![at(BERLIN, 2026, 11, 24, 7, 30)]);
    }

    #[test]
    fn after_days_away_only_the_latest_slot_may_run() {
        let s = daily("30 7 * * MON-FRI");
        let last = at(BERLIN, 2026, 11, 16, 7, 30);
        let d = decide(
            &s,
            BERLIN,
            Some(last),
            last,
            at(BERLIN, 2026, 11, 24, 8, 0),
            Duration::hours(3),
        );
        assert_eq!(d.run, Some(at(BERLIN, 2026, 11, 24, 7, 30)));
        assert_eq!(d.missed.len(), 5, "Tue–Fri and Mon of the week away");
        // A brand-new job does not run its past.
        let fresh = decide(
            &s,
            BERLIN,
            None,
            at(BERLIN, 2026, 11, 24, 7, 45),
            at(BERLIN, 2026, 11, 24, 7, 46),
            Duration::hours(3),
        );
        assert_eq!(fresh.run, None);
        assert!(fresh.missed.is_empty());
    }

    #[test]
    fn weekly_and_monthly_reviews() {
        let weekly = daily("0 10 * * SUN");
        let n = weekly
            .next_after(BERLIN, at(BERLIN, 2026, 11, 24, 12, 0))
            .unwrap();
        assert_eq!(local(BERLIN, n), "2026-11-29 10:00 CET");
        let monthly = daily("0 9 1 * *");
        let n = monthly
            .next_after(NEW_YORK, at(NEW_YORK, 2026, 11, 24, 12, 0))
            .unwrap();
        assert_eq!(local(NEW_YORK, n), "2026-12-01 09:00 EST");
    }
}
