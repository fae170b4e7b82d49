//! The training port's conformance cases (part of [`crate::testsuite`]).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::{Duration, SubsecRound, Utc};

use crate::Store;
use crate::training::NewActivity;

fn run(id: &str, days_ago: i64) -> NewActivity {
    NewActivity {
        source: "file".into(),
        external_id: id.into(),
        sport: "running".into(),
        name: Some(format!("Run {id}")),
        start_at: Utc::now().trunc_subsecs(3) - Duration::days(days_ago),
        elapsed_s: 3600.5,
        moving_s: 3500.0,
        distance_m: 10_012.25,
        avg_hr: Some(148.5),
        trimp: Some(97.25),
        efficiency: None,
        samples: "[{\"hr\":140}]".into(),
        laps: "[]".into(),
    }
}

pub async fn activities_are_kept_once_newest_first(s: &dyn Store) {
    let now = Utc::now().trunc_subsecs(3);
    let first = run("aaa", 3);
    let a = s.activity_add(&first, now).await.unwrap().unwrap();
    assert_eq!((a.start_at, a.imported_at), (first.start_at, now));
    let b = s.activity_add(&run("bbb", 1), now).await.unwrap().unwrap();
    assert_eq!(
        s.activity_add(&run("aaa", 0), now).await.unwrap(),
        None,
        "kept once"
    );
    let mut strava = run("aaa", 2);
    strava.source = "strava".into();
    assert!(
        s.activity_add(&strava, now).await.unwrap().is_some(),
        "ids are per source"
    );
    let list = s.activities(10).await.unwrap();
    let ids: Vec<_> = list.iter().map(|x| x.id).collect();
    assert_eq!(ids[0], b.id);
    assert_eq!(*ids.last().unwrap(), a.id);
    assert_eq!(list.len(), 3);
    assert_eq!(
        (a.distance_m, a.avg_hr, a.trimp, a.efficiency),
        (10_012.25, Some(148.5), Some(97.25), None)
    );
    let (got, samples, laps) = s.activity_get(a.id).await.unwrap().unwrap();
    assert_eq!(
        (got.id, samples.as_str(), laps.as_str()),
        (a.id, "[{\"hr\":140}]", "[]")
    );
    assert_eq!(s.activity_get(9999).await.unwrap(), None);
    assert_eq!(s.activities(1).await.unwrap().len(), 1);

    // Renamed and deleted at the source.
    let found = s.activity_find("strava", "aaa").await.unwrap().unwrap();
    assert_eq!(found.source, "strava");
    assert!(
        s.activity_rename("strava", "aaa", Some("Hill repeats"), None)
            .await
            .unwrap()
    );
    let renamed = s.activity_find("strava", "aaa").await.unwrap().unwrap();
    assert_eq!(
        (renamed.name.as_deref(), renamed.sport.as_str()),
        (Some("Hill repeats"), "running")
    );
    assert_eq!(
        s.activity_find("file", "aaa")
            .await
            .unwrap()
            .unwrap()
            .name
            .as_deref(),
        Some("Run aaa"),
        "the file's activity of the same id is another one"
    );
    assert!(
        !s.activity_rename("strava", "zzz", Some("x"), None)
            .await
            .unwrap()
    );
    assert!(s.activity_set_load(renamed.id, Some(12.5)).await.unwrap());
    assert_eq!(
        s.activity_find("strava", "aaa")
            .await
            .unwrap()
            .unwrap()
            .trimp,
        Some(12.5)
    );
    assert!(!s.activity_set_load(9999, None).await.unwrap());
    assert!(s.activity_remove("strava", "aaa").await.unwrap());
    assert!(!s.activity_remove("strava", "aaa").await.unwrap());
    assert_eq!(s.activity_find("strava", "aaa").await.unwrap(), None);
    assert_eq!(s.activities(10).await.unwrap().len(), 2);
}
