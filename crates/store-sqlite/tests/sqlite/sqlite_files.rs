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
