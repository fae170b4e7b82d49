//! `openzero think`, `openzero thoughts`, `openzero disclosures`: asking a
//! cloud model only after the owner saw and approved what leaves.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use anyhow::{Result, bail};
use openzero_app::think::{self, Asked, Decided};
use openzero_app::{AppError, Services};
use openzero_config::Loaded;
use openzero_core::consent::Decision;
use openzero_store::Thought;

use crate::cli::ThoughtsCommand;

/// The conversation channel of the terminal.
pub const CHANNEL: &str = "terminal";
/// Who approves from the terminal, as the disclosure log records it.
const APPROVER: &str = "owner (terminal)";

pub async fn think(loaded: &Loaded, question: &str) -> Result<ExitCode> {
    if question.trim().is_empty() {
        bail!("the question is empty");
    }
    let store = openzero_app::open_store(loaded).await?;
    let services = openzero_server::services_over(loaded.clone(), store.clone());
    let result = think_in(&services, question).await;
    store.close().await;
    result
}

async fn think_in(services: &Services, question: &str) -> Result<ExitCode> {
    let (tx, printer) = printer();
    let asked = think::ask(services, CHANNEL, question, Some(tx)).await;
    let printed = printer.await.unwrap_or(false);
    match asked {
        // A model on this machine or network: nothing left, nothing to approve.
        Ok(Asked::Answered(text)) => {
            finish_line(printed, &text);
            Ok(ExitCode::SUCCESS)
        }
        Ok(Asked::Held(thought)) => approve_and_send(services, &thought).await,
        Err(e @ (AppError::Model(_) | AppError::ModelUnavailable(_))) => {
            if printed {
                eprintln!();
            }
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}

/// Shows `thought`, asks y/N on standard input, and acts on the answer.
pub async fn approve_and_send(services: &Services, thought: &Thought) -> Result<ExitCode> {
    let loaded = &services.loaded;
    show(loaded, thought);
    eprint!(
        "Send this to {} ({})? [y/N] ",
        thought.provider, thought.model
    );
    std::io::stderr().flush().ok();
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line).unwrap_or(0);
    if read == 0 {
        eprintln!();
        eprintln!(
            "Not sent. Thought #{} waits for your decision until {}: `openzero thoughts grant {}` or `openzero thoughts cancel {}`.",
            thought.id,
            local(loaded, thought.expires_at),
            thought.id,
            thought.id
        );
        return Ok(ExitCode::SUCCESS);
    }
    let decision = match line.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Decision::Grant,
        _ => Decision::Cancel,
    };
    decide_and_send(services, thought.id, decision).await
}

