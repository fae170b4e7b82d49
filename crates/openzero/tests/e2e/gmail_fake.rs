//! An HTTP fake of the Gmail API v1 (read side) and of Google's OAuth 2.0
//! token endpoint, on loopback, speaking the documented wire format.
//!
//! Point the client at `token_url = {url}/token` and the API base at
//! `{url}/gmail/v1/users/me/...`.
//!
//! Documented shapes followed (Google's reference pages and guides, plus
//! observed responses reported in public issue threads where the reference
//! is silent):
//!
//! * Token endpoint (`POST https://oauth2.googleapis.com/token`, body
//!   `application/x-www-form-urlencoded`): success is
//!   `{"access_token", "expires_in", "scope", "token_type": "Bearer"}`, plus
//!   `refresh_token` for `grant_type=authorization_code` only (a refresh
//!   grant does not return a new one). Errors are RFC 6749 §5.2 JSON with
//!   HTTP 400: a revoked/unknown refresh token is
//!   `{"error": "invalid_grant", "error_description": "Token has been expired
//!   or revoked."}`; a used/unknown code is `invalid_grant` / "Bad Request";
//!   missing parameters are `invalid_request`; an unknown grant type is
//!   `unsupported_grant_type`. Authorization codes are single use. The
//!   client may authenticate with `client_id`/`client_secret` in the body or
//!   with HTTP Basic; with neither: 400 `invalid_request`.
//! * `users.getProfile`: `{"emailAddress", "messagesTotal": int,
//!   "threadsTotal": int, "historyId": string}` (historyId is a *string*
//!   in the JSON, uint64 format).
//! * `users.messages.list`: `{"messages": [{"id", "threadId"}],
//!   "nextPageToken", "resultSizeEstimate": int}`; `maxResults` defaults to
//!   100, maximum 500; `labelIds` (repeatable) must *all* match;
//!   `includeSpamTrash` defaults to false. `messages` is omitted when empty
//!   (Google omits empty repeated fields). Newest first.
//! * `users.messages.get?format=raw`: `{"id", "threadId", "labelIds",
//!   "snippet", "sizeEstimate": int, "raw", "historyId": string,
//!   "internalDate": string of epoch ms}`. The reference only says `raw` is
//!   "base64url encoded"; responses observed in the wild are *padded*
//!   URL-safe base64 (`-`/`_`, trailing `=`; openclaw/gogcli#922 broke on
//!   exactly that), while attachment/body `data` is unpadded. So `raw` is
//!   padded here by default: a client must decode padded base64url
//!   ([`GmailFake::set_raw_padding`] turns it off to test the other case).
//!   The default `format` is `full`; here `full`/`metadata` carry
//!   `payload.mimeType` and the top-level `payload.headers` only (no parts,
//!   no body data); `minimal` has no payload and no raw.
//! * `users.history.list`: `{"history": [{"id": string, "messages":
//!   [{"id", "threadId"}], "messagesAdded": [{"message": {"id", "threadId",
//!   "labelIds"}}]}], "nextPageToken", "historyId": string}` in ascending
//!   order, records with id > `startHistoryId`; `maxResults` defaults to
//!   100, max 500; `historyTypes` and `labelId` filter. `history` is omitted
//!   when empty (a caught-up mailbox answers just `{"historyId": "..."}`).
//!   History ids increase but are not contiguous (the fake leaves gaps). An
//!   out-of-date `startHistoryId` answers HTTP 404 (the client must do a
//!   full sync) with the standard error body; a missing/non-numeric one
//!   answers 400 `invalidArgument` "Missing/invalid parameter:
//!   startHistoryId".
//! * Errors use Google's standard JSON: `{"error": {"code", "message",
//!   "errors": [{"message", "domain", "reason", ...}], "status"}}`:
//!   401 `UNAUTHENTICATED` / `authError` "Invalid Credentials" ("Request had
//!   invalid authentication credentials. Expected OAuth 2 access token, ...")
//!   or `required` "Login Required." when the header is missing, with a
//!   `WWW-Authenticate: Bearer realm=...` header; 403 `PERMISSION_DENIED` /
//!   `insufficientPermissions` "Request had insufficient authentication
//!   scopes." (ErrorInfo `ACCESS_TOKEN_SCOPE_INSUFFICIENT`) for any write
//!   (the granted scope is `gmail.readonly`); 404 `NOT_FOUND` / `notFound`
//!   "Requested entity was not found."; 429 `RESOURCE_EXHAUSTED` /
//!   `usageLimits` `rateLimitExceeded` with `Retry-After: 1`.
//!
//! Not modelled: Gmail search syntax beyond `in:`/`label:`/`is:unread`/
//! `is:read`/`after:`/`before:` (other `q` terms are ignored, the raw query
//! stays visible in [`GmailFake::calls`]), label changes and deletions
//! (only `messageAdded` history), batch requests, token expiry by clock
//! (use [`GmailFake::expire_access_tokens`]).

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

