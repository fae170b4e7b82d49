//! Boards and tasks: finding boards and lists by name, adding a task from
//! the command line or from plain words (its board guessed, its due date
//! read in the owner's zone), moving it, marking it done, listing, and the
//! briefing's lines (overdue and due today; the week's done and blocked).
//!
//! **Invariants:** names are matched case-insensitively and a miss names
//! what there is; a card's move and its history line commit together (the
//! port's rule); due dates are read and shown in the owner's zone.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use openzero_core::board::guess_domain;
use openzero_core::repeat::Repeat;
use openzero_core::when::{Due, parse_due, split_due};
use openzero_store::board::{
    BoardRow, BoardStore, CardPatch, CardQuery, CardRow, CheckItem, ListRow, NewCard,
};

use crate::AppError;

/// A task to add.
#[derive(Debug, Clone, Default)]
pub struct AddTask {
    pub title: String,
    pub board: Option<String>,
    pub list: Option<String>,
    /// As typed: `tomorrow`, `next friday`, `2026-12-03 14:00` …
    pub due: Option<String>,
    pub labels: Vec<String>,
    pub project_id: Option<i64>,
    pub description: String,
    /// A repeat rule as typed (`every monday`, `monthly on the 1st` …).
    pub repeat: Option<String>,
}

/// A rule fixed to the first due day, so a short month does not move later
/// ones ("monthly" due on the 31st stays on the 31st, clamped per month).
fn fixed(r: Repeat, first: Option<chrono::NaiveDate>) -> Repeat {
    match (r, first) {
        (Repeat::Monthly(None), Some(d)) => Repeat::Monthly(Some(chrono::Datelike::day(&d))),
        (r, _) => r,
    }
}

/// The board called `name` (any case), or an error naming the boards.
pub fn find_board<'a>(boards: &'a [BoardRow], name: &str) -> Result<&'a BoardRow, AppError> {
    boards
        .iter()
        .find(|b| b.name.eq_ignore_ascii_case(name.trim()))
        .ok_or_else(|| {
            let names: Vec<&str> = boards
                .iter()
                .filter(|b| !b.archived)
                .map(|b| b.name.as_str())
                .collect();
            AppError::Invalid(format!(
                "there is no board \"{name}\" (boards: {})",
                names.join(", ")
            ))
        })
}

/// The list called `name` on `board` (any case).
pub fn find_list<'a>(board: &'a BoardRow, name: &str) -> Result<&'a ListRow, AppError> {
    board
        .lists
        .iter()
        .find(|l| l.name.eq_ignore_ascii_case(name.trim()))
        .ok_or_else(|| {
            let names: Vec<&str> = board
                .lists
                .iter()
                .filter(|l| !l.archived)
                .map(|l| l.name.as_str())
                .collect();
            AppError::Invalid(format!(
                "board {} has no list \"{name}\" (lists: {})",
                board.name,
                names.join(", ")
            ))
        })
}

fn first_open_list(board: &BoardRow) -> Result<&ListRow, AppError> {
    board
        .lists
        .iter()
        .find(|l| !l.archived && !l.done)
        .ok_or_else(|| AppError::Invalid(format!("board {} has no open list", board.name)))
}

/// Where a task with these words goes: the board its words point to, else
/// the first board.
fn guessed_board<'a>(boards: &'a [BoardRow], text: &str) -> Result<&'a BoardRow, AppError> {
    let live: Vec<&BoardRow> = boards.iter().filter(|b| !b.archived).collect();
    guess_domain(text)
        .and_then(|d| {
            live.iter()
                .find(|b| b.domain.as_deref() == Some(d))
                .copied()
        })
        .or_else(|| live.first().copied())
        .ok_or_else(|| {
            AppError::Invalid("there is no board: add one with `openzero board add NAME`".into())
        })
}

