//! Google Calendar through its API v3, read-only: `calendarList.list` for
//! the account's calendars and `events.list` with sync tokens for what
//! changed, each event turned into an iCalendar text with one `VEVENT` so
//! the rest of OpenZero reads Google like any other calendar.
//!
//! A full sync asks for every event (`showDeleted=true`, `singleEvents=false`:
//! series come as their master with its `recurrence` lines, and every
//! changed or cancelled instance as an event of its own with
//! `recurringEventId` and `originalStartTime`), page by page, and keeps the
//! `nextSyncToken` of the last page; an incremental sync passes that token
//! and gets only what changed. HTTP 410 means the token is no longer
//! accepted: sync again from scratch.
//!
//! Each event is its own resource, named by its Google event id: a series'
//! master carries the `RRULE`s, an exception instance the master's UID and a
//! `RECURRENCE-ID` (a cancelled instance `STATUS:CANCELLED`), so the events
//! of one calendar are expanded together. The UID is the Google id of the
//! series (of the event itself when it is not part of one), the same in
//! every sync; Google's `iCalUID` is kept beside it as `X-GOOGLE-ICALUID`.
//!
//! **Invariants:** read-only by construction — every request is a GET made
//! in one place (`GoogleCalendar::get`; a test reads this file); the
//! access token goes only into the `Authorization: Bearer` header (marked
//! sensitive), only to the configured API origin, over https unless that is
//! a loopback address, and never into `Debug`, errors or logs; nothing the
//! server sends can panic: an answer that cannot be read is
//! [`GoogleError::Malformed`], one event that cannot be read is skipped and
//! named in [`Changes::skipped`].

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use reqwest::header::{ACCEPT, HeaderMap, RETRY_AFTER};
use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

/// Google's API origin.
pub const DEFAULT_API_BASE: &str = "https://www.googleapis.com/";
/// The scope that is enough for everything here.
pub const SCOPE: &str = "https://www.googleapis.com/auth/calendar.readonly";

/// `events.list` allows at most 2500 a page; `calendarList.list` 250.
const MAX_EVENTS_PAGE: u32 = 2500;
const MAX_CALENDARS_PAGE: u32 = 250;
/// Events asked for on one page unless [`GoogleCalendar::with_page_size`].
const DEFAULT_PAGE: u32 = 1000;
/// Pages followed in one listing (a loop guard: 2.5 million events at the
/// largest page size).
const MAX_PAGES: usize = 1000;
/// The largest answer read.
const MAX_BODY: usize = 64 << 20;
/// Characters of a server's error message kept in [`GoogleError::Http`].
const MAX_DETAIL: usize = 300;

/// What went wrong talking to Google Calendar. No variant carries the
/// access token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoogleError {
    /// HTTP 401: the access token expired or was revoked; refresh it.
    #[error("Google refused the access token (expired or revoked): refresh it and try again")]
    Unauthorized,
    /// HTTP 410 on `events.list`: the sync token is no longer accepted;
    /// sync again with none.
    #[error("Google no longer accepts the sync token: a full sync is needed")]
    SyncTokenExpired,
    /// HTTP 429, or 403 `rateLimitExceeded`/`userRateLimitExceeded`; wait
    /// `retry_after` seconds when Google says how long.
    #[error("Google Calendar is rate-limiting OpenZero{}", wait_note(.retry_after))]
    RateLimited { retry_after: Option<u64> },
    /// HTTP 5xx: Google's trouble; try again later.
    #[error("Google Calendar answered HTTP {0} (a server error); try again later")]
    Server(u16),
    /// Any other status, with Google's message.
    #[error("Google Calendar answered HTTP {status}: {detail}")]
    Http { status: u16, detail: String },
    /// No answer: connection refused, DNS, TLS, timeout.
    #[error("could not reach Google Calendar: {0}")]
    Network(String),
    /// An answer that cannot be read.
    #[error("Google Calendar's answer could not be read: {0}")]
    Malformed(String),
    /// An API address or calendar id that cannot be used.
    #[error("not a usable address: {0}")]
    BadUrl(String),
}

fn wait_note(retry_after: &Option<u64>) -> String {
    match retry_after {
        Some(s) => format!(" (retry after {s} s)"),
        None => String::new(),
    }
}

/// One calendar of the account (a `calendarListEntry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarEntry {
    /// The calendar id to pass to [`GoogleCalendar::sync`] (e.g. the
    /// account's address, or `…@group.calendar.google.com`).
    pub id: String,
    /// The name the owner gave it (`summaryOverride`), else its `summary`,
    /// else its id.
    pub name: String,
    /// Its IANA zone (`timeZone`).
    pub time_zone: Option<String>,
    /// The account's primary calendar.
    pub primary: bool,
    /// `backgroundColor`, e.g. `#9fc6e7`.
    pub color: Option<String>,
    /// `accessRole`: `owner`, `writer`, `reader` or `freeBusyReader` (the
    /// last sees only busy times, no titles).
    pub access_role: Option<String>,
}

