//! Talking to Z: runs the conversation state machine of
//! `openzero_core::agent`, carrying out its effects (memory search, project
//! tree, the chat model, the history) against the real adapters.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use openzero_config::{LlmProvider, Loaded};
use openzero_core::agent::{
    Budget, Context, Conversation, DEFAULT_PERSONA, Effect, Event, Turn, project_list,
};
use openzero_core::memory::{Filters, Memory};
use openzero_llm::embedded::{DEFAULT_FILE, EmbeddedModel};
use openzero_llm::openai::OpenAiCompatible;
use openzero_llm::{ChatModel, ChatRequest, ProviderInfo};
use openzero_store::Store;
use tokio::sync::mpsc::UnboundedSender;

use crate::AppError;
use crate::memory::MemoryService;

/// File in the data directory holding Z's persona (editable).
pub const PERSONA_FILE: &str = "persona.md";
/// File in the data directory the owner may write about themselves.
pub const ABOUT_ME_FILE: &str = "about-me.md";
/// Memories put into a prompt, at most.
const MEMORIES: usize = 5;
/// Earlier turns read for a prompt, at most (the budget trims further).
const HISTORY_TURNS: i64 = 20;

/// Where the embedded chat model is for these settings.
pub fn chat_model_path(loaded: &Loaded) -> PathBuf {
    match &loaded.settings.llm.model {
        Some(m) if !m.trim().is_empty() => PathBuf::from(m),
        _ => loaded.data_dir.join("models").join(DEFAULT_FILE),
    }
}

/// How long a chat server may take to start answering (or pause mid-answer).
const SERVER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Where the configured chat model is.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatTarget {
    /// The embedded GGUF model file.
    File(PathBuf),
    /// An OpenAI-compatible server on this machine or the owner's network.
    Server {
        provider: String,
        base_url: String,
        model: String,
    },
    /// Not usable with these settings, and why.
    Unavailable(String),
}

/// What the settings ask for. Cloud endpoints are refused: a request
/// carrying the owner's context may only go to a cloud model after the
/// owner approved exactly what leaves, and that consent step is not built
/// yet.
pub fn chat_target(loaded: &Loaded) -> ChatTarget {
    let llm = &loaded.settings.llm;
    let (name, default_url) = match llm.provider {
        LlmProvider::Embedded => return ChatTarget::File(chat_model_path(loaded)),
        LlmProvider::Llamacpp => ("llamacpp", "http://127.0.0.1:8080/v1"),
        LlmProvider::Openai => ("openai", "https://api.openai.com/v1"),
        LlmProvider::Groq => ("groq", "https://api.groq.com/openai/v1"),
        LlmProvider::Openrouter => ("openrouter", "https://openrouter.ai/api/v1"),
        other => {
            return ChatTarget::Unavailable(
                format!(
                    "provider {other:?} is not available in this version (embedded and OpenAI-compatible servers on your own network are)"
                )
                .to_lowercase(),
            );
        }
    };
    let base_url = llm
        .openai_base_url
        .clone()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| default_url.to_owned());
    if openzero_llm::openai::locality_of(&base_url) == openzero_llm::Locality::Cloud {
        return ChatTarget::Unavailable(format!(
            "{name} at {base_url} is a cloud service: sending your context there needs your approval message by message, \
             and this version does not have that consent step yet; use the embedded model or a server on your own network (llm.openai_base_url)"
        ));
    }
    ChatTarget::Server {
        provider: name.to_owned(),
        base_url,
        model: llm.model.clone().unwrap_or_else(|| "default".to_owned()),
    }
}

/// Loads the configured chat model.
pub async fn load_chat_model(loaded: &Loaded) -> Result<Arc<dyn ChatModel>, AppError> {
    match chat_target(loaded) {
        ChatTarget::File(path) => {
            let threads = loaded.settings.llm.threads;
            let model = tokio::task::spawn_blocking(move || EmbeddedModel::load(&path, threads))
                .await
                .map_err(|e| AppError::Invalid(format!("model load task: {e}")))?
                .map_err(|e| AppError::Invalid(e.to_string()))?;
            Ok(Arc::new(model))
        }
        ChatTarget::Server {
            provider,
            base_url,
            model,
        } => {
            let key = match loaded.settings.llm.provider {
                LlmProvider::Groq => loaded.settings.llm.groq_api_key.as_ref(),
                _ => loaded.settings.llm.openai_api_key.as_ref(),
            }
            .map(|k| k.expose().to_owned());
            let p = OpenAiCompatible::new(&provider, &base_url, key, &model, SERVER_TIMEOUT)
                .map_err(|e| AppError::Invalid(e.to_string()))?;
            Ok(Arc::new(p))
        }
        ChatTarget::Unavailable(why) => Err(AppError::Invalid(why)),
    }
}

