//! `openzero bench memory`: embedding throughput, search latency and import
//! rate, each beside a baseline measured in the same run (Python
//! sentence-transformers for embedding, pgvector for search).
//!
//! Search runs on synthetic data: texts built from a fixed vocabulary and
//! unit vectors clustered around 64 topics, so that (as with real MiniLM
//! vectors) a query has a few percent of memories above the similarity
//! floor. The scan cost of exact search does not depend on what the vectors
//! mean; the embedding and import figures use real text and the real model.
//! Search is timed three ways: `dense` is the vector index alone; `hybrid`
//! and `full` are a whole search after embedding (index and full-text
//! caught up, candidates, ranking, texts read) under the plain hybrid and
//! the default full ranking.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use openzero_core::memory::{Filters, MIN_SIMILARITY, MemoryId, Source};
use openzero_embed::{Embedder, MODEL_ID, Precision};
use openzero_store::{Embedding, MemoryRecord, Store};
use openzero_store_postgres::PgStore;
use openzero_store_sqlite::SqliteStore;
use serde::Serialize;

use crate::AppError;
use crate::memory::MemoryService;
use crate::memory_index::MemoryIndex;
use crate::memory_search::Question;
use openzero_core::recall::Ranking;
use openzero_store::prelude::*;

mod embedding;
use embedding::embedding;

/// What to measure.
#[derive(Debug, Clone)]
pub struct Options {
    pub model_dir: PathBuf,
    /// The engine measured (in `precision`); with ONNX Runtime, its other
    /// precision and candle are measured too.
    pub runtime: openzero_embed::Runtime,
    /// Memory counts for the search benchmark.
    pub sizes: Vec<usize>,
    /// Queries timed per configuration.
    pub queries: usize,
    /// Memories imported for the import rate.
    pub import: usize,
    /// The precision the settings name: measured first (the unlabelled
    /// embedding rows) and used by the import, as `memory import` would.
    pub precision: Precision,
    /// Short sentences and 128-token paragraphs embedded.
    pub short_texts: usize,
    pub paragraphs: usize,
    /// Threads for both sides (candle uses all cores; Python is told this).
    pub threads: usize,
    /// Python interpreter with sentence-transformers, and the
    /// sentence-transformers model directory for it.
    pub python: Option<(PathBuf, PathBuf)>,
    /// PostgreSQL admin URL (server with pgvector) for the pgvector baseline.
    pub postgres: Option<String>,
    /// Scratch directory for the benchmark databases.
    pub work_dir: PathBuf,
}

/// One measured figure beside its baseline.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub group: String,
    pub measure: String,
    pub unit: String,
    pub openzero: f64,
    pub baseline: Option<f64>,
    pub baseline_name: String,
    /// True when larger is better (throughput), false for latencies.
    pub higher_is_better: bool,
}

impl Figure {
    /// How many times better than the baseline (>1 is better), if measured.
    pub fn advantage(&self) -> Option<f64> {
        let b = self.baseline?;
        if b <= 0.0 || self.openzero <= 0.0 {
            return None;
        }
        Some(if self.higher_is_better {
            self.openzero / b
        } else {
            b / self.openzero
        })
    }
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub figures: Vec<Figure>,
    /// Lines about the run: machine, versions, what was skipped and why.
    pub notes: Vec<String>,
}

/// The middle of the samples (0 for none).
pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub(crate) fn fig(group: &str, measure: &str, unit: &str, ours: f64, higher: bool) -> Figure {
    Figure {
        group: group.into(),
        measure: measure.into(),
        unit: unit.into(),
        openzero: ours,
        baseline: None,
        baseline_name: String::new(),
        higher_is_better: higher,
    }
}

