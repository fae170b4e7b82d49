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

// ------------------------------------------------------------ FIT file ---

/// Seconds from the Unix epoch to FIT's (1989-12-31T00:00:00Z).
const FIT_EPOCH: i64 = 631_065_600;

// FIT base types (the type byte of a field definition).
const ENUM: u8 = 0x00;
const UINT8: u8 = 0x02;
const UINT16: u8 = 0x84;
const SINT32: u8 = 0x85;
const UINT32: u8 = 0x86;
const UINT32Z: u8 = 0x8C;

/// The FIT protocol's CRC-16 (its nibble table), over `bytes` from `crc`.
fn fit_crc(mut crc: u16, bytes: &[u8]) -> u16 {
    const T: [u16; 16] = [
        0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401, 0xA001, 0x6C00, 0x7800,
        0xB401, 0x5000, 0x9C01, 0x8801, 0x4400,
    ];
    for &b in bytes {
        let tmp = T[usize::from(crc & 0xF)];
        crc = ((crc >> 4) & 0x0FFF) ^ tmp ^ T[usize::from(b & 0xF)];
        let tmp = T[usize::from(crc & 0xF)];
        crc = ((crc >> 4) & 0x0FFF) ^ tmp ^ T[usize::from(b >> 4)];
    }
    crc
}

/// A FIT file's records (little-endian, normal headers), then its header
/// and CRCs.
#[derive(Default)]
struct FitWriter {
    body: Vec<u8>,
}

impl FitWriter {
    /// A definition message: local type `local` is global message
    /// `global` with `fields` (field number, base type).
    fn define(&mut self, local: u8, global: u16, fields: &[(u8, u8)]) {
        self.body.extend([0x40 | (local & 0x0F), 0, 0]);
        self.body.extend(global.to_le_bytes());
        self.body.push(fields.len() as u8);
        for &(num, base) in fields {
            let size = match base {
                ENUM | UINT8 => 1,
                UINT16 => 2,
                _ => 4,
            };
            self.body.extend([num, size, base]);
        }
    }

    /// Starts a data message of local type `local`; its fields follow in
    /// the defined order.
    fn data(&mut self, local: u8) -> &mut Self {
        self.body.push(local & 0x0F);
        self
    }

    fn u8(&mut self, v: u8) -> &mut Self {
        self.body.push(v);
        self
    }

    fn u16(&mut self, v: u16) -> &mut Self {
        self.body.extend(v.to_le_bytes());
        self
    }

    fn u32(&mut self, v: u32) -> &mut Self {
        self.body.extend(v.to_le_bytes());
        self
    }

    fn i32(&mut self, v: i32) -> &mut Self {
        self.body.extend(v.to_le_bytes());
        self
    }

    /// The 14-byte header (protocol 2.0, profile 21.32, its CRC), the
    /// records and the file CRC.
    fn finish(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 16);
        out.extend([14u8, 0x20]);
        out.extend(2132u16.to_le_bytes());
        out.extend((self.body.len() as u32).to_le_bytes());
        out.extend(b".FIT");
        let header_crc = fit_crc(0, &out);
        out.extend(header_crc.to_le_bytes());
        out.extend(&self.body);
        let crc = fit_crc(0, &out);
        out.extend(crc.to_le_bytes());
        out
    }
}

fn fit_time(t: DateTime<Utc>) -> u32 {
    (t.timestamp() - FIT_EPOCH).clamp(0, i64::from(u32::MAX)) as u32
}

fn semicircles(degrees: f64) -> i32 {
    (degrees * 2_147_483_648.0 / 180.0).round() as i32
}

/// The generated activity's start: 2025-06-01 05:00 UTC.
pub fn fit_start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_748_754_000, 0).unwrap_or_default()
}

