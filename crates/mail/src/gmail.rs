//! Gmail through its API, read-only: OAuth 2.0 for an installed app (PKCE,
//! loopback redirect), the `gmail.readonly` scope only, `messages.list`,
//! `messages.get?format=raw`, `history.list` and `getProfile`.
//!
//! **Invariants:** the only scope ever asked for is `gmail.readonly` and
//! every API call is a GET (nothing here can change a mailbox); an expired
//! access token is refreshed before it runs out, and a 401 is answered by
//! one refresh and one retry; 429 and 5xx are retried with backoff
//! (honouring `Retry-After`); tokens never appear in `Debug` or errors.

use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tokio::sync::Mutex;

/// The one scope OpenZero asks for.
pub const SCOPE: &str = "https://www.googleapis.com/auth/gmail.readonly";

/// Google's endpoints (tests point them at a local fake).
#[derive(Clone)]
pub struct GmailConfig {
    pub client_id: String,
    pub client_secret: String,
    pub auth_url: String,
    pub token_url: String,
    /// `https://gmail.googleapis.com`.
    pub api_base: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for GmailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GmailConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[hidden]")
            .field("token_url", &self.token_url)
            .field("api_base", &self.api_base)
            .finish()
    }
}

/// Why Gmail could not be read, phrased for the owner.
#[derive(Debug, thiserror::Error)]
pub enum GmailError {
    #[error(
        "Google refused OpenZero's access to Gmail ({0}): it was revoked or expired; run `openzero mail connect gmail` again"
    )]
    Revoked(String),
    #[error("Google refused the request: {0}")]
    Refused(String),
    #[error("Gmail is rate-limiting OpenZero; trying again later")]
    RateLimited,
    #[error("Gmail's history no longer goes back to {0}: a full resync is needed")]
    HistoryGone(u64),
    #[error("cannot reach Google ({0}); retrying later")]
    Network(String),
    #[error("Gmail answered something unexpected: {0}")]
    Protocol(String),
}

pub use crate::oauth::Authorization;

/// The URL the owner opens to let OpenZero read their Gmail.
pub fn authorization(cfg: &GmailConfig, redirect_uri: &str) -> Result<Authorization, GmailError> {
    crate::oauth::authorization(&cfg.auth_url, &cfg.client_id, SCOPE, redirect_uri)
        .map_err(from_oauth)
}

fn from_oauth(e: crate::oauth::OAuthError) -> GmailError {
    match e {
        crate::oauth::OAuthError::Revoked(d) => GmailError::Revoked(d),
        crate::oauth::OAuthError::Refused(d) => GmailError::Refused(d),
        crate::oauth::OAuthError::Network(d) => GmailError::Network(d),
        crate::oauth::OAuthError::Protocol(d) => GmailError::Protocol(d),
    }
}

fn http(cfg: &GmailConfig) -> Result<reqwest::Client, GmailError> {
    reqwest::Client::builder()
        .timeout(cfg.timeout)
        .build()
        .map_err(|e| GmailError::Network(e.to_string()))
}

async fn token_request(
    cfg: &GmailConfig,
    form: &[(&str, &str)],
) -> Result<crate::oauth::TokenAnswer, GmailError> {
    crate::oauth::token_request(&cfg.token_url, form, cfg.timeout)
        .await
        .map_err(from_oauth)
}

/// Exchanges the code Google handed back for a refresh token.
pub async fn exchange_code(
    cfg: &GmailConfig,
    auth: &Authorization,
    code: &str,
) -> Result<String, GmailError> {
    crate::oauth::exchange_code(
        &cfg.token_url,
        &cfg.client_id,
        &cfg.client_secret,
        auth,
        code,
        cfg.timeout,
    )
    .await
    .map_err(from_oauth)
}

/// A read-only Gmail client for one account.
pub struct Gmail {
    cfg: GmailConfig,
    http: reqwest::Client,
    refresh_token: String,
    access: Mutex<Option<(String, DateTime<Utc>)>>,
}

