//! `openzero bench training`: the running coach's speed, each figure beside
//! a Python reference run on the same data in the same run
//! (`scripts/bench-training-python.py`, fitdecode for FIT).
//!
//! - **FIT import**: a generated 10-hour run recorded at 1 Hz (36,000
//!   `record` messages with time, position, altitude, distance, speed,
//!   heart rate and cadence, laps, a session; encoded here by the FIT
//!   protocol, CRCs included): parsed, given the figures `training import`
//!   computes, and imported into a SQLite store through the real import.
//! - **Metrics over 5 years of daily runs**: fitness, fatigue and form, the
//!   acute:chronic ratio, weekly volume and the goal race's status, both as
//!   the pure functions over the whole history and as `training metrics`
//!   and `training goal` compute them from a store holding those runs.
//!
//! Nothing touches the owner's data: the stores live in a scratch
//! directory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use openzero_config::Loaded;
use openzero_store::Store;
use openzero_store::training::NewActivity;
use openzero_training::load::{HeartRates, efficiency_factor, trimp};
use openzero_training::metrics::{self, Goal};
use openzero_training::{Activity, Sample};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::bench::{Figure, fig, machine, median};
use crate::training::FileOutcome;
use crate::{AppError, Services, clock};

/// What to measure.
#[derive(Debug, Clone)]
pub struct Options {
    /// Hours of the generated FIT activity (1 Hz).
    pub hours: u32,
    /// Years of daily runs for the metrics.
    pub years: u32,
    /// Samples each stored run keeps (as an import keeps them), 1 Hz.
    pub samples_per_run: usize,
    /// Timed runs per side (the median is reported).
    pub repeat: usize,
    /// Python with fitdecode, for the reference (none: not measured).
    pub python: Option<PathBuf>,
    /// Real-world FIT files or directories to time as well.
    pub files: Vec<PathBuf>,
    /// Scratch directory for the generated file and the stores.
    pub work_dir: PathBuf,
}

/// The targets, in ms: importing a 10-hour FIT file (and faster
/// than the reference), and the metrics over 5 years of daily runs.
pub const IMPORT_TARGET_MS: f64 = 200.0;
pub const METRICS_TARGET_MS: f64 = 50.0;

/// One figure, its goal and whether it was met.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    #[serde(flatten)]
    pub figure: Figure,
    /// The target, in the figure's unit, if the issue sets one.
    pub goal: Option<f64>,
    /// Whether the goal also asks to beat the reference.
    pub goal_faster_than_reference: bool,
    /// Whether it was met (none: no goal, or the reference was needed and
    /// not measured).
    pub met: Option<bool>,
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct TrainingReport {
    pub figures: Vec<Row>,
    pub notes: Vec<String>,
}

impl Row {
    fn new(figure: Figure, goal: Option<f64>, faster: bool) -> Self {
        let met = goal.and_then(|g| {
            let within = figure.openzero <= g;
            match (faster, figure.baseline) {
                (false, _) => Some(within),
                (true, Some(b)) => Some(within && figure.openzero < b),
                (true, None) if !within => Some(false),
                (true, None) => None,
            }
        });
        Self {
            figure,
            goal,
            goal_faster_than_reference: faster,
            met,
        }
    }
}

/// The report as a Markdown table and its notes.
pub fn markdown(report: &TrainingReport) -> String {
    let mut out = String::from(
        "| measure | OpenZero | Python | OpenZero vs Python | goal | met? |\n\
         |---|---:|---:|---:|---|---|\n",
    );
    for r in &report.figures {
        let f = &r.figure;
        let base = f
            .baseline
            .map_or_else(|| "not measured".into(), |b| format!("{b:.1} {}", f.unit));
        let adv = f.advantage().map_or_else(
            || "—".into(),
            |a| format!("{a:.1}× {}", if a >= 1.0 { "faster" } else { "slower" }),
        );
        let goal = r.goal.map_or_else(
            || "—".into(),
            |g| {
                format!(
                    "≤ {g:.0} {}{}",
                    f.unit,
                    if r.goal_faster_than_reference {
                        ", faster than Python"
                    } else {
                        ""
                    }
                )
            },
        );
        let met = match (r.goal, r.met) {
            (None, _) => "—",
            (Some(_), Some(true)) => "yes",
            (Some(_), Some(false)) => "**no**",
            (Some(_), None) => "in time; Python not measured",
        };
        let _ = writeln!(
            out,
            "| {} | {:.1} {} | {base} | {adv} | {goal} | {met} |",
            f.measure, f.openzero, f.unit
        );
    }
    out.push('\n');
    for n in &report.notes {
        let _ = writeln!(out, "- {n}");
    }
    out
}

