//! Categories: the owner's rules first (text in the payee or description,
//! case-insensitive, in order), else learned from the owner's own
//! categorisations — the category of the most similar transaction they
//! categorised (words of payee and description, Jaccard ≥ 0.5; ties to the
//! most frequent category). Recurring payments: the same payee paid about
//! every week, month or year (3 times or more, amounts within 10 %).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDate};
use serde::Serialize;

/// The words that identify a transaction (letters only, lower case, 3+ letters).
pub fn words(payee: &str, description: &str) -> BTreeSet<String> {
    format!("{payee} {description}")
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase)
        .collect()
}

/// The first rule whose pattern is in the payee or description.
pub fn by_rules<'a>(
    rules: &'a [(String, String)],
    payee: &str,
    description: &str,
) -> Option<&'a str> {
    let hay = format!("{payee} {description}").to_lowercase();
    rules
        .iter()
        .find(|(p, _)| !p.trim().is_empty() && hay.contains(&p.trim().to_lowercase()))
        .map(|(_, c)| c.as_str())
}

/// The category of the owner's most similar categorised transactions.
pub fn learned<'a>(
    known: &'a [(BTreeSet<String>, String)],
    w: &BTreeSet<String>,
) -> Option<&'a str> {
    if w.is_empty() {
        return None;
    }
    let mut best = 0.0f64;
    let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
    for (kw, cat) in known {
        let inter = kw.intersection(w).count();
        let union = kw.union(w).count();
        if union == 0 {
            continue;
        }
        let j = inter as f64 / union as f64;
        if j < 0.5 {
            continue;
        }
        if j > best + 1e-9 {
            best = j;
            votes.clear();
        }
        if (j - best).abs() < 1e-9 {
            *votes.entry(cat.as_str()).or_default() += 1;
        }
    }
    votes.into_iter().max_by_key(|(_, n)| *n).map(|(c, _)| c)
}

/// A payment that comes back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recurring {
    pub payee: String,
    /// `weekly`, `monthly` or `yearly`.
    pub every: &'static str,
    /// The typical amount (minor units, negative: out).
    pub amount_minor: i64,
    pub currency: String,
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub times: usize,
}

/// Recurring outgoing payments among `txs` (day, amount, currency, payee).
pub fn recurring(txs: &[(NaiveDate, i64, String, String)]) -> Vec<Recurring> {
    let mut by_payee: BTreeMap<String, Vec<&(NaiveDate, i64, String, String)>> = BTreeMap::new();
    for t in txs.iter().filter(|t| t.1 < 0 && !t.3.trim().is_empty()) {
        let key: String =
            t.3.to_lowercase()
                .chars()
                .filter(|c| c.is_alphabetic() || *c == ' ')
                .collect::<String>()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
        by_payee.entry(key).or_default().push(t);
    }
    let mut out = Vec::new();
    for (_, mut list) in by_payee {
        if list.len() < 3 {
            continue;
        }
        list.sort_by_key(|t| t.0);
        let gaps: Vec<i64> = list
            .windows(2)
            .map(|w| (w[1].0 - w[0].0).num_days())
            .collect();
        let mut sorted = gaps.clone();
        sorted.sort_unstable();
        let median = sorted[sorted.len() / 2];
        let every = match median {
            5..=9 => "weekly",
            26..=35 => "monthly",
            355..=375 => "yearly",
            _ => continue,
        };
        let tolerance = match every {
            "weekly" => 2,
            "monthly" => 5,
            _ => 10,
        };
        if gaps
            .iter()
            .filter(|g| (**g - median).abs() <= tolerance)
            .count()
            * 4
            < gaps.len() * 3
        {
            continue;
        }
        let mut amounts: Vec<i64> = list.iter().map(|t| t.1).collect();
        amounts.sort_unstable();
        let typical = amounts[amounts.len() / 2];
        let close = amounts
            .iter()
            .filter(|a| (**a - typical).abs() * 10 <= typical.abs())
            .count();
        if close * 4 < amounts.len() * 3 {
            continue;
        }
        let (first, last) = (list[0], list[list.len() - 1]);
        out.push(Recurring {
            payee: last.3.clone(),
            every,
            amount_minor: typical,
            currency: last.2.clone(),
            first: first.0,
            last: last.0,
            times: list.len(),
        });
    }
    out
}

/// When a recurring payment is expected next.
pub fn next_due(r: &Recurring) -> NaiveDate {
    match r.every {
        "weekly" => r.last + Duration::days(7),
        "monthly" => r
            .last
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(r.last),
        _ => r
            .last
            .checked_add_months(chrono::Months::new(12))
            .unwrap_or(r.last),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn rules_then_what_the_owner_taught() {
        let rules = vec![("rewe".to_string(), "Groceries".to_string())];
        assert_eq!(by_rules(&rules, "REWE Markt 123", ""), Some("Groceries"));
        assert_eq!(by_rules(&rules, "Aldi", ""), None);
        let known = vec![
            (
                words("Stadtwerke Köln", "Strom Abschlag"),
                "Utilities".to_string(),
            ),
            (
                words("Cafe Rosa", "Kartenzahlung"),
                "Eating out".to_string(),
            ),
        ];
        // Another spelling of the same payee still shares most words.
        assert_eq!(
            learned(&known, &words("STADTWERKE KOELN", "Strom Abschlag")),
            Some("Utilities")
        );
        assert_eq!(
            learned(&known, &words("Stadtwerke Köln", "Strom Abschlag Dezember")),
            Some("Utilities")
        );
        assert_eq!(learned(&known, &words("Amazon", "Order")), None);
    }

    #[test]
    fn subscriptions_are_found_and_one_offs_are_not() {
        let mut txs = Vec::new();
        for m in 1..=6 {
            txs.push((
                d(&format!("2026-{m:02}-03")),
                -1_299,
                "EUR".to_string(),
                "Netflix.com".to_string(),
            ));
            txs.push((
                d(&format!("2026-{m:02}-{:02}", 10 + m)),
                -5_000 * m as i64,
                "EUR".into(),
                "Amazon".into(),
            ));
        }
        for w in 0..5 {
            txs.push((
                d("2026-03-02") + Duration::days(7 * w),
                -800,
                "EUR".into(),
                "Gym Club".into(),
            ));
        }
        let r = recurring(&txs);
        let names: Vec<(&str, &str)> = r.iter().map(|x| (x.payee.as_str(), x.every)).collect();
        assert_eq!(names, [("Gym Club", "weekly"), ("Netflix.com", "monthly")]);
        assert_eq!(next_due(&r[1]), d("2026-07-03"));
    }
}
