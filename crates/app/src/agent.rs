//! Talking to Z: runs the conversation state machine of
//! `openzero_core::agent`, carrying out its effects (memory search, project
//! tree, the chat model, the history) against the real adapters.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use openzero_config::{LlmProvider, Loaded};
use openzero_core::agent::{
    Budget, Context, Conversation, DEFAULT_PERSONA, Effect, Event, SUMMARY_CHARS, Turn, clip_front,
    fallback_summary, plan_fold, project_list, summary_prompt,
};
use openzero_core::llm::{LocalityRule, declared_hosts, judge_host};
use openzero_core::memory::{Filters, Memory};
use openzero_llm::embedded::{DEFAULT_FILE, EmbeddedModel};
use openzero_llm::fallback::Fallback;
use openzero_llm::gemini::Gemini;
use openzero_llm::ollama::Ollama;
use openzero_llm::openai::OpenAiCompatible;
use openzero_llm::{ChatModel, ChatRequest, Locality, ProviderInfo};
use openzero_store::Store;
use tokio::sync::mpsc::UnboundedSender;

use crate::AppError;
use crate::memory::MemoryService;
use crate::tools::{Registry, ToolEnv};

/// File in the data directory holding Z's persona (editable).
pub const PERSONA_FILE: &str = "persona.md";
/// File in the data directory the owner may write about themselves.
pub const ABOUT_ME_FILE: &str = "about-me.md";
/// Memories put into a prompt, at most.
const MEMORIES: usize = 5;
/// Earlier turns read for a prompt, at most (the budget trims further).
const HISTORY_TURNS: i64 = 20;
/// Turns read when folding older ones into the running summary.
const FOLD_WINDOW: i64 = 200;

/// How long a chat server may take to start answering (or pause mid-answer).
const SERVER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// The wire format a chat server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// OpenAI-compatible chat completions.
    OpenAi,
    /// Ollama's native `/api/chat`.
    Ollama,
    /// Gemini `generateContent`.
    Gemini,
}

/// Where a chat model is.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatTarget {
    /// The embedded GGUF model file.
    File(PathBuf),
    /// A chat server.
    Server {
        provider: String,
        api: Api,
        base_url: String,
        model: String,
        /// `Cloud` for the cloud services whatever their address, and for
        /// any server outside this machine and the owner's private network.
        locality: Locality,
        /// Which rule decided `locality` (shown by `doctor`).
        rule: LocalityRule,
    },
    /// Not usable with these settings, and why.
    Unavailable(String),
}

/// The model the settings choose for chat.
pub fn chat_target(loaded: &Loaded) -> ChatTarget {
    let llm = &loaded.settings.llm;
    target(loaded, llm.provider, llm.model.as_deref())
}

/// The model for deep thinking: `DEEP_THINK_PROVIDER` / `DEEP_THINK_MODEL`,
/// or the chat model when no deep-think provider is set.
pub fn think_target(loaded: &Loaded) -> ChatTarget {
    let llm = &loaded.settings.llm;
    match llm.deep_think_provider {
        Some(p) if p != llm.provider => target(loaded, p, llm.deep_think_model.as_deref()),
        _ => target(
            loaded,
            llm.provider,
            llm.deep_think_model.as_deref().or(llm.model.as_deref()),
        ),
    }
}

