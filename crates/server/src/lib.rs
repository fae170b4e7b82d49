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
use openzero_app::memory_index::MemoryIndex;
use openzero_config::Loaded;
use openzero_core::health::{Component, OverallStatus, overall};
use openzero_store::Store;
use serde::Serialize;
use tokio::net::TcpListener;

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
    let components =
        openzero_app::health::components(&*state.store, &state.model_dir, &state.chat_model).await;
    Json(Health {
        status: overall(components.values()),
        version: env!("CARGO_PKG_VERSION"),
        components,
    })
}

/// Runs the service on `listener` until `shutdown` completes: opens the
/// configured store (migrating it), serves HTTP, then drains and closes.
pub async fn run(
    loaded: Loaded,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let store = openzero_app::open_store(&loaded).await?;
    let addr = listener.local_addr()?;
    tracing::info!(
        %addr,
        storage = store.backend().as_str(),
        timezone = loaded.settings.general.timezone.0.name(),
        "openzero is serving"
    );
    let memory_index = Arc::new(MemoryIndex::default());
    if !store.searches_vectors() {
        // Build the index now, not at the owner's first question.
        let (index, store) = (memory_index.clone(), store.clone());
        tokio::spawn(async move {
            if let Err(e) = index.synced(&*store).await {
                tracing::warn!(error = %e, "memory index not built yet; retried at the first search");
            }
        });
    }
    let app = router(AppState {
        store: store.clone(),
        model_dir: openzero_app::memory::model_dir(&loaded),
        memory_index,
        chat_model: openzero_app::agent::chat_target(&loaded),
    });
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    tracing::info!("shutting down: closing storage");
    store.close().await;
    served?;
    tracing::info!("stopped cleanly");
    Ok(())
}