/// Runs the memory benchmarks. `say` receives progress lines.
pub async fn memory(opts: &Options, say: &(dyn Fn(&str) + Sync)) -> Result<Report, AppError> {
    let mut report = Report {
        figures: Vec::new(),
        notes: vec![machine()],
    };
    let load = |runtime: openzero_embed::Runtime, precision| async move {
        let dir = opts.model_dir.clone();
        let e = tokio::task::spawn_blocking(move || {
            Embedder::load_with_precision(&dir, &runtime, precision)
        })
        .await
        .map_err(|e| AppError::Invalid(format!("model load task: {e}")))?
        .map_err(|e| AppError::Invalid(e.to_string()))?;
        Ok::<_, AppError>(Arc::new(e))
    };
    say("loading the embedding model");
    // The configured precision first: its rows are the unlabelled ones.
    let embedder = load(opts.runtime.clone(), opts.precision).await?;
    let mut engines = vec![embedder.clone()];
    if opts.runtime != openzero_embed::Runtime::Candle {
        say("loading the embedding model in the other precision and on candle too, for comparison");
        let other = match embedder.precision() {
            Precision::F32 => Precision::Int8,
            Precision::Int8 => Precision::F32,
        };
        engines.push(load(opts.runtime.clone(), other).await?);
        engines.push(load(openzero_embed::Runtime::Candle, Precision::F32).await?);
    }
    embedding(opts, &engines, &mut report, say).await?;
    for &n in &opts.sizes {
        search(opts, n, &mut report, say).await?;
    }
    if opts.import > 0 {
        // As `memory import` runs: the configured precision.
        import(opts, &embedder, &mut report, say).await?;
    }
    report
        .notes
        .push(format!("peak RSS of this process: {}", peak_rss()));
    Ok(report)
}

// ---------------------------------------------------------------- texts ---

const NAMES: &[&str] = &[
    "Anna", "Ben", "Clara", "David", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kemal",
    "Lena", "Mara", "Noah", "Olga", "Pablo",
];
const VERBS: &[&str] = &[
    "moved",
    "booked",
    "cancelled",
    "confirmed",
    "paid",
    "forgot",
    "reviewed",
    "planned",
    "finished",
    "postponed",
    "signed",
    "called about",
];
const THINGS: &[&str] = &[
    "the dentist appointment",
    "the quarterly tax return",
    "the kindergarten registration",
    "the marathon training plan",
    "the car insurance renewal",
    "the flat viewing",
    "the team offsite",
    "the electricity bill",
    "the birthday dinner",
    "the passport application",
    "the physiotherapy session",
    "the server migration",
    "the grocery order",
    "the conference talk",
    "the piano lesson",
    "the bank transfer",
];
const WHEN: &[&str] = &[
    "for Tuesday morning",
    "before the end of the month",
    "after lunch",
    "for next week",
    "on Friday at 9:30",
    "until the holidays",
    "as soon as possible",
    "for the first of December",
    "tonight",
    "in the new year",
];
const WHY: &[&str] = &[
    "because the old slot clashed with work",
    "since the price went up again",
    "so that the weekend stays free",
    "after a long talk with the family",
    "because the documents were missing",
    "to keep the budget on track",
    "which took three phone calls",
    "",
];

/// Deterministic sentence `i`: all distinct for i < 16·12·16·10·8.
fn sentence(i: usize) -> String {
    let mut k = i;
    let mut pick = |list: &[&'static str]| {
        let w = list[k % list.len()];
        k /= list.len();
        w
    };
    let (name, verb, thing, when, why) = (
        pick(NAMES),
        pick(VERBS),
        pick(THINGS),
        pick(WHEN),
        pick(WHY),
    );
    if why.is_empty() {
        format!("{name} {verb} {thing} {when}.")
    } else {
        format!("{name} {verb} {thing} {when} {why}.")
    }
}

/// Sentences joined until the model sees at least `tokens` tokens.
fn paragraph(embedder: &Embedder, start: usize, tokens: usize) -> Result<String, AppError> {
    let mut text = String::new();
    let mut i = start;
    while embedder
        .count_tokens(&text)
        .map_err(|e| AppError::Invalid(e.to_string()))?
        < tokens
    {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&sentence(i.wrapping_mul(7919) % 122_880));
        i += 1;
    }
    Ok(text)
}

// --------------------------------------------------------------- search ---

const DIM: usize = 384;
const TOPICS: usize = 64;

/// xorshift64*: deterministic, good enough for synthetic data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Roughly normal (sum of uniforms).
    fn gauss(&mut self) -> f32 {
        (0..4)
            .map(|_| (self.next() >> 40) as f32 / (1u64 << 24) as f32)
            .sum::<f32>()
            - 2.0
    }
    fn unit(&mut self) -> Vec<f32> {
        normalise((0..DIM).map(|_| self.gauss()).collect())
    }
}

