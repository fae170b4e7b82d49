//! Strava, read-only: the owner's grant (`openzero strava connect`), the
//! tokens kept owner-only and refreshed before they expire, the webhook
//! subscription, and what arrives — pushed events ([`webhook`], handled by
//! [`follow`]) and the back-filled history ([`harvest`]).
//!
//! **Invariants:** tokens live only in `DATA_DIR/strava-token.json` (0600,
//! replaced atomically; Strava's rotated refresh token is saved before the
//! new access token is used); one refresh at a time per process; an
//! activity is fetched at most once (the store is asked first); Strava's
//! data is shown to the owner only and never sent to a cloud model (no
//! Strava text reaches memory, and only a local model phrases feedback).

pub mod follow;
pub mod harvest;
pub mod webhook;

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use openzero_config::Loaded;
use openzero_strava::{Client, StravaError, Token};
use serde::{Deserialize, Serialize};

use crate::{AppError, Services, clock};

/// The tokens' file in the data directory (carried by backups).
pub const TOKEN_FILE: &str = "strava-token.json";
/// The inbox source of Strava's webhook events.
pub const INBOX: &str = "strava";
/// The source activities from Strava are kept under.
pub const SOURCE: &str = "strava";

/// What is kept of the grant.
#[derive(Clone, Serialize, Deserialize)]
pub struct Tokens {
    pub token: Token,
    pub athlete_id: i64,
    pub athlete_name: String,
    pub connected_at: DateTime<Utc>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("athlete_id", &self.athlete_id)
            .field("connected_at", &self.connected_at)
            .finish_non_exhaustive()
    }
}

fn token_path(loaded: &Loaded) -> PathBuf {
    loaded.data_dir.join(TOKEN_FILE)
}

/// The client of the configured Strava application; `None` when
/// `STRAVA_CLIENT_ID` / `STRAVA_CLIENT_SECRET` are not set.
pub fn client(loaded: &Loaded) -> Option<Result<Client, AppError>> {
    let s = &loaded.settings.strava;
    let (id, secret) = (s.client_id.as_ref()?, s.client_secret.as_ref()?);
    Some(
        Client::new(&s.api_base, &s.token_url, id, secret.expose())
            .map_err(|e| AppError::Invalid(e.to_string())),
    )
}

fn not_configured() -> AppError {
    AppError::Invalid(
        "Strava is not configured: create an API application at https://www.strava.com/settings/api (callback domain 127.0.0.1), then set STRAVA_CLIENT_ID and STRAVA_CLIENT_SECRET".into(),
    )
}

/// The configured client, or why there is none.
pub fn configured_client(loaded: &Loaded) -> Result<Client, AppError> {
    client(loaded).unwrap_or_else(|| Err(not_configured()))
}

