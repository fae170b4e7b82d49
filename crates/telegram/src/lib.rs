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

pub mod text;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use openzero_app::agent::Chat;
use openzero_app::consent::{self, needs_consent};
use openzero_app::memory::{AddMemory, MemoryService};
use openzero_app::think::{self, Asked};
use openzero_app::{AppError, Services};
use openzero_config::Loaded;
use openzero_core::commands;
use openzero_core::consent::Decision;
use openzero_core::llm::ChatModel;
use openzero_core::memory::Filters;
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
    loaded: Loaded,
    store: Arc<dyn Store>,
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
    /// The bot over the process's services. Models are not loaded here:
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
            loaded: services.loaded.clone(),
            store: services.store.clone(),
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

    /// An update posted to the webhook: checked against the secret, then
    /// stored and handed to the handler. `Err` is the HTTP status to answer.
    pub async fn accept_webhook(&self, secret: Option<&str>, body: &[u8]) -> Result<(), u16> {
        let Some(w) = &self.cfg.webhook else {
            return Err(404);
        };
        if secret != Some(w.secret.as_str()) {
            tracing::warn!("telegram: webhook call with a wrong or missing secret refused");
            return Err(401);
        }
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
            // Answered 200: Telegram would resend a malformed body forever.
            tracing::warn!("telegram: malformed webhook body skipped");
            return Ok(());
        };
        let Some(id) = v["update_id"].as_i64() else {
            tracing::warn!("telegram: webhook body without update_id skipped");
            return Ok(());
        };
        // Stored before we answer 200: an update Telegram saw accepted is kept.
        match self
            .store
            .inbox_store(CHANNEL, &[update(id, v.to_string())])
            .await
        {
            Ok(_) => {
                self.inbox.notify_one();
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "telegram: could not store a webhook update; Telegram will resend it");
                Err(500)
            }
        }
    }

    /// The webhook route's path, in webhook mode.
    pub fn webhook_path(&self) -> Option<String> {
        self.cfg.webhook.as_ref().map(Webhook::path)
    }

    /// The HTTP routes this channel adds to the server: the webhook, in
    /// webhook mode (none for long polling).
    pub fn routes(self: &Arc<Self>) -> Option<axum::Router> {
        let path = self.webhook_path()?;
        let bot = self.clone();
        Some(axum::Router::new().route(
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
        ))
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

    /// Long-polls `getUpdates` from the stored offset, storing every update
    /// before the next call acknowledges it.
    async fn poll(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let url = format!(
            "{}/bot{}/getUpdates",
            self.cfg.api_base_url.trim_end_matches('/'),
            self.cfg.token
        );
        let mut failures = 0u32;
        while !*shutdown.borrow() {
            let result = async {
                let offset = self
                    .store
                    .inbox_position(CHANNEL)
                    .await
                    .map_err(|e| PollError::Failed(e.to_string()))?
                    .map_or(0, |p| p + 1);
                let body =
                    serde_json::json!({ "offset": offset, "timeout": self.cfg.poll_timeout });
                let resp = self
                    .http
                    .post(&url)
                    .json(&body)
                    .timeout(Duration::from_secs(u64::from(self.cfg.poll_timeout) + 15))
                    .send()
                    .await
                    .map_err(|e| PollError::Failed(self.redact(e.without_url())))?;
                let v: serde_json::Value = resp.json().await.map_err(|e| {
                    PollError::Failed(format!(
                        "getUpdates answer: {}",
                        self.redact(e.without_url())
                    ))
                })?;
                if v["ok"] != true {
                    return Err(match v["parameters"]["retry_after"].as_u64() {
                        Some(s) => PollError::RetryAfter(Duration::from_secs(s)),
                        None => PollError::Failed(format!(
                            "getUpdates refused: {} {}",
                            v["error_code"],
                            v["description"].as_str().unwrap_or("")
                        )),
                    });
                }
                let Some(updates) = v["result"].as_array() else {
                    return Err(PollError::Failed(
                        "getUpdates answered ok without a list of updates".into(),
                    ));
                };
                let batch: Vec<Incoming> = updates
                    .iter()
                    .filter_map(|u| Some(update(u["update_id"].as_i64()?, u.to_string())))
                    .collect();
                self.store
                    .inbox_store(CHANNEL, &batch)
                    .await
                    .map_err(|e| PollError::Failed(e.to_string()))
            };
            let outcome = tokio::select! {
                r = result => r,
                _ = shutdown.changed() => break,
            };
            match outcome {
                Ok(new) => {
                    failures = 0;
                    self.status.ok();
                    if new > 0 {
                        self.inbox.notify_one();
                    }
                }
                Err(e) => {
                    let wait = match e {
                        PollError::RetryAfter(wait) => wait,
                        PollError::Failed(e) => {
                            failures += 1;
                            tracing::warn!(error = %e, "telegram: polling failed");
                            self.status.fail(format!("polling failed: {e}"));
                            Duration::from_millis(500 * (1 << failures.min(6)))
                        }
                    };
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = shutdown.changed() => break,
                    }
                }
            }
        }
    }

    /// Handles stored updates one at a time, oldest first.
    async fn handle_loop(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        // Agent turns run beside the loop on one worker, in order (a
        // conversation is sequential), so a long answer never holds up
        // /status, a button tap or another command.
        let in_flight: Arc<std::sync::Mutex<std::collections::HashSet<i64>>> = Arc::default();
        let (turn_tx, mut turn_rx) = tokio::sync::mpsc::unbounded_channel::<(i64, String)>();
        let worker = {
            let (me, in_flight, stop) = (self.clone(), in_flight.clone(), shutdown.clone());
            tokio::spawn(async move {
                while let Some((id, raw)) = turn_rx.recv().await {
                    if *stop.borrow() {
                        // Left unhandled in the inbox for the next start.
                        break;
                    }
                    me.handle_and_finish(id, &raw).await;
                    if let Ok(mut s) = in_flight.lock() {
                        s.remove(&id);
                    }
                    me.inbox.notify_one();
                }
            })
        };
        while !*shutdown.borrow() {
            let pending = match self.store.inbox_unhandled(CHANNEL, 50).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "telegram: cannot read the inbox");
                    Vec::new()
                }
            };
            let busy = |id| in_flight.lock().is_ok_and(|s| s.contains(&id));
            let fresh: Vec<(i64, String)> = pending
                .into_iter()
                .filter(|e| !busy(e.id))
                .map(|e| (e.id, e.payload))
                .collect();
            if fresh.is_empty() {
                tokio::select! {
                    _ = self.inbox.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    _ = shutdown.changed() => break,
                }
                continue;
            }
            for (id, raw) in fresh {
                if is_agent_turn(&raw) {
                    if let Ok(mut s) = in_flight.lock() {
                        s.insert(id);
                    }
                    if turn_tx.send((id, raw)).is_err() {
                        tracing::error!(update = id, "telegram: the agent worker stopped");
                    }
                    continue;
                }
                if !self.handle_and_finish(id, &raw).await {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    break;
                }
                if *shutdown.borrow() {
                    break;
                }
            }
        }
        // The turn in hand is finished; what is stored but not started
        // waits in the inbox for the next start.
        drop(turn_tx);
        if let Err(e) = worker.await {
            tracing::error!(error = %e, "telegram: the agent worker ended abnormally");
        }
    }

    /// Handles one stored update and records it handled with its replies.
    /// False when that record failed (the update stays unhandled and is
    /// tried again: nothing lost).
    async fn handle_and_finish(&self, id: i64, raw: &str) -> bool {
        let replies = self.handle(id, raw).await;
        match self.store.inbox_finish(id, &replies).await {
            Ok(()) => {
                self.status.handled.fetch_add(1, Ordering::Relaxed);
                self.outbox.notify_one();
                true
            }
            Err(e) => {
                tracing::error!(update = id, error = %e, "telegram: could not record a handled update");
                false
            }
        }
    }

    /// Sends queued messages in order, retrying until Telegram takes them.
    async fn outbox_loop(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut next_try: HashMap<i64, Instant> = HashMap::new();
        while !*shutdown.borrow() {
            let rows = match self.store.tg_outbox(20).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "telegram: cannot read the outbox; retrying");
                    self.status.fail(format!("cannot read the outbox: {e}"));
                    Vec::new()
                }
            };
            let mut sent_any = false;
            for row in &rows {
                if next_try.get(&row.id).is_some_and(|t| Instant::now() < *t) {
                    continue;
                }
                match self.send(&row.message).await {
                    Ok(message_id) => {
                        if let Err(e) = self.store.tg_sent(row.id, message_id).await {
                            tracing::error!(error = %e, "telegram: sent, but could not record it");
                        }
                        next_try.remove(&row.id);
                        sent_any = true;
                        self.status.ok();
                    }
                    Err(SendError::RetryAfter(wait)) => {
                        tracing::info!(
                            secs = wait.as_secs(),
                            "telegram: rate limited; waiting as asked"
                        );
                        tokio::select! {
                            _ = tokio::time::sleep(wait) => {}
                            _ = shutdown.changed() => return,
                        }
                        break;
                    }
                    Err(SendError::Other(e)) => {
                        let attempts = row.attempts + 1;
                        tracing::warn!(outbox = row.id, attempts, error = %e, "telegram: sending failed; will retry");
                        self.status.fail(format!("sending failed: {e}"));
                        if let Err(db) = self.store.tg_send_failed(row.id, &e).await {
                            tracing::warn!(error = %db, "telegram: could not record a failed send");
                        }
                        let backoff = Duration::from_millis(500 * (1 << attempts.clamp(0, 7)));
                        next_try.insert(row.id, Instant::now() + backoff);
                        // Later messages of the same chat wait, so order holds.
                        break;
                    }
                }
            }
            if !sent_any {
                tokio::select! {
                    _ = self.outbox.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = shutdown.changed() => break,
                }
            }
        }
    }

    /// Sends a queued message as HTML (the model's Markdown rendered,
    /// everything else escaped); if Telegram rejects the markup, the same
    /// text goes again as plain text.
    async fn send(&self, m: &OutMessage) -> Result<i64, SendError> {
        let mut html = true;
        loop {
            let text = if html {
                text::to_html(&m.text)
            } else {
                m.text.clone()
            };
            let mut req = self.bot.send_message(ChatId(m.chat_id), text);
            if html {
                req = req.parse_mode(ParseMode::Html);
            }
            if let Some(b) = m.buttons.as_deref().and_then(keyboard) {
                req = req.reply_markup(b);
            }
            return match req.await {
                Ok(msg) => Ok(i64::from(msg.id.0)),
                Err(teloxide_core::RequestError::Api(
                    teloxide_core::ApiError::CantParseEntities(why),
                )) if html => {
                    tracing::warn!(%why, "telegram refused the markup; sending plain text");
                    html = false;
                    continue;
                }
                Err(teloxide_core::RequestError::RetryAfter(s)) => {
                    Err(SendError::RetryAfter(s.duration()))
                }
                Err(e) => Err(SendError::Other(self.redact(e))),
            };
        }
    }

    /// Handles one stored update; returns the replies to queue.
    async fn handle(&self, id: i64, raw: &str) -> Vec<OutMessage> {
        let update: Update = match serde_json::from_str(raw) {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(update = id, error = %e, "telegram: malformed update skipped");
                return Vec::new();
            }
        };
        let Some(user) = update.from() else {
            tracing::info!(update = id, "telegram: update without a sender ignored");
            return Vec::new();
        };
        let user_id = i64::try_from(user.id.0).unwrap_or(-1);
        if !self.cfg.owners.contains(&user_id) {
            self.status.strangers.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                user_id,
                "telegram: update from someone who is not the owner ignored"
            );
            return Vec::new();
        }
        match update.kind {
            UpdateKind::Message(m) | UpdateKind::EditedMessage(m) => {
                let chat = m.chat.id.0;
                match m.text() {
                    Some(text) => self.on_text(chat, text).await,
                    None => reply(chat, "I read text for now: write it to me in words."),
                }
            }
            UpdateKind::CallbackQuery(q) => {
                let chat = q.message.as_ref().map_or(user_id, |m| m.chat().id.0);
                let (answer, replies) = self.on_button(chat, q.data.as_deref().unwrap_or("")).await;
                if let Err(e) = self
                    .bot
                    .answer_callback_query(q.id.clone())
                    .text(answer)
                    .await
                {
                    tracing::warn!(error = %self.redact(e), "telegram: answerCallbackQuery failed");
                }
                replies
            }
            UpdateKind::Error(_) => {
                tracing::info!(
                    update = id,
                    "telegram: update of a kind this version does not know ignored"
                );
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    async fn memory(&self) -> MemoryService<'_> {
        self.services.memory().await
    }

    async fn chat_model(&self) -> Result<Arc<dyn ChatModel>, String> {
        self.services.chat_model().await
    }

    async fn on_text(&self, chat: i64, text: &str) -> Vec<OutMessage> {
        let (name, typed, arg) = match commands::parse(text) {
            commands::Parsed::Text(text) => return self.converse(chat, text).await,
            commands::Parsed::Unknown(name) => {
                return reply(
                    chat,
                    &format!("I don't know /{name}.\n\n{}", commands::help()),
                );
            }
            commands::Parsed::Command { name, typed, arg } => (name, typed, arg),
        };
        match name {
            "help" => reply(chat, &commands::help()),
            "tree" => match openzero_app::projects::tree(&*self.store).await {
                Ok(t) => reply(chat, &t),
                Err(e) => reply(chat, &format!("I could not read your projects: {e}")),
            },
            "memory" if arg.is_empty() => reply(chat, "What should I look for? /memory dentist"),
            "memory" => self.search(chat, arg).await,
            "add" if arg.is_empty() => reply(
                chat,
                "What should I remember? /add Dentist on Tuesday at 9:30",
            ),
            "add" => self.remember(chat, arg).await,
            "think" if arg.is_empty() => reply(
                chat,
                "Ask me something: /think should I take the Berlin offer?",
            ),
            "think" => self.think(chat, arg).await,
            "project" => self.project(chat, arg).await,
            "status" => self.health(chat).await,
            "daily" | "weekly" | "monthly" => {
                let kind = openzero_core::briefing::Kind::parse(name)
                    .unwrap_or(openzero_core::briefing::Kind::Daily);
                let typing = self.typing(chat);
                let briefings = openzero_app::briefings::Briefings::new(self.services.clone());
                let out = match briefings.compose(kind, true).await {
                    Ok(b) => {
                        if let Err(e) = briefings.record(kind, &b).await {
                            tracing::warn!(error = %e, "briefing not stored");
                        }
                        reply(chat, &b.text)
                    }
                    Err(e) => reply(chat, &format!("I could not put the briefing together: {e}")),
                };
                typing.abort();
                out
            }
            "jobs" => self.jobs(chat).await,
            "pause" | "resume" if arg.is_empty() => reply(
                chat,
                &format!("Which job? /{name} daily-briefing (see /jobs)"),
            ),
            "pause" | "resume" => {
                match openzero_app::jobs::set_paused(
                    &self.loaded,
                    &*self.store,
                    arg,
                    name == "pause",
                )
                .await
                {
                    Ok(job) if name == "pause" => reply(chat, &format!("Paused {job}.")),
                    Ok(job) => reply(chat, &format!("Resumed {job}.")),
                    Err(e) => reply(chat, &e.to_string()),
                }
            }
            "run" if arg.is_empty() => reply(chat, "Which job? /run weekly-review (see /jobs)"),
            "run" => match openzero_app::jobs::find(&self.loaded, arg) {
                Ok(job) => {
                    let runner = openzero_app::jobs::Runner::new(self.services.clone());
                    match runner.run(&job, openzero_app::clock::now()).await {
                        // Delivered through the outbox by the job itself.
                        Ok(Some(_)) => Vec::new(),
                        Ok(None) => reply(chat, &format!("{} is already running.", job.name)),
                        Err(e) => reply(chat, &format!("{} failed: {e}", job.name)),
                    }
                }
                Err(e) => reply(chat, &e.to_string()),
            },
            _ => {
                tracing::warn!(
                    command = name,
                    typed,
                    "telegram: a command in the table has no handler"
                );
                reply(chat, &format!("/{typed} is not available here yet."))
            }
        }
    }

    async fn jobs(&self, chat: i64) -> Vec<OutMessage> {
        match openzero_app::jobs::list(&self.loaded, &*self.store).await {
            Ok(all) => {
                let lines: Vec<String> = all
                    .iter()
                    .map(|j| {
                        format!(
                            "{}{} – next {} – last {}",
                            j.name,
                            if j.paused { " (paused)" } else { "" },
                            j.next.as_deref().unwrap_or("never"),
                            j.last_outcome.as_deref().unwrap_or("never run")
                        )
                    })
                    .collect();
                reply(
                    chat,
                    &format!(
                        "{}\n\n/pause NAME · /resume NAME · /run NAME",
                        lines.join("\n")
                    ),
                )
            }
            Err(e) => reply(chat, &format!("I could not read the jobs: {e}")),
        }
    }

    async fn search(&self, chat: i64, q: &str) -> Vec<OutMessage> {
        match self.memory().await.search(q, 5, &Filters::default()).await {
            Ok(found) if found.hits.is_empty() => reply(chat, "Nothing I remember matches."),
            Ok(found) => {
                let tz = self.loaded.settings.general.timezone.0;
                let lines: Vec<String> = found
                    .hits
                    .iter()
                    .map(|h| {
                        format!(
                            "#{} ({}) {}",
                            h.id,
                            h.created_at.with_timezone(&tz).format("%Y-%m-%d"),
                            h.text
                        )
                    })
                    .collect();
                reply(chat, &lines.join("\n"))
            }
            Err(e) => reply(chat, &format!("Search failed: {e}")),
        }
    }

    async fn remember(&self, chat: i64, text: &str) -> Vec<OutMessage> {
        let added = self
            .memory()
            .await
            .add(AddMemory {
                text: text.to_owned(),
                created_at: None,
                source: Some(CHANNEL.into()),
                external_id: None,
                metadata: None,
            })
            .await;
        match added {
            Ok(a) if a.new => reply(chat, &format!("Remembered #{}.", a.memory.id)),
            Ok(a) => reply(chat, &format!("I already had that (#{}).", a.memory.id)),
            Err(e) => reply(chat, &format!("I could not remember that: {e}")),
        }
    }

    async fn project(&self, chat: i64, arg: &str) -> Vec<OutMessage> {
        use openzero_app::projects::{AddProject, UpdateProject};
        let (verb, rest) = arg.split_once(char::is_whitespace).unwrap_or((arg, ""));
        let rest = rest.trim();
        let done = |p: openzero_core::Project| {
            format!(
                "#{} {}: {}, {}% done",
                p.id,
                p.name,
                p.status,
                p.progress.get()
            )
        };
        let result = match verb {
            "add" if !rest.is_empty() => openzero_app::projects::add(
                &*self.store,
                AddProject {
                    name: rest.to_owned(),
                    ..AddProject::default()
                },
            )
            .await
            .map(|p| format!("Added {}", done(p))),
            "done" if !rest.is_empty() => openzero_app::projects::update(
                &*self.store,
                rest,
                UpdateProject {
                    status: Some(openzero_core::Status::Completed),
                    progress: openzero_core::Progress::try_from(100).ok(),
                    ..UpdateProject::default()
                },
            )
            .await
            .map(|p| format!("Done: {}", done(p))),
            "progress" => {
                let (name, pct) = rest.rsplit_once(char::is_whitespace).unwrap_or((rest, ""));
                match pct
                    .trim_end_matches('%')
                    .parse::<i64>()
                    .ok()
                    .and_then(|n| openzero_core::Progress::try_from(n).ok())
                {
                    Some(p) => openzero_app::projects::update(
                        &*self.store,
                        name.trim(),
                        UpdateProject {
                            progress: Some(p),
                            ..UpdateProject::default()
                        },
                    )
                    .await
                    .map(|p| format!("Updated {}", done(p))),
                    None => return reply(chat, "Usage: /project progress <name> <0-100>"),
                }
            }
            _ => {
                return reply(
                    chat,
                    "Usage: /project add <name> · /project done <name> · /project progress <name> <0-100>",
                );
            }
        };
        match result {
            Ok(text) => reply(chat, &text),
            Err(e) => reply(chat, &e.to_string()),
        }
    }

    async fn health(&self, chat: i64) -> Vec<OutMessage> {
        let parts = self.services.health().await;
        let lines: Vec<String> = parts
            .iter()
            .map(|(name, c)| format!("{name}: {:?} – {}", c.status, c.detail).to_lowercase())
            .collect();
        reply(chat, &lines.join("\n"))
    }

    /// Free text: the agent answers, with a typing indicator meanwhile.
    async fn converse(&self, chat: i64, text: &str) -> Vec<OutMessage> {
        let model = match self.chat_model().await {
            Ok(m) => m,
            Err(e) => return reply(chat, &format!("I cannot think right now: {e}")),
        };
        let typing = self.typing(chat);
        let out = if needs_consent(&model.info()) {
            let c = Chat::new(
                &self.loaded,
                &*self.store,
                self.memory().await,
                model.clone(),
                CHANNEL,
            );
            match c.context(text).await {
                Ok(ctx) => match consent::hold(
                    &self.loaded,
                    &*self.store,
                    &model.info(),
                    CHANNEL,
                    text,
                    ctx,
                )
                .await
                {
                    Ok(t) => self.disclosure(chat, &t),
                    Err(e) => reply(chat, &format!("I could not prepare that: {e}")),
                },
                Err(e) => reply(chat, &format!("I could not prepare that: {e}")),
            }
        } else {
            let c = Chat::new(
                &self.loaded,
                &*self.store,
                self.memory().await,
                model,
                CHANNEL,
            );
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
            let streamer = tokio::spawn(stream_preview(self.bot.clone(), chat, rx));
            let answer = c.send(text, Some(tx)).await;
            let shown = streamer.await.ok().flatten();
            match answer {
                Ok(a) => self.finish_streamed(chat, shown, &a.text).await,
                Err(e) => reply(chat, &format!("I could not answer: {e}")),
            }
        };
        typing.abort();
        out
    }

    /// The final answer: written into the message that showed it growing
    /// when there is one (the rest, if longer, queued), else queued whole.
    /// If the final edit fails the whole answer is queued: never lost.
    async fn finish_streamed(
        &self,
        chat: i64,
        shown: Option<teloxide_core::types::MessageId>,
        answer: &str,
    ) -> Vec<OutMessage> {
        let mut parts = reply(chat, answer);
        let Some(id) = shown else {
            return parts;
        };
        let first = parts.remove(0);
        let edit = self
            .bot
            .edit_message_text(ChatId(chat), id, text::to_html(&first.text))
            .parse_mode(ParseMode::Html)
            .await;
        let edit = match edit {
            // The markup refused: the same text, plain.
            Err(teloxide_core::RequestError::Api(teloxide_core::ApiError::CantParseEntities(
                _,
            ))) => {
                self.bot
                    .edit_message_text(ChatId(chat), id, first.text.clone())
                    .await
            }
            other => other,
        };
        match edit {
            Ok(_)
            | Err(teloxide_core::RequestError::Api(teloxide_core::ApiError::MessageNotModified)) => {
                parts
            }
            Err(e) => {
                tracing::warn!(error = %self.redact(e), "telegram: final edit failed; sending the answer anew");
                let mut all = vec![first];
                all.extend(parts);
                all
            }
        }
    }

    /// Sends "typing…" every few seconds until aborted.
    fn typing(&self, chat: i64) -> tokio::task::JoinHandle<()> {
        let bot = self.bot.clone();
        tokio::spawn(async move {
            loop {
                let _ = bot.send_chat_action(ChatId(chat), ChatAction::Typing).await;
                tokio::time::sleep(Duration::from_secs(4)).await;
            }
        })
    }

    async fn think(&self, chat: i64, question: &str) -> Vec<OutMessage> {
        let typing = self.typing(chat);
        let out = match think::ask(&self.services, CHANNEL, question, None).await {
            Ok(Asked::Answered(text)) => reply(chat, &text),
            Ok(Asked::Held(t)) => self.disclosure(chat, &t),
            Err(AppError::ModelUnavailable(e)) => {
                reply(chat, &format!("I cannot think deeply right now: {e}"))
            }
            Err(e) => reply(chat, &format!("I could not prepare that: {e}")),
        };
        typing.abort();
        out
    }

    /// The message showing what a thought would send, with Send/Cancel.
    fn disclosure(&self, chat: i64, t: &Thought) -> Vec<OutMessage> {
        let mut text = format!(
            "This would go to {} ({}), a cloud service:\n",
            t.provider, t.model
        );
        for item in &t.disclosure.items {
            text.push_str(&format!("\n• {}\n{}\n", item.label, item.text));
        }
        let r: Vec<String> = t
            .disclosure
            .redactor
            .redactions
            .iter()
            .map(|r| r.placeholder.clone())
            .collect();
        if !r.is_empty() {
            text.push_str(&format!(
                "\n{} identifier(s) replaced ({}); they are put back here, on your server.\n",
                r.len(),
                r.join(", ")
            ));
        }
        let tz = self.loaded.settings.general.timezone.0;
        text.push_str(&format!(
            "\nSend it? (expires {})",
            t.expires_at.with_timezone(&tz).format("%Y-%m-%d %H:%M")
        ));
        let buttons = serde_json::json!([[
            {"text": "Send", "callback_data": format!("grant:{}", t.id)},
            {"text": "Cancel", "callback_data": format!("cancel:{}", t.id)}
        ]]);
        let mut out: Vec<OutMessage> = text::split(&text, text::LIMIT)
            .into_iter()
            .map(|t| OutMessage {
                chat_id: chat,
                text: t,
                buttons: None,
            })
            .collect();
        if let Some(last) = out.last_mut() {
            last.buttons = Some(buttons.to_string());
        }
        out
    }

    /// A tap on Send or Cancel: (the short answer shown, replies).
    async fn on_button(&self, chat: i64, data: &str) -> (String, Vec<OutMessage>) {
        let (verb, id) = data.split_once(':').unwrap_or((data, ""));
        let Ok(id) = id.parse::<i64>() else {
            return ("That button is not mine.".into(), Vec::new());
        };
        let decision = match verb {
            "grant" => Decision::Grant,
            "cancel" => Decision::Cancel,
            _ => return ("That button is not mine.".into(), Vec::new()),
        };
        let by = format!("owner (telegram {chat})");
        let typing = self.typing(chat);
        let decided = think::decide(&self.services, id, decision, &by, None).await;
        typing.abort();
        match decided {
            Ok(think::Decided::Cancelled) => (
                "Cancelled: nothing was sent.".into(),
                reply(chat, "Cancelled: nothing was sent."),
            ),
            Ok(think::Decided::Refused(why)) => (capitalise(&why.to_string()), Vec::new()),
            Ok(think::Decided::NotFound) => ("I don't know that request.".into(), Vec::new()),
            Ok(think::Decided::Sent(s)) => {
                let mut text = s.text;
                if let Some(d) = s.disclosure {
                    text.push_str(&format!(
                        "\n\n(disclosure #{}: {} bytes to {})",
                        d.id, d.bytes, d.provider
                    ));
                }
                ("Sent.".into(), reply(chat, &text))
            }
            Err(AppError::ModelUnavailable(e)) => ("Not sent.".into(), reply(chat, &e)),
            Err(e) => (
                "It failed.".into(),
                reply(chat, &format!("The request failed: {e}")),
            ),
        }
    }
}

