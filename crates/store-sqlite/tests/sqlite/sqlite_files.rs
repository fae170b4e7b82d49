//! SQLite-specific behaviour: the file on disk.

use openzero_core::NewProject;
use openzero_store::StoreError;
use openzero_store::prelude::*;
use openzero_store_sqlite::SqliteStore;

#[tokio::test]
async fn creates_file_in_wal_mode_and_data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openzero.db");
    let s = SqliteStore::open(&path).await.unwrap();
    s.create_project(&NewProject::new("Career").unwrap())
        .await
        .unwrap();
    s.close().await;
    assert!(path.exists());

    let s = SqliteStore::open(&path).await.unwrap();
    let names: Vec<_> = s
        .list_projects()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["Career"]);
    s.close().await;

    // WAL is a property of the file: a plain connection sees it.
    let header = std::fs::read(&path).unwrap();
    assert_eq!(header[18], 2, "file format write version 2 means WAL");
}

#[tokio::test]
async fn corrupt_file_is_reported_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openzero.db");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();

    let err = SqliteStore::open(&path).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "got {err:?}");
    assert!(err.to_string().contains("not a valid SQLite database"));
    assert_eq!(std::fs::read(&path).unwrap(), garbage, "file unchanged");
}

#[tokio::test]
async fn a_forgotten_memory_leaves_no_trace_in_the_files() {
    use openzero_core::memory::Source;
    use openzero_store::{Embedding, MemoryRecord};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openzero.db");
    let s = SqliteStore::open(&path).await.unwrap();
    let secret = "zebra-unicorn-7731 is the alarm code";
    let (m, _) = s
        .add_memory(&MemoryRecord {
            text: secret.into(),
            created_at: chrono::Utc::now(),
            source: Source::new("chat").unwrap(),
            external_id: None,
            metadata: None,
            embedding: Some(Embedding {
                model: "m".into(),
                vector: vec![0.5; 8],
            }),
        })
        .await
        .unwrap();
    s.close().await;
    let s = SqliteStore::open(&path).await.unwrap();
    assert!(s.forget_memory(m.id).await.unwrap());
    s.close().await;

    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let p = entry.unwrap().path();
        // A WAL file may vanish as the last connection finishes closing.
        let Ok(bytes) = std::fs::read(&p) else {
            continue;
        };
        let found = bytes.windows(7).any(|w| w == b"zebra-u" || w == b"unicorn");
        assert!(!found, "forgotten text still readable in {}", p.display());
    }
}

/// Writes that read first (a project update reads the project, then
/// writes) used to fail with "database is locked" when another connection
/// wrote in between: a deferred transaction cannot upgrade past a newer
/// write. Write transactions now begin IMMEDIATE and wait their turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_wait_instead_of_failing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openzero.db");
    let a = std::sync::Arc::new(SqliteStore::open(&path).await.unwrap());
    let b = std::sync::Arc::new(SqliteStore::open(&path).await.unwrap());
    let p = a
        .create_project(&NewProject::new("Career").unwrap())
        .await
        .unwrap();
    let updates = {
        let a = a.clone();
        tokio::spawn(async move {
            for i in 0..60 {
                let patch = openzero_core::ProjectPatch {
                    progress: Some(openzero_core::Progress::try_from(i % 100).unwrap()),
                    ..Default::default()
                };
                a.update_project(p.id, &patch).await?;
            }
            Ok::<_, StoreError>(())
        })
    };
    let queue = {
        let b = b.clone();
        tokio::spawn(async move {
            for i in 0..60 {
                b.tg_queue(&[openzero_store::OutMessage {
                    chat_id: 1,
                    text: format!("m{i}"),
                    buttons: None,
                }])
                .await?;
                b.mark_reviewed(p.id, openzero_store::now()).await?;
            }
            Ok::<_, StoreError>(())
        })
    };
    updates
        .await
        .unwrap()
        .expect("updates never fail on a busy database");
    queue
        .await
        .unwrap()
        .expect("writes never fail on a busy database");
    assert_eq!(b.tg_outbox(100).await.unwrap().len(), 60);
    a.close().await;
    b.close().await;
}

/// Migration 23 rebuilds `activities` with the samples last: a store of
/// schema 22 keeps its rows, their ids and its id counter.
#[tokio::test]
async fn activities_keep_their_rows_ids_and_counter_through_the_samples_move() {
    use openzero_store::backup::{DumpItem, Value};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openzero.db");
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let columns: Vec<String> = [
        "id",
        "source",
        "external_id",
        "sport",
        "name",
        "start_at",
        "elapsed_s",
        "moving_s",
        "distance_m",
        "avg_hr",
        "trimp",
        "efficiency",
        "samples",
        "laps",
        "imported_at",
    ]
    .iter()
    .map(|c| (*c).to_owned())
    .collect();
    let at: chrono::DateTime<chrono::Utc> = "2026-11-20T06:30:00Z".parse().unwrap();
    let row = |id: i64, ext: &str| {
        DumpItem::Row(vec![
            Value::Int(id),
            Value::Text("strava".into()),
            Value::Text(ext.into()),
            Value::Text("run".into()),
            Value::Text(format!("Run {id}")),
            Value::Time(at + chrono::Duration::days(id)),
            Value::Real(3000.0),
            Value::Real(2900.0),
            Value::Real(10_000.0),
            Value::Real(150.0),
            Value::Real(90.0),
            Value::Null,
            Value::Text("[]".into()),
            Value::Text("[]".into()),
            Value::Time(at),
        ])
    };
    for item in [
        DumpItem::Table {
            name: "activities".into(),
            columns,
        },
        row(2, "a"),
        row(4, "b"),
        DumpItem::Sequences(vec![("activities".into(), 9)]),
        DumpItem::End,
    ] {
        tx.send(item).await.unwrap();
    }
    drop(tx);
    SqliteStore::restore_into(&path, 22, rx).await.unwrap();
    let s = SqliteStore::open(&path).await.unwrap();
    // Brought up past 23 (the samples move) to the newest migration.
    assert!(s.schema_version().await.unwrap() >= 23);
    let kept = s.activities(10).await.unwrap();
    let ids: Vec<i64> = kept.iter().map(|a| a.id).collect();
    assert_eq!(ids, [4, 2]);
    assert_eq!(kept[0].name.as_deref(), Some("Run 4"));
    assert_eq!(kept[0].imported_at, at);
    let (_, samples, _) = s.activity_get(2).await.unwrap().unwrap();
    assert_eq!(samples, "[]");
    let mut new = openzero_store::training::NewActivity {
        source: "file".into(),
        external_id: "c".into(),
        sport: "run".into(),
        name: None,
        start_at: at,
        elapsed_s: 1.0,
        moving_s: 1.0,
        distance_m: 1.0,
        avg_hr: None,
        trimp: None,
        efficiency: None,
        samples: "[]".into(),
        laps: "[]".into(),
    };
    let added = s.activity_add(&new, at).await.unwrap().unwrap();
    assert_eq!(added.id, 10, "ids of deleted activities are not reused");
    new.external_id = "d".into();
    assert_eq!(s.activity_add(&new, at).await.unwrap().unwrap().id, 11);
    s.close().await;
}
