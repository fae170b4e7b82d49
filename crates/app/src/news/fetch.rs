//! Fetching the feeds: a conditional GET per feed (ETag, Last-Modified),
//! at most [`PARALLEL`] feeds at once and one connection per host at a
//! time, `Retry-After` honoured, a backoff per feed after failures (15
//! minutes doubling to a day), answers bounded in size and time. A feed
//! that fails is recorded with its reason and tried again later; it never
//! stops the others.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use openzero_news::Feed;
use openzero_store::Store;
use openzero_store::news::{FeedRow, Fetched, NewItem};
use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, RETRY_AFTER};
use serde::Serialize;
use tokio::sync::{Mutex, Semaphore};

use crate::AppError;

/// Feeds fetched at once.
pub const PARALLEL: usize = 6;
/// The largest feed read.
const MAX_BYTES: usize = 10 << 20;
const TIMEOUT: Duration = Duration::from_secs(20);
/// The first wait after a failure; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: chrono::Duration = chrono::Duration::minutes(15);
const MAX_BACKOFF: chrono::Duration = chrono::Duration::hours(24);

/// How one feed's fetch went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FetchReport {
    pub feed: String,
    pub url: String,
    /// Items not seen before.
    pub new: usize,
    /// The server said nothing changed (304).
    pub unchanged: bool,
    /// Skipped: waiting after failures or as the server asked, until then.
    pub waiting_until: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

/// The HTTP client of the news fetcher.
pub fn client() -> Result<reqwest::Client, AppError> {
    reqwest::Client::builder()
        .user_agent(concat!(
            "OpenZero/",
            env!("CARGO_PKG_VERSION"),
            " (feed reader; +https://github.com/openzero)"
        ))
        .connect_timeout(Duration::from_secs(10))
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| AppError::Invalid(format!("cannot set up HTTP: {e}")))
}

