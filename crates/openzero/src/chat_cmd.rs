//! `openzero chat`: talk to Z in the terminal, answers streamed as they come.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use openzero_app::agent::Chat;
use openzero_app::consent::needs_consent;
use openzero_config::Loaded;

/// The conversation channel of the terminal.
const CHANNEL: &str = "terminal";

pub async fn run(loaded: &Loaded, message: Option<String>) -> Result<ExitCode> {
    let services = openzero_server::services(loaded.clone()).await?;
    let result = talk(&services, message).await;
    services.store.close().await;
    result
}

async fn talk(services: &openzero_app::Services, message: Option<String>) -> Result<ExitCode> {
    let (loaded, store) = (&services.loaded, &services.store);
    let model = services
        .chat_model()
        .await
        .map_err(openzero_app::AppError::ModelUnavailable)?;
    let memory = services.memory().await;
    if let Some(why) = memory.unavailable() {
        tracing::warn!("memories are found by words only: {why}");
    }
    let cloud = needs_consent(&model.info());
    let chat = Chat::new(loaded, &**store, memory, model.clone(), CHANNEL);
    let turn = Turn {
        loaded,
        store,
        chat: &chat,
        model: &*model,
        cloud,
    };
    match message.as_deref() {
        Some("-") => {
            if cloud {
                // Standard input is where the approval is read from.
                anyhow::bail!(
                    "with a cloud model the message cannot come from standard input (your approval is read there); pass it as an argument"
                );
            }
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the message from standard input")?;
            turn.one(&text).await
        }
        Some(text) => turn.one(text).await,
        None => conversation(&turn).await,
    }
}

/// One message's way: straight to a local model, or through consent.
struct Turn<'a> {
    loaded: &'a Loaded,
    store: &'a std::sync::Arc<dyn openzero_store::Store>,
    chat: &'a Chat<'a>,
    model: &'a dyn openzero_llm::ChatModel,
    cloud: bool,
}

impl Turn<'_> {
    async fn one(&self, text: &str) -> Result<ExitCode> {
        if !self.cloud {
            return one(self.chat, text).await;
        }
        let ctx = self.chat.context(text).await?;
        let thought = openzero_app::consent::hold(
            self.loaded,
            &**self.store,
            &self.model.info(),
            CHANNEL,
            text,
            ctx,
        )
        .await?;
        let services = openzero_server::services_over(self.loaded.clone(), self.store.clone());
        crate::think_cmd::approve_and_send(&services, &thought).await
    }
}

/// Sends one message and prints the answer as it is generated.
async fn one(chat: &Chat<'_>, text: &str) -> Result<ExitCode> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let printer = tokio::spawn(async move {
        let mut out = std::io::stdout();
        let mut printed = false;
        while let Some(piece) = rx.recv().await {
            // A closed pipe ends printing, not the program.
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
    let started = chrono::Utc::now();
    let answer = chat.send(text, Some(tx)).await?;
    let streamed = printer.await.unwrap_or(false);
    if answer.failed {
        // Readable, on stderr, and a failing exit status for scripts; the
        // message itself is already kept in the conversation.
        eprintln!("error: {}", answer.text);
        return Ok(ExitCode::FAILURE);
    }
    if streamed {
        outln!();
    } else {
        // Nothing streamed (an error message, or an empty answer): print it whole.
        outln!("{}", answer.text);
    }
    // Mail rules Z proposed: in force only once the owner confirms them.
    for r in chat.store().mail_rules_proposed().await? {
        if r.1 >= started {
            outln!(
                "Z proposes mail rule {} — add it with `openzero mail rules confirm {}`",
                r.0.label(),
                r.0.id
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn conversation(turn: &Turn<'_>) -> Result<ExitCode> {
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        eprintln!("Talking to Z (an empty line or Ctrl-D ends).");
    }
    let stdin = std::io::stdin();
    loop {
        if interactive {
            eprint!("you> ");
            std::io::stderr().flush().ok();
        }
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if interactive {
            eprint!("Z> ");
        }
        turn.one(line.trim()).await?;
    }
    Ok(ExitCode::SUCCESS)
}
