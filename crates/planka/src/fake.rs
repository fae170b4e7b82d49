//! A stateful fake of Planka v1's REST API on `127.0.0.1:0`, speaking the
//! JSON of the real server (see `API.md`): `{item}` / `{items, included}`
//! envelopes, string snowflake-like ids, `createdAt` set on create and
//! `updatedAt` `null` until the first change (then moved forward, to the
//! millisecond, by every change), positions as given, errors as
//! `{code, message}` with Planka's status codes.
//!
//! It models one admin user (email or username + password), access tokens
//! (401 `E_UNAUTHORIZED` for a missing or unknown one), projects, boards,
//! lists (create, PATCH), cards (create, GET, PATCH with moves to another
//! list or board, DELETE), labels, card labels and tasks, with Planka's
//! validation (400 `E_MISSING_OR_INVALID_PARAMS`), 404 `E_NOT_FOUND`,
//! 409 `E_CONFLICT` for a label already on a card, and the move rules of
//! v1's `cards/update-one` (422 for a list without a position or a board
//! without a list; labels carried over to the new board by name).
//!
//! It does not model: permissions (every token is the admin's, who sees
//! every project), several users, memberships beyond the creator's,
//! re-spacing positions that collide, attachments, comments, actions,
//! the stopwatch, websockets.
//!
//! Switches for tests: [`FakePlanka::go_down`] makes every request answer
//! 503 with an HTML page (what a reverse proxy says for a stopped Planka;
//! the client maps it to `Unreachable`) until [`FakePlanka::come_back`];
//! [`FakePlanka::set_delay`] holds every answer (for timeouts);
//! [`FakePlanka::answer_next`] cans the next answer to one request.
//! Every request is logged (method, path) and counted.
//!
//! Webhooks, as Planka's `WEBHOOKS` setting sends them: after
//! [`FakePlanka::set_webhook`], every change (through the API or one of the
//! `*_as_user` edits of a person in Planka's UI) is POSTed, fire and
//! forget, as `{event, data: {item}, prevData, user}` with
//! `Authorization: Bearer <accessToken>`; `user` is the API's logged-in
//! user for API calls and another user ([`HUMAN_ID`]) for UI edits.

#![allow(clippy::expect_used)]

mod cards;
mod routes;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SubsecRound, Utc};

pub use routes::LABEL_COLORS;

/// The admin's email, username and password.
pub const EMAIL: &str = "owner@example.com";
pub const USERNAME: &str = "owner";
pub const PASSWORD: &str = "correct horse battery staple";

/// The id of the person who edits in Planka's UI (not the API's user).
pub const HUMAN_ID: &str = "1000000000000000001";

