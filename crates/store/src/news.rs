//! The news port: the feeds the owner follows (with what makes the next
//! fetch conditional and their health) and the items they brought, kept
//! once per feed.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::StoreError;

/// A followed feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedRow {
    pub id: i64,
    pub url: String,
    pub title: String,
    pub tag: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub created_at: DateTime<Utc>,
    pub fetched_at: Option<DateTime<Utc>>,
    /// Not fetched again before this (backoff, `Retry-After`).
    pub next_at: Option<DateTime<Utc>>,
    /// Failed fetches in a row.
    pub failures: i64,
    pub last_error: Option<String>,
}

impl FeedRow {
    /// What to call it: its title, else its address.
    pub fn name(&self) -> &str {
        if self.title.trim().is_empty() {
            &self.url
        } else {
            &self.title
        }
    }
}

/// How a fetch went, to record on the feed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    /// The feed's own title, when it was read.
    pub title: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub next_at: Option<DateTime<Utc>>,
    /// `None`: it worked (failures back to 0).
    pub error: Option<String>,
}

/// An item to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewItem {
    pub guid: String,
    pub title: String,
    pub link: Option<String>,
    pub summary: String,
    pub published_at: Option<DateTime<Utc>>,
}

/// A kept item, with its feed's title.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemRow {
    pub id: i64,
    pub feed_id: i64,
    pub feed: String,
    pub guid: String,
    pub title: String,
    pub link: Option<String>,
    pub summary: String,
    pub published_at: Option<DateTime<Utc>>,
    pub seen_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
    pub starred_at: Option<DateTime<Utc>>,
    /// When the local model summarised the article (else extractive).
    pub summarized_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait NewsStore: Send + Sync + std::fmt::Debug {
    /// Follows a feed; `None` when it is followed already.
    async fn news_feed_add(
        &self,
        url: &str,
        title: &str,
        tag: Option<&str>,
    ) -> Result<Option<FeedRow>, StoreError>;

    /// Every followed feed, by title.
    async fn news_feeds(&self) -> Result<Vec<FeedRow>, StoreError>;

    /// Stops following a feed (its items go too); whether it was followed.
    async fn news_feed_remove(&self, id: i64) -> Result<bool, StoreError>;

    /// Records a fetch: the new items (kept once per guid) and the feed's
    /// state, in one transaction. Returns how many items were new.
    async fn news_fetched(
        &self,
        feed_id: i64,
        items: &[NewItem],
        fetched: &Fetched,
    ) -> Result<usize, StoreError>;

    /// Items seen since `since`, newest first (unread ones only if asked),
    /// at most `limit`.
    async fn news_items(
        &self,
        since: Option<DateTime<Utc>>,
        unread_only: bool,
        limit: i64,
    ) -> Result<Vec<ItemRow>, StoreError>;

    /// Keeps the local model's summary of an item's article.
    async fn news_set_summary(&self, id: i64, summary: &str) -> Result<(), StoreError>;

    /// Marks items read (opened) or starred.
    async fn news_mark(&self, ids: &[i64], read: bool, starred: bool) -> Result<(), StoreError>;
}
