//! Two-way sync of the boards with a Planka server (`planka.*` settings):
//! one Planka project (`planka.project`, made when missing) holds a board
//! per OpenZero board and a list per list, matched by the links recorded
//! at the last sync, else by name, else created; a board or list Planka
//! has and OpenZero lacks is created here. Names of boards and lists are
//! OpenZero's (a rename here renames there).
//!
//! Cards follow `core::board_sync`'s rule: per field (title, description,
//! due, list, labels), a change on one side goes to the other; a field
//! changed on both sides takes the value of the card updated last and the
//! losing value is written in the card's history; a card deleted on one
//! side is deleted on the other unless it was edited there since (then it
//! comes back). Deleting here means archiving (nothing is lost); archiving
//! a card here deletes it in Planka. A card moved to another board on one
//! side is moved on the other first. A due day (no time) is midnight in the
//! owner's zone in Planka, and midnight there reads back as a day.
//!
//! **Invariants:** every step is recorded as soon as it is done (a link
//! per card with what both sides agreed on), so a sync stopped midway
//! (Planka down, a restart) resumes without duplicates: two unlinked cards
//! with the same fields are linked, not copied. A sync with nothing
//! changed writes nothing on either side and reads one board detail per
//! board (plus the login and the project list). Local changes made while
//! Planka is down wait in the store and go at the next sync.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use openzero_config::Loaded;
use openzero_core::board_sync::Fields;
use openzero_core::when::Due;
use openzero_planka::{BoardDetail, LABEL_COLORS, POSITION_GAP, Planka, PlankaError};
use openzero_store::Store;
use openzero_store::board::{BoardRow, CardQuery, CardRow};
use openzero_store::sync_link::SyncLink;
use serde::{Deserialize, Serialize};

use crate::AppError;

mod cards;
pub mod follow;
use cards::{move_between_boards, sync_cards};

/// Held while a sync runs.
static SYNC: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The service name of the links.
pub const SERVICE: &str = "planka";
/// Each request's bound.
const TIMEOUT: Duration = Duration::from_secs(20);
/// List names read as done lists when a list comes from Planka.
const DONE_NAMES: [&str; 6] = [
    "done",
    "completed",
    "resolved",
    "shipped",
    "closed",
    "finished",
];

/// What a card link remembers: the board the card was on and the fields
/// both sides agreed on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Base {
    pub board: i64,
    pub fields: Fields,
}

/// How much a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub boards: usize,
    pub created_here: usize,
    pub created_there: usize,
    pub updated_here: usize,
    pub updated_there: usize,
    pub deleted_here: usize,
    pub deleted_there: usize,
    pub moved_boards: usize,
    pub conflicts: usize,
    /// Requests sent to Planka (the login included).
    pub requests: u64,
}

impl Report {
    /// Whether anything changed on either side.
    pub fn changed(&self) -> bool {
        self.created_here
            + self.created_there
            + self.updated_here
            + self.updated_there
            + self.deleted_here
            + self.deleted_there
            + self.moved_boards
            > 0
    }

    /// One line for people.
    pub fn line(&self) -> String {
        if !self.changed() {
            return format!(
                "{} boards in step, nothing to change ({} requests)",
                self.boards, self.requests
            );
        }
        format!(
            "{} boards: here {} new, {} changed, {} archived; in Planka {} new, {} changed, {} deleted; {} moved between boards; {} conflicts ({} requests)",
            self.boards,
            self.created_here,
            self.updated_here,
            self.deleted_here,
            self.created_there,
            self.updated_there,
            self.deleted_there,
            self.moved_boards,
            self.conflicts,
            self.requests
        )
    }
}

/// The Planka login from the settings, if one is configured.
pub struct Login {
    pub base_url: String,
    pub user: String,
    password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("base_url", &self.base_url)
            .field("user", &self.user)
            .field("password", &"[hidden]")
            .finish()
    }
}

