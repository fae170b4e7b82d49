//! `openzero bench footprint`: how much memory the service holds with its
//! embedding model ready, beside the seed's Python process with
//! sentence-transformers loaded. Measured in this process: the model is
//! loaded through [`Services`] exactly as `serve` loads it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::AppError;
use crate::Services;
use crate::bench::{Figure, Report};

/// Goal: resident memory when idle with the embedder ready, in MB.
pub const IDLE_GOAL_MB: f64 = 120.0;
/// Goal: peak while loading, as a multiple of idle.
pub const PEAK_GOAL_RATIO: f64 = 1.5;
/// Sentences embedded (in batches of 32) for the "after work" figure.
const WORK_TEXTS: usize = 256;

/// Where the Python baseline is.
#[derive(Debug, Clone)]
pub struct Python {
    pub python: PathBuf,
    pub model: PathBuf,
}

impl Python {
    /// The baseline `scripts/bench` sets up, if it is there: the venv
    /// `refvenv` and the model `st-model/all-MiniLM-L6-v2` under
    /// `$OPENZERO_CACHE` (default `~/.cache/openzero`).
    pub fn set_up_by_scripts() -> Option<Self> {
        let cache = std::env::var_os("OPENZERO_CACHE")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/openzero")))?;
        let python = cache.join("refvenv/bin/python");
        let model = cache.join("st-model/all-MiniLM-L6-v2");
        (python.is_file() && model.join("modules.json").is_file()).then_some(Self { python, model })
    }
}

/// What a process holds, in MB.
#[derive(Debug, Clone, Copy)]
struct Resident {
    /// Idle with the model ready (after one sentence).
    idle: f64,
    /// The most it held, loading included.
    peak: f64,
    /// After embedding [`WORK_TEXTS`] sentences in batches of 32.
    after_work: f64,
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

/// Where the resident memory is: `(anonymous, file-backed)` in MB, from
/// `/proc/self/smaps_rollup` (None where the kernel has no such file).
fn split() -> Option<(f64, f64)> {
    let text = std::fs::read_to_string("/proc/self/smaps_rollup").ok()?;
    let kb = |name: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    };
    let (rss, anon) = (kb("Rss:")?, kb("Anonymous:")?);
    Some((anon / 1024.0, (rss - anon) / 1024.0))
}

/// The sentences both sides embed for the "after work" figure.
fn work_texts() -> Vec<String> {
    const DAYS: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    (0..WORK_TEXTS)
        .map(|i| {
            let mut s = format!(
                "Note {i}: the meeting about project {} moved to {} at {}:{:02}.",
                i % 17,
                DAYS[i % 7],
                9 + i % 8,
                (i * 7) % 60
            );
            for _ in 0..i % 4 {
                s.push_str(" Bring the signed contract and the budget figures for the quarter.");
            }
            s
        })
        .collect()
}

const PYTHON_SCRIPT: &str = r#"
import sys
from sentence_transformers import SentenceTransformer
def status():
    lines = open("/proc/self/status").read().splitlines()
    get = lambda k: next(int(l.split()[1]) for l in lines if l.startswith(k)) / 1024
    return get("VmRSS:"), get("VmHWM:")
texts = sys.stdin.read().split("\n")
m = SentenceTransformer(sys.argv[1], device="cpu")
m.encode(["The dentist appointment is on Tuesday at 9:30."])
idle, peak = status()
m.encode(texts, batch_size=32)
print(idle, peak, status()[0])
"#;

/// Resident memory of a Python process that loaded `model` with
/// sentence-transformers and embedded one sentence, then the work texts.
fn python_rss(p: &Python) -> Result<Resident, String> {
    use std::io::Write;
    let mut child = std::process::Command::new(&p.python)
        .arg("-c")
        .arg(PYTHON_SCRIPT)
        .arg(&p.model)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", p.python.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(work_texts().join("\n").as_bytes())
            .map_err(|e| format!("writing to the Python baseline: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("the Python baseline: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "the Python baseline failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<f64> = text
        .split_whitespace()
        .map(str::parse::<f64>)
        .collect::<Result<_, _>>()
        .map_err(|_| format!("the Python baseline printed {text:?}"))?;
    match v[..] {
        [idle, peak, after_work] => Ok(Resident {
            idle,
            peak,
            after_work,
        }),
        _ => Err(format!("the Python baseline printed {text:?}")),
    }
}

/// Loads the embedder as `serve` does and reports resident memory, beside
/// Python's when `python` is given or [`Python::set_up_by_scripts`] finds it.
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
    let at_rest = split();
    let work = embedder.clone();
    tokio::task::spawn_blocking(move || {
        let texts = work_texts();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        refs.chunks(32).try_for_each(|c| work.embed(c).map(drop))
    })
    .await
    .map_err(|e| AppError::Invalid(format!("embedding task: {e}")))?
    .map_err(|e| AppError::ModelUnavailable(e.0))?;
    let (after_work, _) = rss()?;
    let ours = Resident {
        idle,
        peak,
        after_work,
    };

    let found = python.is_none().then(Python::set_up_by_scripts).flatten();
    let python = python.or(found.as_ref());
    let mut notes = vec![
        format!("embedding engine: {embedder:?}"),
        format!("before loading the model: {before:.0} MB"),
    ];
    if let Some((anon, file)) = at_rest {
        notes.push(format!(
            "idle: {anon:.0} MB anonymous (weights, heap), {file:.0} MB mapped from files (libraries, this program)"
        ));
    }
    notes.push(format!(
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
    ));
    let baseline = match python {
        Some(p) => match python_rss(p) {
            Ok(r) => {
                notes.push(format!("Python baseline: {}", p.python.display()));
                Some(r)
            }
            Err(e) => {
                notes.push(format!("Python baseline not measured: {e}"));
                None
            }
        },
        None => {
            notes.push(
                "Python baseline not measured: no sentence-transformers venv (./scripts/bench sets one up in ~/.cache/openzero/refvenv, or pass --python and --python-model)"
                    .into(),
            );
            None
        }
    };
    let fig = |measure: &str, pick: fn(&Resident) -> f64| Figure {
        group: "footprint".into(),
        measure: measure.into(),
        unit: "MB".into(),
        openzero: pick(&ours),
        baseline: baseline.as_ref().map(pick),
        baseline_name: "Python sentence-transformers".into(),
        higher_is_better: false,
    };
    Ok(Report {
        figures: vec![
            fig("resident, idle with the embedder ready", |r| r.idle),
            fig("resident, peak while loading", |r| r.peak),
            fig(
                &format!("resident after embedding {WORK_TEXTS} sentences, batches of 32"),
                |r| r.after_work,
            ),
        ],
        notes,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn work_texts_are_fixed_and_of_mixed_length() {
        let t = work_texts();
        assert_eq!(t.len(), WORK_TEXTS);
        assert_eq!(t, work_texts());
        assert!(
            t.iter().all(|s| !s.contains('\n')),
            "one per line for Python"
        );
        let (short, long) = (t[0].len(), t[3].len());
        assert!(long > 3 * short, "{short} vs {long}");
    }

    #[test]
    fn memory_is_read_from_proc() {
        let (rss, hwm) = rss().unwrap();
        assert!(rss > 0.0 && hwm >= rss, "{rss} {hwm}");
        if let Some((anon, file)) = split() {
            assert!(anon > 0.0 && file > 0.0);
        }
    }
}
