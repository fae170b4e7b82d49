//! Sending: the outbox worker, notifications to the owners, an answer
//! shown growing, and replies cut to Telegram's size.

use super::*;

impl Telegram {
    /// Sends queued messages in order, retrying until Telegram takes them.
    pub(crate) async fn outbox_loop(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut next_try: HashMap<i64, Instant> = HashMap::new();
        while !*shutdown.borrow() {
            let rows = match self.services.store.tg_outbox(20).await {
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
                let mut message = row.message.clone();
                if row.in_doubt {
                    // The process died while Telegram had it: it may have
                    // arrived. Sent again (never lost), marked as such.
                    message.text =
                        format!("↻ (again, in case it did not arrive)\n{}", message.text);
                }
                if let Err(e) = self.services.store.tg_sending(row.id).await {
                    tracing::warn!(error = %e, "telegram: cannot mark a send as begun; retrying");
                    break;
                }
                match self.send(&message).await {
                    Ok(message_id) => {
                        if let Err(e) = self.services.store.tg_sent(row.id, message_id).await {
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
                        if let Err(db) = self.services.store.tg_send_failed(row.id, &e).await {
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
    pub(crate) async fn send(&self, m: &OutMessage) -> Result<i64, SendError> {
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

    async fn notify_once(
        &self,
        key: &str,
        text: &str,
    ) -> Result<bool, openzero_core::notify::NotifyError> {
        let out: Vec<_> = self.owners.iter().flat_map(|&c| reply(c, text)).collect();
        self.store
            .tg_queue_once(&format!("{CHANNEL}:{key}"), &out)
            .await
            .map_err(|e| openzero_core::notify::NotifyError {
                channel: CHANNEL.to_owned(),
                detail: e.to_string(),
            })
    }
}

/// After this long without a finished answer, show it as it grows.
pub(crate) const STREAM_AFTER: Duration = Duration::from_secs(2);

/// Telegram allows about one edit a second per chat.
pub(crate) const EDIT_EVERY: Duration = Duration::from_millis(1500);

/// Shows an answer growing: once it takes longer than [`STREAM_AFTER`], a
/// message with the text so far, edited as more arrives. Returns that
/// message's id, if one was sent. Best effort: the final answer goes
/// through the outbox when this fails.
pub(crate) async fn stream_preview(
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

pub(crate) enum SendError {
    RetryAfter(Duration),
    Other(String),
}

/// A reply split into Telegram-sized messages.
pub(crate) fn reply(chat: i64, text: &str) -> Vec<OutMessage> {
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
pub(crate) fn keyboard(json: &str) -> Option<InlineKeyboardMarkup> {
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