/// The configured login; `None` when Planka is not configured at all, an
/// error when it is configured halfway.
pub fn login_of(loaded: &Loaded) -> Result<Option<Login>, AppError> {
    let p = &loaded.settings.planka;
    let Some(base_url) = p.base_url.clone().filter(|u| !u.trim().is_empty()) else {
        return Ok(None);
    };
    let (Some(user), Some(password)) = (p.admin_email.clone(), p.admin_password.clone()) else {
        return Err(AppError::Invalid(
            "planka.base_url is set but the login is not: set PLANKA_ADMIN_EMAIL and PLANKA_ADMIN_PASSWORD".into(),
        ));
    };
    Ok(Some(Login {
        base_url,
        user,
        password: password.expose().to_owned(),
    }))
}

/// A readable error from Planka's.
pub fn planka_error(e: &PlankaError) -> AppError {
    AppError::Invalid(match e {
        PlankaError::Unreachable(_) => {
            format!("Planka is unreachable ({e}); local changes wait and go at the next sync")
        }
        _ => format!("Planka: {e}"),
    })
}

/// Logs in.
pub async fn connect(login: &Login) -> Result<Planka, AppError> {
    Planka::login(&login.base_url, &login.user, &login.password, TIMEOUT)
        .await
        .map_err(|e| planka_error(&e))
}

/// A due date as both sides agree on it: the day, or the instant in UTC
/// to the second.
pub fn due_text(due: &Due) -> String {
    match *due {
        Due::Day { date } => date.format("%Y-%m-%d").to_string(),
        Due::At { at } => at.to_rfc3339_opts(SecondsFormat::Secs, true),
    }
}