/// Queues `text` (with optional inline buttons: rows of `{"text",
/// "callback_data"}`) for every owner. The running bot sends it with the
/// same retries as replies; queued while the bot is down, it goes out when
/// `serve` runs again. For briefings, urgent mail and the like.
pub async fn notify(
    store: &dyn Store,
    owners: &[i64],
    text: &str,
    buttons: Option<serde_json::Value>,
) -> Result<(), openzero_store::StoreError> {
    let mut out = Vec::new();
    for &chat in owners {
        let mut parts = reply(chat, text);
        if let (Some(last), Some(b)) = (parts.last_mut(), &buttons) {
            last.buttons = Some(b.to_string());
        }
        out.extend(parts);
    }
    store.tg_queue(&out).await
}

/// Telegram as a notification channel: queues a message for every owner,
/// cut at paragraph boundaries into pieces Telegram accepts, in one
/// transaction (so the pieces go out in order, all or none queued).
#[derive(Debug)]
pub struct TelegramNotifier {
    store: Arc<dyn Store>,
    owners: Vec<i64>,
}

impl TelegramNotifier {
    /// The notifier when the settings configure a bot with an owner.
    pub fn from_settings(loaded: &Loaded, store: Arc<dyn Store>) -> Option<Self> {
        let t = &loaded.settings.telegram;
        (t.bot_token.is_some() && !t.allowed_user_ids.is_empty()).then(|| Self {
            store,
            owners: t.allowed_user_ids.clone(),
        })
    }
}

