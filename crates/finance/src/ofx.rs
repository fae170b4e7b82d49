//! OFX and QFX: 1.x SGML (closing tags optional) and 2.x XML, read by one
//! tolerant scan of tags and their text. Each `STMTRS`/`CCSTMTRS`/
//! `INVSTMTRS` is a statement; each `STMTTRN` a transaction (FITID as the
//! bank's id); `LEDGERBAL` the closing balance.

use chrono::NaiveDate;

use crate::money::{self, Decimal};
use crate::{Balance, FinanceError, Statement, Transaction};

/// Tags and the text after each: (`NAME` or `/NAME`, text).
fn tokens(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else { break };
        let tag = after[..close].trim();
        let body_start = &after[close + 1..];
        let body_end = body_start.find('<').unwrap_or(body_start.len());
        let body = body_start[..body_end].trim();
        if !tag.starts_with('?') && !tag.starts_with('!') {
            let name = tag
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_ascii_uppercase();
            out.push((name, unescape(body)));
        }
        rest = &body_start[body_end..];
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

/// `20130525225731.258[-5:EST]` → the date.
fn date(s: &str) -> Option<NaiveDate> {
    let d: String = s.chars().take(8).collect();
    if d.len() < 8 || !d.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    NaiveDate::parse_from_str(&d, "%Y%m%d").ok()
}

fn amount(s: &str, currency: &str) -> Result<i64, String> {
    let decimal = if s.contains(',') && !s.contains('.') {
        Decimal::Comma
    } else {
        Decimal::Point
    };
    money::parse_amount(s, decimal, money::exponent(currency))
}

#[derive(Default)]
struct Tx {
    date: Option<String>,
    amount: Option<String>,
    fitid: Option<String>,
    name: String,
    memo: String,
    kind: String,
}

pub(crate) fn parse(text: &str) -> Result<Vec<Statement>, FinanceError> {
    let toks = tokens(text);
    if !toks.iter().any(|(t, _)| t == "OFX") {
        return Err(FinanceError::Unreadable("no <OFX> element".into()));
    }
    let mut out: Vec<Statement> = Vec::new();
    let mut cur: Option<Statement> = None;
    let mut tx: Option<Tx> = None;
    let mut in_ledger = false;
    let mut ledger: (Option<String>, Option<String>) = (None, None);
    let mut errors = Vec::new();
    let finish_tx = |stmt: &mut Statement, t: Tx| {
        let d = t.date.as_deref().and_then(date);
        let a = t.amount.as_deref().map(|a| amount(a, &stmt.currency));
        match (d, a) {
            (Some(date), Some(Ok(amount_minor))) => {
                let (payee, description) = if t.name.is_empty() {
                    (t.memo.clone(), t.kind.clone())
                } else if t.memo.is_empty() || t.memo == t.name {
                    (t.name.clone(), t.kind.clone())
                } else {
                    (t.name.clone(), t.memo.clone())
                };
                stmt.transactions.push(Transaction {
                    date,
                    amount_minor,
                    currency: stmt.currency.clone(),
                    payee,
                    description,
                    bank_id: t.fitid.filter(|f| !f.is_empty()),
                });
            }
            (None, _) => stmt.problems.push(format!(
                "a transaction without a readable date (FITID {}) was left out",
                t.fitid.unwrap_or_default()
            )),
            (_, Some(Err(e))) => stmt.problems.push(format!(
                "a transaction with a bad amount ({e}) was left out"
            )),
            (_, None) => stmt
                .problems
                .push("a transaction without an amount was left out".into()),
        }
    };
    for (tag, body) in toks {
        match tag.as_str() {
            "STMTRS" | "CCSTMTRS" | "INVSTMTRS" => {
                if let Some(s) = cur.take() {
                    out.push(s);
                }
                cur = Some(Statement {
                    account: String::new(),
                    currency: "USD".into(),
                    transactions: Vec::new(),
                    opening: None,
                    closing: None,
                    problems: Vec::new(),
                    format: "ofx",
                });
            }
            "/STMTRS" | "/CCSTMTRS" | "/INVSTMTRS" => {
                if let (Some(s), Some(t)) = (cur.as_mut(), tx.take()) {
                    finish_tx(s, t);
                }
                if let Some(s) = cur.take() {
                    out.push(s);
                }
            }
            "MESSAGE" if !body.is_empty() => errors.push(body.clone()),
            _ => {}
        }
        let Some(stmt) = cur.as_mut() else { continue };
        match tag.as_str() {
            "CURDEF" | "CURRENCY" | "ISO4217" if body.len() == 3 => {
                stmt.currency = body.to_ascii_uppercase();
            }
            "ACCTID" if stmt.account.is_empty() => stmt.account = body,
            "STMTTRN" => {
                if let Some(t) = tx.take() {
                    finish_tx(stmt, t);
                }
                tx = Some(Tx::default());
            }
            "/STMTTRN" => {
                if let Some(t) = tx.take() {
                    finish_tx(stmt, t);
                }
            }
            "LEDGERBAL" => in_ledger = true,
            "/LEDGERBAL" | "AVAILBAL" => {
                in_ledger = false;
                let (a, d) = (ledger.0.take(), ledger.1.take());
                let read = a
                    .zip(d)
                    .map(|(a, d)| (amount(&a, &stmt.currency), date(&d)));
                if let Some((Ok(amount_minor), Some(date))) = read {
                    stmt.closing = Some(Balance { date, amount_minor });
                }
            }
            "BALAMT" if in_ledger => ledger.0 = Some(body),
            "DTASOF" if in_ledger => ledger.1 = Some(body),
            _ => {
                if let Some(t) = tx.as_mut() {
                    match tag.as_str() {
                        "DTPOSTED" => t.date = Some(body),
                        "DTUSER" if t.date.is_none() => t.date = Some(body),
                        "TRNAMT" | "TOTAL" => t.amount = Some(body),
                        "FITID" => t.fitid = Some(body),
                        "NAME" | "PAYEEID" if t.name.is_empty() => t.name = body,
                        "MEMO" => t.memo = body,
                        "TRNTYPE" => t.kind = body.to_lowercase(),
                        _ => {}
                    }
                }
            }
        }
    }
    if let Some(mut s) = cur.take() {
        if let Some(t) = tx.take() {
            finish_tx(&mut s, t);
        }
        out.push(s);
    }
    // A LEDGERBAL left open (SGML without its closing tag) ends with the file.
    if out.is_empty() {
        let why = errors
            .last()
            .cloned()
            .unwrap_or_else(|| "no statement in it".into());
        return Err(FinanceError::Unreadable(format!("OFX: {why}")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sgml_without_closing_tags() {
        let ofx = "OFXHEADER:100\nDATA:OFXSGML\n\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>EUR\
<BANKACCTFROM><ACCTID>DE12 3456</BANKACCTFROM><BANKTRANLIST>\
<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20261103120000[-5:EST]<TRNAMT>-12,50<FITID>A1<NAME>Bakery &amp; Co<MEMO>Bread\
<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20261104<TRNAMT>1500.00<FITID>A2<NAME>Salary\
<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>bad<TRNAMT>-1.00<FITID>A3\
</BANKTRANLIST><LEDGERBAL><BALAMT>2000.00<DTASOF>20261130</LEDGERBAL></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>";
        let s = parse(ofx).unwrap();
        assert_eq!(s.len(), 1);
        let s = &s[0];
        assert_eq!(
            (s.account.as_str(), s.currency.as_str()),
            ("DE12 3456", "EUR")
        );
        assert_eq!(s.transactions.len(), 2);
        assert_eq!(s.transactions[0].amount_minor, -1_250);
        assert_eq!(s.transactions[0].payee, "Bakery & Co");
        assert_eq!(s.transactions[0].description, "Bread");
        assert_eq!(s.transactions[1].bank_id.as_deref(), Some("A2"));
        assert_eq!(s.problems.len(), 1, "{:?}", s.problems);
        assert_eq!(s.closing.map(|b| b.amount_minor), Some(200_000));
    }
}
