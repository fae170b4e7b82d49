//! Handling one update: the owner check, commands from the table, free
//! text to the agent, /think and its buttons.

use super::*;

impl Telegram {
    /// Handles one stored update; returns the replies to queue.
    pub(crate) async fn handle(&self, id: i64, raw: &str) -> Vec<OutMessage> {
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

    pub(crate) async fn memory(&self) -> MemoryService<'_> {
        self.services.memory().await
    }

    pub(crate) async fn chat_model(&self) -> Result<Arc<dyn ChatModel>, String> {
        self.services.chat_model().await
    }

    pub(crate) async fn on_text(&self, chat: i64, text: &str) -> Vec<OutMessage> {
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
        let by = format!("owner (telegram {chat})");
        if name == "think" {
            // Held for consent: shown with this channel's own buttons.
            return match arg {
                "" => reply(chat, commands::find(name).map_or("", |c| c.asks)),
                q => self.think(chat, q).await,
            };
        }
        // "typing…" only for what takes a moment.
        let typing = self.typing_after(chat, Duration::from_secs(1));
        let answered = chat_commands::answer(&self.services, name, arg, CHANNEL, &by).await;
        typing.abort();
        match answered {
            Some(r) => self.render(chat, r),
            None => {
                tracing::warn!(
                    command = name,
                    typed,
                    "telegram: a command in the table has no handler"
                );
                reply(chat, &format!("/{typed} is not available here yet."))
            }
        }
    }

    /// A channel-neutral reply as messages: split to fit, the buttons
    /// under the last part; nothing when there is nothing to say.
    pub(crate) fn render(&self, chat: i64, r: chat_commands::Reply) -> Vec<OutMessage> {
        if r.text.trim().is_empty() && r.buttons.is_empty() {
            return Vec::new();
        }
        let mut out = reply(chat, &r.text);
        if let Some(last) = out.last_mut()
            && !r.buttons.is_empty()
        {
            let rows: Vec<serde_json::Value> = r
                .buttons
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|b| serde_json::json!({"text": b.label, "callback_data": b.data}))
                        .collect()
                })
                .collect();
            last.buttons = Some(serde_json::Value::Array(rows).to_string());
        }
        out
    }

    /// Free text: the agent answers, with a typing indicator meanwhile.
    pub(crate) async fn converse(&self, chat: i64, text: &str) -> Vec<OutMessage> {
        let model = match self.chat_model().await {
            Ok(m) => m,
            Err(e) => return reply(chat, &format!("I cannot think right now: {e}")),
        };
        let typing = self.typing(chat);
        let out = if needs_consent(&model.info()) {
            let c = Chat::new(
                &self.services.loaded,
                &*self.services.store,
                self.memory().await,
                model.clone(),
                CHANNEL,
            );
            match c.context(text).await {
                Ok(ctx) => match consent::hold(
                    &self.services.loaded,
                    &*self.services.store,
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
                &self.services.loaded,
                &*self.services.store,
                self.memory().await,
                model,
                CHANNEL,
            );
            let started = openzero_store::now();
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
            let streamer = tokio::spawn(stream_preview(self.bot.clone(), chat, rx));
            let answer = c.send(text, Some(tx)).await;
            let shown = streamer.await.ok().flatten();
            let mut out = match answer {
                Ok(a) => self.finish_streamed(chat, shown, &a.text).await,
                Err(e) => reply(chat, &format!("I could not answer: {e}")),
            };
            out.extend(self.rule_proposals(chat, started).await);
            out
        };
        typing.abort();
        out
    }

    /// The final answer: written into the message that showed it growing
    /// when there is one (the rest, if longer, queued), else queued whole.
    /// If the final edit fails the whole answer is queued: never lost.
    pub(crate) async fn finish_streamed(
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
    pub(crate) fn typing(&self, chat: i64) -> tokio::task::JoinHandle<()> {
        self.typing_after(chat, Duration::ZERO)
    }

    /// [`Self::typing`], starting only after `delay` (nothing shown for
    /// what answers at once).
    pub(crate) fn typing_after(&self, chat: i64, delay: Duration) -> tokio::task::JoinHandle<()> {
        let bot = self.bot.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            loop {
                let _ = bot.send_chat_action(ChatId(chat), ChatAction::Typing).await;
                tokio::time::sleep(Duration::from_secs(4)).await;
            }
        })
    }

    pub(crate) async fn think(&self, chat: i64, question: &str) -> Vec<OutMessage> {
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
    pub(crate) fn disclosure(&self, chat: i64, t: &Thought) -> Vec<OutMessage> {
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
        let tz = self.services.loaded.settings.general.timezone.0;
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

    /// Mail rules Z proposed in this turn, each with Add / Drop buttons.
    async fn rule_proposals(
        &self,
        chat: i64,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Vec<OutMessage> {
        let mail = openzero_app::mail::MailService::new(self.services.clone());
        let proposals = match mail.proposals_since(since).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "mail rule proposals not shown");
                return Vec::new();
            }
        };
        proposals
            .into_iter()
            .map(|r| OutMessage {
                chat_id: chat,
                text: format!("Add this mail rule?\n{}", r.label()),
                buttons: Some(
                    serde_json::json!([[
                        {"text": "Add rule", "callback_data": format!("ruleadd:{}", r.id)},
                        {"text": "Drop", "callback_data": format!("ruledrop:{}", r.id)}
                    ]])
                    .to_string(),
                ),
            })
            .collect()
    }

    /// A tap on Send or Cancel: (the short answer shown, replies).
    pub(crate) async fn on_button(&self, chat: i64, data: &str) -> (String, Vec<OutMessage>) {
        let by = format!("owner (telegram {chat})");
        if let Some((short, r)) = chat_commands::press(&self.services, data, &by).await {
            return (short, self.render(chat, r));
        }
        let (verb, id) = data.split_once(':').unwrap_or((data, ""));
        let Ok(id) = id.parse::<i64>() else {
            return ("That button is not mine.".into(), Vec::new());
        };
        let decision = match verb {
            "grant" => Decision::Grant,
            "cancel" => Decision::Cancel,
            _ => return ("That button is not mine.".into(), Vec::new()),
        };
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

pub(crate) fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}
