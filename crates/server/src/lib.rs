//! The HTTP server of `openzero serve`.
//!
//! **Invariants:** binds only where the settings say (loopback by default);
//! every route reads state through [`AppState`]; [`run`] returns only after
//! in-flight requests finished and the store is closed.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use openzero_app::AppError;
pub mod supervisor;

use openzero_app::Services;
use openzero_config::Loaded;
use openzero_core::health::{Component, ComponentStatus, OverallStatus, overall};
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
    pub services: Arc<Services>,
    /// Turns true when the server stops (ends the dashboard's live answers).
    pub stop: tokio::sync::watch::Receiver<bool>,
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
        .route("/webhooks/planka", post(planka_webhook))
        .route("/webhooks/strava", get(strava_check).post(strava_event))
        .with_state(state.clone())
        .merge(openzero_web::routes(state.services, state.stop))
}

/// Planka's webhook calls: stored durably, then answered (see
/// `openzero_app::planka_sync::follow`).
async fn planka_webhook(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    use axum::http::StatusCode;
    use openzero_app::planka_sync::follow::{Refused, receive};
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match receive(
        state.services.store.as_ref(),
        &state.services.loaded,
        auth,
        &body,
    )
    .await
    {
        Ok(()) => StatusCode::OK,
        Err(Refused::NotConfigured) => StatusCode::NOT_FOUND,
        Err(Refused::BadToken) => StatusCode::UNAUTHORIZED,
        Err(Refused::Unreadable) => StatusCode::BAD_REQUEST,
    }
}