impl std::fmt::Debug for Gmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gmail")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

/// A message as `messages.get?format=raw` gives it.
#[derive(Debug, Clone)]
pub struct RawMessage {
    pub id: String,
    pub bytes: Vec<u8>,
    pub labels: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    email_address: String,
    history_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdOnly {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListAnswer {
    #[serde(default)]
    messages: Vec<IdOnly>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetAnswer {
    id: String,
    raw: String,
    #[serde(default)]
    label_ids: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Added {
    message: IdOnly,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HistoryRecord {
    #[serde(default)]
    messages_added: Vec<Added>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HistoryAnswer {
    #[serde(default)]
    history: Vec<HistoryRecord>,
    next_page_token: Option<String>,
    history_id: String,
}

fn parse_u64(what: &str, s: &str) -> Result<u64, GmailError> {
    s.parse()
        .map_err(|_| GmailError::Protocol(format!("{what} {s:?} is not a number")))
}

impl Gmail {
    pub fn new(cfg: GmailConfig, refresh_token: String) -> Result<Self, GmailError> {
        let http = http(&cfg)?;
        Ok(Self {
            cfg,
            http,
            refresh_token,
            access: Mutex::new(None),
        })
    }

    /// A valid access token: the cached one unless it expires within a
    /// minute, else a fresh one from the refresh token.
    async fn access_token(&self, force: bool) -> Result<String, GmailError> {
        let mut slot = self.access.lock().await;
        if !force
            && let Some((token, until)) = slot.as_ref()
            && *until - chrono::Duration::seconds(60) > Utc::now()
        {
            return Ok(token.clone());
        }
        let t = token_request(
            &self.cfg,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &self.refresh_token),
                ("client_id", &self.cfg.client_id),
                ("client_secret", &self.cfg.client_secret),
            ],
        )
        .await?;
        let until = Utc::now() + chrono::Duration::seconds(t.expires_in.unwrap_or(3600));
        *slot = Some((t.access_token.clone(), until));
        Ok(t.access_token)
    }

    /// One GET under `/gmail/v1/users/me/`: refresh once on 401, back off
    /// on 429/5xx (at most 4 tries), 404 returned as `None`.
    async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Option<String>, GmailError> {
        let url = format!(
            "{}/gmail/v1/users/me/{path}",
            self.cfg.api_base.trim_end_matches('/')
        );
        let mut refreshed = false;
        let mut backoff = Duration::from_millis(500);
        for attempt in 0..4 {
            let token = self.access_token(false).await?;
            let resp = self
                .http
                .get(&url)
                .query(query)
                .bearer_auth(&token)
                .send()
                .await;
            let resp = match resp {
                Ok(r) => r,
                Err(e) if attempt < 3 => {
                    tracing::debug!(error = %e.without_url(), "gmail: retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    continue;
                }
                Err(e) => return Err(GmailError::Network(e.without_url().to_string())),
            };
            let status = resp.status();
            if status.is_success() {
                return resp
                    .text()
                    .await
                    .map(Some)
                    .map_err(|e| GmailError::Network(e.to_string()));
            }
            match status.as_u16() {
                401 if !refreshed => {
                    refreshed = true;
                    self.access_token(true).await?;
                }
                401 => {
                    return Err(GmailError::Revoked(
                        "the access token was refused after a refresh".into(),
                    ));
                }
                404 => return Ok(None),
                429 | 500..=599 => {
                    let wait = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map_or(backoff, |s| Duration::from_secs(s.min(60)));
                    if attempt == 3 {
                        return Err(if status.as_u16() == 429 {
                            GmailError::RateLimited
                        } else {
                            GmailError::Network(format!("HTTP {status}"))
                        });
                    }
                    tracing::info!(
                        status = status.as_u16(),
                        wait_ms = wait.as_millis() as u64,
                        "gmail: backing off"
                    );
                    tokio::time::sleep(wait).await;
                    backoff *= 2;
                }
                _ => {
                    let body = resp.text().await.unwrap_or_default();
                    let detail: String = body.chars().take(300).collect();
                    return Err(GmailError::Refused(format!("HTTP {status}: {detail}")));
                }
            }
        }
        Err(GmailError::RateLimited)
    }

    fn json<T: serde::de::DeserializeOwned>(what: &str, body: &str) -> Result<T, GmailError> {
        serde_json::from_str(body).map_err(|e| GmailError::Protocol(format!("{what}: {e}")))
    }

    /// The account's address and its current history id.
    pub async fn profile(&self) -> Result<(String, u64), GmailError> {
        let body = self
            .get("profile", &[])
            .await?
            .ok_or_else(|| GmailError::Protocol("no profile".into()))?;
        let p: Profile = Self::json("profile", &body)?;
        let h = parse_u64("historyId", &p.history_id)?;
        Ok((p.email_address, h))
    }

    /// Ids of the newest messages with `label` (newest first), at most `max`.
    pub async fn recent_ids(&self, label: &str, max: usize) -> Result<Vec<String>, GmailError> {
        let mut out = Vec::new();
        let mut page: Option<String> = None;
        while out.len() < max {
            let mut q = vec![
                ("labelIds", label.to_owned()),
                ("maxResults", (max - out.len()).min(500).to_string()),
            ];
            if let Some(p) = &page {
                q.push(("pageToken", p.clone()));
            }
            let body = self
                .get("messages", &q)
                .await?
                .ok_or_else(|| GmailError::Protocol("messages.list: 404".into()))?;
            let l: ListAnswer = Self::json("messages.list", &body)?;
            out.extend(l.messages.into_iter().map(|m| m.id));
            match l.next_page_token {
                Some(p) => page = Some(p),
                None => break,
            }
        }
        out.truncate(max);
        Ok(out)
    }

    /// One message's raw bytes (`None`: deleted meanwhile).
    pub async fn raw(&self, id: &str) -> Result<Option<RawMessage>, GmailError> {
        let Some(body) = self
            .get(&format!("messages/{id}"), &[("format", "raw".into())])
            .await?
        else {
            return Ok(None);
        };
        let g: GetAnswer = Self::json("messages.get", &body)?;
        // `raw` is base64url, padded or not.
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(g.raw.trim_end_matches('='))
            .map_err(|e| GmailError::Protocol(format!("message {}: {e}", g.id)))?;
        Ok(Some(RawMessage {
            id: g.id,
            bytes,
            labels: g.label_ids,
        }))
    }

    /// Messages added to `label` since `start` (oldest first, no
    /// repeats), and the history id to continue from.
    pub async fn added_since(
        &self,
        start: u64,
        label: &str,
    ) -> Result<(Vec<String>, u64), GmailError> {
        let mut ids: Vec<String> = Vec::new();
        let mut page: Option<String> = None;
        let mut last;
        loop {
            let mut q = vec![
                ("startHistoryId", start.to_string()),
                ("historyTypes", "messageAdded".to_owned()),
                ("labelId", label.to_owned()),
                ("maxResults", "500".to_owned()),
            ];
            if let Some(p) = &page {
                q.push(("pageToken", p.clone()));
            }
            let Some(body) = self.get("history", &q).await? else {
                return Err(GmailError::HistoryGone(start));
            };
            let h: HistoryAnswer = Self::json("history.list", &body)?;
            last = parse_u64("historyId", &h.history_id)?;
            for rec in h.history {
                for a in rec.messages_added {
                    if !ids.contains(&a.message.id) {
                        ids.push(a.message.id);
                    }
                }
            }
            match h.next_page_token {
                Some(p) => page = Some(p),
                None => break,
            }
        }
        Ok((ids, last))
    }
}
