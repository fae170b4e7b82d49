//! `notify` queues a message for every owner in the durable outbox, split
//! to Telegram's size, with the buttons on the last piece.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use openzero_store::prelude::*;

#[tokio::test]
async fn notify_queues_for_every_owner_with_buttons_last() {
    let dir = tempfile::tempdir().unwrap();
    let store = openzero_store_sqlite::SqliteStore::open(&dir.path().join("oz.db"))
        .await
        .unwrap();
    let long = "Briefing line.\n".repeat(400);
    let buttons = serde_json::json!([[{"text": "Done", "callback_data": "ack:1"}]]);
    openzero_telegram::notify(&store, &[1, 2], &long, Some(buttons.clone()))
        .await
        .unwrap();
    let out = store.tg_outbox(100).await.unwrap();
    let to_one: Vec<_> = out.iter().filter(|o| o.message.chat_id == 1).collect();
    assert_eq!(to_one.len(), 2, "6,000 characters in two messages");
    assert!(to_one[0].message.buttons.is_none());
    assert_eq!(
        to_one[1].message.buttons.as_deref(),
        Some(buttons.to_string().as_str())
    );
    assert_eq!(out.iter().filter(|o| o.message.chat_id == 2).count(), 2);
    store.close().await;
}