/// What `training import` computes for one file before it writes it (kept
/// in step with [`crate::training::import`]): the parse, the figures, the
/// file's SHA-256 and the samples and laps as JSON.
fn prepare(bytes: &[u8], hr: HeartRates) -> Result<(NewActivity, Activity), String> {
    let activity = openzero_training::parse(bytes).map_err(|e| e.to_string())?;
    let new = NewActivity {
        source: "file".into(),
        external_id: Sha256::digest(bytes)
            .iter()
            .fold(String::new(), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            }),
        sport: activity.sport.clone(),
        name: activity.name.clone(),
        start_at: activity.start(),
        elapsed_s: activity.elapsed_s(),
        moving_s: activity.moving_s(),
        distance_m: activity.distance_m(),
        avg_hr: activity.average_hr(),
        trimp: trimp(&activity, hr),
        efficiency: efficiency_factor(&activity),
        samples: json(&activity.samples)?,
        laps: json(&activity.laps)?,
    };
    Ok((new, activity))
}

/// Compact JSON (a column's text).
fn json<T: Serialize>(v: &T) -> Result<String, String> {
    serde_json::to_string(v).map_err(|e| e.to_string())
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// The reference script, written next to the data it reads.
const PYTHON_SCRIPT: &str = include_str!("../../../../scripts/bench-training-python.py");

/// Runs the reference with `args`; its JSON answer, or why not.
fn reference(python: &Path, work: &Path, args: &[String]) -> Result<serde_json::Value, String> {
    let script = work.join("bench-training-python.py");
    std::fs::write(&script, PYTHON_SCRIPT).map_err(|e| format!("{}: {e}", script.display()))?;
    let out = std::process::Command::new(python)
        .arg(&script)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "{} failed: {}",
            python.display(),
            err.trim().lines().last().unwrap_or("no message")
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("unreadable answer: {e}"))
}

fn secs_ms(v: &serde_json::Value, key: &str) -> Result<f64, String> {
    v[key]
        .as_f64()
        .map(|s| s * 1000.0)
        .ok_or_else(|| format!("the reference gave no {key}"))
}

/// Runs the training benchmarks. `say` receives progress lines.
pub async fn training(
    loaded: &Loaded,
    opts: &Options,
    say: &(dyn Fn(&str) + Sync),
) -> Result<TrainingReport, AppError> {
    let mut report = TrainingReport {
        figures: Vec::new(),
        notes: vec![machine()],
    };
    std::fs::create_dir_all(&opts.work_dir)
        .map_err(|e| AppError::Invalid(format!("{}: {e}", opts.work_dir.display())))?;
    fit_import(loaded, opts, &mut report, say).await?;
    if !opts.files.is_empty() {
        real_files(opts, &mut report, say)?;
    }
    metrics_bench(loaded, opts, &mut report, say).await?;
    if opts.python.is_none() {
        report.notes.push(
            "Python reference not measured (give --python with fitdecode installed; scripts/bench does)"
                .into(),
        );
    }
    Ok(report)
}

