//! ISO 20022 CAMT.053 (bank-to-customer statement; v2 to v8 alike): each
//! `Stmt` is a statement of its `Acct` (IBAN, else another id) in its
//! currency; each booked `Ntry` a transaction (pending ones are left out):
//! the amount signed by `CdtDbtInd`, the booking date, the counterparty
//! (the creditor for money out, the debtor for money in), the remittance
//! text, and the bank's reference (`AcctSvcrRef`, else the end-to-end id,
//! else `NtryRef`). `OPBD`/`PRCD` and `CLBD` balances open and close it.

use chrono::NaiveDate;
use quick_xml::events::Event;

use crate::money::{self, Decimal};
use crate::{Balance, FinanceError, Statement, Transaction};

#[derive(Default)]
struct Entry {
    amount: String,
    currency: String,
    credit: Option<bool>,
    status: String,
    date: String,
    refs: Vec<(String, String)>,
    creditor: String,
    debtor: String,
    text: Vec<String>,
}

#[derive(Default)]
struct Bal {
    code: String,
    amount: String,
    credit: Option<bool>,
    date: String,
}

fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

pub(crate) fn parse(text: &str) -> Result<Vec<Statement>, FinanceError> {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut path: Vec<String> = Vec::new();
    let mut out: Vec<Statement> = Vec::new();
    let mut stmt: Option<Statement> = None;
    let mut entry: Option<Entry> = None;
    let mut bal: Option<Bal> = None;
    let mut text_buf = String::new();
    let mut amount_ccy = String::new();
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| FinanceError::Unreadable(format!("CAMT: {e}")))?;
        match ev {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_owned();
                text_buf.clear();
                if name == "Amt" {
                    amount_ccy = e
                        .try_get_attribute("Ccy")
                        .ok()
                        .flatten()
                        .map(|a| a.value.to_string())
                        .unwrap_or_default();
                }
                match name.as_str() {
                    "Stmt" => {
                        stmt = Some(Statement {
                            account: String::new(),
                            currency: String::new(),
                            transactions: Vec::new(),
                            opening: None,
                            closing: None,
                            problems: Vec::new(),
                            format: "camt.053",
                        });
                    }
                    "Ntry" => entry = Some(Entry::default()),
                    "Bal" => bal = Some(Bal::default()),
                    _ => {}
                }
                path.push(name);
            }
            Event::Text(t) => text_buf.push_str(&t.xml10_content()),
            Event::CData(t) => text_buf.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text_buf.push(c);
                } else {
                    text_buf.push_str(match &*r.into_inner() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "",
                    });
                }
            }
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                let parent = path.last().map(String::as_str).unwrap_or_default();
                let value = std::mem::take(&mut text_buf).trim().to_owned();
                let in_path = |p: &str| path.iter().any(|x| x == p);
                if let Some(e) = entry.as_mut() {
                    match (name.as_str(), parent) {
                        ("Amt", "Ntry") => {
                            e.amount = value.clone();
                            e.currency = amount_ccy.clone();
                        }
                        ("CdtDbtInd", "Ntry") => e.credit = Some(value == "CRDT"),
                        ("Sts", "Ntry") | ("Cd", "Sts") => e.status = value.clone(),
                        ("Dt" | "DtTm", "BookgDt") => e.date = value.clone(),
                        ("Dt" | "DtTm", "ValDt") if e.date.is_empty() => e.date = value.clone(),
                        ("AcctSvcrRef" | "NtryRef" | "EndToEndId" | "TxId", _) => {
                            e.refs.push((name.clone(), value.clone()));
                        }
                        ("Nm", _) if in_path("Cdtr") && in_path("RltdPties") => {
                            e.creditor = value.clone();
                        }
                        ("Nm", _) if in_path("Dbtr") && in_path("RltdPties") => {
                            e.debtor = value.clone();
                        }
                        ("Ustrd" | "AddtlNtryInf" | "AddtlTxInf", _)
                            if !value.is_empty() && !e.text.contains(&value) =>
                        {
                            e.text.push(value.clone());
                        }
                        _ => {}
                    }
                }
                if let Some(b) = bal.as_mut() {
                    match (name.as_str(), parent) {
                        ("Cd", "CdOrPrtry") => b.code = value.clone(),
                        ("Amt", "Bal") => b.amount = value.clone(),
                        ("CdtDbtInd", "Bal") => b.credit = Some(value == "CRDT"),
                        ("Dt" | "DtTm", "Dt") => b.date = value.clone(),
                        _ => {}
                    }
                }
                let Some(s) = stmt.as_mut() else { continue };
                match (name.as_str(), parent) {
                    ("IBAN", "Id") if in_path("Acct") && entry.is_none() => s.account = value,
                    ("Id", "Othr")
                        if in_path("Acct") && entry.is_none() && s.account.is_empty() =>
                    {
                        s.account = value;
                    }
                    ("Ccy", "Acct") => s.currency = value,
                    ("Bal", _) => {
                        if let Some(b) = bal.take() {
                            let ccy = if s.currency.is_empty() {
                                "EUR"
                            } else {
                                &s.currency
                            };
                            let amount = money::parse_amount(
                                &b.amount,
                                Decimal::Point,
                                money::exponent(ccy),
                            );
                            if let (Ok(a), Some(d)) = (amount, date(&b.date)) {
                                let a = if b.credit == Some(false) { -a } else { a };
                                let balance = Some(Balance {
                                    date: d,
                                    amount_minor: a,
                                });
                                match b.code.as_str() {
                                    "OPBD" | "PRCD" => s.opening = s.opening.or(balance),
                                    "CLBD" => s.closing = balance,
                                    _ => {}
                                }
                            }
                        }
                    }
                    ("Ntry", _) => {
                        if let Some(e) = entry.take() {
                            add_entry(s, e);
                        }
                    }
                    ("Stmt", _) => {
                        if let Some(s) = stmt.take() {
                            out.push(s);
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if out.is_empty() {
        return Err(FinanceError::Unreadable(
            "CAMT: no statement (Stmt) in it".into(),
        ));
    }
    Ok(out)
}

fn add_entry(s: &mut Statement, e: Entry) {
    if matches!(e.status.as_str(), "PDNG" | "INFO") {
        return;
    }
    let currency = if e.currency.is_empty() {
        s.currency.clone()
    } else {
        e.currency.clone()
    };
    if s.currency.is_empty() {
        s.currency.clone_from(&currency);
    }
    let amount = money::parse_amount(&e.amount, Decimal::Point, money::exponent(&currency));
    let (Ok(a), Some(d), Some(credit)) = (amount, date(&e.date), e.credit) else {
        s.problems.push(format!(
            "an entry without a readable amount, date or direction was left out ({} {})",
            e.amount, e.date
        ));
        return;
    };
    let pick = |n: &str| {
        e.refs
            .iter()
            .find(|(k, v)| k == n && !v.is_empty() && v != "NOTPROVIDED")
    };
    let bank_id = pick("AcctSvcrRef")
        .or_else(|| pick("EndToEndId"))
        .or_else(|| pick("TxId"))
        .or_else(|| pick("NtryRef"))
        .map(|(_, v)| v.clone());
    s.transactions.push(Transaction {
        date: d,
        amount_minor: if credit { a } else { -a },
        currency,
        payee: if credit { e.debtor } else { e.creditor },
        description: e.text.join(" "),
        bank_id,
    });
}
