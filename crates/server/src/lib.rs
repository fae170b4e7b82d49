//! The HTTP server of `openzero serve`.
//!
//! **Invariants:** binds only where the settings say (loopback by default);
//! every route reads state through [`AppState`]; [`run`] returns only after
//! in-flight requests finished and the store is closed.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use openzero_app::AppError;
pub mod supervisor;

use openzero_app::Services;
use openzero_app::memory_index::MemoryIndex;
use openzero_config::Loaded;
use openzero_core::health::{Component, OverallStatus, overall};
use openzero_core::notify::Notifier;
use openzero_store::Store;
use serde::Serialize;
use tokio::net::TcpListener;

use crate::supervisor::{FIRST_BACKOFF, Workers, supervise};

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    App(#[from] AppError),
    #[error("HTTP server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Shared state of every request handler.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// Where the embedding model is expected (for the memory component).
    pub model_dir: std::path::PathBuf,
    /// The vector index, built once and kept in step with the store.
    pub memory_index: Arc<MemoryIndex>,
    /// Where the chat model is, or why there is none.
    pub chat_model: openzero_app::agent::ChatTarget,
    /// The Telegram channel: its status, or why it is not running (`None`:
    /// not configured).
    pub telegram: Option<Result<Arc<openzero_telegram::Status>, String>>,
    /// The supervised workers (scheduler, Telegram): down while restarting.
    pub workers: Workers,
}

/// Body of `GET /health`.
#[derive(Debug, Serialize)]
pub struct Health {
    pub status: OverallStatus,
    pub version: &'static str,
    pub components: BTreeMap<String, Component>,
}

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .with_state(state)
}

async fn health(State(state): State<AppState>) -> Json<Health> {
    let mut components =
        openzero_app::health::components(&*state.store, &state.model_dir, &state.chat_model).await;
    components.insert(
        "telegram".to_owned(),
        match &state.telegram {
            None => Component::new(
                openzero_core::health::ComponentStatus::Disabled,
                "not configured (set TELEGRAM_BOT_TOKEN and TELEGRAM_ALLOWED_USER_ID)",
                false,
            ),
            Some(Ok(status)) => status.component(),
            Some(Err(why)) => Component::new(
                openzero_core::health::ComponentStatus::Down,
                why.clone(),
                false,
            ),
        },
    );
    for (name, c) in state.workers.components() {
        // A worker that is down outranks what its component says of itself.
        if c.status == openzero_core::health::ComponentStatus::Down
            || !components.contains_key(&name)
        {
            components.insert(name, c);
        }
    }
    Json(Health {
        status: overall(components.values()),
        version: env!("CARGO_PKG_VERSION"),
        components,
    })
}

type BotTask = tokio::task::JoinHandle<()>;