async fn fit_import(
    loaded: &Loaded,
    opts: &Options,
    report: &mut TrainingReport,
    say: &(dyn Fn(&str) + Sync),
) -> Result<(), AppError> {
    let hours = opts.hours.max(1);
    let repeat = opts.repeat.max(1);
    let bytes = generated_fit(hours, 1);
    let path = opts.work_dir.join(format!("bench-{hours}h.fit"));
    std::fs::write(&path, &bytes)
        .map_err(|e| AppError::Invalid(format!("{}: {e}", path.display())))?;
    let records = hours * 3600;
    let label = format!(
        "FIT, {hours} h at 1 Hz ({records} records, {} KB)",
        bytes.len() / 1000
    );
    let services = {
        let dir = opts.work_dir.join("import");
        std::fs::create_dir_all(&dir).map_err(|e| AppError::Invalid(e.to_string()))?;
        let store: Arc<dyn Store> =
            Arc::new(openzero_store_sqlite::SqliteStore::open(&dir.join("bench.db")).await?);
        Services::new(loaded.clone(), store, Vec::new())
    };
    let settings = &loaded.settings.training;
    let hr = HeartRates {
        rest: f64::from(settings.hr_rest),
        max: f64::from(settings.hr_max),
        ..HeartRates::default()
    };

    say(&format!("{label}: parse"));
    let mut parse_ms = Vec::new();
    for _ in 0..repeat {
        let t = Instant::now();
        let a = openzero_training::parse(&bytes).map_err(|e| AppError::Invalid(e.to_string()))?;
        parse_ms.push(ms_since(t));
        std::hint::black_box(a);
    }
    say(&format!("{label}: parse + figures"));
    let mut prepare_ms = Vec::new();
    let mut ours = None;
    for _ in 0..repeat {
        let t = Instant::now();
        let (new, activity) = prepare(&bytes, hr).map_err(AppError::Invalid)?;
        prepare_ms.push(ms_since(t));
        ours = Some((new, activity.samples.len(), activity.laps.len()));
    }
    say(&format!("{label}: import into SQLite"));
    let mut import_ms = Vec::new();
    for i in 0..repeat {
        // Another serial number: other bytes, so not already imported.
        let variant = generated_fit(hours, 2 + i as u32);
        let t = Instant::now();
        let outcome = crate::training::import(&services, &variant).await?;
        import_ms.push(ms_since(t));
        if !matches!(outcome, FileOutcome::Added { .. }) {
            services.store.close().await;
            return Err(AppError::Invalid(format!(
                "the generated file was not imported: {outcome:?}"
            )));
        }
    }
    services.store.close().await;

    let mut parse = fig(
        "fit",
        &format!("{label}: parse"),
        "ms",
        median(parse_ms),
        false,
    );
    let mut figures = fig(
        "fit",
        &format!("{label}: parse + figures (import without the database write)"),
        "ms",
        median(prepare_ms),
        false,
    );
    let mut import = fig(
        "fit",
        &format!("{label}: `training import` into SQLite"),
        "ms",
        median(import_ms),
        false,
    );
    if let Some((new, samples, laps)) = &ours {
        report.notes.push(format!(
            "{label}: OpenZero read {samples} samples and {laps} laps: {:.1} m, moving {:.0} s, \
             average heart rate {:.2}, TRIMP {:.1}",
            new.distance_m,
            new.moving_s,
            new.avg_hr.unwrap_or(0.0),
            new.trimp.unwrap_or(0.0)
        ));
    }
    if let Some(py) = &opts.python {
        say(&format!("{label}: Python reference"));
        let args = vec![
            "fit".into(),
            "--repeat".into(),
            repeat.to_string(),
            path.display().to_string(),
        ];
        match reference(py, &opts.work_dir, &args)
            .and_then(|v| Ok((secs_ms(&v, "parse_seconds")?, secs_ms(&v, "seconds")?, v)))
        {
            Ok((p, s, v)) => {
                let file = &v["files"][0];
                if let Some(e) = file["error"].as_str() {
                    report
                        .notes
                        .push(format!("{label}: the reference could not read it: {e}"));
                } else {
                    parse.baseline = Some(p);
                    parse.baseline_name = "Python fitdecode, every message to a dict".into();
                    figures.baseline = Some(s);
                    figures.baseline_name =
                        "Python fitdecode + distance, moving time, average heart rate".into();
                    import.baseline = Some(s);
                    import.baseline_name = figures.baseline_name.clone();
                    report.notes.push(format!(
                        "{label}: the reference ({}) read {} records: {:.1} m, moving {:.0} s, \
                         average heart rate {:.2}",
                        v["reference"].as_str().unwrap_or("?"),
                        file["records"],
                        file["distance_m"].as_f64().unwrap_or(0.0),
                        file["moving_s"].as_f64().unwrap_or(0.0),
                        file["avg_hr"].as_f64().unwrap_or(0.0),
                    ));
                }
            }
            Err(e) => report
                .notes
                .push(format!("{label}: Python reference not measured: {e}")),
        }
    }
    report.figures.push(Row::new(parse, None, false));
    report
        .figures
        .push(Row::new(figures, Some(IMPORT_TARGET_MS), true));
    report
        .figures
        .push(Row::new(import, Some(IMPORT_TARGET_MS), true));
    report.notes.push(format!(
        "FIT: median of {repeat} runs a side; OpenZero reads the bytes from memory, the \
         reference from an in-memory buffer; `training import` adds the SHA-256, the samples \
         as JSON and the SQLite write (a new file each run); target ≤ {IMPORT_TARGET_MS} ms and \
         faster than the reference"
    ));
    Ok(())
}

