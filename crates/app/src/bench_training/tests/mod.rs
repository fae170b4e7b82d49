use super::fit_file::*;
use super::*;

#[test]
fn the_fit_crc_is_the_protocols() {
    // The FIT SDK's check value for "123456789" with this CRC (ARC).
    assert_eq!(fit_crc(0, b"123456789"), 0xBB3D);
}

#[test]
fn the_generated_fit_file_reads_back_as_a_run_of_that_many_hours() {
    let bytes = generated_fit(1, 7);
    let a = openzero_training::parse(&bytes).unwrap();
    assert_eq!(a.samples.len(), 3600);
    assert_eq!(a.sport, "running");
    assert_eq!(a.laps.len(), 1);
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
    assert_eq!(a.start(), fit_start());
    assert_eq!(a.elapsed_s(), 3599.0);
    assert_eq!(a.moving_s(), 3599.0);
    let s = &a.samples[100];
    assert!((s.lat.unwrap() - 48.15).abs() < 0.02, "{s:?}");
    assert!((s.lon.unwrap() - 11.575).abs() < 0.03, "{s:?}");
    assert!(s.altitude_m.unwrap() > 480.0 && s.altitude_m.unwrap() < 560.0);
    assert!(s.speed_mps.unwrap() > 2.5 && s.speed_mps.unwrap() < 3.3);
    assert!(s.cadence.is_some() && s.heart_rate.is_some());
    let d = a.distance_m();
    assert!(d > 9_500.0 && d < 11_000.0, "{d}");
    assert!((a.laps[0].distance_m.unwrap() - d).abs() < 5.0);
    assert_eq!(a.laps[0].elapsed_s, 3600.0);
    // Another serial number, other bytes, the same run.
    let other = generated_fit(1, 8);
    assert_ne!(bytes, other);
    assert_eq!(openzero_training::parse(&other).unwrap().samples, a.samples);
}

#[test]
fn five_years_of_daily_runs_are_1826_and_the_metrics_settle() {
    let today = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    let runs = daily_runs(5, today);
    assert_eq!(runs.len(), 1826);
    assert_eq!(
        runs.last().unwrap().start.date_naive(),
        today - Duration::days(1)
    );
    let rows: Vec<_> = runs
        .iter()
        .map(|r| (r.start.date_naive(), r.distance_m, r.moving_s, r.load))
        .collect();
    let goal = Goal {
        name: "Half marathon".into(),
        date: today + Duration::weeks(12),
        distance_m: 21_097.5,
        target_s: 6300.0,
    };
    let s = whole_history(&rows, today, &goal);
    // About 70 km and 450 TRIMP a week: a CTL near 65.
    assert!(s.ctl > 50.0 && s.ctl < 80.0, "{s:?}");
    assert_eq!(s.weeks, 261);
    assert!(s.predicted_s.is_some());
}

#[test]
fn the_table_says_whether_each_goal_was_met() {
    let mut f = fig("fit", "import", "ms", 120.0, false);
    assert_eq!(Row::new(f.clone(), Some(200.0), true).met, None);
    f.baseline = Some(300.0);
    assert_eq!(Row::new(f.clone(), Some(200.0), true).met, Some(true));
    f.baseline = Some(100.0);
    assert_eq!(Row::new(f.clone(), Some(200.0), true).met, Some(false));
    assert_eq!(Row::new(f.clone(), Some(100.0), false).met, Some(false));
    let md = markdown(&TrainingReport {
        figures: vec![Row::new(f, Some(200.0), true)],
        notes: vec!["a note".into()],
    });
    assert!(
        md.contains(
            "| import | 120.0 ms | 100.0 ms | 0.8× slower | ≤ 200 ms, faster than Python | **no** |"
        ),
        "{md}"
    );
}
