//! `openzero memory …`: remember, search, forget, import, export.

use std::io::BufReader;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use openzero_app::memory::{AddMemory, MemoryService, Question};
use openzero_config::Loaded;
use openzero_core::memory::{Filters, Source};
use openzero_core::recall::Ranking;

use crate::cli::MemoryCommand;

/// RFC 3339, or a date meaning the start (or, with `end_of_day`, the end)
/// of that day in the owner's time zone.
pub(crate) fn parse_time(
    s: &str,
    tz: chrono_tz::Tz,
    end_of_day: bool,
    flag: &str,
) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").with_context(|| {
        format!("{flag} '{s}' is not a time: use 2026-03-29 or 2026-03-29T08:00:00+02:00")
    })?;
    let day = if end_of_day {
        date.succ_opt().context("date out of range")?
    } else {
        date
    };
    let midnight = day.and_hms_opt(0, 0, 0).context("date out of range")?;
    let local = tz
        .from_local_datetime(&midnight)
        .earliest()
        .with_context(|| format!("{flag} '{s}': no such local time in {}", tz.name()))?;
    let t = local.with_timezone(&Utc);
    Ok(if end_of_day {
        t - chrono::Duration::microseconds(1)
    } else {
        t
    })
}

pub(crate) fn bar(len: u64, what: &str) -> indicatif::ProgressBar {
    let b = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {msg} [{bar:30}] {percent}% ({eta} left)",
    ) {
        b.set_style(style.progress_chars("=> "));
    }
    b.set_message(what.to_owned());
    b
}

/// One input line of `memory search --queries`.
#[derive(serde::Deserialize)]
struct QueryLine {
    id: serde_json::Value,
    query: String,
    /// When the question is asked (RFC 3339): later memories are not
    /// searched, and "last week" counts back from it.
    #[serde(default)]
    at: Option<DateTime<Utc>>,
}

