//! One function per command: call the application layer, print the result.

use std::process::ExitCode;

use anyhow::{Context, Result};
use openzero_app::projects::{AddProject, UpdateProject};
use openzero_app::{doctor, projects};
use openzero_config::Loaded;
use openzero_core::{Project, path_of};

use crate::cli::{Command, ConfigCommand, ProjectCommand};

pub async fn dispatch(command: Command, loaded: Loaded) -> Result<ExitCode> {
    match command {
        Command::Init => init(&loaded).await,
        Command::Serve { clock, .. } => serve(loaded, clock).await,
        Command::Doctor { json, security } => doctor(&loaded, json, security).await,
        Command::Config(ConfigCommand::Show { json }) => config_show(&loaded, json),
        Command::Config(ConfigCommand::Paths) => config_paths(&loaded),
        Command::Project(cmd) => project(&loaded, cmd).await,
        Command::Memory(cmd) => crate::memory_cmd::run(&loaded, cmd).await,
        Command::Mail(cmd) => crate::mail_cmd::run(loaded, cmd).await,
        Command::Calendar(cmd) => crate::calendar_cmd::run(loaded, cmd).await,
        Command::Board(cmd) => crate::boards_cmd::board(&loaded, cmd).await,
        Command::Task(cmd) => crate::boards_cmd::task(&loaded, cmd).await,
        Command::Planka(cmd) => crate::planka_cmd::run(loaded, cmd).await,
        Command::Strava(cmd) => crate::strava_cmd::run(loaded, cmd).await,
        Command::Dashboard(cmd) => crate::dashboard_cmd::run(loaded, cmd).await,
        Command::Service(cmd) => crate::service_cmd::run(&loaded, cmd),
        Command::Training(cmd) => crate::training_cmd::run(&loaded, cmd).await,
        Command::Backup(cmd) => crate::backup_cmd::run(&loaded, cmd).await,
        Command::News(cmd) => crate::news_cmd::run(loaded, cmd).await,
        Command::Finance(cmd) => crate::finance_cmd::run(loaded, cmd).await,
        Command::Bench(cmd) => crate::bench_cmd::run(&loaded, cmd).await,
        Command::Chat { message } => crate::chat_cmd::run(&loaded, message).await,
        Command::Jobs(cmd) => crate::jobs_cmd::jobs(&loaded, cmd).await,
        Command::Briefing { which, dry_run } => {
            crate::jobs_cmd::briefing(&loaded, &which, dry_run).await
        }
        Command::Think { question } => crate::think_cmd::think(&loaded, &question).await,
        Command::Thoughts(cmd) => crate::think_cmd::thoughts(&loaded, cmd).await,
        Command::Disclosures { limit, json } => {
            crate::think_cmd::disclosures(&loaded, limit, json).await
        }
        Command::Tree => {
            let store = openzero_app::open_store(&loaded).await?;
            let tree = projects::tree(&*store).await;
            store.close().await;
            outln!("{}", tree?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The code or address an owner pastes during an OAuth grant (`… connect`):
/// one line read from standard input off the async runtime; with nothing
/// piped and no terminal it never ends, so the browser's redirect wins.
pub async fn pasted_line() -> Option<String> {
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdin());
    let line = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        match std::io::stdin().read_line(&mut line) {
            Ok(n) if n > 0 && !line.trim().is_empty() => Some(line),
            _ => None,
        }
    })
    .await
    .ok()
    .flatten();
    if line.is_none() && !interactive {
        std::future::pending::<()>().await;
    }
    line
}

async fn init(loaded: &Loaded) -> Result<ExitCode> {
    let dir = &loaded.data_dir;
    let existed = dir.is_dir();
    openzero_app::ensure_data_dir(dir)?;
    if existed {
        outln!("Data directory {} already exists.", dir.display());
    } else {
        outln!("Created data directory {}", dir.display());
    }
    let file = &loaded.config_file;
    if file.exists() {
        outln!("Config {} already exists; left unchanged.", file.display());
    } else {
        let env = std::env::vars().collect();
        let tz = openzero_config::system_timezone(&env);
        let text = openzero_config::template(tz.as_deref());
        write_new(file, &text).with_context(|| format!("cannot write {}", file.display()))?;
        match tz {
            Some(tz) => outln!(
                "Wrote {} (time zone {tz}, from this machine)",
                file.display()
            ),
            None => outln!(
                "Wrote {} (time zone UTC: set general.timezone or USER_TIMEZONE to yours)",
                file.display()
            ),
        }
    }
    let persona = dir.join(openzero_app::agent::PERSONA_FILE);
    if !persona.exists() {
        write_new(
            &persona,
            &format!("{}\n", openzero_core::agent::DEFAULT_PERSONA),
        )
        .with_context(|| format!("cannot write {}", persona.display()))?;
        outln!(
            "Wrote {} (Z's persona: edit it to taste)",
            persona.display()
        );
    }
    let store = openzero_app::open_store(loaded).await?;
    let version = store.schema_version().await;
    outln!(
        "Database ready: {} at {} (schema v{})",
        store.backend().as_str(),
        store.target(),
        version.unwrap_or(0)
    );
    store.close().await;
    outln!(
        "\nNext: `openzero chat \"what are my projects?\"`, `openzero serve`, or add a project: `openzero project add Career`"
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes a file that must not exist yet: never overwrites. Owner-only
/// (the configuration may come to hold secrets; persona and about-me are
/// personal).
fn write_new(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

async fn serve(
    loaded: Loaded,
    clock: Option<chrono::DateTime<chrono::FixedOffset>>,
) -> Result<ExitCode> {
    if let Some(at) = clock {
        openzero_app::clock::start_at(at.with_timezone(&chrono::Utc));
        tracing::warn!(clock = %at, "the schedule runs on a moved clock (--clock)");
    }
    let addr = loaded.settings.server.bind.0;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!(
            "cannot listen on {addr}: stop whatever uses it or choose another address with --bind"
        )
    })?;
    let local = listener.local_addr()?;
    // Held until serving ends (taken before saying we listen): `backup
    // restore` refuses to replace the database while it is.
    let _serving = openzero_app::wiring::ensure_data_dir(&loaded.data_dir)
        .ok()
        .and_then(|()| openzero_app::wiring::lock_serve(&loaded.data_dir));
    outln!(
        "OpenZero is listening on http://{local} (the dashboard; GET /health for monitors). Press Ctrl-C to stop."
    );
    openzero_server::run(loaded, listener, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received"),
        () = term => tracing::info!("SIGTERM received"),
    }
}

async fn doctor(loaded: &Loaded, json: bool, security: bool) -> Result<ExitCode> {
    let checks = if security {
        openzero_app::doctor_security::run(loaded).await
    } else {
        doctor::run(loaded, chrono::Utc::now()).await
    };
    if json {
        outln!("{}", serde_json::to_string_pretty(&checks)?);
    } else {
        let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        outln!("{:<width$}  {:<6}  DETAIL", "CHECK", "STATUS");
        for c in &checks {
            outln!("{:<width$}  {:<6}  {}", c.name, c.outcome.label(), c.detail);
        }
    }
    if doctor::failed(&checks) {
        if !json {
            outln!("\nSomething configured is broken: see the FAIL rows above.");
        }
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn config_show(loaded: &Loaded, json: bool) -> Result<ExitCode> {
    if json {
        let value = serde_json::json!({
            "data_dir": loaded.data_dir,
            "config_file": loaded.config_file,
            "config_file_found": loaded.config_file_found,
            "settings": loaded.settings,
            "origins": loaded.origins,
        });
        outln!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!("# data directory: {}", loaded.data_dir.display());
    outln!(
        "# config file:    {}{}",
        loaded.config_file.display(),
        if loaded.config_file_found {
            ""
        } else {
            " (not found: defaults)"
        }
    );
    outln!("# secrets are shown as ********\n");
    let value = toml::Value::try_from(&loaded.settings)?;
    let mut section = "";
    for def in openzero_config::KEYS {
        if def.section() != section {
            section = def.section();
            outln!(
                "{}[{section}]",
                if section == "general" { "" } else { "\n" }
            );
        }
        let v = value.get(def.section()).and_then(|s| s.get(def.key()));
        let origin = loaded
            .origins
            .get(def.path)
            .map(|o| format!("  # from {o}"))
            .unwrap_or_default();
        match v {
            Some(v) => outln!("{} = {v}{origin}", def.key()),
            None => outln!("# {} is not set", def.key()),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn config_paths(loaded: &Loaded) -> Result<ExitCode> {
    outln!("data directory: {}", loaded.data_dir.display());
    outln!("config file:    {}", loaded.config_file.display());
    match openzero_app::wiring::sqlite_path(loaded) {
        Some(p) => outln!("database:       sqlite at {}", p.display()),
        None => outln!(
            "database:       {}",
            loaded
                .settings
                .database
                .url
                .as_ref()
                .map(|u| u.masked())
                .unwrap_or_default()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

async fn project(loaded: &Loaded, cmd: ProjectCommand) -> Result<ExitCode> {
    let store = openzero_app::open_store(loaded).await?;
    let result = project_with(&*store, cmd).await;
    store.close().await;
    result
}

async fn project_with(store: &dyn openzero_store::Store, cmd: ProjectCommand) -> Result<ExitCode> {
    match cmd {
        ProjectCommand::Add(a) => {
            let p = projects::add(
                store,
                AddProject {
                    name: a.name,
                    parent: a.parent,
                    status: a.status,
                    priority: a.priority,
                    domain: a.domain,
                    progress: a.progress,
                    description: a.description,
                },
            )
            .await?;
            report(store, "Added", &p, a.json).await?;
        }
        ProjectCommand::Update(u) => {
            let parent = match (u.parent, u.top_level) {
                (Some(p), _) => Some(Some(p)),
                (None, true) => Some(None),
                (None, false) => None,
            };
            let p = projects::update(
                store,
                &u.project,
                UpdateProject {
                    name: u.name,
                    parent,
                    status: u.status,
                    priority: u.priority,
                    domain: u.domain,
                    progress: u.progress,
                    description: u.description.map(Some),
                },
            )
            .await?;
            report(store, "Updated", &p, u.json).await?;
        }
        ProjectCommand::Remove { project } => {
            let r = projects::remove(store, &project).await?;
            let to = match r.project.parent_id {
                Some(id) => store
                    .get_project(id)
                    .await?
                    .map(|p| format!("'{}'", p.name))
                    .unwrap_or_else(|| "its parent".into()),
                None => "the top level".into(),
            };
            let moved = match r.children_moved {
                0 => String::new(),
                1 => format!("; its 1 child moved up to {to}"),
                n => format!("; its {n} children moved up to {to}"),
            };
            outln!("Removed #{} {}{moved}", r.project.id, r.project.name);
        }
        ProjectCommand::List { json } => {
            let all = projects::list(store).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&all)?);
            } else if all.is_empty() {
                outln!("{}", openzero_core::EMPTY_TREE);
            } else {
                outln!(
                    "{:>4}  {:<10}  {:>3}  {:>4}  {:<8}  NAME",
                    "ID",
                    "STATUS",
                    "PRI",
                    "DONE",
                    "DOMAIN"
                );
                let from_tasks = projects::progress_from_tasks(store, &all).await?;
                for (p, depth) in openzero_core::ordered(&all) {
                    let tasks = from_tasks
                        .get(&p.id)
                        .map(|(done, total)| format!("  (from tasks: {done}/{total} done)"))
                        .unwrap_or_default();
                    outln!(
                        "{:>4}  {:<10}  {:>3}  {:>3}%  {:<8}  {}{}{tasks}",
                        p.id,
                        p.status.as_str(),
                        p.priority.get(),
                        p.progress.get(),
                        p.domain.as_str(),
                        "  ".repeat(depth),
                        p.name
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn report(
    store: &dyn openzero_store::Store,
    verb: &str,
    p: &Project,
    json: bool,
) -> Result<()> {
    if json {
        outln!("{}", serde_json::to_string_pretty(p)?);
        return Ok(());
    }
    let all = store.list_projects().await?;
    outln!(
        "{verb} #{} {} {} [{}%] priority {}, {}",
        p.id,
        path_of(&all, p.id),
        p.status.tag(),
        p.progress.get(),
        p.priority.get(),
        p.domain
    );
    Ok(())
}
