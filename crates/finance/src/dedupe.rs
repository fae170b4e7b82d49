//! The key that makes importing the same or an overlapping statement add
//! only what is new. With the bank's id: `account|id:<bank id>`. Without:
//! `account|date|amount|currency|payee|description|#n`, where `n` counts
//! identical transactions within the file (0, 1, …): two genuine
//! same-day, same-amount payments in one statement are both kept, and the
//! same statement (or an overlapping one) seen again maps each to the same
//! key. Text is compared folded (case, spaces). Never a fuzzy merge.

use std::collections::HashMap;

use crate::Statement;

/// One key per transaction of `s`, in order.
pub fn dedupe_keys(s: &Statement) -> Vec<String> {
    let fold = |t: &str| {
        t.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    s.transactions
        .iter()
        .map(|t| match &t.bank_id {
            Some(id) => format!("{}|id:{id}", s.account),
            None => {
                let base = format!(
                    "{}|{}|{}|{}|{}|{}",
                    s.account,
                    t.date,
                    t.amount_minor,
                    t.currency,
                    fold(&t.payee),
                    fold(&t.description)
                );
                let n = seen.entry(base.clone()).or_default();
                let key = format!("{base}|#{n}");
                *n += 1;
                key
            }
        })
        .collect()
}