/// `memory search --queries FILE`: one JSON line out per query line in.
async fn batch_search(
    svc: &MemoryService<'_>,
    file: &std::path::Path,
    k: usize,
    filters: &Filters,
    ranking: Ranking,
) -> Result<ExitCode> {
    use std::io::BufRead;
    const CHUNK: usize = 256;
    let reader: Box<dyn std::io::BufRead> = if file.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let f =
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
        Box::new(BufReader::new(f))
    };
    let mut pending: Vec<QueryLine> = Vec::with_capacity(CHUNK);
    let mut warned = false;
    let mut lines = reader.lines().enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let line = line.with_context(|| format!("cannot read line {}", i + 1))?;
        if !line.trim().is_empty() {
            match serde_json::from_str::<QueryLine>(&line) {
                Ok(q) => pending.push(q),
                Err(e) => eprintln!("line {}: skipped: {e}", i + 1),
            }
        }
        if pending.len() == CHUNK || (lines.peek().is_none() && !pending.is_empty()) {
            let questions: Vec<Question> = pending
                .iter()
                .map(|q| Question {
                    text: q.query.clone(),
                    at: q.at,
                })
                .collect();
            let results = svc
                .search_questions(&questions, k, filters, ranking)
                .await?;
            for (q, found) in pending.drain(..).zip(results) {
                if let (Some(w), false) = (&found.warning, warned) {
                    tracing::warn!("{w}");
                    warned = true;
                }
                outln!(
                    "{}",
                    serde_json::to_string(&serde_json::json!({"id": q.id, "results": found.hits}))?
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run(loaded: &Loaded, cmd: MemoryCommand) -> Result<ExitCode> {
    let tz = loaded.settings.general.timezone.0;
    let services = openzero_server::services(loaded.clone()).await?;
    // Only commands that embed load the model (90 MB).
    let needs_model = matches!(
        cmd,
        MemoryCommand::Add { .. }
            | MemoryCommand::Search { .. }
            | MemoryCommand::Import { .. }
            | MemoryCommand::Reindex
    );
    let svc = if needs_model {
        services.memory().await
    } else {
        MemoryService::shared(
            &*services.store,
            Err("not loaded".into()),
            services.memory_index.clone(),
        )
    };
    let result = run_with(&services, &svc, cmd, tz).await;
    services.store.close().await;
    result
}

async fn run_with(
    services: &openzero_app::Services,
    svc: &MemoryService<'_>,
    cmd: MemoryCommand,
    tz: chrono_tz::Tz,
) -> Result<ExitCode> {
    match cmd {
        MemoryCommand::Add {
            text,
            at,
            source,
            external_id,
            metadata,
            json,
        } => {
            let created_at = at.map(|a| parse_time(&a, tz, false, "--at")).transpose()?;
            let added = svc
                .add(AddMemory {
                    text,
                    created_at,
                    source,
                    external_id,
                    metadata,
                })
                .await?;
            if let Some(w) = &added.warning {
                tracing::warn!("{w}");
            }
            if json {
                outln!("{}", serde_json::to_string_pretty(&added.memory)?);
            } else if added.new {
                outln!("Remembered #{} ({})", added.memory.id, added.memory.source);
            } else {
                outln!(
                    "Already remembered as #{} ({}); nothing added",
                    added.memory.id,
                    added.memory.source
                );
            }
        }
        MemoryCommand::Search {
            query,
            queries,
            k,
            since,
            until,
            source,
            ranking,
            json,
        } => {
            let ranking: Ranking = ranking.parse().map_err(anyhow::Error::msg)?;
            let filters = Filters {
                since: since
                    .map(|s| parse_time(&s, tz, false, "--since"))
                    .transpose()?,
                until: until
                    .map(|s| parse_time(&s, tz, true, "--until"))
                    .transpose()?,
                source: source.map(|s| Source::new(&s)).transpose()?,
            };
            if let Some(file) = queries {
                return batch_search(svc, &file, k, &filters, ranking).await;
            }
            let question = Question::now(&query.unwrap_or_default());
            let found = svc
                .search_questions(&[question], k, &filters, ranking)
                .await?
                .pop()
                .context("search returned nothing")?;
            if let Some(w) = &found.warning {
                tracing::warn!("{w}");
            }
            if json {
                outln!("{}", serde_json::to_string_pretty(&found.hits)?);
            } else if found.hits.is_empty() {
                outln!("No memories found.");
            } else {
                for (i, h) in found.hits.iter().enumerate() {
                    let when = h.created_at.with_timezone(&tz).format("%Y-%m-%d");
                    let text = h.text.replace('\n', " ");
                    let short: String = text.chars().take(160).collect();
                    let more = if short.len() < text.len() { "…" } else { "" };
                    outln!(
                        "{:>2}. #{:<5} {when} {:<9} {short}{more}",
                        i + 1,
                        h.id,
                        h.source.as_str()
                    );
                }
            }
        }
        MemoryCommand::Forget { id } => {
            svc.forget(id).await?;
            outln!("Forgot #{id}: its text, vector and index entry are deleted.");
        }
        MemoryCommand::Stats { json } => {
            return crate::memory_hygiene_cmd::stats(services, json).await;
        }
        MemoryCommand::Consolidate {
            apply,
            undo,
            merges,
            json,
        } => {
            return crate::memory_hygiene_cmd::consolidate(services, apply, undo, merges, json)
                .await;
        }
        MemoryCommand::Import { file } => {
            if let Some(w) = svc.unavailable() {
                tracing::warn!("importing without vectors: {w}");
            }
            let reader: Box<dyn std::io::BufRead> = if file.as_os_str() == "-" {
                Box::new(BufReader::new(std::io::stdin()))
            } else {
                let f = std::fs::File::open(&file)
                    .with_context(|| format!("cannot open {}", file.display()))?;
                Box::new(BufReader::new(f))
            };
            // Progress in bytes of the file: known up front without a second read.
            let total = if file.as_os_str() == "-" {
                0
            } else {
                std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0)
            };
            let pb = bar(total, "importing");
            let report = svc.import(reader, &|n| pb.set_position(n as u64)).await?;
            pb.finish_and_clear();
            for (line, msg) in &report.rejected {
                eprintln!("line {line}: skipped: {msg}");
            }
            outln!(
                "Imported {} new memories ({} already present, {} lines skipped{}).",
                report.added,
                report.already_present,
                report.rejected.len(),
                if report.not_embedded > 0 {
                    format!(", {} waiting to be embedded", report.not_embedded)
                } else {
                    String::new()
                }
            );
        }
        MemoryCommand::Export { file } => {
            let n = match &file {
                Some(path) => {
                    let mut f = std::fs::File::create(path)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    let n = svc.export(&mut f).await?;
                    f.sync_all()?;
                    eprintln!("Exported {n} memories to {}", path.display());
                    n
                }
                None => svc.export(&mut std::io::stdout().lock()).await?,
            };
            tracing::debug!(n, "exported");
        }
        MemoryCommand::Reindex => {
            if let Some(w) = svc.unavailable() {
                bail!("cannot reindex: {w}");
            }
            let st = svc.stats().await?;
            let pb = bar(st.backlog.max(0) as u64, "embedding");
            let n = svc.reindex(&|done, _| pb.set_position(done as u64)).await?;
            pb.finish_and_clear();
            outln!("Embedded {n} memories with {}.", openzero_embed::MODEL_ID);
        }
    }
    Ok(ExitCode::SUCCESS)
}
