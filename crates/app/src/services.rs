//! The composition root's product: everything a process needs, built once
//! from the settings and handed to the CLI, the server, the channels and
//! the jobs. One store, one vector index, one embedding model and one chat
//! model per process, each model loaded when first needed.
//!
//! **Invariants:** models are loaded at most once per process (a failed
//! load is remembered and reported, not retried per message); nothing
//! here knows a channel: notifications go through [`Notifier`]s the
//! caller plugs in.

use std::sync::Arc;

use openzero_config::Loaded;
use openzero_core::embedding::TextEmbedder;
use openzero_core::llm::ChatModel;
use openzero_core::notify::{Notifier, NotifyError};
use openzero_store::Store;
use tokio::sync::OnceCell;

use crate::AppError;
use crate::agent::{ChatTarget, chat_target, think_target};
use crate::memory::MemoryService;
use crate::memory_index::MemoryIndex;

/// What every use case may reach. Build with [`Services::new`].
pub struct Services {
    pub loaded: Loaded,
    pub store: Arc<dyn Store>,
    /// The vector index, built once and kept in step with the store.
    pub memory_index: Arc<MemoryIndex>,
    /// Where the chat model is, decided once (name resolution included).
    pub chat_target: ChatTarget,
    /// Where the deep-thinking model is.
    pub think_target: ChatTarget,
    notifiers: Vec<Arc<dyn Notifier>>,
    embedder: OnceCell<Result<Arc<dyn TextEmbedder>, String>>,
    chat_model: OnceCell<Result<Arc<dyn ChatModel>, String>>,
    think_model: OnceCell<Result<Arc<dyn ChatModel>, String>>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("store", &self.store.target())
            .field("chat_target", &self.chat_target)
            .field("notifiers", &self.notifiers)
            .finish_non_exhaustive()
    }
}

impl Services {
    /// Services over an open store, notifying through `notifiers`.
    pub fn new(loaded: Loaded, store: Arc<dyn Store>, notifiers: Vec<Arc<dyn Notifier>>) -> Self {
        let chat_target = chat_target(&loaded);
        let think_target = think_target(&loaded);
        Self {
            loaded,
            store,
            memory_index: Arc::default(),
            chat_target,
            think_target,
            notifiers,
            embedder: OnceCell::new(),
            chat_model: OnceCell::new(),
            think_model: OnceCell::new(),
        }
    }

    /// The owner's time zone.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.loaded.settings.general.timezone.0
    }

    /// The embedding model, loaded on first use (`Err`: why there is none).
    pub async fn embedder(&self) -> Result<Arc<dyn TextEmbedder>, String> {
        self.embedder
            .get_or_init(|| async {
                crate::memory::load_embedder(&self.loaded)
                    .await
                    .map_err(|e| {
                        tracing::warn!(error = %e, "semantic memory off: no embedding model");
                        e.to_string()
                    })
            })
            .await
            .clone()
    }

    /// Memory use cases over the shared store, index and embedder.
    pub async fn memory(&self) -> MemoryService<'_> {
        MemoryService::shared(
            &*self.store,
            self.embedder().await,
            self.memory_index.clone(),
        )
    }

    /// The chat model (with its fallback chain), loaded on first use.
    pub async fn chat_model(&self) -> Result<Arc<dyn ChatModel>, String> {
        self.chat_model
            .get_or_init(|| async {
                crate::agent::load_chat_model(&self.loaded)
                    .await
                    .map_err(|e| e.to_string())
            })
            .await
            .clone()
    }

    /// The deep-thinking model, loaded on first use.
    pub async fn think_model(&self) -> Result<Arc<dyn ChatModel>, String> {
        if self.think_target == self.chat_target {
            return self.chat_model().await;
        }
        self.think_model
            .get_or_init(|| async {
                crate::agent::load_model(&self.loaded, &self.think_target)
                    .await
                    .map_err(|e| e.to_string())
            })
            .await
            .clone()
    }

    /// Queues `text` for the owner on every configured channel. Every
    /// channel is tried; the first failure is returned.
    pub async fn notify(&self, text: &str) -> Result<(), AppError> {
        let mut first: Option<NotifyError> = None;
        for n in &self.notifiers {
            if let Err(e) = n.notify(text).await {
                tracing::error!(channel = n.channel(), error = %e, "notification not queued");
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), |e| Err(AppError::Notify(e)))
    }

    /// The channels notifications go to.
    pub fn channels(&self) -> Vec<&str> {
        self.notifiers.iter().map(|n| n.channel()).collect()
    }
}
