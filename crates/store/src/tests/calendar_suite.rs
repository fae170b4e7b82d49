//! The calendar port's conformance cases (part of [`crate::testsuite`]).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::NaiveDate;

use crate::Store;
use crate::calendar::{NewSource, ObjectChanges, SourceKind, SyncState};

fn source(name: &str, kind: SourceKind) -> NewSource {
    NewSource {
        name: name.into(),
        kind,
        url: format!("https://example.org/{name}"),
        username: (kind == SourceKind::Caldav).then(|| "alice".into()),
    }
}

fn put(href: &str, etag: &str, uid: &str) -> (String, Option<String>, String) {
    (
        href.into(),
        Some(etag.into()),
        format!("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"),
    )
}

pub async fn calendar_sources_calendars_and_objects_round_trip(s: &dyn Store) {
    let club = s
        .cal_source_add(&source("club", SourceKind::Ics))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(club.kind, SourceKind::Ics);
    assert!(club.synced_at.is_none());
    // A second source by the same name is refused, the first kept.
    assert!(
        s.cal_source_add(&source("club", SourceKind::Caldav))
            .await
            .unwrap()
            .is_none()
    );
    let dav = s
        .cal_source_add(&source("fastmail", SourceKind::Caldav))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dav.username.as_deref(), Some("alice"));
    let names: Vec<String> = s
        .cal_sources()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["club", "fastmail"]);

    let work = s
        .cal_calendar_upsert(dav.id, "/dav/alice/work/", "Work", Some("#ff0000"))
        .await
        .unwrap();
    let home = s
        .cal_calendar_upsert(dav.id, "/dav/alice/home/", "Home", None)
        .await
        .unwrap();
    // Upserting again renames, keeps the id.
    let again = s
        .cal_calendar_upsert(dav.id, "/dav/alice/work/", "Work (renamed)", None)
        .await
        .unwrap();
    assert_eq!(again.id, work.id);
    assert_eq!(again.name, "Work (renamed)");
    let feed = s
        .cal_calendar_upsert(club.id, "https://example.org/club", "Club", None)
        .await
        .unwrap();

    let state = SyncState {
        sync_token: Some("t1".into()),
        ctag: Some("c1".into()),
        ..SyncState::default()
    };
    let first = ObjectChanges {
        replace_all: false,
        put: vec![put("/a.ics", "e1", "a"), put("/b.ics", "e1", "b")],
        removed: vec![],
    };
    s.cal_apply(work.id, &first, &state).await.unwrap();
    s.cal_apply(
        home.id,
        &ObjectChanges {
            put: vec![put("/h.ics", "e1", "h")],
            ..Default::default()
        },
        &SyncState::default(),
    )
    .await
    .unwrap();
    // An incremental change: one replaced, one removed.
    let second = ObjectChanges {
        replace_all: false,
        put: vec![put("/a.ics", "e2", "a2")],
        removed: vec!["/b.ics".into()],
    };
    let state2 = SyncState {
        sync_token: Some("t2".into()),
        ..state.clone()
    };
    s.cal_apply(work.id, &second, &state2).await.unwrap();
    assert_eq!(
        s.cal_etags(work.id).await.unwrap(),
        vec![("/a.ics".to_string(), Some("e2".to_string()))]
    );
    let objs = s.cal_objects(Some(&[work.id])).await.unwrap();
    assert_eq!(objs.len(), 1);
    assert!(objs[0].ics.contains("UID:a2"));
    assert_eq!(s.cal_objects(None).await.unwrap().len(), 2);

    let cals = s.cal_calendars().await.unwrap();
    let w = cals.iter().find(|c| c.id == work.id).unwrap();
    assert_eq!(w.state, state2);
    assert_eq!(w.objects, 1);
    assert_eq!(w.source, "fastmail");

    // A full resync replaces everything.
    let full = ObjectChanges {
        replace_all: true,
        put: vec![put("/c.ics", "e1", "c")],
        removed: vec![],
    };
    s.cal_apply(work.id, &full, &state2).await.unwrap();
    let hrefs: Vec<String> = s
        .cal_etags(work.id)
        .await
        .unwrap()
        .into_iter()
        .map(|(h, _)| h)
        .collect();
    assert_eq!(hrefs, ["/c.ics"]);

    // Flagged once; reminders set and cleared.
    assert!(s.cal_flag(feed.id).await.unwrap());
    assert!(!s.cal_flag(feed.id).await.unwrap());
    s.cal_set_reminders(feed.id, Some(15)).await.unwrap();
    let f = s
        .cal_calendars()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id == feed.id)
        .unwrap();
    assert_eq!(f.remind_minutes, Some(15));
    assert!(f.flagged_at.is_some());

    // Sync results recorded.
    s.cal_source_synced(club.id, Some("feed answered 404"))
        .await
        .unwrap();
    let c = s
        .cal_sources()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.id == club.id)
        .unwrap();
    assert_eq!(c.last_error.as_deref(), Some("feed answered 404"));
    assert!(c.synced_at.is_some());

    // Removing a source removes its calendars and what they hold.
    assert!(s.cal_source_remove("fastmail").await.unwrap());
    assert!(!s.cal_source_remove("fastmail").await.unwrap());
    let left: Vec<i64> = s
        .cal_calendars()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(left, [feed.id]);
    assert!(s.cal_objects(None).await.unwrap().is_empty());
    s.cal_calendar_remove(feed.id).await.unwrap();
    assert!(s.cal_calendars().await.unwrap().is_empty());
}

pub async fn calendar_snapshots_keep_the_latest_look(s: &dyn Store) {
    let day = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    assert!(s.cal_snapshot(day).await.unwrap().is_none());
    s.cal_snapshot_put(day, "[1]").await.unwrap();
    s.cal_snapshot_put(day, "[2]").await.unwrap();
    let (_, json) = s.cal_snapshot(day).await.unwrap().unwrap();
    assert_eq!(json, "[2]");
    assert!(
        s.cal_snapshot(day.succ_opt().unwrap())
            .await
            .unwrap()
            .is_none()
    );
}
