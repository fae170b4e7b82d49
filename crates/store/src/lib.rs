//! The storage port: one trait every backend implements.
//!
//! **Invariants:** this crate does no I/O; adapters (`openzero-store-sqlite`,
//! `openzero-store-postgres`) do. Every adapter passes the same conformance
//! suite ([`store_suite!`], feature `testsuite`). Errors are phrased for the
//! owner: what failed and what to do.

use std::fmt::Debug;

use async_trait::async_trait;
use openzero_core::agent::{Role, Turn};
use openzero_core::consent::{DecideError, Decision, Disclosure, ThoughtState};
use openzero_core::memory::{Filters, Memory, MemoryId};
use openzero_core::{NewProject, Project, ProjectId, ProjectPatch};

pub mod backup;
#[cfg(feature = "testsuite")]
#[path = "tests/backup_suite.rs"]
pub mod backup_testsuite;
pub mod board;
#[cfg(feature = "testsuite")]
#[path = "tests/board_suite.rs"]
pub mod board_testsuite;
pub mod calendar;
#[cfg(feature = "testsuite")]
#[path = "tests/calendar_suite.rs"]
pub mod calendar_testsuite;
pub mod dashboard;
#[cfg(feature = "testsuite")]
#[path = "tests/dashboard_suite.rs"]
pub mod dashboard_testsuite;
pub mod finance;
#[cfg(feature = "testsuite")]
#[path = "tests/finance_suite.rs"]
pub mod finance_testsuite;
pub mod mail;
#[cfg(feature = "testsuite")]
#[path = "tests/mail_suite.rs"]
pub mod mail_testsuite;
pub mod memory_hygiene;
#[cfg(feature = "testsuite")]
#[path = "tests/memory_hygiene_suite.rs"]
pub mod memory_hygiene_testsuite;
pub mod memory_use;
pub mod news;
#[cfg(feature = "testsuite")]
#[path = "tests/news_suite.rs"]
pub mod news_testsuite;
pub mod sync_link;
#[cfg(feature = "testsuite")]
#[path = "tests/suite.rs"]
pub mod testsuite;
pub mod training;
#[cfg(feature = "testsuite")]
#[path = "tests/training_suite.rs"]
pub mod training_testsuite;

pub use backup::BackupStore;
pub use board::BoardStore;
pub use calendar::CalendarStore;
pub use dashboard::DashboardStore;
pub use finance::FinanceStore;
pub use mail::MailStore;
pub use memory_hygiene::MemoryHygieneStore;
pub use memory_rows::*;
pub use memory_use::MemoryUseStore;
pub use news::NewsStore;
pub use sync_link::SyncLinkStore;
pub use training::TrainingStore;

mod memory_rows;

/// Which backend a store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A storage failure, phrased as cause plus what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot reach the database at {target}: {detail}; {hint}")]
    Unreachable {
        target: String,
        detail: String,
        hint: &'static str,
    },
    #[error(
        "the database at {target} refused the login: {detail}; check the user and password in DATABASE_URL"
    )]
    Auth { target: String, detail: String },
    #[error(
        "{path} is not a valid SQLite database ({detail}); it was left untouched: move it aside or restore it from a backup"
    )]
    Corrupt { path: String, detail: String },
    #[error("the disk holding {target} is full; free some space and retry (nothing was written)")]
    DiskFull { target: String },
    #[error(
        "{target} is read-only ({detail}); make the data directory writable or choose another with --data-dir"
    )]
    ReadOnly { target: String, detail: String },
    #[error(
        "the database schema at {target} could not be brought up to date: {detail}; nothing was changed"
    )]
    Migration { target: String, detail: String },
    #[error(
        "the database at {target} was written by a newer OpenZero (schema version {found}, this build knows up to {known}); upgrade openzero"
    )]
    TooNew {
        target: String,
        found: i64,
        known: i64,
    },
    #[error("project #{0} does not exist")]
    ProjectNotFound(ProjectId),
    #[error("stored data is invalid: {0}")]
    InvalidData(String),
    #[error("database error: {0}")]
    Other(String),
}

/// What `remove_project` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    pub project: Project,
    /// Children moved up to the removed project's parent.
    pub children_moved: u64,
}

/// Storage ports, one per aggregate. Methods are small and do one thing;
/// validation of the domain rules (cycles, duplicate names) happens in the
/// application layer before a write.
/// The database itself: which backend, where, whether it answers, its schema.
#[async_trait]
pub trait Database: Send + Sync + Debug {
    fn backend(&self) -> Backend;