/// A card as the fake holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeCard {
    pub id: String,
    pub board_id: String,
    pub list_id: String,
    pub name: String,
    pub description: Option<String>,
    pub position: f64,
    pub due_date: Option<DateTime<Utc>>,
    pub is_due_date_completed: Option<bool>,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Project {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Board {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub position: f64,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub(crate) struct List {
    pub id: String,
    pub board_id: String,
    pub name: String,
    pub position: f64,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Label {
    pub id: String,
    pub board_id: String,
    pub name: Option<String>,
    pub color: String,
    pub position: f64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct CardLabel {
    pub id: String,
    pub card_id: String,
    pub label_id: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct Task {
    pub id: String,
    pub card_id: String,
    pub name: String,
    pub is_completed: bool,
    pub position: f64,
    pub created_at: DateTime<Utc>,
}

/// Everything the fake Planka stores.
#[derive(Debug)]
pub(crate) struct Data {
    next_id: u64,
    last_time: DateTime<Utc>,
    pub user_id: String,
    pub tokens: Vec<String>,
    pub projects: Vec<Project>,
    /// (membership id, project id)
    pub managers: Vec<(String, String)>,
    pub boards: Vec<Board>,
    /// (membership id, board id)
    pub memberships: Vec<(String, String)>,
    pub lists: Vec<List>,
    pub cards: Vec<FakeCard>,
    pub labels: Vec<Label>,
    pub card_labels: Vec<CardLabel>,
    pub tasks: Vec<Task>,
}

impl Data {
    /// A new id: a string of digits, as Planka's `next_id()` gives.
    pub fn id(&mut self) -> String {
        self.next_id += 1;
        self.next_id.to_string()
    }

    /// Now, to the millisecond, always after the last time given out (so
    /// every change moves `updatedAt` forward).
    pub fn now(&mut self) -> DateTime<Utc> {
        let now = Utc::now().trunc_subsecs(3);
        let t = if now > self.last_time {
            now
        } else {
            self.last_time + chrono::Duration::milliseconds(1)
        };
        self.last_time = t;
        t
    }
}

struct Canned {
    method: Method,
    path: String,
    status: StatusCode,
    body: String,
}

pub(crate) struct Shared {
    pub data: Mutex<Data>,
    down: AtomicBool,
    delay_ms: AtomicU64,
    count: AtomicU64,
    log: Mutex<Vec<(String, String)>>,
    canned: Mutex<VecDeque<Canned>>,
    /// (url, access token) webhooks go to.
    webhook: Mutex<Option<(String, String)>>,
    webhooks_sent: AtomicU64,
}

/// Locks, even after a panic in another test thread.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running fake Planka.
#[derive(Clone)]
pub struct FakePlanka {
    url: String,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FakePlanka {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakePlanka")
            .field("url", &self.url)
            .finish()
    }
}

impl FakePlanka {
    /// Starts the fake on `127.0.0.1:0` (it runs until the test's runtime ends).
    pub async fn start() -> FakePlanka {
        let shared = Arc::new(Shared {
            data: Mutex::new(Data {
                next_id: 1_357_158_568_008_091_264,
                last_time: DateTime::<Utc>::MIN_UTC,
                user_id: String::new(),
                tokens: Vec::new(),
                projects: Vec::new(),
                managers: Vec::new(),
                boards: Vec::new(),
                memberships: Vec::new(),
                lists: Vec::new(),
                cards: Vec::new(),
                labels: Vec::new(),
                card_labels: Vec::new(),
                tasks: Vec::new(),
            }),
            down: AtomicBool::new(false),
            delay_ms: AtomicU64::new(0),
            count: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
            canned: Mutex::new(VecDeque::new()),
            webhook: Mutex::new(None),
            webhooks_sent: AtomicU64::new(0),
        });
        {
            let mut d = lock(&shared.data);
            d.user_id = d.id();
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Planka");
        let addr = listener.local_addr().expect("its address");
        let app = Router::new().fallback(handle).with_state(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakePlanka {
            url: format!("http://{addr}"),
            shared,
        }
    }

    /// Its base address, `http://127.0.0.1:<port>` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// From now on every request is answered 503 with an HTML page.
    pub fn go_down(&self) {
        self.shared.down.store(true, Ordering::SeqCst);
    }

    /// Answers normally again (nothing stored was lost).
    pub fn come_back(&self) {
        self.shared.down.store(false, Ordering::SeqCst);
    }

    /// Holds every answer this long (zero: none).
    pub fn set_delay(&self, d: Duration) {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self.shared.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// The next `method path` request gets this status and body (as JSON's
    /// content type) instead of its real answer.
    pub fn answer_next(&self, method: &str, path: &str, status: u16, body: &str) {
        lock(&self.shared.canned).push_back(Canned {
            method: method.parse().expect("a method"),
            path: path.to_owned(),
            status: StatusCode::from_u16(status).expect("a status"),
            body: body.to_owned(),
        });
    }

    /// Every access token given out stops working (as after a password
    /// change).
    pub fn revoke_tokens(&self) {
        lock(&self.shared.data).tokens.clear();
    }

    /// Requests received so far, answered or not.
    pub fn request_count(&self) -> u64 {
        self.shared.count.load(Ordering::SeqCst)
    }

    /// The requests received, in order: (method, path).
    pub fn requests(&self) -> Vec<(String, String)> {
        lock(&self.shared.log).clone()
    }

    /// A snapshot of every card, in creation order.
    pub fn cards(&self) -> Vec<FakeCard> {
        lock(&self.shared.data).cards.clone()
    }

    /// One card.
    pub fn card(&self, id: &str) -> Option<FakeCard> {
        lock(&self.shared.data)
            .cards
            .iter()
            .find(|c| c.id == id)
            .cloned()
    }

    /// The names of the labels on a card, sorted.
    pub fn label_names_on(&self, card_id: &str) -> Vec<String> {
        let d = lock(&self.shared.data);
        let mut names: Vec<String> = d
            .card_labels
            .iter()
            .filter(|cl| cl.card_id == card_id)
            .filter_map(|cl| d.labels.iter().find(|l| l.id == cl.label_id))
            .map(|l| l.name.clone().unwrap_or_default())
            .collect();
        names.sort();
        names
    }

    /// The names of a board's labels, sorted.
    pub fn board_label_names(&self, board_id: &str) -> Vec<String> {
        let d = lock(&self.shared.data);
        let mut names: Vec<String> = d
            .labels
            .iter()
            .filter(|l| l.board_id == board_id)
            .map(|l| l.name.clone().unwrap_or_default())
            .collect();
        names.sort();
        names
    }

    /// An edit made in Planka's UI: `edit` changes the card, then its
    /// `updatedAt` moves forward. The card after, if it exists.
    pub fn edit_card_as_user(
        &self,
        id: &str,
        edit: impl FnOnce(&mut FakeCard),
    ) -> Option<FakeCard> {
        let card = {
            let mut d = lock(&self.shared.data);
            let now = d.now();
            let card = d.cards.iter_mut().find(|c| c.id == id)?;
            edit(card);
            card.updated_at = Some(now);
            card.clone()
        };
        self.human_event("cardUpdate", routes::card_json(&card));
        Some(card)
    }

    /// A card deleted in Planka's UI (with its labels and tasks). Whether
    /// it existed.
    pub fn delete_card_as_user(&self, id: &str) -> bool {
        let gone = {
            let mut d = lock(&self.shared.data);
            cards::remove_card(&mut d, id)
        };
        match gone {
            Some(card) => {
                self.human_event("cardDelete", routes::card_json(&card));
                true
            }
            None => false,
        }
    }

    /// A card made in Planka's UI at the end of list `list_id` (with
    /// labels of the board by name, made when missing). Its id.
    pub fn create_card_as_user(
        &self,
        list_id: &str,
        name: &str,
        labels: &[&str],
    ) -> Option<String> {
        let card = {
            let mut d = lock(&self.shared.data);
            let list = d.lists.iter().find(|l| l.id == list_id)?.clone();
            let position = d
                .cards
                .iter()
                .filter(|c| c.list_id == list_id)
                .map(|c| c.position)
                .fold(0.0, f64::max)
                + 65535.0;
            let (id, created_at) = (d.id(), d.now());
            let card = FakeCard {
                id,
                board_id: list.board_id.clone(),
                list_id: list_id.to_owned(),
                name: name.to_owned(),
                description: None,
                position,
                due_date: None,
                is_due_date_completed: None,
                created_at,
                updated_at: None,
            };
            d.cards.push(card.clone());
            for name in labels {
                let label_id = match d
                    .labels
                    .iter()
                    .find(|l| l.board_id == list.board_id && l.name.as_deref() == Some(name))
                {
                    Some(l) => l.id.clone(),
                    None => {
                        let (id, created_at) = (d.id(), d.now());
                        d.labels.push(Label {
                            id: id.clone(),
                            board_id: list.board_id.clone(),
                            name: Some((*name).to_owned()),
                            color: "berry-red".into(),
                            position: 65535.0,
                            created_at,
                        });
                        id
                    }
                };
                let (id, created_at) = (d.id(), d.now());
                d.card_labels.push(CardLabel {
                    id,
                    card_id: card.id.clone(),
                    label_id,
                    created_at,
                });
            }
            card
        };
        self.human_event("cardCreate", routes::card_json(&card));
        Some(card.id)
    }

    /// The lists of the board named `board` (in any project): (id, name).
    pub fn lists_of(&self, board: &str) -> Vec<(String, String)> {
        let d = lock(&self.shared.data);
        let Some(b) = d.boards.iter().find(|b| b.name == board) else {
            return Vec::new();
        };
        let mut lists: Vec<&List> = d.lists.iter().filter(|l| l.board_id == b.id).collect();
        lists.sort_by(|x, y| x.position.total_cmp(&y.position));
        lists
            .into_iter()
            .map(|l| (l.id.clone(), l.name.clone()))
            .collect()
    }

    /// The id of the board named `name`.
    pub fn board_id(&self, name: &str) -> Option<String> {
        lock(&self.shared.data)
            .boards
            .iter()
            .find(|b| b.name == name)
            .map(|b| b.id.clone())
    }

    /// The name of the board a card is on.
    pub fn board_of(&self, card_id: &str) -> Option<String> {
        let d = lock(&self.shared.data);
        let card = d.cards.iter().find(|c| c.id == card_id)?;
        d.boards
            .iter()
            .find(|b| b.id == card.board_id)
            .map(|b| b.name.clone())
    }

    /// Names of the boards, in creation order.
    pub fn board_names(&self) -> Vec<String> {
        lock(&self.shared.data)
            .boards
            .iter()
            .map(|b| b.name.clone())
            .collect()
    }

    /// Names of the projects, in creation order.
    pub fn project_names(&self) -> Vec<String> {
        lock(&self.shared.data)
            .projects
            .iter()
            .map(|p| p.name.clone())
            .collect()
    }

    /// The name of a list.
    pub fn list_name(&self, id: &str) -> Option<String> {
        lock(&self.shared.data)
            .lists
            .iter()
            .find(|l| l.id == id)
            .map(|l| l.name.clone())
    }

    /// From now on every change is POSTed to `url` with this access token.
    pub fn set_webhook(&self, url: &str, access_token: &str) {
        *lock(&self.shared.webhook) = Some((url.to_owned(), access_token.to_owned()));
    }

    /// Webhook calls made so far (answered or not).
    pub fn webhooks_sent(&self) -> u64 {
        self.shared.webhooks_sent.load(Ordering::SeqCst)
    }

    fn human_event(&self, event: &str, item: serde_json::Value) {
        let user = serde_json::json!({
            "id": HUMAN_ID, "email": "someone@example.com", "username": "someone",
            "name": "Someone", "isAdmin": false,
        });
        send_webhook(
            &self.shared,
            event,
            serde_json::json!({ "item": item }),
            user,
        );
    }
}

/// Posts one webhook call, fire and forget (as Planka does).
fn send_webhook(
    shared: &Arc<Shared>,
    event: &str,
    data: serde_json::Value,
    user: serde_json::Value,
) {
    let Some((url, token)) = lock(&shared.webhook).clone() else {
        return;
    };
    shared.webhooks_sent.fetch_add(1, Ordering::SeqCst);
    let body = serde_json::json!({ "event": event, "data": data, "prevData": null, "user": user });
    tokio::spawn(async move {
        let _ = reqwest::Client::new()
            .post(url)
            .bearer_auth(token)
            .header("User-Agent", "planka (+http://fake-planka)")
            .json(&body)
            .send()
            .await;
    });
}

/// Every request comes here: logged, delayed, refused while down, canned,
/// or routed.
async fn handle(
    AxState(shared): AxState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    shared.count.fetch_add(1, Ordering::SeqCst);
    lock(&shared.log).push((method.to_string(), path.clone()));
    let delay = shared.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if shared.down.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body><h1>503 Service Unavailable</h1></body></html>",
        )
            .into_response();
    }
    let canned = {
        let mut q = lock(&shared.canned);
        match q.iter().position(|c| c.method == method && c.path == path) {
            Some(i) => q.remove(i),
            None => None,
        }
    };
    if let Some(c) = canned {
        return (
            c.status,
            [(header::CONTENT_TYPE, "application/json")],
            c.body,
        )
            .into_response();
    }
    let (status, value, user) = {
        let mut d = lock(&shared.data);
        let (status, value) = routes::route(&mut d, &method, &path, &headers, &body);
        (status, value, routes::user_json(&d))
    };
    if let (true, Some(event)) = (status.is_success(), routes::event_of(&method, &path)) {
        send_webhook(&shared, event, value.clone(), user);
    }
    (status, axum::Json(value)).into_response()
}