fn fit_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            if let Ok(rd) = std::fs::read_dir(&p) {
                stack.extend(rd.filter_map(|e| e.ok().map(|e| e.path())));
            }
        } else if p.extension().is_some_and(|x| x.eq_ignore_ascii_case("fit")) {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Real-world FIT files (those OpenZero takes as activities), both sides.
fn real_files(
    opts: &Options,
    report: &mut TrainingReport,
    say: &(dyn Fn(&str) + Sync),
) -> Result<(), AppError> {
    let repeat = opts.repeat.max(1);
    let mut kept: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    let mut refused = 0;
    for p in fit_files(&opts.files) {
        let Ok(bytes) = std::fs::read(&p) else {
            refused += 1;
            continue;
        };
        if openzero_training::parse(&bytes).is_ok() {
            kept.push((p, bytes));
        } else {
            refused += 1;
        }
    }
    if kept.is_empty() {
        report
            .notes
            .push("real-world FIT: no file given is an activity OpenZero reads".into());
        return Ok(());
    }
    let bytes: usize = kept.iter().map(|(_, b)| b.len()).sum();
    let samples: usize = kept
        .iter()
        .filter_map(|(_, b)| openzero_training::parse(b).ok())
        .map(|a| a.samples.len())
        .sum();
    let label = format!(
        "{} real-world FIT files ({} KB, {samples} samples)",
        kept.len(),
        bytes / 1000
    );
    say(&format!("{label}: parse + figures"));
    let hr = HeartRates::default();
    let mut times = Vec::new();
    for _ in 0..repeat {
        let t = Instant::now();
        for (_, b) in &kept {
            std::hint::black_box(prepare(b, hr).map_err(AppError::Invalid)?);
        }
        times.push(ms_since(t));
    }
    let mut f = fig(
        "fit",
        &format!("{label}: parse + figures"),
        "ms",
        median(times),
        false,
    );
    report.notes.push(format!(
        "{label}: the activities OpenZero reads among the files given ({refused} other files \
         left out)"
    ));
    if let Some(py) = &opts.python {
        say(&format!("{label}: Python reference"));
        let mut args = vec!["fit".into(), "--repeat".into(), repeat.to_string()];
        args.extend(kept.iter().map(|(p, _)| p.display().to_string()));
        match reference(py, &opts.work_dir, &args) {
            Ok(v) => {
                let failed = v["files"]
                    .as_array()
                    .map_or(0, |a| a.iter().filter(|x| x.get("error").is_some()).count());
                match secs_ms(&v, "seconds") {
                    Ok(s) => {
                        f.baseline = Some(s);
                        f.baseline_name =
                            "Python fitdecode + distance, moving time, average heart rate".into();
                        if failed > 0 {
                            report.notes.push(format!(
                                "{label}: the reference could not read {failed} of them"
                            ));
                        }
                    }
                    Err(e) => report.notes.push(format!("{label}: {e}")),
                }
            }
            Err(e) => report
                .notes
                .push(format!("{label}: Python reference not measured: {e}")),
        }
    }
    report.figures.push(Row::new(f, None, false));
    Ok(())
}

mod fit_file;
mod history;
#[cfg(test)]
mod tests;

pub use fit_file::{fit_start, generated_fit};
use history::*;
