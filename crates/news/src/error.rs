/// Why a feed or an OPML file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NewsError {
    #[error("not a feed this can read: {0}")]
    Malformed(String),
    #[error("not an OPML subscription list: {0}")]
    Opml(String),
}
