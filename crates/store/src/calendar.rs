//! The calendar port: the calendars the owner follows (read-only), their
//! resources' iCalendar text, the state that makes the next sync
//! incremental, and what the days looked like at the last briefing.
//!
//! A sync's changes and its new state commit in one transaction: a crash
//! mid-sync leaves the calendar as it was, and the next run starts again
//! from the last state that was kept.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use crate::StoreError;

/// What kind of source a calendar comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A local `.ics` file, imported once.
    File,
    /// An `http(s)` iCalendar subscription.
    Ics,
    Caldav,
    Google,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::File => "file",
            SourceKind::Ics => "ics",
            SourceKind::Caldav => "caldav",
            SourceKind::Google => "google",
        }
    }

    pub fn parse(id: i64, s: &str) -> Result<SourceKind, StoreError> {
        Ok(match s {
            "file" => SourceKind::File,
            "ics" => SourceKind::Ics,
            "caldav" => SourceKind::Caldav,
            "google" => SourceKind::Google,
            other => {
                return Err(StoreError::InvalidData(format!(
                    "calendar source {id}: unknown kind {other:?}"
                )));
            }
        })
    }
}

/// A source to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSource {
    pub name: String,
    pub kind: SourceKind,
    pub url: String,
    pub username: Option<String>,
}

/// A source the owner added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRow {
    pub id: i64,
    pub name: String,
    pub kind: SourceKind,
    pub url: String,
    pub username: Option<String>,
    pub created_at: DateTime<Utc>,
    pub synced_at: Option<DateTime<Utc>>,
    /// The last sync's error, readable (none: it worked).
    pub last_error: Option<String>,
}

/// What makes the next sync of a calendar incremental.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncState {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub ctag: Option<String>,
    pub sync_token: Option<String>,
}

/// One calendar of a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarRow {
    pub id: i64,
    pub source_id: i64,
    pub source: String,
    pub kind: SourceKind,
    pub href: String,
    pub name: String,
    pub color: Option<String>,
    pub state: SyncState,
    pub remind_minutes: Option<i64>,
    pub flagged_at: Option<DateTime<Utc>>,
    /// How many resources it holds.
    pub objects: i64,
}

/// A resource's iCalendar text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRow {
    pub calendar_id: i64,
    pub href: String,
    pub etag: Option<String>,
    pub ics: String,
}

/// What a sync found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectChanges {
    /// Everything the calendar holds is replaced by `put` (a full resync).
    pub replace_all: bool,
    /// (href, etag, iCalendar text), added or replaced.
    pub put: Vec<(String, Option<String>, String)>,
    pub removed: Vec<String>,
}

#[async_trait]
pub trait CalendarStore: Send + Sync + std::fmt::Debug {
    /// Adds a source; `None` when one with that name exists.
    async fn cal_source_add(&self, s: &NewSource) -> Result<Option<SourceRow>, StoreError>;

    async fn cal_sources(&self) -> Result<Vec<SourceRow>, StoreError>;

    /// Removes a source, its calendars and everything they hold; false
    /// when there was none by that name.
    async fn cal_source_remove(&self, name: &str) -> Result<bool, StoreError>;

    /// Records a sync's end: when, and its error (none: it worked).
    async fn cal_source_synced(&self, id: i64, error: Option<&str>) -> Result<(), StoreError>;

    /// The calendar `href` of a source, created (empty) if new; its name
    /// and color follow the server's.
    async fn cal_calendar_upsert(
        &self,
        source_id: i64,
        href: &str,
        name: &str,
        color: Option<&str>,
    ) -> Result<CalendarRow, StoreError>;

    /// Every calendar, by source name then calendar name.
    async fn cal_calendars(&self) -> Result<Vec<CalendarRow>, StoreError>;

    /// Removes a calendar that is gone from its server.
    async fn cal_calendar_remove(&self, id: i64) -> Result<(), StoreError>;

    /// Applies a sync's changes and moves the calendar's state, in one
    /// transaction.
    async fn cal_apply(
        &self,
        calendar_id: i64,
        changes: &ObjectChanges,
        state: &SyncState,
    ) -> Result<(), StoreError>;

    /// The resources of the given calendars (all when `None`).
    async fn cal_objects(&self, calendars: Option<&[i64]>) -> Result<Vec<ObjectRow>, StoreError>;

    /// Each resource's href and etag, to compare with a server's.
    async fn cal_etags(
        &self,
        calendar_id: i64,
    ) -> Result<Vec<(String, Option<String>)>, StoreError>;

    /// Sets minutes-before reminders for a calendar (none: off).
    async fn cal_set_reminders(&self, id: i64, minutes: Option<i64>) -> Result<(), StoreError>;

    /// Marks a calendar flagged (a feed whose times look shifted); false
    /// when it was flagged already.
    async fn cal_flag(&self, id: i64) -> Result<bool, StoreError>;

    /// Keeps what `day` looked like (JSON), replacing an earlier look.
    async fn cal_snapshot_put(&self, day: NaiveDate, occurrences: &str) -> Result<(), StoreError>;

    /// What `day` looked like when last kept, and when.
    async fn cal_snapshot(
        &self,
        day: NaiveDate,
    ) -> Result<Option<(DateTime<Utc>, String)>, StoreError>;
}
