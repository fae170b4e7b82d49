//! A stateful fake of Strava's API v3 on `127.0.0.1:0`, speaking Strava's
//! wire format as its reference documents it (developers.strava.com:
//! authentication, rate limits, webhooks, the API reference), for tests.
//!
//! It models one application ([`CLIENT_ID`], [`CLIENT_SECRET`]) and one
//! athlete ([`ATHLETE_ID`]) who auto-approves every authorization with the
//! scopes `read,activity:read_all`:
//!
//! - OAuth: `GET /oauth/authorize` (302 to the redirect URI with `state`,
//!   a one-time `code` and `scope`), `POST /oauth/token` (also at
//!   `/api/v3/oauth/token`; parameters in the query, a form body or a JSON
//!   body) for `authorization_code` and `refresh_token` grants, and
//!   `POST /oauth/deauthorize`. Access tokens live six hours. A refresh
//!   grant always rotates the refresh token and invalidates the old one at
//!   once; as documented, it returns the existing access token while that
//!   one has more than an hour left and a new one otherwise (older access
//!   tokens stay valid until they expire).
//! - The API under `/api/v3`: the athlete, the athlete's activities (pages,
//!   `before`/`after`), an activity, its laps and its streams, and the push
//!   subscription (create with the `hub.challenge` handshake, view, delete).
//! - Rate limits: every `/api/v3` request counts (failed ones too) against
//!   the overall and the read limits, and every answer carries
//!   `X-RateLimit-Limit`/`-Usage` and `X-ReadRateLimit-Limit`/`-Usage`;
//!   past either limit the answer is 429 with Strava's JSON fault.
//! - Errors as Strava's Fault body:
//!   `{"message", "errors": [{"resource", "field", "code"}]}`.
//!
//! It does not model: uploads, writes, segments, routes, clubs, gear
//! endpoints, zones, kudos or comments, stream resolutions other than
//! `high` (no down-sampling), several athletes, scopes narrower than the
//! one granted, multipart bodies, webhook retries, time passing for the
//! rate-limit windows (tests move them with [`FakeStrava::reset_short_window`]
//! and [`FakeStrava::reset_day`]).
//!
//! Switches for tests: [`FakeStrava::fail_next`] cans failures,
//! [`FakeStrava::expire_access_tokens`] ages every access token,
//! [`FakeStrava::set_limits`] / [`FakeStrava::set_read_limits`] shrink the
//! limits, [`FakeStrava::push_event`] plays Strava's webhook POST.
//! Every request is logged as `"METHOD /path"` ([`FakeStrava::requests`]).
//!
//! **Invariants:** the fake shares no type with the client (it speaks only
//! JSON); every derived number of an activity (distance, times, speeds,
//! heart rate, elevation, cadence, laps, splits) is computed from its
//! samples when it is served, so an activity and its streams always agree;
//! no lock is held across an `.await`.

mod activity;
mod routes;

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;

pub use activity::{FakeActivity, FakeSample};

/// The application's client id.
pub const CLIENT_ID: &str = "4242";
/// The application's client secret.
pub const CLIENT_SECRET: &str = "fake-client-secret";
/// The one athlete's id (the id in Strava's own examples).
pub const ATHLETE_ID: i64 = 134815;
/// The scopes every authorization grants.
pub const GRANTED_SCOPE: &str = "read,activity:read_all";
/// How long an access token lives, in seconds (Strava: six hours).
pub const ACCESS_TOKEN_SECONDS: i64 = 21_600;

/// The id of the first activity added; later ones count up from it.
const FIRST_ACTIVITY_ID: i64 = 13_000_000_001;
/// The id of the first push subscription.
const FIRST_SUBSCRIPTION_ID: i64 = 120_475;
/// How long the fake waits for a callback (Strava: two seconds).
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(2);

/// A handle on a running fake; clones share its state.
#[derive(Clone, Debug)]
pub struct FakeStrava {
    url: String,
    shared: Arc<Shared>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) data: Mutex<Data>,
    /// For the subscription handshake and webhook events.
    pub(crate) http: reqwest::Client,
}

