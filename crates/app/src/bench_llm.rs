//! `openzero bench llm`: the embedded chat model's decode rate and time to
//! first token, beside llama.cpp's server on the same GGUF file and thread
//! count, in the same run.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openzero_core::agent::{ChatMessage, Role};
use openzero_llm::embedded::EmbeddedModel;
use openzero_llm::openai::OpenAiCompatible;
use openzero_llm::{ChatModel, ChatRequest};

use crate::AppError;
use crate::bench::{Figure, Report, median};

/// What to measure.
#[derive(Debug, Clone)]
pub struct LlmOptions {
    /// The GGUF file.
    pub model: PathBuf,
    /// Threads for the embedded model (the llama.cpp server must be started
    /// with the same number; scripts/bench-llm does).
    pub threads: usize,
    /// Tokens generated per run.
    pub tokens: usize,
    /// Timed runs per side (after one warm-up).
    pub runs: usize,
    /// The llama.cpp server's OpenAI-compatible URL, serving the same file.
    pub llamacpp: Option<String>,
}

/// One side's figures.
#[derive(Debug, Clone, Copy, Default)]
struct Timing {
    /// Median decode rate after the first token, tokens/s.
    decode: f64,
    /// Median time to first token, ms.
    ttft: f64,
}

const PROMPT: &str = "Write a long, detailed story about a lighthouse keeper who finds a message in a bottle. Describe the sea, the weather and every day of the week that follows.";

/// A request whose first words differ per run, so neither side can reuse
/// the previous run's prompt (llama.cpp keeps the matching prefix of the
/// last prompt in its KV cache).
fn request(tokens: usize, run: usize) -> ChatRequest {
    ChatRequest {
        messages: vec![
            ChatMessage::new(
                Role::System,
                format!("Session {run}. You are a helpful assistant."),
            ),
            ChatMessage::new(Role::User, PROMPT),
        ],
        max_tokens: tokens,
        temperature: 0.0,
        tools: Vec::new(),
    }
}

/// Streams one answer; returns (time to first piece, time from first to
/// last piece, the text).
async fn one(
    model: &dyn ChatModel,
    tokens: usize,
    run: usize,
) -> Result<(Duration, Duration, String), AppError> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let started = Instant::now();
    let timer = tokio::spawn(async move {
        let mut first = None;
        let mut last = None;
        while rx.recv().await.is_some() {
            let now = Instant::now();
            first.get_or_insert(now);
            last = Some(now);
        }
        (first, last)
    });
    let r = model
        .chat(request(tokens, run), Some(tx))
        .await
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let (first, last) = timer
        .await
        .map_err(|e| AppError::Invalid(format!("timer task: {e}")))?;
    let (Some(first), Some(last)) = (first, last) else {
        return Err(AppError::Invalid(format!(
            "{} streamed nothing",
            model.info().provider
        )));
    };
    Ok((first - started, last - first, r.text))
}

async fn measure(
    model: &dyn ChatModel,
    counter: &EmbeddedModel,
    opts: &LlmOptions,
    say: &(dyn Fn(&str) + Sync),
) -> Result<Timing, AppError> {
    let name = model.info().provider;
    say(&format!("{name}: warm-up"));
    one(model, 8, 0).await?;
    let (mut decode, mut ttft) = (Vec::new(), Vec::new());
    for run in 1..=opts.runs {
        let (first, rest, text) = one(model, opts.tokens, run).await?;
        // Both sides' text is counted with the same tokenizer (the GGUF's).
        let tokens = counter
            .count_tokens(&text)
            .map_err(|e| AppError::Invalid(e.to_string()))?;
        let rate = if rest.as_secs_f64() > 0.0 && tokens > 1 {
            (tokens - 1) as f64 / rest.as_secs_f64()
        } else {
            0.0
        };
        say(&format!(
            "{name}: run {run}: {tokens} tokens, first after {:.0} ms, then {rate:.1} tokens/s",
            first.as_secs_f64() * 1000.0
        ));
        decode.push(rate);
        ttft.push(first.as_secs_f64() * 1000.0);
    }
    Ok(Timing {
        decode: median(decode),
        ttft: median(ttft),
    })
}

/// Runs the chat-model benchmark. `say` receives progress lines.
pub async fn llm(opts: &LlmOptions, say: &(dyn Fn(&str) + Sync)) -> Result<Report, AppError> {
    let path = opts.model.clone();
    let threads = opts.threads;
    say(&format!("loading {}", path.display()));
    let loading = Instant::now();
    let embedded = tokio::task::spawn_blocking(move || EmbeddedModel::load(&path, threads))
        .await
        .map_err(|e| AppError::Invalid(format!("model load task: {e}")))?
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let load_ms = loading.elapsed().as_secs_f64() * 1000.0;
    let embedded = Arc::new(embedded);
    let ours = measure(&*embedded, &embedded, opts, say).await?;
    let theirs = match &opts.llamacpp {
        Some(url) => {
            let server =
                OpenAiCompatible::new("llama.cpp", url, None, "bench", Duration::from_secs(300))
                    .map_err(|e| AppError::Invalid(e.to_string()))?;
            Some(measure(&server, &embedded, opts, say).await?)
        }
        None => None,
    };
    let base = "llama.cpp server, same GGUF and threads";
    let figures = vec![
        Figure {
            group: "llm".into(),
            measure: format!("decode, {} tokens", opts.tokens),
            unit: "tokens/s".into(),
            openzero: ours.decode,
            baseline: theirs.map(|t| t.decode),
            baseline_name: base.into(),
            higher_is_better: true,
        },
        Figure {
            group: "llm".into(),
            measure: "time to first token".into(),
            unit: "ms".into(),
            openzero: ours.ttft,
            baseline: theirs.map(|t| t.ttft),
            baseline_name: base.into(),
            higher_is_better: false,
        },
    ];
    let mut notes = vec![
        format!(
            "model {} ({}), {} threads, greedy, {} runs per side (median), after one warm-up; each run's prompt starts differently, so no prompt cache helps",
            opts.model
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            embedded.architecture(),
            opts.threads,
            opts.runs
        ),
        format!("embedded model loaded in {load_ms:.0} ms"),
        "tokens counted with the GGUF's own tokenizer on both sides; decode rate = tokens after the first / time from first to last piece".into(),
    ];
    if opts.llamacpp.is_none() {
        notes.push(
            "llama.cpp baseline not measured: pass --llamacpp URL (scripts/bench-llm starts one)"
                .into(),
        );
    }
    Ok(Report { figures, notes })
}