/// Strava's subscription check: the challenge echoed as JSON when the
/// verify token is ours.
async fn strava_check(
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use openzero_app::strava::webhook::{Refused, verify};
    match verify(
        &state.services.loaded,
        q.get("hub.mode").map(String::as_str),
        q.get("hub.verify_token").map(String::as_str),
        q.get("hub.challenge").map(String::as_str),
    ) {
        Ok(challenge) => Json(serde_json::json!({ "hub.challenge": challenge })).into_response(),
        Err(Refused::NotConfigured) => StatusCode::NOT_FOUND.into_response(),
        Err(Refused::BadToken) => StatusCode::FORBIDDEN.into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

/// Strava's events: stored durably, then answered (see
/// `openzero_app::strava::follow`).
async fn strava_event(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    use axum::http::StatusCode;
    use openzero_app::strava::webhook::{Refused, receive};
    match receive(state.services.store.as_ref(), &state.services.loaded, &body).await {
        Ok(()) => StatusCode::OK,
        Err(Refused::NotConfigured) => StatusCode::NOT_FOUND,
        Err(Refused::BadToken) => StatusCode::FORBIDDEN,
        Err(Refused::Unreadable(_)) => StatusCode::BAD_REQUEST,
        Err(Refused::NotStored) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

async fn health(State(state): State<AppState>) -> Json<Health> {
    let components = state.services.health().await;
    Json(Health {
        status: overall(components.values()),
        version: env!("CARGO_PKG_VERSION"),
        components,
    })
}

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

type BotTask = tokio::task::JoinHandle<()>;

/// Starts the Telegram channel when a bot token is configured, under the
/// supervisor; registers its health either way.
/// Starts one watcher per configured IMAP mailbox, and registers each
/// one's health check (`mail` disabled when there is none).
fn start_mail(
    services: &Arc<Services>,
    workers: &Workers,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    use openzero_app::mail_sync;
    let fixed = |name: String, status, detail: String| {
        Arc::new(openzero_core::health::Fixed {
            name,
            component: Component::new(status, detail, false),
        })
    };
    let accounts = mail_sync::imap_accounts(&services.loaded);
    if accounts.is_empty() {
        services.add_check(fixed(
            "mail".into(),
            ComponentStatus::Disabled,
            "not configured (set EMAIL_IMAP_HOST, EMAIL_IMAP_USER and EMAIL_IMAP_PASSWORD)"
                .to_owned(),
        ));
    }
    let mut tasks = Vec::new();
    for a in accounts {
        let account = match a {
            Ok(a) => a,
            Err((name, e)) => {
                services.add_check(fixed(name, ComponentStatus::Down, e));
                continue;
            }
        };
        let health = Arc::new(mail_sync::MailHealth::new(&account.health_name));
        services.add_check(health.clone());
        let worker = format!("{}-watcher", account.health_name);
        services.add_check(workers.check(&worker));
        let (services, workers, stop) = (services.clone(), workers.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let stop2 = stop.clone();
            supervise(&worker, workers, stop, FIRST_BACKOFF, move || {
                mail_sync::watch(
                    services.clone(),
                    account.clone(),
                    health.clone(),
                    stop2.clone(),
                )
            })
            .await;
        }));
    }
    tasks
}

/// Starts the Gmail poller when Gmail is connected (`openzero mail
/// connect gmail`); registers the `gmail` health check when it is.
fn start_gmail(
    services: &Arc<Services>,
    workers: &Workers,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    use openzero_app::{mail_gmail, mail_sync};
    let gmail = match mail_gmail::gmail_client(&services.loaded)? {
        Ok((g, _)) => Arc::new(g),
        Err(e) => {
            services.add_check(Arc::new(openzero_core::health::Fixed {
                name: "gmail".to_owned(),
                component: Component::new(ComponentStatus::Down, e, false),
            }));
            return None;
        }
    };
    let health = Arc::new(mail_sync::MailHealth::new("gmail"));
    services.add_check(health.clone());
    services.add_check(workers.check("gmail-poller"));
    let (services, workers) = (services.clone(), workers.clone());
    Some(tokio::spawn(async move {
        let stop2 = stop.clone();
        supervise("gmail-poller", workers, stop, FIRST_BACKOFF, move || {
            mail_gmail::watch(
                services.clone(),
                gmail.clone(),
                health.clone(),
                stop2.clone(),
            )
        })
        .await;
    }))
}

/// Starts the Strava follower (webhook events → activities, feedback)
/// when Strava is configured; registers the `strava` health check.
fn start_strava(
    services: &Arc<Services>,
    workers: &Workers,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    use openzero_app::strava;
    let fixed = |status, detail: &str| {
        Arc::new(openzero_core::health::Fixed {
            name: "strava".to_owned(),
            component: Component::new(status, detail.to_owned(), false),
        })
    };
    match strava::client(&services.loaded) {
        None => {
            services.add_check(fixed(
                ComponentStatus::Disabled,
                "not configured (set STRAVA_CLIENT_ID and STRAVA_CLIENT_SECRET, then `openzero strava connect`)",
            ));
            return None;
        }
        Some(Err(e)) => {
            services.add_check(fixed(ComponentStatus::Down, &e.to_string()));
            return None;
        }
        Some(Ok(_)) => {}
    }
    if let Err(e) = strava::tokens(&services.loaded) {
        tracing::warn!(error = %e, "strava: the kept grant cannot be read");
    }
    let health = Arc::new(strava::follow::StravaHealth::new(&services.loaded));
    services.add_check(health.clone());
    services.add_check(workers.check("strava-follower"));
    let (services, workers) = (services.clone(), workers.clone());
    Some(tokio::spawn(async move {
        let stop2 = stop.clone();
        supervise("strava-follower", workers, stop, FIRST_BACKOFF, move || {
            strava::follow::watch(services.clone(), health.clone(), stop2.clone())
        })
        .await;
    }))
}

fn start_telegram(
    services: &Arc<Services>,
    workers: &Workers,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Option<(BotTask, Arc<openzero_telegram::Telegram>)> {
    let fixed = |status, detail: String| {
        Arc::new(openzero_core::health::Fixed {
            name: openzero_telegram::CHANNEL.to_owned(),
            component: Component::new(status, detail, false),
        })
    };
    let t = &services.loaded.settings.telegram;
    let Some(token) = t.bot_token.as_ref() else {
        services.add_check(fixed(
            ComponentStatus::Disabled,
            "not configured (set TELEGRAM_BOT_TOKEN and TELEGRAM_ALLOWED_USER_ID)".to_owned(),
        ));
        return None;
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
            services.add_check(workers.check(openzero_telegram::CHANNEL));
            let (worker, workers) = (bot.clone(), workers.clone());
            let task = tokio::spawn(async move {
                let stopped = stop.clone();
                supervise(
                    openzero_telegram::CHANNEL,
                    workers,
                    stop,
                    FIRST_BACKOFF,
                    move || {
                        let (bot, stop) = (worker.clone(), stopped.clone());
                        async move {
                            bot.run(stop).await;
                            Ok(())
                        }
                    },
                )
                .await;
            });
            Some((task, bot))
        }
        Err(e) => {
            tracing::error!(error = %e, "telegram not started");
            services.add_check(fixed(ComponentStatus::Down, e.to_string()));
            None
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
    let services = Arc::new(Services::new(loaded.clone(), store.clone(), notifiers));
    services.add_check(Arc::new(openzero_app::backup::jobs::BackupHealth {
        loaded,
        store,
    }));
    services
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
    if let Ok(None) = store.web_password().await {
        tracing::warn!(
            "the dashboard has no password yet: run `openzero dashboard set-password`, or send /login to Z on Telegram"
        );
    }
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
    // Releases the chat model after llm.unload_after_secs idle (0: never).
    let unload_after = loaded.settings.llm.unload_after_secs;
    let releaser = (unload_after > 0).then(|| {
        let (services, mut stop) = (services.clone(), stop_rx.clone());
        let every = std::time::Duration::from_secs(unload_after.clamp(1, 30));
        tokio::spawn(async move {
            while !*stop.borrow() {
                services.release_idle().await;
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop.changed() => break,
                }
            }
        })
    });
    let backup_watch = tokio::spawn(openzero_app::backup::jobs::watch(
        services.clone(),
        stop_rx.clone(),
    ));
    let telegram = start_telegram(&services, &workers, stop_rx.clone());
    let mail = start_mail(&services, &workers, stop_rx.clone());
    let gmail = start_gmail(&services, &workers, stop_rx.clone());
    let strava = start_strava(&services, &workers, stop_rx.clone());
    // Calendar reminders, restarted by the supervisor if the loop dies.
    let reminders = {
        let (services, workers, stop) = (services.clone(), workers.clone(), stop_rx.clone());
        let stop2 = stop.clone();
        tokio::spawn(async move {
            supervise(
                "calendar-reminders",
                workers,
                stop,
                FIRST_BACKOFF,
                move || {
                    let (services, stop) = (services.clone(), stop2.clone());
                    async move {
                        openzero_app::calendar::remind(services, stop).await;
                        Ok(())
                    }
                },
            )
            .await;
        })
    };
    // Boards kept in step with Planka (when configured), restarted by the
    // supervisor if the loop dies.
    let planka = openzero_app::planka_sync::login_of(&loaded)
        .ok()
        .flatten()
        .map(|_| {
            let (services, workers, stop) = (services.clone(), workers.clone(), stop_rx.clone());
            let stop2 = stop.clone();
            tokio::spawn(async move {
                supervise("planka-sync", workers, stop, FIRST_BACKOFF, move || {
                    let (services, stop) = (services.clone(), stop2.clone());
                    async move {
                        openzero_app::planka_sync::follow::follow(services, stop).await;
                        Ok(())
                    }
                })
                .await;
            })
        });
    services.add_check(workers.check("scheduler"));
    let web_stop = stop_rx.clone();
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
        services: services.clone(),
        stop: web_stop,
    });
    // Routes the channels contribute (Telegram's webhook).
    let bot_task = match telegram {
        Some((task, bot)) => {
            if let Some(routes) = bot.routes() {
                app = app.merge(routes);
            }
            Some(task)
        }
        None => None,
    };
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        })
        .await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), scheduler).await;
    for m in mail
        .into_iter()
        .chain(gmail)
        .chain(strava)
        .chain([reminders])
        .chain(planka)
    {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(30), m).await;
    }
    if let Some(r) = releaser {
        r.abort();
    }
    backup_watch.abort();
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