#[derive(Debug)]
pub(crate) struct AccessToken {
    pub(crate) token: String,
    pub(crate) expires_at: i64,
    pub(crate) revoked: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Subscription {
    pub(crate) id: i64,
    pub(crate) callback_url: String,
    pub(crate) created_at: String,
}

#[derive(Debug)]
pub(crate) struct Data {
    pub(crate) next_activity_id: i64,
    pub(crate) activities: BTreeMap<i64, FakeActivity>,
    pub(crate) limit_short: u32,
    pub(crate) limit_day: u32,
    pub(crate) read_limit_short: u32,
    pub(crate) read_limit_day: u32,
    pub(crate) usage_short: u32,
    pub(crate) usage_day: u32,
    pub(crate) canned: VecDeque<u16>,
    pub(crate) log: Vec<String>,
    pub(crate) codes: HashSet<String>,
    pub(crate) access: Vec<AccessToken>,
    pub(crate) refresh: HashSet<String>,
    pub(crate) refresh_grants: usize,
    pub(crate) subscription: Option<Subscription>,
    pub(crate) next_subscription_id: i64,
    pub(crate) seq: u64,
}

impl Data {
    /// A fresh random token of 40 hex digits, like Strava's.
    pub(crate) fn token(&mut self) -> String {
        let mut out = String::with_capacity(48);
        while out.len() < 40 {
            self.seq += 1;
            let mut h = RandomState::new().build_hasher();
            h.write_u64(self.seq);
            h.write_i64(Utc::now().timestamp_nanos_opt().unwrap_or_default());
            out.push_str(&format!("{:016x}", h.finish()));
        }
        out.truncate(40);
        out
    }

    /// Whether `token` is a live access token.
    pub(crate) fn access_ok(&self, token: &str) -> bool {
        let now = Utc::now().timestamp();
        self.access
            .iter()
            .any(|a| a.token == token && !a.revoked && a.expires_at > now)
    }

    /// Issues a new access token.
    pub(crate) fn new_access(&mut self) -> (String, i64) {
        let token = self.token();
        let expires_at = Utc::now().timestamp() + ACCESS_TOKEN_SECONDS;
        self.access.push(AccessToken {
            token: token.clone(),
            expires_at,
            revoked: false,
        });
        (token, expires_at)
    }

    /// Deauthorization: every access and refresh token stops working.
    pub(crate) fn revoke_all(&mut self) {
        for a in &mut self.access {
            a.revoked = true;
        }
        self.refresh.clear();
    }

    fn over_limit(&self) -> bool {
        self.usage_short > self.limit_short
            || self.usage_day > self.limit_day
            || self.usage_short > self.read_limit_short
            || self.usage_day > self.read_limit_day
    }

    fn rate_headers(&self) -> [(&'static str, String); 4] {
        [
            (
                "x-ratelimit-limit",
                format!("{},{}", self.limit_short, self.limit_day),
            ),
            (
                "x-ratelimit-usage",
                format!("{},{}", self.usage_short, self.usage_day),
            ),
            (
                "x-readratelimit-limit",
                format!("{},{}", self.read_limit_short, self.read_limit_day),
            ),
            (
                "x-readratelimit-usage",
                format!("{},{}", self.usage_short, self.usage_day),
            ),
        ]
    }
}

/// Locks the state; a test that panicked while holding it leaves the data
/// usable.
pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, Data> {
    shared.data.lock().unwrap_or_else(|e| e.into_inner())
}

impl FakeStrava {
    /// Binds `127.0.0.1:0` and serves on a tokio task.
    pub async fn start() -> std::io::Result<FakeStrava> {
        let http = reqwest::Client::builder()
            .timeout(CALLBACK_TIMEOUT)
            .build()
            .map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared {
            data: Mutex::new(Data {
                next_activity_id: FIRST_ACTIVITY_ID,
                activities: BTreeMap::new(),
                limit_short: 200,
                limit_day: 2000,
                read_limit_short: 100,
                read_limit_day: 1000,
                usage_short: 0,
                usage_day: 0,
                canned: VecDeque::new(),
                log: Vec::new(),
                codes: HashSet::new(),
                access: Vec::new(),
                refresh: HashSet::new(),
                refresh_grants: 0,
                subscription: None,
                next_subscription_id: FIRST_SUBSCRIPTION_ID,
                seq: 0,
            }),
            http,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = Router::new().fallback(handle).with_state(shared.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "the fake Strava stopped");
            }
        });
        Ok(FakeStrava {
            url: format!("http://{addr}"),
            shared,
        })
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The API's base: `url() + "/api/v3"`.
    pub fn api_base(&self) -> String {
        format!("{}/api/v3", self.url)
    }

