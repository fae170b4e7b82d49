//! Five years of generated daily runs: the metrics in memory and as
//! `training metrics` + `training goal` run on a store, beside Python.

use super::*;

/// One generated run.
#[derive(Debug, Clone, Copy)]
pub(super) struct Run {
    pub(super) start: DateTime<Utc>,
    pub(super) distance_m: f64,
    pub(super) moving_s: f64,
    pub(super) load: f64,
}

/// A run every day for `years` years up to yesterday, at noon UTC, the same
/// every run for the same `today`: easy runs, intervals on Tuesdays, tempo
/// on Thursdays, a short one on Fridays and a long run on Sundays that
/// grows through each 12-week block; paces and TRIMP per minute as such
/// runs give (easy 5:45 /km and about 1 a minute, tempo 4:50 and 1.8…).
pub(super) fn daily_runs(years: u32, today: NaiveDate) -> Vec<Run> {
    let days = (f64::from(years) * 365.25).round() as i64;
    let mut seed: u64 = 0x0017_2026;
    let mut jitter = || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        0.9 + 0.2 * ((seed >> 33) % 1000) as f64 / 1000.0
    };
    (0..days)
        .map(|i| {
            let date = today - Duration::days(days - i);
            let block_week = (i / 7) % 12;
            let (km, pace_s, per_min) = match date.weekday() {
                chrono::Weekday::Tue => (10.0, 310.0, 2.0),
                chrono::Weekday::Thu => (12.0, 290.0, 1.8),
                chrono::Weekday::Fri => (6.0, 370.0, 0.8),
                chrono::Weekday::Sun => (16.0 + block_week as f64 * 0.6, 350.0, 1.2),
                _ => (8.0, 345.0, 1.0),
            };
            let distance_m = km * 1000.0 * jitter();
            let moving_s = distance_m / 1000.0 * pace_s * jitter().sqrt();
            Run {
                start: date.and_hms_opt(12, 0, 0).unwrap_or_default().and_utc(),
                distance_m,
                moving_s,
                load: moving_s / 60.0 * per_min * jitter(),
            }
        })
        .collect()
}

/// What the pure functions say over the whole history.
#[derive(Debug, Clone, Copy)]
pub(super) struct Summary {
    pub(super) ctl: f64,
    pub(super) atl: f64,
    pub(super) tsb: f64,
    pub(super) weeks: usize,
    pub(super) km: f64,
    pub(super) predicted_s: Option<f64>,
    pub(super) race_day_tsb: f64,
}

/// Form from the first run to today, the acute:chronic ratio, the volume
/// of every week and the goal's status, over `runs` (day, m, s, load).
pub(super) fn whole_history(
    runs: &[(NaiveDate, f64, f64, f64)],
    today: NaiveDate,
    goal: &Goal,
) -> Summary {
    let first = runs.iter().map(|r| r.0).min().unwrap_or(today);
    let loads: Vec<(NaiveDate, f64)> = runs.iter().map(|r| (r.0, r.3)).collect();
    let chart = metrics::form(&loads, first, today);
    let (ctl, atl, tsb) = chart
        .last()
        .map_or((0.0, 0.0, 0.0), |d| (d.ctl, d.atl, d.tsb));
    if let Some(d) = chart.last() {
        std::hint::black_box(metrics::acute_chronic(d));
    }
    let weeks = metrics::weekly(runs, today, ((today - first).num_days() / 7 + 1) as u32);
    let efforts: Vec<(NaiveDate, f64, f64)> = runs.iter().map(|r| (r.0, r.1, r.2)).collect();
    let status = metrics::goal_status(goal, today, first, &loads, &efforts);
    Summary {
        ctl,
        atl,
        tsb,
        weeks: weeks.len(),
        km: weeks.iter().map(|w| w.distance_m).sum::<f64>() / 1000.0,
        predicted_s: status.predicted_s,
        race_day_tsb: status.race_day_tsb,
    }
}

/// Whether two figures agree to `eps`.
pub(super) fn agree(a: f64, b: Option<f64>, eps: f64) -> bool {
    b.is_some_and(|b| (a - b).abs() <= eps)
}

pub(super) async fn metrics_bench(
    loaded: &Loaded,
    opts: &Options,
    report: &mut TrainingReport,
    say: &(dyn Fn(&str) + Sync),
) -> Result<(), AppError> {
    let repeat = opts.repeat.max(1);
    let dir = opts.work_dir.join("metrics");
    std::fs::create_dir_all(&dir).map_err(|e| AppError::Invalid(e.to_string()))?;
    let store: Arc<dyn Store> =
        Arc::new(openzero_store_sqlite::SqliteStore::open(&dir.join("bench.db")).await?);
    let services = Services::new(loaded.clone(), store, Vec::new());
    let result = metrics_in(&services, opts, repeat, report, say).await;
    services.store.close().await;
    result
}

