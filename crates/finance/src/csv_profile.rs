//! CSV exports: which column holds what, found from the header (English,
//! German, French, Dutch, Spanish names) or given by a saved
//! [`CsvProfile`]; the delimiter, the decimal separator and the date order
//! detected from the file when the profile does not say. Lines before the
//! header (a bank's preamble) are skipped.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::money::{self, Decimal};
use crate::{FinanceError, Statement, Transaction};

/// The order of day, month and year in a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DateOrder {
    Dmy,
    Mdy,
    Ymd,
}

/// Which columns hold what (header names, case-insensitive), and how the
/// file writes numbers and dates. `None`: detected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CsvProfile {
    pub delimiter: Option<char>,
    pub date: Option<String>,
    pub date_order: Option<DateOrder>,
    /// One signed amount column…
    pub amount: Option<String>,
    /// …or money out and money in apart.
    pub debit: Option<String>,
    pub credit: Option<String>,
    pub payee: Option<String>,
    /// Joined with spaces.
    pub description: Vec<String>,
    pub id: Option<String>,
    pub currency_column: Option<String>,
    /// The currency when no column or symbol says (default EUR).
    pub currency: Option<String>,
    pub decimal: Option<Decimal>,
    /// The account these rows belong to (default: the file's name).
    pub account: Option<String>,
}

const DATE: &[&str] = &[
    "date",
    "transaction date",
    "posting date",
    "posted date",
    "booking date",
    "value date",
    "buchungstag",
    "buchungsdatum",
    "datum",
    "valuta",
    "valutadatum",
    "date opération",
    "date operation",
    "date de l'opération",
    "fecha",
    "fecha operación",
    "data",
    "boekdatum",
    "run date",
    "trade date",
];
const AMOUNT: &[&str] = &[
    "amount",
    "transaction amount",
    "betrag",
    "umsatz",
    "montant",
    "importe",
    "bedrag",
    "amount (eur)",
    "amount ($)",
    "amount (usd)",
    "value",
    "betrag (eur)",
];
const DEBIT: &[&str] = &[
    "debit",
    "withdrawal",
    "withdrawals",
    "soll",
    "débit",
    "ausgang",
    "af",
    "money out",
    "paid out",
];
const CREDIT: &[&str] = &[
    "credit", "deposit", "deposits", "haben", "crédit", "eingang", "bij", "money in", "paid in",
];
const PAYEE: &[&str] = &[
    "payee",
    "name",
    "beneficiary",
    "counterparty",
    "empfänger",
    "auftraggeber",
    "zahlungsempfänger",
    "begünstigter/zahlungspflichtiger",
    "auftraggeber/empfänger",
    "naam / omschrijving",
    "merchant",
    "bénéficiaire",
];
const DESCRIPTION: &[&str] = &[
    "description",
    "memo",
    "details",
    "verwendungszweck",
    "purpose",
    "reference",
    "narrative",
    "libellé",
    "libelle",
    "text",
    "buchungstext",
    "concepto",
    "mededelingen",
    "action",
    "transaction type",
    "type",
];
const ID: &[&str] = &[
    "id",
    "transaction id",
    "reference number",
    "fitid",
    "transaktions-id",
];
const CURRENCY: &[&str] = &["currency", "währung", "devise", "moneda", "munt"];

fn norm(s: &str) -> String {
    s.trim().trim_matches('"').trim().to_lowercase()
}

fn find(header: &[String], given: Option<&str>, names: &[&str]) -> Option<usize> {
    if let Some(g) = given {
        return header.iter().position(|h| *h == norm(g));
    }
    header.iter().position(|h| names.contains(&h.as_str()))
}

