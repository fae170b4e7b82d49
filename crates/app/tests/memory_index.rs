//! The in-process index sees what other processes write: a memory added
//! elsewhere is found at the next search, a forgotten one never again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeZone, Utc};
use openzero_app::memory_index::MemoryIndex;
use openzero_core::memory::{Filters, Source};
use openzero_embed::MODEL_ID;
use openzero_store::prelude::*;
use openzero_store::{Embedding, MemoryRecord, Store};
use openzero_store_sqlite::SqliteStore;

fn record(text: &str, v: [f32; 2]) -> MemoryRecord {
    MemoryRecord {
        text: text.into(),
        created_at: Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap(),
        source: Source::new("chat").unwrap(),
        external_id: None,
        metadata: None,
        embedding: Some(Embedding {
            model: MODEL_ID.into(),
            vector: v.to_vec(),
        }),
    }
}

async fn top(index: &MemoryIndex, store: &dyn Store, q: [f32; 2]) -> Vec<i64> {
    index
        .synced(store)
        .await
        .unwrap()
        .search(&q, 10, 0.5, &Filters::default())
        .into_iter()
        .map(|t| t.0)
        .collect()
}

/// `server` holds the long-lived index; `cli` is a second connection to the
/// same file, as a CLI command next to a running server is.
async fn two_connections() -> (tempfile::TempDir, SqliteStore, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oz.db");
    let server = SqliteStore::open(&path).await.unwrap();
    let cli = SqliteStore::open(&path).await.unwrap();
    (dir, server, cli)
}

#[tokio::test]
async fn index_follows_writes_from_another_process() {
    let (_dir, server, cli) = two_connections().await;
    let index = MemoryIndex::default();

    let a = cli.add_memory(&record("east", [1.0, 0.0])).await.unwrap().0;
    assert_eq!(
        top(&index, &server, [1.0, 0.0]).await,
        [a.id],
        "first build"
    );

    let b = cli
        .add_memory(&record("north", [0.0, 1.0]))
        .await
        .unwrap()
        .0;
    assert_eq!(
        top(&index, &server, [0.0, 1.0]).await,
        [b.id],
        "added elsewhere"
    );

    assert!(cli.forget_memory(a.id).await.unwrap());
    assert!(
        top(&index, &server, [1.0, 0.0]).await.is_empty(),
        "forgotten elsewhere, never found again"
    );

    // Re-embedded elsewhere: the new vector replaces the old one.
    cli.set_embedding(
        b.id,
        &Embedding {
            model: MODEL_ID.into(),
            vector: vec![1.0, 0.0],
        },
    )
    .await
    .unwrap();
    assert_eq!(top(&index, &server, [1.0, 0.0]).await, [b.id]);
    assert!(top(&index, &server, [0.0, 1.0]).await.is_empty());

    // Embedded by another model: out of this model's index.
    cli.set_embedding(
        b.id,
        &Embedding {
            model: "another-model".into(),
            vector: vec![1.0, 0.0],
        },
    )
    .await
    .unwrap();
    assert!(top(&index, &server, [1.0, 0.0]).await.is_empty());
}

#[tokio::test]
async fn index_rebuilds_when_the_change_log_was_pruned_past_it() {
    let (_dir, server, cli) = two_connections().await;
    let index = MemoryIndex::default();
    let a = cli.add_memory(&record("east", [1.0, 0.0])).await.unwrap().0;
    assert_eq!(top(&index, &server, [1.0, 0.0]).await, [a.id]);

    // Many changes, then a prune that drops the entries the index has not
    // read: it must notice and rebuild rather than miss the forget.
    let b = cli
        .add_memory(&record("also east", [0.9, 0.1]))
        .await
        .unwrap()
        .0;
    assert!(cli.forget_memory(a.id).await.unwrap());
    cli.add_memory(&record("north", [0.0, 1.0])).await.unwrap();
    cli.prune_memory_changes(0).await.unwrap();
    assert_eq!(top(&index, &server, [1.0, 0.0]).await, [b.id]);
    assert_eq!(index.synced(&server).await.unwrap().len(), 2);
}
