//! Every public bank-statement fixture (`OPENZERO_FIXTURES/finance`: OFX
//! and QFX from ofxparse and beancount importers, CSV exports of four US
//! banks and a semicolon file, CAMT.053 v2/v4/v8 and a wrong one, MT940
//! files) goes through the parser: none panics; what is read is checked
//! against the files; what cannot be read says why.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use openzero_finance::{FinanceError, Statement, dedupe_keys, parse};

fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("OPENZERO_FIXTURES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"),
        PathBuf::from,
    );
    if dir.join("finance").is_dir() {
        return Some(dir.join("finance"));
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "no fixtures at {}: set OPENZERO_FIXTURES",
        dir.display()
    );
    None
}

fn read(dir: &Path, rel: &str) -> Vec<Statement> {
    let p = dir.join(rel);
    let name = p.file_name().unwrap().to_string_lossy().into_owned();
    parse(&std::fs::read(&p).unwrap(), &name, None).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn every_statement_file_reads_or_says_why() {
    let Some(dir) = fixtures() else { return };
    let mut stack = vec![dir.clone()];
    let (mut ok, mut refused, mut tx) = (0, 0, 0);
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("LICENSE") || name.ends_with(".md") {
                continue;
            }
            match parse(&std::fs::read(&p).unwrap(), &name, None) {
                Ok(statements) => {
                    ok += 1;
                    for s in &statements {
                        tx += s.transactions.len();
                        assert_eq!(dedupe_keys(s).len(), s.transactions.len());
                        for t in &s.transactions {
                            assert_eq!(t.currency.len(), 3, "{name}: {t:?}");
                        }
                    }
                }
                Err(FinanceError::Unreadable(why)) => {
                    refused += 1;
                    assert!(!why.is_empty(), "{name}");
                }
            }
        }
    }
    eprintln!("{ok} files read ({tx} transactions), {refused} refused with a reason");
    assert!(ok >= 25 && tx >= 60, "{ok} files, {tx} transactions");
    assert!(
        refused >= 10,
        "MT940 and the wrong files are refused: {refused}"
    );
}

#[test]
fn ofx_camt_and_csv_give_what_the_files_hold() {
    let Some(dir) = fixtures() else { return };
    // OFX 1.x SGML: a checking account with its ledger balance.
    let s = &read(&dir, "ofxparse/bank_medium.ofx")[0];
    assert_eq!(s.currency, "CAD");
    assert_eq!(s.transactions.len(), 3);
    assert_eq!(s.transactions[0].amount_minor, -660);
    assert_eq!(s.transactions[0].payee, "MCDONALD'S #112");
    assert_eq!(
        s.transactions[0].bank_id.as_deref(),
        Some("0000123456782009040100001")
    );
    assert_eq!(s.closing.map(|b| b.amount_minor), Some(38_234));
    // A bad amount or date leaves that transaction out, says so, keeps the file.
    let bad = &read(&dir, "ofxparse/fail_nice/date_missing.ofx")[0];
    assert!(!bad.problems.is_empty());
    // An OFX error answer is refused with the bank's message.
    let e = parse(
        &std::fs::read(dir.join("ofxparse/error_message.ofx")).unwrap(),
        "e.ofx",
        None,
    )
    .unwrap_err();
    assert!(e.to_string().contains("General Server Error"), "{e}");
    // CAMT.053 with two statements; their balances add up.
    let multi = read(&dir, "camt/camt053.v2.multi.statement.xml");
    assert_eq!(multi.len(), 2);
    assert_eq!(multi[0].account, "NL26VAYB8060476890");
    assert_eq!(multi[1].transactions[0].amount_minor, -700);
    assert_eq!(multi[1].transactions[0].payee, "Company Name 2");
    assert!(multi.iter().all(|s| s.balance_mismatch().is_none()));
    // A statement whose closing balance the entries do not reach is told.
    let five = &read(&dir, "camt/camt053.v2.five.decimals.xml")[0];
    assert_eq!(five.balance_mismatch(), Some((2_700, 2_705)));
    // CSV: US dollars with a minus and a sign, day order found.
    let dcu = &read(
        &dir,
        "beancount_reds_importers/importers/dcu/tests/Main_Checking_Account_Transactions.csv",
    )[0];
    assert_eq!(dcu.currency, "USD");
    assert_eq!(dcu.transactions[0].amount_minor, -797_139);
    assert_eq!(
        dcu.transactions[0].date,
        NaiveDate::from_ymd_opt(2021, 12, 31).unwrap()
    );
    let semi = &read(
        &dir,
        "beancount_reds_importers/libreader/tests/csv_delimiter_test/semicolon_delimited.csv",
    )[0];
    assert_eq!(semi.transactions.len(), 2);
    // MT940 is refused plainly.
    let e = parse(
        &std::fs::read(dir.join("mt940/betterplace/sepa_mt9401.sta")).unwrap(),
        "x.sta",
        None,
    )
    .unwrap_err();
    assert!(e.to_string().contains("MT940"), "{e}");
}

#[test]
fn the_same_statement_twice_gives_the_same_keys_and_twins_stay_two() {
    let text = "Date;Payee;Amount\n01.11.2026;Coffee;-3,50\n01.11.2026;Coffee;-3,50\n02.11.2026;Rent;-900,00\n";
    let a = &parse(text.as_bytes(), "a.csv", None).unwrap()[0];
    let keys = dedupe_keys(a);
    assert_eq!(keys.len(), 3);
    assert_ne!(keys[0], keys[1], "two genuine coffees are two");
    // An overlapping export (the second coffee day and a new row).
    let text2 = "Date;Payee;Amount\n01.11.2026;Coffee;-3,50\n01.11.2026;Coffee;-3,50\n02.11.2026;Rent;-900,00\n03.11.2026;Bakery;-2,10\n";
    let b = &parse(text2.as_bytes(), "a.csv", None).unwrap()[0];
    let keys2 = dedupe_keys(b);
    assert_eq!(&keys2[..3], &keys[..]);
    assert_eq!(keys2.len(), 4);
}