    /// The authorization page: `url() + "/oauth/authorize"`.
    pub fn auth_url(&self) -> String {
        format!("{}/oauth/authorize", self.url)
    }

    /// The token endpoint: `url() + "/oauth/token"`.
    pub fn token_url(&self) -> String {
        format!("{}/oauth/token", self.url)
    }

    fn data(&self) -> MutexGuard<'_, Data> {
        lock(&self.shared)
    }

    /// Adds an activity of the athlete; returns its new id.
    pub fn add_activity(&self, a: FakeActivity) -> i64 {
        let mut d = self.data();
        let id = d.next_activity_id;
        d.next_activity_id += 1;
        d.activities.insert(id, a);
        id
    }

    /// Changes what the athlete can change on Strava (and what webhooks
    /// report): the title, the sport type, the privacy.
    pub fn update_activity(
        &self,
        id: i64,
        name: Option<&str>,
        sport_type: Option<&str>,
        private: Option<bool>,
    ) {
        let mut d = self.data();
        if let Some(a) = d.activities.get_mut(&id) {
            if let Some(name) = name {
                a.name = name.to_string();
            }
            if let Some(sport_type) = sport_type {
                a.sport_type = sport_type.to_string();
            }
            if let Some(private) = private {
                a.private = private;
            }
        }
    }

    /// Deletes an activity: it answers 404 from now on.
    pub fn delete_activity(&self, id: i64) {
        self.data().activities.remove(&id);
    }

    /// The overall limits (default 200 per 15 minutes, 2000 per day).
    pub fn set_limits(&self, short: u32, daily: u32) {
        let mut d = self.data();
        d.limit_short = short;
        d.limit_day = daily;
    }

    /// The read ("non-upload") limits (default 100 per 15 minutes, 1000
    /// per day). Every endpoint the fake serves is a read endpoint.
    pub fn set_read_limits(&self, short: u32, daily: u32) {
        let mut d = self.data();
        d.read_limit_short = short;
        d.read_limit_day = daily;
    }

    /// The usage so far: (this 15-minute window, this day).
    pub fn usage(&self) -> (u32, u32) {
        let d = self.data();
        (d.usage_short, d.usage_day)
    }

    /// A new 15-minute window began.
    pub fn reset_short_window(&self) {
        self.data().usage_short = 0;
    }

    /// A new day began (at midnight UTC, which also starts a new 15-minute
    /// window).
    pub fn reset_day(&self) {
        let mut d = self.data();
        d.usage_short = 0;
        d.usage_day = 0;
    }

    /// The next `n` `/api/v3` requests answer `status` (after counting
    /// against the limits): 429 with Strava's rate-limit fault, any other
    /// status with a JSON fault naming it.
    pub fn fail_next(&self, n: usize, status: u16) {
        let mut d = self.data();
        d.canned.extend(std::iter::repeat_n(status, n));
    }

    /// Every request so far as `"METHOD /path"` (no query), in order.
    pub fn requests(&self) -> Vec<String> {
        self.data().log.clone()
    }