/// The kept grant, if the owner connected Strava.
pub fn tokens(loaded: &Loaded) -> Result<Option<Tokens>, AppError> {
    let path = token_path(loaded);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            AppError::Invalid(format!(
                "{} cannot be read ({e}); run `openzero strava connect` again",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AppError::Invalid(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

fn save(loaded: &Loaded, t: &Tokens) -> Result<(), AppError> {
    let text = serde_json::to_string_pretty(t).map_err(|e| AppError::Invalid(e.to_string()))?;
    crate::oauth_flow::save_private(loaded, &token_path(loaded), &text)
}

/// One token refresh at a time in this process (a refresh rotates the
/// refresh token: two at once would lose one).
static REFRESH: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A live access token: the kept one, or a refreshed one when it expires
/// within five minutes (the new refresh token saved first).
pub async fn access(loaded: &Loaded, client: &Client) -> Result<String, AppError> {
    let _one = REFRESH.lock().await;
    let mut t = tokens(loaded)?.ok_or_else(|| {
        AppError::Invalid("Strava is not connected: run `openzero strava connect`".into())
    })?;
    if t.token.expires_at > clock::now().timestamp() + 300 {
        return Ok(t.token.access_token);
    }
    let fresh = client
        .refresh(&t.token.refresh_token)
        .await
        .map_err(|e| match e {
            StravaError::Grant(why) => AppError::Invalid(format!(
                "Strava refused to renew access ({why}); run `openzero strava connect` again"
            )),
            e => AppError::Invalid(e.to_string()),
        })?;
    t.token = Token {
        athlete: t.token.athlete.take(),
        ..fresh
    };
    save(loaded, &t)?;
    tracing::info!("strava: access token renewed");
    Ok(t.token.access_token)
}

/// Grants OpenZero read access to the owner's activities: the owner opens
/// Strava's page, allows it, and the code comes back to a loopback
/// listener (or is pasted). The harvest starts from `since` (default:
/// `strava.harvest_since`, else a year back).
pub async fn connect(
    services: &Services,
    say: &(dyn Fn(&str) + Sync),
    pasted: impl std::future::Future<Output = Option<String>>,
    since: Option<NaiveDate>,
) -> Result<Tokens, AppError> {
    let loaded = &services.loaded;
    let client = configured_client(loaded)?;
    let s = &loaded.settings.strava;
    let id = s.client_id.clone().unwrap_or_default();
    let state = crate::dashboard::new_token()?;
    let code = crate::oauth_flow::catch_code(
        |redirect| {
            let url = Client::authorize_url(&s.auth_url, &id, redirect, &state)
                .map_err(|e| AppError::Invalid(e.to_string()))?;
            Ok((url, state.clone()))
        },
        "OpenZero to read your Strava activities",
        say,
        pasted,
    )
    .await?;
    let token = client
        .exchange_code(&code)
        .await
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let athlete = token.athlete.clone();
    let t = Tokens {
        athlete_id: athlete.as_ref().map_or(0, |a| a.id),
        athlete_name: athlete
            .map(|a| {
                [a.firstname, a.lastname]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default(),
        connected_at: clock::now(),
        token,
    };
    save(loaded, &t)?;
    let since = match since {
        Some(d) => d,
        None => harvest::default_since(loaded),
    };
    harvest::start(services, since).await?;
    tracing::info!(athlete = t.athlete_id, "strava connected");
    Ok(t)
}

/// Forgets the grant (the token file); activities already kept stay.
pub fn disconnect(loaded: &Loaded) -> Result<bool, AppError> {
    match std::fs::remove_file(token_path(loaded)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(AppError::Invalid(format!(
            "cannot remove {}: {e}",
            token_path(loaded).display()
        ))),
    }
}

/// What `strava status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub configured: bool,
    pub connected: bool,
    pub athlete_id: Option<i64>,
    pub athlete: Option<String>,
    pub connected_at: Option<DateTime<Utc>>,
    /// The webhook route is open (a verify token is set).
    pub webhook: bool,
    pub events_waiting: usize,
    pub activities: usize,
    pub harvest: harvest::State,
}

/// Strava's state: configured, connected, webhook, harvest.
pub async fn status(services: &Services) -> Result<Status, AppError> {
    let loaded = &services.loaded;
    let t = tokens(loaded)?;
    let activities = services
        .store
        .activities(1_000_000)
        .await?
        .iter()
        .filter(|a| a.source == SOURCE)
        .count();
    Ok(Status {
        configured: client(loaded).is_some(),
        connected: t.is_some(),
        athlete_id: t.as_ref().map(|t| t.athlete_id),
        athlete: t.as_ref().map(|t| t.athlete_name.clone()),
        connected_at: t.as_ref().map(|t| t.connected_at),
        webhook: loaded.settings.strava.webhook_verify_token.is_some(),
        events_waiting: services.store.inbox_unhandled(INBOX, 10_000).await?.len(),
        activities,
        harvest: harvest::state(services).await?,
    })
}

/// Subscribes to Strava's webhook events at `callback_url` (this server's
/// public address + `/webhooks/strava`; `serve` must be running and
/// reachable there, since Strava checks it before answering).
pub async fn subscribe(loaded: &Loaded, callback_url: &str) -> Result<i64, AppError> {
    let client = configured_client(loaded)?;
    let token = loaded
        .settings
        .strava
        .webhook_verify_token
        .as_ref()
        .ok_or_else(|| {
            AppError::Invalid(
                "set STRAVA_WEBHOOK_VERIFY_TOKEN (any long random string) and restart serve first: Strava echoes it to check the callback".into(),
            )
        })?;
    let url = url::Url::parse(callback_url)
        .map_err(|e| AppError::Invalid(format!("\"{callback_url}\" is not an address: {e}")))?;
    if !url.path().ends_with("/webhooks/strava") {
        return Err(AppError::Invalid(format!(
            "the callback should end in /webhooks/strava (got {callback_url})"
        )));
    }
    client
        .subscribe(callback_url, token.expose())
        .await
        .map_err(|e| AppError::Invalid(e.to_string()))
}

/// Ends the application's subscription; returns its id, if there was one.
pub async fn unsubscribe(loaded: &Loaded) -> Result<Option<i64>, AppError> {
    let client = configured_client(loaded)?;
    let subs = client
        .subscriptions()
        .await
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let Some(s) = subs.first() else {
        return Ok(None);
    };
    client
        .unsubscribe(s.id)
        .await
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    Ok(Some(s.id))
}

/// Fetches Strava activity `id` with its streams and keeps it, unless it
/// is kept already (never fetched twice). `Ok(None)` when it was kept
/// before or is gone at Strava.
pub async fn fetch_and_keep(
    services: &Services,
    client: &Client,
    id: i64,
    limits: &mut Option<openzero_strava::RateLimits>,
) -> Result<Option<openzero_store::training::ActivityRow>, StravaFetchError> {
    let ext = id.to_string();
    if services
        .store
        .activity_find(SOURCE, &ext)
        .await
        .map_err(|e| StravaFetchError::Other(e.to_string()))?
        .is_some()
    {
        return Ok(None);
    }
    let access = access(&services.loaded, client)
        .await
        .map_err(|e| StravaFetchError::Other(e.to_string()))?;
    let detail = match client.activity(&access, id).await {
        Ok(a) => {
            *limits = a.limits.or(*limits);
            a.value
        }
        Err(StravaError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let streams = if detail.summary.manual {
        openzero_strava::Streams::new()
    } else {
        match client.streams(&access, id).await {
            Ok(s) => {
                *limits = s.limits.or(*limits);
                s.value
            }
            // A manual entry or an upload still processing has none.
            Err(StravaError::NotFound(_)) => openzero_strava::Streams::new(),
            Err(e) => return Err(e.into()),
        }
    };
    let activity = match openzero_strava::convert::activity(&detail, &streams) {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(id, error = %e, "strava: activity not kept");
            return Ok(None);
        }
    };
    let s = &detail.summary;
    // Events carry no signature: a forged one could name a stranger's
    // public activity. Only the owner's own are kept.
    let owner = tokens(&services.loaded)
        .map_err(|e| StravaFetchError::Other(e.to_string()))?
        .map_or(0, |t| t.athlete_id);
    if let Some(a) = s.athlete
        && owner != 0
        && a.id != owner
    {
        tracing::warn!(id, "strava: an activity of another athlete was not kept");
        return Ok(None);
    }
    let figures = crate::training::SourceFigures {
        distance_m: s.distance,
        moving_s: s.moving_time,
        elapsed_s: s.elapsed_time,
        avg_hr: s.average_heartrate,
    };
    crate::training::keep(services, SOURCE, &ext, &activity, Some(figures))
        .await
        .map_err(|e| StravaFetchError::Other(e.to_string()))
}

/// Why fetching an activity stopped.
#[derive(Debug, thiserror::Error)]
pub enum StravaFetchError {
    #[error(transparent)]
    Strava(#[from] StravaError),
    #[error("{0}")]
    Other(String),
}

/// `serve`'s part: Strava's webhook at `/webhooks/strava` (the
/// subscription check and the events, stored before they are answered),
/// and when Strava is configured the follower (events → activities,
/// feedback) with the `strava` health check.
pub fn serve_parts(services: &std::sync::Arc<Services>, parts: &mut crate::serve_parts::Parts) {
    use crate::serve_parts::{HookReply, Method, fixed};
    use openzero_core::health::ComponentStatus;
    let hook = services.clone();
    parts.endpoint(
        "/webhooks/strava",
        &[Method::Get, Method::Post],
        move |req| {
            let services = hook.clone();
            async move {
                use webhook::Refused;
                if req.method == Method::Get {
                    let checked = webhook::verify(
                        &services.loaded,
                        req.query("hub.mode"),
                        req.query("hub.verify_token"),
                        req.query("hub.challenge"),
                    );
                    return match checked {
                        Ok(challenge) => HookReply {
                            status: 200,
                            json: Some(serde_json::json!({ "hub.challenge": challenge })),
                        },
                        Err(Refused::NotConfigured) => HookReply::status(404),
                        Err(Refused::BadToken) => HookReply::status(403),
                        Err(_) => HookReply::status(400),
                    };
                }
                let received =
                    webhook::receive(services.store.as_ref(), &services.loaded, &req.body).await;
                HookReply::status(match received {
                    Ok(()) => 200,
                    Err(Refused::NotConfigured) => 404,
                    Err(Refused::BadToken) => 403,
                    Err(Refused::Unreadable(_)) => 400,
                    Err(Refused::NotStored) => 500,
                })
            }
        },
    );
    match client(&services.loaded) {
        None => {
            fixed(
                services,
                "strava",
                ComponentStatus::Disabled,
                "not configured (set STRAVA_CLIENT_ID and STRAVA_CLIENT_SECRET, then `openzero strava connect`)",
            );
            return;
        }
        Some(Err(e)) => {
            fixed(services, "strava", ComponentStatus::Down, e.to_string());
            return;
        }
        Some(Ok(_)) => {}
    }
    if let Err(e) = tokens(&services.loaded) {
        tracing::warn!(error = %e, "strava: the kept grant cannot be read");
    }
    let health = std::sync::Arc::new(follow::StravaHealth::new(&services.loaded));
    services.add_check(health.clone());
    let services = services.clone();
    parts.worker("strava-follower", move |stop| {
        follow::watch(services.clone(), health.clone(), stop)
    });
}