/// The scope every token is granted: reading only.
pub const GRANTED_SCOPE: &str = "https://www.googleapis.com/auth/gmail.readonly";
/// Seconds an access token is said to live.
pub const EXPIRES_IN: u64 = 3599;
/// The mailbox's history id before any message arrives.
pub const FIRST_HISTORY_ID: u64 = 1000;

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const INVALID_CREDENTIALS: &str = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";
const MISSING_CREDENTIALS: &str = "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";

/// One request as the fake saw it: method, path with query, `Authorization`.
pub type Call = (String, String, Option<String>);

/// The Gmail + OAuth fake. Cloning shares the same server and state.
#[derive(Debug, Clone)]
pub struct GmailFake {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub url: String,
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct Msg {
    id: String,
    thread_id: String,
    labels: Vec<String>,
    raw: Vec<u8>,
    internal_date: i64,
    history_id: u64,
    message_id: Option<String>,
}

#[derive(Debug)]
struct State {
    email: String,
    messages: Vec<Msg>,
    /// `messageAdded` records: (history id, index into `messages`).
    history: Vec<(u64, usize)>,
    history_id: u64,
    forgotten_before: u64,
    refresh_tokens: BTreeSet<String>,
    auth_codes: BTreeMap<String, String>,
    access_tokens: BTreeSet<String>,
    issued: u64,
    throttle: usize,
    pad_raw: bool,
    calls: Vec<Call>,
    token_requests: Vec<BTreeMap<String, String>>,
}

impl GmailFake {
    /// Binds 127.0.0.1:0 and serves on the current tokio runtime.
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State {
            email: "owner@example.com".to_owned(),
            messages: Vec::new(),
            history: Vec::new(),
            history_id: FIRST_HISTORY_ID,
            forgotten_before: 0,
            refresh_tokens: BTreeSet::new(),
            auth_codes: BTreeMap::new(),
            access_tokens: BTreeSet::new(),
            issued: 0,
            throttle: 0,
            pad_raw: true,
            calls: Vec::new(),
            token_requests: Vec::new(),
        }));
        let shared = state.clone();
        let app = axum::Router::new().fallback(move |req: Request| {
            let state = shared.clone();
            async move { handle(state, req).await }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Gmail fake");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("serve the Gmail fake")
        });
        Self {
            url: format!("http://{addr}"),
            state,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Delivers a message (RFC 822 bytes) with these labels (default
    /// `INBOX`, `UNREAD`); returns its 16-hex-digit id. Bumps the history id
    /// (with a gap) and records a `messageAdded` history record. A message
    /// whose `In-Reply-To`/`References` names an earlier `Message-ID` joins
    /// that thread.
    pub fn add_message(&self, raw: &[u8], labels: &[&str]) -> String {
        let mut st = self.lock();
        let n = st.messages.len() as u64;
        let id = format!("{:016x}", 0x18c0_5a00_0000_0000_u64 + n * 0x1_3579);
        let headers = headers(raw);
        let message_id = header_value(&headers, "message-id").map(str::to_owned);
        let parents: Vec<&str> = header_value(&headers, "in-reply-to")
            .into_iter()
            .chain(header_value(&headers, "references"))
            .flat_map(str::split_whitespace)
            .collect();
        let thread_id = st
            .messages
            .iter()
            .find(|m| {
                m.message_id
                    .as_deref()
                    .is_some_and(|mid| parents.contains(&mid))
            })
            .map_or_else(|| id.clone(), |m| m.thread_id.clone());
        let internal_date = header_value(&headers, "date")
            .and_then(parse_date_ms)
            .unwrap_or(1_700_000_000_000 + i64::try_from(n).unwrap_or(0) * 60_000);
        let labels = if labels.is_empty() {
            vec!["INBOX".to_owned(), "UNREAD".to_owned()]
        } else {
            labels.iter().map(|l| (*l).to_owned()).collect()
        };
        // Not contiguous: Google documents "random gaps" between valid ids.
        st.history_id += 1 + (n * 7) % 13;
        let history_id = st.history_id;
        st.messages.push(Msg {
            id: id.clone(),
            thread_id,
            labels,
            raw: raw.to_vec(),
            internal_date,
            history_id,
            message_id,
        });
        let index = st.messages.len() - 1;
        st.history.push((history_id, index));
        id
    }

    /// Makes `token` the one refresh token the token endpoint accepts
    /// (replacing any accepted before); any other → 400 `invalid_grant`.
    pub fn set_refresh_token(&self, token: &str) {
        let mut st = self.lock();
        st.refresh_tokens.clear();
        st.refresh_tokens.insert(token.to_owned());
    }

    /// `grant_type=authorization_code` with this `code` (once) yields this
    /// refresh token, which is then accepted too.
    pub fn set_auth_code(&self, code: &str, refresh_token: &str) {
        self.lock()
            .auth_codes
            .insert(code.to_owned(), refresh_token.to_owned());
    }

    /// The user revoked access: every refresh token and access token issued
    /// so far is dead (refresh → 400 `invalid_grant`, API → 401). Codes set
    /// later (a new consent) work again.
    pub fn revoke(&self) {
        let mut st = self.lock();
        st.refresh_tokens.clear();
        st.access_tokens.clear();
    }

    /// Every access token issued so far now gets 401; refreshing mints a
    /// working one.
    pub fn expire_access_tokens(&self) {
        self.lock().access_tokens.clear();
    }

    /// The next `n` calls under `/gmail/v1` answer 429.
    pub fn throttle_next(&self, n: usize) {
        self.lock().throttle = n;
    }

    /// `history.list` with a `startHistoryId` below this answers 404.
    pub fn forget_history_before(&self, history_id: u64) {
        self.lock().forgotten_before = history_id;
    }

    /// Every request seen (token endpoint included), in order.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// The decoded form bodies sent to the token endpoint, in order.
    pub fn token_requests(&self) -> Vec<BTreeMap<String, String>> {
        self.lock().token_requests.clone()
    }

    /// The mailbox's current history id.
    pub fn history_id(&self) -> u64 {
        self.lock().history_id
    }

    /// The address `users.getProfile` reports (default `owner@example.com`);
    /// it is also accepted in place of `me` in paths.
    pub fn set_email_address(&self, email: &str) {
        self.lock().email = email.to_owned();
    }

    /// Whether `raw` carries `=` padding (default true, as Gmail does).
    pub fn set_raw_padding(&self, pad: bool) {
        self.lock().pad_raw = pad;
    }

    /// A valid access token without going through the token endpoint, for
    /// tests that do not care about OAuth.
    pub fn mint_access_token(&self) -> String {
        mint(&mut self.lock())
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn mint(st: &mut State) -> String {
    st.issued += 1;
    let token = format!("ya29.fake-{:04}-{:x}", st.issued, st.issued * 0x9e37_79b9);
    st.access_tokens.insert(token.clone());
    token
}

async fn handle(state: Arc<Mutex<State>>, req: Request) -> Response {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let path_query = req
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |pq| pq.as_str().to_owned());
    let authz = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = axum::body::to_bytes(req.into_body(), 16 << 20)
        .await
        .unwrap_or_default();
    let mut st = lock(&state);
    st.calls.push((method.clone(), path_query, authz.clone()));
    if path == "/token" {
        if method != "POST" {
            return respond(StatusCode::METHOD_NOT_ALLOWED, &[], String::new());
        }
        return token_endpoint(&mut st, &body, authz.as_deref());
    }
    if let Some(rest) = path.strip_prefix("/gmail/v1/") {
        return api(&mut st, &method, rest, &query, authz.as_deref());
    }
    respond(StatusCode::NOT_FOUND, &[], "Not Found".to_owned())
}

// ---------------------------------------------------------------- OAuth

fn token_endpoint(st: &mut State, body: &[u8], authz: Option<&str>) -> Response {
    let form: BTreeMap<String, String> = parse_urlencoded(&String::from_utf8_lossy(body))
        .into_iter()
        .collect();
    st.token_requests.push(form.clone());
    let get = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let basic = authz.is_some_and(|a| a.len() > 6 && a[..6].eq_ignore_ascii_case("basic "));
    if get("client_id").is_none() && !basic {
        return oauth_error(
            "invalid_request",
            "Could not determine client ID from request.",
        );
    }
    match get("grant_type") {
        Some("authorization_code") => {
            let Some(code) = get("code") else {
                return oauth_error("invalid_request", "Missing required parameter: code");
            };
            if get("redirect_uri").is_none() {
                return oauth_error(
                    "invalid_request",
                    "Missing required parameter: redirect_uri",
                );
            }
            let Some(refresh) = st.auth_codes.remove(code) else {
                return oauth_error("invalid_grant", "Bad Request");
            };
            st.refresh_tokens.insert(refresh.clone());
            let access = mint(st);
            token_ok(json!({
                "access_token": access,
                "expires_in": EXPIRES_IN,
                "refresh_token": refresh,
                "scope": GRANTED_SCOPE,
                "token_type": "Bearer",
            }))
        }
        Some("refresh_token") => {
            let Some(refresh) = get("refresh_token") else {
                return oauth_error(
                    "invalid_request",
                    "Missing required parameter: refresh_token",
                );
            };
            if !st.refresh_tokens.contains(refresh) {
                return oauth_error("invalid_grant", "Token has been expired or revoked.");
            }
            let access = mint(st);
            token_ok(json!({
                "access_token": access,
                "expires_in": EXPIRES_IN,
                "scope": GRANTED_SCOPE,
                "token_type": "Bearer",
            }))
        }
        other => oauth_error(
            "unsupported_grant_type",
            &format!("Invalid grant_type: {}", other.unwrap_or("")),
        ),
    }
}

const NO_STORE: [(&str, &str); 2] = [
    (
        "cache-control",
        "no-cache, no-store, max-age=0, must-revalidate",
    ),
    ("pragma", "no-cache"),
];

fn token_ok(body: Value) -> Response {
    respond(StatusCode::OK, &NO_STORE, body.to_string())
}

fn oauth_error(error: &str, description: &str) -> Response {
    let body = json!({"error": error, "error_description": description});
    respond(StatusCode::BAD_REQUEST, &NO_STORE, body.to_string())
}

// ---------------------------------------------------------------- Gmail API

fn api(st: &mut State, method: &str, rest: &str, query: &str, authz: Option<&str>) -> Response {
    if st.throttle > 0 {
        st.throttle -= 1;
        return google_error(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many concurrent requests for user.",
            json!([{"message": "Too many concurrent requests for user.",
                    "domain": "usageLimits", "reason": "rateLimitExceeded"}]),
            "RESOURCE_EXHAUSTED",
            &[("retry-after", "1")],
        );
    }
    let token = authz.and_then(|a| {
        (a.len() > 7 && a[..7].eq_ignore_ascii_case("bearer ")).then(|| a[7..].trim())
    });
    match token {
        None => {
            return google_error(
                StatusCode::UNAUTHORIZED,
                MISSING_CREDENTIALS,
                json!([{"message": "Login Required.", "domain": "global", "reason": "required",
                        "location": "Authorization", "locationType": "header"}]),
                "UNAUTHENTICATED",
                &[(
                    "www-authenticate",
                    "Bearer realm=\"https://accounts.google.com/\"",
                )],
            );
        }
        Some(t) if !st.access_tokens.contains(t) => {
            return google_error(
                StatusCode::UNAUTHORIZED,
                INVALID_CREDENTIALS,
                json!([{"message": "Invalid Credentials", "domain": "global", "reason": "authError",
                        "location": "Authorization", "locationType": "header"}]),
                "UNAUTHENTICATED",
                &[(
                    "www-authenticate",
                    "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
                )],
            );
        }
        Some(_) => {}
    }
    if method != "GET" {
        // The token carries gmail.readonly only: any write is refused.
        let mut body = error_body(
            StatusCode::FORBIDDEN,
            "Request had insufficient authentication scopes.",
            json!([{"message": "Insufficient Permission", "domain": "global",
                    "reason": "insufficientPermissions"}]),
            "PERMISSION_DENIED",
        );
        body["error"]["details"] = json!([{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            "domain": "googleapis.com",
            "metadata": {"service": "gmail.googleapis.com"},
        }]);
        return respond(
            StatusCode::FORBIDDEN,
            &[(
                "www-authenticate",
                "Bearer realm=\"https://accounts.google.com/\", error=\"insufficient_scope\", scope=\"https://mail.google.com/ https://www.googleapis.com/auth/gmail.modify\"",
            )],
            body.to_string(),
        );
    }
    let segments: Vec<String> = rest.split('/').map(percent_decode).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let params = parse_urlencoded(query);
    match segments.as_slice() {
        ["users", user, tail @ ..] => {
            if *user != "me" && *user != st.email {
                return google_error(
                    StatusCode::FORBIDDEN,
                    &format!("Delegation denied for {}", st.email),
                    json!([{"message": format!("Delegation denied for {}", st.email),
                            "domain": "global", "reason": "forbidden"}]),
                    "PERMISSION_DENIED",
                    &[],
                );
            }
            match tail {
                ["profile"] => profile(st),
                ["messages"] => messages_list(st, &params),
                ["messages", id] => messages_get(st, id, &params),
                ["history"] => history_list(st, &params),
                _ => not_found(),
            }
        }
        _ => not_found(),
    }
}

fn profile(st: &State) -> Response {
    let threads: BTreeSet<&str> = st.messages.iter().map(|m| m.thread_id.as_str()).collect();
    ok(json!({
        "emailAddress": st.email,
        "messagesTotal": st.messages.len(),
        "threadsTotal": threads.len(),
        "historyId": st.history_id.to_string(),
    }))
}

fn messages_list(st: &State, params: &[(String, String)]) -> Response {
    let max = match max_results(params) {
        Ok(m) => m,
        Err(message) => return invalid_argument(&message),
    };
    let offset = match param(params, "pageToken") {
        None => 0,
        Some(t) => match t.strip_prefix('m').and_then(|d| d.parse::<usize>().ok()) {
            Some(o) => o,
            None => return invalid_argument("Invalid pageToken"),
        },
    };
    let include_spam_trash = param(params, "includeSpamTrash") == Some("true");
    let wanted = params_all(params, "labelIds");
    let q = param(params, "q").unwrap_or("");
    let matched: Vec<&Msg> = st
        .messages
        .iter()
        .rev()
        .filter(|m| include_spam_trash || !m.labels.iter().any(|l| l == "SPAM" || l == "TRASH"))
        .filter(|m| wanted.iter().all(|w| m.labels.iter().any(|l| l == w)))
        .filter(|m| matches_query(m, q))
        .collect();
    let page: Vec<Value> = matched
        .iter()
        .skip(offset)
        .take(max)
        .map(|m| json!({"id": m.id, "threadId": m.thread_id}))
        .collect();
    let mut body = json!({"resultSizeEstimate": matched.len()});
    if !page.is_empty() {
        body["messages"] = Value::Array(page);
    }
    if offset + max < matched.len() {
        body["nextPageToken"] = json!(format!("m{:019}", offset + max));
    }
    ok(body)
}

fn messages_get(st: &State, id: &str, params: &[(String, String)]) -> Response {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return invalid_argument("Invalid id value");
    }
    let Some(m) = st.messages.iter().find(|m| m.id == id) else {
        return not_found();
    };
    let format = param(params, "format")
        .unwrap_or("full")
        .to_ascii_lowercase();
    let mut body = json!({
        "id": m.id,
        "threadId": m.thread_id,
        "labelIds": m.labels,
        "snippet": snippet(&m.raw),
        "sizeEstimate": m.raw.len(),
        "historyId": m.history_id.to_string(),
        "internalDate": m.internal_date.to_string(),
    });
    match format.as_str() {
        "raw" => body["raw"] = json!(base64url(&m.raw, st.pad_raw)),
        "minimal" => {}
        "full" | "metadata" => {
            let hs = headers(&m.raw);
            let mime = header_value(&hs, "content-type")
                .and_then(|c| c.split(';').next())
                .map_or("text/plain", str::trim)
                .to_owned();
            let list: Vec<Value> = hs
                .iter()
                .map(|(n, v)| json!({"name": n, "value": v}))
                .collect();
            body["payload"] =
                json!({"partId": "", "mimeType": mime, "filename": "", "headers": list});
        }
        other => {
            return invalid_argument(&format!(
                "Invalid value at 'format' (type.googleapis.com/caribou.api.proto.MessageFormat), \"{other}\""
            ));
        }
    }
    ok(body)
}

fn history_list(st: &State, params: &[(String, String)]) -> Response {
    let Some(start) = param(params, "startHistoryId").and_then(|s| s.parse::<u64>().ok()) else {
        return invalid_argument("Missing/invalid parameter: startHistoryId");
    };
    if start < st.forgotten_before {
        return not_found();
    }
    let max = match max_results(params) {
        Ok(m) => m,
        Err(message) => return invalid_argument(&message),
    };
    let after = match param(params, "pageToken") {
        None => start,
        Some(t) => match t.strip_prefix('h').and_then(|d| d.parse::<u64>().ok()) {
            Some(a) => a.max(start),
            None => return invalid_argument("Invalid pageToken"),
        },
    };
    let types = params_all(params, "historyTypes");
    let added_wanted = types.is_empty() || types.contains(&"messageAdded");
    let label = param(params, "labelId");
    let records: Vec<(u64, &Msg)> = st
        .history
        .iter()
        .filter(|(hid, _)| added_wanted && *hid > after)
        .map(|(hid, i)| (*hid, &st.messages[*i]))
        .filter(|(_, m)| label.is_none_or(|l| m.labels.iter().any(|x| x == l)))
        .collect();
    let page: Vec<Value> = records
        .iter()
        .take(max)
        .map(|(hid, m)| {
            json!({
                "id": hid.to_string(),
                "messages": [{"id": m.id, "threadId": m.thread_id}],
                "messagesAdded": [{"message": {"id": m.id, "threadId": m.thread_id, "labelIds": m.labels}}],
            })
        })
        .collect();
    let mut body = json!({"historyId": st.history_id.to_string()});
    if records.len() > max {
        body["nextPageToken"] = json!(format!("h{:019}", records[max - 1].0));
    }
    if !page.is_empty() {
        body["history"] = Value::Array(page);
    }
    ok(body)
}

/// `maxResults`: default 100, capped at 500; `Err` is the 400 message.
fn max_results(params: &[(String, String)]) -> Result<usize, String> {
    match param(params, "maxResults") {
        None => Ok(100),
        Some(v) => match v.parse::<usize>() {
            Ok(0) => Ok(100),
            Ok(n) => Ok(n.min(500)),
            Err(_) => Err(format!(
                "Invalid value at 'max_results' (TYPE_UINT32), \"{v}\""
            )),
        },
    }
}

/// A small subset of Gmail search: `in:X`/`label:X`, `is:unread`/`is:read`,
/// `after:`/`before:` (epoch seconds or `YYYY/MM/DD`), `-` negates.
/// Anything else is ignored.
fn matches_query(m: &Msg, q: &str) -> bool {
    q.split_whitespace().all(|term| {
        let (negate, term) = term.strip_prefix('-').map_or((false, term), |t| (true, t));
        let has = |label: &str| m.labels.iter().any(|l| l.eq_ignore_ascii_case(label));
        let Some((key, value)) = term.split_once(':') else {
            return true;
        };
        let hit = match key.to_ascii_lowercase().as_str() {
            "in" | "label" => has(value),
            "is" if value.eq_ignore_ascii_case("unread") => has("UNREAD"),
            "is" if value.eq_ignore_ascii_case("read") => !has("UNREAD"),
            "after" => query_date_ms(value).is_none_or(|t| m.internal_date >= t),
            "before" => query_date_ms(value).is_none_or(|t| m.internal_date < t),
            _ => return true,
        };
        hit != negate
    })
}

fn query_date_ms(v: &str) -> Option<i64> {
    if let Ok(secs) = v.parse::<i64>() {
        return Some(secs * 1000);
    }
    let date = chrono::NaiveDate::parse_from_str(v, "%Y/%m/%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Every value of a repeatable parameter (`name=a&name=b`, also `name[]`).
fn params_all<'a>(params: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    params
        .iter()
        .filter(|(k, _)| k == name || k.strip_suffix("[]") == Some(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

fn ok(body: Value) -> Response {
    respond(StatusCode::OK, &[], body.to_string())
}

fn not_found() -> Response {
    google_error(
        StatusCode::NOT_FOUND,
        "Requested entity was not found.",
        json!([{"message": "Requested entity was not found.", "domain": "global",
                "reason": "notFound"}]),
        "NOT_FOUND",
        &[],
    )
}

fn invalid_argument(message: &str) -> Response {
    google_error(
        StatusCode::BAD_REQUEST,
        message,
        json!([{"message": message, "domain": "global", "reason": "invalidArgument"}]),
        "INVALID_ARGUMENT",
        &[],
    )
}

/// Google's standard error body.
fn google_error(
    code: StatusCode,
    message: &str,
    errors: Value,
    status: &str,
    headers: &[(&str, &str)],
) -> Response {
    respond(
        code,
        headers,
        error_body(code, message, errors, status).to_string(),
    )
}

fn error_body(code: StatusCode, message: &str, errors: Value, status: &str) -> Value {
    json!({"error": {
        "code": code.as_u16(),
        "message": message,
        "errors": errors,
        "status": status,
    }})
}

fn respond(status: StatusCode, headers: &[(&str, &str)], body: String) -> Response {
    let mut builder = Response::builder().status(status);
    if !body.is_empty() && body.starts_with('{') {
        builder = builder.header(header::CONTENT_TYPE, "application/json; charset=UTF-8");
    }
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::from(body)).expect("a valid response")
}

// ---------------------------------------------------------------- helpers

/// Base64 with the URL-safe alphabet (RFC 4648 §5), `=`-padded if `pad`.
pub fn base64url(bytes: &[u8], pad: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64URL[((n >> (18 - 6 * i)) & 63) as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes URL-safe base64, padded or not; `None` on any other character.
pub fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = u32::try_from(B64URL.iter().position(|&x| x == c)?).ok()?;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// `application/x-www-form-urlencoded` (also a query string) → pairs.
fn parse_urlencoded(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|&b| hex(b)),
                bytes.get(i + 2).and_then(|&b| hex(b)),
            )
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The top-level header section, unfolded, as (name, value) pairs.
fn headers(raw: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(raw);
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            out.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    out
}

fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// RFC 2822 `Date:` → epoch ms (a trailing `(PDT)`-style comment is dropped).
fn parse_date_ms(value: &str) -> Option<i64> {
    let value = value.split('(').next().unwrap_or(value).trim();
    chrono::DateTime::parse_from_rfc2822(value)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// Roughly Gmail's snippet: the start of the body text, whitespace
/// collapsed, MIME boundaries and part headers skipped.
fn snippet(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let body = text
        .split_once("\r\n\r\n")
        .or_else(|| text.split_once("\n\n"))
        .map_or("", |(_, b)| b);
    let words: Vec<&str> = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("--") && !l.to_ascii_lowercase().starts_with("content-"))
        .flat_map(str::split_whitespace)
        .collect();
    words.join(" ").chars().take(200).collect()
}

// ---------------------------------------------------------------- self-tests

mod self_tests {
    use super::*;

    async fn token(
        client: &reqwest::Client,
        fake: &GmailFake,
        form: &[(&str, &str)],
    ) -> (u16, Value) {
        let resp = client
            .post(format!("{}/token", fake.url))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    async fn get(client: &reqwest::Client, url: String, access: &str) -> reqwest::Response {
        client.get(url).bearer_auth(access).send().await.unwrap()
    }

    #[tokio::test]
    async fn oauth_exchange_refresh_and_revoke() {
        let fake = GmailFake::start().await;
        let client = reqwest::Client::new();
        fake.set_auth_code("4/0Ab-code", "1//0g-refresh");
        let exchange = [
            ("grant_type", "authorization_code"),
            ("code", "4/0Ab-code"),
            ("client_id", "cid.apps.googleusercontent.com"),
            ("client_secret", "s3cret"),
            ("redirect_uri", "http://127.0.0.1:8765/callback?x=1&y=a b"),
        ];
        let (status, body) = token(&client, &fake, &exchange).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["refresh_token"], "1//0g-refresh");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3599);
        assert_eq!(body["scope"], GRANTED_SCOPE);
        let first = body["access_token"].as_str().unwrap().to_owned();
        assert!(first.starts_with("ya29."));
        // The form was decoded exactly.
        let sent = fake.token_requests();
        assert_eq!(
            sent[0]["redirect_uri"],
            "http://127.0.0.1:8765/callback?x=1&y=a b"
        );
        assert_eq!(sent[0]["grant_type"], "authorization_code");
        // A code works once.
        let (status, body) = token(&client, &fake, &exchange).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );

        let refresh = [
            ("grant_type", "refresh_token"),
            ("refresh_token", "1//0g-refresh"),
            ("client_id", "cid.apps.googleusercontent.com"),
            ("client_secret", "s3cret"),
        ];
        let (status, body) = token(&client, &fake, &refresh).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body.get("refresh_token").is_none(),
            "a refresh grant returns no new refresh token"
        );
        let second = body["access_token"].as_str().unwrap().to_owned();
        assert_ne!(first, second);
        let profile = format!("{}/gmail/v1/users/me/profile", fake.url);
        let resp = get(&client, profile.clone(), &second).await;
        assert_eq!(resp.status(), 200);
        let p: Value = resp.json().await.unwrap();
        assert_eq!(p["emailAddress"], "owner@example.com");
        assert_eq!(p["historyId"], FIRST_HISTORY_ID.to_string());

        let (status, body) = token(
            &client,
            &fake,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", "1//other"),
                ("client_id", "c"),
            ],
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        let (status, body) = token(
            &client,
            &fake,
            &[("grant_type", "password"), ("client_id", "c")],
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("unsupported_grant_type"))
        );

        fake.revoke();
        let (status, body) = token(&client, &fake, &refresh).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"], "invalid_grant");
        assert_eq!(
            body["error_description"],
            "Token has been expired or revoked."
        );
        let resp = get(&client, profile.clone(), &second).await;
        assert_eq!(resp.status(), 401);
        assert!(resp.headers().contains_key("www-authenticate"));
        let e: Value = resp.json().await.unwrap();
        assert_eq!(e["error"]["status"], "UNAUTHENTICATED");
        assert_eq!(e["error"]["errors"][0]["reason"], "authError");
        // No header at all.
        let resp = client.get(profile).send().await.unwrap();
        assert_eq!(resp.status(), 401);
    }

    #[tokio::test]
    async fn list_get_raw_and_history() {
        let fake = GmailFake::start().await;
        let client = reqwest::Client::new();
        let access = fake.mint_access_token();
        let base = format!("{}/gmail/v1/users/me", fake.url);
        let start = fake.history_id();
        // Lengths 0, 1, 2 mod 3, bytes that map to '-' and '_', non-UTF-8.
        let mut raws: Vec<Vec<u8>> = Vec::new();
        for i in 0..5u8 {
            let mut raw = format!(
                "From: a{i}@example.org\r\nTo: owner@example.com\r\nSubject: n{i}\r\n\
                 Message-ID: <m{i}@example.org>\r\nDate: Mon, 2 Mar 2026 09:0{i}:00 +0100 (CET)\r\n\r\nBody {i} "
            )
            .into_bytes();
            raw.extend_from_slice(&[0xfb, 0xff, 0xbf, 0xfe][..usize::from(i % 4)]);
            raw.extend(std::iter::repeat_n(b'x', usize::from(i)));
            raws.push(raw);
        }
        let mut ids = Vec::new();
        for raw in &raws[..3] {
            ids.push(fake.add_message(raw, &[]));
        }
        let mid = fake.history_id();
        for raw in &raws[3..] {
            ids.push(fake.add_message(raw, &["INBOX"]));
        }
        assert!(
            ids.iter()
                .all(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        );

        // messages.list: newest first, two per page.
        let mut seen = Vec::new();
        let mut page_token: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut url = format!("{base}/messages?maxResults=2&labelIds=INBOX");
            if let Some(t) = &page_token {
                url.push_str(&format!("&pageToken={t}"));
            }
            let v: Value = get(&client, url, &access).await.json().await.unwrap();
            assert_eq!(v["resultSizeEstimate"], 5);
            for m in v["messages"].as_array().unwrap() {
                seen.push(m["id"].as_str().unwrap().to_owned());
                assert_eq!(m.as_object().unwrap().len(), 2, "only id and threadId");
            }
            pages += 1;
            match v["nextPageToken"].as_str() {
                Some(t) => page_token = Some(t.to_owned()),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
        assert_eq!(seen, newest_first);
        // labelIds must all match.
        let v: Value = get(
            &client,
            format!("{base}/messages?labelIds=INBOX&labelIds=UNREAD"),
            &access,
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(v["resultSizeEstimate"], 3);

        // messages.get?format=raw round-trips the exact bytes, padded.
        for (id, raw) in ids.iter().zip(&raws) {
            let v: Value = get(&client, format!("{base}/messages/{id}?format=raw"), &access)
                .await
                .json()
                .await
                .unwrap();
            let enc = v["raw"].as_str().unwrap();
            assert!(!enc.contains(['+', '/']));
            assert_eq!(enc.len() % 4, 0, "padded");
            assert_eq!(enc.ends_with('='), raw.len() % 3 != 0);
            assert_eq!(base64url_decode(enc).unwrap(), *raw);
            assert_eq!(v["sizeEstimate"], raw.len());
            assert!(v["historyId"].is_string() && v["internalDate"].is_string());
        }
        let v: Value = get(
            &client,
            format!("{base}/messages/{}?format=raw", ids[0]),
            &access,
        )
        .await
        .json()
        .await
        .unwrap();
        // Mon, 2 Mar 2026 09:00:00 +0100
        assert_eq!(v["internalDate"], "1772438400000");
        assert_eq!(v["labelIds"], json!(["INBOX", "UNREAD"]));
        assert!(v["snippet"].as_str().unwrap().starts_with("Body 0"));
        let resp = get(
            &client,
            format!("{base}/messages/00000000deadbeef?format=raw"),
            &access,
        )
        .await;
        assert_eq!(resp.status(), 404);

        // history.list after add_message: ascending, paginated.
        let url =
            format!("{base}/history?startHistoryId={mid}&historyTypes=messageAdded&maxResults=1");
        let v: Value = get(&client, url.clone(), &access)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v["historyId"], fake.history_id().to_string());
        let h = v["history"].as_array().unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0]["messagesAdded"][0]["message"]["id"], ids[3].as_str());
        assert_eq!(
            h[0]["messagesAdded"][0]["message"]["labelIds"],
            json!(["INBOX"])
        );
        let t = v["nextPageToken"].as_str().unwrap();
        let v: Value = get(&client, format!("{url}&pageToken={t}"), &access)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v["history"][0]["messages"][0]["id"], ids[4].as_str());
        assert!(v.get("nextPageToken").is_none());
        let all: Value = get(
            &client,
            format!("{base}/history?startHistoryId={start}"),
            &access,
        )
        .await
        .json()
        .await
        .unwrap();
        let ids_in_order: Vec<&str> = all["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["messagesAdded"][0]["message"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids_in_order,
            ids.iter().map(String::as_str).collect::<Vec<_>>()
        );
        // Caught up: no `history` key at all.
        let now = fake.history_id();
        let v: Value = get(
            &client,
            format!("{base}/history?startHistoryId={now}"),
            &access,
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(v, json!({"historyId": now.to_string()}));

        // A forgotten startHistoryId is 404 NOT_FOUND; a missing one is 400.
        fake.forget_history_before(mid);
        let resp = get(
            &client,
            format!("{base}/history?startHistoryId={start}"),
            &access,
        )
        .await;
        assert_eq!(resp.status(), 404);
        let e: Value = resp.json().await.unwrap();
        assert_eq!(e["error"]["code"], 404);
        assert_eq!(e["error"]["message"], "Requested entity was not found.");
        assert_eq!(e["error"]["status"], "NOT_FOUND");
        assert_eq!(e["error"]["errors"][0]["reason"], "notFound");
        let resp = get(&client, format!("{base}/history"), &access).await;
        assert_eq!(resp.status(), 400);

        let p: Value = get(&client, format!("{base}/profile"), &access)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(p["messagesTotal"], 5);
    }

    #[tokio::test]
    async fn throttle_expiry_and_no_writes() {
        let fake = GmailFake::start().await;
        let client = reqwest::Client::new();
        fake.set_refresh_token("1//rt");
        let refresh = [
            ("grant_type", "refresh_token"),
            ("refresh_token", "1//rt"),
            ("client_id", "c"),
        ];
        let (_, body) = token(&client, &fake, &refresh).await;
        let access = body["access_token"].as_str().unwrap().to_owned();
        let id = fake.add_message(b"Subject: hi\r\n\r\nhello\r\n", &[]);
        let list = format!("{}/gmail/v1/users/me/messages", fake.url);

        fake.throttle_next(2);
        for _ in 0..2 {
            let resp = get(&client, list.clone(), &access).await;
            assert_eq!(resp.status(), 429);
            assert_eq!(resp.headers()["retry-after"], "1");
            let e: Value = resp.json().await.unwrap();
            assert_eq!(e["error"]["status"], "RESOURCE_EXHAUSTED");
            assert_eq!(e["error"]["errors"][0]["reason"], "rateLimitExceeded");
        }
        assert_eq!(get(&client, list.clone(), &access).await.status(), 200);

        fake.expire_access_tokens();
        assert_eq!(get(&client, list.clone(), &access).await.status(), 401);
        let (status, body) = token(&client, &fake, &refresh).await;
        assert_eq!(status, 200);
        let fresh = body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(get(&client, list.clone(), &fresh).await.status(), 200);

        // Writes are refused (the grant is read-only) and recorded.
        let modify = format!("{list}/{id}/modify");
        let resp = client
            .post(&modify)
            .bearer_auth(&fresh)
            .body(r#"{"removeLabelIds":["UNREAD"]}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
        let e: Value = resp.json().await.unwrap();
        assert_eq!(e["error"]["errors"][0]["reason"], "insufficientPermissions");
        assert_eq!(e["error"]["status"], "PERMISSION_DENIED");
        assert_eq!(
            e["error"]["details"][0]["reason"],
            "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
        );
        let resp = client
            .delete(format!("{list}/{id}"))
            .bearer_auth(&fresh)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
        let writes: Vec<Call> = fake
            .calls()
            .into_iter()
            .filter(|(m, p, _)| m != "GET" && p.starts_with("/gmail/"))
            .collect();
        assert_eq!(writes.len(), 2);
        assert_eq!(
            writes[0].1,
            format!("/gmail/v1/users/me/messages/{id}/modify")
        );
        assert_eq!(
            writes[0].2.as_deref(),
            Some(format!("Bearer {fresh}").as_str())
        );
    }

    #[test]
    fn base64url_matches_rfc4648_vectors() {
        for (plain, padded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64url(plain.as_bytes(), true), padded);
            assert_eq!(
                base64url(plain.as_bytes(), false),
                padded.trim_end_matches('=')
            );
            assert_eq!(base64url_decode(padded).unwrap(), plain.as_bytes());
        }
        assert_eq!(base64url(&[0xfb, 0xff], true), "-_8=");
        assert_eq!(base64url_decode("-_8").unwrap(), [0xfb, 0xff]);
        assert!(base64url_decode("+/8=").is_none());
    }
}