#[async_trait::async_trait]
impl openzero_core::notify::Notifier for TelegramNotifier {
    fn channel(&self) -> &str {
        CHANNEL
    }

    async fn notify(&self, text: &str) -> Result<(), openzero_core::notify::NotifyError> {
        notify(&*self.store, &self.owners, text, None)
            .await
            .map_err(|e| openzero_core::notify::NotifyError {
                channel: CHANNEL.to_owned(),
                detail: e.to_string(),
            })
    }
}

/// After this long without a finished answer, show it as it grows.
const STREAM_AFTER: Duration = Duration::from_secs(2);
/// Telegram allows about one edit a second per chat.
const EDIT_EVERY: Duration = Duration::from_millis(1500);

/// Shows an answer growing: once it takes longer than [`STREAM_AFTER`], a
/// message with the text so far, edited as more arrives. Returns that
/// message's id, if one was sent. Best effort: the final answer goes
/// through the outbox when this fails.
async fn stream_preview(
    bot: Bot,
    chat: i64,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<String>,
) -> Option<teloxide_core::types::MessageId> {
    let started = Instant::now();
    let mut text = String::new();
    let mut shown: Option<(teloxide_core::types::MessageId, String)> = None;
    let mut last = Instant::now();
    loop {
        match tokio::time::timeout(Duration::from_millis(250), rx.recv()).await {
            Ok(Some(piece)) => text.push_str(&piece),
            Ok(None) => break,
            Err(_) => {}
        }
        if started.elapsed() < STREAM_AFTER || last.elapsed() < EDIT_EVERY || text.trim().is_empty()
        {
            continue;
        }
        let preview = format!("{} …", text::truncate(&text, text::LIMIT - 2));
        match &shown {
            None => {
                if let Ok(m) = bot.send_message(ChatId(chat), preview.clone()).await {
                    shown = Some((m.id, preview));
                }
            }
            Some((id, before)) if *before != preview => {
                if bot
                    .edit_message_text(ChatId(chat), *id, preview.clone())
                    .await
                    .is_ok()
                {
                    shown = Some((*id, preview));
                }
            }
            Some(_) => {}
        }
        last = Instant::now();
    }
    shown.map(|(id, _)| id)
}

