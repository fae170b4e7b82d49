//! A client for Planka's REST API (v1.x; see `API.md` beside this crate for
//! what each call relies on and where it was confirmed).
//!
//! [`Planka::login`] trades an email or username and a password for an
//! access token (`POST /api/access-tokens`); every other call sends that
//! token as `Authorization: Bearer …` and reads Planka's JSON envelopes
//! (`{item}`, `{items, included}`) into the typed records of [`model`].
//!
//! **Invariants:** the password is sent once, in the login body, and kept
//! nowhere; the token goes only into the `Authorization` header (marked
//! sensitive) and never into `Debug`, errors or logs; nothing the server
//! sends can panic: an answer that cannot be read is
//! [`PlankaError::Malformed`], one that is too large too. Only this crate
//! knows Planka's wire format.

mod error;
#[cfg(feature = "fake")]
pub mod fake;
pub mod model;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use url::Url;

pub use error::PlankaError;
pub use model::{
    Board, BoardDetail, Card, CardFields, CardLabel, CardUpdate, LABEL_COLORS, Label, List,
    ListUpdate, POSITION_GAP, Project, Task,
};

/// The largest answer read (a board with thousands of cards is a few MB).
const MAX_BODY: usize = 64 << 20;

/// A logged-in connection to one Planka.
pub struct Planka {
    http: reqwest::Client,
    /// The base address, ending in `/`.
    base: Url,
    /// `Bearer <token>`, marked sensitive (none while logging in).
    auth: Option<HeaderValue>,
    requests: AtomicU64,
}

impl fmt::Debug for Planka {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Planka")
            .field("base", &self.base.as_str())
            .field("token", &"[hidden]")
            .field("requests", &self.requests_made())
            .finish()
    }
}