/// What changed in a calendar since a sync token (everything, for a full
/// sync). Each list is sorted by event id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Changes {
    /// Events added or changed: the Google event id (the resource's href)
    /// and its iCalendar text.
    pub put: Vec<(String, String)>,
    /// Ids of events deleted.
    pub removed: Vec<String>,
    /// Events that could not be read, each as `event ID: why`; the rest of
    /// the sync stands.
    pub skipped: Vec<String>,
    /// The token to pass next time.
    pub next_sync_token: String,
}

/// A read-only Google Calendar client. Holds no token: each call is given
/// a fresh access token.
#[derive(Debug, Clone)]
pub struct GoogleCalendar {
    http: reqwest::Client,
    base: Url,
    page_size: u32,
}

impl GoogleCalendar {
    /// A client for the API at `api_base` ([`DEFAULT_API_BASE`]; tests
    /// point it at a fake); `timeout` bounds each request. Nothing is sent
    /// yet.
    pub fn new(api_base: &str, timeout: Duration) -> Result<Self, GoogleError> {
        let mut base = Url::parse(api_base.trim())
            .map_err(|e| GoogleError::BadUrl(format!("{}: {e}", api_base.trim())))?;
        if !base.username().is_empty() || base.password().is_some() {
            return Err(GoogleError::BadUrl(
                "the API address holds a user name or password".to_owned(),
            ));
        }
        let loopback = match base.host() {
            Some(url::Host::Ipv4(a)) => a.is_loopback(),
            Some(url::Host::Ipv6(a)) => a.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        match base.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => {
                return Err(GoogleError::BadUrl(format!(
                    "{base}: not an https:// address (http:// only on a loopback address)"
                )));
            }
        }
        if base.cannot_be_a_base() || base.host_str().is_none() {
            return Err(GoogleError::BadUrl(format!("{base}: not an API address")));
        }
        base.set_query(None);
        base.set_fragment(None);
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A redirect could carry the bearer token to another origin.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("openzero/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GoogleError::Network(chain(&e)))?;
        Ok(GoogleCalendar {
            http,
            base,
            page_size: DEFAULT_PAGE,
        })
    }

    /// The same client asking for `n` events a page (1 to 2500; calendar
    /// list pages stop at 250).
    #[must_use]
    pub fn with_page_size(mut self, n: u32) -> Self {
        self.page_size = n.clamp(1, MAX_EVENTS_PAGE);
        self
    }

    /// Every calendar of the account (calendarList.list, all pages).
    pub async fn calendars(&self, access_token: &str) -> Result<Vec<CalendarEntry>, GoogleError> {
        let url = self.endpoint(&["calendar", "v3", "users", "me", "calendarList"])?;
        let page_size = self.page_size.min(MAX_CALENDARS_PAGE).to_string();
        let mut out = Vec::new();
        let mut page: Option<String> = None;
        let mut seen_pages = HashSet::new();
        for _ in 0..MAX_PAGES {
            let mut u = url.clone();
            {
                let mut q = u.query_pairs_mut();
                q.append_pair("maxResults", &page_size);
                if let Some(p) = &page {
                    q.append_pair("pageToken", p);
                }
            }
            let body = self.get(u, access_token, Listing::Calendars).await?;
            let list: ListPage = json("calendarList.list", &body)?;
            for item in list.items.unwrap_or_default() {
                match calendar_entry(&item) {
                    Ok(Some(entry)) => out.push(entry),
                    Ok(None) => {}
                    Err(why) => {
                        tracing::warn!(%why, "google calendar: a calendar list entry skipped")
                    }
                }
            }
            match list.next_page_token {
                Some(p) if !p.is_empty() => {
                    if !seen_pages.insert(p.clone()) {
                        return Err(GoogleError::Malformed(
                            "calendarList.list gave the same page token twice".to_owned(),
                        ));
                    }
                    page = Some(p);
                }
                _ => return Ok(out),
            }
        }
        Err(GoogleError::Malformed(format!(
            "calendarList.list gave more than {MAX_PAGES} pages"
        )))
    }

    /// events.list from `sync_token` (None: full sync), all pages, with
    /// `showDeleted=true` and `singleEvents=false`, returning every changed
    /// event converted to iCalendar and the next sync token.
    /// [`GoogleError::SyncTokenExpired`] on 410: sync again with None.
    pub async fn sync(
        &self,
        access_token: &str,
        calendar_id: &str,
        sync_token: Option<&str>,
    ) -> Result<Changes, GoogleError> {
        if calendar_id.is_empty() {
            return Err(GoogleError::BadUrl("an empty calendar id".to_owned()));
        }
        let url = self.endpoint(&["calendar", "v3", "calendars", calendar_id, "events"])?;
        let page_size = self.page_size.to_string();
        let mut collected = Collected::default();
        let mut page: Option<String> = None;
        let mut seen_pages = HashSet::new();
        for _ in 0..MAX_PAGES {
            let mut u = url.clone();
            {
                let mut q = u.query_pairs_mut();
                q.append_pair("maxResults", &page_size);
                q.append_pair("showDeleted", "true");
                q.append_pair("singleEvents", "false");
                if let Some(t) = sync_token {
                    q.append_pair("syncToken", t);
                }
                if let Some(p) = &page {
                    q.append_pair("pageToken", p);
                }
            }
            let body = self.get(u, access_token, Listing::Events).await?;
            let list: ListPage = json("events.list", &body)?;
            for item in list.items.unwrap_or_default() {
                collected.add(&item);
            }
            match (list.next_page_token, list.next_sync_token) {
                (Some(p), _) if !p.is_empty() => {
                    if !seen_pages.insert(p.clone()) {
                        return Err(GoogleError::Malformed(
                            "events.list gave the same page token twice".to_owned(),
                        ));
                    }
                    page = Some(p);
                }
                (_, Some(t)) if !t.is_empty() => {
                    let changes = collected.finish(t);
                    for s in &changes.skipped {
                        tracing::warn!(calendar = %calendar_id, skipped = %s, "google calendar: an event skipped");
                    }
                    return Ok(changes);
                }
                _ => {
                    return Err(GoogleError::Malformed(
                        "the last page of events.list has no nextSyncToken".to_owned(),
                    ));
                }
            }
        }
        Err(GoogleError::Malformed(format!(
            "events.list gave more than {MAX_PAGES} pages"
        )))
    }

    /// `base` + the segments (each percent-encoded as one segment: a
    /// calendar id may hold `#` or `/`).
    fn endpoint(&self, segments: &[&str]) -> Result<Url, GoogleError> {
        let mut u = self.base.clone();
        {
            let mut path = u
                .path_segments_mut()
                .map_err(|()| GoogleError::BadUrl(format!("{}: not an API address", self.base)))?;
            path.pop_if_empty();
            for s in segments {
                path.push(s);
            }
        }
        Ok(u)
    }

    /// The one request this client makes: a GET with the bearer token.
    /// A 2xx body is returned; any other status is classified.
    async fn get(&self, url: Url, token: &str, what: Listing) -> Result<Vec<u8>, GoogleError> {
        // A token that cannot be a header value is not a token Google gave.
        if token.is_empty() || !token.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(GoogleError::Unauthorized);
        }
        let mut resp = self
            .http
            .get(url)
            .bearer_auth(token)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| GoogleError::Network(chain(&e.without_url())))?;
        let status = resp.status().as_u16();
        let retry_after = retry_after(resp.headers(), Utc::now());
        if let Some(len) = resp.content_length()
            && len > MAX_BODY as u64
        {
            return Err(GoogleError::Malformed(format!(
                "an answer of {len} bytes (more than {} MiB)",
                MAX_BODY >> 20
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| GoogleError::Network(chain(&e.without_url())))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(GoogleError::Malformed(format!(
                    "an answer of more than {} MiB",
                    MAX_BODY >> 20
                )));
            }
            body.extend_from_slice(&chunk);
        }
        if (200..300).contains(&status) {
            return Ok(body);
        }
        Err(classify(status, retry_after, &body, token, what))
    }
}