    /// Where the data lives, safe to show (no password).
    fn target(&self) -> String;

    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Applied schema version (the highest migration run).
    async fn schema_version(&self) -> Result<i64, StoreError>;

    /// Waits for in-flight work and closes connections.
    async fn close(&self);
}

/// The project tree.
#[async_trait]
pub trait ProjectStore: Send + Sync + Debug {
    async fn list_projects(&self) -> Result<Vec<Project>, StoreError>;

    async fn get_project(&self, id: ProjectId) -> Result<Option<Project>, StoreError>;

    async fn create_project(&self, p: &NewProject) -> Result<Project, StoreError>;

    async fn update_project(
        &self,
        id: ProjectId,
        patch: &ProjectPatch,
    ) -> Result<Project, StoreError>;

    /// Deletes a project and, in the same transaction, moves its children up
    /// to its own parent.
    async fn remove_project(&self, id: ProjectId) -> Result<Removed, StoreError>;

    /// Records that the owner reviewed the project now.
    async fn mark_reviewed(
        &self,
        id: ProjectId,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError>;
}

/// The owner's preferences (key → value).
#[async_trait]
pub trait PreferenceStore: Send + Sync + Debug {
    async fn get_preference(&self, key: &str) -> Result<Option<String>, StoreError>;

    async fn set_preference(&self, key: &str, value: &str) -> Result<(), StoreError>;

    async fn list_preferences(&self) -> Result<Vec<(String, String)>, StoreError>;
}

/// Semantic memory: texts, their vectors, full-text search, the change log.
#[async_trait]
pub trait MemoryStore: Send + Sync + Debug {
    /// Stores a memory unless the same text from the same source exists;
    /// returns the stored memory and whether it was new.
    async fn add_memory(&self, m: &MemoryRecord) -> Result<(Memory, bool), StoreError> {
        self.add_memories(std::slice::from_ref(m))
            .await?
            .pop()
            .ok_or_else(|| StoreError::Other("the store returned no row for a new memory".into()))
    }

    /// [`MemoryStore::add_memory`] for many, in one transaction: every record is
    /// stored (or found already present), or none is and the error says why.
    /// Results are in input order.
    async fn add_memories(
        &self,
        records: &[MemoryRecord],
    ) -> Result<Vec<(Memory, bool)>, StoreError>;

    /// Stores (or replaces) a memory's vector.
    async fn set_embedding(&self, id: MemoryId, e: &Embedding) -> Result<(), StoreError>;

    /// Memories without a vector of `model` (never embedded, or by another model), oldest first.
    async fn memories_needing_embedding(
        &self,
        model: &str,
        limit: i64,
    ) -> Result<Vec<(MemoryId, String)>, StoreError>;

    /// The memories with these ids (missing ids are skipped), in no particular order.
    async fn get_memories(&self, ids: &[MemoryId]) -> Result<Vec<Memory>, StoreError>;

    /// Vectors of `model` for memories with id greater than `after`, in id
    /// order, at most `limit` (to build the in-process index page by page).
    async fn memory_vectors(
        &self,
        model: &str,
        after: MemoryId,
        limit: i64,
    ) -> Result<Vec<VectorRow>, StoreError>;

    /// Vectors of `model` for these memories (missing ids and memories
    /// without such a vector are skipped).
    async fn memory_vectors_of(
        &self,
        model: &str,
        ids: &[MemoryId],
    ) -> Result<Vec<VectorRow>, StoreError>;

    /// Memories added, re-embedded or forgotten after change `after` of the
    /// change log (0: from the start), so an in-process index can catch up
    /// with writes made by other processes.
    async fn memory_changes(&self, after: i64) -> Result<MemoryChanges, StoreError>;

    /// Drops all but the newest `keep` entries of the change log. Readers
    /// further behind are told to rebuild (`MemoryChanges::truncated`).
    async fn prune_memory_changes(&self, keep: i64) -> Result<(), StoreError>;

    /// True when [`MemoryStore::dense_search`] is answered by the database, so no
    /// in-process index is needed.
    fn searches_vectors(&self) -> bool {
        false
    }