/// The delimiter the lines agree on most.
fn delimiter(text: &str) -> u8 {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(20)
        .collect();
    let mut best = (b',', 0usize);
    for d in [b';', b',', b'\t', b'|'] {
        let counts: Vec<usize> = lines
            .iter()
            .map(|l| l.bytes().filter(|b| *b == d).count())
            .collect();
        let max = counts.iter().copied().max().unwrap_or(0);
        let agreeing = counts.iter().filter(|c| **c == max && max > 0).count();
        if agreeing * 10 + max > best.1 {
            best = (d, agreeing * 10 + max);
        }
    }
    best.0
}

/// A date in the given order; 2-digit years are 20xx.
fn date(s: &str, order: DateOrder) -> Option<NaiveDate> {
    let s = s.trim();
    let s = s.split([' ', 'T']).next().unwrap_or(s);
    let parts: Vec<&str> = s.split(['.', '/', '-']).filter(|p| !p.is_empty()).collect();
    if parts.len() == 1 && parts[0].len() == 8 {
        return NaiveDate::parse_from_str(parts[0], "%Y%m%d").ok();
    }
    let [a, b, c] = parts.as_slice() else {
        return None;
    };
    let n = |x: &str| x.parse::<i32>().ok();
    let year = |y: i32| if y < 100 { 2000 + y } else { y };
    let (y, m, d) = if a.len() == 4 {
        (n(a)?, n(b)?, n(c)?)
    } else {
        match order {
            DateOrder::Dmy => (year(n(c)?), n(b)?, n(a)?),
            DateOrder::Mdy => (year(n(c)?), n(a)?, n(b)?),
            DateOrder::Ymd => (year(n(a)?), n(b)?, n(c)?),
        }
    };
    NaiveDate::from_ymd_opt(y, u32::try_from(m).ok()?, u32::try_from(d).ok()?)
}

/// The order the dates use: a first part above 12 means day first, a
/// second part above 12 month first; a comma decimal hints day first.
fn date_order(samples: &[&str], decimal: Decimal) -> DateOrder {
    let mut dmy = false;
    let mut mdy = false;
    for s in samples {
        let parts: Vec<u32> = s
            .trim()
            .split([' ', 'T'])
            .next()
            .unwrap_or_default()
            .split(['.', '/', '-'])
            .filter_map(|p| p.parse().ok())
            .collect();
        if let [a, b, _] = parts.as_slice() {
            if *a > 999 {
                return DateOrder::Ymd;
            }
            // An impossible date (32.12.) says nothing about the order.
            if *a <= 31 && *b <= 31 {
                dmy |= *a > 12;
                mdy |= *b > 12;
            }
        }
    }
    match (dmy, mdy) {
        (true, false) => DateOrder::Dmy,
        (false, true) => DateOrder::Mdy,
        _ if samples.iter().any(|s| s.contains('.')) || decimal == Decimal::Comma => DateOrder::Dmy,
        _ if samples.iter().any(|s| s.contains('/')) => DateOrder::Mdy,
        _ => DateOrder::Dmy,
    }
}

fn symbol_currency(s: &str) -> Option<&'static str> {
    if s.contains('$') {
        Some("USD")
    } else if s.contains('€') {
        Some("EUR")
    } else if s.contains('£') {
        Some("GBP")
    } else {
        None
    }
}

/// An account named in the lines before the header (an IBAN, or a
/// number after "Konto"/"Account"), so exports of one account share keys
/// whatever their file names; else the header itself stands for the bank.
fn account_in(preamble: &[Vec<String>]) -> Option<String> {
    for row in preamble {
        for cell in row {
            let compact: String = cell.chars().filter(|c| !c.is_whitespace()).collect();
            let iban = compact.len() >= 15
                && compact.len() <= 34
                && compact[..2].chars().all(|c| c.is_ascii_uppercase())
                && compact[2..4].chars().all(|c| c.is_ascii_digit())
                && compact[4..].chars().all(|c| c.is_ascii_alphanumeric());
            if iban {
                return Some(compact);
            }
        }
        let labelled = row.windows(2).find(|w| {
            let l = norm(&w[0]);
            (l.contains("konto") || l.contains("account"))
                && w[1].chars().any(|c| c.is_ascii_digit())
        });
        if let Some(w) = labelled {
            return Some(w[1].trim().to_owned());
        }
    }
    None
}

