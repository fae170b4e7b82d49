//! The mail port: messages read from the owner's mailboxes, where each
//! mailbox was read up to, and the owner's rules.
//!
//! Exactly once across crashes: a batch of messages and the watermark past
//! them commit in one transaction; a message that still owes the owner
//! something (an urgent notification, a memory) stays *pending* until
//! [`MailStore::mail_delivered`], and that work is idempotent (the outbox
//! refuses a key it has seen), so a crash at any point re-does it without
//! repeating it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use openzero_core::mail::{Action, MatchKind, Rule};

use crate::StoreError;

/// A message to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    /// The account's name in the configuration ("personal", "gmail", "import").
    pub account: String,
    pub folder: String,
    /// The IMAP UID (none for imports and Gmail).
    pub uid: Option<i64>,
    /// Stable identity within the account (Message-ID or content hash): a
    /// message seen again (another folder, a resync) is not kept twice.
    pub key: String,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub date: Option<DateTime<Utc>>,
    pub body: String,
    /// JSON list of `{name, mime, size}`.
    pub attachments: String,
    /// What was malformed, one per line (empty: nothing).
    pub problems: String,
    pub action: Action,
    pub rule_id: Option<i64>,
    /// How the matching rule read when it matched.
    pub rule: Option<String>,
    pub summary: Option<String>,
    /// Whether it owes the owner something (urgent push, memory): false
    /// for archived mail and for imported archives.
    pub pending: bool,
}

/// A kept message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRow {
    pub id: i64,
    pub account: String,
    pub folder: String,
    pub key: String,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub date: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub body: String,
    pub attachments: String,
    pub problems: String,
    pub action: Action,
    pub rule: Option<String>,
    pub summary: Option<String>,
    /// When what it owed the owner (notification, memory) was done.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// How far a mailbox folder has been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermark {
    pub uidvalidity: i64,
    /// The highest UID read (0: none yet).
    pub uid: i64,
}

/// What `mail_list` returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailQuery {
    pub urgent_only: bool,
    /// Received (or dated) at or after this.
    pub since: Option<DateTime<Utc>>,
    /// Words that must all appear (any case) in sender, subject, summary
    /// or body.
    pub words: Vec<String>,
    /// Archived mail is left out unless asked for.
    pub include_archived: bool,
    pub limit: i64,
}

/// A rule to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRule {
    pub sender: String,
    pub subject: Option<String>,
    pub kind: MatchKind,
    pub action: Action,
    /// Where it goes in the order (none: last).
    pub position: Option<i64>,
}

#[async_trait]
pub trait MailStore: Send + Sync + std::fmt::Debug {
    /// Keeps `batch` (a message already kept under its account and key is
    /// skipped) and, in the same transaction, moves the watermark of
    /// `(account, folder)` to `mark`. Returns the ids of the messages that
    /// were new, in batch order.
    async fn mail_ingest(
        &self,
        batch: &[NewMail],
        mark: Option<(&str, &str, Watermark)>,
    ) -> Result<Vec<Option<i64>>, StoreError>;

    /// Which of `keys` are kept under `account` already.
    async fn mail_known(&self, account: &str, keys: &[String]) -> Result<Vec<String>, StoreError>;

    /// Where `(account, folder)` was read up to.
    async fn mail_watermark(
        &self,
        account: &str,
        folder: &str,
    ) -> Result<Option<Watermark>, StoreError>;

    /// Messages that still owe the owner something (urgent or summarised,
    /// not yet delivered), oldest first.
    async fn mail_pending(&self, limit: i64) -> Result<Vec<MailRow>, StoreError>;

    /// Marks a message's notification and memory done.
    async fn mail_delivered(&self, id: i64) -> Result<(), StoreError>;

    /// Messages matching `q`, newest first.
    async fn mail_list(&self, q: &MailQuery) -> Result<Vec<MailRow>, StoreError>;

    async fn mail_get(&self, id: i64) -> Result<Option<MailRow>, StoreError>;

    /// The owner's rules in force, in order.
    async fn mail_rules(&self) -> Result<Vec<Rule>, StoreError>;

    async fn mail_rule_add(&self, r: &NewRule) -> Result<Rule, StoreError>;

    /// Stores a rule Z proposed; it does nothing until confirmed.
    async fn mail_rule_propose(&self, r: &NewRule) -> Result<Rule, StoreError>;

    /// Rules proposed and not yet confirmed, with when, oldest first.
    async fn mail_rules_proposed(&self) -> Result<Vec<(Rule, DateTime<Utc>)>, StoreError>;

    /// Puts a proposed rule in force (last in the order); false when no
    /// proposal has that id (already confirmed, dropped, or never made).
    async fn mail_rule_confirm(&self, id: i64) -> Result<bool, StoreError>;

    /// Removes a rule or a proposal; false when there was none with that id.
    async fn mail_rule_remove(&self, id: i64) -> Result<bool, StoreError>;
}

/// Reads a stored action back (an unknown one is a corrupt row).
pub fn parse_action(id: i64, s: &str) -> Result<Action, StoreError> {
    Action::parse(s).map_err(|e| StoreError::InvalidData(format!("mail {id}: {e}")))
}

/// Reads a stored match kind back.
pub fn parse_kind(id: i64, s: &str) -> Result<MatchKind, StoreError> {
    MatchKind::parse(s).map_err(|e| StoreError::InvalidData(format!("mail rule {id}: {e}")))
}
