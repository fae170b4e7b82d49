//! `openzero bench calendar`: parsing and expanding a year of a 1,000-event
//! calendar with 200 recurring series (generated, the same every run:
//! weekly, daily, monthly and yearly rules with BYDAY, COUNT, UNTIL,
//! EXDATEs, moved and cancelled instances, all-day events, four zones and
//! their daylight-saving changes), and optionally real-world files, each
//! beside the reference implementation (Python's icalendar +
//! recurring-ical-events, `scripts/calendar-reference bench`) run on the
//! same files in the same run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use chrono_tz::Tz;
use openzero_core::calendar::midnight;

use crate::AppError;
use crate::bench::{Report, fig, machine, median};

/// What to measure.
#[derive(Debug, Clone)]
pub struct Options {
    /// Extra real-world `.ics` files or directories.
    pub files: Vec<PathBuf>,
    /// `scripts/calendar-reference` (none: no baseline).
    pub reference: Option<PathBuf>,
    /// Timed runs per side (the median is reported).
    pub repeat: usize,
    /// Scratch directory for the generated calendar.
    pub work_dir: PathBuf,
}

/// The target the issue sets: a year of the generated calendar, in ms.
pub const TARGET_MS: f64 = 50.0;

const ZONES: [&str; 4] = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
];

/// 1,000 events, 200 of them recurring series, deterministic.
pub fn generated_calendar() -> String {
    let mut s = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//OpenZero//bench//EN\r\n");
    // A small linear congruential generator: the same calendar every run.
    let mut seed: u64 = 0x2026_1130;
    let mut next = |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let base = NaiveDate::from_ymd_opt(2025, 1, 6).unwrap_or_default();
    for i in 0..1000u64 {
        let zone = ZONES[(i % 4) as usize];
        let day = base + chrono::Duration::days(next(700) as i64);
        let hour = 7 + next(11);
        let minute = [0, 15, 30, 45][next(4) as usize];
        let start = format!("{}T{hour:02}{minute:02}00", day.format("%Y%m%d"));
        let len = [30, 45, 60, 90][next(4) as usize];
        let _ = write!(
            s,
            "BEGIN:VEVENT\r\nUID:bench-{i}@openzero\r\nDTSTAMP:20250101T000000Z\r\nSUMMARY:Event {i}\r\n"
        );
        if i % 25 == 0 {
            // All-day.
            let _ = write!(
                s,
                "DTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\n",
                day.format("%Y%m%d"),
                (day + chrono::Duration::days(1 + next(3) as i64)).format("%Y%m%d")
            );
        } else {
            let _ = write!(s, "DTSTART;TZID={zone}:{start}\r\nDURATION:PT{len}M\r\n");
        }
        let recurring = i % 5 == 0;
        if recurring {
            let rule = match (i / 5) % 6 {
                0 => "FREQ=WEEKLY;BYDAY=MO,WE".to_string(),
                1 => "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR".to_string(),
                2 => "FREQ=MONTHLY;BYDAY=2TU".to_string(),
                3 => format!("FREQ=WEEKLY;INTERVAL=2;COUNT={}", 10 + next(60)),
                4 => "FREQ=YEARLY".to_string(),
                _ => "FREQ=WEEKLY;UNTIL=20271231T235959Z".to_string(),
            };
            let _ = write!(s, "RRULE:{rule}\r\n");
            if i % 2 == 0 && i % 25 != 0 {
                let ex = day + chrono::Duration::days(7 * (1 + next(20) as i64));
                let _ = write!(
                    s,
                    "EXDATE;TZID={zone}:{}T{hour:02}{minute:02}00\r\n",
                    ex.format("%Y%m%d")
                );
            }
        }
        s.push_str("END:VEVENT\r\n");
        // Moved and cancelled instances of some weekly series.
        if recurring && (i / 5) % 6 == 0 && i % 25 != 0 {
            let orig = day + chrono::Duration::days(7 * (2 + next(30) as i64));
            let orig = format!("{}T{hour:02}{minute:02}00", orig.format("%Y%m%d"));
            let _ = write!(
                s,
                "BEGIN:VEVENT\r\nUID:bench-{i}@openzero\r\nDTSTAMP:20250101T000000Z\r\n\
                 SUMMARY:Event {i} (moved)\r\nRECURRENCE-ID;TZID={zone}:{orig}\r\n\
                 DTSTART;TZID={zone}:{}\r\nDURATION:PT{len}M\r\n{}END:VEVENT\r\n",
                orig.replace(
                    &format!("T{hour:02}"),
                    &format!("T{:02}", (hour + 1).min(22))
                ),
                if i % 2 == 0 {
                    "STATUS:CANCELLED\r\n"
                } else {
                    ""
                }
            );
        }
    }
    s.push_str("END:VCALENDAR\r\n");
    s
}

