//! SQLite-specific behaviour: the file on disk.

use openzero_core::NewProject;
use openzero_store::{Store, StoreError};
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
