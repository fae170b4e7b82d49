//! The finance port: imported transactions (kept once by their dedupe
//! key, in batches that can be undone), category rules and monthly
//! budgets.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::StoreError;

/// A transaction to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTx {
    pub account: String,
    pub key: String,
    pub day: NaiveDate,
    pub amount_minor: i64,
    pub currency: String,
    pub payee: String,
    pub description: String,
    pub bank_id: Option<String>,
    pub category: Option<String>,
    /// `rule`, `owner` or `learned`.
    pub category_source: Option<String>,
}

/// A kept transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TxRow {
    pub id: i64,
    pub batch_id: i64,
    pub account: String,
    pub day: NaiveDate,
    pub amount_minor: i64,
    pub currency: String,
    pub payee: String,
    pub description: String,
    pub bank_id: Option<String>,
    pub category: Option<String>,
    pub category_source: Option<String>,
}

/// One import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchRow {
    pub id: i64,
    pub file: String,
    pub format: String,
    pub imported_at: DateTime<Utc>,
    pub added: i64,
    pub undone_at: Option<DateTime<Utc>>,
}

/// A category rule: text in the payee or description → a category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleRow {
    pub id: i64,
    pub pattern: String,
    pub category: String,
    pub position: i64,
}

/// Which transactions to list (days inclusive).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxQuery {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub category: Option<String>,
    pub uncategorized: bool,
    pub limit: Option<i64>,
}

#[async_trait]
pub trait FinanceStore: Send + Sync + std::fmt::Debug {
    /// The keys among `keys` already kept.
    async fn fin_known(&self, keys: &[String]) -> Result<HashSet<String>, StoreError>;

    /// Keeps the new transactions of one file as a batch, in one
    /// transaction (known keys are skipped). Returns the batch and how
    /// many were added.
    async fn fin_import(
        &self,
        file: &str,
        format: &str,
        rows: &[NewTx],
    ) -> Result<(i64, usize), StoreError>;

    /// Removes a batch's transactions; how many went (`None`: no such
    /// batch, or undone already).
    async fn fin_undo(&self, batch: i64) -> Result<Option<usize>, StoreError>;

    async fn fin_batches(&self) -> Result<Vec<BatchRow>, StoreError>;

    /// Transactions by day, newest first.
    async fn fin_list(&self, q: &TxQuery) -> Result<Vec<TxRow>, StoreError>;

    /// Sets a transaction's category; false when there is none with that id.
    async fn fin_categorize(
        &self,
        id: i64,
        category: Option<&str>,
        source: &str,
    ) -> Result<bool, StoreError>;

    async fn fin_rules(&self) -> Result<Vec<RuleRow>, StoreError>;
    async fn fin_rule_add(&self, pattern: &str, category: &str) -> Result<RuleRow, StoreError>;
    async fn fin_rule_remove(&self, id: i64) -> Result<bool, StoreError>;

    /// Monthly budgets: (category, currency, amount_minor).
    async fn fin_budgets(&self) -> Result<Vec<(String, String, i64)>, StoreError>;
    /// Sets (or with `None` removes) a category's monthly budget.
    async fn fin_budget_set(
        &self,
        category: &str,
        currency: &str,
        amount_minor: Option<i64>,
    ) -> Result<(), StoreError>;
}