    /// Exact dense search run by the database itself (pgvector): the
    /// `limit` memories whose `model` vectors are most similar to `query`,
    /// with at least `min_score`, best first. `None` when this backend has
    /// no vector search of its own and the caller must search in process.
    async fn dense_search(
        &self,
        _model: &str,
        _query: &[f32],
        _limit: i64,
        _min_score: f32,
        _filters: &Filters,
    ) -> Result<Option<Vec<(MemoryId, f32)>>, StoreError> {
        Ok(None)
    }

    /// Full-text search: ids of memories containing any of the (plain,
    /// alphanumeric) terms, best match first.
    async fn text_search(
        &self,
        terms: &[String],
        filters: &Filters,
        limit: i64,
    ) -> Result<Vec<MemoryId>, StoreError>;

    /// Deletes a memory with its vector and full-text entry; false if absent.
    async fn forget_memory(&self, id: MemoryId) -> Result<bool, StoreError>;

    /// Memories with id greater than `after`, in id order (for export).
    async fn list_memories(&self, after: MemoryId, limit: i64) -> Result<Vec<Memory>, StoreError>;

    /// Counts for `memory stats` and `/health`.
    async fn memory_stats(&self, model: &str) -> Result<MemoryStats, StoreError>;

    /// Memories created in `[from, until)`, newest first, at most `limit`.
    async fn memories_between(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        until: chrono::DateTime<chrono::Utc>,
        limit: i64,
    ) -> Result<Vec<Memory>, StoreError>;
}

/// Conversations per channel and their running summaries.
#[async_trait]
pub trait ConversationStore: Send + Sync + Debug {
    /// Appends turns to a channel's conversation, in one transaction.
    async fn add_turns(&self, channel: &str, turns: &[Turn]) -> Result<(), StoreError>;

    /// The newest `limit` turns of a channel, oldest first.
    async fn recent_turns(&self, channel: &str, limit: i64) -> Result<Vec<Turn>, StoreError>;

    /// The newest `limit` turns of a channel after turn id `after`, with
    /// their ids, oldest first.
    async fn turns_after(
        &self,
        channel: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, Turn)>, StoreError>;

    /// The channel's current running summary.
    async fn latest_summary(&self, channel: &str) -> Result<Option<Summary>, StoreError>;

    /// Records a new running summary covering turns up to `upto`.
    async fn add_summary(&self, channel: &str, upto: i64, text: &str) -> Result<(), StoreError>;
}

/// The durable inbox of incoming events from every source (Telegram now;
/// Strava, Gmail push, Planka, the dashboard later): stored before the
/// sender is told they arrived, handled exactly once.
#[async_trait]
pub trait InboxStore: Send + Sync + Debug {
    /// Stores received events of `source` in one transaction; ones already
    /// stored (same external id) are ignored. Returns how many were new.
    async fn inbox_store(&self, source: &str, events: &[Incoming]) -> Result<usize, StoreError>;
    /// The highest `position` stored for `source` (Telegram polls from one
    /// past it), if any.
    async fn inbox_position(&self, source: &str) -> Result<Option<i64>, StoreError>;
    /// Events of `source` not handled yet, in the source's order (its
    /// positions, else arrival), at most `limit`.
    async fn inbox_unhandled(
        &self,
        source: &str,
        limit: i64,
    ) -> Result<Vec<InboxEvent>, StoreError>;
    /// Marks event `id` handled and queues its replies, in one transaction;
    /// an event already handled queues nothing.
    async fn inbox_finish(&self, id: i64, replies: &[OutMessage]) -> Result<(), StoreError>;
}

/// An event as received from a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// The source's own id for it (Telegram's update_id, Strava's event
    /// time and object): the same id twice is one event.
    pub external_id: String,
    /// The source's order, where it has one.
    pub position: Option<i64>,
    /// The raw payload (JSON), kept until handled.
    pub payload: String,
}

/// A stored event waiting to be handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEvent {
    pub id: i64,
    pub external_id: String,
    pub payload: String,
}

/// Outgoing Telegram messages: queued durably, sent in order.
#[async_trait]
pub trait OutboxStore: Send + Sync + Debug {
    /// Queues messages with no update behind them (notifications).
    async fn tg_queue(&self, messages: &[OutMessage]) -> Result<(), StoreError>;

    /// Queues `messages` unless `key` was queued before (then does
    /// nothing and returns false): a notification re-sent after a crash
    /// reaches the owner once.
    async fn tg_queue_once(&self, key: &str, messages: &[OutMessage]) -> Result<bool, StoreError>;

