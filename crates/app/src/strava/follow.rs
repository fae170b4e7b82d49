//! Handles Strava's webhook events from the inbox, each once: a new
//! activity is fetched with its streams and kept, then the owner gets
//! feedback on a new run; a rename or a change of sport is applied; a
//! deletion forgets the activity; a revoked grant forgets the tokens.
//!
//! **Invariants:** nothing an event says is believed without asking
//! Strava (events are unsigned); an event is marked handled only after
//! what it asked for is done, so a crash, a rate limit or a dead network
//! leaves it to the next pass; feedback is queued once per activity (by
//! key), so a pass repeated after a crash does not send it twice.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use openzero_core::health::{Component, ComponentStatus, HealthCheck};
use openzero_strava::{Client, Event, RateLimits, StravaError};

use super::{INBOX, SOURCE, StravaFetchError, access, configured_client, fetch_and_keep};
use crate::{AppError, Services, clock};

/// The `strava` health component, as the follower last saw it (and
/// "not connected" while there is no grant, which `strava connect` may
/// make while `serve` runs).
#[derive(Debug)]
pub struct StravaHealth {
    tokens: std::path::PathBuf,
    last: Mutex<Option<(ComponentStatus, String)>>,
}

impl StravaHealth {
    pub fn new(loaded: &openzero_config::Loaded) -> Self {
        Self {
            tokens: loaded.data_dir.join(super::TOKEN_FILE),
            last: Mutex::new(None),
        }
    }
}

impl StravaHealth {
    fn set(&self, status: ComponentStatus, detail: String) {
        if let Ok(mut l) = self.last.lock() {
            *l = Some((status, detail));
        }
    }
}

#[async_trait::async_trait]
impl HealthCheck for StravaHealth {
    fn name(&self) -> &str {
        "strava"
    }

    async fn check(&self) -> Component {
        if !self.tokens.exists() {
            return Component::new(
                ComponentStatus::Disabled,
                "not connected (run `openzero strava connect`)".to_owned(),
                false,
            );
        }
        let last = self.last.lock().ok().and_then(|l| l.clone());
        let (status, detail) = last.unwrap_or((
            ComponentStatus::Ok,
            "connected; waiting for events".to_owned(),
        ));
        Component::new(status, detail, false)
    }
}

/// Rate-limit pause shared by the follower and the harvest: neither calls
/// Strava before this.
static PAUSED_UNTIL: Mutex<Option<DateTime<Utc>>> = Mutex::new(None);

/// Until when Strava must not be called (a spent rate limit), if at all.
pub fn paused_until(now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    PAUSED_UNTIL
        .lock()
        .ok()
        .and_then(|p| *p)
        .filter(|until| *until > now)
}

/// Records that Strava must not be called before `until`.
pub fn pause(until: DateTime<Utc>) {
    if let Ok(mut p) = PAUSED_UNTIL.lock() {
        *p = Some(p.map_or(until, |old| old.max(until)));
    }
}

/// After a 429: the window the headers say is spent, else the next
/// quarter hour.
pub fn resume_after_429(limits: Option<RateLimits>, now: DateTime<Utc>) -> DateTime<Utc> {
    limits
        .and_then(|l| l.wait_until(now, 0))
        .unwrap_or_else(|| openzero_strava::rate::next_quarter(now))
}

/// What one pass over the waiting events did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    pub handled: usize,
    /// Events left for later (rate limit, network).
    pub left: usize,
    /// When to look again, if sooner than the regular minute.
    pub retry_at: Option<DateTime<Utc>>,
}

impl Pass {
    /// Leaves `left` events for when the rate-limit window ends, and says so.
    fn waiting(mut self, health: &StravaHealth, left: usize, until: DateTime<Utc>) -> Self {
        self.left = left;
        self.retry_at = Some(until);
        health.set(
            ComponentStatus::Degraded,
            format!(
                "Strava's rate limit is spent; {left} events wait until {}",
                until.format("%H:%M UTC")
            ),
        );
        self
    }
}

/// Follows the inbox until `stop`: a pass when an event arrives, else
/// every minute (or when a rate-limit pause ends).
pub async fn watch(
    services: Arc<Services>,
    health: Arc<StravaHealth>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), String> {
    while !*stop.borrow() {
        let wait = match pass(&services, &health).await {
            Ok(p) => p
                .retry_at
                .and_then(|t| (t - clock::now()).to_std().ok())
                .unwrap_or(std::time::Duration::from_secs(60)),
            Err(e) => {
                tracing::warn!(error = %e, "strava: events left for the next pass");
                health.set(ComponentStatus::Degraded, e.to_string());
                std::time::Duration::from_secs(60)
            }
        };
        tokio::select! {
            _ = super::webhook::ARRIVED.notified() => {}
            _ = tokio::time::sleep(wait.min(std::time::Duration::from_secs(900))) => {}
            _ = stop.changed() => break,
        }
    }
    Ok(())
}