/// Runs the scheduled jobs until `stop`, each job on its own task (a slow
/// job never delays another): a pass at start (catching up on what was
/// missed while down), then at each next slot (looking at least every
/// minute, so a changed pause or clock is noticed).
async fn schedule(
    services: Arc<Services>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), String> {
    let jobs = openzero_app::jobs::registry(&services.loaded).map_err(|e| e.to_string())?;
    let runner = Arc::new(openzero_app::jobs::Runner::new(services.clone()));
    let tasks: Vec<_> = jobs
        .into_iter()
        .map(|job| {
            let (runner, mut stop, tz) = (runner.clone(), stop.clone(), services.tz());
            tokio::spawn(async move {
                let mut first = true;
                while !*stop.borrow() {
                    let next = match runner.tick_job(&job, openzero_app::clock::now()).await {
                        Ok(n) => n,
                        Err(e) => {
                            tracing::error!(job = job.name, error = %e, "job skipped this pass");
                            None
                        }
                    };
                    if std::mem::take(&mut first) {
                        let at = next.map_or_else(
                            || "not scheduled".to_owned(),
                            |n| {
                                n.with_timezone(&tz)
                                    .format("%a %Y-%m-%d %H:%M:%S %Z")
                                    .to_string()
                            },
                        );
                        tracing::info!(job = job.name, next = %at, "scheduler: caught up");
                    }
                    let wait = next
                        .and_then(|n| (n - openzero_app::clock::now()).to_std().ok())
                        .unwrap_or(std::time::Duration::from_secs(60))
                        .clamp(
                            std::time::Duration::from_millis(200),
                            std::time::Duration::from_secs(60),
                        );
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => break,
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        // A job's loop that panicked takes the scheduler down with it, so
        // the supervisor restarts the whole scheduler.
        t.await
            .map_err(|e| format!("a job's loop ended abnormally: {e}"))?;
    }
    Ok(())
}

/// Starts the Telegram channel when a bot token is configured.
async fn start_telegram(
    services: &Arc<Services>,
    workers: &Workers,
    stop: tokio::sync::watch::Receiver<bool>,
) -> (
    Option<Result<Arc<openzero_telegram::Status>, String>>,
    Option<BotTask>,
    Option<Arc<openzero_telegram::Telegram>>,
) {
    let workers = workers.clone();
    let t = &services.loaded.settings.telegram;
    let Some(token) = t.bot_token.as_ref() else {
        return (None, None, None);
    };
    let webhook =
        (t.mode == openzero_config::TelegramMode::Webhook).then(|| openzero_telegram::Webhook {
            url: t.webhook_url.clone().unwrap_or_default(),
            secret: t
                .webhook_secret
                .as_ref()
                .map(|s| s.expose().to_owned())
                .unwrap_or_default(),
        });
    let cfg = openzero_telegram::Config {
        token: token.expose().to_owned(),
        owners: t.allowed_user_ids.clone(),
        api_base_url: t.api_base_url.clone(),
        poll_timeout: 25,
        webhook,
    };
    match openzero_telegram::Telegram::new(cfg, services.clone()) {
        Ok(bot) => {
            let status = bot.status();
            let worker = bot.clone();
            let task = tokio::spawn(async move {
                let stopped = stop.clone();
                supervise("telegram", workers, stop, FIRST_BACKOFF, move || {
                    let (bot, stop) = (worker.clone(), stopped.clone());
                    async move {
                        bot.run(stop).await;
                        Ok(())
                    }
                })
                .await;
            });
            (Some(Ok(status)), Some(task), Some(bot))
        }
        Err(e) => {
            tracing::error!(error = %e, "telegram not started");
            (Some(Err(e.to_string())), None, None)
        }
    }
}

/// The composition root: opens the configured store (migrating it) and
/// plugs in the notification channels the settings configure. Called once
/// per process, by `serve` and by the CLI commands that deliver.
pub async fn services(loaded: Loaded) -> Result<Arc<Services>, AppError> {
    let store = openzero_app::open_store(&loaded).await?;
    Ok(services_over(loaded, store))
}

/// [`services`] over a store the caller already opened.
pub fn services_over(loaded: Loaded, store: Arc<dyn Store>) -> Arc<Services> {
    let mut notifiers: Vec<Arc<dyn Notifier>> = Vec::new();
    if let Some(t) = openzero_telegram::TelegramNotifier::from_settings(&loaded, store.clone()) {
        notifiers.push(Arc::new(t));
    }
    Arc::new(Services::new(loaded, store, notifiers))
}

/// Runs the service on `listener` until `shutdown` completes: builds the
/// services, serves HTTP, then drains and closes.
pub async fn run(
    loaded: Loaded,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let services = services(loaded.clone()).await?;
    let store = services.store.clone();
    let addr = listener.local_addr()?;
    tracing::info!(
        %addr,
        storage = store.backend().as_str(),
        timezone = loaded.settings.general.timezone.0.name(),
        "openzero is serving"
    );
    let memory_index = services.memory_index.clone();
    if !store.searches_vectors() {
        // Build the index now, not at the owner's first question.
        let (index, store) = (memory_index.clone(), store.clone());
        tokio::spawn(async move {
            if let Err(e) = index.synced(&*store).await {
                tracing::warn!(error = %e, "memory index not built yet; retried at the first search");
            }
        });
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let workers = Workers::default();
    let releaser = {
        let (services, mut stop) = (services.clone(), stop_rx.clone());
        let every =
            std::time::Duration::from_secs(loaded.settings.llm.unload_after_secs.clamp(1, 30));
        tokio::spawn(async move {
            while !*stop.borrow() {
                services.release_idle().await;
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop.changed() => break,
                }
            }
        })
    };
    let (telegram, bot_task, bot) = start_telegram(&services, &workers, stop_rx.clone()).await;
    let scheduler = {
        let (services, workers, stop) = (services.clone(), workers.clone(), stop_rx.clone());
        tokio::spawn(async move {
            supervise("scheduler", workers, stop_rx, FIRST_BACKOFF, move || {
                schedule(services.clone(), stop.clone())
            })
            .await;
        })
    };
    let mut app = router(AppState {
        store: store.clone(),
        model_dir: openzero_app::memory::model_dir(&loaded),
        memory_index,
        chat_model: services.chat_target.clone(),
        telegram,
        workers,
    });
    if let Some(bot) = bot
        && let Some(path) = bot.webhook_path()
    {
        app = app.route(
            &path,
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let bot = bot.clone();
                    async move {
                        let secret = headers
                            .get("x-telegram-bot-api-secret-token")
                            .and_then(|v| v.to_str().ok());
                        match bot.accept_webhook(secret, &body).await {
                            Ok(()) => axum::http::StatusCode::OK,
                            Err(code) => axum::http::StatusCode::from_u16(code)
                                .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR),
                        }
                    }
                },
            ),
        );
    }
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        })
        .await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), scheduler).await;
    releaser.abort();
    if let Some(task) = bot_task {
        // The bot finishes the update in hand; what is queued stays queued.
        if tokio::time::timeout(std::time::Duration::from_secs(30), task)
            .await
            .is_err()
        {
            tracing::warn!("telegram did not stop within 30 s");
        }
    }
    tracing::info!("shutting down: closing storage");
    store.close().await;
    served?;
    tracing::info!("stopped cleanly");
    Ok(())
}