pub(super) async fn metrics_in(
    services: &Services,
    opts: &Options,
    repeat: usize,
    report: &mut TrainingReport,
    say: &(dyn Fn(&str) + Sync),
) -> Result<(), AppError> {
    let dir = opts.work_dir.join("metrics");
    let tz = services.tz();
    let today = clock::now().with_timezone(&tz).date_naive();
    let runs = daily_runs(opts.years.max(1), today);
    let rows: Vec<(NaiveDate, f64, f64, f64)> = runs
        .iter()
        .map(|r| {
            (
                r.start.with_timezone(&tz).date_naive(),
                r.distance_m,
                r.moving_s,
                r.load,
            )
        })
        .collect();
    let goal_date = today + Duration::weeks(12);
    let goal = Goal {
        name: "Half marathon".into(),
        date: goal_date,
        distance_m: 21_097.5,
        target_s: 6300.0,
    };
    let label = format!("{} years of daily runs ({})", opts.years.max(1), runs.len());

    // The pure functions over the whole history.
    say(&format!("{label}: the metrics in memory"));
    let mut times = Vec::new();
    let mut ours = None;
    for _ in 0..repeat {
        let t = Instant::now();
        let s = whole_history(&rows, today, &goal);
        times.push(ms_since(t));
        ours = Some(s);
    }
    let mut pure = fig(
        "metrics",
        &format!(
            "{label}: form (CTL/ATL/TSB) every day, acute:chronic, every week's volume, \
             goal status (in memory)"
        ),
        "ms",
        median(times),
        false,
    );

    // The real path: a store holding those runs, each with its samples.
    say(&format!("{label}: filling a SQLite store"));
    let samples = serde_json::to_string(&stored_samples(opts.samples_per_run))
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let filled = Instant::now();
    for (i, r) in runs.iter().enumerate() {
        services
            .store
            .activity_add(
                &NewActivity {
                    source: "bench".into(),
                    external_id: format!("run-{i}"),
                    sport: "running".into(),
                    name: None,
                    start_at: r.start,
                    elapsed_s: r.moving_s,
                    moving_s: r.moving_s,
                    distance_m: r.distance_m,
                    avg_hr: Some(145.0),
                    trimp: Some(r.load),
                    efficiency: None,
                    samples: samples.clone(),
                    laps: "[]".into(),
                },
                clock::now(),
            )
            .await?;
    }
    report.notes.push(format!(
        "{label}: the store keeps {} samples with each run, as an import keeps them ({} KB of \
         JSON a run; 3,600 is an hour at 1 Hz), filled in {:.1} s",
        opts.samples_per_run,
        samples.len() / 1000,
        filled.elapsed().as_secs_f64()
    ));
    crate::training_coach::set_goal(services, "Half marathon", &goal_date.to_string(), "1:45:00")
        .await?;
    say(&format!("{label}: `training metrics` + `training goal`"));
    let mut times = Vec::new();
    let mut real = None;
    for _ in 0..repeat {
        let t = Instant::now();
        let m = crate::training_coach::metrics(services, 4).await?;
        let g = crate::training_coach::goal(services).await?;
        times.push(ms_since(t));
        real = Some((m, g));
    }
    let mut store = fig(
        "metrics",
        &format!(
            "{label}: `training metrics` + `training goal` as they run (SQLite store, last 180 \
             days)"
        ),
        "ms",
        median(times),
        false,
    );
    // Where that time goes: the store's read of every activity (each of
    // the two commands reads them once).
    let mut reads = Vec::new();
    for _ in 0..repeat {
        let t = Instant::now();
        std::hint::black_box(services.store.activities(100_000).await?);
        reads.push(ms_since(t));
    }
    let read = fig(
        "metrics",
        &format!("{label}: of which one read of every activity from the store"),
        "ms",
        median(reads),
        false,
    );

    if let Some(s) = &ours {
        report.notes.push(format!(
            "{label}, in memory: OpenZero's CTL {:.2}, ATL {:.2}, TSB {:+.2}, {} weeks, {:.0} km, \
             prediction {}, race-day TSB {:+.2}",
            s.ctl,
            s.atl,
            s.tsb,
            s.weeks,
            s.km,
            s.predicted_s.map_or("none".into(), metrics::clock),
            s.race_day_tsb
        ));
    }
    if let Some((m, g)) = &real {
        report.notes.push(format!(
            "{label}, from the store: OpenZero's CTL {:.2}, ATL {:.2}, TSB {:+.2}, race-day TSB {}",
            m.ctl,
            m.atl,
            m.tsb,
            g.as_ref()
                .map_or("none".into(), |g| format!("{:+.1}", g.race_day_tsb))
        ));
    }
    if let Some(py) = &opts.python {
        say(&format!("{label}: Python reference"));
        let json_path = dir.join("runs.json");
        let data = serde_json::json!({
            "today": today.to_string(),
            "goal": {"date": goal_date.to_string(), "distance_m": goal.distance_m},
            "runs": rows.iter().map(|(d, m, s, l)| serde_json::json!([d.to_string(), m, s, l])).collect::<Vec<_>>(),
        });
        std::fs::write(&json_path, data.to_string())
            .map_err(|e| AppError::Invalid(e.to_string()))?;
        let args = vec![
            "metrics".into(),
            "--repeat".into(),
            repeat.to_string(),
            json_path.display().to_string(),
        ];
        match reference(py, &opts.work_dir, &args) {
            Ok(v) => {
                if let Ok(ms) = secs_ms(&v, "seconds") {
                    pure.baseline = Some(ms);
                    pure.baseline_name = "plain Python, the same formulas".into();
                }
                let same = ours.is_some_and(|s| {
                    agree(s.ctl, v["ctl"].as_f64(), 1e-6)
                        && agree(s.atl, v["atl"].as_f64(), 1e-6)
                        && agree(s.tsb, v["tsb"].as_f64(), 1e-6)
                        && agree(s.km, v["km"].as_f64(), 1e-3)
                        && agree(s.race_day_tsb, v["race_day_tsb"].as_f64(), 1e-6)
                        && v["weeks"].as_u64() == Some(s.weeks as u64)
                });
                report.notes.push(format!(
                    "{label}, in memory: the reference's CTL {:.2}, ATL {:.2}, TSB {:+.2}, {} weeks, \
                     race-day TSB {:+.2}: {}",
                    v["ctl"].as_f64().unwrap_or(f64::NAN),
                    v["atl"].as_f64().unwrap_or(f64::NAN),
                    v["tsb"].as_f64().unwrap_or(f64::NAN),
                    v["weeks"],
                    v["race_day_tsb"].as_f64().unwrap_or(f64::NAN),
                    if same { "the same figures" } else { "**figures differ**" }
                ));
            }
            Err(e) => report
                .notes
                .push(format!("{label}: Python reference not measured: {e}")),
        }
        let args = vec![
            "store".into(),
            "--repeat".into(),
            repeat.to_string(),
            "--db".into(),
            dir.join("bench.db").display().to_string(),
            "--tz".into(),
            tz.name().to_owned(),
            "--today".into(),
            today.to_string(),
            "--goal-date".into(),
            goal_date.to_string(),
            "--goal-m".into(),
            goal.distance_m.to_string(),
        ];
        match reference(py, &opts.work_dir, &args) {
            Ok(v) => {
                if let Ok(ms) = secs_ms(&v, "seconds") {
                    store.baseline = Some(ms);
                    store.baseline_name = "Python sqlite3 + the same formulas".into();
                }
                let same = real.as_ref().is_some_and(|(m, g)| {
                    agree(m.ctl, v["ctl"].as_f64(), 1e-6)
                        && agree(m.atl, v["atl"].as_f64(), 1e-6)
                        && agree(m.tsb, v["tsb"].as_f64(), 1e-6)
                        && g.as_ref().is_some_and(|g| {
                            agree(
                                g.race_day_tsb,
                                v["race_day_tsb"]
                                    .as_f64()
                                    .map(|x| (x * 10.0).round() / 10.0),
                                1e-9,
                            )
                        })
                });
                report.notes.push(format!(
                    "{label}, from the store: the reference's CTL {:.2}, ATL {:.2}, TSB {:+.2}: {}",
                    v["ctl"].as_f64().unwrap_or(f64::NAN),
                    v["atl"].as_f64().unwrap_or(f64::NAN),
                    v["tsb"].as_f64().unwrap_or(f64::NAN),
                    if same {
                        "the same figures"
                    } else {
                        "**figures differ**"
                    }
                ));
            }
            Err(e) => report.notes.push(format!(
                "{label}: Python reference (store) not measured: {e}"
            )),
        }
    }
    report
        .figures
        .push(Row::new(pure, Some(METRICS_TARGET_MS), false));
    report
        .figures
        .push(Row::new(store, Some(METRICS_TARGET_MS), false));
    report.figures.push(Row::new(read, None, false));
    report.notes.push(format!(
        "metrics: median of {repeat} runs a side, today {today} in {}; target ≤ \
         {METRICS_TARGET_MS} ms",
        tz.name()
    ));
    Ok(())
}

/// `n` samples of a run at 1 Hz, as an import keeps them.
pub(super) fn stored_samples(n: usize) -> Vec<Sample> {
    let start = fit_start();
    (0..n)
        .map(|i| {
            let t = i as f64;
            let mut s = Sample::at(start + Duration::seconds(i as i64));
            s.lat = Some(48.137 + 0.01 * (t / 500.0).cos());
            s.lon = Some(11.575 + 0.015 * (t / 500.0).sin());
            s.altitude_m = Some(520.0 + 35.0 * (t / 900.0).sin());
            s.distance_m = Some(t * 2.9);
            s.heart_rate = Some((140.0 + 6.0 * (t / 300.0).sin()).round() as u16);
            s.cadence = Some(85);
            s.speed_mps = Some(2.9 + 0.25 * (t / 420.0).sin());
            s
        })
        .collect()
}
