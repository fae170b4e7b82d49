//! Keeping the boards in step with Planka while `serve` runs: local
//! changes (from any process: the CLI, Telegram, Z's tools) are seen by a
//! cheap look at the boards every two seconds and sent; Planka's webhooks
//! (`POST /webhooks/planka`, Bearer `planka.webhook_token`) are stored in
//! the durable inbox before they are answered, then each starts a sync —
//! except the echo of OpenZero's own changes (`user.id` is the id this
//! login has in Planka), which is dropped. The `planka-sync` job reconciles
//! everything on its schedule, catching what webhooks missed (Planka sends
//! them fire and forget). While Planka is down the attempts back off
//! (up to five minutes); what waits stays in the store and the inbox.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use openzero_config::Loaded;
use openzero_planka::Planka;
use openzero_store::Incoming;
use openzero_store::Store;
use openzero_store::board::CardQuery;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Base, Report, SERVICE, base_of, connect, local_fields, login_of, sync_over};
use crate::jobs::{Job, Task};
use crate::{AppError, Services};

/// The inbox source of Planka's webhook calls.
pub const INBOX: &str = "planka";
const LAST_KEY: &str = "planka.last_sync";

/// The last sync attempt, as recorded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LastSync {
    pub at: DateTime<Utc>,
    pub ok: bool,
    /// The report's line, or the error.
    pub message: String,
}

/// What `openzero planka status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub configured: bool,
    pub base_url: Option<String>,
    pub user: Option<String>,
    pub project: String,
    pub webhook: bool,
    pub last_sync: Option<LastSync>,
    /// Cards linked to a Planka card.
    pub linked_cards: usize,
    /// Local changes not yet in Planka (new, changed, moved or archived
    /// cards): what the next sync sends.
    pub waiting: usize,
    /// Webhook calls received and not handled yet.
    pub webhook_events_waiting: usize,
}

/// Records an attempt's outcome (for `planka status`, `doctor`, the logs).
async fn record(store: &dyn Store, result: &Result<Report, AppError>) {
    let last = LastSync {
        at: crate::clock::now(),
        ok: result.is_ok(),
        message: match result {
            Ok(r) => r.line(),
            Err(e) => e.to_string(),
        },
    };
    let text = serde_json::to_string(&last).unwrap_or_default();
    if let Err(e) = store.set_preference(LAST_KEY, &text).await {
        tracing::warn!(error = %e, "planka: the sync's outcome was not recorded");
    }
}

/// Holds the data directory's Planka lock until dropped: one sync at a
/// time across processes too (`serve` and a `planka sync` from the shell
/// would each create the same new card).
pub async fn machine_lock(loaded: &Loaded) -> Result<std::fs::File, AppError> {
    let path = loaded.data_dir.join("planka-sync.lock");
    let shown = path.display().to_string();
    tokio::task::spawn_blocking(move || {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        f.lock()?;
        Ok::<_, std::io::Error>(f)
    })
    .await
    .map_err(|e| AppError::Invalid(format!("planka lock: {e}")))?
    .map_err(|e| AppError::Invalid(format!("cannot lock {shown}: {e}")))
}

/// A sync with its outcome recorded.
pub async fn sync_recorded(store: &dyn Store, loaded: &Loaded) -> Result<Report, AppError> {
    let _machine = machine_lock(loaded).await?;
    let result = super::sync(store, loaded).await;
    record(store, &result).await;
    result
}

/// The sync state, read locally (no request to Planka).
pub async fn status(store: &dyn Store, loaded: &Loaded) -> Result<Status, AppError> {
    let login = login_of(loaded).ok().flatten();
    let last_sync = store
        .get_preference(LAST_KEY)
        .await?
        .and_then(|t| serde_json::from_str(&t).ok());
    let links = store.sync_links(SERVICE, "card").await?;
    let synced_boards: Vec<i64> = store
        .sync_links(SERVICE, "board")
        .await?
        .iter()
        .map(|l| l.local_id)
        .collect();
    let boards = store.boards().await?;
    let open_lists: Vec<i64> = boards
        .iter()
        .filter(|b| !b.archived)
        .flat_map(|b| b.lists.iter().filter(|l| !l.archived).map(|l| l.id))
        .collect();
    let cards = store
        .cards(&CardQuery {
            include_done: true,
            include_archived: true,
            ..CardQuery::default()
        })
        .await?;
    let mut waiting = 0;
    for c in &cards {
        let visible = !c.archived && open_lists.contains(&c.list_id);
        let link = links.iter().find(|l| l.local_id == c.id);
        waiting += match (visible, link) {
            (true, None) => 1,
            (true, Some(l)) => {
                let base: Base = base_of(l);
                usize::from(
                    base.fields != local_fields(c)
                        || (base.board != c.board_id && synced_boards.contains(&c.board_id)),
                )
            }
            (false, Some(_)) => usize::from(c.archived),
            (false, None) => 0,
        };
    }
    let events = store.inbox_unhandled(INBOX, 10_000).await?.len();
    Ok(Status {
        configured: login.is_some(),
        base_url: login.as_ref().map(|l| l.base_url.clone()),
        user: login.as_ref().map(|l| l.user.clone()),
        project: loaded.settings.planka.project.clone(),
        webhook: loaded.settings.planka.webhook_token.is_some(),
        last_sync,
        linked_cards: links.len(),
        waiting,
        webhook_events_waiting: events,
    })
}