/// A Telegram update as an inbox event: its update_id orders it.
fn update(id: i64, payload: String) -> Incoming {
    Incoming {
        external_id: id.to_string(),
        position: Some(id),
        payload,
    }
}

/// True for a message (or an edit) of plain text, which goes to the agent
/// and may take long; commands, buttons and the rest are quick.
fn is_agent_turn(raw: &str) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(raw) else {
        return false;
    };
    let text = v["message"]["text"]
        .as_str()
        .or_else(|| v["edited_message"]["text"].as_str());
    text.is_some_and(|t| matches!(commands::parse(t), commands::Parsed::Text(_)))
}

/// Why a `getUpdates` round failed.
enum PollError {
    /// Telegram asked us to wait this long (429).
    RetryAfter(Duration),
    Failed(String),
}

enum SendError {
    RetryAfter(Duration),
    Other(String),
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// A reply split into Telegram-sized messages.
fn reply(chat: i64, text: &str) -> Vec<OutMessage> {
    let text = if text.trim().is_empty() {
        "(nothing to say)"
    } else {
        text
    };
    text::split(text, text::LIMIT)
        .into_iter()
        .map(|t| OutMessage {
            chat_id: chat,
            text: t,
            buttons: None,
        })
        .collect()
}

/// The inline keyboard stored with a queued message.
fn keyboard(json: &str) -> Option<InlineKeyboardMarkup> {
    let rows: Vec<Vec<serde_json::Value>> = serde_json::from_str(json).ok()?;
    Some(InlineKeyboardMarkup::new(rows.into_iter().map(|row| {
        row.into_iter()
            .filter_map(|b| {
                Some(InlineKeyboardButton::callback(
                    b["text"].as_str()?.to_owned(),
                    b["callback_data"].as_str()?.to_owned(),
                ))
            })
            .collect::<Vec<_>>()
    })))
}
