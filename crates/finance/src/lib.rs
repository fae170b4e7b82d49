//! Bank statements read locally, with no I/O: [`parse`] sniffs the format
//! (OFX/QFX 1.x SGML or 2.x XML, ISO 20022 CAMT.053, else CSV read with a
//! [`CsvProfile`]) and gives [`Statement`]s of [`Transaction`]s whose
//! amounts are integer minor units of their currency — never floats.
//! [`dedupe_keys`] gives each transaction the key that makes re-importing
//! the same or an overlapping statement add only what is new.
//!
//! **Invariants:** nothing in a file can panic the parser; a file that is
//! not a statement is [`FinanceError::Unreadable`] with the reason; a
//! transaction that cannot be read (a bad date, a bad amount) is left out
//! and named in the statement's `problems`, the others are kept.

mod camt;
pub mod categorize;
mod csv_profile;
mod dedupe;
mod error;
pub mod money;
mod ofx;
mod text;

pub use csv_profile::{CsvProfile, DateOrder};
pub use dedupe::dedupe_keys;
pub use error::FinanceError;

use chrono::NaiveDate;
use serde::Serialize;

/// One booked transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transaction {
    pub date: NaiveDate,
    /// In minor units of `currency` (cents): negative is money out.
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Who was paid or who paid (may be empty).
    pub payee: String,
    pub description: String,
    /// The bank's own id for it (OFX FITID, CAMT AcctSvcrRef/EndToEndId,
    /// a CSV id column), when it gives one.
    pub bank_id: Option<String>,
}

/// A balance at a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Balance {
    pub date: NaiveDate,
    pub amount_minor: i64,
}

/// One account's transactions from one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    /// The account (IBAN, account id; for a CSV that names none, `csv:` and its header).
    pub account: String,
    pub currency: String,
    pub transactions: Vec<Transaction>,
    pub opening: Option<Balance>,
    pub closing: Option<Balance>,
    /// What could not be read (left out), one line each.
    pub problems: Vec<String>,
    /// The format read: `ofx`, `camt.053`, `csv`.
    pub format: &'static str,
}

impl Statement {
    /// The closing balance the transactions lead to from the opening one,
    /// and the bank's, when the file gives both and they differ.
    pub fn balance_mismatch(&self) -> Option<(i64, i64)> {
        let (open, close) = (self.opening?, self.closing?);
        let sum: i64 = self
            .transactions
            .iter()
            .filter(|t| t.date > open.date && t.date <= close.date)
            .map(|t| t.amount_minor)
            .sum();
        let computed = open.amount_minor + sum;
        (computed != close.amount_minor).then_some((computed, close.amount_minor))
    }
}

/// Reads a statement file; `name` is its file name (for messages) and
/// `profile` the CSV columns (detected when `None`). A CSV's account is
/// the profile's, else one named before the header (an IBAN, a number after
/// "Konto"/"Account"), else its header row — never the file's name, so two
/// exports of one account share their keys.
pub fn parse(
    bytes: &[u8],
    name: &str,
    profile: Option<&CsvProfile>,
) -> Result<Vec<Statement>, FinanceError> {
    let text = text::decode(bytes);
    let head: String = text.chars().take(2_000).collect::<String>().to_uppercase();
    if head.contains("OFXHEADER") || head.contains("<OFX>") || head.contains("<OFX ") {
        return ofx::parse(&text);
    }
    if head.contains("CAMT.053") || head.contains("<BKTOCSTMRSTMT") {
        return camt::parse(&text);
    }
    if head.contains(":20:")
        && (head.contains(":25:") || head.contains(":60F:") || head.contains("{1:"))
    {
        return Err(FinanceError::Unreadable(
            "MT940/MT942 is not read yet: export CSV, OFX or CAMT.053 from your bank".into(),
        ));
    }
    if head.trim_start().starts_with('<') {
        return Err(FinanceError::Unreadable(
            "an XML file that is neither OFX nor CAMT.053".into(),
        ));
    }
    csv_profile::parse(&text, name, profile)
}
