//! `openzero bench recall`: the retrieval evaluation. Conversations with
//! their dates go into fresh data directories through `openzero memory
//! import`; their questions, each asked at its own moment, go through
//! `openzero memory search --queries … --json` once per ranking (dense
//! only, plain hybrid, full); the evidence each question needed is
//! compared with what came back: evidence recall@5 and @10 (the share of a
//! question's evidence turns in its top 5 / top 10), hit@10 (any evidence
//! in the top 10) and hit@1, per question type.
//!
//! Sets: the RealMem corpus (public, read from the fixtures at run time)
//! and our own cases for what it lacks ([`own`]: temporal questions in the
//! owner's zone, facts that changed).

pub mod own;
pub mod realmem;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::AppError;
use crate::memory::Line;

/// The rankings compared, in table order.
pub const RANKINGS: [&str; 3] = ["dense", "hybrid", "full"];

/// Memories and the questions asked of them.
#[derive(Debug, Clone)]
pub struct Set {
    pub name: String,
    /// The owner's time zone for this set (IANA name).
    pub zone: String,
    pub memories: Vec<Line>,
    pub probes: Vec<Probe>,
}

/// One question with its evidence.
#[derive(Debug, Clone)]
pub struct Probe {
    pub id: String,
    pub text: String,
    /// When it is asked.
    pub at: DateTime<Utc>,
    /// Question type (RealMem's category, or ours).
    pub kind: String,
    /// External ids of the memories that answer it.
    pub evidence: Vec<String>,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The `openzero` binary that imports and searches.
    pub exe: PathBuf,
    /// The RealMem folder (none: our own cases only).
    pub realmem: Option<PathBuf>,
    /// RealMem files to use (0: all), in name order.
    pub people: usize,
    /// Sessions kept per file (0: all).
    pub sessions: usize,
    /// Our own cases too.
    pub own: bool,
    /// Scratch directory for the data directories.
    pub work_dir: PathBuf,
    /// Environment for the child processes (the model's settings).
    pub env: Vec<(String, String)>,
}

/// The figures of one ranking on one question type.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Score {
    pub questions: usize,
    pub recall_at_5: f64,
    pub recall_at_10: f64,
    pub hit_at_10: f64,
    pub hit_at_1: f64,
}

/// Results: per question type (and `all`), per ranking.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Evaluation {
    pub by_kind: BTreeMap<String, BTreeMap<String, Score>>,
    pub memories: usize,
    pub notes: Vec<String>,
}

/// Sums before averaging.
#[derive(Default)]
struct Sum {
    n: usize,
    r5: f64,
    r10: f64,
    h10: f64,
    h1: f64,
}

/// How one question fared: the evidence's share in the top 5 and 10, and
/// whether the first result is evidence.
pub fn judge(evidence: &[String], ranked: &[String]) -> (f64, f64, bool, bool) {
    if evidence.is_empty() {
        return (0.0, 0.0, false, false);
    }
    let found = |k: usize| {
        evidence
            .iter()
            .filter(|e| ranked.iter().take(k).any(|r| r == *e))
            .count() as f64
            / evidence.len() as f64
    };
    let r10 = found(10);
    let first = ranked.first().is_some_and(|r| evidence.contains(r));
    (found(5), r10, r10 > 0.0, first)
}

