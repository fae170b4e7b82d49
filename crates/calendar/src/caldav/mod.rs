//! A read-only CalDAV client: discovery (RFC 5397 current-user-principal,
//! RFC 4791 calendar-home-set, RFC 6764 well-known), changes by
//! sync-collection (RFC 6578) or by comparing etags, and resources by
//! calendar-multiget or a calendar-query over a time range.
//!
//! Hrefs are given back in one canonical form, so the same resource always
//! has the same string whatever encoding the server used: the path, each
//! segment percent-decoded and encoded again with one fixed set (`%20` for a
//! space, `%C3%A4` for `ä`, `%2F` for a slash inside a segment), prefixed by
//! `scheme://host[:port]` only when the resource is on another origin than
//! the base URL. Hrefs are resolved against the URL that answered (after
//! redirects). The caller passes these strings back as they are.
//!
//! **Invariants:** read-only by construction — the only request methods in
//! this file are PROPFIND and REPORT, built once in [`CalDav::new`] (a test
//! reads this file); the password goes only into the Basic authorization
//! header (marked sensitive by reqwest), never into `Debug`, errors or logs,
//! and only to the base URL's origin or over https; nothing the server sends
//! can panic: what cannot be read is [`CalDavError::Malformed`].

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, percent_encode};
use quick_xml::NsReader;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode};
use url::Url;

const DAV: &str = "DAV:";
const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
const CALSERVER: &str = "http://calendarserver.org/ns/";
const APPLE_ICAL: &str = "http://apple.com/ns/ical/";

/// Hrefs asked for in one calendar-multiget.
const MULTIGET_BATCH: usize = 50;
/// Redirects followed for one request (well-known usually needs one).
const MAX_REDIRECTS: usize = 5;
/// The largest answer read (a PROPFIND of etags on 100 000 events is ~30 MiB).
const MAX_BODY: usize = 64 << 20;
/// Deeper XML is refused (a multistatus is 6 levels deep).
const MAX_DEPTH: usize = 64;
/// sync-collection rounds followed when the server truncates (507).
const MAX_SYNC_ROUNDS: usize = 100;

/// Segment bytes left as they are in a canonical href; every other byte
/// (including `%` and `/`) is `%XX`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// What went wrong talking to a CalDAV server. No variant carries the
/// password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalDavError {
    /// HTTP 401.
    #[error("the server refused the user name or password")]
    Unauthorized,
    /// The sync token is no longer valid (`DAV:valid-sync-token`): sync
    /// again with no token.
    #[error("the server no longer accepts the sync token: sync again from the start")]
    TokenInvalid,
    /// The server does not offer what was asked (e.g. sync-collection):
    /// fall back (compare etags).
    #[error("the server does not support {0}")]
    Unsupported(String),
    /// An HTTP status this client does not expect for the request.
    #[error("the server answered HTTP {status} for {url}")]
    Http { status: u16, url: String },
    /// No answer: connection refused, DNS, TLS, timeout.
    #[error("could not reach the calendar server: {0}")]
    Network(String),
    /// An answer this client cannot read (XML, an href, a status line).
    #[error("the calendar server's answer could not be read: {0}")]
    Malformed(String),
    /// An address that cannot be used.
    #[error("not a usable address: {0}")]
    BadUrl(String),
}

/// A calendar collection found by [`CalDav::discover`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCalendar {
    /// Canonical href of the collection (see the module docs).
    pub href: String,
    /// `displayname`, or the last path segment when the server gives none.
    pub name: String,
    /// `CS:getctag`, when the server has one.
    pub ctag: Option<String>,
    /// `DAV:sync-token`, when the server has one.
    pub sync_token: Option<String>,
    /// Apple's `calendar-color` as the server gives it (e.g. `#FF0000FF`).
    pub color: Option<String>,
}

/// What changed in a calendar since a sync token.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncChanges {
    /// Resources added or changed: href and new etag (empty when the server
    /// gave none — fetch it then).
    pub changed: Vec<(String, String)>,
    /// Resources removed.
    pub removed: Vec<String>,
    /// The token to pass next time.
    pub token: String,
}

/// One calendar object resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Canonical href.
    pub href: String,
    /// Its etag as the server gives it (quotes kept); empty when the server
    /// gave none.
    pub etag: String,
    /// The iCalendar text.
    pub ics: String,
}