/// Which listing a request belongs to (410 means something only for events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listing {
    Calendars,
    Events,
}

/// One page of `calendarList.list` or `events.list`; items are read one
/// by one so one bad item does not spoil the page.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListPage {
    items: Option<Vec<Value>>,
    next_page_token: Option<String>,
    next_sync_token: Option<String>,
}

fn json<T: serde::de::DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, GoogleError> {
    serde_json::from_slice(body).map_err(|e| GoogleError::Malformed(format!("{what}: {e}")))
}

/// The error source chain in one line (reqwest's own message is terse).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        let _ = write!(s, ": {inner}");
        cur = inner.source();
    }
    s
}

/// Seconds to wait from a `Retry-After` header: delay-seconds or an
/// HTTP-date.
fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<u64> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(s);
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some(u64::try_from((at - now).num_seconds()).unwrap_or(0))
}

/// Google's error body: `{"error": {"code", "message", "errors": [{"domain", "reason", "message"}]}}`.
#[derive(Deserialize, Default)]
struct ErrorBody {
    error: Option<ErrorInfo>,
}

#[derive(Deserialize, Default)]
struct ErrorInfo {
    message: Option<String>,
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Deserialize, Default)]
struct ErrorItem {
    reason: Option<String>,
}

fn classify(
    status: u16,
    retry_after: Option<u64>,
    body: &[u8],
    token: &str,
    what: Listing,
) -> GoogleError {
    let info = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .and_then(|b| b.error)
        .unwrap_or_default();
    let reasons: Vec<&str> = info
        .errors
        .iter()
        .filter_map(|e| e.reason.as_deref())
        .collect();
    let rate = reasons
        .iter()
        .any(|r| matches!(*r, "rateLimitExceeded" | "userRateLimitExceeded"));
    match status {
        401 => GoogleError::Unauthorized,
        410 if what == Listing::Events => GoogleError::SyncTokenExpired,
        429 => GoogleError::RateLimited { retry_after },
        403 if rate => GoogleError::RateLimited { retry_after },
        500..=599 => GoogleError::Server(status),
        _ => {
            let mut detail = match (&info.message, reasons.first()) {
                (Some(m), Some(r)) => format!("{m} ({r})"),
                (Some(m), None) => m.clone(),
                (None, Some(r)) => (*r).to_owned(),
                (None, None) => String::from_utf8_lossy(body).into_owned(),
            };
            // A server echoing the request must not put the token in an error.
            detail = detail.replace(token, "[token]");
            let mut clean: String = detail
                .chars()
                .filter(|c| !c.is_control())
                .take(MAX_DETAIL)
                .collect();
            if clean.trim().is_empty() {
                clean = "no details".to_owned();
            }
            GoogleError::Http {
                status,
                detail: clean,
            }
        }
    }
}

