//! Strava's webhook (`GET/POST /webhooks/strava`): the subscription check
//! and the events, each stored durably in the inbox before it is answered
//! (Strava wants 200 within two seconds and retries up to three times),
//! then handled by [`super::follow`].
//!
//! **Invariants:** the check echoes `hub.challenge` only when
//! `hub.verify_token` is the configured one (compared in constant time);
//! an event is answered 200 only once stored; events carry no signature,
//! so [`super::follow`] believes none of them — it asks Strava for the
//! activity itself before keeping, renaming or forgetting anything.

use openzero_config::Loaded;
use openzero_store::{Incoming, Store};
use openzero_strava::Event;

use super::INBOX;

/// Wakes the follower when an event was stored.
pub static ARRIVED: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Why a webhook call was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// No verify token configured: there is no such route.
    NotConfigured,
    /// The check's token is not ours, or it is not a subscription check.
    BadToken,
    /// Not a Strava event.
    Unreadable(String),
    /// The store failed: Strava should send it again.
    NotStored,
}

/// The subscription check: `hub.challenge` back when `hub.mode` is
/// `subscribe` and `hub.verify_token` matches.
pub fn verify(
    loaded: &Loaded,
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&str>,
) -> Result<String, Refused> {
    let Some(ours) = &loaded.settings.strava.webhook_verify_token else {
        return Err(Refused::NotConfigured);
    };
    let given = token.unwrap_or_default();
    if mode != Some("subscribe") || !same(given.as_bytes(), ours.expose().as_bytes()) {
        tracing::warn!("strava: a subscription check with a wrong token was refused");
        return Err(Refused::BadToken);
    }
    challenge
        .map(str::to_owned)
        .ok_or_else(|| Refused::Unreadable("no hub.challenge".into()))
}

/// Stores one event durably (same event twice: once).
pub async fn receive(store: &dyn Store, loaded: &Loaded, body: &[u8]) -> Result<(), Refused> {
    if loaded.settings.strava.webhook_verify_token.is_none() {
        return Err(Refused::NotConfigured);
    }
    let event: Event = serde_json::from_slice(body).map_err(|e| {
        tracing::warn!(error = %e, "strava: an unreadable webhook call was refused");
        Refused::Unreadable(e.to_string())
    })?;
    store
        .inbox_store(
            INBOX,
            &[Incoming {
                external_id: event.external_id(),
                position: None,
                payload: String::from_utf8_lossy(body).into_owned(),
            }],
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "strava: a webhook event was not stored");
            Refused::NotStored
        })?;
    tracing::info!(
        aspect = %event.aspect_type,
        object = %event.object_type,
        id = event.object_id,
        "strava: event stored"
    );
    ARRIVED.notify_one();
    Ok(())
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