/// Adds a task; board and list as given, else guessed from the title and
/// the board's first open list.
pub async fn add(
    store: &dyn BoardStore,
    tz: Tz,
    now: DateTime<Utc>,
    t: &AddTask,
) -> Result<CardRow, AppError> {
    let title = t.title.trim();
    if title.is_empty() {
        return Err(AppError::Invalid("a task needs a title".into()));
    }
    let boards = store.boards().await?;
    let board = match &t.board {
        Some(b) => find_board(&boards, b)?,
        None => guessed_board(&boards, title)?,
    };
    let list = match &t.list {
        Some(l) => find_list(board, l)?,
        None => first_open_list(board)?,
    };
    open_target(board, list)?;
    let due = match &t.due {
        Some(d) => Some(parse_due(d, now, tz).map_err(|e| AppError::Invalid(e.to_string()))?),
        None => None,
    };
    let repeat = t
        .repeat
        .as_deref()
        .map(|r| Repeat::parse(r).map(|r| fixed(r, due.map(|d| d.day(tz))).as_text()))
        .transpose()
        .map_err(AppError::Invalid)?;
    Ok(store
        .card_add(&NewCard {
            list_id: list.id,
            title: title.to_string(),
            description: t.description.clone(),
            due,
            labels: t.labels.clone(),
            project_id: t.project_id,
            repeat,
        })
        .await?)
}

/// Adds a task written in plain words ("renew my passport next month"):
/// the due date is taken from its end, the board guessed from its words.
pub async fn add_from_text(
    store: &dyn BoardStore,
    tz: Tz,
    now: DateTime<Utc>,
    text: &str,
) -> Result<CardRow, AppError> {
    let (title, due) = split_due(text, now, tz);
    let boards = store.boards().await?;
    let board = guessed_board(&boards, &title)?;
    let list = first_open_list(board)?;
    Ok(store
        .card_add(&NewCard {
            list_id: list.id,
            title: title.trim().to_string(),
            description: String::new(),
            due,
            labels: vec![],
            project_id: None,
            repeat: None,
        })
        .await?)
}

async fn card(store: &dyn BoardStore, id: i64) -> Result<CardRow, AppError> {
    store.card_get(id).await?.ok_or_else(|| {
        AppError::Invalid(format!("there is no task #{id} (see `openzero task list`)"))
    })
}

/// After a repeating task reached a done list: the next one, due on its
/// rule's next date after the later of its due day and today (at the same
/// local time when it had one), in the first open list of its board.
pub async fn follow_up(
    store: &dyn BoardStore,
    tz: Tz,
    now: DateTime<Utc>,
    c: &CardRow,
) -> Result<Option<CardRow>, AppError> {
    let (true, Some(rule)) = (c.list_done, c.repeat.as_deref()) else {
        return Ok(None);
    };
    let Ok(rule) = Repeat::parse(rule) else {
        tracing::warn!(card = c.id, "unreadable repeat rule; no next task");
        return Ok(None);
    };
    let today = now.with_timezone(&tz).date_naive();
    let due_day = c.due.map(|d| d.day(tz)).unwrap_or(today);
    let Some(next) = rule.next(due_day, due_day.max(today)) else {
        return Ok(None);
    };
    let due = match c.due {
        Some(Due::At { at }) => {
            let time = at.with_timezone(&tz).time();
            let local = next.and_time(time);
            // In a spring-forward gap: the first valid time after it.
            let at = (0..8)
                .find_map(|step| {
                    chrono::TimeZone::from_local_datetime(
                        &tz,
                        &(local + Duration::minutes(30 * step)),
                    )
                    .earliest()
                })
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|| openzero_core::calendar::midnight(tz, next));
            Due::At { at }
        }
        _ => Due::Day { date: next },
    };
    let boards = store.boards().await?;
    let Some(board) = boards.iter().find(|b| b.id == c.board_id) else {
        return Ok(None);
    };
    let list = first_open_list(board)?;
    Ok(Some(
        store
            .card_add(&NewCard {
                list_id: list.id,
                title: c.title.clone(),
                description: c.description.clone(),
                due: Some(due),
                labels: c.labels.clone(),
                project_id: c.project_id,
                repeat: c.repeat.clone(),
            })
            .await?,
    ))
}