/// The persona: `persona.md` in the data directory, or the built-in one.
pub fn persona(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join(PERSONA_FILE))
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_PERSONA.to_owned())
}

/// What Z answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub text: String,
    pub model: ProviderInfo,
    /// Memories that were put into the prompt (for `--verbose` and tests).
    pub memories_used: usize,
    /// True when the model could not answer; `text` then says why (the
    /// owner's message is kept in the history all the same).
    pub failed: bool,
}

/// One channel's conversation with Z.
#[derive(Debug)]
pub struct Chat<'a> {
    loaded: &'a Loaded,
    store: &'a dyn Store,
    memory: MemoryService<'a>,
    model: Arc<dyn ChatModel>,
    channel: String,
}

impl<'a> Chat<'a> {
    pub fn new(
        loaded: &'a Loaded,
        store: &'a dyn Store,
        memory: MemoryService<'a>,
        model: Arc<dyn ChatModel>,
        channel: &str,
    ) -> Self {
        Self {
            loaded,
            store,
            memory,
            model,
            channel: channel.to_owned(),
        }
    }

    /// Handles one message from the owner; pieces of the answer go to
    /// `deltas` as they are generated.
    pub async fn send(
        &self,
        text: &str,
        deltas: Option<UnboundedSender<String>>,
    ) -> Result<Answer, AppError> {
        let tz = self.loaded.settings.general.timezone.0;
        let now = chrono::Utc::now().with_timezone(&tz);
        let mut conv = Conversation::new(persona(&self.loaded.data_dir), Budget::default());
        let mut pending = conv.handle(Event::OwnerSaid {
            text: text.to_owned(),
            now,
        });
        let mut deltas = deltas;
        let mut reply = None;
        let mut memories_used = 0;
        let mut failed = false;
        while let Some(effect) = (!pending.is_empty()).then(|| pending.remove(0)) {
            let next = match effect {
                Effect::GatherContext { query } => {
                    let ctx = self.context(&query).await?;
                    memories_used = ctx.memories.len();
                    conv.handle(Event::ContextReady(ctx))
                }
                Effect::AskModel { messages } => {
                    let req = ChatRequest {
                        messages,
                        max_tokens: self.loaded.settings.llm.max_tokens.max(1),
                        temperature: 0.0,
                    };
                    match self.model.chat(req, deltas.take()).await {
                        Ok(r) => conv.handle(Event::ModelAnswered { text: r.text }),
                        Err(e) => {
                            failed = true;
                            conv.handle(Event::ModelFailed {
                                error: e.to_string(),
                            })
                        }
                    }
                }
                Effect::Record { turns } => {
                    self.store.add_turns(&self.channel, &turns).await?;
                    Vec::new()
                }
                Effect::Reply { text } => {
                    reply = Some(text);
                    Vec::new()
                }
            };
            pending.extend(next);
        }
        Ok(Answer {
            text: reply.unwrap_or_default(),
            model: self.model.info(),
            memories_used,
            failed,
        })
    }

    async fn context(&self, query: &str) -> Result<Context, AppError> {
        let memories = match self
            .memory
            .search(query, MEMORIES, &Filters::default())
            .await
        {
            // The hits already carry what the prompt shows; no second read.
            Ok(found) => found
                .hits
                .into_iter()
                .map(|h| Memory {
                    id: h.id,
                    text: h.text,
                    created_at: h.created_at,
                    source: h.source,
                    external_id: h.external_id,
                    metadata: None,
                    model: None,
                })
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "memories left out of the prompt");
                Vec::new()
            }
        };
        let projects = project_list(&crate::projects::list(self.store).await?);
        let about_me = std::fs::read_to_string(self.loaded.data_dir.join(ABOUT_ME_FILE))
            .ok()
            .filter(|s| !s.trim().is_empty());
        let preferences = self.store.list_preferences().await?;
        let history: Vec<Turn> = self
            .store
            .recent_turns(&self.channel, HISTORY_TURNS)
            .await?;
        Ok(Context {
            memories,
            projects,
            about_me,
            preferences,
            history,
        })
    }
}
