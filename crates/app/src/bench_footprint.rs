//! `openzero bench footprint`: how much memory the service holds with its
//! embedding model ready, beside the seed's Python process with
//! sentence-transformers loaded. Measured in this process: the model is
//! loaded through [`Services`] exactly as `serve` loads it.

use std::path::PathBuf;
use std::sync::Arc;

use crate::AppError;
use crate::Services;
use crate::bench::{Figure, Report};

/// Goal: resident memory when idle with the embedder ready, in MB.
pub const IDLE_GOAL_MB: f64 = 120.0;
/// Goal: peak while loading, as a multiple of idle.
pub const PEAK_GOAL_RATIO: f64 = 1.5;

/// Where the Python baseline is.
#[derive(Debug, Clone)]
pub struct Python {
    pub python: PathBuf,
    pub model: PathBuf,
}

/// `VmRSS` and `VmHWM` of this process, in MB.
fn rss() -> Result<(f64, f64), AppError> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| AppError::Invalid(format!("cannot read /proc/self/status: {e}")))?;
    let field = |name: &str| -> Result<f64, AppError> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .ok_or_else(|| AppError::Invalid(format!("/proc/self/status has no {name}")))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// Resident memory of a Python process that loaded `model` with
/// sentence-transformers and embedded one sentence: (idle, peak) in MB.
fn python_rss(p: &Python) -> Result<(f64, f64), AppError> {
    let script = r#"
import sys
from sentence_transformers import SentenceTransformer
m = SentenceTransformer(sys.argv[1], device="cpu")
m.encode(["The dentist appointment is on Tuesday at 9:30."])
status = open("/proc/self/status").read().splitlines()
get = lambda k: next(int(l.split()[1]) for l in status if l.startswith(k))
print(get("VmRSS:") / 1024, get("VmHWM:") / 1024)
"#;
    let out = std::process::Command::new(&p.python)
        .arg("-c")
        .arg(script)
        .arg(&p.model)
        .output()
        .map_err(|e| AppError::Invalid(format!("cannot run {}: {e}", p.python.display())))?;
    if !out.status.success() {
        return Err(AppError::Invalid(format!(
            "the Python baseline failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace().map(str::parse::<f64>);
    match (it.next(), it.next()) {
        (Some(Ok(idle)), Some(Ok(peak))) => Ok((idle, peak)),
        _ => Err(AppError::Invalid(format!(
            "the Python baseline printed {text:?}"
        ))),
    }
}

/// Loads the embedder as `serve` does and reports resident memory.
pub async fn footprint(
    services: &Arc<Services>,
    python: Option<&Python>,
) -> Result<Report, AppError> {
    let (before, _) = rss()?;
    let embedder = services
        .embedder()
        .await
        .map_err(AppError::ModelUnavailable)?;
    let probe = embedder.clone();
    tokio::task::spawn_blocking(move || {
        probe.embed(&["The dentist appointment is on Tuesday at 9:30."])
    })
    .await
    .map_err(|e| AppError::Invalid(format!("embedding task: {e}")))?
    .map_err(|e| AppError::ModelUnavailable(e.0))?;
    let (idle, peak) = rss()?;
    let baseline = python.map(python_rss).transpose()?;
    let fig = |measure: &str, ours: f64, base: Option<f64>| Figure {
        group: "footprint".into(),
        measure: measure.into(),
        unit: "MB".into(),
        openzero: ours,
        baseline: base,
        baseline_name: "Python sentence-transformers".into(),
        higher_is_better: false,
    };
    let mut notes = vec![
        format!("before loading the model: {before:.0} MB"),
        format!(
            "goals: idle with the embedder ready ≤ {IDLE_GOAL_MB:.0} MB ({}), peak while loading ≤ {PEAK_GOAL_RATIO}× idle ({:.2}×, {})",
            if idle <= IDLE_GOAL_MB {
                "met"
            } else {
                "NOT met"
            },
            peak / idle,
            if peak <= idle * PEAK_GOAL_RATIO {
                "met"
            } else {
                "NOT met"
            },
        ),
    ];
    if python.is_none() {
        notes.push(
            "Python baseline not run (pass --python and --python-model, or use ./scripts/bench)"
                .into(),
        );
    }
    Ok(Report {
        figures: vec![
            fig(
                "resident, idle with the embedder ready",
                idle,
                baseline.map(|b| b.0),
            ),
            fig("resident, peak while loading", peak, baseline.map(|b| b.1)),
        ],
        notes,
    })
}
