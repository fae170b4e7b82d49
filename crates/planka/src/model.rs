//! Planka's records as this crate gives them, read from its JSON.
//!
//! Ids are strings (Planka's ids are 64-bit "snowflakes" sent as strings; a
//! bare number is accepted too). Timestamps are ISO 8601 (`…T13:19:56.604Z`);
//! `updatedAt` is `null` until a record is first changed. Positions are
//! numbers, 65535 apart when Planka places things itself. Unknown fields are
//! ignored, so a newer Planka adding fields reads the same.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

/// The gap Planka's own client leaves between positions (`POSITION_GAP`).
pub const POSITION_GAP: f64 = 65535.0;

/// The label colours Planka v1 accepts (`Label.COLORS`); any other is
/// refused with HTTP 400.
pub const LABEL_COLORS: &[&str] = &[
    "berry-red",
    "pumpkin-orange",
    "lagoon-blue",
    "pink-tulip",
    "light-mud",
    "orange-peel",
    "bright-moss",
    "antique-blue",
    "dark-granite",
    "lagune-blue",
    "sunny-grass",
    "morning-sky",
    "light-orange",
    "midnight-blue",
    "tank-green",
    "gun-metal",
    "wet-moss",
    "red-burgundy",
    "light-concrete",
    "apricot-red",
    "desert-sand",
    "navy-blue",
    "egg-yellow",
    "coral-green",
    "light-cocoa",
];

/// A project and the boards in it this user can see, by position.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub boards: Vec<Board>,
}

/// A board (without its contents: see [`BoardDetail`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Board {
    #[serde(deserialize_with = "id")]
    pub id: String,
    #[serde(deserialize_with = "id")]
    pub project_id: String,
    pub name: String,
    #[serde(default, deserialize_with = "position")]
    pub position: f64,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// A column of a board.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct List {
    #[serde(deserialize_with = "id")]
    pub id: String,
    #[serde(deserialize_with = "id")]
    pub board_id: String,
    /// Optional in case a (v2) special list has none.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "position")]
    pub position: f64,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// A card. Adding or removing a label or a task does **not** change its
/// `updated_at` (those are records of their own).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Card {
    #[serde(deserialize_with = "id")]
    pub id: String,
    #[serde(deserialize_with = "id")]
    pub board_id: String,
    #[serde(deserialize_with = "id")]
    pub list_id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "position")]
    pub position: f64,
    #[serde(default)]
    pub due_date: Option<DateTime<Utc>>,
    /// v1 `isDueDateCompleted`, v2 `isDueCompleted`; `null` without a due date.
    #[serde(default, alias = "isDueCompleted")]
    pub is_due_date_completed: Option<bool>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// `None` until the card is first changed.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

impl Card {
    /// When it last changed: `updated_at`, else `created_at`.
    pub fn changed_at(&self) -> Option<DateTime<Utc>> {
        self.updated_at.or(self.created_at)
    }
}

/// A label defined on a board.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Label {
    #[serde(deserialize_with = "id")]
    pub id: String,
    #[serde(deserialize_with = "id")]
    pub board_id: String,
    /// Planka allows a label with only a colour.
    #[serde(default)]
    pub name: Option<String>,
    pub color: String,
    #[serde(default, deserialize_with = "position")]
    pub position: f64,
}

/// A label put on a card.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardLabel {
    #[serde(deserialize_with = "id")]
    pub id: String,
    #[serde(deserialize_with = "id")]
    pub card_id: String,
    #[serde(deserialize_with = "id")]
    pub label_id: String,
}

/// A checklist item of a card.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// v1: the card. (v2 hangs tasks off a task list: `None` there.)
    #[serde(default, deserialize_with = "opt_id")]
    pub card_id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub is_completed: bool,
    #[serde(default, deserialize_with = "position")]
    pub position: f64,
}

/// A board with everything on it, as `GET /api/boards/:id` gives it.
/// Lists, labels and tasks are sorted by position; cards by list position,
/// then their own.
#[derive(Debug, Clone, PartialEq)]
pub struct BoardDetail {
    pub board: Board,
    pub lists: Vec<List>,
    pub cards: Vec<Card>,
    pub labels: Vec<Label>,
    pub card_labels: Vec<CardLabel>,
    pub tasks: Vec<Task>,
}

impl BoardDetail {
    /// The list with this id.
    pub fn list(&self, id: &str) -> Option<&List> {
        self.lists.iter().find(|l| l.id == id)
    }

    /// The list with this name (the first, if several share it).
    pub fn list_named(&self, name: &str) -> Option<&List> {
        self.lists.iter().find(|l| l.name.as_deref() == Some(name))
    }

    /// The card with this id.
    pub fn card(&self, id: &str) -> Option<&Card> {
        self.cards.iter().find(|c| c.id == id)
    }

