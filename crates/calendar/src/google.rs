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

/// What one Google event becomes.
enum Conversion {
    Put(String),
    /// Deleted (`status: cancelled`, not an instance of a series).
    Removed,
    /// Not shown (a working location is not something the owner attends).
    Ignored,
}

/// One Google event as a VCALENDAR text with one VEVENT (CRLF lines,
/// folded at 75 octets, TEXT values escaped per RFC 5545; UID as the module
/// docs say, no VTIMEZONE: TZIDs are IANA names). `Ok(None)` for
/// an event that is not shown: a deleted one (cancelled, not an instance of
/// a series) or a working location; `Err` says why it cannot be read.
pub fn event_to_ics(event: &Value) -> Result<Option<String>, String> {
    match convert(event)? {
        Conversion::Put(ics) => Ok(Some(ics)),
        Conversion::Removed | Conversion::Ignored => Ok(None),
    }
}

fn convert(event: &Value) -> Result<Conversion, String> {
    let obj = event
        .as_object()
        .ok_or_else(|| "not a JSON object".to_owned())?;
    let id = string(obj, "id")?.filter(|s| !s.is_empty());
    let status = string(obj, "status")?;
    let series = string(obj, "recurringEventId")?.filter(|s| !s.is_empty());
    let cancelled = status == Some("cancelled");
    if cancelled && series.is_none() {
        return Ok(Conversion::Removed);
    }
    if string(obj, "eventType")? == Some("workingLocation") {
        return Ok(Conversion::Ignored);
    }
    // The UID is the series' Google event id, not its iCalUID: a cancelled
    // instance is only sure to carry `id`, `recurringEventId` and
    // `originalStartTime`, so only the id ties it to its series in every
    // sync (the master need not be among the same changes).
    let ical_uid = string(obj, "iCalUID")?.filter(|s| !s.is_empty());
    let uid = series
        .or(id)
        .or(ical_uid)
        .ok_or_else(|| "no id".to_owned())?;

    let original = match series {
        Some(_) => Some(
            date_time(obj, "originalStartTime")?
                .ok_or_else(|| "an instance of a series without originalStartTime".to_owned())?,
        ),
        None => None,
    };
    let start = match (date_time(obj, "start")?, &original) {
        (Some(s), _) => s,
        // A cancelled instance keeps only its original start.
        (None, Some(o)) if cancelled => o.clone(),
        (None, _) => return Err("no start".to_owned()),
    };
    let end = date_time(obj, "end")?;
    let recurrence = match (series, obj.get("recurrence")) {
        (None, Some(Value::Array(lines))) => lines
            .iter()
            .map(|l| {
                l.as_str()
                    .ok_or_else(|| "a recurrence line that is not a string".to_owned())
                    .and_then(recurrence_line)
            })
            .collect::<Result<Vec<&str>, String>>()?,
        (None, Some(Value::Null) | None) | (Some(_), _) => Vec::new(),
        (None, Some(_)) => return Err("recurrence is not a list".to_owned()),
    };

    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, "PRODID:-//OpenZero//Google Calendar//EN");
    line(&mut out, "BEGIN:VEVENT");
    line(&mut out, &format!("UID:{}", escape(uid)));
    if let Some(u) = ical_uid {
        line(&mut out, &format!("X-GOOGLE-ICALUID:{}", escape(u)));
    }
    let stamp = [string(obj, "updated")?, string(obj, "created")?]
        .into_iter()
        .flatten()
        .find_map(utc_stamp)
        .unwrap_or_else(|| "19700101T000000Z".to_owned());
    line(&mut out, &format!("DTSTAMP:{stamp}"));
    line(&mut out, &format!("DTSTART{start}"));
    if let Some(e) = end {
        line(&mut out, &format!("DTEND{e}"));
    }
    if let Some(o) = &original {
        line(&mut out, &format!("RECURRENCE-ID{o}"));
    }
    for r in recurrence {
        line(&mut out, r);
    }
    for (prop, field) in [
        ("SUMMARY", "summary"),
        ("LOCATION", "location"),
        ("DESCRIPTION", "description"),
    ] {
        if let Some(v) = string(obj, field)?.filter(|s| !s.is_empty()) {
            line(&mut out, &format!("{prop}:{}", escape(v)));
        }
    }
    match status {
        Some("cancelled") => line(&mut out, "STATUS:CANCELLED"),
        Some("tentative") => line(&mut out, "STATUS:TENTATIVE"),
        Some("confirmed") => line(&mut out, "STATUS:CONFIRMED"),
        _ => {}
    }
    match string(obj, "transparency")? {
        Some("transparent") => line(&mut out, "TRANSP:TRANSPARENT"),
        Some("opaque") => line(&mut out, "TRANSP:OPAQUE"),
        _ => {}
    }
    if let Some(n) = obj.get("sequence").and_then(Value::as_u64) {
        line(&mut out, &format!("SEQUENCE:{n}"));
    }
    if let Some(c) = string(obj, "created")?.and_then(utc_stamp) {
        line(&mut out, &format!("CREATED:{c}"));
    }
    if let Some(u) = string(obj, "updated")?.and_then(utc_stamp) {
        line(&mut out, &format!("LAST-MODIFIED:{u}"));
    }
    line(&mut out, "END:VEVENT");
    line(&mut out, "END:VCALENDAR");
    Ok(Conversion::Put(out))
}