fn normalise(v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.into_iter().map(|x| x / n).collect()
}

/// A vector near topic `t`: cosine about 0.5 with others of the same topic.
fn near(rng: &mut Rng, centroids: &[Vec<f32>], t: usize) -> Vec<f32> {
    let noise = rng.unit();
    normalise(centroids[t].iter().zip(noise).map(|(c, n)| c + n).collect())
}

pub(crate) struct Dataset {
    records: Vec<MemoryRecord>,
    queries: Vec<(String, Vec<f32>)>,
}

pub(crate) fn dataset(n: usize, queries: usize) -> Result<Dataset, AppError> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let centroids: Vec<Vec<f32>> = (0..TOPICS).map(|_| rng.unit()).collect();
    let source = |s: &str| Source::new(s).map_err(AppError::from);
    let sources = [source("chat")?, source("email")?, source("telegram")?];
    let base = Utc
        .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .ok_or_else(|| AppError::Invalid("bad base date".into()))?;
    let records = (0..n)
        .map(|i| {
            let topic = (rng.next() % TOPICS as u64) as usize;
            MemoryRecord {
                text: format!("{} (note {i})", sentence(i % 122_880)),
                created_at: base + chrono::Duration::minutes(i as i64 * 7),
                source: sources[i % 3].clone(),
                external_id: None,
                metadata: None,
                embedding: Some(Embedding {
                    model: MODEL_ID.to_owned(),
                    vector: near(&mut rng, &centroids, topic),
                }),
            }
        })
        .collect();
    let queries = (0..queries)
        .map(|i| {
            let topic = (rng.next() % TOPICS as u64) as usize;
            let words = THINGS[i % THINGS.len()]
                .trim_start_matches("the ")
                .to_owned();
            (
                format!("{} {words}", NAMES[i % NAMES.len()]),
                near(&mut rng, &centroids, topic),
            )
        })
        .collect();
    Ok(Dataset { records, queries })
}

pub(crate) async fn fill(store: &dyn Store, data: &Dataset) -> Result<f64, AppError> {
    let start = Instant::now();
    for chunk in data.records.chunks(1000) {
        store.add_memories(chunk).await?;
    }
    Ok(start.elapsed().as_secs_f64())
}

/// p50 and p99 in milliseconds.
fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |p: f64| {
        let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
        samples.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    (at(0.50), at(0.99))
}

const K: usize = 10;