async fn decide_and_send(services: &Services, id: i64, decision: Decision) -> Result<ExitCode> {
    let (tx, printer) = printer();
    let decided = think::decide(services, id, decision, APPROVER, Some(tx)).await;
    let printed = printer.await.unwrap_or(false);
    match decided {
        Ok(Decided::Cancelled) => {
            eprintln!("Cancelled: nothing was sent.");
            Ok(ExitCode::SUCCESS)
        }
        Ok(Decided::Refused(why)) => bail!("thought #{id}: {why}"),
        Ok(Decided::NotFound) => bail!("thought #{id} does not exist"),
        Ok(Decided::Sent(s)) => {
            finish_line(printed, &s.text);
            if let Some(d) = s.disclosure {
                eprintln!(
                    "(disclosure #{}: {} bytes to {}, sha256 {})",
                    d.id,
                    d.bytes,
                    d.provider,
                    &d.sha256[..12.min(d.sha256.len())]
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(AppError::ModelUnavailable(why)) => bail!("{why}"),
        Err(e) => {
            if printed {
                eprintln!();
            }
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Prints what a thought would send.
fn show(loaded: &Loaded, t: &Thought) {
    eprintln!(
        "Z would send this to {} ({}), a cloud service — thought #{}:",
        t.provider, t.model, t.id
    );
    eprintln!();
    for item in &t.disclosure.items {
        eprintln!("  {}", item.label);
        for line in item.text.lines() {
            eprintln!("    {line}");
        }
    }
    eprintln!();
    let r = &t.disclosure.redactor.redactions;
    if !r.is_empty() {
        let names: Vec<&str> = r.iter().map(|r| r.placeholder.as_str()).collect();
        eprintln!(
            "{} identifier(s) replaced: {}. They are put back in the answer here, on your machine.",
            r.len(),
            names.join(", ")
        );
    }
    eprintln!(
        "{} characters. Expires {}.",
        t.disclosure.chars(),
        local(loaded, t.expires_at)
    );
}

fn local(loaded: &Loaded, at: chrono::DateTime<chrono::Utc>) -> String {
    let tz = loaded.settings.general.timezone.0;
    format!(
        "{} ({})",
        at.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
        tz.name()
    )
}

/// A channel whose pieces are printed to stdout as they come; the task
/// reports whether anything was printed.
fn printer() -> (
    tokio::sync::mpsc::UnboundedSender<String>,
    tokio::task::JoinHandle<bool>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let task = tokio::spawn(async move {
        let mut out = std::io::stdout();
        let mut printed = false;
        while let Some(piece) = rx.recv().await {
            if out
                .write_all(piece.as_bytes())
                .and_then(|()| out.flush())
                .is_err()
            {
                break;
            }
            printed = true;
        }
        printed
    });
    (tx, task)
}

fn finish_line(printed: bool, text: &str) {
    if printed {
        outln!();
    } else {
        outln!("{text}");
    }
}

pub async fn thoughts(loaded: &Loaded, cmd: ThoughtsCommand) -> Result<ExitCode> {
    let store = openzero_app::open_store(loaded).await?;
    let services = openzero_server::services_over(loaded.clone(), store.clone());
    let result = thoughts_in(&services, cmd).await;
    store.close().await;
    result
}

async fn thoughts_in(services: &Services, cmd: ThoughtsCommand) -> Result<ExitCode> {
    let (loaded, store) = (&services.loaded, &*services.store);
    let now = chrono::Utc::now();
    match cmd {
        ThoughtsCommand::List { limit, json } => {
            let all = store.list_thoughts(limit.max(1)).await?;
            if json {
                for t in &all {
                    outln!(
                        "{}",
                        serde_json::json!({
                            "id": t.id,
                            "created_at": t.created_at,
                            "expires_at": t.expires_at,
                            "state": t.state.at(t.expires_at, now).as_str(),
                            "provider": t.provider,
                            "model": t.model,
                            "question": t.question,
                            "items": t.disclosure.items.iter().map(|i| &i.label).collect::<Vec<_>>(),
                            "decided_by": t.decided_by,
                        })
                    );
                }
            } else if all.is_empty() {
                outln!("No thoughts yet. `openzero think \"...\"` asks the deep-thinking model.");
            } else {
                for t in &all {
                    outln!(
                        "#{:<4} {:<9} {} {} ({}) {}",
                        t.id,
                        t.state.at(t.expires_at, now).as_str(),
                        local(loaded, t.created_at),
                        t.provider,
                        t.model,
                        clip(&t.question, 60)
                    );
                }
            }
        }
        ThoughtsCommand::Show { id } => {
            let Some(t) = store.get_thought(id).await? else {
                bail!("thought #{id} does not exist")
            };
            show(loaded, &t);
            eprintln!("State: {}.", t.state.at(t.expires_at, now).as_str());
            if let Some(a) = &t.answer {
                outln!("{a}");
            }
        }
        ThoughtsCommand::Grant { id } => {
            return decide_and_send(services, id, Decision::Grant).await;
        }
        ThoughtsCommand::Cancel { id } => {
            match think::decide(services, id, Decision::Cancel, APPROVER, None).await? {
                Decided::Cancelled => eprintln!("Cancelled thought #{id}: nothing was sent."),
                Decided::Refused(why) => bail!("thought #{id}: {why}"),
                Decided::NotFound => bail!("thought #{id} does not exist"),
                Decided::Sent(_) => bail!("thought #{id} was sent, not cancelled"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn clip(s: &str, max: usize) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        format!("{}…", one_line.chars().take(max - 1).collect::<String>())
    }
}

pub async fn disclosures(loaded: &Loaded, limit: i64, json: bool) -> Result<ExitCode> {
    let store = openzero_app::open_store(loaded).await?;
    let all = store.list_disclosures(limit.max(1)).await;
    store.close().await;
    let all = all?;
    if json {
        for d in &all {
            outln!("{}", serde_json::to_string(d)?);
        }
    } else if all.is_empty() {
        outln!("Nothing was ever sent to a cloud model.");
    } else {
        for d in &all {
            outln!(
                "#{:<4} {}  {} ({})  {} bytes  sha256 {}  approved by {}  {}",
                d.id,
                local(loaded, d.at),
                d.provider,
                d.model,
                d.bytes,
                d.sha256,
                d.approved_by,
                d.outcome.as_deref().unwrap_or("no outcome (interrupted)")
            );
            outln!("      items: {}", d.items.join("; "));
        }
    }
    Ok(ExitCode::SUCCESS)
}