/// A string field; absent or `null` is `None`, another type an error.
fn string<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{name} is not a string")),
    }
}

/// An `EventDateTime` (`start`, `end`, `originalStartTime`) as the
/// parameters and value of a date-time property, e.g.
/// `;TZID=Europe/Berlin:20260330T090000`, `:20260331T143000Z` or
/// `;VALUE=DATE:20260403`. `None` when the field is absent.
fn date_time(obj: &Map<String, Value>, field: &str) -> Result<Option<String>, String> {
    let edt = match obj.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(o)) => o,
        Some(_) => return Err(format!("{field} is not an object")),
    };
    let named = |what: &str| format!("{field}.{what}");
    let zone: Option<Tz> = string(edt, "timeZone")
        .map_err(|e| format!("{field}.{e}"))?
        .and_then(|z| z.parse().ok());
    if let Some(dt) = string(edt, "dateTime").map_err(|e| format!("{field}.{e}"))? {
        let dt = dt.trim();
        if let Ok(at) = DateTime::parse_from_rfc3339(dt) {
            let at = at.with_timezone(&Utc);
            return Ok(Some(match zone.filter(|z| !is_utc(*z)) {
                Some(z) => format!(
                    ";TZID={}:{}",
                    z.name(),
                    at.with_timezone(&z).format("%Y%m%dT%H%M%S")
                ),
                None => format!(":{}", at.format("%Y%m%dT%H%M%SZ")),
            }));
        }
        // Without an offset the time is on the wall clock of `timeZone`.
        let local = NaiveDateTime::parse_from_str(dt, "%Y-%m-%dT%H:%M:%S%.f")
            .map_err(|_| format!("{} {dt:?} is not an RFC 3339 time", named("dateTime")))?;
        return match zone {
            Some(z) if is_utc(z) => Ok(Some(format!(":{}", local.format("%Y%m%dT%H%M%SZ")))),
            Some(z) => Ok(Some(format!(
                ";TZID={}:{}",
                z.name(),
                local.format("%Y%m%dT%H%M%S")
            ))),
            None => Err(format!(
                "{} {dt:?} has no offset and no known timeZone",
                named("dateTime")
            )),
        };
    }
    if let Some(d) = string(edt, "date").map_err(|e| format!("{field}.{e}"))? {
        let day = NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
            .map_err(|_| format!("{} {d:?} is not a date", named("date")))?;
        return Ok(Some(format!(";VALUE=DATE:{}", day.format("%Y%m%d"))));
    }
    Err(format!("{field} has neither date nor dateTime"))
}

fn is_utc(z: Tz) -> bool {
    matches!(
        z.name(),
        "UTC" | "Etc/UTC" | "Etc/UCT" | "UCT" | "Etc/Universal" | "Universal" | "Etc/Zulu" | "Zulu"
    )
}

/// An RFC 3339 time as an iCalendar UTC date-time.
fn utc_stamp(s: &str) -> Option<String> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc).format("%Y%m%dT%H%M%SZ").to_string())
}

/// One `recurrence` entry, copied as it is when it is an RRULE, EXRULE,
/// RDATE or EXDATE content line (anything else, or a line break inside,
/// could change the calendar's structure).
fn recurrence_line(l: &str) -> Result<&str, String> {
    let shown: String = l.chars().take(80).collect();
    if l.chars().any(char::is_control) {
        return Err(format!(
            "a recurrence line with a control character: {shown:?}"
        ));
    }
    let name = l.split([';', ':']).next().unwrap_or_default();
    let known = ["RRULE", "EXRULE", "RDATE", "EXDATE"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(name));
    if !known || !l.contains(':') {
        return Err(format!("not a recurrence line: {shown:?}"));
    }
    Ok(l)
}