/// The answer of [`CalDav::fetch`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fetched {
    /// The resources the server returned.
    pub resources: Vec<Resource>,
    /// Hrefs the server answered 404 (or 410): gone.
    pub missing: Vec<String>,
    /// Hrefs answered with another error, or not answered at all: neither
    /// returned nor known to be gone; ask again later.
    pub failed: Vec<String>,
}

/// A read-only CalDAV client for one account.
pub struct CalDav {
    http: reqwest::Client,
    base: Url,
    user: String,
    password: String,
    propfind: Method,
    report: Method,
}

impl fmt::Debug for CalDav {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CalDav")
            .field("base", &self.base.as_str())
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// An HTTP answer read whole.
struct Answer {
    status: StatusCode,
    /// The URL that answered (after redirects): hrefs resolve against it.
    url: Url,
    body: Vec<u8>,
}

impl CalDav {
    /// A client for the server at `base_url` (e.g.
    /// `https://cloud.example.com/remote.php/dav/`), logging in as `user`;
    /// `timeout` bounds each request. Nothing is sent yet.
    pub fn new(
        base_url: &str,
        user: &str,
        password: &str,
        timeout: Duration,
    ) -> Result<CalDav, CalDavError> {
        let base_url = base_url.trim();
        let mut base = Url::parse(base_url).map_err(|e| {
            // An address with a user part may hold a password: not echoed.
            if base_url.contains('@') {
                CalDavError::BadUrl(format!("the calendar server address: {e}"))
            } else {
                CalDavError::BadUrl(format!("{base_url}: {e}"))
            }
        })?;
        if !base.username().is_empty() || base.password().is_some() {
            return Err(CalDavError::BadUrl(
                "the calendar server address holds a user name or password: give them separately"
                    .to_owned(),
            ));
        }
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(CalDavError::BadUrl(format!(
                "{base}: not an http:// or https:// address"
            )));
        }
        base.set_fragment(None);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("openzero/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CalDavError::Network(chain(&e)))?;
        Ok(CalDav {
            http,
            base,
            user: user.to_owned(),
            password: password.to_owned(),
            propfind: Method::from_bytes(b"PROPFIND").map_err(invalid_method)?,
            report: Method::from_bytes(b"REPORT").map_err(invalid_method)?,
        })
    }

    /// The calendars holding events: current-user-principal (on the base
    /// URL, else `/.well-known/caldav`, else the base URL taken as the
    /// principal), its calendar-home-set, then every collection there whose
    /// resourcetype has `C:calendar` and whose
    /// supported-calendar-component-set has VEVENT or is not given.
    pub async fn discover(&self) -> Result<Vec<RemoteCalendar>, CalDavError> {
        let principal = self.principal().await?;
        let homes = self.homes(&principal).await?;
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for home in homes {
            for cal in self.calendars_in(&home).await? {
                if seen.insert(cal.href.clone()) {
                    out.push(cal);
                }
            }
        }
        Ok(out)
    }

    /// What changed since `token` (None: everything, as changes), by
    /// REPORT sync-collection. [`CalDavError::TokenInvalid`]: sync again
    /// with None; [`CalDavError::Unsupported`]: use [`CalDav::etags`].
    pub async fn sync(
        &self,
        calendar_href: &str,
        token: Option<&str>,
    ) -> Result<SyncChanges, CalDavError> {
        let url = self.target(calendar_href)?;
        let own = self.href_of(&url);
        // href -> Some(etag) changed, None removed; a later round wins.
        let mut seen: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut token = token.map(str::to_owned);
        let mut last = String::new();
        for _ in 0..MAX_SYNC_ROUNDS {
            let answer = self
                .send(&self.report, url.clone(), "0", sync_body(token.as_deref()))
                .await?;
            match answer.status.as_u16() {
                200 | 207 => {}
                403 | 409 if token.is_some() && precondition(&answer.body, "valid-sync-token") => {
                    return Err(CalDavError::TokenInvalid);
                }
                s @ (400 | 403 | 405 | 415 | 501) => {
                    return Err(CalDavError::Unsupported(format!(
                        "sync-collection (RFC 6578) on {url} (it answered HTTP {s})"
                    )));
                }
                s => return Err(http_error(s, &answer.url)),
            }
            let ms = self.multistatus(&answer)?;
            let mut truncated = false;
            for r in ms.responses {
                if same_collection(&r.href, &own) {
                    truncated |= r.status == Some(507);
                    continue;
                }
                if r.href.ends_with('/') {
                    continue; // a member collection, not an event
                }
                match r.status {
                    Some(404 | 410) => {
                        seen.insert(r.href, None);
                    }
                    Some(s) if !(200..300).contains(&s) => {
                        tracing::warn!(href = %r.href, status = s, "sync-collection: skipped a member");
                    }
                    _ => {
                        let etag = r.text(DAV, "getetag").unwrap_or_default();
                        seen.insert(r.href, Some(etag));
                    }
                }
            }
            last = ms.sync_token.ok_or_else(|| {
                CalDavError::Malformed(format!(
                    "no sync-token in the sync-collection answer from {url}"
                ))
            })?;
            if !truncated {
                break;
            }
            token = Some(last.clone());
        }
        let mut changes = SyncChanges {
            token: last,
            ..SyncChanges::default()
        };
        for (href, etag) in seen {
            match etag {
                Some(etag) => changes.changed.push((href, etag)),
                None => changes.removed.push(href),
            }
        }
        Ok(changes)
    }

