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

mod codec;
mod handlers;
mod self_tests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::Request;

pub use codec::{base64url, base64url_decode};
use codec::{header_value, headers, parse_date_ms};
use handlers::handle;

/// The scope every token is granted: reading only.
pub const GRANTED_SCOPE: &str = "https://www.googleapis.com/auth/gmail.readonly";
/// Seconds an access token is said to live.
pub const EXPIRES_IN: u64 = 3599;
/// The mailbox's history id before any message arrives.
pub const FIRST_HISTORY_ID: u64 = 1000;

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