/// Moves a task to a list of its board (`List`), or of another (`Board/List`);
/// a repeating one reaching a done list is followed by its next.
pub async fn move_to(
    store: &dyn BoardStore,
    tz: Tz,
    now: DateTime<Utc>,
    id: i64,
    target: &str,
) -> Result<CardRow, AppError> {
    let c = card(store, id).await?;
    let boards = store.boards().await?;
    let list = match target.split_once('/') {
        Some((b, l)) => find_list(find_board(&boards, b)?, l)?,
        None => find_list(
            boards
                .iter()
                .find(|b| b.id == c.board_id)
                .ok_or_else(|| AppError::Invalid(format!("task #{id} is on no board")))?,
            target,
        )?,
    };
    if let Some(board) = boards.iter().find(|b| b.id == list.board_id) {
        open_target(board, list)?;
    }
    put(store, tz, now, &c, list.id).await
}

/// Puts card `c` on list `list_id` (checked open by the caller); a
/// repeating one reaching a done list is followed by its next.
async fn put(
    store: &dyn BoardStore,
    tz: Tz,
    now: DateTime<Utc>,
    c: &CardRow,
    list_id: i64,
) -> Result<CardRow, AppError> {
    let moved = store
        .card_move(c.id, list_id)
        .await?
        .ok_or_else(|| AppError::Invalid(format!("there is no task #{}", c.id)))?;
    next_if_done(store, tz, now, c.list_done, &moved).await;
    Ok(moved)
}

/// Moves a task to list `list_id` (the dashboard's drag and drop), with
/// the same rules as [`move_to`].
pub async fn move_to_list(
    store: &dyn BoardStore,
    tz: Tz,
    now: DateTime<Utc>,
    id: i64,
    list_id: i64,
) -> Result<CardRow, AppError> {
    let c = card(store, id).await?;
    let boards = store.boards().await?;
    let (board, list) = boards
        .iter()
        .find_map(|b| b.lists.iter().find(|l| l.id == list_id).map(|l| (b, l)))
        .ok_or_else(|| AppError::Invalid(format!("there is no list #{list_id}")))?;
    open_target(board, list)?;
    put(store, tz, now, &c, list.id).await
}

/// A task may go only to a list and board in use (archived ones hide
/// their tasks).
fn open_target(board: &BoardRow, list: &ListRow) -> Result<(), AppError> {
    if board.archived {
        return Err(AppError::Invalid(format!(
            "board {} is archived (bring it back with `openzero board archive {} --undo`)",
            board.name, board.name
        )));
    }
    if list.archived {
        return Err(AppError::Invalid(format!(
            "list {} of {} is archived (bring it back with `openzero board edit-list {} \"{}\" --unarchive`)",
            list.name, board.name, board.name, list.name
        )));
    }
    Ok(())
}

/// Adds a repeating task's next one when this move made it done (not when
/// it was done already: tapping Done twice adds one next task, not two).
/// The move stands even when the next one cannot be added (logged).
pub(crate) async fn next_if_done(
    store: &dyn BoardStore,
    tz: Tz,
    now: DateTime<Utc>,
    was_done: bool,
    moved: &CardRow,
) {
    if was_done || !moved.list_done {
        return;
    }
    if let Err(e) = follow_up(store, tz, now, moved).await {
        tracing::warn!(card = moved.id, error = %e, "the repeating task's next one was not added");
    }
}

/// Moves a task to its board's first done list (a repeating one is
/// followed by its next).
pub async fn done(
    store: &dyn BoardStore,
    tz: Tz,
    now: DateTime<Utc>,
    id: i64,
) -> Result<CardRow, AppError> {
    let c = card(store, id).await?;
    let boards = store.boards().await?;
    let list = boards
        .iter()
        .find(|b| b.id == c.board_id)
        .and_then(|b| b.lists.iter().find(|l| l.done && !l.archived))
        .ok_or_else(|| AppError::Invalid(format!("board {} has no done list", c.board)))?;
    let moved = store
        .card_move(id, list.id)
        .await?
        .ok_or_else(|| AppError::Invalid(format!("there is no task #{id}")))?;
    next_if_done(store, tz, now, c.list_done, &moved).await;
    Ok(moved)
}

/// What to change on a task (`None`: leave as is); `due` as typed, "none"
/// clears it.
#[derive(Debug, Clone, Default)]
pub struct EditTask {
    pub title: Option<String>,
    pub due: Option<String>,
    pub labels: Option<Vec<String>>,
    pub description: Option<String>,
    pub project_id: Option<Option<i64>>,
    pub checklist: ChecklistEdit,
}