impl Planka {
    /// Logs in with an email or username and a password; `timeout` bounds
    /// each request (connecting included). The base address is Planka's
    /// (`http(s)://host[:port][/prefix]`, trailing slash optional).
    pub async fn login(
        base_url: &str,
        email_or_username: &str,
        password: &str,
        timeout: Duration,
    ) -> Result<Planka, PlankaError> {
        let base = parse_base(base_url)?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("openzero-planka/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PlankaError::Unreachable(error::chain(&e)))?;
        let client = Planka {
            http,
            base,
            auth: None,
            requests: AtomicU64::new(0),
        };
        let body = json!({ "emailOrUsername": email_or_username, "password": password });
        let bytes = client
            .send(Method::POST, &["access-tokens"], Some(&body), &[password])
            .await?;
        let token: Item<String> = read(&bytes, "POST /api/access-tokens")?;
        let token = token.item;
        if token.is_empty() || !token.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(PlankaError::Malformed(
                "POST /api/access-tokens: the access token is not a header value".to_owned(),
            ));
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            PlankaError::Malformed(
                "POST /api/access-tokens: the access token is not a header value".to_owned(),
            )
        })?;
        auth.set_sensitive(true);
        tracing::debug!(base = %client.base, "planka: logged in");
        Ok(Planka {
            auth: Some(auth),
            ..client
        })
    }

    /// Requests sent so far (the login included), answered or not.
    pub fn requests_made(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The projects this user can see, each with its boards by position.
    pub async fn projects(&self) -> Result<Vec<Project>, PlankaError> {
        #[derive(Deserialize, Default)]
        struct Included {
            #[serde(default)]
            boards: Vec<Board>,
        }
        #[derive(Deserialize)]
        struct Answer {
            items: Vec<WireProject>,
            #[serde(default)]
            included: Option<Included>,
        }
        let a: Answer = self.get(&["projects"]).await?;
        let mut boards = a.included.unwrap_or_default().boards;
        sort_by_position(&mut boards, |b| b.position);
        Ok(a.items
            .into_iter()
            .map(|p| Project {
                boards: boards
                    .iter()
                    .filter(|b| b.project_id == p.id)
                    .cloned()
                    .collect(),
                id: p.id,
                name: p.name,
                created_at: p.created_at,
                updated_at: p.updated_at,
            })
            .collect())
    }

    /// Creates a project (its creator becomes its manager).
    pub async fn create_project(&self, name: &str) -> Result<Project, PlankaError> {
        let p: WireProject = self
            .write(Method::POST, &["projects"], &json!({ "name": name }))
            .await?;
        Ok(Project {
            id: p.id,
            name: p.name,
            created_at: p.created_at,
            updated_at: p.updated_at,
            boards: Vec::new(),
        })
    }

    /// A board with its lists, cards, labels, card labels and tasks.
    pub async fn board(&self, id: &str) -> Result<BoardDetail, PlankaError> {
        #[derive(Deserialize, Default)]
        #[serde(rename_all = "camelCase")]
        struct Included {
            #[serde(default)]
            lists: Vec<List>,
            #[serde(default)]
            cards: Vec<Card>,
            #[serde(default)]
            labels: Vec<Label>,
            #[serde(default)]
            card_labels: Vec<CardLabel>,
            #[serde(default)]
            tasks: Vec<Task>,
        }
        #[derive(Deserialize)]
        struct Answer {
            item: Board,
            #[serde(default)]
            included: Option<Included>,
        }
        let a: Answer = self.get(&["boards", id]).await?;
        let inc = a.included.unwrap_or_default();
        let mut lists = inc.lists;
        sort_by_position(&mut lists, |l| l.position);
        let list_rank = |list_id: &str| lists.iter().position(|l| l.id == list_id);
        let mut cards = inc.cards;
        cards.sort_by(|x, y| {
            list_rank(&x.list_id)
                .cmp(&list_rank(&y.list_id))
                .then(x.position.total_cmp(&y.position))
        });
        let mut labels = inc.labels;
        sort_by_position(&mut labels, |l| l.position);
        let mut tasks = inc.tasks;
        sort_by_position(&mut tasks, |t| t.position);
        Ok(BoardDetail {
            board: a.item,
            lists,
            cards,
            labels,
            card_labels: inc.card_labels,
            tasks,
        })
    }

    /// Creates a board in a project (its creator becomes an editor of it).
    pub async fn create_board(
        &self,
        project_id: &str,
        name: &str,
        position: f64,
    ) -> Result<Board, PlankaError> {
        self.write(
            Method::POST,
            &["projects", project_id, "boards"],
            &json!({ "name": name, "position": position }),
        )
        .await
    }

    /// Creates a list on a board.
    pub async fn create_list(
        &self,
        board_id: &str,
        name: &str,
        position: f64,
    ) -> Result<List, PlankaError> {
        self.write(
            Method::POST,
            &["boards", board_id, "lists"],
            &json!({ "name": name, "position": position }),
        )
        .await
    }

    /// Renames a board.
    pub async fn rename_board(&self, id: &str, name: &str) -> Result<Board, PlankaError> {
        self.write(Method::PATCH, &["boards", id], &json!({ "name": name }))
            .await
    }

    /// The logged-in user's id (`GET /api/users/me`): what Planka's
    /// webhooks name as `user.id` for this client's own changes.
    pub async fn my_id(&self) -> Result<String, PlankaError> {
        #[derive(Deserialize)]
        struct Me {
            id: String,
        }
        #[derive(Deserialize)]
        struct Answer {
            item: Me,
        }
        let a: Answer = self.get(&["users", "me"]).await?;
        Ok(a.item.id)
    }

    /// Renames or moves a list.
    pub async fn update_list(&self, id: &str, u: &ListUpdate) -> Result<List, PlankaError> {
        let mut body = Map::new();
        if let Some(n) = &u.name {
            body.insert("name".into(), json!(n));
        }
        if let Some(p) = u.position {
            body.insert("position".into(), json!(p));
        }
        self.write(Method::PATCH, &["lists", id], &Value::Object(body))
            .await
    }

    /// Creates a card in a list.
    pub async fn create_card(&self, list_id: &str, c: &CardFields) -> Result<Card, PlankaError> {
        let mut body = Map::new();
        body.insert("name".into(), json!(c.name));
        body.insert("position".into(), json!(c.position));
        if let Some(d) = c.description.as_deref().filter(|d| !d.trim().is_empty()) {
            body.insert("description".into(), json!(d));
        }
        if let Some(due) = c.due_date {
            body.insert("dueDate".into(), json!(timestamp(due)));
        }
        self.write(
            Method::POST,
            &["lists", list_id, "cards"],
            &Value::Object(body),
        )
        .await
    }

    /// Changes any subset of a card's fields, moving it when `list_id`
    /// (and `board_id`) are given; see [`CardUpdate`] for Planka's rules.
    pub async fn update_card(&self, id: &str, c: &CardUpdate) -> Result<Card, PlankaError> {
        let mut body = Map::new();
        if let Some(n) = &c.name {
            body.insert("name".into(), json!(n));
        }
        if let Some(d) = &c.description {
            let d = d.as_deref().filter(|d| !d.trim().is_empty());
            body.insert("description".into(), json!(d));
        }
        if let Some(due) = c.due_date {
            body.insert("dueDate".into(), json!(due.map(timestamp)));
        }
        if let Some(done) = c.is_due_date_completed {
            body.insert("isDueDateCompleted".into(), json!(done));
        }
        if let Some(b) = &c.board_id {
            body.insert("boardId".into(), json!(b));
        }
        if let Some(l) = &c.list_id {
            body.insert("listId".into(), json!(l));
        }
        if let Some(p) = c.position {
            body.insert("position".into(), json!(p));
        }
        self.write(Method::PATCH, &["cards", id], &Value::Object(body))
            .await
    }

    /// Deletes a card (its labels and tasks go with it).
    pub async fn delete_card(&self, id: &str) -> Result<(), PlankaError> {
        self.send(Method::DELETE, &["cards", id], None, &[])
            .await
            .map(drop)
    }

    /// Creates a label on a board, after its other labels. `color` must be
    /// one of [`LABEL_COLORS`].
    pub async fn create_label(
        &self,
        board_id: &str,
        name: &str,
        color: &str,
    ) -> Result<Label, PlankaError> {
        // Planka wants a position; after the board's last label.
        let detail = self.board(board_id).await?;
        let position = detail.labels.iter().map(|l| l.position).fold(0.0, f64::max) + POSITION_GAP;
        self.write(
            Method::POST,
            &["boards", board_id, "labels"],
            &json!({ "name": name, "color": color, "position": position }),
        )
        .await
    }

    /// Puts a label of the card's board on a card. A label already on the
    /// card is HTTP 409 `E_CONFLICT`.
    pub async fn add_card_label(&self, card_id: &str, label_id: &str) -> Result<(), PlankaError> {
        let _: CardLabel = self
            .write(
                Method::POST,
                &["cards", card_id, "labels"],
                &json!({ "labelId": label_id }),
            )
            .await?;
        Ok(())
    }

    /// Takes a label off a card. A label not on the card is
    /// [`PlankaError::NotFound`].
    pub async fn remove_card_label(
        &self,
        card_id: &str,
        label_id: &str,
    ) -> Result<(), PlankaError> {
        self.send(
            Method::DELETE,
            &["cards", card_id, "labels", label_id],
            None,
            &[],
        )
        .await
        .map(drop)
    }

    /// Adds a checklist item to a card (v1 `POST /api/cards/:cardId/tasks`).
    pub async fn create_task(
        &self,
        card_id: &str,
        name: &str,
        is_completed: bool,
        position: f64,
    ) -> Result<Task, PlankaError> {
        self.write(
            Method::POST,
            &["cards", card_id, "tasks"],
            &json!({ "name": name, "isCompleted": is_completed, "position": position }),
        )
        .await
    }

    async fn get<T: DeserializeOwned>(&self, path: &[&str]) -> Result<T, PlankaError> {
        let bytes = self.send(Method::GET, path, None, &[]).await?;
        read(&bytes, &describe(&Method::GET, path))
    }

    /// A POST or PATCH whose answer is `{item: T}`.
    async fn write<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &[&str],
        body: &Value,
    ) -> Result<T, PlankaError> {
        let what = describe(&method, path);
        let bytes = self.send(method, path, Some(body), &[]).await?;
        let item: Item<T> = read(&bytes, &what)?;
        Ok(item.item)
    }

    /// The one place a request is made: `/api/` + the path segments (each
    /// percent-encoded), the bearer token unless logging in, a JSON body.
    /// A 2xx body is returned; any other status is classified, with
    /// `secrets` (and the token) scrubbed from what is kept.
    async fn send(
        &self,
        method: Method,
        path: &[&str],
        body: Option<&Value>,
        secrets: &[&str],
    ) -> Result<Vec<u8>, PlankaError> {
        let what = describe(&method, path);
        let url = self.endpoint(path)?;
        let mut req = self
            .http
            .request(method, url)
            .header(ACCEPT, "application/json");
        if let Some(auth) = &self.auth {
            req = req.header(AUTHORIZATION, auth.clone());
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut resp = req.send().await.map_err(|e| unreachable(&what, &e))?;
        let status = resp.status().as_u16();
        if let Some(len) = resp.content_length()
            && len > MAX_BODY as u64
        {
            return Err(too_large(&what));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| unreachable(&what, &e))? {
            if bytes.len() + chunk.len() > MAX_BODY {
                return Err(too_large(&what));
            }
            bytes.extend_from_slice(&chunk);
        }
        if (200..300).contains(&status) {
            return Ok(bytes);
        }
        let token = self
            .auth
            .as_ref()
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .unwrap_or("");
        let mut hidden = secrets.to_vec();
        hidden.push(token);
        let e = error::classify(status, &bytes, &what, &hidden);
        tracing::debug!(request = %what, error = %e, "planka: request failed");
        Err(e)
    }

    /// `base` + `api/` + the segments, each percent-encoded as one segment.
    fn endpoint(&self, segments: &[&str]) -> Result<Url, PlankaError> {
        let mut u = self.base.clone();
        {
            let mut path = u
                .path_segments_mut()
                .map_err(|()| PlankaError::BadUrl(format!("{}: not a base address", self.base)))?;
            path.pop_if_empty();
            path.push("api");
            for s in segments {
                path.push(s);
            }
        }
        Ok(u)
    }
}

