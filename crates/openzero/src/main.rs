//! `openzero`: the one binary. Thin by design: parse the command line, load
//! the configuration, pick adapters, call into `openzero-app` and
//! `openzero-server`, print results.

/// `println!` that ends the program quietly when stdout is closed
/// (`openzero project list | head`) instead of panicking.
macro_rules! outln {
    () => { $crate::write_out(format_args!("")) };
    ($($t:tt)*) => { $crate::write_out(format_args!($($t)*)) };
}

mod backup_cmd;
mod bench_cmd;
mod boards_cmd;
mod calendar_cmd;
mod chat_cmd;
mod cli;
mod cli_bench;
mod cli_boards;
mod cli_calendar;
mod cli_mail;
mod commands;
mod dashboard_cmd;
mod finance_cmd;
mod jobs_cmd;
mod mail_cmd;
mod memory_cmd;
mod memory_hygiene_cmd;
mod news_cmd;
mod planka_cmd;
mod service_cmd;
mod strava_cmd;
mod think_cmd;
mod training_cmd;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use openzero_config::{Inputs, Loaded, Override};

use cli::{Cli, Command};

fn write_out(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    // Every piece of work was awaited; what is left is a blocking read
    // nobody waits for (the pasted code of `… connect`, still reading the
    // terminal after the browser's redirect won): do not wait for Enter.
    runtime.shutdown_background();
    match result {
        Ok(code) => code,
        Err(e) => {
            // One line: the cause chain, joined.
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let serving = matches!(cli.command, Command::Serve { .. });
    let mut overrides = Vec::new();
    if let Command::Serve {
        bind: Some(bind), ..
    } = &cli.command
    {
        overrides.push(Override {
            path: "server.bind".into(),
            value: toml::Value::String(bind.clone()),
            origin: "--bind".into(),
        });
    }
    if let Some(level) = &cli.log_level {
        overrides.push(Override {
            path: "general.log_level".into(),
            value: toml::Value::String(level.clone()),
            origin: "--log-level".into(),
        });
    }
    let inputs = Inputs {
        data_dir: cli.data_dir.clone(),
        config_file: cli.config.clone(),
        env: environment()?,
        overrides,
    };
    let loaded = openzero_config::load(&inputs)?;
    init_logging(&loaded, serving, cli.log_level.is_some());
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    commands::dispatch(cli.command, loaded).await
}

/// The process environment over the `.env` file in the working directory
/// (the process environment wins, as with docker compose).
fn environment() -> Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::new();
    let dotenv = Path::new(".env");
    if dotenv.is_file() {
        let iter = dotenvy::from_path_iter(dotenv).context("cannot read .env")?;
        for item in iter {
            let (k, v) = item.context("the .env file in the working directory is malformed")?;
            env.insert(k, v);
        }
    }
    for (k, v) in std::env::vars_os() {
        if let (Some(k), Some(v)) = (k.to_str(), v.to_str()) {
            env.insert(k.to_owned(), v.to_owned());
        }
    }
    Ok(env)
}

fn init_logging(loaded: &Loaded, serving: bool, level_given: bool) {
    use tracing_subscriber::prelude::*;
    use tracing_subscriber::{EnvFilter, Layer};
    let level = if serving || level_given {
        loaded.settings.general.log_level.as_str()
    } else {
        "warn"
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{level},sqlx=warn,hyper=warn")));
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let fmt = match (loaded.settings.general.log_format, serving) {
        (openzero_config::LogFormat::Json, _) => fmt.json().boxed(),
        (openzero_config::LogFormat::Text, true) => fmt.boxed(),
        (openzero_config::LogFormat::Text, false) => {
            fmt.without_time().with_target(false).compact().boxed()
        }
    };
    // `serve` also keeps its lines for the dashboard's live Logs page.
    let live = serving.then_some(openzero_app::logs::LiveLayer);
    let result = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(live)
        .try_init();
    if let Err(e) = result {
        eprintln!("warning: logging not initialised: {e}");
    }
}