/// Runs the evaluation. `say` receives progress lines.
pub fn run(opts: &Options, say: &dyn Fn(&str)) -> Result<Evaluation, AppError> {
    let mut sets = Vec::new();
    if let Some(dir) = &opts.realmem {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| AppError::Invalid(format!("cannot read {}: {e}", dir.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        if opts.people > 0 {
            files.truncate(opts.people);
        }
        if files.is_empty() {
            return Err(AppError::Invalid(format!(
                "no RealMem files (*.json) in {}",
                dir.display()
            )));
        }
        for f in files {
            sets.push(realmem::read(&f, opts.sessions)?);
        }
    }
    if opts.own {
        sets.push(own::cases());
    }
    let mut sums: BTreeMap<String, BTreeMap<String, Sum>> = BTreeMap::new();
    let mut eval = Evaluation::default();
    for set in &sets {
        say(&format!(
            "{}: {} memories, {} questions",
            set.name,
            set.memories.len(),
            set.probes.len()
        ));
        eval.memories += set.memories.len();
        let dir = opts.work_dir.join(&set.name);
        std::fs::create_dir_all(&dir)
            .map_err(|e| AppError::Invalid(format!("cannot create {}: {e}", dir.display())))?;
        let memories = dir.join("memories.jsonl");
        let queries = dir.join("queries.jsonl");
        let data = dir.join("data");
        let before = std::fs::read(&memories).ok();
        write_lines(&memories, set.memories.iter().map(serde_json::to_string))?;
        // A kept work directory with the same memories is searched again
        // without importing (the rankings are what changes between runs).
        let same = before.is_some() && before == std::fs::read(&memories).ok() && data.is_dir();
        if same {
            say(&format!(
                "{}: memories already imported in {}",
                set.name,
                data.display()
            ));
        } else {
            let _ = std::fs::remove_dir_all(&data);
            child(
                opts,
                &data,
                &set.zone,
                &["memory", "import", &path_arg(&memories)],
            )?;
        }
        write_lines(
            &queries,
            set.probes.iter().map(|p| {
                serde_json::to_string(&serde_json::json!({"id": p.id, "query": p.text, "at": p.at}))
            }),
        )?;
        for ranking in RANKINGS {
            say(&format!("{}: searching ({ranking})", set.name));
            let out = child(
                opts,
                &data,
                &set.zone,
                &[
                    "memory",
                    "search",
                    "--queries",
                    &path_arg(&queries),
                    "-k",
                    "10",
                    "--json",
                    "--ranking",
                    ranking,
                ],
            )?;
            let results = parse_results(&out)?;
            for p in &set.probes {
                let ranked = results.get(&p.id).cloned().unwrap_or_default();
                let (r5, r10, h10, h1) = judge(&p.evidence, &ranked);
                for kind in [p.kind.as_str(), "all"] {
                    let s = sums
                        .entry(kind.to_owned())
                        .or_default()
                        .entry(ranking.to_owned())
                        .or_default();
                    s.n += 1;
                    s.r5 += r5;
                    s.r10 += r10;
                    s.h10 += f64::from(u8::from(h10));
                    s.h1 += f64::from(u8::from(h1));
                }
            }
        }
    }
    for (kind, by) in sums {
        let row = eval.by_kind.entry(kind).or_default();
        for (ranking, s) in by {
            let n = s.n.max(1) as f64;
            row.insert(
                ranking,
                Score {
                    questions: s.n,
                    recall_at_5: s.r5 / n,
                    recall_at_10: s.r10 / n,
                    hit_at_10: s.h10 / n,
                    hit_at_1: s.h1 / n,
                },
            );
        }
    }
    eval.notes.push(format!(
        "sets: {}",
        sets.iter()
            .map(|s| format!("{} ({} questions)", s.name, s.probes.len()))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(eval)
}

fn path_arg(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn write_lines(
    path: &Path,
    lines: impl Iterator<Item = Result<String, serde_json::Error>>,
) -> Result<(), AppError> {
    let mut s = String::new();
    for l in lines {
        s.push_str(&l.map_err(|e| AppError::Invalid(format!("cannot write a line: {e}")))?);
        s.push('\n');
    }
    std::fs::write(path, s)
        .map_err(|e| AppError::Invalid(format!("cannot write {}: {e}", path.display())))
}

/// Runs `openzero` on `data` and returns its standard output.
fn child(opts: &Options, data: &Path, zone: &str, args: &[&str]) -> Result<String, AppError> {
    let out = Command::new(&opts.exe)
        .args(args)
        .env("OPENZERO_DATA_DIR", data)
        .env("OPENZERO__GENERAL__TIMEZONE", zone)
        .env_remove("DATABASE_URL")
        .env_remove("OPENZERO__DATABASE__URL")
        .envs(opts.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| AppError::Invalid(format!("cannot run {}: {e}", opts.exe.display())))?;
    if !out.status.success() {
        return Err(AppError::Invalid(format!(
            "`openzero {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `memory search --queries … --json` output: question id → external ids in rank order.
fn parse_results(out: &str) -> Result<HashMap<String, Vec<String>>, AppError> {
    let mut map = HashMap::new();
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            AppError::Invalid(format!("search printed a line that is not JSON: {e}"))
        })?;
        let id = match &v["id"] {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let ranked = v["results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["external_id"].as_str().map(str::to_owned))
            .collect();
        map.insert(id, ranked);
    }
    Ok(map)
}

/// The evaluation as Markdown: one row per question type, the three
/// rankings side by side, and the full ranking's gain over plain hybrid.
pub fn markdown(e: &Evaluation) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| question type | n | recall@5 dense / hybrid / full | recall@10 dense / hybrid / full | hit@10 dense / hybrid / full | hit@1 dense / hybrid / full | recall@10 full vs hybrid |"
    );
    let _ = writeln!(s, "|---|---:|---|---|---|---|---:|");
    let mut kinds: Vec<&String> = e.by_kind.keys().filter(|k| *k != "all").collect();
    let all = String::from("all");
    if e.by_kind.contains_key("all") {
        kinds.push(&all);
    }
    for kind in kinds {
        let Some(row) = e.by_kind.get(kind) else {
            continue;
        };
        let get = |r: &str, f: fn(&Score) -> f64| row.get(r).map_or(0.0, f);
        let three = |f: fn(&Score) -> f64| {
            RANKINGS
                .iter()
                .map(|r| format!("{:.3}", get(r, f)))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        let n = row.get("full").map_or(0, |s| s.questions);
        let hybrid = get("hybrid", |s| s.recall_at_10);
        let full = get("full", |s| s.recall_at_10);
        let gain = if hybrid > 0.0 {
            format!("{:+.1}%", (full / hybrid - 1.0) * 100.0)
        } else {
            "—".into()
        };
        let name = if kind == "all" {
            "**all**".to_owned()
        } else {
            kind.clone()
        };
        let _ = writeln!(
            s,
            "| {name} | {n} | {} | {} | {} | {} | {gain} |",
            three(|s| s.recall_at_5),
            three(|s| s.recall_at_10),
            three(|s| s.hit_at_10),
            three(|s| s.hit_at_1),
        );
    }
    s.push('\n');
    for n in &e.notes {
        let _ = writeln!(s, "- {n}");
    }
    let _ = writeln!(s, "- memories imported: {}", e.memories);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judging_counts_the_share_of_evidence_found() {
        let ev = vec!["a".to_owned(), "b".to_owned()];
        let ranked: Vec<String> = ["x", "a", "y", "z", "w", "v", "b"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(judge(&ev, &ranked), (0.5, 1.0, true, false));
        assert_eq!(judge(&ev, &[]), (0.0, 0.0, false, false));
        assert_eq!(judge(&ev, &["b".to_owned()]), (0.5, 0.5, true, true));
    }
}
