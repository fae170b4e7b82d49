//! The HTTP calls. Read-only by construction: the only writes are to the
//! token endpoint and to the application's own push subscription.

use std::time::Duration;

use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use crate::model::{
    Athlete, DetailedActivity, STREAM_KEYS, Streams, Subscription, SummaryActivity, Token,
};
use crate::rate::RateLimits;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum StravaError {
    /// The access token was refused (expired or revoked).
    #[error(
        "Strava refused the access token ({0}); run `openzero strava connect` again if this persists"
    )]
    Unauthorized(String),
    /// A rate limit is spent (HTTP 429).
    #[error("Strava's rate limit is spent; waiting for the next window")]
    RateLimited(Option<RateLimits>),
    /// No such activity (deleted, or not the athlete's).
    #[error("Strava has no such {0}")]
    NotFound(String),
    /// The token endpoint refused the grant (a used code, a revoked
    /// refresh token, a wrong client secret).
    #[error("Strava refused the grant: {0}")]
    Grant(String),
    #[error("Strava answered {status}: {message}")]
    Http { status: u16, message: String },
    #[error("cannot reach Strava at {url}: {detail}")]
    Network { url: String, detail: String },
    #[error("Strava's answer could not be read: {0}")]
    Malformed(String),
}

/// An answer with the rate limits it carried.
#[derive(Debug, Clone)]
pub struct Answer<T> {
    pub value: T,
    pub limits: Option<RateLimits>,
}