async fn search(
    opts: &Options,
    n: usize,
    report: &mut Report,
    say: &(dyn Fn(&str) + Sync),
) -> Result<(), AppError> {
    let label = if n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    };
    say(&format!("search: building {label} synthetic memories"));
    let data = dataset(n, opts.queries)?;
    let path = opts.work_dir.join(format!("search-{n}.db"));
    let _ = std::fs::remove_file(&path);
    let sqlite = SqliteStore::open(&path).await?;
    say(&format!("search: storing {label} memories in SQLite"));
    fill(&sqlite, &data).await?;

    let index = Arc::new(MemoryIndex::default());
    let start = Instant::now();
    let held = index.synced(&sqlite).await?.len();
    let build = start.elapsed().as_secs_f64() * 1000.0;
    report.notes.push(format!(
        "{label}: in-process index of {held} vectors built from SQLite in {build:.0} ms"
    ));

    say(&format!(
        "search: timing {} queries at {label}",
        data.queries.len()
    ));
    let (dense, recall) = {
        let ix = index.synced(&sqlite).await?;
        let mut samples = Vec::with_capacity(data.queries.len());
        for (_, q) in &data.queries {
            let t = Instant::now();
            let hits = ix.search(q, K, MIN_SIMILARITY, &Filters::default());
            samples.push(t.elapsed());
            std::hint::black_box(hits);
        }
        let recall = recall_vs_brute_force(&data, |_, q| {
            ix.search(q, K, MIN_SIMILARITY, &Filters::default())
                .into_iter()
                .map(|h| h.0)
                .collect()
        });
        (percentiles(samples), recall)
    };
    let service = MemoryService::with_index(
        &sqlite,
        Err(openzero_embed::EmbedError::Inference("not needed".into())),
        index.clone(),
    );
    let hybrid = time_ranked(&service, &data, Ranking::Hybrid).await?;
    let full = time_ranked(&service, &data, Ranking::Full).await?;
    report.notes.push(format!(
        "{label}: in-process dense recall@{K} vs brute force: {recall:.3}"
    ));
    sqlite.close().await;
    remove_db(&path);

    let mut figures = vec![
        fig(
            "search",
            &format!("dense, {label}, p50"),
            "ms",
            dense.0,
            false,
        ),
        fig(
            "search",
            &format!("dense, {label}, p99"),
            "ms",
            dense.1,
            false,
        ),
        fig(
            "search",
            &format!("hybrid, {label}, p50"),
            "ms",
            hybrid.0,
            false,
        ),
        fig(
            "search",
            &format!("hybrid, {label}, p99"),
            "ms",
            hybrid.1,
            false,
        ),
        fig(
            "search",
            &format!("full, {label}, p50"),
            "ms",
            full.0,
            false,
        ),
        fig(
            "search",
            &format!("full, {label}, p99"),
            "ms",
            full.1,
            false,
        ),
    ];
    match &opts.postgres {
        Some(admin) => {
            say(&format!(
                "search: the same {label} memories in PostgreSQL + pgvector"
            ));
            match pgvector_baseline(admin, &data, n).await {
                Ok((pd, ph, pf, precall)) => {
                    for (f, b) in figures.iter_mut().zip([pd.0, pd.1, ph.0, ph.1, pf.0, pf.1]) {
                        f.baseline = Some(b);
                        f.baseline_name = "pgvector (exact)".into();
                    }
                    report.notes.push(format!(
                        "{label}: pgvector dense recall@{K} vs brute force: {precall:.3}"
                    ));
                }
                Err(e) => report
                    .notes
                    .push(format!("{label}: pgvector baseline not measured: {e}")),
            }
        }
        None => report.notes.push(format!(
            "{label}: pgvector baseline not measured: pass --postgres (scripts/bench starts one)"
        )),
    }
    report.figures.extend(figures);
    Ok(())
}

/// p50 and p99 of a whole search after embedding (candidates, ranking,
/// texts) under `ranking`: `Hybrid` is dense and words fused, `Full` the
/// default ranking.
async fn time_ranked(
    service: &MemoryService<'_>,
    data: &Dataset,
    ranking: Ranking,
) -> Result<(f64, f64), AppError> {
    let mut samples = Vec::with_capacity(data.queries.len());
    for (text, q) in &data.queries {
        let question = [Question::now(text)];
        let t = Instant::now();
        let found = service
            .search_ranked(
                &question,
                Some(std::slice::from_ref(q)),
                None,
                K,
                &Filters::default(),
                ranking,
            )
            .await?;
        samples.push(t.elapsed());
        std::hint::black_box(found);
    }
    Ok(percentiles(samples))
}

/// Mean share of the true top-k (by sorting every score) that was returned,
/// over the first 20 queries.
/// `found(i, q)` is what the search under test returned for query `i`.
fn recall_vs_brute_force(data: &Dataset, found: impl Fn(usize, &[f32]) -> Vec<MemoryId>) -> f64 {
    let queries = &data.queries[..data.queries.len().min(20)];
    let mut total = 0.0;
    for (n, (_, q)) in queries.iter().enumerate() {
        let mut all: Vec<(usize, f32)> = data
            .records
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let v = &r.embedding.as_ref()?.vector;
                Some((i, v.iter().zip(q).map(|(a, b)| a * b).sum::<f32>()))
            })
            .filter(|t| t.1 >= MIN_SIMILARITY)
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1));
        // Ids are assigned in insertion order from 1 in a fresh database.
        let truth: Vec<MemoryId> = all.iter().take(K).map(|t| t.0 as MemoryId + 1).collect();
        if truth.is_empty() {
            total += 1.0;
            continue;
        }
        let got = found(n, q);
        let hit = truth.iter().filter(|id| got.contains(id)).count();
        total += hit as f64 / truth.len() as f64;
    }
    total / queries.len().max(1) as f64
}

type Pair = (f64, f64);