/// Why a webhook call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No webhook token configured: there is no such route.
    NotConfigured,
    BadToken,
    Unreadable,
}

/// Stores one webhook call durably (before it is answered); the follow
/// loop acts on it.
pub async fn receive(
    store: &dyn Store,
    loaded: &Loaded,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<(), Refused> {
    let Some(token) = &loaded.settings.planka.webhook_token else {
        return Err(Refused::NotConfigured);
    };
    if !matches!(login_of(loaded), Ok(Some(_))) {
        return Err(Refused::NotConfigured);
    }
    let given = authorization
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !same(given.as_bytes(), token.expose().as_bytes()) {
        return Err(Refused::BadToken);
    }
    let v: Value = serde_json::from_slice(body).map_err(|_| Refused::Unreadable)?;
    let event = v
        .get("event")
        .and_then(Value::as_str)
        .ok_or(Refused::Unreadable)?;
    let item = v.pointer("/data/item");
    let field = |k: &str| {
        item.and_then(|i| i.get(k))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let stamp = match field("updatedAt") {
        s if s.is_empty() => field("createdAt"),
        s => s,
    };
    let external_id = format!("{event}:{}:{stamp}", field("id"));
    store
        .inbox_store(
            INBOX,
            &[Incoming {
                external_id,
                position: None,
                payload: String::from_utf8_lossy(body).into_owned(),
            }],
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "planka webhook not stored");
            Refused::Unreadable
        })?;
    Ok(())
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Who made a webhook's change.
fn user_of(payload: &str) -> Option<String> {
    let v: Value = serde_json::from_str(payload).ok()?;
    v.pointer("/user/id")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The `planka-sync` job (only when Planka is configured).
pub fn jobs(loaded: &Loaded) -> Result<Vec<Job>, AppError> {
    if login_of(loaded).ok().flatten().is_none() {
        return Ok(Vec::new());
    }
    Ok(vec![Job::new(
        loaded,
        "planka-sync",
        &loaded.settings.schedule.planka_sync,
        Duration::from_secs(600),
        Arc::new(SyncTask),
    )?])
}

#[derive(Debug)]
struct SyncTask;

#[async_trait::async_trait]
impl Task for SyncTask {
    async fn run(&self, services: &Arc<Services>) -> Result<String, AppError> {
        sync_recorded(services.store.as_ref(), &services.loaded)
            .await
            .map(|r| r.line())
    }
}

/// Follows local changes and Planka's webhooks until `stop` (see the
/// module's documentation). Returns at once when Planka is not configured.
pub async fn follow(services: Arc<Services>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let Ok(Some(login)) = login_of(&services.loaded) else {
        return;
    };
    let store = services.store.as_ref();
    let tz = services.tz();
    let project = services.loaded.settings.planka.project.clone();
    let mut client: Option<(Planka, String)> = None;
    let mut synced_stamp: Option<String> = None;
    let mut backoff = Duration::from_secs(2);
    let mut wait = Duration::ZERO;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        wait = Duration::from_secs(2);
        let stamp = match store.boards_stamp().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "planka: cannot look at the boards");
                continue;
            }
        };
        let events = store.inbox_unhandled(INBOX, 500).await.unwrap_or_default();
        if synced_stamp.as_deref() == Some(stamp.as_str()) && events.is_empty() {
            continue;
        }
        if client.is_none() {
            let made = async {
                let planka = connect(&login).await?;
                let me = planka.my_id().await.map_err(|e| super::planka_error(&e))?;
                Ok::<_, AppError>((planka, me))
            }
            .await;
            match made {
                Ok(c) => client = Some(c),
                Err(e) => {
                    tracing::warn!(error = %e, "planka: not reachable; will retry");
                    record(store, &Err(e)).await;
                    wait = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(300));
                    continue;
                }
            }
        }
        let Some((planka, me)) = &client else {
            continue;
        };
        // The echo of our own changes starts nothing.
        let (echo, theirs): (Vec<_>, Vec<_>) = events
            .into_iter()
            .partition(|e| user_of(&e.payload).as_deref() == Some(me.as_str()));
        for e in &echo {
            if let Err(x) = store.inbox_finish(e.id, &[]).await {
                tracing::warn!(error = %x, "planka: an echo was not marked handled");
            }
        }
        if synced_stamp.as_deref() == Some(stamp.as_str()) && theirs.is_empty() {
            continue;
        }
        let result = match machine_lock(&services.loaded).await {
            Ok(_machine) => sync_over(store, planka, &project, tz).await,
            Err(e) => Err(e),
        };
        record(store, &result).await;
        match &result {
            Ok(r) => {
                if r.changed() {
                    tracing::info!(result = %r.line(), "planka: synced");
                }
                for e in &theirs {
                    if let Err(x) = store.inbox_finish(e.id, &[]).await {
                        tracing::warn!(error = %x, "planka: a webhook event was not marked handled");
                    }
                }
                // The look taken before this sync: a change made while it
                // ran is seen next time (a sync that changed cards here is
                // followed by one more that finds nothing to do).
                synced_stamp = Some(stamp.clone());
                backoff = Duration::from_secs(2);
            }
            Err(e) => {
                tracing::warn!(error = %e, "planka: sync failed; will retry");
                // Logged in again next time (a token may have expired).
                client = None;
                wait = backoff;
                backoff = (backoff * 2).min(Duration::from_secs(300));
            }
        }
    }
}
