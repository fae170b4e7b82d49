//! The notification port: tell the owner something (a briefing, urgent
//! mail) on every channel they use, without the sender knowing any channel.
//! Each channel queues durably and splits and formats for itself.
//!
//! **Invariant:** types only; no I/O.

use async_trait::async_trait;

/// Why a notification could not be queued on a channel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not queue a message for {channel}: {detail}")]
pub struct NotifyError {
    pub channel: String,
    pub detail: String,
}

/// A channel that reaches the owner.
#[async_trait]
pub trait Notifier: Send + Sync + std::fmt::Debug {
    /// The channel's name ("telegram").
    fn channel(&self) -> &str;
    /// Queues `text` for the owner, whole: the channel cuts it into pieces
    /// its transport accepts, in order. Returns once it is stored durably.
    async fn notify(&self, text: &str) -> Result<(), NotifyError>;
    /// Like [`Notifier::notify`], unless a notification under `key` was
    /// queued before on this channel: then nothing is queued and false is
    /// returned. What must reach the owner once (urgent mail) is re-sent
    /// after a crash with the same key.
    async fn notify_once(&self, key: &str, text: &str) -> Result<bool, NotifyError>;
}
