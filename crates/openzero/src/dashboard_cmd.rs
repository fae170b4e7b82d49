//! `openzero dashboard set-password|link|sessions|revoke`: who may open the
//! web dashboard.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Subcommand;
use openzero_app::dashboard;
use openzero_config::Loaded;

#[derive(Debug, Subcommand)]
pub enum DashboardCommand {
    /// Set the dashboard password (asked twice on the terminal, hidden)
    #[command(after_help = "\
Examples:
  openzero dashboard set-password
  printf '%s\\n' \"$PASSWORD\" | openzero dashboard set-password --stdin

At least 10 characters. Stored as an argon2id hash in the database (never
the password itself). Setting it signs every browser out.")]
    SetPassword {
        /// Read one line from standard input instead of asking
        #[arg(long)]
        stdin: bool,
    },

    /// Print a one-time sign-in link (as Telegram's /login sends): works once, for 10 minutes
    #[command(after_help = "\
Examples:
  openzero dashboard link
  OPENZERO_PUBLIC_URL=https://zbox.tailnet-name.ts.net openzero dashboard link

The link points at server.public_url (else http:// + server.bind).")]
    Link,

    /// List the browsers signed in
    #[command(after_help = "\
Examples:
  openzero dashboard sessions
  openzero dashboard sessions --json")]
    Sessions {
        #[arg(long)]
        json: bool,
    },

    /// Sign a browser out (its number from `dashboard sessions`)
    #[command(after_help = "\
Examples:
  openzero dashboard revoke 3")]
    Revoke { id: i64 },
}

fn ask() -> Result<String> {
    let term = console::Term::stderr();
    eprint!("New dashboard password: ");
    let first = term.read_secure_line()?;
    eprint!("Again: ");
    let second = term.read_secure_line()?;
    if first != second {
        bail!("the two passwords differ; nothing was changed");
    }
    Ok(first)
}

pub async fn run(loaded: Loaded, cmd: DashboardCommand) -> Result<ExitCode> {
    let services = openzero_server::services(loaded).await?;
    let result = command(&services, cmd).await;
    services.store.close().await;
    result
}

async fn command(services: &openzero_app::Services, cmd: DashboardCommand) -> Result<ExitCode> {
    let store = services.store.as_ref();
    match cmd {
        DashboardCommand::SetPassword { stdin } => {
            let password = if stdin {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                line.trim_end_matches(['\r', '\n']).to_owned()
            } else if std::io::stdin().is_terminal() {
                ask()?
            } else {
                bail!(
                    "no terminal to ask the password on: pipe it with --stdin (printf '%s\\n' \"$PASSWORD\" | openzero dashboard set-password --stdin)"
                );
            };
            dashboard::set_password(store, &password).await?;
            outln!(
                "Password set. Open {} and sign in (other browsers were signed out).",
                dashboard::public_url(&services.loaded)
            );
        }
        DashboardCommand::Link => {
            outln!("{}", dashboard::login_link(services).await?);
            eprintln!("Works once, for 10 minutes.");
        }
        DashboardCommand::Sessions { json } => {
            let sessions = store.web_sessions(openzero_app::clock::now()).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&sessions)?);
                return Ok(ExitCode::SUCCESS);
            }
            if sessions.is_empty() {
                outln!("No browser is signed in.");
            }
            let tz = services.tz();
            for s in sessions {
                outln!(
                    "#{}  {}  since {}  last seen {}  {}",
                    s.id,
                    s.via,
                    s.created_at.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
                    s.last_seen_at.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
                    s.user_agent
                );
            }
        }
        DashboardCommand::Revoke { id } => {
            if store
                .web_session_revoke(id, openzero_app::clock::now())
                .await?
            {
                outln!("Signed session #{id} out.");
            } else {
                bail!("session #{id} is not signed in (see `openzero dashboard sessions`)");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
