//! The composition root's product: everything a process needs, built once
//! from the settings and handed to the CLI, the server, the channels and
//! the jobs. One store, one vector index, one embedding model and one chat
//! model per process, each model loaded when first needed.
//!
//! **Invariants:** a model is loaded at most once while it is in use (a
//! failed load is remembered and reported, not retried per message; the
//! chat model is released after `llm.unload_after_secs` idle and loaded
//! again on the next question); nothing
//! here knows a channel: notifications go through [`Notifier`]s the
//! caller plugs in.

use std::collections::BTreeMap;
use std::sync::Arc;

use openzero_config::Loaded;
use openzero_core::embedding::TextEmbedder;
use openzero_core::health::{Component, ComponentStatus, HealthCheck};
use openzero_core::llm::ChatModel;
use openzero_core::notify::{Notifier, NotifyError};
use openzero_store::Store;
use tokio::sync::OnceCell;

use crate::AppError;
use crate::agent::{ChatTarget, chat_target, think_target};
use crate::memory::MemoryService;
use crate::memory_index::MemoryIndex;

/// A model loaded once, or why it could not be.
type Model<T> = Result<Arc<T>, String>;

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
    checks: std::sync::RwLock<Vec<Arc<dyn HealthCheck>>>,
    embedder: OnceCell<Model<dyn TextEmbedder>>,
    /// The chat model (or why there is none) and when it was last asked
    /// for; released after `llm.unload_after_secs` without use.
    chat_model: tokio::sync::Mutex<Option<(Model<dyn ChatModel>, std::time::Instant)>>,
    think_model: OnceCell<Model<dyn ChatModel>>,
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
            checks: std::sync::RwLock::default(),
            embedder: OnceCell::new(),
            chat_model: tokio::sync::Mutex::new(None),
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
        .in_zone(self.tz())
    }

    /// The chat model (with its fallback chain), loaded on first use and
    /// kept until [`Services::release_idle`] lets it go.
    pub async fn chat_model(&self) -> Result<Arc<dyn ChatModel>, String> {
        let mut slot = self.chat_model.lock().await;
        if let Some((model, used)) = slot.as_mut() {
            *used = std::time::Instant::now();
            return model.clone();
        }
        let model = crate::agent::load_chat_model(&self.loaded)
            .await
            .map_err(|e| e.to_string());
        *slot = Some((model.clone(), std::time::Instant::now()));
        model
    }

    /// Releases the chat model when it has not been asked for in
    /// `llm.unload_after_secs` (0: never). A turn still using it keeps it
    /// until that turn ends. Returns true when it was released.
    pub async fn release_idle(&self) -> bool {
        let after = self.loaded.settings.llm.unload_after_secs;
        if after == 0 {
            return false;
        }
        let mut slot = self.chat_model.lock().await;
        let idle = slot
            .as_ref()
            .is_some_and(|(_, used)| used.elapsed() >= std::time::Duration::from_secs(after));
        if idle && let Some((model, _)) = slot.take() {
            let holders = model.as_ref().map_or(0, Arc::strong_count);
            drop(model);
            tracing::info!(
                idle_secs = after,
                other_holders = holders.saturating_sub(1),
                "chat model released; loaded again on the next question"
            );
        }
        idle
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

    /// Queues `text` under `key` on every channel that has not had it yet
    /// (see [`Notifier::notify_once`]). The first failure is returned.
    pub async fn notify_once(&self, key: &str, text: &str) -> Result<(), AppError> {
        let mut first: Option<NotifyError> = None;
        for n in &self.notifiers {
            if let Err(e) = n.notify_once(key, text).await {
                tracing::error!(channel = n.channel(), error = %e, "notification not queued");
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), |e| Err(AppError::Notify(e)))
    }

    /// Adds a component to the health report (a channel, a worker, a
    /// capability's connection).
    pub fn add_check(&self, check: Arc<dyn HealthCheck>) {
        if let Ok(mut c) = self.checks.write() {
            c.push(check);
        }
    }

    /// Every component's health, by name: storage, memory and the chat
    /// model, then each registered check. Of two reports under one name
    /// (a channel's own and its worker's), the worse wins; on a tie the
    /// first registered stays.
    pub async fn health(&self) -> BTreeMap<String, Component> {
        let mut out = crate::health::components(
            &*self.store,
            &crate::memory::model_dir(&self.loaded),
            &self.chat_target,
        )
        .await;
        let checks: Vec<Arc<dyn HealthCheck>> = match self.checks.read() {
            Ok(c) => c.clone(),
            Err(_) => Vec::new(),
        };
        for check in checks {
            let c = check.check().await;
            let name = check.name().to_owned();
            let worse = |a: ComponentStatus| match a {
                ComponentStatus::Disabled => 0,
                ComponentStatus::Ok => 1,
                ComponentStatus::Degraded => 2,
                ComponentStatus::Down => 3,
            };
            if out
                .get(&name)
                .is_none_or(|old| worse(c.status) > worse(old.status))
            {
                out.insert(name, c);
            }
        }
        out
    }

    /// The channels notifications go to.
    pub fn channels(&self) -> Vec<&str> {
        self.notifiers.iter().map(|n| n.channel()).collect()
    }
}