fn target(loaded: &Loaded, provider: LlmProvider, model: Option<&str>) -> ChatTarget {
    let llm = &loaded.settings.llm;
    let model = model.filter(|m| !m.trim().is_empty());
    // (name, api, default url, default model, a cloud service?)
    let (name, api, default_url, default_model, cloud) = match provider {
        LlmProvider::Embedded => {
            return ChatTarget::File(model.map_or_else(
                || loaded.data_dir.join("models").join(DEFAULT_FILE),
                PathBuf::from,
            ));
        }
        LlmProvider::Llamacpp => (
            "llamacpp",
            Api::OpenAi,
            "http://127.0.0.1:8080/v1",
            "default",
            false,
        ),
        LlmProvider::Ollama => (
            "ollama",
            Api::Ollama,
            llm.ollama_base_url.as_str(),
            "llama3.2",
            false,
        ),
        LlmProvider::Openai => (
            "openai",
            Api::OpenAi,
            "https://api.openai.com/v1",
            "gpt-4o-mini",
            true,
        ),
        LlmProvider::Groq => (
            "groq",
            Api::OpenAi,
            "https://api.groq.com/openai/v1",
            "llama-3.1-8b-instant",
            true,
        ),
        LlmProvider::Openrouter => (
            "openrouter",
            Api::OpenAi,
            "https://openrouter.ai/api/v1",
            "openrouter/auto",
            true,
        ),
        LlmProvider::Gemini => (
            "gemini",
            Api::Gemini,
            llm.gemini_base_url.as_str(),
            "gemini-2.0-flash",
            true,
        ),
    };
    let base_url = match api {
        Api::OpenAi => llm
            .openai_base_url
            .clone()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| default_url.to_owned()),
        _ => default_url.to_owned(),
    };
    let rule = if cloud {
        LocalityRule::CloudService
    } else {
        locality_rule(&base_url, llm.local_hosts.as_deref())
    };
    let locality = rule.locality();
    if cloud && api_key(loaded, provider).is_none() {
        let key = match provider {
            LlmProvider::Groq => "GROQ_API_KEY",
            LlmProvider::Gemini => "GEMINI_API_KEY",
            _ => "OPENAI_API_KEY",
        };
        return ChatTarget::Unavailable(format!("{name} needs an API key: set {key}"));
    }
    ChatTarget::Server {
        provider: name.to_owned(),
        api,
        base_url,
        model: model.unwrap_or(default_model).to_owned(),
        locality,
        rule,
    }
}

/// Whether the server at `base_url` is the owner's: by its address, the
/// owner's `llm.local_hosts`, or else by what its name resolves to (every
/// address loopback or private; a compose service name such as `ollama`).
/// Anything that cannot be shown local is treated as a cloud.
pub fn locality_rule(base_url: &str, local_hosts: Option<&str>) -> LocalityRule {
    let host = match openzero_llm::openai::host_of(base_url) {
        Ok(h) => h,
        Err(why) => return LocalityRule::BadUrl(why),
    };
    judge_host(&host, &declared_hosts(local_hosts), |name| {
        use std::net::ToSocketAddrs;
        // The port plays no part in the lookup.
        (name, 0)
            .to_socket_addrs()
            .map(|a| a.map(|a| a.ip()).collect())
            .map_err(|e| e.to_string())
    })
}

fn api_key(loaded: &Loaded, provider: LlmProvider) -> Option<String> {
    let llm = &loaded.settings.llm;
    match provider {
        LlmProvider::Groq => llm.groq_api_key.as_ref(),
        LlmProvider::Gemini => llm.gemini_api_key.as_ref(),
        LlmProvider::Openai | LlmProvider::Openrouter | LlmProvider::Llamacpp => {
            llm.openai_api_key.as_ref()
        }
        LlmProvider::Embedded | LlmProvider::Ollama => None,
    }
    .map(|k| k.expose().to_owned())
    .filter(|k| !k.is_empty())
}

/// The fallbacks configured in `llm.fallbacks` ("ollama:llama3.2, embedded"),
/// in order. Cloud providers are left out with a warning: a fallback is
/// used without asking, and nothing goes to a cloud model without asking.
pub fn fallback_targets(loaded: &Loaded) -> Result<Vec<ChatTarget>, AppError> {
    let Some(list) = loaded.settings.llm.fallbacks.as_deref() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, model) = match entry.split_once(':') {
            Some((n, m)) => (n.trim(), Some(m.trim())),
            None => (entry, None),
        };
        let provider = match name.to_ascii_lowercase().as_str() {
            "embedded" => LlmProvider::Embedded,
            "ollama" => LlmProvider::Ollama,
            "llamacpp" => LlmProvider::Llamacpp,
            "openai" => LlmProvider::Openai,
            "groq" => LlmProvider::Groq,
            "openrouter" => LlmProvider::Openrouter,
            "gemini" => LlmProvider::Gemini,
            other => {
                return Err(AppError::Invalid(format!(
                    "llm.fallbacks: unknown provider '{other}' (embedded, ollama, llamacpp, openai, groq, openrouter, gemini)"
                )));
            }
        };
        let t = target(loaded, provider, model);
        match &t {
            ChatTarget::Server {
                locality: Locality::Cloud,
                provider,
                ..
            } => tracing::warn!(
                %provider,
                "llm.fallbacks: a cloud provider is never a fallback (it needs your approval per message); skipped"
            ),
            _ => out.push(t),
        }
    }
    Ok(out)
}

