//! `cargo bench -p openzero-app --bench finance_import`: importing a
//! 10,000-row bank CSV (German style: `;`, comma decimals, a preamble) into
//! SQLite — read, dedupe keys, known-key check, categorise by rules, keep
//! as one batch — beside Python's standard library doing less (csv +
//! sqlite3 `executemany` of the raw rows, no dedupe or categories) on the
//! same file. Target (finance issue): ≤ 1 s. Then the same file again
//! (everything already kept).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use openzero_finance::categorize;
use openzero_finance::{dedupe_keys, parse};
use openzero_store::finance::NewTx;
use openzero_store::prelude::*;

const ROWS: usize = 10_000;

fn csv() -> String {
    let payees = [
        "REWE Markt",
        "Stadtwerke",
        "Café Rosa",
        "Netflix",
        "ACME GmbH",
        "Amazon",
        "DB Fernverkehr",
    ];
    let mut s = String::from(
        "\"Umsätze Girokonto\";\"DE89370400440532013000\"\n\nBuchungstag;Auftraggeber/Empfänger;Verwendungszweck;Betrag\n",
    );
    for i in 0..ROWS {
        let day = 1 + (i % 28);
        let month = 1 + (i / 28) % 12;
        let p = payees[i % payees.len()];
        s.push_str(&format!(
            "{day:02}.{month:02}.2026;{p};Buchung {i} Referenz {};-{},{:02}\n",
            i * 7,
            1 + i % 500,
            i % 100
        ));
    }
    s
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("giro.csv");
    std::fs::write(&file, csv()).unwrap();
    let rules: Vec<(String, String)> = [
        ("rewe", "Groceries"),
        ("stadtwerke", "Utilities"),
        ("netflix", "Subscriptions"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    let (ours, again, added) = rt.block_on(async {
        let store = openzero_store_sqlite::SqliteStore::open(&dir.path().join("bench.db"))
            .await
            .unwrap();
        let run = || async {
            let t = Instant::now();
            let bytes = std::fs::read(&file).unwrap();
            let statements = parse(&bytes, "giro.csv", None).unwrap();
            let mut rows = Vec::new();
            for s in &statements {
                let keys = dedupe_keys(s);
                let known = store.fin_known(&keys).await.unwrap();
                for (tx, key) in s.transactions.iter().zip(keys) {
                    if known.contains(&key) {
                        continue;
                    }
                    let cat =
                        categorize::by_rules(&rules, &tx.payee, &tx.description).map(str::to_owned);
                    rows.push(NewTx {
                        account: s.account.clone(),
                        key,
                        day: tx.date,
                        amount_minor: tx.amount_minor,
                        currency: tx.currency.clone(),
                        payee: tx.payee.clone(),
                        description: tx.description.clone(),
                        bank_id: tx.bank_id.clone(),
                        category_source: cat.as_ref().map(|_| "rule".to_owned()),
                        category: cat,
                    });
                }
            }
            let (_, added) = store.fin_import("giro.csv", "csv", &rows).await.unwrap();
            (t.elapsed(), added)
        };
        let (first, added) = run().await;
        let (second, again) = run().await;
        assert_eq!(again, 0);
        (first, second, added)
    });
    assert_eq!(added, ROWS);
    let py = r#"
import csv, sqlite3, sys, time
t = time.perf_counter()
db = sqlite3.connect(sys.argv[2])
db.execute("CREATE TABLE t (day TEXT, payee TEXT, text TEXT, amount TEXT)")
with open(sys.argv[1], encoding="utf-8") as f:
    rows = list(csv.reader(f, delimiter=";"))[3:]
db.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", rows)
db.commit()
print(time.perf_counter() - t)
"#;
    let python = std::process::Command::new("python3")
        .args([
            "-c",
            py,
            file.to_str().unwrap(),
            dir.path().join("py.db").to_str().unwrap(),
        ])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .map(Duration::from_secs_f64);
    println!("Finance import: a {ROWS}-row German bank CSV into SQLite (release build)");
    println!();
    println!("| run | time | target |");
    println!("|---|---:|---|");
    match python {
        Some(p) => println!(
            "| Python csv + sqlite3 executemany, raw rows (baseline) | {:.0} ms | — |",
            p.as_secs_f64() * 1e3
        ),
        None => println!("| Python baseline | not run (no python3) | — |"),
    }
    println!(
        "| openzero: read, dedupe, categorise, keep as one import | {:.0} ms | ≤ 1,000 ms |",
        ours.as_secs_f64() * 1e3
    );
    println!(
        "| the same file again (all already kept) | {:.0} ms | — |",
        again.as_secs_f64() * 1e3
    );
}