/// A TEXT value escaped (RFC 5545 §3.3.11): backslash, semicolon, comma,
/// line breaks as `\n`; other control characters dropped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends a content line, folded so no line is longer than 75 octets
/// (RFC 5545 §3.1; never inside a UTF-8 sequence), ended by CRLF.
fn line(out: &mut String, content: &str) {
    let mut used = 0;
    for c in content.chars() {
        let n = c.len_utf8();
        if used + n > 75 {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += n;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ics(v: Value) -> String {
        event_to_ics(&v)
            .expect("readable")
            .expect("an event that is shown")
    }

    #[test]
    fn only_get_is_ever_sent() {
        let source = include_str!("google.rs");
        let lower = source.to_lowercase();
        for name in [
            ["po", "st"],
            ["p", "ut"],
            ["pat", "ch"],
            ["del", "ete"],
            ["req", "uest"],
        ] {
            let name = name.concat();
            let upper = name.to_uppercase();
            for needle in [
                format!(".{name}("),
                format!("method::{name}"),
                format!("\"{name}\""),
            ] {
                assert!(!lower.contains(&needle), "google.rs names {needle}");
            }
            assert!(
                !source.contains(&["Method::", upper.as_str()].concat()),
                "google.rs names the method {upper}"
            );
        }
        assert!(!source.contains(&["Method::", "from_bytes"].concat()));
        // The client is used in one place, for a GET.
        let field = [".ht", "tp"].concat();
        let uses: Vec<&str> = source.split(&field).skip(1).collect();
        assert_eq!(uses.len(), 1, "{uses:?}");
        assert!(uses[0].trim_start().starts_with(".get(url)"));
    }

    #[test]
    fn text_is_escaped_and_lines_are_folded_at_75_octets() {
        assert_eq!(escape("a,b;c\\d\ne\r\nf\u{7}g"), "a\\,b\\;c\\\\d\\ne\\nfg");
        let mut out = String::new();
        let long = format!("SUMMARY:{}", "ä".repeat(100));
        line(&mut out, &long);
        for l in out.trim_end_matches("\r\n").split("\r\n") {
            assert!(l.len() <= 75, "{} octets", l.len());
        }
        assert_eq!(out.replace("\r\n ", ""), format!("{long}\r\n"));
    }

    #[test]
    fn times_follow_the_zone_given() {
        let e = ics(json!({
            "id": "a", "iCalUID": "a@google.com",
            "start": {"dateTime": "2026-03-30T07:00:00Z", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-03-30T10:00:00", "timeZone": "Europe/Berlin"},
        }));
        assert!(
            e.contains("\r\nDTSTART;TZID=Europe/Berlin:20260330T090000\r\n"),
            "{e}"
        );
        assert!(
            e.contains("\r\nDTEND;TZID=Europe/Berlin:20260330T100000\r\n"),
            "{e}"
        );
        let e = ics(json!({
            "id": "b",
            "start": {"dateTime": "2026-03-30T09:00:00+02:00", "timeZone": "Not/AZone"},
            "end": {"dateTime": "2026-03-30T09:30:00.500+02:00", "timeZone": "UTC"},
        }));
        assert!(e.contains("\r\nUID:b\r\n"), "{e}");
        assert!(e.contains("\r\nDTSTART:20260330T070000Z\r\n"), "{e}");
        assert!(e.contains("\r\nDTEND:20260330T073000Z\r\n"), "{e}");
        let err = event_to_ics(&json!({"id": "c", "start": {"dateTime": "2026-03-30T09:00:00"}}))
            .expect_err("no zone");
        assert!(err.contains("no offset"), "{err}");
        let err = event_to_ics(&json!({"id": "d", "start": {"date": "30.03.2026"}}))
            .expect_err("bad date");
        assert!(err.contains("not a date"), "{err}");
    }

    #[test]
    fn working_locations_and_deletions_are_not_shown_but_focus_time_is() {
        let base =
            json!({"id": "w", "start": {"date": "2026-03-30"}, "end": {"date": "2026-03-31"}});
        let mut w = base.clone();
        w["eventType"] = json!("workingLocation");
        assert_eq!(event_to_ics(&w), Ok(None));
        let mut f = base.clone();
        f["eventType"] = json!("focusTime");
        assert!(event_to_ics(&f).expect("ok").is_some());
        let mut o = base;
        o["eventType"] = json!("outOfOffice");
        assert!(event_to_ics(&o).expect("ok").is_some());
        assert_eq!(
            event_to_ics(&json!({"id": "x", "status": "cancelled"})),
            Ok(None)
        );
    }

    #[test]
    fn recurrence_lines_cannot_break_out_of_the_event() {
        let ev = |r: Value| json!({"id": "r", "start": {"dateTime": "2026-03-30T09:00:00Z"}, "recurrence": r});
        assert!(event_to_ics(&ev(json!(["RRULE:FREQ=DAILY\r\nEND:VEVENT"]))).is_err());
        assert!(event_to_ics(&ev(json!(["SUMMARY:sneaky"]))).is_err());
        assert!(event_to_ics(&ev(json!(["RRULE"]))).is_err());
        assert!(event_to_ics(&ev(json!([7]))).is_err());
        let ok = ics(ev(json!([
            "RRULE:FREQ=WEEKLY;BYDAY=MO",
            "exdate;TZID=Europe/Berlin:20260406T090000"
        ])));
        assert!(ok.contains("\r\nRRULE:FREQ=WEEKLY;BYDAY=MO\r\n"));
        assert!(ok.contains("\r\nexdate;TZID=Europe/Berlin:20260406T090000\r\n"));
    }

    #[test]
    fn a_cancelled_instance_of_a_series_deleted_in_the_same_sync_is_removed() {
        let mut c = Collected::default();
        c.add(&json!({"id": "m", "status": "cancelled"}));
        c.add(&json!({
            "id": "m_20260330T070000Z", "status": "cancelled", "recurringEventId": "m",
            "originalStartTime": {"dateTime": "2026-03-30T09:00:00+02:00", "timeZone": "Europe/Berlin"}
        }));
        c.add(&json!({
            "id": "n_20260330T070000Z", "status": "cancelled", "recurringEventId": "n",
            "originalStartTime": {"dateTime": "2026-03-30T09:00:00+02:00"}
        }));
        c.add(&json!({"summary": "no id"}));
        c.add(&json!({"id": "bad", "start": {"dateTime": 5}}));
        let ch = c.finish("t".to_owned());
        assert_eq!(ch.removed, ["m", "m_20260330T070000Z"]);
        assert_eq!(ch.put.len(), 1);
        assert_eq!(ch.put[0].0, "n_20260330T070000Z");
        assert!(ch.put[0].1.contains("\r\nUID:n\r\n"));
        assert!(
            ch.put[0]
                .1
                .contains("\r\nRECURRENCE-ID:20260330T070000Z\r\n")
        );
        assert!(ch.put[0].1.contains("\r\nDTSTART:20260330T070000Z\r\n"));
        assert_eq!(ch.skipped.len(), 2, "{:?}", ch.skipped);
        assert!(ch.skipped[1].starts_with("event bad: start.dateTime"));
    }

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        let now = DateTime::parse_from_rfc3339("2026-03-30T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h, now), None);
        h.insert(RETRY_AFTER, "30".parse().expect("header"));
        assert_eq!(retry_after(&h, now), Some(30));
        h.insert(
            RETRY_AFTER,
            "Mon, 30 Mar 2026 10:02:00 GMT".parse().expect("header"),
        );
        assert_eq!(retry_after(&h, now), Some(120));
        h.insert(RETRY_AFTER, "soon".parse().expect("header"));
        assert_eq!(retry_after(&h, now), None);
    }

    #[test]
    fn errors_are_classified_and_never_hold_the_token() {
        let body = br#"{"error":{"errors":[{"domain":"usageLimits","reason":"userRateLimitExceeded","message":"User Rate Limit Exceeded"}],"code":403,"message":"User Rate Limit Exceeded"}}"#;
        assert_eq!(
            classify(403, Some(3), body, "tok", Listing::Events),
            GoogleError::RateLimited {
                retry_after: Some(3)
            }
        );
        assert_eq!(
            classify(410, None, b"", "tok", Listing::Events),
            GoogleError::SyncTokenExpired
        );
        assert!(matches!(
            classify(410, None, b"", "tok", Listing::Calendars),
            GoogleError::Http { status: 410, .. }
        ));
        assert_eq!(
            classify(503, None, b"", "tok", Listing::Events),
            GoogleError::Server(503)
        );
        let e = classify(
            400,
            None,
            b"bad token secret-123",
            "secret-123",
            Listing::Events,
        );
        assert!(!e.to_string().contains("secret-123"), "{e}");
        let forbidden = br#"{"error":{"errors":[{"domain":"global","reason":"forbidden","message":"Forbidden"}],"code":403,"message":"Forbidden"}}"#;
        assert_eq!(
            classify(403, None, forbidden, "tok", Listing::Events),
            GoogleError::Http {
                status: 403,
                detail: "Forbidden (forbidden)".to_owned()
            }
        );
    }

    #[test]
    fn addresses_are_checked() {
        let t = Duration::from_secs(5);
        assert!(GoogleCalendar::new(DEFAULT_API_BASE, t).is_ok());
        assert!(GoogleCalendar::new("http://127.0.0.1:9/", t).is_ok());
        assert!(matches!(
            GoogleCalendar::new("http://www.googleapis.com/", t),
            Err(GoogleError::BadUrl(_))
        ));
        assert!(matches!(
            GoogleCalendar::new("https://u:p@www.googleapis.com/", t),
            Err(GoogleError::BadUrl(_))
        ));
        let g = GoogleCalendar::new("https://example.com/api", t).expect("client");
        let u = g
            .endpoint(&["calendar", "v3", "calendars", "a#b/c@d", "events"])
            .expect("url");
        assert_eq!(
            u.as_str(),
            "https://example.com/api/calendar/v3/calendars/a%23b%2Fc@d/events"
        );
    }
}
