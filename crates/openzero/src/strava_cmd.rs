//! `openzero strava connect|status|harvest|subscribe|unsubscribe|disconnect`:
//! the link to Strava (read-only).

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Subcommand;
use openzero_app::strava;
use openzero_config::Loaded;

#[derive(Debug, Subcommand)]
pub enum StravaCommand {
    /// Let OpenZero read your Strava activities (OAuth, activity:read_all)
    #[command(after_help = "\
Examples:
  STRAVA_CLIENT_ID=12345 STRAVA_CLIENT_SECRET=... openzero strava connect
  openzero strava connect --since 2025-01-01

Create an API application at https://www.strava.com/settings/api first,
with 127.0.0.1 as its authorization callback domain. Open the address
printed, allow access; Strava sends your browser back to this machine. On
a server without a browser, paste the address the browser ends on. The
tokens are kept in DATA_DIR/strava-token.json (owner-only) and renewed
before they expire. The history since --since (default
strava.harvest_since, else a year back) is fetched by the strava-harvest
job, within Strava's rate limits; `openzero strava harvest` runs it now.")]
    Connect {
        /// Back-fill history from this date (YYYY-MM-DD)
        #[arg(long)]
        since: Option<String>,
    },

    /// Whether Strava is connected, the webhook, the harvest's progress
    #[command(after_help = "\
Examples:
  openzero strava status
  openzero strava status --json

Read locally (no request to Strava). --json prints one object: configured,
connected, athlete_id, athlete, connected_at, webhook, events_waiting,
activities, harvest {since, cursor, fetched, already, resume_at,
caught_up_at}.")]
    Status {
        #[arg(long)]
        json: bool,
    },