/// A client of one Strava API application.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    api_base: String,
    token_url: String,
    client_id: String,
    client_secret: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("api_base", &self.api_base)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of `api_base` (`https://www.strava.com/api/v3`) and its
    /// token endpoint.
    pub fn new(
        api_base: &str,
        token_url: &str,
        client_id: &str,
        client_secret: &str,
    ) -> Result<Self, StravaError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("openzero/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| StravaError::Network {
                url: api_base.to_owned(),
                detail: e.to_string(),
            })?;
        Ok(Self {
            http,
            api_base: api_base.trim_end_matches('/').to_owned(),
            token_url: token_url.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
        })
    }

    /// The address the athlete opens to grant `activity:read_all`.
    pub fn authorize_url(
        auth_url: &str,
        client_id: &str,
        redirect_uri: &str,
        state: &str,
    ) -> Result<String, StravaError> {
        let mut url = url::Url::parse(auth_url).map_err(|e| {
            StravaError::Malformed(format!("the authorization URL {auth_url:?}: {e}"))
        })?;
        url.query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("approval_prompt", "auto")
            .append_pair("scope", "read,activity:read_all")
            .append_pair("state", state);
        Ok(url.into())
    }

    /// Exchanges the code of the athlete's grant for tokens.
    pub async fn exchange_code(&self, code: &str) -> Result<Token, StravaError> {
        self.token(&[("grant_type", "authorization_code"), ("code", code.trim())])
            .await
    }

    /// A fresh access token (and maybe a new refresh token: keep it).
    pub async fn refresh(&self, refresh_token: &str) -> Result<Token, StravaError> {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    async fn token(&self, grant: &[(&str, &str)]) -> Result<Token, StravaError> {
        let mut form = vec![
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.as_str()),
        ];
        form.extend_from_slice(grant);
        let r = self
            .http
            .post(&self.token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| self.network(&self.token_url, e))?;
        let status = r.status();
        let body = r
            .text()
            .await
            .map_err(|e| self.network(&self.token_url, e))?;
        if status.is_client_error() {
            return Err(StravaError::Grant(fault(&body, status)));
        }
        if !status.is_success() {
            return Err(StravaError::Http {
                status: status.as_u16(),
                message: fault(&body, status),
            });
        }
        serde_json::from_str(&body).map_err(|e| StravaError::Malformed(format!("token: {e}")))
    }

    /// The athlete the token belongs to.
    pub async fn athlete(&self, access: &str) -> Result<Answer<Athlete>, StravaError> {
        self.get(access, "/athlete", &[], "athlete").await
    }

    /// One page of the athlete's activities (`after`/`before` in seconds
    /// since the epoch; with `after` alone Strava lists oldest first).
    pub async fn activities(
        &self,
        access: &str,
        after: Option<i64>,
        before: Option<i64>,
        page: u32,
        per_page: u32,
    ) -> Result<Answer<Vec<SummaryActivity>>, StravaError> {
        let mut q = vec![
            ("page", page.to_string()),
            ("per_page", per_page.to_string()),
        ];
        if let Some(a) = after {
            q.push(("after", a.to_string()));
        }
        if let Some(b) = before {
            q.push(("before", b.to_string()));
        }
        self.get(access, "/athlete/activities", &q, "activity list")
            .await
    }

    /// One activity with its laps.
    pub async fn activity(
        &self,
        access: &str,
        id: i64,
    ) -> Result<Answer<DetailedActivity>, StravaError> {
        self.get(access, &format!("/activities/{id}"), &[], "activity")
            .await
    }

    /// An activity's streams, keyed by type.
    pub async fn streams(&self, access: &str, id: i64) -> Result<Answer<Streams>, StravaError> {
        let q = [
            ("keys", STREAM_KEYS.to_owned()),
            ("key_by_type", "true".to_owned()),
        ];
        self.get(access, &format!("/activities/{id}/streams"), &q, "activity")
            .await
    }

    /// Subscribes the application to webhook events at `callback_url`;
    /// Strava checks it with a GET echoing `verify_token` before it answers.
    pub async fn subscribe(
        &self,
        callback_url: &str,
        verify_token: &str,
    ) -> Result<i64, StravaError> {
        #[derive(serde::Deserialize)]
        struct Created {
            id: i64,
        }
        let url = format!("{}/push_subscriptions", self.api_base);
        let r = self
            .http
            .post(&url)
            .timeout(Duration::from_secs(60))
            .form(&[
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.client_secret.as_str()),
                ("callback_url", callback_url),
                ("verify_token", verify_token),
            ])
            .send()
            .await
            .map_err(|e| self.network(&url, e))?;
        let c: Created = self.read(r, &url, "subscription").await?.value;
        Ok(c.id)
    }

    /// The application's subscriptions (at most one).
    pub async fn subscriptions(&self) -> Result<Vec<Subscription>, StravaError> {
        let url = format!("{}/push_subscriptions", self.api_base);
        let r = self
            .http
            .get(&url)
            .query(&[
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.client_secret.as_str()),
            ])
            .send()
            .await
            .map_err(|e| self.network(&url, e))?;
        Ok(self.read(r, &url, "subscription").await?.value)
    }

    /// Ends subscription `id`.
    pub async fn unsubscribe(&self, id: i64) -> Result<(), StravaError> {
        let url = format!("{}/push_subscriptions/{id}", self.api_base);
        let r = self
            .http
            .delete(&url)
            .query(&[
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.client_secret.as_str()),
            ])
            .send()
            .await
            .map_err(|e| self.network(&url, e))?;
        let status = r.status();
        if status.is_success() {
            return Ok(());
        }
        let body = r.text().await.unwrap_or_default();
        Err(match status {
            StatusCode::NOT_FOUND => StravaError::NotFound("subscription".into()),
            _ => StravaError::Http {
                status: status.as_u16(),
                message: fault(&body, status),
            },
        })
    }

    async fn get<T: DeserializeOwned>(
        &self,
        access: &str,
        path: &str,
        query: &[(&str, String)],
        what: &str,
    ) -> Result<Answer<T>, StravaError> {
        let url = format!("{}{path}", self.api_base);
        let r = self
            .http
            .get(&url)
            .bearer_auth(access)
            .query(query)
            .send()
            .await
            .map_err(|e| self.network(&url, e))?;
        self.read(r, &url, what).await
    }

    async fn read<T: DeserializeOwned>(
        &self,
        r: reqwest::Response,
        url: &str,
        what: &str,
    ) -> Result<Answer<T>, StravaError> {
        let status = r.status();
        let limits = RateLimits::from_headers(r.headers());
        let body = r.text().await.map_err(|e| self.network(url, e))?;
        match status {
            s if s.is_success() => {
                let value = serde_json::from_str(&body)
                    .map_err(|e| StravaError::Malformed(format!("{what}: {e}")))?;
                Ok(Answer { value, limits })
            }
            StatusCode::UNAUTHORIZED => Err(StravaError::Unauthorized(fault(&body, status))),
            StatusCode::TOO_MANY_REQUESTS => Err(StravaError::RateLimited(limits)),
            StatusCode::NOT_FOUND => Err(StravaError::NotFound(what.to_owned())),
            s => Err(StravaError::Http {
                status: s.as_u16(),
                message: fault(&body, s),
            }),
        }
    }

    fn network(&self, url: &str, e: reqwest::Error) -> StravaError {
        // reqwest's message may carry the query string (client secret):
        // name the host only.
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(|h| format!("{}://{h}", u.scheme())))
            .unwrap_or_else(|| "Strava".to_owned());
        let detail = e.without_url().to_string();
        StravaError::Network { url: host, detail }
    }
}

/// Strava's error body (`{"message":…,"errors":[{"resource","field","code"}]}`)
/// in one line.
fn fault(body: &str, status: StatusCode) -> String {
    #[derive(serde::Deserialize)]
    struct Fault {
        #[serde(default)]
        message: String,
        #[serde(default)]
        errors: Vec<FaultError>,
    }
    #[derive(serde::Deserialize)]
    struct FaultError {
        #[serde(default)]
        resource: String,
        #[serde(default)]
        field: String,
        #[serde(default)]
        code: String,
    }
    match serde_json::from_str::<Fault>(body) {
        Ok(f) => {
            let details: Vec<String> = f
                .errors
                .iter()
                .map(|e| {
                    format!("{} {} {}", e.resource, e.field, e.code)
                        .trim()
                        .to_owned()
                })
                .collect();
            if details.is_empty() {
                f.message
            } else {
                format!("{} ({})", f.message, details.join("; "))
            }
        }
        Err(_) => status.canonical_reason().unwrap_or("error").to_owned(),
    }
}