/// Changes to a task's checklist: cleared first, then items added, then
/// items (numbered from 1) ticked or unticked.
#[derive(Debug, Clone, Default)]
pub struct ChecklistEdit {
    pub add: Vec<String>,
    pub check: Vec<usize>,
    pub uncheck: Vec<usize>,
    pub clear: bool,
}

impl ChecklistEdit {
    fn is_empty(&self) -> bool {
        self.add.is_empty() && self.check.is_empty() && self.uncheck.is_empty() && !self.clear
    }

    /// The checklist after these changes; an item number that does not
    /// exist is an error.
    fn apply(&self, now: &[CheckItem]) -> Result<Vec<CheckItem>, AppError> {
        let mut items = if self.clear { Vec::new() } else { now.to_vec() };
        for text in &self.add {
            let text = text.trim();
            if text.is_empty() {
                return Err(AppError::Invalid("a checklist item needs some text".into()));
            }
            items.push(CheckItem {
                text: text.to_owned(),
                done: false,
            });
        }
        for (list, done) in [(&self.check, true), (&self.uncheck, false)] {
            for n in list {
                let len = items.len();
                let item = n
                    .checked_sub(1)
                    .and_then(|i| items.get_mut(i))
                    .ok_or_else(|| {
                        AppError::Invalid(format!(
                            "there is no checklist item {n} (the task has {len})"
                        ))
                    })?;
                item.done = done;
            }
        }
        Ok(items)
    }
}

/// Archives a task (or brings it back): it leaves the lists, the
/// briefing and, when synced, Planka.
pub async fn archive(store: &dyn BoardStore, id: i64, archived: bool) -> Result<CardRow, AppError> {
    card(store, id).await?;
    let patch = CardPatch {
        archived: Some(archived),
        ..CardPatch::default()
    };
    store
        .card_update(
            id,
            &patch,
            if archived { "archived" } else { "brought back" },
        )
        .await?
        .ok_or_else(|| AppError::Invalid(format!("there is no task #{id}")))
}

/// Changes a task's fields.
pub async fn edit(
    store: &dyn BoardStore,
    tz: Tz,
    now: DateTime<Utc>,
    id: i64,
    e: EditTask,
) -> Result<CardRow, AppError> {
    let EditTask {
        title,
        due,
        labels,
        description,
        project_id,
        checklist,
    } = e;
    let current = card(store, id).await?;
    let checklist = if checklist.is_empty() {
        None
    } else {
        Some(checklist.apply(&current.checklist)?)
    };
    let mut what = Vec::new();
    let due = match due {
        None => None,
        Some(d) if d.trim().eq_ignore_ascii_case("none") => Some(None),
        Some(d) => Some(Some(
            parse_due(&d, now, tz).map_err(|e| AppError::Invalid(e.to_string()))?,
        )),
    };
    for (set, name) in [
        (title.is_some(), "title"),
        (due.is_some(), "due"),
        (labels.is_some(), "labels"),
        (description.is_some(), "description"),
        (project_id.is_some(), "project"),
        (checklist.is_some(), "checklist"),
    ] {
        if set {
            what.push(name);
        }
    }
    if what.is_empty() {
        return Err(AppError::EmptyUpdate);
    }
    let patch = CardPatch {
        title,
        description,
        due,
        labels,
        project_id,
        checklist,
        ..CardPatch::default()
    };
    store
        .card_update(id, &patch, &format!("edited {}", what.join(", ")))
        .await?
        .ok_or_else(|| AppError::Invalid(format!("there is no task #{id}")))
}

/// Open tasks (done ones with `include_done`), of a board if named, due
/// before `due_before` if given.
pub async fn list(
    store: &dyn BoardStore,
    board: Option<&str>,
    due_before: Option<DateTime<Utc>>,
    include_done: bool,
    tz: Tz,
) -> Result<Vec<CardRow>, AppError> {
    let board_id = match board {
        Some(b) => Some(find_board(&store.boards().await?, b)?.id),
        None => None,
    };
    let cards = store
        .cards(&CardQuery {
            board_id,
            include_done,
            due_only: due_before.is_some(),
            ..CardQuery::default()
        })
        .await?;
    Ok(match due_before {
        None => cards,
        Some(limit) => cards
            .into_iter()
            .filter(|c| c.due.is_some_and(|d| d.starts_at(tz) < limit))
            .collect(),
    })
}

