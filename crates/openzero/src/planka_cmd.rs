//! `openzero planka status|sync`: the two-way sync of the boards with a
//! Planka server.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use openzero_app::planka_sync::follow;
use openzero_config::Loaded;

#[derive(Debug, Subcommand)]
pub enum PlankaCommand {
    /// Show whether Planka is configured, the last sync and what waits to be sent
    #[command(after_help = "\
Examples:
  openzero planka status
  openzero planka status --json

Read locally (no request to Planka). `waiting` counts local changes the next
sync sends: new, changed, moved and archived cards (kept while Planka is
down). --json prints one object: configured, base_url, user, project,
webhook, last_sync {at, ok, message}, linked_cards, waiting,
webhook_events_waiting.")]
    Status {
        #[arg(long)]
        json: bool,
    },

    /// Sync the boards with Planka now, both ways (what `serve` does within seconds)
    #[command(after_help = "\
Examples:
  PLANKA_BASE_URL=http://127.0.0.1:3000 PLANKA_ADMIN_EMAIL=me@example.org \\
  PLANKA_ADMIN_PASSWORD=... openzero planka sync
  openzero planka sync --json

The Planka project (planka.project, default OpenZero) gets a board per
board and a list per list, made when missing. Per field, the side changed
last wins; the losing value goes to the card's history (`task show`). A card
deleted in Planka is archived here; one archived here is deleted there. A
second sync with nothing changed changes nothing.")]
    Sync {
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(loaded: Loaded, cmd: PlankaCommand) -> Result<ExitCode> {
    let services = openzero_server::services(loaded).await?;
    let result = command(&services, cmd).await;
    services.store.close().await;
    result
}

async fn command(services: &openzero_app::Services, cmd: PlankaCommand) -> Result<ExitCode> {
    let store = services.store.as_ref();
    match cmd {
        PlankaCommand::Status { json } => {
            let s = follow::status(store, &services.loaded).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&s)?);
                return Ok(ExitCode::SUCCESS);
            }
            if !s.configured {
                outln!(
                    "Planka: not configured (set PLANKA_BASE_URL, PLANKA_ADMIN_EMAIL and PLANKA_ADMIN_PASSWORD)."
                );
                outln!("The boards work without it: `openzero board list`.");
                return Ok(ExitCode::SUCCESS);
            }
            outln!(
                "Planka: {} as {} (project {})",
                s.base_url.as_deref().unwrap_or_default(),
                s.user.as_deref().unwrap_or_default(),
                s.project
            );
            match &s.last_sync {
                None => outln!("Last sync: never"),
                Some(l) => outln!(
                    "Last sync: {} — {}{}",
                    l.at.with_timezone(&services.tz())
                        .format("%a %Y-%m-%d %H:%M"),
                    if l.ok { "" } else { "failed: " },
                    l.message
                ),
            }
            outln!(
                "Cards linked: {}; local changes waiting: {}",
                s.linked_cards,
                s.waiting
            );
            outln!(
                "Webhooks: {}{}",
                if s.webhook {
                    "on (POST /webhooks/planka)"
                } else {
                    "off (set PLANKA_WEBHOOK_TOKEN; the periodic sync still runs)"
                },
                if s.webhook_events_waiting > 0 {
                    format!(", {} events waiting", s.webhook_events_waiting)
                } else {
                    String::new()
                }
            );
        }
        PlankaCommand::Sync { json } => {
            let report = follow::sync_recorded(store, &services.loaded).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                outln!("Planka: {}", report.line());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