    /// Queued messages not sent yet, oldest first.
    async fn tg_outbox(&self, limit: i64) -> Result<Vec<Outgoing>, StoreError>;

    /// Records a queued message as sent.
    async fn tg_sent(&self, id: i64, message_id: i64) -> Result<(), StoreError>;

    /// Records that a send of message `id` begins (see [`Outgoing::in_doubt`]).
    async fn tg_sending(&self, id: i64) -> Result<(), StoreError>;

    /// Records a failed attempt to send a queued message.
    async fn tg_send_failed(&self, id: i64, error: &str) -> Result<(), StoreError>;
}

/// Scheduled jobs: registration, pauses, claimed slots and their outcomes.
#[async_trait]
pub trait JobStore: Send + Sync + Debug {
    /// Registers a job if new (known from `since`); returns (paused, since).
    async fn job_ensure(
        &self,
        job: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<(bool, chrono::DateTime<chrono::Utc>), StoreError>;

    /// Pauses or resumes a job; false if the job was never registered.
    async fn job_set_paused(&self, job: &str, paused: bool) -> Result<bool, StoreError>;

    /// Claims a slot: true if this caller runs it. False if the slot was
    /// already claimed (run, running or missed) or another run of the job
    /// is still going. A run left `running` for longer than `lease` (its
    /// process died mid-run) is taken over, so a restart picks it up.
    async fn job_claim(
        &self,
        job: &str,
        slot: chrono::DateTime<chrono::Utc>,
        lease: chrono::Duration,
    ) -> Result<bool, StoreError>;

    /// Records how a claimed run ended (`ok` or `failed` with the error).
    async fn job_finish(
        &self,
        job: &str,
        slot: chrono::DateTime<chrono::Utc>,
        error: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Records slots that will not run.
    async fn job_missed(
        &self,
        job: &str,
        slots: &[chrono::DateTime<chrono::Utc>],
    ) -> Result<(), StoreError>;

    /// The newest `limit` runs of a job, newest first.
    async fn job_runs(&self, job: &str, limit: i64) -> Result<Vec<JobRun>, StoreError>;
}

/// Delivered briefings and the items they carried.
#[async_trait]
pub trait BriefingStore: Send + Sync + Debug {
    /// Stores a delivered briefing and marks the items it carried (keys
    /// such as `done:project:4`) delivered now, in one transaction.
    async fn add_briefing(
        &self,
        kind: &str,
        text: &str,
        items: &[String],
    ) -> Result<(), StoreError>;

    /// When each of `items` was last delivered in a briefing (items never
    /// delivered are left out).
    async fn delivered_items(
        &self,
        items: &[String],
    ) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>)>, StoreError>;

    /// The newest briefing (of `kind`, if given): (kind, created_at, text).
    async fn last_briefing(
        &self,
        kind: Option<&str>,
    ) -> Result<Option<(String, chrono::DateTime<chrono::Utc>, String)>, StoreError>;
}

/// Thoughts held for the owner's consent, and the disclosure log.
#[async_trait]
pub trait ConsentStore: Send + Sync + Debug {
    /// Stores a pending thought (a cloud request waiting for the owner).
    async fn add_thought(&self, t: &NewThought) -> Result<Thought, StoreError>;

    async fn get_thought(&self, id: ThoughtId) -> Result<Option<Thought>, StoreError>;

    /// The newest `limit` thoughts, newest first.
    async fn list_thoughts(&self, limit: i64) -> Result<Vec<Thought>, StoreError>;

