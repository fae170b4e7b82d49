//! The news port (shared by both SQL adapters, `#[path]` module in each;
//! every query here is one both dialects accept).

use super::*;
use openzero_store::news::{FeedRow, Fetched, ItemRow, NewItem, NewsStore};

const FEED_COLUMNS: &str = "id, url, title, tag, etag, last_modified, created_at, fetched_at, \
     next_at, failures, last_error";

#[derive(sqlx::FromRow)]
struct FeedDb {
    id: i64,
    url: String,
    title: String,
    tag: Option<String>,
    etag: Option<String>,
    last_modified: Option<String>,
    created_at: DateTime<Utc>,
    fetched_at: Option<DateTime<Utc>>,
    next_at: Option<DateTime<Utc>>,
    failures: i64,
    last_error: Option<String>,
}

impl From<FeedDb> for FeedRow {
    fn from(f: FeedDb) -> Self {
        FeedRow {
            id: f.id,
            url: f.url,
            title: f.title,
            tag: f.tag,
            etag: f.etag,
            last_modified: f.last_modified,
            created_at: f.created_at,
            fetched_at: f.fetched_at,
            next_at: f.next_at,
            failures: f.failures,
            last_error: f.last_error,
        }
    }
}

#[derive(sqlx::FromRow)]
struct ItemDb {
    id: i64,
    feed_id: i64,
    feed: String,
    guid: String,
    title: String,
    link: Option<String>,
    summary: String,
    published_at: Option<DateTime<Utc>>,
    seen_at: DateTime<Utc>,
    read_at: Option<DateTime<Utc>>,
    starred_at: Option<DateTime<Utc>>,
    summarized_at: Option<DateTime<Utc>>,
}

#[async_trait]
impl NewsStore for Db {
    async fn news_feed_add(
        &self,
        url: &str,
        title: &str,
        tag: Option<&str>,
    ) -> Result<Option<FeedRow>, StoreError> {
        let row: Option<FeedDb> = sqlx::query_as(&sql(&format!(
            "INSERT INTO news_feeds (url, title, tag, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (url) DO NOTHING RETURNING {FEED_COLUMNS}"
        )))
        .bind(url)
        .bind(title)
        .bind(tag)
        .bind(now())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(row.map(FeedRow::from))
    }

    async fn news_feeds(&self) -> Result<Vec<FeedRow>, StoreError> {
        let rows: Vec<FeedDb> = sqlx::query_as(&sql(&format!(
            "SELECT {FEED_COLUMNS} FROM news_feeds ORDER BY LOWER(title), url"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows.into_iter().map(FeedRow::from).collect())
    }

    async fn news_feed_remove(&self, id: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        // Spelled out rather than left to ON DELETE CASCADE, so it holds
        // even where foreign keys are off.
        sqlx::query(&sql("DELETE FROM news_items WHERE feed_id = $1"))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        let gone = sqlx::query(&sql("DELETE FROM news_feeds WHERE id = $1"))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected();
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(gone > 0)
    }

    async fn news_fetched(
        &self,
        feed_id: i64,
        items: &[NewItem],
        fetched: &Fetched,
    ) -> Result<usize, StoreError> {
        let mut tx = self.begin().await?;
        let at = now();
        let mut new = 0;
        for i in items {
            new += sqlx::query(&sql(
                "INSERT INTO news_items (feed_id, guid, title, link, summary, published_at, seen_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (feed_id, guid) DO NOTHING",
            ))
            .bind(feed_id)
            .bind(&i.guid)
            .bind(&i.title)
            .bind(&i.link)
            .bind(&i.summary)
            .bind(i.published_at)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?
            .rows_affected() as usize;
        }
        match &fetched.error {
            None => {
                sqlx::query(&sql(
                    "UPDATE news_feeds SET title = CASE WHEN $1 = '' THEN title ELSE $1 END, \
                     etag = $2, last_modified = $3, fetched_at = $4, next_at = $5, failures = 0, \
                     last_error = NULL WHERE id = $6",
                ))
                .bind(fetched.title.clone().unwrap_or_default())
                .bind(&fetched.etag)
                .bind(&fetched.last_modified)
                .bind(at)
                .bind(fetched.next_at)
                .bind(feed_id)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            }
            Some(e) => {
                sqlx::query(&sql(
                    "UPDATE news_feeds SET fetched_at = $1, next_at = $2, \
                     failures = failures + 1, last_error = $3 WHERE id = $4",
                ))
                .bind(at)
                .bind(fetched.next_at)
                .bind(e)
                .bind(feed_id)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(new)
    }

    async fn news_items(
        &self,
        since: Option<DateTime<Utc>>,
        unread_only: bool,
        limit: i64,
    ) -> Result<Vec<ItemRow>, StoreError> {
        let rows: Vec<ItemDb> = sqlx::query_as(&sql(
            "SELECT i.id, i.feed_id, CASE WHEN f.title = '' THEN f.url ELSE f.title END AS feed, \
             i.guid, i.title, i.link, i.summary, i.published_at, i.seen_at, i.read_at, i.starred_at, \
             i.summarized_at \
             FROM news_items i JOIN news_feeds f ON f.id = i.feed_id \
             WHERE ($1 IS NULL OR i.seen_at >= $1) AND ($2 = FALSE OR i.read_at IS NULL) \
             ORDER BY COALESCE(i.published_at, i.seen_at) DESC, i.id DESC LIMIT $3",
        ))
        .bind(since)
        .bind(unread_only)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .map(|i| ItemRow {
                id: i.id,
                feed_id: i.feed_id,
                feed: i.feed,
                guid: i.guid,
                title: i.title,
                link: i.link,
                summary: i.summary,
                published_at: i.published_at,
                seen_at: i.seen_at,
                read_at: i.read_at,
                starred_at: i.starred_at,
                summarized_at: i.summarized_at,
            })
            .collect())
    }

    async fn news_set_summary(&self, id: i64, summary: &str) -> Result<(), StoreError> {
        sqlx::query(&sql(
            "UPDATE news_items SET summary = $1, summarized_at = $2 WHERE id = $3",
        ))
        .bind(summary)
        .bind(now())
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn news_mark(&self, ids: &[i64], read: bool, starred: bool) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let at = now();
        for id in ids {
            sqlx::query(&sql("UPDATE news_items SET \
                 read_at = CASE WHEN $1 THEN COALESCE(read_at, $3) ELSE read_at END, \
                 starred_at = CASE WHEN $2 THEN COALESCE(starred_at, $3) ELSE starred_at END \
                 WHERE id = $4"))
            .bind(read)
            .bind(starred)
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))
    }
}