/// Loads the configured chat model: the primary, or a fallback chain when
/// `llm.fallbacks` names local models (each loaded when first needed).
pub async fn load_chat_model(loaded: &Loaded) -> Result<Arc<dyn ChatModel>, AppError> {
    let primary = chat_target(loaded);
    let fallbacks = fallback_targets(loaded)?;
    let cloud = matches!(
        primary,
        ChatTarget::Server {
            locality: Locality::Cloud,
            ..
        }
    );
    if fallbacks.is_empty() || cloud {
        return load_model(loaded, &primary).await;
    }
    let members: Vec<Arc<dyn ChatModel>> = std::iter::once(primary)
        .chain(fallbacks)
        .map(|t| Arc::new(Lazy::new(loaded.clone(), t)) as Arc<dyn ChatModel>)
        .collect();
    let cooldown = std::time::Duration::from_secs(loaded.settings.llm.fallback_cooldown_secs);
    Ok(Arc::new(Fallback::new(members, cooldown)?))
}

/// A model loaded the first time it is asked (a fallback may never be).
#[derive(Debug)]
struct Lazy {
    loaded: Loaded,
    target: ChatTarget,
    model: tokio::sync::OnceCell<Arc<dyn ChatModel>>,
}

impl Lazy {
    fn new(loaded: Loaded, target: ChatTarget) -> Self {
        Self {
            loaded,
            target,
            model: tokio::sync::OnceCell::new(),
        }
    }

    async fn get(&self) -> Result<&Arc<dyn ChatModel>, openzero_llm::LlmError> {
        self.model
            .get_or_try_init(|| load_model(&self.loaded, &self.target))
            .await
            .map_err(|e| openzero_llm::LlmError::Inference(e.to_string()))
    }
}

#[async_trait::async_trait]
impl ChatModel for Lazy {
    fn info(&self) -> ProviderInfo {
        match &self.target {
            ChatTarget::File(path) => ProviderInfo {
                provider: "embedded".into(),
                model: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                locality: Locality::Local,
            },
            ChatTarget::Server {
                provider,
                model,
                locality,
                ..
            } => ProviderInfo {
                provider: provider.clone(),
                model: model.clone(),
                locality: *locality,
            },
            ChatTarget::Unavailable(why) => ProviderInfo {
                provider: "unavailable".into(),
                model: why.clone(),
                locality: Locality::Local,
            },
        }
    }

    async fn chat(
        &self,
        req: ChatRequest,
        deltas: Option<UnboundedSender<String>>,
    ) -> Result<openzero_llm::ChatResponse, openzero_llm::LlmError> {
        self.get().await?.chat(req, deltas).await
    }
}

/// Loads the model at `target`.
pub async fn load_model(
    loaded: &Loaded,
    target: &ChatTarget,
) -> Result<Arc<dyn ChatModel>, AppError> {
    match target {
        ChatTarget::File(path) => {
            let threads = loaded.settings.llm.threads;
            let path = path.clone();
            let model = tokio::task::spawn_blocking(move || EmbeddedModel::load(&path, threads))
                .await
                .map_err(|e| AppError::Invalid(format!("model load task: {e}")))?
                .map_err(AppError::Model)?;
            Ok(Arc::new(model))
        }
        ChatTarget::Server {
            provider,
            api,
            base_url,
            model,
            locality,
            ..
        } => {
            let kind = match provider.as_str() {
                "groq" => LlmProvider::Groq,
                "gemini" => LlmProvider::Gemini,
                "ollama" => LlmProvider::Ollama,
                _ => LlmProvider::Openai,
            };
            let key = api_key(loaded, kind);
            let bad = AppError::Model;
            let m: Arc<dyn ChatModel> = match api {
                Api::OpenAi => Arc::new(
                    OpenAiCompatible::new(provider, base_url, key, model, SERVER_TIMEOUT)
                        .map_err(bad)?
                        .with_locality(*locality),
                ),
                Api::Ollama => Arc::new(
                    Ollama::new(base_url, model, SERVER_TIMEOUT)
                        .map_err(bad)?
                        .with_locality(*locality),
                ),
                Api::Gemini => {
                    let key = key.ok_or_else(|| {
                        AppError::Invalid("gemini needs an API key: set GEMINI_API_KEY".into())
                    })?;
                    Arc::new(Gemini::new(base_url, &key, model, SERVER_TIMEOUT).map_err(bad)?)
                }
            };
            Ok(m)
        }
        ChatTarget::Unavailable(why) => Err(AppError::Invalid(why.clone())),
    }
}

