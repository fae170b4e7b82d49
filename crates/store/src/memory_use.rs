//! Where each memory was used: every time one is put into a prompt (a chat
//! message, a `/think` question), a line — so the owner can see what a
//! memory did, not only where it came from. Forgetting a memory forgets
//! its lines.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use openzero_core::memory::MemoryId;

use crate::StoreError;

#[async_trait]
pub trait MemoryUseStore: Send + Sync + std::fmt::Debug {
    /// Records that `ids` went into a prompt for `by` ("chat (telegram)").
    async fn memory_used(
        &self,
        ids: &[MemoryId],
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The newest `limit` uses of a memory, newest first.
    async fn memory_uses(
        &self,
        id: MemoryId,
        limit: i64,
    ) -> Result<Vec<(DateTime<Utc>, String)>, StoreError>;
}