    /// Grants or cancels a pending thought, atomically: of two decisions
    /// racing, one wins and the other sees `AlreadyDecided`.
    async fn decide_thought(
        &self,
        id: ThoughtId,
        decision: Decision,
        by: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Decided, StoreError>;

    /// Records how a granted thought ended (answered or failed).
    async fn finish_thought(&self, id: ThoughtId, end: &ThoughtEnd) -> Result<(), StoreError>;

    /// Logs a disclosure; called before the bytes leave.
    async fn add_disclosure(&self, d: &NewDisclosure) -> Result<DisclosureRecord, StoreError>;

    /// Records how a logged disclosure ended.
    async fn finish_disclosure(&self, id: i64, outcome: &str) -> Result<(), StoreError>;

    /// The newest `limit` disclosures, newest first.
    async fn list_disclosures(&self, limit: i64) -> Result<Vec<DisclosureRecord>, StoreError>;
}

/// Every port at once, for the composition root and the conformance suite.
/// A component takes only the port it uses (`&dyn ProjectStore`, …); a
/// `&dyn Store` coerces to any of them.
pub trait Store:
    Database
    + BackupStore
    + ProjectStore
    + PreferenceStore
    + MemoryStore
    + ConversationStore
    + InboxStore
    + OutboxStore
    + JobStore
    + BriefingStore
    + ConsentStore
    + MailStore
    + CalendarStore
    + BoardStore
    + SyncLinkStore
    + NewsStore
    + FinanceStore
    + DashboardStore
    + MemoryUseStore
    + MemoryHygieneStore
    + TrainingStore
{
}

impl<
    T: Database
        + BackupStore
        + ProjectStore
        + PreferenceStore
        + MemoryStore
        + ConversationStore
        + InboxStore
        + OutboxStore
        + JobStore
        + BriefingStore
        + ConsentStore
        + MailStore
        + CalendarStore
        + BoardStore
        + SyncLinkStore
        + NewsStore
        + FinanceStore
        + DashboardStore
        + MemoryUseStore
        + MemoryHygieneStore
        + TrainingStore,
> Store for T
{
}

/// The ports' traits, to call their methods on a `dyn Store`:
/// `use openzero_store::prelude::*;`.
pub mod prelude {
    pub use crate::BackupStore as _;
    pub use crate::BoardStore as _;
    pub use crate::BriefingStore as _;
    pub use crate::CalendarStore as _;
    pub use crate::ConsentStore as _;
    pub use crate::ConversationStore as _;
    pub use crate::DashboardStore as _;
    pub use crate::Database as _;
    pub use crate::FinanceStore as _;
    pub use crate::InboxStore as _;
    pub use crate::JobStore as _;
    pub use crate::MailStore as _;
    pub use crate::MemoryHygieneStore as _;
    pub use crate::MemoryStore as _;
    pub use crate::MemoryUseStore as _;
    pub use crate::NewsStore as _;
    pub use crate::OutboxStore as _;
    pub use crate::PreferenceStore as _;
    pub use crate::ProjectStore as _;
    pub use crate::SyncLinkStore as _;
    pub use crate::TrainingStore as _;
}

/// A channel's running summary of its older turns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The id of the last turn folded in.
    pub upto: i64,
    pub text: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A message to send to a Telegram chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutMessage {
    pub chat_id: i64,
    pub text: String,
    /// Inline keyboard as JSON (rows of `{"text", "callback_data"}`).
    pub buttons: Option<String>,
}

/// A queued message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub id: i64,
    pub message: OutMessage,
    pub attempts: i64,
    /// A send of it began and its outcome was never recorded (the process
    /// died while Telegram had it): it may have arrived already.
    pub in_doubt: bool,
}

/// One recorded run of a job.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobRun {
    pub scheduled_for: chrono::DateTime<chrono::Utc>,
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub ended_at: Option<chrono::DateTime<chrono::Utc>>,
    /// running, ok, failed or missed.
    pub outcome: String,
    pub error: Option<String>,
}

/// A pending thought's id.
pub type ThoughtId = i64;

/// A cloud request held for the owner's approval.
#[derive(Debug, Clone, PartialEq)]
pub struct NewThought {
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// Where it was asked (terminal, telegram, web).
    pub channel: String,
    pub provider: String,
    pub model: String,
    /// The owner's question as typed.
    pub question: String,
    /// What would be sent; stays on this machine.
    pub disclosure: Disclosure,
}

/// A stored thought.
#[derive(Debug, Clone, PartialEq)]
pub struct Thought {
    pub id: ThoughtId,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub channel: String,
    pub provider: String,
    pub model: String,
    pub question: String,
    pub disclosure: Disclosure,
    /// As stored; use `ThoughtState::at` for what the owner sees.
    pub state: ThoughtState,
    pub decided_at: Option<chrono::DateTime<chrono::Utc>>,
    pub decided_by: Option<String>,
    pub answer: Option<String>,
    pub error: Option<String>,
}

/// What `decide_thought` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Decided {
    /// The decision was taken; the thought as it is now.
    Done(Box<Thought>),
    /// The decision was refused (expired, already decided); the thought as it is.
    Refused(DecideError, Box<Thought>),
    /// No such thought.
    NotFound,
}

/// How a granted thought ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThoughtEnd {
    Answered(String),
    Failed(String),
}