pub(crate) fn parse(
    text: &str,
    name: &str,
    profile: Option<&CsvProfile>,
) -> Result<Vec<Statement>, FinanceError> {
    let p = profile.cloned().unwrap_or_default();
    let delim = p.delimiter.map_or_else(|| delimiter(text), |c| c as u8);
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delim)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let rows: Vec<Vec<String>> = rdr
        .records()
        .filter_map(Result::ok)
        .map(|r| r.iter().map(str::to_owned).collect())
        .collect();
    // The header: the first row naming a date and an amount (or debit/credit).
    let header_at = rows.iter().position(|r| {
        let h: Vec<String> = r.iter().map(|c| norm(c)).collect();
        find(&h, p.date.as_deref(), DATE).is_some()
            && (find(&h, p.amount.as_deref(), AMOUNT).is_some()
                || find(&h, p.debit.as_deref(), DEBIT).is_some()
                || find(&h, p.credit.as_deref(), CREDIT).is_some())
    });
    let Some(header_at) = header_at else {
        return Err(FinanceError::Unreadable(format!(
            "{name}: no header row naming a date and an amount column (save a CSV profile and import with --profile)"
        )));
    };
    let header: Vec<String> = rows[header_at].iter().map(|c| norm(c)).collect();
    let col = |given: &Option<String>, names: &[&str]| find(&header, given.as_deref(), names);
    let date_col = col(&p.date, DATE);
    let amount_col = col(&p.amount, AMOUNT);
    let debit_col = col(&p.debit, DEBIT);
    let credit_col = col(&p.credit, CREDIT);
    let payee_col = col(&p.payee, PAYEE);
    let id_col = col(&p.id, ID);
    let currency_col = col(&p.currency_column, CURRENCY);
    let desc_cols: Vec<usize> = if p.description.is_empty() {
        header
            .iter()
            .enumerate()
            .filter(|(i, h)| DESCRIPTION.contains(&h.as_str()) && Some(*i) != payee_col)
            .map(|(i, _)| i)
            .collect()
    } else {
        p.description
            .iter()
            .filter_map(|d| header.iter().position(|h| *h == norm(d)))
            .collect()
    };
    let Some(date_col) = date_col else {
        return Err(FinanceError::Unreadable("no date column".into()));
    };
    let body = &rows[header_at + 1..];
    let cell = |r: &Vec<String>, i: Option<usize>| {
        i.and_then(|i| r.get(i))
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    };
    let amounts: Vec<String> = body
        .iter()
        .flat_map(|r| [cell(r, amount_col), cell(r, debit_col), cell(r, credit_col)])
        .filter(|s| !s.is_empty())
        .collect();
    let amount_refs: Vec<&str> = amounts.iter().map(String::as_str).collect();
    let decimal = p.decimal.unwrap_or_else(|| money::detect(&amount_refs));
    let dates: Vec<String> = body.iter().map(|r| cell(r, Some(date_col))).collect();
    let date_refs: Vec<&str> = dates.iter().map(String::as_str).collect();
    let order = p
        .date_order
        .unwrap_or_else(|| date_order(&date_refs, decimal));
    let default_currency = p
        .currency
        .clone()
        .or_else(|| {
            amounts
                .iter()
                .find_map(|a| symbol_currency(a))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "EUR".into());
    let mut st = Statement {
        account: p
            .account
            .clone()
            .or_else(|| account_in(&rows[..header_at]))
            .unwrap_or_else(|| format!("csv:{}", header.join("|"))),
        currency: default_currency.clone(),
        transactions: Vec::new(),
        opening: None,
        closing: None,
        problems: Vec::new(),
        format: "csv",
    };
    for (n, r) in body.iter().enumerate() {
        let line = header_at + n + 2;
        if r.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let raw_date = cell(r, Some(date_col));
        let filled = r.iter().filter(|c| !c.trim().is_empty()).count();
        let Some(d) = date(&raw_date, order) else {
            // A note before or after the rows (a disclaimer, a total line)
            // fills a cell or two; a data row fills most of them.
            if filled * 2 < header.len().max(2) {
                continue;
            }
            st.problems
                .push(format!("row {line}: {raw_date:?} is not a date; left out"));
            continue;
        };
        let currency = Some(cell(r, currency_col))
            .filter(|c| c.len() == 3)
            .map(|c| c.to_uppercase())
            .unwrap_or_else(|| default_currency.clone());
        let exp = money::exponent(&currency);
        let amount = if amount_col.is_some() && !cell(r, amount_col).is_empty() {
            money::parse_amount(&cell(r, amount_col), decimal, exp)
        } else {
            let out = cell(r, debit_col);
            let inn = cell(r, credit_col);
            match (out.is_empty(), inn.is_empty()) {
                (false, _) => money::parse_amount(&out, decimal, exp).map(|a| -a.abs()),
                (true, false) => money::parse_amount(&inn, decimal, exp).map(i64::abs),
                (true, true) => Err("no amount".into()),
            }
        };
        let amount = match amount {
            Ok(a) => a,
            Err(e) => {
                st.problems.push(format!("row {line}: {e}; left out"));
                continue;
            }
        };
        let description = desc_cols
            .iter()
            .map(|i| cell(r, Some(*i)))
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        st.transactions.push(Transaction {
            date: d,
            amount_minor: amount,
            currency,
            payee: cell(r, payee_col),
            description,
            bank_id: Some(cell(r, id_col)).filter(|s| !s.is_empty()),
        });
    }
    Ok(vec![st])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_german_export_with_a_preamble() {
        let text = "Kontonummer;DE12 3456\n\nBuchungstag;Valuta;Auftraggeber/Empfänger;Verwendungszweck;Betrag\n\
31.12.2026;31.12.2026;Bäckerei Müller;Brot;-1.234,56\n\
30.12.2026;30.12.2026;ACME GmbH;Gehalt;2.500,00\n\
32.12.2026;;Someone;Something;-1,00\nDisclaimer: not advice\n";
        let s = &parse(text, "giro.csv", None).unwrap()[0];
        assert_eq!(s.account, "DE12 3456", "the account from the preamble");
        assert_eq!(s.transactions.len(), 2);
        let t = &s.transactions[0];
        assert_eq!(t.date, NaiveDate::from_ymd_opt(2026, 12, 31).unwrap());
        assert_eq!(t.amount_minor, -123_456);
        assert_eq!(t.payee, "Bäckerei Müller");
        assert_eq!(t.description, "Brot");
        assert_eq!(s.problems.len(), 1);
    }

    #[test]
    fn us_dates_and_debit_credit_columns() {
        let text = "\"Date\",\"Status\",\"Type\",\"CheckNumber\",\"Description\",\"Withdrawal\",\"Deposit\",\"RunningBalance\"\n\
\"07/31/2022\",\"Posted\",\"INTADJUST\",\"\",\"Interest Paid\",\"\",\"$1.00\",\"$2.00\"\n\
\"02/13/2022\",\"Posted\",\"ACH\",\"\",\"Electronic Withdrawal\",\"$2.00\",\"\",\"$3.00\"\n";
        let s = &parse(text, "schwab.csv", None).unwrap()[0];
        assert_eq!(s.currency, "USD");
        let amounts: Vec<i64> = s.transactions.iter().map(|t| t.amount_minor).collect();
        assert_eq!(amounts, [100, -200]);
        assert_eq!(
            s.transactions[1].date,
            NaiveDate::from_ymd_opt(2022, 2, 13).unwrap()
        );
    }
}