/// Planka's due date as that text: midnight in `tz` is a day.
pub fn remote_due_text(at: DateTime<Utc>, tz: Tz) -> String {
    let day = at.with_timezone(&tz).date_naive();
    if openzero_core::calendar::midnight(tz, day) == at {
        day.format("%Y-%m-%d").to_string()
    } else {
        let at = Utc.timestamp_opt(at.timestamp(), 0).single().unwrap_or(at);
        at.to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

/// The text back to a due date.
fn due_from_text(text: &str) -> Option<Due> {
    if let Ok(date) = text.parse::<NaiveDate>() {
        return Some(Due::Day { date });
    }
    DateTime::parse_from_rfc3339(text).ok().map(|t| Due::At {
        at: t.with_timezone(&Utc),
    })
}

/// The instant Planka holds for a due text.
fn remote_due(text: &str, tz: Tz) -> Option<DateTime<Utc>> {
    due_from_text(text).map(|d| d.starts_at(tz))
}

/// A local card's synced fields.
pub fn local_fields(c: &CardRow) -> Fields {
    let mut labels = c.labels.clone();
    labels.sort();
    labels.dedup();
    Fields {
        title: c.title.clone(),
        description: c.description.clone(),
        due: c.due.as_ref().map(due_text),
        list: c.list.clone(),
        labels,
    }
}

/// A remote card's synced fields (`list`: the local name of its list).
fn remote_fields(d: &BoardDetail, card: &openzero_planka::Card, list: &str, tz: Tz) -> Fields {
    let mut labels: Vec<String> = d
        .labels_of(&card.id)
        .into_iter()
        .filter_map(|l| l.name.clone())
        .collect();
    labels.sort();
    labels.dedup();
    Fields {
        title: card.name.clone(),
        description: card.description.clone().unwrap_or_default(),
        due: card.due_date.map(|t| remote_due_text(t, tz)),
        list: list.to_owned(),
        labels,
    }
}

/// A label colour for a name (always the same one).
fn colour(name: &str) -> &'static str {
    let sum = name
        .bytes()
        .fold(0usize, |a, b| a.wrapping_mul(31).wrapping_add(b.into()));
    LABEL_COLORS[sum % LABEL_COLORS.len()]
}

fn is_done_name(name: &str) -> bool {
    DONE_NAMES.contains(&name.trim().to_lowercase().as_str())
}

/// One pair of boards being synced.
struct Pair {
    local: BoardRow,
    detail: BoardDetail,
    /// remote list id → local list (id, name), for open local lists.
    lists: HashMap<String, (i64, String)>,
    /// local list name → remote list id.
    remote_list: HashMap<String, String>,
}

/// Syncs every open board with Planka, both ways.
pub async fn sync(store: &dyn Store, loaded: &Loaded) -> Result<Report, AppError> {
    let Some(login) = login_of(loaded)? else {
        return Err(AppError::Invalid(
            "Planka is not configured: set PLANKA_BASE_URL, PLANKA_ADMIN_EMAIL and PLANKA_ADMIN_PASSWORD".into(),
        ));
    };
    let planka = connect(&login).await?;
    let tz = loaded.settings.general.timezone.0;
    sync_over(store, &planka, &loaded.settings.planka.project, tz).await
}

/// The sync over a logged-in client; when Planka's changes made local
/// ones (a repeating task done there adds its next one here), a second
/// pass sends those at once.
pub async fn sync_over(
    store: &dyn Store,
    planka: &Planka,
    project: &str,
    tz: Tz,
) -> Result<Report, AppError> {
    // One sync at a time in a process (the follow loop, the job, a tool):
    // two at once would both create the same new card.
    let _one = SYNC.lock().await;
    let mut report = Report::default();
    let start = planka.requests_made();
    let mut result = sync_with(store, planka, project, tz, &mut report).await;
    if result.is_ok() && report.updated_here > 0 {
        // The second pass counts into the same report (it only adds).
        result = sync_with(store, planka, project, tz, &mut report).await;
    }
    report.requests = planka.requests_made() - start;
    result.map(|()| report)
}

/// The sync over a logged-in client.
pub async fn sync_with(
    store: &dyn Store,
    planka: &Planka,
    project_name: &str,
    tz: Tz,
    report: &mut Report,
) -> Result<(), AppError> {
    let e = |e: PlankaError| planka_error(&e);
    let projects = planka.projects().await.map_err(e)?;
    let project = match projects.into_iter().find(|p| p.name == project_name) {
        Some(p) => p,
        None => planka.create_project(project_name).await.map_err(e)?,
    };
    // Boards: linked, else by name, else created (both ways).
    let board_links = store.sync_links(SERVICE, "board").await?;
    let mut local_boards = store.boards().await?;
    let mut remote_boards = project.boards.clone();
    let mut paired: Vec<(BoardRow, String)> = Vec::new();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    for (i, board) in local_boards.iter().enumerate() {
        let linked = board_links
            .iter()
            .find(|l| l.local_id == board.id)
            .and_then(|l| remote_boards.iter().find(|r| r.id == l.remote_id));
        if board.archived {
            if let Some(r) = linked {
                taken.insert(r.id.clone());
            }
            continue;
        }
        let was_linked = board_links.iter().any(|l| l.local_id == board.id);
        if was_linked && linked.is_none() {
            // Its Planka board is gone (deleted there, or another Planka
            // server): its cards are sent again, not archived here.
            forget_cards_of(store, board.id).await?;
        }
        let remote = match linked {
            Some(r) => {
                if r.name != board.name {
                    planka.rename_board(&r.id, &board.name).await.map_err(e)?;
                }
                r.clone()
            }
            None => match remote_boards
                .iter()
                .find(|r| r.name == board.name && !taken.contains(&r.id))
            {
                Some(r) => r.clone(),
                None => {
                    let position = POSITION_GAP * (i as f64 + 1.0);
                    let made = planka
                        .create_board(&project.id, &board.name, position)
                        .await
                        .map_err(e)?;
                    remote_boards.push(made.clone());
                    made
                }
            },
        };
        taken.insert(remote.id.clone());
        put_link(store, "board", board.id, &remote.id, "").await?;
        paired.push((board.clone(), remote.id));
    }
    for remote in remote_boards.iter().filter(|r| !taken.contains(&r.id)) {
        let detail = planka.board(&remote.id).await.map_err(e)?;
        let mut lists: Vec<&openzero_planka::List> = detail.lists.iter().collect();
        lists.sort_by(|a, b| a.position.total_cmp(&b.position));
        let lists: Vec<(String, bool)> = lists
            .iter()
            .filter_map(|l| l.name.clone())
            .map(|n| {
                let done = is_done_name(&n);
                (n, done)
            })
            .collect();
        let name = unique_board_name(&local_boards, &remote.name);
        if let Some(b) = store.board_add(&name, None, &lists).await? {
            put_link(store, "board", b.id, &remote.id, "").await?;
            local_boards.push(b.clone());
            paired.push((b, remote.id.clone()));
        }
    }
    // Lists, then every board's cards read once.
    let list_links = store.sync_links(SERVICE, "list").await?;
    let mut pairs = Vec::new();
    for (board, remote_id) in paired {
        let detail = planka.board(&remote_id).await.map_err(e)?;
        pairs.push(pair_lists(store, planka, board, detail, &list_links).await?);
    }
    report.boards = pairs.len();
    // Cards moved to another board on one side move on the other first.
    let everything = CardQuery {
        include_done: true,
        include_archived: true,
        ..CardQuery::default()
    };
    let mut card_links = store.sync_links(SERVICE, "card").await?;
    let mut all_local = store.cards(&everything).await?;
    if move_between_boards(store, planka, tz, &pairs, &card_links, &all_local, report).await? {
        for p in &mut pairs {
            p.detail = planka.board(&p.detail.board.id).await.map_err(e)?;
        }
        card_links = store.sync_links(SERVICE, "card").await?;
        all_local = store.cards(&everything).await?;
    }
    let local_board_of: HashMap<i64, i64> = all_local.iter().map(|c| (c.id, c.board_id)).collect();
    let remote_board_of: HashMap<&str, &str> = pairs
        .iter()
        .flat_map(|p| {
            p.detail
                .cards
                .iter()
                .map(|c| (c.id.as_str(), p.detail.board.id.as_str()))
        })
        .collect();
    for pair in &pairs {
        let board_cards: Vec<&CardRow> = all_local
            .iter()
            .filter(|c| c.board_id == pair.local.id)
            .collect();
        let links: Vec<&SyncLink> = card_links
            .iter()
            .filter(|l| match local_board_of.get(&l.local_id) {
                Some(b) => *b == pair.local.id,
                None => match remote_board_of.get(l.remote_id.as_str()) {
                    Some(r) => *r == pair.detail.board.id,
                    None => base_of(l).board == pair.local.id,
                },
            })
            .collect();
        sync_cards(store, planka, tz, pair, &board_cards, &links, report).await?;
    }
    Ok(())
}

fn unique_board_name(boards: &[BoardRow], name: &str) -> String {
    let taken = |n: &str| boards.iter().any(|b| b.name.eq_ignore_ascii_case(n));
    if !taken(name) {
        return name.to_owned();
    }
    (2..)
        .map(|i| format!("{name} ({i})"))
        .find(|n| !taken(n))
        .unwrap_or_else(|| name.to_owned())
}

/// Forgets the card links of a board whose Planka board is gone.
async fn forget_cards_of(store: &dyn Store, board: i64) -> Result<(), AppError> {
    let cards: Vec<i64> = store
        .cards(&CardQuery {
            board_id: Some(board),
            include_done: true,
            include_archived: true,
            ..CardQuery::default()
        })
        .await?
        .iter()
        .map(|c| c.id)
        .collect();
    for link in store.sync_links(SERVICE, "card").await? {
        if cards.contains(&link.local_id) || base_of(&link).board == board {
            store
                .sync_link_forget(SERVICE, "card", link.local_id)
                .await?;
        }
    }
    Ok(())
}

fn base_of(l: &SyncLink) -> Base {
    serde_json::from_str(&l.base).unwrap_or_default()
}

async fn put_link(
    store: &dyn Store,
    kind: &str,
    local_id: i64,
    remote_id: &str,
    base: &str,
) -> Result<(), AppError> {
    store
        .sync_link_put(
            SERVICE,
            &SyncLink {
                kind: kind.into(),
                local_id,
                remote_id: remote_id.into(),
                base: base.into(),
            },
        )
        .await?;
    Ok(())
}

/// Pairs a board's lists: linked, else by name, else created (both ways);
/// local names win.
async fn pair_lists(
    store: &dyn Store,
    planka: &Planka,
    mut local: BoardRow,
    mut detail: BoardDetail,
    links: &[SyncLink],
) -> Result<Pair, AppError> {
    let e = |e: PlankaError| planka_error(&e);
    let mut taken = BTreeSet::new();
    let mut lists = HashMap::new();
    let mut remote_list = HashMap::new();
    let last = |d: &BoardDetail| d.lists.iter().map(|l| l.position).fold(0.0, f64::max);
    for list in &local.lists {
        let linked = links
            .iter()
            .find(|l| l.local_id == list.id)
            .and_then(|l| detail.lists.iter().find(|r| r.id == l.remote_id))
            .cloned();
        let remote =
            match linked {
                Some(r) => {
                    if !list.archived && r.name.as_deref() != Some(list.name.as_str()) {
                        let u = openzero_planka::ListUpdate {
                            name: Some(list.name.clone()),
                            position: None,
                        };
                        planka.update_list(&r.id, &u).await.map_err(e)?;
                    }
                    Some(r)
                }
                None if list.archived => None,
                None => match detail.lists.iter().find(|r| {
                    r.name.as_deref() == Some(list.name.as_str()) && !taken.contains(&r.id)
                }) {
                    Some(r) => Some(r.clone()),
                    None => {
                        let made = planka
                            .create_list(&detail.board.id, &list.name, last(&detail) + POSITION_GAP)
                            .await
                            .map_err(e)?;
                        detail.lists.push(made.clone());
                        Some(made)
                    }
                },
            };
        let Some(remote) = remote else { continue };
        taken.insert(remote.id.clone());
        put_link(store, "list", list.id, &remote.id, "").await?;
        if !list.archived {
            lists.insert(remote.id.clone(), (list.id, list.name.clone()));
            remote_list.insert(list.name.clone(), remote.id.clone());
        }
    }
    let mut unpaired: Vec<openzero_planka::List> = detail
        .lists
        .iter()
        .filter(|r| !taken.contains(&r.id))
        .cloned()
        .collect();
    unpaired.sort_by(|a, b| a.position.total_cmp(&b.position));
    for r in unpaired {
        let Some(name) = r.name.clone() else { continue };
        if let Some(made) = store.list_add(local.id, &name, is_done_name(&name)).await? {
            put_link(store, "list", made.id, &r.id, "").await?;
            lists.insert(r.id.clone(), (made.id, made.name.clone()));
            remote_list.insert(made.name.clone(), r.id.clone());
            local.lists.push(made);
        }
    }
    Ok(Pair {
        local,
        detail,
        lists,
        remote_list,
    })
}

/// `serve`'s part: Planka's webhook at `/webhooks/planka` (stored before
/// it is answered), and when Planka is configured the loop keeping the
/// boards in step.
pub fn serve_parts(
    services: &std::sync::Arc<crate::Services>,
    parts: &mut crate::serve_parts::Parts,
) {
    use crate::serve_parts::{HookReply, Method};
    let hook = services.clone();
    parts.endpoint("/webhooks/planka", &[Method::Post], move |req| {
        let services = hook.clone();
        async move {
            use follow::Refused;
            let received = follow::receive(
                services.store.as_ref(),
                &services.loaded,
                req.header("authorization"),
                &req.body,
            )
            .await;
            HookReply::status(match received {
                Ok(()) => 200,
                Err(Refused::NotConfigured) => 404,
                Err(Refused::BadToken) => 401,
                Err(Refused::Unreadable) => 400,
            })
        }
    });
    if !matches!(login_of(&services.loaded), Ok(Some(_))) {
        return;
    }
    let services = services.clone();
    parts.worker("planka-sync", move |stop| {
        let services = services.clone();
        async move {
            follow::follow(services, stop).await;
            Ok(())
        }
    });
}