async fn pgvector_baseline(
    admin: &str,
    data: &Dataset,
    n: usize,
) -> Result<(Pair, Pair, Pair, f64), AppError> {
    let name = format!("openzero_bench_{}_{n}", std::process::id());
    PgStore::drop_database(admin, &name).await?;
    let url = PgStore::create_database(admin, &name).await?;
    let result = async {
        let pg = PgStore::connect(&url).await?;
        fill(&pg, data).await?;
        let mut samples = Vec::with_capacity(data.queries.len());
        for (_, q) in &data.queries {
            let t = Instant::now();
            let hits = pg
                .dense_search(MODEL_ID, q, K as i64, MIN_SIMILARITY, &Filters::default())
                .await?;
            samples.push(t.elapsed());
            std::hint::black_box(hits);
        }
        let dense = percentiles(samples);
        let mut recall_hits = Vec::new();
        for (_, q) in data.queries.iter().take(20) {
            recall_hits.push(
                pg.dense_search(MODEL_ID, q, K as i64, MIN_SIMILARITY, &Filters::default())
                    .await?
                    .unwrap_or_default()
                    .into_iter()
                    .map(|h| h.0)
                    .collect::<Vec<_>>(),
            );
        }
        let recall =
            recall_vs_brute_force(data, |i, _| recall_hits.get(i).cloned().unwrap_or_default());
        let service = MemoryService::new(
            &pg,
            Err(openzero_embed::EmbedError::Inference("not needed".into())),
        );
        let hybrid = time_ranked(&service, data, Ranking::Hybrid).await?;
        let full = time_ranked(&service, data, Ranking::Full).await?;
        pg.close().await;
        Ok::<_, AppError>((dense, hybrid, full, recall))
    }
    .await;
    PgStore::drop_database(admin, &name).await?;
    result
}

// --------------------------------------------------------------- import ---

async fn import(
    opts: &Options,
    embedder: &Arc<Embedder>,
    report: &mut Report,
    say: &(dyn Fn(&str) + Sync),
) -> Result<(), AppError> {
    say(&format!(
        "import: {} memories with the real model",
        opts.import
    ));
    let mut jsonl = String::new();
    for i in 0..opts.import {
        let line = serde_json::json!({ "text": sentence(i % 122_880), "source": "import" });
        jsonl.push_str(&line.to_string());
        jsonl.push('\n');
    }
    let path = opts.work_dir.join("import.db");
    let _ = std::fs::remove_file(&path);
    let store = SqliteStore::open(&path).await?;
    let service = MemoryService::new(&store, Ok(embedder.clone()));
    let start = Instant::now();
    let got = service
        .import(std::io::Cursor::new(jsonl.into_bytes()), &|_| {})
        .await?;
    let secs = start.elapsed().as_secs_f64();
    store.close().await;
    remove_db(&path);
    report.figures.push(fig(
        "import",
        &format!("import {} memories (SQLite, embedded)", got.added),
        "memories/s",
        got.added as f64 / secs,
        true,
    ));
    Ok(())
}

/// Deletes a scratch SQLite database with its WAL files (best effort: the
/// scratch directory goes away at the end anyway).
fn remove_db(path: &Path) {
    let _ = std::fs::remove_file(path);
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

// -------------------------------------------------------------- machine ---

pub(crate) fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!(
        "{} on {cpu}, {cores} cores, openzero {}",
        Utc::now().format("%Y-%m-%d"),
        env!("CARGO_PKG_VERSION")
    )
}

fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The report as a Markdown table (the format of docs/benchmarks.md).
pub fn markdown(report: &Report) -> String {
    let mut out = String::from(
        "| measure | openzero | baseline | openzero vs baseline |\n|---|---:|---:|---:|\n",
    );
    for f in &report.figures {
        let ours = format!("{:.2} {}", f.openzero, f.unit);
        let base = match f.baseline {
            Some(b) => format!("{b:.2} {} ({})", f.unit, f.baseline_name),
            None => "not measured".into(),
        };
        let adv = match f.advantage() {
            Some(a) => format!("{a:.2}× {}", if a >= 1.0 { "better" } else { "worse" }),
            None => "—".into(),
        };
        out.push_str(&format!("| {} | {ours} | {base} | {adv} |\n", f.measure));
    }
    out.push('\n');
    for n in &report.notes {
        out.push_str(&format!("- {n}\n"));
    }
    out
}

#[cfg(test)]
mod tests;
