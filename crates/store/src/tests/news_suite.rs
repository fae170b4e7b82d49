//! The news port's conformance cases (part of [`crate::testsuite`]).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::{Duration, Utc};

use crate::Store;
use crate::news::{Fetched, NewItem};

fn item(guid: &str, title: &str, hours_ago: i64) -> NewItem {
    NewItem {
        guid: guid.into(),
        title: title.into(),
        link: Some(format!("https://news.example/{guid}")),
        summary: format!("About {title}"),
        published_at: Some(Utc::now() - Duration::hours(hours_ago)),
    }
}

pub async fn news_feeds_items_and_fetch_state(s: &dyn Store) {
    let a = s
        .news_feed_add("https://a.example/feed", "", Some("tech"))
        .await
        .unwrap()
        .unwrap();
    assert!(
        s.news_feed_add("https://a.example/feed", "again", None)
            .await
            .unwrap()
            .is_none(),
        "a feed is followed once"
    );
    let b = s
        .news_feed_add("https://b.example/rss", "Bee", None)
        .await
        .unwrap()
        .unwrap();
    let ok = Fetched {
        title: Some("Alpha News".into()),
        etag: Some("\"v1\"".into()),
        last_modified: Some("Mon, 30 Nov 2026 08:00:00 GMT".into()),
        next_at: None,
        error: None,
    };
    let new = s
        .news_fetched(a.id, &[item("1", "One", 3), item("2", "Two", 1)], &ok)
        .await
        .unwrap();
    assert_eq!(new, 2);
    // The same items again: nothing new; one more: one new.
    let new = s
        .news_fetched(a.id, &[item("1", "One", 3), item("3", "Three", 0)], &ok)
        .await
        .unwrap();
    assert_eq!(new, 1);
    // The same guid in another feed is that feed's own item.
    assert_eq!(
        s.news_fetched(b.id, &[item("1", "One", 3)], &Fetched::default())
            .await
            .unwrap(),
        1
    );
    let feeds = s.news_feeds().await.unwrap();
    let fa = feeds.iter().find(|f| f.id == a.id).unwrap();
    assert_eq!(fa.title, "Alpha News");
    assert_eq!(fa.etag.as_deref(), Some("\"v1\""));
    assert_eq!(fa.tag.as_deref(), Some("tech"));
    assert!(fa.fetched_at.is_some());
    // A failure counts up, keeps the title and the validators.
    let later = Utc::now() + Duration::minutes(30);
    let failed = Fetched {
        error: Some("HTTP 503".into()),
        next_at: Some(later),
        ..Fetched::default()
    };
    s.news_fetched(a.id, &[], &failed).await.unwrap();
    s.news_fetched(a.id, &[], &failed).await.unwrap();
    let fa = s
        .news_feeds()
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.id == a.id)
        .unwrap();
    assert_eq!(
        (fa.failures, fa.last_error.as_deref()),
        (2, Some("HTTP 503"))
    );
    assert_eq!(fa.title, "Alpha News");
    assert_eq!(fa.etag.as_deref(), Some("\"v1\""));
    assert!(fa.next_at.is_some());
    s.news_fetched(a.id, &[], &ok).await.unwrap();
    let fa = s
        .news_feeds()
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.id == a.id)
        .unwrap();
    assert_eq!((fa.failures, fa.last_error), (0, None));

    // Newest first; read ones left out when asked.
    let items = s.news_items(None, false, 10).await.unwrap();
    let titles: Vec<(&str, &str)> = items
        .iter()
        .map(|i| (i.feed.as_str(), i.title.as_str()))
        .collect();
    assert_eq!(
        titles,
        [
            ("Alpha News", "Three"),
            ("Alpha News", "Two"),
            ("Bee", "One"),
            ("Alpha News", "One")
        ]
    );
    assert_eq!(items[0].title, "Three");
    assert_eq!(items.len(), 4);
    s.news_mark(&[items[0].id], true, false).await.unwrap();
    s.news_mark(&[items[1].id], false, true).await.unwrap();
    let unread = s.news_items(None, true, 10).await.unwrap();
    assert_eq!(unread.len(), 3);
    assert!(unread.iter().all(|i| i.id != items[0].id));
    let starred = unread.iter().find(|i| i.id == items[1].id).unwrap();
    assert!(starred.starred_at.is_some() && starred.read_at.is_none());
    assert_eq!(s.news_items(None, false, 2).await.unwrap().len(), 2);
    let future = Utc::now() + Duration::hours(1);
    assert!(
        s.news_items(Some(future), false, 10)
            .await
            .unwrap()
            .is_empty()
    );

    assert!(items[0].summarized_at.is_none());
    s.news_set_summary(items[0].id, "A model's one line.")
        .await
        .unwrap();
    let again = s.news_items(None, false, 10).await.unwrap();
    let it = again.iter().find(|i| i.id == items[0].id).unwrap();
    assert_eq!(it.summary, "A model's one line.");
    assert!(it.summarized_at.is_some());

    assert!(s.news_feed_remove(a.id).await.unwrap());
    assert!(!s.news_feed_remove(a.id).await.unwrap());
    let left = s.news_items(None, false, 10).await.unwrap();
    assert_eq!(left.len(), 1, "its items went with it");
    assert_eq!(left[0].feed, "Bee");
}