/// A disclosure about to leave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDisclosure {
    pub at: chrono::DateTime<chrono::Utc>,
    pub thought_id: Option<ThoughtId>,
    pub provider: String,
    pub model: String,
    /// Size of the exact bytes sent.
    pub bytes: i64,
    /// SHA-256 of the exact bytes sent, hex.
    pub sha256: String,
    /// Labels of the items it carried ("memory #12 (2026-11-02)", …).
    pub items: Vec<String>,
    /// Who approved it ("owner (terminal)", "owner (telegram 42)").
    pub approved_by: String,
}

/// A logged disclosure.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DisclosureRecord {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub thought_id: Option<ThoughtId>,
    pub provider: String,
    pub model: String,
    pub bytes: i64,
    pub sha256: String,
    pub items: Vec<String>,
    pub approved_by: String,
    /// `None` while sending (or if the process died mid-send); then
    /// "answered" or the error.
    pub outcome: Option<String>,
}

/// Raw columns of a `thoughts` row, as both SQL adapters read them.
#[derive(Debug)]
pub struct ThoughtRow {
    pub id: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub channel: String,
    pub provider: String,
    pub model: String,
    pub question: String,
    pub disclosure: String,
    pub state: String,
    pub decided_at: Option<chrono::DateTime<chrono::Utc>>,
    pub decided_by: Option<String>,
    pub answer: Option<String>,
    pub error: Option<String>,
}

impl TryFrom<ThoughtRow> for Thought {
    type Error = StoreError;
    fn try_from(r: ThoughtRow) -> Result<Self, StoreError> {
        let disclosure = serde_json::from_str(&r.disclosure)
            .map_err(|e| StoreError::InvalidData(format!("thought #{}: {e}", r.id)))?;
        let state = ThoughtState::parse(&r.state).ok_or_else(|| {
            StoreError::InvalidData(format!("thought #{}: unknown state '{}'", r.id, r.state))
        })?;
        Ok(Thought {
            id: r.id,
            created_at: r.created_at,
            expires_at: r.expires_at,
            channel: r.channel,
            provider: r.provider,
            model: r.model,
            question: r.question,
            disclosure,
            state,
            decided_at: r.decided_at,
            decided_by: r.decided_by,
            answer: r.answer,
            error: r.error,
        })
    }
}

/// The JSON stored for a disclosure (never fails for these types).
pub fn disclosure_json(d: &Disclosure) -> String {
    serde_json::to_string(d).unwrap_or_else(|_| "{}".to_owned())
}

/// Reads the stored item labels of a disclosure.
pub fn parse_items(id: i64, s: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(s)
        .map_err(|e| StoreError::InvalidData(format!("disclosure #{id}: items: {e}")))
}

/// The stored JSON of item labels.
pub fn items_json(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

/// Reads a stored role name.
pub fn parse_role(s: &str) -> Result<Role, StoreError> {
    match s {
        "system" => Ok(Role::System),
        "user" => Ok(Role::User),
        "assistant" => Ok(Role::Assistant),
        "tool" => Ok(Role::Tool),
        other => Err(StoreError::InvalidData(format!(
            "unknown conversation role '{other}'"
        ))),
    }
}

/// The current time at the precision every backend stores (microseconds),
/// so what is written compares equal to what is read back.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}

/// Raw column values of a `projects` row, as both SQL adapters read them.
#[derive(Debug)]
pub struct ProjectRow {
    pub id: i64,
    pub name: String,
    pub parent_id: Option<i64>,
    pub status: String,
    pub priority: i64,
    pub domain: String,
    pub progress: i64,
    pub description: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub last_reviewed_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl TryFrom<ProjectRow> for Project {
    type Error = StoreError;
    fn try_from(r: ProjectRow) -> Result<Self, StoreError> {
        let bad = |e: openzero_core::ProjectError| {
            StoreError::InvalidData(format!("project #{}: {e}", r.id))
        };
        Ok(Project {
            id: r.id,
            status: r.status.parse().map_err(bad)?,
            priority: openzero_core::Priority::try_from(r.priority).map_err(bad)?,
            domain: r.domain.parse().map_err(bad)?,
            progress: openzero_core::Progress::try_from(r.progress).map_err(bad)?,
            name: r.name,
            parent_id: r.parent_id,
            description: r.description,
            created_at: r.created_at,
            updated_at: r.updated_at,
            last_reviewed_at: r.last_reviewed_at,
        })
    }
}
