//! The shared storage suite, on SQLite.

use openzero_store::Store;
use openzero_store_sqlite::SqliteStore;

async fn fresh() -> Option<Box<dyn Store>> {
    // A fresh directory under cargo's per-target scratch space; kept after
    // the test so a failure can be inspected.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let path = dir.keep().join("openzero.db");
    Some(Box::new(
        SqliteStore::open(&path).await.expect("open sqlite"),
    ))
}

openzero_store::store_suite!(fresh());