/// A task as JSON: id, title, board, list, due (RFC 3339 with the owner's
/// offset or YYYY-MM-DD), project, labels, done and more.
pub fn card_json(c: &CardRow, tz: Tz, project: Option<&str>) -> serde_json::Value {
    serde_json::json!({
        "id": c.id,
        "title": c.title,
        "board": c.board,
        "list": c.list,
        "due": c.due.map(|d| d.to_string_in(tz)),
        "project": project,
        "project_id": c.project_id,
        "labels": c.labels,
        "checklist": c.checklist,
        "description": c.description,
        "done": c.list_done,
        "repeat": c.repeat,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    })
}

/// One line for a person: `#12 Update CV (Career/Inbox) · due Thu 3 Dec`.
pub fn card_line(c: &CardRow, tz: Tz) -> String {
    let mut s = format!("#{} {} ({}/{})", c.id, c.title, c.board, c.list);
    if let Some(d) = c.due {
        s.push_str(&format!(" · due {}", d.label(tz)));
    }
    if let Some(r) = &c.repeat {
        s.push_str(&format!(" · {r}"));
    }
    if !c.labels.is_empty() {
        s.push_str(&format!(" · {}", c.labels.join(", ")));
    }
    s
}

/// The morning briefing's task lines: overdue first, then due today.
pub async fn briefing_lines(
    store: &dyn BoardStore,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Vec<String>, AppError> {
    let today = now.with_timezone(&tz).date_naive();
    let cards = store
        .cards(&CardQuery {
            due_only: true,
            ..CardQuery::default()
        })
        .await?;
    let mut overdue = Vec::new();
    let mut due_today = Vec::new();
    for c in &cards {
        let Some(d) = c.due else { continue };
        if d.overdue(tz, now) {
            overdue.push(format!("Overdue: {}", card_line(c, tz)));
        } else if d.day(tz) == today {
            due_today.push(format!("Today: {}", card_line(c, tz)));
        }
    }
    overdue.append(&mut due_today);
    Ok(overdue)
}

/// The weekly review's task lines: what reached a done list in the last
/// seven days, and what sat in a list called Blocked all week.
pub async fn week_lines(
    store: &dyn BoardStore,
    now: DateTime<Utc>,
) -> Result<Vec<String>, AppError> {
    let week = now - Duration::days(7);
    let cards = store
        .cards(&CardQuery {
            include_done: true,
            ..CardQuery::default()
        })
        .await?;
    let mut out = Vec::new();
    for c in cards
        .iter()
        .filter(|c| c.done_at.is_some_and(|d| d >= week))
    {
        out.push(format!("Done: #{} {} ({})", c.id, c.title, c.board));
    }
    for c in cards
        .iter()
        .filter(|c| c.list.eq_ignore_ascii_case("blocked"))
    {
        let since = store
            .card_history(c.id)
            .await?
            .into_iter()
            .rev()
            .find(|(_, w)| w == "created" || w.starts_with("moved"))
            .map(|(at, _)| at);
        if since.is_some_and(|s| s <= week) {
            out.push(format!(
                "Blocked all week: #{} {} ({})",
                c.id, c.title, c.board
            ));
        }
    }
    Ok(out)
}

/// `/task TEXT` with its buttons: the answer and (label, data) pairs.
pub async fn chat_add_with_buttons(
    services: &crate::Services,
    text: &str,
) -> Result<(String, Vec<(String, String)>), AppError> {
    let tz = services.loaded.settings.general.timezone.0;
    let c = add_from_text(&*services.store, tz, crate::clock::now(), text).await?;
    let buttons = move_buttons(&*services.store, &c).await?;
    Ok((format!("Added {}", card_line(&c, tz)), buttons))
}

/// Buttons to move a task on from chat: one per other open list of its
/// board, and done. Each is (label, callback data) with data
/// `taskmv:CARD:LIST` (within Telegram's 64 bytes).
pub async fn move_buttons(
    store: &dyn BoardStore,
    c: &CardRow,
) -> Result<Vec<(String, String)>, AppError> {
    let boards = store.boards().await?;
    let Some(board) = boards.iter().find(|b| b.id == c.board_id) else {
        return Ok(Vec::new());
    };
    Ok(board
        .lists
        .iter()
        .filter(|l| !l.archived && l.id != c.list_id)
        .map(|l| {
            let label = if l.done {
                format!("✓ {}", l.name)
            } else {
                format!("→ {}", l.name)
            };
            (label, format!("taskmv:{}:{}", c.id, l.id))
        })
        .collect())
}

/// A tap on a move button: the task moved to the list, or why not.
pub async fn move_by_button(
    store: &dyn BoardStore,
    data: &str,
    tz: Tz,
) -> Result<String, AppError> {
    let mut parts = data.strip_prefix("taskmv:").unwrap_or_default().split(':');
    let (Some(Ok(card)), Some(Ok(list))) = (
        parts.next().map(str::parse::<i64>),
        parts.next().map(str::parse::<i64>),
    ) else {
        return Err(AppError::Invalid("that button is not mine".into()));
    };
    let before = store
        .card_get(card)
        .await?
        .ok_or_else(|| AppError::Invalid(format!("task #{card} is gone")))?;
    let c = store
        .card_move(card, list)
        .await?
        .ok_or_else(|| AppError::Invalid(format!("task #{card} is gone")))?;
    next_if_done(store, tz, crate::clock::now(), before.list_done, &c).await;
    Ok(format!("Moved {}", card_line(&c, tz)))
}

/// `/tasks` in chat: open tasks, due ones first (soonest first), at most 30.
pub async fn chat_list(services: &crate::Services) -> Result<String, AppError> {
    let tz = services.loaded.settings.general.timezone.0;
    let mut cards = list(&*services.store, None, None, false, tz).await?;
    if cards.is_empty() {
        return Ok("No open tasks. Add one with /task call the bank tomorrow".into());
    }
    cards.sort_by_key(|c| (c.due.is_none(), c.due.map(|d| d.starts_at(tz))));
    let lines: Vec<String> = cards
        .iter()
        .take(30)
        .map(|c| format!("• {}", card_line(c, tz)))
        .collect();
    Ok(format!("Open tasks\n{}", lines.join("\n")))
}

/// The briefing's tasks: those due in the morning briefing, the week's in
/// the weekly review.
pub async fn briefing_part(
    services: &std::sync::Arc<crate::Services>,
    kind: openzero_core::briefing::Kind,
    now: DateTime<Tz>,
) -> Result<crate::briefings::Part, AppError> {
    use crate::briefings::Part;
    use openzero_core::briefing::{Kind, Place};
    let store = &*services.store;
    let utc = now.with_timezone(&Utc);
    Ok(match kind {
        Kind::Daily => Part::section(
            "Tasks due",
            briefing_lines(store, now.timezone(), utc).await?,
            Place::Lead,
            30,
        ),
        Kind::Weekly => Part::section(
            "Tasks this week",
            week_lines(store, utc).await?,
            Place::Tail,
            10,
        ),
        Kind::Monthly => Part::default(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use openzero_store::Database as _;
    use openzero_store_sqlite::SqliteStore;

    #[tokio::test]
    async fn the_week_names_what_got_done_and_what_sat_blocked() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let now = Utc::now();
        let t = |title: &str| AddTask {
            title: title.into(),
            board: Some("Career".into()),
            ..AddTask::default()
        };
        let stuck = add(&store, tz, now, &t("Visa papers")).await.unwrap();
        move_to(&store, tz, now, stuck.id, "blocked").await.unwrap();
        let shipped = add(&store, tz, now, &t("Send the report")).await.unwrap();
        done(&store, tz, now, shipped.id).await.unwrap();

        // Today: done this week, blocked only since today.
        let lines = week_lines(&store, now).await.unwrap();
        assert_eq!(
            lines,
            vec![format!("Done: #{} Send the report (Career)", shipped.id)]
        );
        // Eight days on: nothing done within the week, the blocked one sat.
        let later = week_lines(&store, now + Duration::days(8)).await.unwrap();
        assert_eq!(
            later,
            vec![format!(
                "Blocked all week: #{} Visa papers (Career)",
                stuck.id
            )]
        );
        store.close().await;
    }
}
