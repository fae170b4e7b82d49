//! `openzero bench …`: speed, measured beside a baseline in the same run.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use openzero_app::bench;
use openzero_config::Loaded;

use crate::cli::{BenchCommand, BenchFootprintArgs, BenchLlmArgs, BenchMemoryArgs};

pub async fn run(loaded: &Loaded, cmd: BenchCommand) -> Result<ExitCode> {
    match cmd {
        BenchCommand::Memory(args) => memory(loaded, args).await,
        BenchCommand::Llm(args) => llm(loaded, args).await,
        BenchCommand::Footprint(args) => footprint(loaded, args).await,
        BenchCommand::Mail(args) => mail(loaded, args).await,
        BenchCommand::Calendar(args) => calendar(args),
        BenchCommand::Boards(args) => boards(args).await,
        BenchCommand::Backup(args) => backup(args).await,
        BenchCommand::Training(args) => training(loaded, args).await,
        BenchCommand::Recall(args) => recall(loaded, args),
    }
}

fn recall(loaded: &Loaded, a: crate::cli_bench::BenchRecallArgs) -> Result<ExitCode> {
    let realmem = if a.no_realmem {
        None
    } else {
        let dir = a.realmem.unwrap_or_else(|| {
            std::env::var_os("OPENZERO_FIXTURES")
                .map_or_else(|| PathBuf::from("../shared/fixtures"), PathBuf::from)
                .join("memory/realmem")
        });
        if !dir.is_dir() {
            anyhow::bail!(
                "no RealMem corpus at {}: pass --realmem DIR, or --no-realmem for our own cases only",
                dir.display()
            );
        }
        Some(dir)
    };
    let work = tempfile::tempdir()?;
    let runtime = match openzero_app::memory::embed_runtime(loaded) {
        openzero_embed::Runtime::Onnx { library, .. } => vec![
            (
                "OPENZERO__MEMORY__RUNTIME".to_owned(),
                "onnxruntime".to_owned(),
            ),
            (
                "OPENZERO__MEMORY__ONNXRUNTIME".to_owned(),
                library.to_string_lossy().into_owned(),
            ),
        ],
        openzero_embed::Runtime::Candle => {
            vec![("OPENZERO__MEMORY__RUNTIME".to_owned(), "candle".to_owned())]
        }
    };
    let mut env = vec![(
        "OPENZERO__MEMORY__MODEL_DIR".to_owned(),
        openzero_app::memory::model_dir(loaded)
            .to_string_lossy()
            .into_owned(),
    )];
    env.extend(runtime);
    // The precision the settings name, so a configured int8 is what is measured.
    let precision = match openzero_app::memory::embed_precision(loaded) {
        openzero_embed::Precision::F32 => "f32",
        openzero_embed::Precision::Int8 => "int8",
    };
    env.push((
        "OPENZERO__MEMORY__PRECISION".to_owned(),
        precision.to_owned(),
    ));
    let opts = openzero_app::bench_recall::Options {
        exe: std::env::current_exe()?,
        realmem,
        people: a.people,
        sessions: a.sessions,
        own: !a.no_own,
        work_dir: a.work_dir.unwrap_or_else(|| work.path().to_owned()),
        env,
    };
    let say = |s: &str| eprintln!("bench recall: {s}");
    let eval = openzero_app::bench_recall::run(&opts, &say)?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&eval)?);
    } else {
        outln!("{}", openzero_app::bench_recall::markdown(&eval));
    }
    Ok(ExitCode::SUCCESS)
}

async fn training(loaded: &Loaded, a: crate::cli_bench::BenchTrainingArgs) -> Result<ExitCode> {
    let work = tempfile::tempdir()?;
    let opts = openzero_app::bench_training::Options {
        hours: a.hours,
        years: a.years,
        samples_per_run: a.samples_per_run,
        repeat: a.repeat,
        python: a.python,
        files: a.files,
        work_dir: work.path().to_owned(),
    };
    let say = |s: &str| eprintln!("bench training: {s}");
    let report = openzero_app::bench_training::training(loaded, &opts, &say).await?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        outln!("{}", openzero_app::bench_training::markdown(&report));
    }
    Ok(ExitCode::SUCCESS)
}

async fn backup(a: crate::cli::BenchBackupArgs) -> Result<ExitCode> {
    let work = tempfile::tempdir()?;
    let say = |s: &str| eprintln!("bench backup: {s}");
    let report =
        openzero_app::bench_backup::backup(work.path(), a.memories, a.postgres.as_deref(), &say)
            .await?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        outln!("{}", bench::markdown(&report));
    }
    Ok(ExitCode::SUCCESS)
}

