//! The boards port: boards by life domain, their lists in order, the cards
//! on them with their history of moves.
//!
//! A card's move, its history line and its `done_at` commit together; a
//! list marked `done` counts its cards as done.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use openzero_core::when::Due;
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// A list of a board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListRow {
    pub id: i64,
    pub board_id: i64,
    pub name: String,
    pub position: i64,
    /// Cards here count as done.
    pub done: bool,
    pub archived: bool,
}

/// A board with its lists in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BoardRow {
    pub id: i64,
    pub name: String,
    pub domain: Option<String>,
    pub position: i64,
    pub archived: bool,
    pub lists: Vec<ListRow>,
}

/// One item of a card's checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckItem {
    pub text: String,
    pub done: bool,
}

/// A card, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardRow {
    pub id: i64,
    pub board_id: i64,
    pub board: String,
    pub list_id: i64,
    pub list: String,
    /// Its list counts as done.
    pub list_done: bool,
    pub title: String,
    pub description: String,
    pub due: Option<Due>,
    pub labels: Vec<String>,
    pub checklist: Vec<CheckItem>,
    pub project_id: Option<i64>,
    pub position: i64,
    pub archived: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When it last reached a done list.
    pub done_at: Option<DateTime<Utc>>,
    /// Its repeat rule, as `core::repeat::Repeat::as_text` writes it.
    pub repeat: Option<String>,
}

/// A card to add (at the end of its list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCard {
    pub list_id: i64,
    pub title: String,
    pub description: String,
    pub due: Option<Due>,
    pub labels: Vec<String>,
    pub project_id: Option<i64>,
    pub repeat: Option<String>,
}

/// What to change on a card (`None`: leave as is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub due: Option<Option<Due>>,
    pub labels: Option<Vec<String>>,
    pub checklist: Option<Vec<CheckItem>>,
    pub project_id: Option<Option<i64>>,
    pub archived: Option<bool>,
    pub repeat: Option<Option<String>>,
}

/// Which cards to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardQuery {
    pub board_id: Option<i64>,
    pub list_id: Option<i64>,
    pub project_id: Option<i64>,
    /// Cards in done lists too.
    pub include_done: bool,
    pub include_archived: bool,
    /// Only cards with a due date.
    pub due_only: bool,
}

#[async_trait]
pub trait BoardStore: Send + Sync + std::fmt::Debug {
    /// Every board with its lists, in order (archived ones too, marked).
    async fn boards(&self) -> Result<Vec<BoardRow>, StoreError>;

    /// Adds a board with lists (name, done); `None` when the name is taken.
    async fn board_add(
        &self,
        name: &str,
        domain: Option<&str>,
        lists: &[(String, bool)],
    ) -> Result<Option<BoardRow>, StoreError>;

    /// Renames a board; false when another board has that name.
    async fn board_rename(&self, id: i64, name: &str) -> Result<bool, StoreError>;

    async fn board_archive(&self, id: i64, archived: bool) -> Result<(), StoreError>;

    /// Adds a list at the end of a board; `None` when the board has one by
    /// that name.
    async fn list_add(
        &self,
        board_id: i64,
        name: &str,
        done: bool,
    ) -> Result<Option<ListRow>, StoreError>;

    /// Renames a list; false when its board has another by that name.
    async fn list_rename(&self, id: i64, name: &str) -> Result<bool, StoreError>;

    async fn list_archive(&self, id: i64, archived: bool) -> Result<(), StoreError>;

    /// Puts a list at `position` (1-based) in its board, the others after it.
    async fn list_move(&self, id: i64, position: i64) -> Result<(), StoreError>;

    /// Puts a board at `position` (1-based) among the boards, the others
    /// after it.
    async fn board_move(&self, id: i64, position: i64) -> Result<(), StoreError>;

    async fn card_add(&self, c: &NewCard) -> Result<CardRow, StoreError>;

    async fn card_get(&self, id: i64) -> Result<Option<CardRow>, StoreError>;

    /// Changes a card and notes `what` in its history; `None` when there is
    /// no such card.
    async fn card_update(
        &self,
        id: i64,
        p: &CardPatch,
        what: &str,
    ) -> Result<Option<CardRow>, StoreError>;

    /// Moves a card to the end of `list_id` (any board), with its history
    /// line and `done_at`; `None` when there is no such card.
    async fn card_move(&self, id: i64, list_id: i64) -> Result<Option<CardRow>, StoreError>;

    /// Cards matching `q`, by board, list and position.
    async fn cards(&self, q: &CardQuery) -> Result<Vec<CardRow>, StoreError>;

    /// A card's history, oldest first.
    async fn card_history(&self, id: i64) -> Result<Vec<(DateTime<Utc>, String)>, StoreError>;
}

/// Labels or a checklist as stored (a JSON array).
pub fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// Stored labels read back.
pub fn labels_from(text: &str) -> Option<Vec<String>> {
    serde_json::from_str(text).ok()
}

/// A stored checklist read back.
pub fn checklist_from(text: &str) -> Option<Vec<CheckItem>> {
    serde_json::from_str(text).ok()
}
