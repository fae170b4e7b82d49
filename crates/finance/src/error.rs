/// Why a file could not be read as a statement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FinanceError {
    #[error("not a bank statement this can read: {0}")]
    Unreadable(String),
}
