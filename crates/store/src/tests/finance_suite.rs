//! The finance port's conformance cases (part of [`crate::testsuite`]).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::NaiveDate;

use crate::Store;
use crate::finance::{NewTx, TxQuery};

fn tx(key: &str, day: &str, amount: i64, payee: &str) -> NewTx {
    NewTx {
        account: "DE12".into(),
        key: key.into(),
        day: day.parse().unwrap(),
        amount_minor: amount,
        currency: "EUR".into(),
        payee: payee.into(),
        description: String::new(),
        bank_id: None,
        category: None,
        category_source: None,
    }
}

pub async fn finance_imports_dedupe_undo_rules_and_budgets(s: &dyn Store) {
    let first = [
        tx("k1", "2026-11-01", -350, "Coffee"),
        tx("k2", "2026-11-01", -350, "Coffee"),
        tx("k3", "2026-11-02", -90_000, "Rent"),
    ];
    let (b1, added) = s.fin_import("nov.csv", "csv", &first).await.unwrap();
    assert_eq!(added, 3);
    // An overlapping file: only the new one is added.
    let second = [
        tx("k3", "2026-11-02", -90_000, "Rent"),
        tx("k4", "2026-11-03", 250_000, "Salary"),
    ];
    assert_eq!(
        s.fin_known(&["k3".into(), "k4".into(), "k9".into()])
            .await
            .unwrap()
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>(),
        ["k3".to_string()].into_iter().collect()
    );
    let (b2, added) = s.fin_import("nov2.csv", "csv", &second).await.unwrap();
    assert_eq!(added, 1);
    let all = s.fin_list(&TxQuery::default()).await.unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all[0].payee, "Salary", "newest first");
    let nov2 = s
        .fin_list(&TxQuery {
            from: NaiveDate::from_ymd_opt(2026, 11, 2),
            to: NaiveDate::from_ymd_opt(2026, 11, 2),
            ..TxQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(nov2.len(), 1);
    assert!(
        s.fin_categorize(nov2[0].id, Some("Housing"), "owner")
            .await
            .unwrap()
    );
    assert!(!s.fin_categorize(999_999, Some("X"), "owner").await.unwrap());
    let housing = s
        .fin_list(&TxQuery {
            category: Some("Housing".into()),
            ..TxQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(housing.len(), 1);
    assert_eq!(housing[0].category_source.as_deref(), Some("owner"));
    let open = s
        .fin_list(&TxQuery {
            uncategorized: true,
            ..TxQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(open.len(), 3);
    // Undo the second import: only what it added goes.
    assert_eq!(s.fin_undo(b2).await.unwrap(), Some(1));
    assert_eq!(s.fin_undo(b2).await.unwrap(), None, "once");
    assert_eq!(s.fin_list(&TxQuery::default()).await.unwrap().len(), 3);
    let batches = s.fin_batches().await.unwrap();
    assert_eq!(batches.len(), 2);
    assert_eq!((batches[0].id, batches[0].added), (b1, 3));
    assert!(batches[1].undone_at.is_some());

    let r = s.fin_rule_add("netflix", "Subscriptions").await.unwrap();
    s.fin_rule_add("rewe", "Groceries").await.unwrap();
    let rules = s.fin_rules().await.unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].pattern, "netflix");
    assert!(s.fin_rule_remove(r.id).await.unwrap());
    assert_eq!(s.fin_rules().await.unwrap().len(), 1);

    s.fin_budget_set("Groceries", "EUR", Some(40_000))
        .await
        .unwrap();
    s.fin_budget_set("Groceries", "EUR", Some(45_000))
        .await
        .unwrap();
    s.fin_budget_set("Fun", "EUR", Some(10_000)).await.unwrap();
    s.fin_budget_set("Fun", "EUR", None).await.unwrap();
    assert_eq!(
        s.fin_budgets().await.unwrap(),
        vec![("Groceries".to_string(), "EUR".to_string(), 45_000)]
    );
}