    /// Fetch the history not here yet, now (what the strava-harvest job does)
    #[command(after_help = "\
Examples:
  openzero strava harvest
  openzero strava harvest --since 2024-01-01

Oldest first; an activity already here is not fetched again. Stops when a
rate-limit window (per 15 minutes, per day, as Strava's headers state) is
nearly spent and says when the next run goes on; the position is kept.")]
    Harvest {
        /// Start again from this date (YYYY-MM-DD); activities kept stay
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        json: bool,
    },

    /// Ask Strava to push new activities to this server's webhook
    #[command(after_help = "\
Examples:
  openzero strava subscribe https://z.example.org/webhooks/strava

Needs STRAVA_WEBHOOK_VERIFY_TOKEN set and `openzero serve` reachable at
that address: Strava checks it (GET with hub.challenge) before it answers.
Each new run then arrives within seconds, with feedback on Telegram. Without
a public address the strava-harvest job picks new runs up every hour.")]
    Subscribe { callback_url: String },

    /// End the webhook subscription
    #[command(after_help = "\
Examples:
  openzero strava unsubscribe")]
    Unsubscribe,

    /// Forget the tokens (activities already here stay)
    #[command(after_help = "\
Examples:
  openzero strava disconnect

To revoke OpenZero's access on Strava's side as well, remove it at
https://www.strava.com/settings/apps.")]
    Disconnect,
}

pub async fn run(loaded: Loaded, cmd: StravaCommand) -> Result<ExitCode> {
    let services = openzero_server::services(loaded).await?;
    let result = command(&services, cmd).await;
    services.store.close().await;
    result
}

fn date(s: Option<&str>) -> Result<Option<chrono::NaiveDate>> {
    s.map(|d| {
        chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
            .map_err(|_| anyhow::anyhow!("\"{d}\" is not a date (YYYY-MM-DD)"))
    })
    .transpose()
}

async fn command(
    services: &std::sync::Arc<openzero_app::Services>,
    cmd: StravaCommand,
) -> Result<ExitCode> {
    let loaded = &services.loaded;
    match cmd {
        StravaCommand::Connect { since } => {
            let since = date(since.as_deref())?;
            let pasted = crate::commands::pasted_line();
            let say = |s: &str| outln!("{s}");
            let t = strava::connect(services, &say, pasted, since).await?;
            let s = strava::harvest::state(services).await?;
            outln!(
                "Connected to Strava as {} (athlete {}), read-only.",
                if t.athlete_name.is_empty() {
                    "you"
                } else {
                    &t.athlete_name
                },
                t.athlete_id
            );
            outln!(
                "History since {} is fetched by the strava-harvest job while `openzero serve` runs; `openzero strava harvest` fetches it now.",
                s.since.map(|d| d.to_string()).unwrap_or_default()
            );
        }
        StravaCommand::Status { json } => {
            let s = strava::status(services).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&s)?);
                return Ok(ExitCode::SUCCESS);
            }
            if !s.configured {
                outln!(
                    "Strava: not configured (set STRAVA_CLIENT_ID and STRAVA_CLIENT_SECRET; see `openzero strava connect --help`)."
                );
                outln!("Files work without it: `openzero training import`.");
                return Ok(ExitCode::SUCCESS);
            }
            if !s.connected {
                outln!("Strava: configured, not connected (run `openzero strava connect`).");
                return Ok(ExitCode::SUCCESS);
            }
            let tz = services.tz();
            outln!(
                "Strava: connected as {} (athlete {}) since {}",
                s.athlete
                    .as_deref()
                    .filter(|n| !n.is_empty())
                    .unwrap_or("you"),
                s.athlete_id.unwrap_or_default(),
                s.connected_at
                    .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default()
            );
            outln!("Activities from Strava: {}", s.activities);
            outln!(
                "Webhook: {}{}",
                if s.webhook {
                    "open at /webhooks/strava"
                } else {
                    "off (set STRAVA_WEBHOOK_VERIFY_TOKEN, then `openzero strava subscribe URL`)"
                },
                if s.events_waiting > 0 {
                    format!(", {} events waiting", s.events_waiting)
                } else {
                    String::new()
                }
            );
            let h = &s.harvest;
            outln!(
                "Harvest: since {}, {} fetched, {} already here{}{}",
                h.since.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
                h.fetched,
                h.already,
                h.caught_up_at
                    .map(|t| format!(
                        ", caught up {}",
                        t.with_timezone(&tz).format("%Y-%m-%d %H:%M")
                    ))
                    .unwrap_or_default(),
                h.resume_at
                    .filter(|t| *t > openzero_app::clock::now())
                    .map(|t| format!(
                        ", waiting for the rate limit until {}",
                        t.with_timezone(&tz).format("%H:%M")
                    ))
                    .unwrap_or_default()
            );
        }
        StravaCommand::Harvest { since, json } => {
            if let Some(d) = date(since.as_deref())? {
                if strava::tokens(loaded)?.is_none() {
                    bail!("Strava is not connected: run `openzero strava connect`");
                }
                strava::harvest::start(services, d).await?;
            }
            let said = strava::harvest::run(services).await?;
            let s = strava::harvest::state(services).await?;
            if json {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({ "result": said, "state": s })
                    )?
                );
            } else {
                outln!("{said}");
            }
            if said.starts_with("skipped") {
                return Ok(ExitCode::FAILURE);
            }
        }
        StravaCommand::Subscribe { callback_url } => {
            let id = strava::subscribe(loaded, &callback_url).await?;
            outln!(
                "Subscribed (subscription {id}): Strava now pushes new activities to {callback_url}."
            );
        }
        StravaCommand::Unsubscribe => match strava::unsubscribe(loaded).await? {
            Some(id) => outln!("Subscription {id} ended: Strava no longer pushes events."),
            None => outln!("There was no subscription."),
        },
        StravaCommand::Disconnect => {
            if strava::disconnect(loaded)? {
                outln!(
                    "Strava tokens forgotten; activities already here stay. Revoke the app at https://www.strava.com/settings/apps too."
                );
            } else {
                outln!("Strava was not connected.");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