    /// How many requests' `"METHOD /path"` start with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.data()
            .log
            .iter()
            .filter(|r| r.starts_with(prefix))
            .count()
    }

    /// Every access token issued so far expires now (answers 401); the
    /// next refresh grant issues a new one.
    pub fn expire_access_tokens(&self) {
        let now = Utc::now().timestamp();
        for a in &mut self.data().access {
            a.expires_at = a.expires_at.min(now);
        }
    }

    /// As if the athlete clicked Authorize on Strava's page: issues a
    /// one-time code and returns
    /// `redirect_uri?state=..&code=..&scope=read,activity:read_all`.
    pub fn authorize(&self, redirect_uri: &str, state: &str) -> String {
        let code = {
            let mut d = self.data();
            let code = d.token();
            d.codes.insert(code.clone());
            code
        };
        with_query(
            redirect_uri,
            &[("state", state), ("code", &code), ("scope", GRANTED_SCOPE)],
        )
    }

    /// As if the athlete clicked Cancel: `redirect_uri?state=..&error=access_denied`.
    pub fn authorize_denied(&self, redirect_uri: &str, state: &str) -> String {
        with_query(
            redirect_uri,
            &[("state", state), ("error", "access_denied")],
        )
    }

    /// The push subscription, if one exists: (id, callback URL).
    pub fn subscription(&self) -> Option<(i64, String)> {
        self.data()
            .subscription
            .as_ref()
            .map(|s| (s.id, s.callback_url.clone()))
    }

    /// Plays Strava's webhook: POSTs
    /// `{aspect_type, event_time, object_id, object_type, owner_id,
    /// subscription_id, updates}` to the subscription's callback (once,
    /// waiting two seconds at most, as Strava does) and returns the
    /// callback's status. An athlete event with
    /// `updates: {"authorized": "false"}` (a deauthorization) first revokes
    /// every token. Err when there is no subscription or the POST failed.
    pub async fn push_event(
        &self,
        aspect_type: &str,
        object_type: &str,
        object_id: i64,
        updates: serde_json::Value,
    ) -> Result<u16, String> {
        let (subscription, event) = {
            let mut d = self.data();
            let Some(sub) = d.subscription.clone() else {
                return Err("no push subscription".to_string());
            };
            if object_type == "athlete"
                && updates.get("authorized").and_then(|v| v.as_str()) == Some("false")
            {
                d.revoke_all();
            }
            let event = json!({
                "aspect_type": aspect_type,
                "event_time": Utc::now().timestamp(),
                "object_id": object_id,
                "object_type": object_type,
                "owner_id": ATHLETE_ID,
                "subscription_id": sub.id,
                "updates": updates,
            });
            (sub, event)
        };
        let response = self
            .shared
            .http
            .post(&subscription.callback_url)
            .json(&event)
            .send()
            .await
            .map_err(|e| format!("POST {}: {e}", subscription.callback_url))?;
        Ok(response.status().as_u16())
    }

    /// How many refresh grants succeeded.
    pub fn refresh_tokens_used(&self) -> usize {
        self.data().refresh_grants
    }
}

/// `base` with `pairs` appended to its query (kept as given when it does
/// not parse as a URL).
pub(crate) fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(base) {
        Ok(mut u) => {
            u.query_pairs_mut().extend_pairs(pairs);
            u.to_string()
        }
        Err(_) => {
            let q = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish();
            let sep = if base.contains('?') { '&' } else { '?' };
            format!("{base}{sep}{q}")
        }
    }
}

/// Strava's Fault body with one error.
pub(crate) fn fault(
    status: StatusCode,
    message: &str,
    resource: &str,
    field: &str,
    code: &str,
) -> Response {
    (
        status,
        axum::Json(json!({
            "message": message,
            "errors": [{"resource": resource, "field": field, "code": code}],
        })),
    )
        .into_response()
}

fn rate_limited() -> Response {
    fault(
        StatusCode::TOO_MANY_REQUESTS,
        "Rate Limit Exceeded",
        "Application",
        "rate limit",
        "exceeded",
    )
}

fn canned(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::TOO_MANY_REQUESTS {
        return rate_limited();
    }
    let reason = status.canonical_reason().unwrap_or("Error");
    (status, axum::Json(json!({"message": reason, "errors": []}))).into_response()
}

/// The one handler: logs the request, then routes it by hand (so every
/// malformed request still gets Strava's answer, not an extractor's).
async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    lock(&shared).log.push(format!("{method} {path}"));
    let params = routes::params(&query, &headers, &body);
    match (&method, path.as_str()) {
        (&Method::GET, "/oauth/authorize") => return routes::authorize(&shared, &params),
        (&Method::POST, "/oauth/token" | "/api/v3/oauth/token") => {
            return routes::token(&shared, &params);
        }
        (&Method::POST, "/oauth/deauthorize") => {
            return routes::deauthorize(&shared, &headers, &params);
        }
        _ => {}
    }
    let Some(rest) = path.strip_prefix("/api/v3") else {
        return routes::not_found_path();
    };
    // Count first (failed requests count too), and report the usage as it
    // stood when this request was counted.
    let (early, rate) = {
        let mut d = lock(&shared);
        d.usage_short = d.usage_short.saturating_add(1);
        d.usage_day = d.usage_day.saturating_add(1);
        let early = if d.over_limit() {
            Some(rate_limited())
        } else {
            d.canned.pop_front().map(canned)
        };
        (early, d.rate_headers())
    };
    let mut response = match early {
        Some(r) => r,
        None => routes::api(&shared, &method, rest, &headers, &params).await,
    };
    for (name, value) in rate {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(name), value);
        }
    }
    response
}