    /// Every resource in the calendar and its etag (PROPFIND Depth 1), for
    /// servers without sync-collection. The etag is empty when the server
    /// gave none.
    pub async fn etags(&self, calendar_href: &str) -> Result<Vec<(String, String)>, CalDavError> {
        let url = self.target(calendar_href)?;
        let own = self.href_of(&url);
        let answer = self
            .send(&self.propfind, url, "1", ETAGS_BODY.to_owned())
            .await?;
        expect_multistatus(&answer)?;
        let ms = self.multistatus(&answer)?;
        let mut out = Vec::new();
        for r in ms.responses {
            let collection = r
                .prop(DAV, "resourcetype")
                .is_some_and(|t| t.child(DAV, "collection").is_some());
            if same_collection(&r.href, &own) || collection || r.href.ends_with('/') {
                continue;
            }
            if r.status.is_some_and(|s| !(200..300).contains(&s)) {
                continue;
            }
            let etag = r.text(DAV, "getetag").unwrap_or_default();
            out.push((r.href, etag));
        }
        Ok(out)
    }

    /// The resources at `hrefs` (REPORT calendar-multiget, 50 hrefs a
    /// request).
    pub async fn fetch(
        &self,
        calendar_href: &str,
        hrefs: &[String],
    ) -> Result<Fetched, CalDavError> {
        let url = self.target(calendar_href)?;
        let mut fetched = Fetched::default();
        for batch in hrefs.chunks(MULTIGET_BATCH) {
            let mut wanted: Vec<String> = Vec::with_capacity(batch.len());
            for href in batch {
                let canonical = self.href_of(&self.target(href)?);
                if !wanted.contains(&canonical) {
                    wanted.push(canonical);
                }
            }
            let answer = self
                .send(&self.report, url.clone(), "1", multiget_body(&wanted))
                .await?;
            match answer.status.as_u16() {
                200 | 207 => {}
                s @ (403 | 405 | 501) => {
                    return Err(CalDavError::Unsupported(format!(
                        "calendar-multiget (RFC 4791) on {url} (it answered HTTP {s})"
                    )));
                }
                s => return Err(http_error(s, &answer.url)),
            }
            let mut pending: HashSet<String> = wanted.iter().cloned().collect();
            for r in self.multistatus(&answer)?.responses {
                if !pending.remove(&r.href) {
                    tracing::debug!(href = %r.href, "calendar-multiget: an href not asked for");
                    continue;
                }
                match r.into_resource() {
                    Outcome::Found(res) => fetched.resources.push(res),
                    Outcome::Gone(href) => fetched.missing.push(href),
                    Outcome::Failed(href, status) => {
                        tracing::warn!(%href, status, "calendar-multiget: not returned");
                        fetched.failed.push(href);
                    }
                }
            }
            // Not answered at all: in the order asked.
            fetched
                .failed
                .extend(wanted.into_iter().filter(|h| pending.contains(h)));
        }
        Ok(fetched)
    }

