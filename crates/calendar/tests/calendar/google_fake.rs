//! A fake Google Calendar API v3 on `127.0.0.1:0`, speaking the JSON of
//! Google's reference pages: `calendarList.list` and `events.list` with
//! paging (`maxResults` honoured, and never more than two items a page),
//! `nextSyncToken` on the last page, sync tokens that return only what
//! changed since, 410 `fullSyncRequired` once tokens are expired, 401 for
//! any other bearer token, and canned answers (429 with `Retry-After`,
//! garbage) queued by a test. Every request is recorded (method, path,
//! query, bearer) so tests can check what the client sent.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The only access token the fake accepts.
pub const TOKEN: &str = "ya29.a0AfB_fake-access-token-0123456789";
/// The owner's primary calendar (the events of [`fixture_events`]).
pub const PRIMARY: &str = "owner@example.com";
/// A calendar whose id needs percent-encoding in a path.
pub const HOLIDAYS: &str = "de.german#holiday@group.v.calendar.google.com";
/// Items on one page at most, whatever `maxResults` asks.
const PAGE_CAP: usize = 2;

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The raw (percent-encoded) path.
    pub path: String,
    pub query: Vec<(String, String)>,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

impl Recorded {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Stored {
    /// The clock value of its last change.
    changed: u64,
    event: Value,
}

/// A listing being paged through: what it returns, frozen at its first page.
struct Session {
    items: Vec<Value>,
    /// The clock when it began: its sync token stands for this.
    clock: u64,
    /// `calendar#events` or `calendar#calendarList`.
    events_of: Option<String>,
}

struct Canned {
    status: u16,
    retry_after: Option<String>,
    body: String,
}

#[derive(Default)]
struct Inner {
    calendars: Vec<Value>,
    events: BTreeMap<String, Vec<Stored>>,
    clock: u64,
    issued: u64,
    /// Sync token → the clock it stands for.
    sync_tokens: HashMap<String, u64>,
    /// Page token → (session, offset).
    pages: HashMap<String, (u64, usize)>,
    sessions: HashMap<u64, Session>,
    canned: VecDeque<Canned>,
    requests: Vec<Recorded>,
}

type Shared = Arc<Mutex<Inner>>;

/// The running fake; stops when dropped.
pub struct Fake {
    /// `http://127.0.0.1:PORT/`, the API base for the client.
    pub base: String,
    shared: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Fake {
    /// A fake holding [`fixture_calendars`] and, in [`PRIMARY`],
    /// [`fixture_events`] (and one event in [`HOLIDAYS`]).
    pub async fn start() -> Fake {
        let mut inner = Inner {
            calendars: fixture_calendars(),
            ..Inner::default()
        };
        for ev in fixture_events() {
            inner.put(PRIMARY, ev);
        }
        inner.put(
            HOLIDAYS,
            event(
                "20260406_easter_monday",
                "Ostermontag",
                json!({"date": "2026-04-06"}),
                json!({"date": "2026-04-07"}),
            ),
        );
        let shared: Shared = Arc::new(Mutex::new(inner));
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Fake {
            base: format!("http://127.0.0.1:{port}/"),
            shared,
            server,
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.lock().unwrap()
    }

    /// Adds or replaces (by id) an event of `calendar`: a change.
    pub fn put_event(&self, calendar: &str, ev: Value) {
        self.inner().put(calendar, ev);
    }

    /// Deletes an event as Google shows it afterwards: `status: cancelled`
    /// with little more than its id.
    pub fn delete_event(&self, calendar: &str, id: &str) {
        self.inner().put(
            calendar,
            json!({
                "kind": "calendar#event",
                "etag": "\"3520000000000000\"",
                "id": id,
                "status": "cancelled",
            }),
        );
    }

    /// Every sync token given so far is forgotten: the next request with one
    /// is answered 410 Gone.
    pub fn expire_sync_tokens(&self) {
        self.inner().sync_tokens.clear();
    }

    /// The next request (after the bearer check) is answered with this.
    pub fn answer_next(&self, status: u16, retry_after: Option<&str>, body: &str) {
        self.inner().canned.push_back(Canned {
            status,
            retry_after: retry_after.map(str::to_owned),
            body: body.to_owned(),
        });
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.inner().requests.clear();
    }
}

impl Inner {
    fn put(&mut self, calendar: &str, ev: Value) {
        self.clock += 1;
        let changed = self.clock;
        let list = self.events.entry(calendar.to_owned()).or_default();
        let id = ev["id"].clone();
        match list.iter_mut().find(|s| s.event["id"] == id) {
            Some(s) => *s = Stored { changed, event: ev },
            None => list.push(Stored { changed, event: ev }),
        }
    }

    fn token(&mut self, prefix: &str) -> String {
        self.issued += 1;
        format!(
            "{prefix}{}_{:08x}",
            self.issued,
            self.issued * 2_654_435_761
        )
    }
}

/// Google's error body.
fn error(status: u16, domain: &str, reason: &str, message: &str) -> Response {
    let body = json!({
        "error": {
            "errors": [{"domain": domain, "reason": reason, "message": message}],
            "code": status,
            "message": message,
        }
    });
    (
        StatusCode::from_u16(status).unwrap(),
        [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
}

fn ok(body: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut inner = shared.lock().unwrap();
    inner.requests.push(Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: query.clone(),
        authorization: authorization.clone(),
    });
    if authorization.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        return error(401, "global", "authError", "Invalid Credentials");
    }
    if let Some(c) = inner.canned.pop_front() {
        let mut resp = (
            StatusCode::from_u16(c.status).unwrap(),
            [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
            c.body,
        )
            .into_response();
        if let Some(r) = c.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, r.parse().unwrap());
        }
        return resp;
    }
    if method != Method::GET {
        return error(405, "global", "httpMethodNotAllowed", "Method Not Allowed");
    }
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let path = uri.path();
    if path == "/calendar/v3/users/me/calendarList" {
        return list(&mut inner, None, &param);
    }
    if let Some(rest) = path.strip_prefix("/calendar/v3/calendars/")
        && let Some(enc) = rest.strip_suffix("/events")
        && !enc.contains('/')
    {
        let id = percent_encoding::percent_decode_str(enc)
            .decode_utf8_lossy()
            .into_owned();
        // A calendar of the list with no events yet answers an empty list;
        // one the account does not have is 404, as Google answers.
        if !inner.events.contains_key(&id) {
            if !inner.calendars.iter().any(|c| c["id"] == id.as_str()) {
                return error(404, "global", "notFound", "Not Found");
            }
            inner.events.insert(id.clone(), Default::default());
        }
        if param("singleEvents").as_deref() == Some("true") {
            return error(
                400,
                "global",
                "badRequest",
                "fake: singleEvents=true is not served",
            );
        }
        return list(&mut inner, Some(id), &param);
    }
    error(404, "global", "notFound", "Not Found")
}

/// One page of a listing (`calendar` None: the calendar list).
fn list(
    inner: &mut Inner,
    calendar: Option<String>,
    param: &dyn Fn(&str) -> Option<String>,
) -> Response {
    let asked: usize = param("maxResults")
        .and_then(|m| m.parse().ok())
        .unwrap_or(250);
    let per_page = asked.clamp(1, PAGE_CAP);
    let (session_id, offset) = match param("pageToken") {
        Some(p) => match inner.pages.get(&p) {
            Some(&(s, o)) => (s, o),
            None => return error(400, "global", "invalid", "Invalid page token value."),
        },
        None => {
            let items = match &calendar {
                None => inner.calendars.clone(),
                Some(cal) => {
                    let since = match param("syncToken") {
                        Some(t) => match inner.sync_tokens.get(&t) {
                            Some(&c) => Some(c),
                            None => {
                                return error(
                                    410,
                                    "global",
                                    "fullSyncRequired",
                                    "Sync token is no longer valid, a full sync is required.",
                                );
                            }
                        },
                        None => None,
                    };
                    let deleted_too =
                        since.is_some() || param("showDeleted").as_deref() == Some("true");
                    inner.events[cal]
                        .iter()
                        .filter(|s| since.is_none_or(|c| s.changed > c))
                        .filter(|s| deleted_too || s.event["status"] != "cancelled")
                        .map(|s| s.event.clone())
                        .collect()
                }
            };
            inner.issued += 1;
            let id = inner.issued;
            inner.sessions.insert(
                id,
                Session {
                    items,
                    clock: inner.clock,
                    events_of: calendar.clone(),
                },
            );
            (id, 0)
        }
    };
    let (page, more, clock, events_of) = {
        let s = &inner.sessions[&session_id];
        let end = (offset + per_page).min(s.items.len());
        (
            s.items[offset..end].to_vec(),
            end < s.items.len(),
            s.clock,
            s.events_of.clone(),
        )
    };
    let mut body = match &events_of {
        Some(_) => json!({
            "kind": "calendar#events",
            "etag": "\"p32g9nb5kv7fk0g\"",
            "summary": PRIMARY,
            "description": "",
            "updated": "2026-03-20T10:00:00.000Z",
            "timeZone": "Europe/Berlin",
            "accessRole": "owner",
            "defaultReminders": [{"method": "popup", "minutes": 10}],
            "items": page,
        }),
        None => json!({
            "kind": "calendar#calendarList",
            "etag": "\"p33k9nb5kv7fk0g\"",
            "items": page,
        }),
    };
    if more {
        let token = inner.token("CiAKGjBpNDd2Nmp2Zml2cXRwYjBpOXA");
        inner
            .pages
            .insert(token.clone(), (session_id, offset + per_page));
        body["nextPageToken"] = json!(token);
    } else {
        let token = inner.token("CPDAlvWDx70CEPDAlvWDx70CGAU");
        inner.sync_tokens.insert(token.clone(), clock);
        body["nextSyncToken"] = json!(token);
    }
    ok(body)
}

/// An event as `events.list` gives it, confirmed, with the fields Google
/// fills in.
pub fn event(id: &str, summary: &str, start: Value, end: Value) -> Value {
    json!({
        "kind": "calendar#event",
        "etag": "\"3518390022000000\"",
        "id": id,
        "status": "confirmed",
        "htmlLink": format!("https://www.google.com/calendar/event?eid={id}"),
        "created": "2026-03-01T09:00:00.000Z",
        "updated": "2026-03-02T10:30:11.000Z",
        "summary": summary,
        "creator": {"email": PRIMARY, "self": true},
        "organizer": {"email": PRIMARY, "self": true},
        "start": start,
        "end": end,
        "iCalUID": format!("{id}@google.com"),
        "sequence": 0,
        "reminders": {"useDefault": true},
        "eventType": "default",
    })
}

fn berlin(date_time: &str) -> Value {
    json!({"dateTime": date_time, "timeZone": "Europe/Berlin"})
}

/// The weekly series' changed instance: moved two hours later.
pub fn moved_instance() -> Value {
    let mut ev = event(
        "weekly1_20260406T070000Z",
        "Standup (moved)",
        berlin("2026-04-06T11:00:00+02:00"),
        berlin("2026-04-06T11:45:00+02:00"),
    );
    ev["iCalUID"] = json!("weekly1@google.com");
    ev["recurringEventId"] = json!("weekly1");
    ev["originalStartTime"] = berlin("2026-04-06T09:00:00+02:00");
    ev
}

/// A cancelled instance of the weekly series, as Google gives it: only
/// the fields it guarantees, and a few more.
pub fn cancelled_instance(id: &str, original: &str) -> Value {
    json!({
        "kind": "calendar#event",
        "etag": "\"3518390022000001\"",
        "id": id,
        "status": "cancelled",
        "recurringEventId": "weekly1",
        "originalStartTime": berlin(original),
    })
}

/// The primary calendar: a weekly series in Europe/Berlin across the
/// 2026-03-29 change to summer time (with an EXDATE), one instance moved,
/// one cancelled, an all-day holiday marked free, a UTC-only tentative
/// call, and a working location (not an event the owner attends).
pub fn fixture_events() -> Vec<Value> {
    let mut weekly = event(
        "weekly1",
        "Standup",
        berlin("2026-03-16T09:00:00+01:00"),
        berlin("2026-03-16T09:30:00+01:00"),
    );
    weekly["recurrence"] = json!([
        "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6",
        "EXDATE;TZID=Europe/Berlin:20260413T090000",
    ]);
    weekly["location"] = json!("Raum 4.2, Haus B");
    let mut allday = event(
        "allday1",
        "Karfreitag",
        json!({"date": "2026-04-03"}),
        json!({"date": "2026-04-04"}),
    );
    allday["transparency"] = json!("transparent");
    let mut call = event(
        "call1",
        "Call with Ana, Bo; re: Q2",
        json!({"dateTime": "2026-03-31T14:30:00Z"}),
        json!({"dateTime": "2026-03-31T15:00:00Z"}),
    );
    call["status"] = json!("tentative");
    call["description"] = json!("Agenda:\n1. numbers\n2. hiring");
    let mut office = event(
        "wl1",
        "Home",
        json!({"date": "2026-03-17"}),
        json!({"date": "2026-03-18"}),
    );
    office["eventType"] = json!("workingLocation");
    office["workingLocationProperties"] = json!({"type": "homeOffice", "homeOffice": {}});
    vec![
        weekly,
        moved_instance(),
        cancelled_instance("weekly1_20260330T070000Z", "2026-03-30T09:00:00+02:00"),
        allday,
        call,
        office,
    ]
}

/// Three calendars (two pages): the primary one, a shared one the owner
/// renamed, and a public holiday calendar read-only.
pub fn fixture_calendars() -> Vec<Value> {
    let entry = |id: &str, summary: &str, color: &str, role: &str| {
        json!({
            "kind": "calendar#calendarListEntry",
            "etag": "\"1700000000000000\"",
            "id": id,
            "summary": summary,
            "timeZone": "Europe/Berlin",
            "colorId": "14",
            "backgroundColor": color,
            "foregroundColor": "#000000",
            "selected": true,
            "accessRole": role,
            "defaultReminders": [],
            "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
        })
    };
    let mut primary = entry(PRIMARY, PRIMARY, "#9fe1e7", "owner");
    primary["primary"] = json!(true);
    primary["defaultReminders"] = json!([{"method": "popup", "minutes": 10}]);
    primary["notificationSettings"] =
        json!({"notifications": [{"type": "eventCreation", "method": "email"}]});
    let mut family = entry(
        "family0123@group.calendar.google.com",
        "Familie Müller",
        "#f691b2",
        "writer",
    );
    family["summaryOverride"] = json!("Family");
    let mut holidays = entry(HOLIDAYS, "Feiertage in Deutschland", "#16a765", "reader");
    holidays["description"] = json!("Feiertage und Gedenktage in Deutschland");
    vec![primary, family, holidays]
}