/// Folds a channel's turns that no longer fit the history budget into its
/// running summary. `model` writes the summary (a local model: the text
/// must not leave the machine); without one, or when it fails, the summary
/// keeps each folded turn's first words. Nothing is ever silently dropped.
pub async fn fold_history(
    store: &dyn Store,
    channel: &str,
    model: Option<&dyn ChatModel>,
) -> Result<(), AppError> {
    let previous = store.latest_summary(channel).await?;
    let after = previous.as_ref().map_or(0, |s| s.upto);
    let turns = store.turns_after(channel, after, FOLD_WINDOW).await?;
    let Some((upto, fold)) = plan_fold(&turns, Budget::default()) else {
        return Ok(());
    };
    let prev = previous.as_ref().map(|s| s.text.as_str());
    let model = model.filter(|m| m.info().locality == Locality::Local);
    let text = match model {
        Some(m) => {
            let req = ChatRequest {
                messages: summary_prompt(prev, &fold),
                max_tokens: 200,
                temperature: 0.0,
                tools: Vec::new(),
            };
            match m.chat(req, None).await {
                Ok(r) if !r.text.trim().is_empty() => clip_front(r.text.trim(), SUMMARY_CHARS),
                Ok(_) => fallback_summary(prev, &fold),
                Err(e) => {
                    tracing::warn!(error = %e, "summary by the model failed; keeping the turns' first words");
                    fallback_summary(prev, &fold)
                }
            }
        }
        None => fallback_summary(prev, &fold),
    };
    store.add_summary(channel, upto, &text).await?;
    tracing::info!(%channel, turns = fold.len(), "older turns folded into the running summary");
    Ok(())
}

/// The persona: `persona.md` in the data directory, or the built-in one.
pub fn persona(data_dir: &Path) -> String {
    owner_file(&data_dir.join(PERSONA_FILE))
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_PERSONA.to_owned())
}

/// A file the owner may write (`persona.md`, `about-me.md`): `None` when it
/// is absent, which is normal. Any other failure (permissions, not UTF-8)
/// is logged with the path, then Z goes on without it.
pub fn owner_file(path: &Path) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(s) => Some(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read this file; going on without it");
            None
        }
    }
}

/// Writes a file the owner may edit (`persona.md`, `about-me.md`) whole or
/// not at all: a temporary file beside it (owner-only), synced, then renamed
/// over it. An empty text removes the file (the built-in persona returns).
pub fn write_owner_file(path: &Path, text: &str) -> Result<(), AppError> {
    let fail =
        |e: std::io::Error| AppError::Invalid(format!("could not write {}: {e}", path.display()));
    if text.trim().is_empty() {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(fail(e)),
            _ => Ok(()),
        };
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    crate::wiring::replace_private_file(path, &tmp, text).map_err(fail)
}

/// Records that `memories` went into a prompt (the memory page shows it);
/// a failure is logged and changes nothing else.
pub(crate) async fn record_uses(store: &dyn Store, memories: &[Memory], by: &str) {
    let ids: Vec<_> = memories.iter().map(|m| m.id).collect();
    if let Err(e) = store.memory_used(&ids, by, crate::clock::now()).await {
        tracing::warn!(error = %e, "memory uses not recorded");
    }
}