    /// The resources with a VEVENT overlapping [`start`, `end`) (REPORT
    /// calendar-query with a time-range; the server expands recurrences to
    /// decide, and returns the whole resource).
    pub async fn query_range(
        &self,
        calendar_href: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<Resource>, CalDavError> {
        let url = self.target(calendar_href)?;
        let own = self.href_of(&url);
        let answer = self
            .send(&self.report, url.clone(), "1", query_body(start, end))
            .await?;
        match answer.status.as_u16() {
            200 | 207 => {}
            s @ (403 | 405 | 501) => {
                return Err(CalDavError::Unsupported(format!(
                    "calendar-query (RFC 4791) on {url} (it answered HTTP {s})"
                )));
            }
            s => return Err(http_error(s, &answer.url)),
        }
        let mut out = Vec::new();
        for r in self.multistatus(&answer)?.responses {
            if same_collection(&r.href, &own) {
                continue;
            }
            match r.into_resource() {
                Outcome::Found(res) => out.push(res),
                Outcome::Gone(_) => {}
                Outcome::Failed(href, status) => {
                    tracing::warn!(%href, status, "calendar-query: a match came back without data");
                }
            }
        }
        Ok(out)
    }

    async fn principal(&self) -> Result<Url, CalDavError> {
        let first = self.current_user_principal(self.base.clone()).await;
        let first_err = match first {
            Ok(Some(url)) => return Ok(url),
            Err(e @ (CalDavError::Unauthorized | CalDavError::Network(_))) => return Err(e),
            Ok(None) => None,
            Err(e) => Some(e),
        };
        let well_known = self
            .base
            .join("/.well-known/caldav")
            .map_err(|e| CalDavError::BadUrl(format!("{}: {e}", self.base)))?;
        match self.current_user_principal(well_known).await {
            Ok(Some(url)) => Ok(url),
            Err(CalDavError::Unauthorized) => Err(CalDavError::Unauthorized),
            // Nothing there either: the base's error, or, when the base
            // answered without naming a principal, the base taken as one.
            _ => first_err.map_or_else(|| Ok(self.base.clone()), Err),
        }
    }

    async fn current_user_principal(&self, url: Url) -> Result<Option<Url>, CalDavError> {
        let answer = self
            .send(&self.propfind, url, "0", PRINCIPAL_BODY.to_owned())
            .await?;
        expect_multistatus(&answer)?;
        let ms = self.multistatus(&answer)?;
        for r in &ms.responses {
            if let Some(href) = r
                .prop(DAV, "current-user-principal")
                .and_then(|p| p.child(DAV, "href"))
            {
                return self.resolve(&answer.url, href.text.trim()).map(Some);
            }
        }
        Ok(None)
    }

    async fn homes(&self, principal: &Url) -> Result<Vec<Url>, CalDavError> {
        let answer = self
            .send(&self.propfind, principal.clone(), "0", HOME_BODY.to_owned())
            .await?;
        expect_multistatus(&answer)?;
        let ms = self.multistatus(&answer)?;
        let mut homes = Vec::new();
        for r in &ms.responses {
            if let Some(set) = r.prop(CALDAV, "calendar-home-set") {
                for href in set.children_named(DAV, "href") {
                    homes.push(self.resolve(&answer.url, href.text.trim())?);
                }
            }
        }
        if homes.is_empty() {
            return Err(CalDavError::Unsupported(format!(
                "calendar-home-set (RFC 4791) on {principal}"
            )));
        }
        Ok(homes)
    }

    async fn calendars_in(&self, home: &Url) -> Result<Vec<RemoteCalendar>, CalDavError> {
        let own = self.href_of(home);
        let answer = self
            .send(&self.propfind, home.clone(), "1", CALENDARS_BODY.to_owned())
            .await?;
        expect_multistatus(&answer)?;
        let ms = self.multistatus(&answer)?;
        let mut out = Vec::new();
        for r in ms.responses {
            if same_collection(&r.href, &own) {
                continue;
            }
            let is_calendar = r
                .prop(DAV, "resourcetype")
                .is_some_and(|t| t.child(CALDAV, "calendar").is_some());
            let has_events = r
                .prop(CALDAV, "supported-calendar-component-set")
                .is_none_or(|set| {
                    set.children_named(CALDAV, "comp").any(|c| {
                        c.attr("name")
                            .is_some_and(|n| n.trim().eq_ignore_ascii_case("VEVENT"))
                    })
                });
            if !is_calendar || !has_events {
                continue;
            }
            // Radicale names a collection without a displayname by its path
            // (`user/calendar`): that is no name either.
            let name = r
                .text(DAV, "displayname")
                .filter(|n| {
                    !n.is_empty()
                        && !same_collection(&canonical_path(n), r.href.trim_start_matches('/'))
                })
                .unwrap_or_else(|| last_segment(&r.href));
            out.push(RemoteCalendar {
                name,
                ctag: r.text(CALSERVER, "getctag").filter(|s| !s.is_empty()),
                sync_token: r.text(DAV, "sync-token").filter(|s| !s.is_empty()),
                color: r
                    .text(APPLE_ICAL, "calendar-color")
                    .filter(|s| !s.is_empty()),
                href: r.href,
            });
        }
        Ok(out)
    }

    /// Sends one request, following redirects with the same method and
    /// body. 401 is [`CalDavError::Unauthorized`]; other statuses are the
    /// caller's to judge.
    async fn send(
        &self,
        method: &Method,
        mut url: Url,
        depth: &'static str,
        body: String,
    ) -> Result<Answer, CalDavError> {
        let mut last = StatusCode::OK;
        for _ in 0..=MAX_REDIRECTS {
            self.check_target(&url)?;
            tracing::debug!(%method, %url, depth, "caldav request");
            let resp = self
                .http
                .request(method.clone(), url.clone())
                .basic_auth(&self.user, Some(&self.password))
                .header("Depth", depth)
                .header(CONTENT_TYPE, "application/xml; charset=utf-8")
                .body(body.clone())
                .send()
                .await
                .map_err(|e| CalDavError::Network(format!("{url}: {}", chain(&e))))?;
            let status = resp.status();
            tracing::debug!(%method, %url, status = status.as_u16(), "caldav answer");
            if status == StatusCode::UNAUTHORIZED {
                return Err(CalDavError::Unauthorized);
            }
            if matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
                last = status;
                let location = resp
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| url.join(l.trim()).ok());
                match location {
                    Some(mut next) => {
                        next.set_fragment(None);
                        url = next;
                        continue;
                    }
                    None => return Err(http_error(status.as_u16(), &url)),
                }
            }
            let body = read_body(resp, &url).await?;
            return Ok(Answer { status, url, body });
        }
        Err(CalDavError::Http {
            status: last.as_u16(),
            url: format!("{url} (more than {MAX_REDIRECTS} redirects)"),
        })
    }