/// A `calendarListEntry`, `None` when it is marked deleted.
fn calendar_entry(item: &Value) -> Result<Option<CalendarEntry>, String> {
    let obj = item
        .as_object()
        .ok_or_else(|| "an entry that is not an object".to_owned())?;
    let id = string(obj, "id")?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| "an entry without an id".to_owned())?;
    if obj.get("deleted").and_then(Value::as_bool) == Some(true) {
        return Ok(None);
    }
    let name = string(obj, "summaryOverride")?
        .filter(|s| !s.trim().is_empty())
        .or(string(obj, "summary")?.filter(|s| !s.trim().is_empty()))
        .unwrap_or(id);
    Ok(Some(CalendarEntry {
        id: id.to_owned(),
        name: name.trim().to_owned(),
        time_zone: string(obj, "timeZone")?.map(str::to_owned),
        primary: obj.get("primary").and_then(Value::as_bool) == Some(true),
        color: string(obj, "backgroundColor")?.map(str::to_owned),
        access_role: string(obj, "accessRole")?.map(str::to_owned),
    }))
}

/// The changes of one sync as they arrive; a later version of an event wins.
#[derive(Default)]
struct Collected {
    by_id: BTreeMap<String, Outcome>,
    /// Items without an id (nothing to name them by).
    nameless: Vec<String>,
}

enum Outcome {
    /// The iCalendar text, and the series id when this is a cancelled
    /// instance (dropped with its series if that is deleted too).
    Put(String, Option<String>),
    Removed,
    Ignored,
    Skipped(String),
}

impl Collected {
    fn add(&mut self, item: &Value) {
        let Some(id) = item
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        else {
            self.nameless.push("an event without an id".to_owned());
            return;
        };
        let outcome = match convert(item) {
            Ok(Conversion::Put(ics)) => {
                let cancelled_of = item
                    .get("status")
                    .and_then(Value::as_str)
                    .filter(|s| *s == "cancelled")
                    .and_then(|_| item.get("recurringEventId"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                Outcome::Put(ics, cancelled_of)
            }
            Ok(Conversion::Removed) => Outcome::Removed,
            Ok(Conversion::Ignored) => Outcome::Ignored,
            Err(why) => Outcome::Skipped(why),
        };
        self.by_id.insert(id.to_owned(), outcome);
    }

    fn finish(self, next_sync_token: String) -> Changes {
        let removed_now: HashSet<&str> = self
            .by_id
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Removed))
            .map(|(id, _)| id.as_str())
            .collect();
        let mut changes = Changes {
            next_sync_token,
            skipped: self.nameless.clone(),
            ..Changes::default()
        };
        for (id, outcome) in &self.by_id {
            match outcome {
                // A cancelled instance of a series deleted in the same
                // changes is deleted, not an exception to keep.
                Outcome::Put(_, Some(series)) if removed_now.contains(series.as_str()) => {
                    changes.removed.push(id.clone());
                }
                Outcome::Put(ics, _) => changes.put.push((id.clone(), ics.clone())),
                Outcome::Removed => changes.removed.push(id.clone()),
                Outcome::Ignored => {}
                Outcome::Skipped(why) => changes.skipped.push(format!("event {id}: {why}")),
            }
        }
        changes
    }
}

mod event;
pub use event::event_to_ics;
use event::*;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
