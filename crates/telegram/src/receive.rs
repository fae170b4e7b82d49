//! Receiving: long polling or the webhook into the durable inbox, and the
//! loop that handles stored updates (agent turns on their own worker).

use super::*;

impl Telegram {
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
            .services
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

    /// Long-polls `getUpdates` from the stored offset, storing every update
    /// before the next call acknowledges it.
    pub(crate) async fn poll(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let url = format!(
            "{}/bot{}/getUpdates",
            self.cfg.api_base_url.trim_end_matches('/'),
            self.cfg.token
        );
        let mut failures = 0u32;
        while !*shutdown.borrow() {
            let result = async {
                let offset = self
                    .services
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
                self.services
                    .store
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
    pub(crate) async fn handle_loop(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
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
            let pending = match self.services.store.inbox_unhandled(CHANNEL, 50).await {
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
    pub(crate) async fn handle_and_finish(&self, id: i64, raw: &str) -> bool {
        let replies = self.handle(id, raw).await;
        match self.services.store.inbox_finish(id, &replies).await {
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
}

/// A Telegram update as an inbox event: its update_id orders it.
pub(crate) fn update(id: i64, payload: String) -> Incoming {
    Incoming {
        external_id: id.to_string(),
        position: Some(id),
        payload,
    }
}

/// True for a message (or an edit) of plain text, which goes to the agent
/// and may take long; commands, buttons and the rest are quick.
pub(crate) fn is_agent_turn(raw: &str) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(raw) else {
        return false;
    };
    let text = v["message"]["text"]
        .as_str()
        .or_else(|| v["edited_message"]["text"].as_str());
    text.is_some_and(|t| matches!(commands::parse(t), commands::Parsed::Text(_)))
}

/// Why a `getUpdates` round failed.
pub(crate) enum PollError {
    /// Telegram asked us to wait this long (429).
    RetryAfter(Duration),
    Failed(String),
}