/// What Z answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub text: String,
    pub model: ProviderInfo,
    /// Memories that were put into the prompt (for `--verbose` and tests).
    pub memories_used: usize,
    /// Tool calls run while answering.
    pub tool_calls: usize,
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
    tools: Registry,
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
            tools: Registry::standard(loaded.settings.general.timezone.0),
            channel: channel.to_owned(),
        }
    }

    /// The store this chat records to.
    pub fn store(&self) -> &dyn Store {
        self.store
    }

    /// Handles one message from the owner; pieces of the answer go to
    /// `deltas` as they are generated.
    pub async fn send(
        &self,
        text: &str,
        deltas: Option<UnboundedSender<String>>,
    ) -> Result<Answer, AppError> {
        if self.model.info().locality == Locality::Cloud {
            // The owner's context may reach a cloud model only through the
            // consent step (crate::consent), never from here.
            return Err(AppError::Invalid(format!(
                "{} is a cloud model: each message needs your approval first (openzero chat asks for it; see `openzero think --help`)",
                self.model.info().provider
            )));
        }
        let tz = self.loaded.settings.general.timezone.0;
        let now = chrono::Utc::now().with_timezone(&tz);
        let mut conv = Conversation::new(persona(&self.loaded.data_dir), Budget::default());
        let mut pending = conv.handle(Event::OwnerSaid {
            text: text.to_owned(),
            now,
        });
        let mut reply = None;
        let mut tool_calls = 0;
        let mut memories_used = 0;
        let mut failed = false;
        let untrusted = std::sync::atomic::AtomicBool::new(false);
        while let Some(effect) = (!pending.is_empty()).then(|| pending.remove(0)) {
            let next = match effect {
                Effect::GatherContext { query } => {
                    let ctx = self.context(&query).await?;
                    memories_used = ctx.memories.len();
                    if ctx.memories.iter().any(|m| m.source.as_str() == "email") {
                        untrusted.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    conv.handle(Event::ContextReady(ctx))
                }
                Effect::AskModel { messages, tools } => {
                    let offer = tools && self.model.supports_tools();
                    let req = ChatRequest {
                        messages,
                        max_tokens: self.loaded.settings.llm.max_tokens.max(1),
                        temperature: 0.0,
                        tools: if offer {
                            self.tools.specs()
                        } else {
                            Vec::new()
                        },
                    };
                    // Text streams as it comes, in every round (a model may
                    // say something before it calls a tool).
                    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
                    let outer = deltas.clone();
                    let forward = tokio::spawn(async move {
                        while let Some(piece) = rx.recv().await {
                            if let Some(o) = &outer {
                                let _ = o.send(piece);
                            }
                        }
                    });
                    let result = self.model.chat(req, Some(tx)).await;
                    let _ = forward.await;
                    match result {
                        Ok(r) => conv.handle(Event::ModelAnswered {
                            text: r.text,
                            tool_calls: r.tool_calls,
                        }),
                        Err(e) => {
                            failed = true;
                            conv.handle(Event::ModelFailed {
                                error: e.to_string(),
                            })
                        }
                    }
                }
                Effect::RunTools { calls } => {
                    let env = ToolEnv {
                        store: self.store,
                        memory: &self.memory,
                        untrusted: &untrusted,
                    };
                    let mut results = Vec::with_capacity(calls.len());
                    for call in &calls {
                        let r = self.tools.run(env, call).await;
                        tool_calls += 1;
                        results.push(r);
                    }
                    conv.handle(Event::ToolsDone { results })
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
        if !failed {
            // After the answer is out: fold what no longer fits the prompt
            // into the running summary. A failure here loses nothing (the
            // turns stay stored and are folded next time).
            if let Err(e) = self.fold_history().await {
                tracing::warn!(error = %e, "conversation summary not updated");
            }
        }
        Ok(Answer {
            text: reply.unwrap_or_default(),
            model: self.model.info(),
            memories_used,
            tool_calls,
            failed,
        })
    }

    /// Folds the turns that no longer fit the history budget into the
    /// running summary: by the model, or without it when it fails.
    async fn fold_history(&self) -> Result<(), AppError> {
        fold_history(self.store, &self.channel, Some(&*self.model)).await
    }

    /// What Z knows that bears on `query`: memories, projects, about-me,
    /// preferences and this channel's recent turns.
    pub async fn context(&self, query: &str) -> Result<Context, AppError> {
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
        record_uses(self.store, &memories, &format!("chat ({})", self.channel)).await;
        let projects = project_list(&crate::projects::list(self.store).await?);
        let about_me =
            owner_file(&self.loaded.data_dir.join(ABOUT_ME_FILE)).filter(|s| !s.trim().is_empty());
        let preferences = self.store.list_preferences().await?;
        let summary = self.store.latest_summary(&self.channel).await?;
        let history: Vec<Turn> = self
            .store
            .turns_after(
                &self.channel,
                summary.as_ref().map_or(0, |s| s.upto),
                HISTORY_TURNS,
            )
            .await?
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        Ok(Context {
            memories,
            projects,
            about_me,
            preferences,
            history,
            summary: summary.map(|s| s.text),
        })
    }
}
