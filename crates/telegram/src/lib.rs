//! The owner talks to Z from their phone: a Telegram bot, owner-only on
//! every update type, with a durable inbox and outbox.
//!
//! **Invariants:**
//! - An update is stored before Telegram is told it was received: the
//!   polling offset is one past the highest *stored* update id, so a crash
//!   between receiving and storing loses nothing (Telegram sends it again).
//! - An update is marked handled in the same transaction that queues its
//!   replies, so after a restart each is handled exactly once.
//! - Replies leave through the outbox worker, which retries (honouring
//!   Telegram's `retry_after` on 429) until Telegram accepts them.
//! - Anyone but the owner gets no reply and causes no side effect; they are
//!   counted and logged by user id only, never their content.
//! - The bot token never appears in logs or errors.
//!
//! Built on `teloxide-core` (the Bot API types and requests) rather than
//! teloxide's dispatcher, which acknowledges updates before they are
//! handled.

mod handler;
mod receive;
mod send;
pub mod text;

pub use send::{TelegramNotifier, notify};
#[allow(unused_imports)] // for the modules, through `use super::*`
use {handler::*, receive::*, send::*};

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use openzero_app::agent::Chat;
use openzero_app::chat_commands;
use openzero_app::consent::{self, needs_consent};
use openzero_app::memory::MemoryService;
use openzero_app::think::{self, Asked};
use openzero_app::{AppError, Services};
use openzero_config::Loaded;
use openzero_core::commands;
use openzero_core::consent::Decision;
use openzero_core::llm::ChatModel;
use openzero_store::{Incoming, OutMessage, Store, Thought};
use teloxide_core::Bot;
use teloxide_core::payloads::{
    AnswerCallbackQuerySetters, EditMessageTextSetters, SendMessageSetters, SetWebhookSetters,
};
use teloxide_core::requests::Requester;
use teloxide_core::types::{
    BotCommand, ChatAction, ChatId, InlineKeyboardButton, InlineKeyboardMarkup, ParseMode, Update,
    UpdateKind,
};
use tokio::sync::{Notify, watch};

/// The conversation channel of Telegram.
pub const CHANNEL: &str = "telegram";

/// What the bot needs from the configuration.
#[derive(Clone)]
pub struct Config {
    pub token: String,
    pub owners: Vec<i64>,
    /// `https://api.telegram.org`, or a local Bot API server or fake.
    pub api_base_url: String,
    /// Seconds a `getUpdates` call waits for news.
    pub poll_timeout: u32,
    /// Webhook mode: the public URL Telegram posts to and the secret it
    /// must send; `None` for long polling.
    pub webhook: Option<Webhook>,
}

/// Where Telegram posts updates in webhook mode.
#[derive(Clone)]
pub struct Webhook {
    pub url: String,
    pub secret: String,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.url)
            .field("secret", &"***")
            .finish()
    }
}

impl Webhook {
    /// The path of our route: the URL's path (`/telegram` if it has none).
    pub fn path(&self) -> String {
        reqwest::Url::parse(&self.url)
            .ok()
            .map(|u| u.path().to_owned())
            .filter(|p| p.len() > 1)
            .unwrap_or_else(|| "/telegram".to_owned())
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("token", &"***")
            .field("owners", &self.owners)
            .field("api_base_url", &self.api_base_url)
            .field("webhook", &self.webhook.as_ref().map(|w| &w.url))
            .finish()
    }
}

/// Why the bot cannot start.
#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    #[error("telegram.api_base_url is not a valid URL: {0}")]
    BadUrl(String),
    #[error("Telegram is configured without an owner: set TELEGRAM_ALLOWED_USER_ID")]
    NoOwner,
    #[error(
        "telegram.mode = webhook needs telegram.webhook_url (the public HTTPS URL) and telegram.webhook_secret"
    )]
    WebhookIncomplete,
}

/// What `/health` shows.
#[derive(Debug, Default)]
pub struct Status {
    /// Updates from anyone but the owner, ignored.
    pub strangers: AtomicU64,
    /// The last failure talking to Telegram, cleared by the next success.
    pub last_error: std::sync::Mutex<Option<String>>,
    /// Updates handled since start.
    pub handled: AtomicU64,
}

impl Status {
    fn fail(&self, why: String) {
        if let Ok(mut e) = self.last_error.lock() {
            *e = Some(why);
        }
    }

    fn ok(&self) {
        if let Ok(mut e) = self.last_error.lock() {
            *e = None;
        }
    }

    /// The health component for `/health`.
    pub fn component(&self) -> openzero_core::health::Component {
        use openzero_core::health::{Component, ComponentStatus};
        let strangers = self.strangers.load(Ordering::Relaxed);
        let handled = self.handled.load(Ordering::Relaxed);
        match self.last_error.lock().ok().and_then(|e| e.clone()) {
            Some(e) => Component::new(ComponentStatus::Degraded, e, false),
            None => Component::new(
                ComponentStatus::Ok,
                format!("{handled} updates handled, {strangers} from strangers ignored"),
                false,
            ),
        }
    }
}

#[async_trait::async_trait]
impl openzero_core::health::HealthCheck for Status {
    fn name(&self) -> &str {
        CHANNEL
    }

    async fn check(&self) -> openzero_core::health::Component {
        self.component()
    }
}