    /// The cards of one list, by position.
    pub fn cards_in(&self, list_id: &str) -> Vec<&Card> {
        self.cards.iter().filter(|c| c.list_id == list_id).collect()
    }

    /// The labels on a card, in the board's label order.
    pub fn labels_of(&self, card_id: &str) -> Vec<&Label> {
        self.labels
            .iter()
            .filter(|l| {
                self.card_labels
                    .iter()
                    .any(|cl| cl.card_id == card_id && cl.label_id == l.id)
            })
            .collect()
    }

    /// The tasks of a card, by position.
    pub fn tasks_of(&self, card_id: &str) -> Vec<&Task> {
        self.tasks
            .iter()
            .filter(|t| t.card_id.as_deref() == Some(card_id))
            .collect()
    }
}

/// A new card.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CardFields {
    pub name: String,
    pub position: f64,
    /// An empty description is sent as none (Planka refuses `""`).
    pub description: Option<String>,
    pub due_date: Option<DateTime<Utc>>,
}

/// A change to a card: only the fields that are `Some` are sent. For the
/// nullable ones, `Some(None)` clears the value.
///
/// Planka's rules (v1 `cards/update-one`): a new `list_id` needs a
/// `position` (else HTTP 422 "Position must be present"); a new `board_id`
/// needs a `list_id` of that board (else 422 "List must be present"), and
/// the board must be in the same project. Moving to another board drops
/// the card's labels and puts on the new board's labels of the same names,
/// creating those that are missing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CardUpdate {
    pub name: Option<String>,
    /// `Some(None)` (or an empty text) clears the description.
    pub description: Option<Option<String>>,
    pub due_date: Option<Option<DateTime<Utc>>>,
    pub is_due_date_completed: Option<bool>,
    pub board_id: Option<String>,
    pub list_id: Option<String>,
    pub position: Option<f64>,
}

impl CardUpdate {
    /// Move to another list of the same board, at `position`.
    pub fn move_to(list_id: &str, position: f64) -> CardUpdate {
        CardUpdate {
            list_id: Some(list_id.to_owned()),
            position: Some(position),
            ..CardUpdate::default()
        }
    }

    /// Move to a list of another board (of the same project), at `position`.
    pub fn move_to_board(board_id: &str, list_id: &str, position: f64) -> CardUpdate {
        CardUpdate {
            board_id: Some(board_id.to_owned()),
            ..CardUpdate::move_to(list_id, position)
        }
    }

    /// Nothing to change.
    pub fn is_empty(&self) -> bool {
        *self == CardUpdate::default()
    }
}

/// A change to a list.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListUpdate {
    pub name: Option<String>,
    pub position: Option<f64>,
}

/// An id: a string, or (leniently) a bare integer.
pub(crate) fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        S(String),
        N(u64),
    }
    Ok(match Id::deserialize(d)? {
        Id::S(s) => s,
        Id::N(n) => n.to_string(),
    })
}

fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        S(String),
        N(u64),
    }
    Ok(match Option::<Id>::deserialize(d)? {
        Some(Id::S(s)) => Some(s),
        Some(Id::N(n)) => Some(n.to_string()),
        None => None,
    })
}

/// A position; `null` reads as 0.
fn position<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_as_planka_1_17_sends_it() {
        // The shape of `GET /api/cards/:id`'s item in plankanban/planka#736.
        let json = r#"{"id":"1237021017109432278","createdAt":"2024-05-02T13:19:56.604Z",
            "updatedAt":"2024-05-02T20:20:47.425Z","position":65535,"name":"NAME",
            "description":"DESCRIPTION","dueDate":"2024-05-08T10:00:00.000Z",
            "stopwatch":{"total":21600,"startedAt":null},"boardId":"1202247906392802324",
            "listId":"1202252203985732663","creatorUserId":"1202234652308276232",
            "coverAttachmentId":null,"isSubscribed":false}"#;
        let c: Card = serde_json::from_str(json).unwrap();
        assert_eq!(c.id, "1237021017109432278");
        assert!((c.position - POSITION_GAP).abs() < f64::EPSILON);
        assert_eq!(
            c.due_date.map(|d| d.to_rfc3339()),
            Some("2024-05-08T10:00:00+00:00".into())
        );
        assert_eq!(c.is_due_date_completed, None);
        assert!(c.updated_at > c.created_at);
    }

    #[test]
    fn nulls_and_numbers_are_read_leniently() {
        let json = r#"{"id":1,"boardId":"2","listId":"3","name":"n","position":null,
            "description":null,"dueDate":null,"updatedAt":null,"isDueCompleted":true}"#;
        let c: Card = serde_json::from_str(json).unwrap();
        assert_eq!(c.id, "1");
        assert_eq!(c.position, 0.0);
        assert_eq!(c.updated_at, None);
        assert_eq!(c.is_due_date_completed, Some(true));
        assert_eq!(c.changed_at(), None);
    }
}