/// Fetches the feeds that are due (all of them with `force`), in parallel
/// within the limits above, recording each outcome.
pub async fn fetch_all(
    store: Arc<dyn Store>,
    client: &reqwest::Client,
    feeds: Vec<FeedRow>,
    force: bool,
    now: DateTime<Utc>,
) -> Vec<FetchReport> {
    let gate = Arc::new(Semaphore::new(PARALLEL));
    let mut hosts: HashMap<String, Arc<Mutex<()>>> = HashMap::new();
    let mut set = tokio::task::JoinSet::new();
    let mut out = Vec::new();
    for (i, feed) in feeds.into_iter().enumerate() {
        if let Some(at) = feed.next_at.filter(|at| *at > now && !force) {
            out.push((
                i,
                FetchReport {
                    feed: feed.name().to_owned(),
                    url: feed.url.clone(),
                    new: 0,
                    unchanged: false,
                    waiting_until: Some(at),
                    error: feed.last_error.clone(),
                },
            ));
            continue;
        }
        let host = url::Url::parse(&feed.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_lowercase))
            .unwrap_or_default();
        let lock = hosts.entry(host).or_default().clone();
        let (gate, store, client) = (gate.clone(), store.clone(), client.clone());
        set.spawn(async move {
            // One connection per host: the host's turn first, then a slot.
            let _host = lock.lock().await;
            let _slot = gate.acquire_owned().await;
            (i, fetch_one(store.as_ref(), &client, &feed).await)
        });
    }
    while let Some(done) = set.join_next().await {
        match done {
            Ok(r) => out.push(r),
            Err(e) => tracing::error!(error = %e, "a feed's fetch ended abnormally"),
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// The wait after `failures` failures in a row.
pub fn backoff(failures: i64) -> chrono::Duration {
    let steps = u32::try_from(failures.clamp(0, 10)).unwrap_or(10);
    (FIRST_BACKOFF * 2i32.pow(steps)).min(MAX_BACKOFF)
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(h: &reqwest::header::HeaderMap, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let v = h.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<i64>() {
        return Some(now + chrono::Duration::seconds(secs.clamp(0, 86_400)));
    }
    DateTime::parse_from_rfc2822(v)
        .ok()
        .map(|t| t.with_timezone(&Utc).min(now + MAX_BACKOFF))
}

/// One feed: fetched, read, recorded.
async fn fetch_one(store: &dyn Store, client: &reqwest::Client, feed: &FeedRow) -> FetchReport {
    let now = crate::clock::now();
    let mut report = FetchReport {
        feed: feed.name().to_owned(),
        url: feed.url.clone(),
        new: 0,
        unchanged: false,
        waiting_until: None,
        error: None,
    };
    let outcome = get(client, feed, now).await;
    let (items, fetched) = match outcome {
        Got::NotModified => {
            report.unchanged = true;
            (
                Vec::new(),
                Fetched {
                    etag: feed.etag.clone(),
                    last_modified: feed.last_modified.clone(),
                    ..Fetched::default()
                },
            )
        }
        Got::Feed {
            feed: parsed,
            etag,
            last_modified,
        } => (
            items_of(&parsed),
            Fetched {
                title: Some(parsed.title.clone()).filter(|t| !t.is_empty()),
                etag,
                last_modified,
                ..Fetched::default()
            },
        ),
        Got::Failed { error, until } => {
            let next = until.unwrap_or_else(|| now + backoff(feed.failures));
            report.error = Some(error.clone());
            report.waiting_until = Some(next);
            (
                Vec::new(),
                Fetched {
                    next_at: Some(next),
                    error: Some(error),
                    ..Fetched::default()
                },
            )
        }
    };
    match store.news_fetched(feed.id, &items, &fetched).await {
        Ok(n) => report.new = n,
        Err(e) => report.error = Some(format!("not stored: {e}")),
    }
    if let Some(e) = &report.error {
        tracing::warn!(feed = %feed.url, error = %e, "news: feed not fetched");
    }
    report
}

enum Got {
    NotModified,
    Feed {
        feed: Feed,
        etag: Option<String>,
        last_modified: Option<String>,
    },
    Failed {
        error: String,
        until: Option<DateTime<Utc>>,
    },
}

async fn get(client: &reqwest::Client, feed: &FeedRow, now: DateTime<Utc>) -> Got {
    let fail = |error: String| Got::Failed { error, until: None };
    let mut req = client.get(&feed.url).header(
        reqwest::header::ACCEPT,
        "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
    );
    if let Some(e) = &feed.etag {
        req = req.header(IF_NONE_MATCH, e);
    }
    if let Some(m) = &feed.last_modified {
        req = req.header(IF_MODIFIED_SINCE, m);
    }
    let mut resp = match req.send().await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return fail("no answer in time".into()),
        Err(e) => return fail(format!("unreachable: {}", root(&e))),
    };
    let status = resp.status();
    if status == StatusCode::NOT_MODIFIED {
        return Got::NotModified;
    }
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
        return Got::Failed {
            error: format!("HTTP {}: the server asked to wait", status.as_u16()),
            until: retry_after(resp.headers(), now),
        };
    }
    if !status.is_success() {
        return fail(format!("HTTP {}", status.as_u16()));
    }
    let header = |h| {
        resp.headers()
            .get(h)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let (etag, last_modified) = (header(ETAG), header(LAST_MODIFIED));
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if body.len() + c.len() > MAX_BYTES {
                    return fail(format!("larger than {} MB", MAX_BYTES >> 20));
                }
                body.extend_from_slice(&c);
            }
            Ok(None) => break,
            Err(e) => return fail(format!("cut off: {}", root(&e))),
        }
    }
    match openzero_news::parse(&body, &feed.url) {
        Ok(feed) => Got::Feed {
            feed,
            etag,
            last_modified,
        },
        Err(e) => fail(e.to_string()),
    }
}

fn root(e: &dyn std::error::Error) -> String {
    let mut last = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        last = s.to_string();
        cur = s.source();
    }
    last
}

/// An article's page as text (HTML, at most 2 MB, http(s) only).
pub async fn page(client: &reqwest::Client, url: &str) -> Result<String, String> {
    let u = url::Url::parse(url).map_err(|e| e.to_string())?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err("not an http(s) page".into());
    }
    let mut resp = client
        .get(u)
        .header(
            reqwest::header::ACCEPT,
            "text/html, application/xhtml+xml;q=0.9, */*;q=0.1",
        )
        .send()
        .await
        .map_err(|e| root(&e))?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status().as_u16()));
    }
    let mut body = Vec::new();
    while let Some(c) = resp.chunk().await.map_err(|e| root(&e))? {
        if body.len() + c.len() > 2 << 20 {
            break;
        }
        body.extend_from_slice(&c);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// A feed's items as kept: a one-line extractive summary of the text.
fn items_of(feed: &Feed) -> Vec<NewItem> {
    feed.items
        .iter()
        .map(|i| NewItem {
            guid: i.guid.clone(),
            title: i.title.clone(),
            link: i.link.clone(),
            summary: openzero_news::story::summary(&i.text, &i.title),
            published_at: i.published,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_day() {
        assert_eq!(backoff(0), chrono::Duration::minutes(15));
        assert_eq!(backoff(1), chrono::Duration::minutes(30));
        assert_eq!(backoff(3), chrono::Duration::hours(2));
        assert_eq!(backoff(50), chrono::Duration::hours(24));
    }
}
