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
        match name {
            "help" => reply(chat, &commands::help()),
            "tree" => match openzero_app::projects::tree(&*self.services.store).await {
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
            "mail" | "rules" => {
                let mail = openzero_app::mail::MailService::new(self.services.clone());
                let out = if name == "mail" {
                    mail.chat_list(arg).await
                } else {
                    mail.chat_rules().await
                };
                match out {
                    Ok(text) => reply(chat, &text),
                    Err(e) => reply(chat, &format!("I could not read your mail: {e}")),
                }
            }
            "task" if arg.is_empty() => reply(
                chat,
                "What should I add? /task renew my passport next month",
            ),
            "task" => {
                match openzero_app::boards::chat_add_with_buttons(&self.services, arg).await {
                    Ok((text, buttons)) => {
                        let mut out = reply(chat, &text);
                        if let Some(last) = out.last_mut()
                            && !buttons.is_empty()
                        {
                            // Two buttons a row.
                            let rows: Vec<serde_json::Value> = buttons
                            .chunks(2)
                            .map(|row| {
                                serde_json::Value::Array(
                                    row.iter()
                                        .map(|(t, d)| serde_json::json!({"text": t, "callback_data": d}))
                                        .collect(),
                                )
                            })
                            .collect();
                            last.buttons = Some(serde_json::Value::Array(rows).to_string());
                        }
                        out
                    }
                    Err(e) => reply(chat, &format!("I could not add it: {e}")),
                }
            }
            "spent" => match openzero_app::finance::chat_spent(&self.services, arg).await {
                Ok(text) => reply(chat, &text),
                Err(e) => reply(chat, &format!("I could not add it up: {e}")),
            },
            "news" => match openzero_app::news::chat_news(&self.services).await {
                Ok(text) => reply(chat, &text),
                Err(e) => reply(chat, &format!("I could not read your feeds: {e}")),
            },
            "runs" | "form" | "race" => {
                use openzero_app::training_feedback as coach;
                let out = match name {
                    "runs" => coach::chat_runs(&self.services).await,
                    "form" => coach::chat_form(&self.services).await,
                    _ => coach::chat_race(&self.services).await,
                };
                match out {
                    Ok(text) => reply(chat, &text),
                    Err(e) => reply(chat, &format!("I could not read your training: {e}")),
                }
            }
            "tasks" => match openzero_app::boards::chat_list(&self.services).await {
                Ok(text) => reply(chat, &text),
                Err(e) => reply(chat, &format!("I could not reach your boards: {e}")),
            },
            "today" | "week" => {
                let days = if name == "today" { 1 } else { 7 };
                match openzero_app::calendar::chat_agenda(&self.services, days).await {
                    Ok(text) => reply(chat, &text),
                    Err(e) => reply(chat, &format!("I could not read your calendars: {e}")),
                }
            }
            "status" => self.health(chat).await,
            "login" => match openzero_app::dashboard::chat_login(&self.services).await {
                Ok(text) => reply(chat, &text),
                Err(e) => reply(chat, &format!("I could not make a login link: {e}")),
            },
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
                    &self.services.loaded,
                    &*self.services.store,
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
            "run" => match openzero_app::jobs::find(&self.services.loaded, arg) {
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

    pub(crate) async fn jobs(&self, chat: i64) -> Vec<OutMessage> {
        match openzero_app::jobs::list(&self.services.loaded, &*self.services.store).await {
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

    pub(crate) async fn search(&self, chat: i64, q: &str) -> Vec<OutMessage> {
        match self.memory().await.search(q, 5, &Filters::default()).await {
            Ok(found) if found.hits.is_empty() => reply(chat, "Nothing I remember matches."),
            Ok(found) => {
                let tz = self.services.loaded.settings.general.timezone.0;
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

    pub(crate) async fn remember(&self, chat: i64, text: &str) -> Vec<OutMessage> {
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

    pub(crate) async fn project(&self, chat: i64, arg: &str) -> Vec<OutMessage> {
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
                &*self.services.store,
                AddProject {
                    name: rest.to_owned(),
                    ..AddProject::default()
                },
            )
            .await
            .map(|p| format!("Added {}", done(p))),
            "done" if !rest.is_empty() => openzero_app::projects::update(
                &*self.services.store,
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
                        &*self.services.store,
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

    pub(crate) async fn health(&self, chat: i64) -> Vec<OutMessage> {
        let parts = self.services.health().await;
        let lines: Vec<String> = parts
            .iter()
            .map(|(name, c)| format!("{name}: {:?} – {}", c.status, c.detail).to_lowercase())
            .collect();
        reply(chat, &lines.join("\n"))
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
        let bot = self.bot.clone();
        tokio::spawn(async move {
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

    /// A tap on a mail rule proposal's button.
    async fn on_rule_button(&self, chat: i64, add: bool, id: i64) -> (String, Vec<OutMessage>) {
        let mail = openzero_app::mail::MailService::new(self.services.clone());
        if add {
            match mail
                .confirm_rule(id, &format!("owner (telegram {chat})"))
                .await
            {
                Ok(Some(r)) => {
                    let t = format!("Added rule {}", r.label());
                    ("Added.".into(), reply(chat, &t))
                }
                Ok(None) => ("That proposal is gone.".into(), Vec::new()),
                Err(e) => (
                    "It failed.".into(),
                    reply(chat, &format!("The rule was not added: {e}")),
                ),
            }
        } else {
            match self.services.store.mail_rules_proposed().await {
                Ok(p) if p.iter().any(|(r, _)| r.id == id) => {
                    match self.services.store.mail_rule_remove(id).await {
                        Ok(_) => (
                            "Dropped.".into(),
                            reply(chat, "Dropped: no rule was added."),
                        ),
                        Err(e) => ("It failed.".into(), reply(chat, &format!("{e}"))),
                    }
                }
                Ok(_) => ("That proposal is gone.".into(), Vec::new()),
                Err(e) => ("It failed.".into(), reply(chat, &format!("{e}"))),
            }
        }
    }

    /// A tap on Send or Cancel: (the short answer shown, replies).
    pub(crate) async fn on_button(&self, chat: i64, data: &str) -> (String, Vec<OutMessage>) {
        if data.starts_with("taskmv:") {
            let tz = self.services.loaded.settings.general.timezone.0;
            return match openzero_app::boards::move_by_button(&*self.services.store, data, tz).await
            {
                Ok(text) => ("Moved.".into(), reply(chat, &text)),
                Err(e) => ("Not moved.".into(), reply(chat, &format!("Not moved: {e}"))),
            };
        }
        let (verb, id) = data.split_once(':').unwrap_or((data, ""));
        let Ok(id) = id.parse::<i64>() else {
            return ("That button is not mine.".into(), Vec::new());
        };
        if verb == "ruleadd" || verb == "ruledrop" {
            return self.on_rule_button(chat, verb == "ruleadd", id).await;
        }
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

pub(crate) fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}
