//! The sync-links port: what OpenZero's boards, lists and cards are called
//! in another service (Planka), and what both sides agreed on at the last
//! sync (the link's base, opaque here: the sync writes and reads it).
//!
//! A link is keyed by (service, kind, local id) and by (service, kind,
//! remote id): putting a link replaces any other holding either id, so a
//! local or remote record is linked at most once.

use async_trait::async_trait;

use crate::StoreError;

/// One link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncLink {
    /// `board`, `list` or `card`.
    pub kind: String,
    pub local_id: i64,
    pub remote_id: String,
    /// What both sides agreed on (JSON written by the sync), or empty.
    pub base: String,
}

#[async_trait]
pub trait SyncLinkStore: Send + Sync + std::fmt::Debug {
    /// Every link of `service` of that kind, by local id.
    async fn sync_links(&self, service: &str, kind: &str) -> Result<Vec<SyncLink>, StoreError>;

    /// Records a link (replacing any holding its local or remote id).
    async fn sync_link_put(&self, service: &str, link: &SyncLink) -> Result<(), StoreError>;

    /// Forgets the link of that local id.
    async fn sync_link_forget(
        &self,
        service: &str,
        kind: &str,
        local_id: i64,
    ) -> Result<(), StoreError>;

    /// Changes when any card, list or board changed (a cheap look, for a
    /// sync that follows local changes within seconds).
    async fn boards_stamp(&self) -> Result<String, StoreError>;
}