/// A run of `hours` recorded at 1 Hz as a FIT activity file, the same
/// every time for the same `serial` (the device's serial number, so that
/// files differ by their bytes): file id, timer start, one `record` a
/// second (time, position on a 1.5 km-radius loop, altitude rolling over
/// ±35 m, distance, speed near 2.9 m/s, heart rate drifting 138 → 152
/// bpm, cadence), a lap an hour, timer stop, session and activity.
pub fn generated_fit(hours: u32, serial: u32) -> Vec<u8> {
    let start = fit_start();
    let t0 = fit_time(start);
    let seconds = hours.max(1) * 3600;
    let mut f = FitWriter::default();
    // file_id: type activity (4), manufacturer development (255).
    f.define(
        0,
        0,
        &[
            (0, ENUM),
            (1, UINT16),
            (2, UINT16),
            (3, UINT32Z),
            (4, UINT32),
        ],
    );
    f.data(0).u8(4).u16(255).u16(1).u32(serial).u32(t0);
    // event: timer (0) start (0), later stop_all (4).
    f.define(1, 21, &[(253, UINT32), (0, ENUM), (1, ENUM)]);
    f.data(1).u32(t0).u8(0).u8(0);
    f.define(
        2,
        20,
        &[
            (253, UINT32),
            (0, SINT32),
            (1, SINT32),
            (2, UINT16),
            (3, UINT8),
            (4, UINT8),
            (5, UINT32),
            (6, UINT16),
        ],
    );
    f.define(
        3,
        19,
        &[
            (253, UINT32),
            (254, UINT16),
            (2, UINT32),
            (7, UINT32),
            (8, UINT32),
            (9, UINT32),
        ],
    );
    let (lat0, lon0, radius) = (48.137_f64, 11.575_f64, 1_500.0_f64);
    let metres_per_degree = 111_320.0;
    let mut distance = 0.0_f64;
    let (mut lap_from, mut lap_from_m, mut laps) = (0u32, 0.0_f64, 0u16);
    let (mut hr_sum, mut hr_max) = (0u64, 0u8);
    for s in 0..seconds {
        let t = f64::from(s);
        let speed = 2.9 + 0.25 * (t / 420.0).sin() - 0.3 * t / 36_000.0;
        if s > 0 {
            distance += speed;
        }
        let angle = distance / radius;
        let lat = lat0 + radius * angle.cos() / metres_per_degree;
        let lon = lon0 + radius * angle.sin() / (metres_per_degree * lat0.to_radians().cos());
        let altitude = 520.0 + 35.0 * (t / 900.0).sin();
        let hr = (138.0 + 14.0 * t / 36_000.0 + 6.0 * (t / 300.0).sin()).round() as u8;
        // Running cadence in FIT is strides (one foot) per minute.
        let cadence = (85.0 + 2.0 * (t / 200.0).sin()).round() as u8;
        hr_sum += u64::from(hr);
        hr_max = hr_max.max(hr);
        f.data(2)
            .u32(t0 + s)
            .i32(semicircles(lat))
            .i32(semicircles(lon))
            .u16(((altitude + 500.0) * 5.0).round() as u16)
            .u8(hr)
            .u8(cadence)
            .u32((distance * 100.0).round() as u32)
            .u16((speed * 1000.0).round() as u16);
        if (s + 1) % 3600 == 0 || s + 1 == seconds {
            let ms = (s + 1 - lap_from) * 1000;
            f.data(3)
                .u32(t0 + s)
                .u16(laps)
                .u32(t0 + lap_from)
                .u32(ms)
                .u32(ms)
                .u32(((distance - lap_from_m) * 100.0).round() as u32);
            laps += 1;
            lap_from = s + 1;
            lap_from_m = distance;
        }
    }
    let end = t0 + seconds - 1;
    f.data(1).u32(end).u8(0).u8(4);
    f.define(
        4,
        18,
        &[
            (253, UINT32),
            (2, UINT32),
            (5, ENUM),
            (6, ENUM),
            (7, UINT32),
            (8, UINT32),
            (9, UINT32),
            (16, UINT8),
            (17, UINT8),
            (25, UINT16),
            (26, UINT16),
        ],
    );
    let total_ms = seconds * 1000;
    f.data(4)
        .u32(end)
        .u32(t0)
        .u8(1) // running
        .u8(0) // generic
        .u32(total_ms)
        .u32(total_ms)
        .u32((distance * 100.0).round() as u32)
        .u8((hr_sum / u64::from(seconds)) as u8)
        .u8(hr_max)
        .u16(0)
        .u16(laps);
    f.define(
        5,
        34,
        &[
            (253, UINT32),
            (0, UINT32),
            (1, UINT16),
            (2, ENUM),
            (3, ENUM),
            (4, ENUM),
        ],
    );
    // activity: manual (0), event activity (26), stop (1).
    f.data(5).u32(end).u32(total_ms).u16(1).u8(0).u8(26).u8(1);
    f.finish()
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
const PYTHON_SCRIPT: &str = include_str!("../../../scripts/bench-training-python.py");

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

// ------------------------------------------------------------- metrics ---

/// One generated run.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: DateTime<Utc>,
    distance_m: f64,
    moving_s: f64,
    load: f64,
}

/// A run every day for `years` years up to yesterday, at noon UTC, the same
/// every run for the same `today`: easy runs, intervals on Tuesdays, tempo
/// on Thursdays, a short one on Fridays and a long run on Sundays that
/// grows through each 12-week block; paces and TRIMP per minute as such
/// runs give (easy 5:45 /km and about 1 a minute, tempo 4:50 and 1.8…).
fn daily_runs(years: u32, today: NaiveDate) -> Vec<Run> {
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
struct Summary {
    ctl: f64,
    atl: f64,
    tsb: f64,
    weeks: usize,
    km: f64,
    predicted_s: Option<f64>,
    race_day_tsb: f64,
}

/// Form from the first run to today, the acute:chronic ratio, the volume
/// of every week and the goal's status, over `runs` (day, m, s, load).
fn whole_history(runs: &[(NaiveDate, f64, f64, f64)], today: NaiveDate, goal: &Goal) -> Summary {
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
fn agree(a: f64, b: Option<f64>, eps: f64) -> bool {
    b.is_some_and(|b| (a - b).abs() <= eps)
}

async fn metrics_bench(
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

async fn metrics_in(
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
fn stored_samples(n: usize) -> Vec<Sample> {
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

#[cfg(test)]
mod tests {
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
        assert!(md.contains("| import | 120.0 ms | 100.0 ms | 0.8× slower | ≤ 200 ms, faster than Python | **no** |"), "{md}");
    }
}