/// Handles the events waiting, oldest first, until one must wait.
pub async fn pass(services: &Arc<Services>, health: &StravaHealth) -> Result<Pass, AppError> {
    let events = services.store.inbox_unhandled(INBOX, 200).await?;
    let mut out = Pass::default();
    if events.is_empty() {
        return Ok(out);
    }
    let client = configured_client(&services.loaded)?;
    for (i, e) in events.iter().enumerate() {
        let now = clock::now();
        if let Some(until) = paused_until(now) {
            return Ok(out.waiting(health, events.len() - i, until));
        }
        let event: Event = match serde_json::from_str(&e.payload) {
            Ok(ev) => ev,
            Err(err) => {
                tracing::warn!(error = %err, "strava: an unreadable event was dropped");
                services.store.inbox_finish(e.id, &[]).await?;
                continue;
            }
        };
        match handle(services, &client, &event).await {
            Ok(()) => {
                services.store.inbox_finish(e.id, &[]).await?;
                out.handled += 1;
            }
            Err(StravaFetchError::Strava(StravaError::RateLimited(limits))) => {
                let until = resume_after_429(limits, clock::now());
                pause(until);
                tracing::warn!(%until, "strava: rate limit spent; events wait");
                return Ok(out.waiting(health, events.len() - i, until));
            }
            Err(StravaFetchError::Strava(StravaError::Unauthorized(why))) => {
                health.set(
                    ComponentStatus::Down,
                    format!(
                        "Strava refused the access token ({why}); run `openzero strava connect`"
                    ),
                );
                out.left = events.len() - i;
                return Ok(out);
            }
            Err(err) => {
                out.left = events.len() - i;
                out.retry_at = Some(clock::now() + Duration::seconds(60));
                health.set(
                    ComponentStatus::Degraded,
                    format!("{} events wait: {err}", out.left),
                );
                return Ok(out);
            }
        }
    }
    // No count of what is kept here: this runs after every event, and
    // `strava status` counts on demand.
    health.set(
        ComponentStatus::Ok,
        format!("connected; {} events handled in the last pass", out.handled),
    );
    Ok(out)
}

/// Does what one event asks, after asking Strava.
async fn handle(
    services: &Arc<Services>,
    client: &Client,
    event: &Event,
) -> Result<(), StravaFetchError> {
    let other = |e: AppError| StravaFetchError::Other(e.to_string());
    let owner = super::tokens(&services.loaded).map_err(other)?;
    let Some(owner) = owner else {
        // Not connected (any more): nothing can be fetched; drop it.
        tracing::info!("strava: an event arrived while not connected; ignored");
        return Ok(());
    };
    if owner.athlete_id != 0 && event.owner_id != owner.athlete_id {
        tracing::warn!(
            owner = event.owner_id,
            "strava: an event for another athlete was ignored"
        );
        return Ok(());
    }
    if event.is_deauthorization() {
        // Make sure: a forged event must not cut the owner off.
        if let Ok(token) = access(&services.loaded, client).await {
            match client.athlete(&token).await {
                Ok(_) => {
                    tracing::warn!(
                        "strava: a deauthorization event Strava does not confirm was ignored"
                    );
                    return Ok(());
                }
                Err(StravaError::Unauthorized(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        super::disconnect(&services.loaded).map_err(other)?;
        let _ = services
            .notify_once(
                &format!("strava-revoked:{}", event.event_time),
                "Strava access was revoked on Strava's side: new runs no longer arrive. Activities already here stay. Run `openzero strava connect` to link it again.",
            )
            .await;
        return Ok(());
    }
    if event.object_type != "activity" {
        return Ok(());
    }
    let ext = event.object_id.to_string();
    let kept = services
        .store
        .activity_find(SOURCE, &ext)
        .await
        .map_err(|e| other(e.into()))?;
    let mut limits = None;
    match (event.aspect_type.as_str(), kept) {
        ("create", _) | ("update", None) => {
            let row = fetch_and_keep(services, client, event.object_id, &mut limits).await?;
            note_limits(limits);
            if let Some(row) = row
                && event.aspect_type == "create"
            {
                crate::training_feedback::after_new(services, &row).await;
            }
        }
        ("update", Some(_)) => {
            let token = access(&services.loaded, client).await.map_err(other)?;
            match client.activity(&token, event.object_id).await {
                Ok(a) => {
                    note_limits(a.limits);
                    let s = a.value.summary;
                    services
                        .store
                        .activity_rename(SOURCE, &ext, Some(&s.name), Some(&s.sport()))
                        .await
                        .map_err(|e| other(e.into()))?;
                }
                Err(StravaError::NotFound(_)) => {
                    services
                        .store
                        .activity_remove(SOURCE, &ext)
                        .await
                        .map_err(|e| other(e.into()))?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        ("delete", Some(_)) => {
            let token = access(&services.loaded, client).await.map_err(other)?;
            match client.activity(&token, event.object_id).await {
                Ok(a) => {
                    note_limits(a.limits);
                    tracing::warn!(
                        id = event.object_id,
                        "strava: a deletion Strava does not confirm was ignored"
                    );
                }
                Err(StravaError::NotFound(_)) => {
                    services
                        .store
                        .activity_remove(SOURCE, &ext)
                        .await
                        .map_err(|e| other(e.into()))?;
                    tracing::info!(
                        id = event.object_id,
                        "strava: activity deleted there, forgotten here"
                    );
                }
                Err(e) => return Err(e.into()),
            }
        }
        _ => {}
    }
    Ok(())
}

/// Keeps a margin for the owner's next runs: when a window is nearly
/// spent, nobody calls Strava until it ends.
fn note_limits(limits: Option<RateLimits>) {
    if let Some(until) = limits.and_then(|l| l.wait_until(clock::now(), 1)) {
        pause(until);
    }
}