    /// The password is sent to the base URL's origin, or anywhere over
    /// https (servers hand out hrefs on other hosts), never in clear text to
    /// another origin.
    fn check_target(&self, url: &Url) -> Result<(), CalDavError> {
        if url.origin() == self.base.origin() || url.scheme() == "https" {
            Ok(())
        } else {
            Err(CalDavError::BadUrl(format!(
                "{url} is neither on {} nor https: the password is not sent there",
                self.base.origin().ascii_serialization()
            )))
        }
    }

    /// A caller's href (canonical or not) as a URL on the server.
    fn target(&self, href: &str) -> Result<Url, CalDavError> {
        self.resolve(&self.base, href.trim())
    }

    fn resolve(&self, against: &Url, href: &str) -> Result<Url, CalDavError> {
        let mut url = against
            .join(href)
            .map_err(|e| CalDavError::BadUrl(format!("{href}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(CalDavError::BadUrl(format!(
                "{href}: not an http(s) address"
            )));
        }
        url.set_fragment(None);
        // A user part from the server is dropped: the login is ours.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        Ok(url)
    }

    /// The canonical href of `url` (see the module docs).
    fn href_of(&self, url: &Url) -> String {
        let mut out = String::new();
        if url.origin() != self.base.origin() {
            out.push_str(&url.origin().ascii_serialization());
        }
        out.push_str(&canonical_path(url.path()));
        if let Some(q) = url.query() {
            out.push('?');
            out.push_str(q);
        }
        out
    }
}

fn invalid_method(e: impl fmt::Display) -> CalDavError {
    CalDavError::Network(e.to_string())
}

fn expect_multistatus(answer: &Answer) -> Result<(), CalDavError> {
    match answer.status.as_u16() {
        200 | 207 => Ok(()),
        s => Err(http_error(s, &answer.url)),
    }
}

fn http_error(status: u16, url: &Url) -> CalDavError {
    CalDavError::Http {
        status,
        url: url.to_string(),
    }
}

/// The error and its causes on one line (reqwest's own Display names only
/// the outermost).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        source = s.source();
    }
    out
}

async fn read_body(mut resp: reqwest::Response, url: &Url) -> Result<Vec<u8>, CalDavError> {
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| CalDavError::Network(format!("{url}: {}", chain(&e))))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(CalDavError::Malformed(format!(
                "{url}: the answer is larger than {} MiB",
                MAX_BODY >> 20
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

mod wire;
use wire::*;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