async fn boards(a: crate::cli::BenchBoardsArgs) -> Result<ExitCode> {
    let work = tempfile::tempdir()?;
    let report = openzero_app::bench_boards::boards(work.path(), a.cards, a.repeat).await?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        outln!("{}", bench::markdown(&report));
    }
    Ok(ExitCode::SUCCESS)
}

fn calendar(a: crate::cli::BenchCalendarArgs) -> Result<ExitCode> {
    let work = tempfile::tempdir()?;
    let opts = openzero_app::bench_calendar::Options {
        files: a.files,
        reference: a.reference,
        repeat: a.repeat,
        work_dir: work.path().to_owned(),
    };
    let say = |s: &str| eprintln!("bench calendar: {s}");
    let report = openzero_app::bench_calendar::calendar(&opts, &say)?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        outln!("{}", bench::markdown(&report));
    }
    Ok(ExitCode::SUCCESS)
}

async fn mail(loaded: &Loaded, a: crate::cli::BenchMailArgs) -> Result<ExitCode> {
    let work = tempfile::tempdir()?;
    let opts = openzero_app::bench_mail::Options {
        corpus: a.corpus,
        messages: a.messages,
        python: a.python,
        polls: a.polls,
        maildir: a.maildir,
        work_dir: work.path().to_owned(),
    };
    let say = |s: &str| eprintln!("bench mail: {s}");
    let report = openzero_app::bench_mail::mail(loaded, &opts, &say).await?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        outln!("{}", bench::markdown(&report));
    }
    Ok(ExitCode::SUCCESS)
}

async fn footprint(loaded: &Loaded, a: BenchFootprintArgs) -> Result<ExitCode> {
    let store = openzero_app::open_store(loaded).await?;
    let services = openzero_server::services_over(loaded.clone(), store.clone());
    let python = a
        .python
        .zip(a.python_model)
        .map(|(python, model)| openzero_app::bench_footprint::Python { python, model });
    let report = openzero_app::bench_footprint::footprint(&services, python.as_ref()).await;
    store.close().await;
    let report = report?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        outln!("{}", bench::markdown(&report));
    }
    Ok(ExitCode::SUCCESS)
}

async fn llm(loaded: &Loaded, a: BenchLlmArgs) -> Result<ExitCode> {
    let model = match openzero_app::agent::chat_target(loaded) {
        openzero_app::agent::ChatTarget::File(p) => p,
        _ => loaded
            .data_dir
            .join("models")
            .join(openzero_llm::embedded::DEFAULT_FILE),
    };
    let threads = a
        .threads
        .or(Some(loaded.settings.llm.threads).filter(|t| *t > 0))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let opts = openzero_app::bench_llm::LlmOptions {
        model,
        threads,
        tokens: a.tokens.max(2),
        runs: a.runs.max(1),
        llamacpp: a.llamacpp,
    };
    let started = std::time::Instant::now();
    let say = |line: &str| {
        eprintln!("[{:>5.1}s] {line}", started.elapsed().as_secs_f64());
    };
    let report = openzero_app::bench_llm::llm(&opts, &say).await?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        outln!("{}", bench::markdown(&report));
    }
    Ok(ExitCode::SUCCESS)
}

async fn memory(loaded: &Loaded, a: BenchMemoryArgs) -> Result<ExitCode> {
    let work = tempfile::Builder::new()
        .prefix("openzero-bench-")
        .tempdir()
        .context("cannot create a scratch directory for the benchmark")?;
    let (sizes, queries, import, short_texts, paragraphs) = if a.quick {
        (vec![1_000], 50, 500, 64, 16)
    } else {
        (vec![10_000, 100_000], 300, 10_000, 384, 96)
    };
    let opts = bench::Options {
        model_dir: openzero_app::memory::model_dir(loaded),
        runtime: openzero_app::memory::embed_runtime(loaded),
        sizes: a.sizes.unwrap_or(sizes),
        queries: a.queries.unwrap_or(queries).max(1),
        import: a.import.unwrap_or(import),
        precision: openzero_app::memory::embed_precision(loaded),
        short_texts,
        paragraphs,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        python: a.python.zip(a.python_model),
        postgres: a.postgres,
        work_dir: work.path().to_owned(),
    };
    let started = std::time::Instant::now();
    let say = |line: &str| {
        eprintln!("[{:>5.1}s] {line}", started.elapsed().as_secs_f64());
    };
    let report = bench::memory(&opts, &say).await?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        outln!("{}", bench::markdown(&report));
    }
    Ok(ExitCode::SUCCESS)
}
