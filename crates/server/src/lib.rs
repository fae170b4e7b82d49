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
use openzero_app::serve_parts::{Endpoint, HookRequest, Method, Parts};
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

/// The routes: `/health`, the dashboard's, and the endpoints the
/// capabilities and channels contribute (see [`parts`]).
pub fn router(state: AppState, endpoints: Vec<Endpoint>) -> Router {
    let mut app = Router::new()
        .route("/health", get(health))
        .with_state(state.clone())
        .merge(openzero_web::routes(state.services, state.stop));
    let mut taken = std::collections::HashSet::new();
    for e in endpoints {
        if !taken.insert(e.path.clone()) {
            tracing::error!(path = %e.path, "a second endpoint on one path was not mounted");
            continue;
        }
        let mut methods = axum::routing::MethodRouter::new();
        for m in &e.methods {
            let handle = e.handle.clone();
            let filter = match m {
                Method::Get => axum::routing::MethodFilter::GET,
                Method::Post => axum::routing::MethodFilter::POST,
            };
            let method = *m;
            methods = methods.on(
                filter,
                move |headers: axum::http::HeaderMap,
                      query: axum::extract::RawQuery,
                      body: axum::body::Bytes| {
                    let handle = handle.clone();
                    async move { endpoint(&handle, method, &headers, query.0, body).await }
                },
            );
        }
        // A path already taken (by the dashboard or another endpoint — an
        // owner's Telegram webhook URL can name any path) or malformed makes
        // axum panic: that endpoint is left out and said, the rest serves.
        let path = e.path.clone();
        let before = app.clone();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            before.route(&path, methods)
        })) {
            Ok(with) => app = with,
            Err(_) => tracing::error!(
                path = %e.path,
                "an endpoint was not mounted: its path is already in use or malformed; choose another"
            ),
        }
    }
    app
}

/// One contributed endpoint's call: the request read whole, the reply as
/// its status and JSON body.
async fn endpoint(
    handle: &openzero_app::serve_parts::Handle,
    method: Method,
    headers: &axum::http::HeaderMap,
    query: Option<String>,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let req = HookRequest {
        method,
        headers: headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        query: url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect(),
        body: body.to_vec(),
    };
    let reply = handle(req).await;
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match reply.json {
        Some(json) => (status, Json(json)).into_response(),
        None => status.into_response(),
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

/// Every worker and endpoint `serve` runs: the capabilities' (one line
/// each in `openzero_app::serve_parts::contribute`) and the channels'.
pub fn parts(services: &Arc<Services>) -> Parts {
    let mut parts = Parts::default();
    openzero_app::serve_parts::contribute(services, &mut parts);
    openzero_telegram::serve_parts(services, &mut parts);
    parts
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
    let Parts {
        workers: contributed,
        endpoints,
    } = parts(&services);
    let mut running = Vec::new();
    for w in contributed {
        services.add_check(workers.check(&w.name));
        let (workers, stop) = (workers.clone(), stop_rx.clone());
        running.push((
            w.name.clone(),
            tokio::spawn(async move {
                let start = w.start.clone();
                let stop2 = stop.clone();
                supervise(&w.name, workers, stop, FIRST_BACKOFF, move || {
                    start(stop2.clone())
                })
                .await;
            }),
        ));
    }
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
    let app = router(
        AppState {
            services: services.clone(),
            stop: web_stop,
        },
        endpoints,
    );
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        })
        .await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), scheduler).await;
    // Each worker finishes what it has in hand (the bot its update; what is
    // queued stays queued).
    for (name, task) in running {
        if tokio::time::timeout(std::time::Duration::from_secs(30), task)
            .await
            .is_err()
        {
            tracing::warn!(worker = %name, "did not stop within 30 s");
        }
    }
    if let Some(r) = releaser {
        r.abort();
    }
    tracing::info!("shutting down: closing storage");
    store.close().await;
    served?;
    tracing::info!("stopped cleanly");
    Ok(())
}