/// The running bot.
pub struct Telegram {
    cfg: Config,
    services: Arc<Services>,
    http: reqwest::Client,
    bot: Bot,
    status: Arc<Status>,
    inbox: Notify,
    outbox: Notify,
}

impl std::fmt::Debug for Telegram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telegram")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl Telegram {
    /// the first message that needs one loads it, once, for everyone.
    pub fn new(cfg: Config, services: Arc<Services>) -> Result<Arc<Self>, TelegramError> {
        if cfg.owners.is_empty() {
            return Err(TelegramError::NoOwner);
        }
        if cfg
            .webhook
            .as_ref()
            .is_some_and(|w| w.url.trim().is_empty() || w.secret.trim().is_empty())
        {
            return Err(TelegramError::WebhookIncomplete);
        }
        let url: reqwest::Url = cfg
            .api_base_url
            .parse()
            .map_err(|e| TelegramError::BadUrl(format!("{e}")))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| TelegramError::BadUrl(e.to_string()))?;
        let bot = Bot::with_client(cfg.token.clone(), http.clone()).set_api_url(url);
        let status: Arc<Status> = Arc::default();
        services.add_check(status.clone());
        Ok(Arc::new(Self {
            cfg,
            services,
            http,
            bot,
            status,
            inbox: Notify::new(),
            outbox: Notify::new(),
        }))
    }

    /// The status `/health` reads.
    pub fn status(&self) -> Arc<Status> {
        self.status.clone()
    }

    /// Any text with the token removed.
    fn redact(&self, s: impl std::fmt::Display) -> String {
        s.to_string().replace(&self.cfg.token, "<token>")
    }

    /// Runs the poller, the handler and the outbox until `shutdown` is set.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        let commands = commands::menu()
            .into_iter()
            .map(|(c, d)| BotCommand::new(c, d));
        if let Err(e) = self.bot.set_my_commands(commands).await {
            tracing::warn!(error = %self.redact(e), "setMyCommands failed");
        }
        let poller = match &self.cfg.webhook {
            Some(w) => {
                let url = match reqwest::Url::parse(&w.url) {
                    Ok(u) => u,
                    Err(e) => {
                        tracing::error!(error = %e, "telegram: webhook URL is not valid");
                        return;
                    }
                };
                match self
                    .bot
                    .set_webhook(url)
                    .secret_token(w.secret.clone())
                    .await
                {
                    Ok(_) => {
                        tracing::info!(url = %w.url, "telegram: webhook set; updates arrive at {}", w.path())
                    }
                    Err(e) => {
                        let e = self.redact(e);
                        tracing::error!(error = %e, "telegram: setWebhook failed");
                        self.status.fail(format!("setWebhook failed: {e}"));
                    }
                }
                None
            }
            None => {
                tracing::info!(owners = ?self.cfg.owners, "telegram: polling for updates");
                Some(tokio::spawn(self.clone().poll(shutdown.clone())))
            }
        };
        let handler = tokio::spawn(self.clone().handle_loop(shutdown.clone()));
        let sender = tokio::spawn(self.clone().outbox_loop(shutdown));
        if let Some(p) = poller {
            let _ = p.await;
        }
        let _ = tokio::join!(handler, sender);
        tracing::info!("telegram: stopped");
    }
}

/// `serve`'s part: when a bot token is configured, the bot (polling or
/// its webhook's handling loop) as a supervised worker and, in webhook
/// mode, its endpoint; its health (`telegram` disabled without a token,
/// down when the settings cannot be used) either way.
pub fn serve_parts(services: &Arc<Services>, parts: &mut openzero_app::serve_parts::Parts) {
    use openzero_app::serve_parts::{HookReply, Method, fixed};
    use openzero_core::health::ComponentStatus;
    let t = &services.loaded.settings.telegram;
    let Some(token) = t.bot_token.as_ref() else {
        fixed(
            services,
            CHANNEL,
            ComponentStatus::Disabled,
            "not configured (set TELEGRAM_BOT_TOKEN and TELEGRAM_ALLOWED_USER_ID)",
        );
        return;
    };
    let webhook = (t.mode == openzero_config::TelegramMode::Webhook).then(|| Webhook {
        url: t.webhook_url.clone().unwrap_or_default(),
        secret: t
            .webhook_secret
            .as_ref()
            .map(|s| s.expose().to_owned())
            .unwrap_or_default(),
    });
    let cfg = Config {
        token: token.expose().to_owned(),
        owners: t.allowed_user_ids.clone(),
        api_base_url: t.api_base_url.clone(),
        poll_timeout: 25,
        webhook,
    };
    let bot = match Telegram::new(cfg, services.clone()) {
        Ok(bot) => bot,
        Err(e) => {
            tracing::error!(error = %e, "telegram not started");
            fixed(services, CHANNEL, ComponentStatus::Down, e.to_string());
            return;
        }
    };
    if let Some(path) = bot.webhook_path() {
        let hook = bot.clone();
        parts.endpoint(path, &[Method::Post], move |req| {
            let bot = hook.clone();
            async move {
                let secret = req.header("x-telegram-bot-api-secret-token");
                match bot.accept_webhook(secret, &req.body).await {
                    Ok(()) => HookReply::status(200),
                    Err(code) => HookReply::status(code),
                }
            }
        });
    }
    parts.worker(CHANNEL, move |stop| {
        let bot = bot.clone();
        async move {
            bot.run(stop).await;
            Ok(())
        }
    });
}
