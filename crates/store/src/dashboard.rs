//! The dashboard port: the owner's password (hashed), the browser sessions
//! signed in (kept as hashes of their tokens), one-time login links, failed
//! logins (for the lockout) and the audit log of every change made from the
//! dashboard.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::StoreError;

/// A browser signed in to the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebSession {
    pub id: i64,
    /// How it signed in: `password` or `telegram link`.
    pub via: String,
    /// The browser's own description (User-Agent), shortened.
    pub user_agent: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A session found by its token, with its CSRF token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveSession {
    pub session: WebSession,
    pub csrf: String,
}

/// A session to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebSession<'a> {
    /// SHA-256 of the cookie's token (the token itself is never stored).
    pub token_hash: &'a str,
    pub csrf: &'a str,
    pub via: &'a str,
    pub user_agent: &'a str,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// One change made from the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub session_id: Option<i64>,
    pub action: String,
    pub detail: String,
}

#[async_trait]
pub trait DashboardStore: Send + Sync + std::fmt::Debug {
    /// The owner's password hash (PHC string), if one was set.
    async fn web_password(&self) -> Result<Option<String>, StoreError>;

    /// Replaces the password hash and signs every session out.
    async fn web_password_set(&self, hash: &str, now: DateTime<Utc>) -> Result<(), StoreError>;

    async fn web_session_add(&self, s: &NewWebSession<'_>) -> Result<WebSession, StoreError>;

    /// The session with this token hash, if neither revoked nor expired at
    /// `now`; marks it seen (at most once a minute).
    async fn web_session_get(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ActiveSession>, StoreError>;

    /// Sessions neither revoked nor expired at `now`, newest first.
    async fn web_sessions(&self, now: DateTime<Utc>) -> Result<Vec<WebSession>, StoreError>;

    /// Signs a session out; false when there was no such active session.
    async fn web_session_revoke(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Records a failed login.
    async fn web_login_failed(&self, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// When logins failed since `since`, oldest first.
    async fn web_login_failures(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, StoreError>;

    /// Records a one-time login link (by the hash of its token).
    async fn web_link_add(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Uses a login link: true once, for a link neither used nor expired.
    async fn web_link_take(&self, token_hash: &str, now: DateTime<Utc>)
    -> Result<bool, StoreError>;

    async fn web_audit_add(
        &self,
        session_id: Option<i64>,
        action: &str,
        detail: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Deletes what can no longer let anyone in: sessions expired or
    /// revoked, links used or expired, and failed logins, all before
    /// `before`. The audit log is kept.
    async fn web_prune(&self, before: DateTime<Utc>) -> Result<(), StoreError>;

    /// The newest `limit` audit rows, newest first.
    async fn web_audit(&self, limit: i64) -> Result<Vec<AuditRow>, StoreError>;
}