/// A project as Planka sends it (its boards come apart, in `included`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireProject {
    #[serde(deserialize_with = "model::id")]
    id: String,
    name: String,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    updated_at: Option<DateTime<Utc>>,
}

/// Planka's single-record envelope.
#[derive(Deserialize)]
struct Item<T> {
    item: T,
}

fn read<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, PlankaError> {
    serde_json::from_slice(bytes).map_err(|e| PlankaError::Malformed(format!("{what}: {e}")))
}

/// `POST /api/cards/1/labels`, for messages.
fn describe(method: &Method, path: &[&str]) -> String {
    format!("{method} /api/{}", path.join("/"))
}

fn unreachable(what: &str, e: &reqwest::Error) -> PlankaError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    PlankaError::Unreachable(format!("{what} {kind}: {}", error::chain(e)))
}

fn too_large(what: &str) -> PlankaError {
    PlankaError::Malformed(format!(
        "{what}: an answer of more than {} MiB",
        MAX_BODY >> 20
    ))
}

/// Reads the base address: http(s), a host, no credentials, no query.
fn parse_base(raw: &str) -> Result<Url, PlankaError> {
    let trimmed = raw.trim();
    // Never echo something that may hold a password.
    let shown = if trimmed.contains('@') {
        "(an address with credentials)".to_owned()
    } else {
        trimmed.to_owned()
    };
    let mut u = Url::parse(trimmed).map_err(|e| PlankaError::BadUrl(format!("{shown}: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(PlankaError::BadUrl(format!("{shown}: not http or https")));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(PlankaError::BadUrl(format!("{shown}: no host")));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(PlankaError::BadUrl(
            "an address with credentials: give them to login instead".to_owned(),
        ));
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err(PlankaError::BadUrl(format!(
            "{shown}: a query or fragment is not part of a base address"
        )));
    }
    if !u.path().ends_with('/') {
        let p = format!("{}/", u.path());
        u.set_path(&p);
    }
    Ok(u)
}

/// A timestamp as Planka writes them: `2024-05-08T10:00:00.000Z`.
fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn sort_by_position<T>(items: &mut [T], key: impl Fn(&T) -> f64) {
    items.sort_by(|a, b| key(a).total_cmp(&key(b)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_addresses() {
        let u = parse_base("http://planka.local:3000").unwrap();
        assert_eq!(u.as_str(), "http://planka.local:3000/");
        let u = parse_base("https://example.org/planka/").unwrap();
        assert_eq!(u.as_str(), "https://example.org/planka/");
        for bad in [
            "ftp://x",
            "planka.local",
            "http://",
            "",
            "http://x/?a=1",
            "mailto:a@b",
        ] {
            assert!(
                matches!(parse_base(bad), Err(PlankaError::BadUrl(_))),
                "{bad}"
            );
        }
        let e = parse_base("http://me:s3cret@planka.local").unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[test]
    fn timestamps_as_planka_writes_them() {
        let t = DateTime::parse_from_rfc3339("2024-05-08T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(timestamp(t), "2024-05-08T10:00:00.000Z");
    }
}