/// Parse + expand `texts` over `[from, to)` in `tz`, `repeat` times: the
/// median seconds per run and the occurrences of one run.
fn ours(texts: &[Vec<u8>], tz: Tz, from: NaiveDate, to: NaiveDate, repeat: usize) -> (f64, usize) {
    let mut times = Vec::new();
    let mut count = 0;
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        count = 0;
        for text in texts {
            let cal = openzero_calendar::parse(text);
            let (occ, _) = openzero_calendar::expand(
                &cal.events,
                "bench",
                tz,
                midnight(tz, from),
                midnight(tz, to),
            );
            count += occ.len();
        }
        times.push(t.elapsed().as_secs_f64());
    }
    (median(times), count)
}

/// The reference's seconds per run on `files`, or why not.
fn reference(
    script: &Path,
    files: &[PathBuf],
    tz: &str,
    from: NaiveDate,
    to: NaiveDate,
    repeat: usize,
) -> Result<(f64, usize), String> {
    let out = std::process::Command::new(script)
        .args([
            "bench",
            "--tz",
            tz,
            "--from",
            &from.to_string(),
            "--to",
            &to.to_string(),
        ])
        .args(["--repeat", &repeat.max(1).to_string()])
        .args(files)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("unreadable answer from the reference: {e}"))?;
    let secs = v["seconds_per_run"]
        .as_f64()
        .ok_or("the reference gave no seconds_per_run")?;
    let n = v["occurrences"].as_u64().unwrap_or(0) as usize;
    Ok((secs, n))
}

fn ics_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            if let Ok(rd) = std::fs::read_dir(&p) {
                stack.extend(rd.filter_map(|e| e.ok().map(|e| e.path())));
            }
        } else if p.extension().is_some_and(|x| x.eq_ignore_ascii_case("ics")) {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Runs the calendar benchmarks. `say` receives progress lines.
pub fn calendar(opts: &Options, say: &(dyn Fn(&str) + Sync)) -> Result<Report, AppError> {
    let mut report = Report {
        figures: Vec::new(),
        notes: vec![machine()],
    };
    let tz_name = "Europe/Berlin";
    let tz: Tz = tz_name
        .parse()
        .map_err(|_| AppError::Invalid("zone".into()))?;
    let (from, to) = (
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default(),
        NaiveDate::from_ymd_opt(2027, 1, 1).unwrap_or_default(),
    );
    std::fs::create_dir_all(&opts.work_dir)
        .map_err(|e| AppError::Invalid(format!("{}: {e}", opts.work_dir.display())))?;
    let generated = opts.work_dir.join("bench-1000-events.ics");
    std::fs::write(&generated, generated_calendar())
        .map_err(|e| AppError::Invalid(format!("{}: {e}", generated.display())))?;
    let mut sets: Vec<(String, Vec<PathBuf>)> = vec![(
        "a year of 1,000 events, 200 recurring (generated)".into(),
        vec![generated],
    )];
    let real = ics_files(&opts.files);
    if !real.is_empty() {
        sets.push((format!("a year of {} real-world files", real.len()), real));
    }
    for (label, files) in sets {
        let texts: Vec<Vec<u8>> = files.iter().filter_map(|f| std::fs::read(f).ok()).collect();
        say(&format!("{label}: OpenZero"));
        let (secs, n) = ours(&texts, tz, from, to, opts.repeat);
        report
            .notes
            .push(format!("{label}: {n} occurrences in {tz_name}, 2026"));
        let mut f = fig(
            "calendar",
            &format!("parse + expand {label}"),
            "ms",
            secs * 1000.0,
            false,
        );
        if let Some(script) = &opts.reference {
            say(&format!("{label}: reference"));
            match reference(script, &files, tz_name, from, to, opts.repeat) {
                Ok((rs, rn)) => {
                    f.baseline = Some(rs * 1000.0);
                    f.baseline_name = "Python icalendar + recurring-ical-events".into();
                    report
                        .notes
                        .push(format!("{label}: the reference found {rn} occurrences"));
                }
                Err(e) => report.notes.push(format!("{label}: no baseline: {e}")),
            }
        }
        report.figures.push(f);
    }
    if opts.reference.is_none() {
        report
            .notes
            .push("reference not measured (give --reference scripts/calendar-reference)".into());
    }
    report.notes.push(format!(
        "target: the generated year in ≤ {TARGET_MS} ms and faster than the reference"
    ));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_calendar_has_1000_events_and_200_series_and_expands() {
        let text = generated_calendar();
        let cal = openzero_calendar::parse(text.as_bytes());
        assert!(cal.problems.is_empty(), "{:?}", cal.problems.first());
        let masters = cal
            .events
            .iter()
            .filter(|e| e.recurrence_id.is_none())
            .count();
        let series = cal
            .events
            .iter()
            .filter(|e| e.recurrence_id.is_none() && !e.rrules.is_empty())
            .count();
        assert_eq!((masters, series), (1000, 200));
        let tz: Tz = "Europe/Berlin".parse().expect("zone");
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
        let (occ, problems) = openzero_calendar::expand(
            &cal.events,
            "b",
            tz,
            midnight(tz, d(2026, 1, 1)),
            midnight(tz, d(2027, 1, 1)),
        );
        assert!(problems.is_empty(), "{:?}", problems.first());
        assert!(occ.len() > 5_000, "only {} occurrences", occ.len());
    }
}
