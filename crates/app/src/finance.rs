//! Money, kept locally: statements imported with a preview of what they
//! add (re-importing adds nothing; an overlapping statement only what is
//! new; two genuine same-day payments stay two), undone as a batch; the
//! closing balance checked where a statement carries one; categories by
//! the owner's rules, else learned from their own corrections; monthly
//! budgets with an alert once when one is exceeded; the money section of
//! the monthly review; `/spent`. Nothing here leaves the machine.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Months, NaiveDate};
use openzero_finance::categorize::{self, Recurring};
use openzero_finance::{CsvProfile, Statement, dedupe_keys, money};
use openzero_store::finance::{NewTx, TxQuery, TxRow};
use serde::Serialize;

use crate::{AppError, Services};

const PROFILE_KEY: &str = "finance.profile.";

/// What one statement of a file would add.
#[derive(Debug, Clone, Serialize)]
pub struct StatementPreview {
    pub account: String,
    pub format: &'static str,
    pub currency: String,
    pub rows: usize,
    pub new: usize,
    pub known: usize,
    /// Rows that could not be read (left out).
    pub problems: Vec<String>,
    /// "closing balance 1,234.56 EUR, computed 1,230.00 EUR" when they differ.
    pub balance_mismatch: Option<String>,
}

/// A file read and compared with what is kept.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub file: String,
    pub statements: Vec<StatementPreview>,
    #[serde(skip)]
    pub rows: Vec<NewTx>,
    #[serde(skip)]
    format: &'static str,
}

/// A saved CSV profile by name.
pub async fn profile(services: &Services, name: &str) -> Result<CsvProfile, AppError> {
    let text = services
        .store
        .get_preference(&format!("{PROFILE_KEY}{name}"))
        .await?
        .ok_or_else(|| {
            AppError::Invalid(format!(
                "no CSV profile {name:?} (save one with `openzero finance profile set {name} …`)"
            ))
        })?;
    serde_json::from_str(&text)
        .map_err(|e| AppError::Invalid(format!("CSV profile {name:?} is unreadable: {e}")))
}

/// Saves a CSV profile.
pub async fn save_profile(services: &Services, name: &str, p: &CsvProfile) -> Result<(), AppError> {
    let text = serde_json::to_string(p).map_err(|e| AppError::Invalid(e.to_string()))?;
    services
        .store
        .set_preference(&format!("{PROFILE_KEY}{name}"), &text)
        .await?;
    Ok(())
}

/// The saved profiles: (name, profile).
pub async fn profiles(services: &Services) -> Result<Vec<(String, CsvProfile)>, AppError> {
    Ok(services
        .store
        .list_preferences()
        .await?
        .into_iter()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix(PROFILE_KEY)?.to_owned();
            Some((name, serde_json::from_str(&v).ok()?))
        })
        .collect())
}

/// The owner's rules and what they taught, to categorise new rows.
struct Categoriser {
    rules: Vec<(String, String)>,
    known: Vec<(BTreeSet<String>, String)>,
}

impl Categoriser {
    async fn load(services: &Services) -> Result<Self, AppError> {
        let rules = services
            .store
            .fin_rules()
            .await?
            .into_iter()
            .map(|r| (r.pattern, r.category))
            .collect();
        let known = services
            .store
            .fin_list(&TxQuery {
                limit: Some(20_000),
                ..TxQuery::default()
            })
            .await?
            .into_iter()
            .filter(|t| t.category_source.as_deref() == Some("owner"))
            .filter_map(|t| Some((categorize::words(&t.payee, &t.description), t.category?)))
            .collect();
        Ok(Self { rules, known })
    }

    fn category(&self, payee: &str, description: &str) -> Option<(String, &'static str)> {
        if let Some(c) = categorize::by_rules(&self.rules, payee, description) {
            return Some((c.to_owned(), "rule"));
        }
        categorize::learned(&self.known, &categorize::words(payee, description))
            .map(|c| (c.to_owned(), "learned"))
    }
}

/// Reads a file and says what importing it would add.
pub async fn preview(
    services: &Services,
    file: &std::path::Path,
    profile: Option<&CsvProfile>,
) -> Result<Preview, AppError> {
    let bytes = std::fs::read(file)
        .map_err(|e| AppError::Invalid(format!("cannot read {}: {e}", file.display())))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "statement".into());
    let statements = openzero_finance::parse(&bytes, &name, profile)
        .map_err(|e| AppError::Invalid(format!("{}: {e}", file.display())))?;
    let categoriser = Categoriser::load(services).await?;
    let mut out = Preview {
        file: name,
        statements: Vec::new(),
        rows: Vec::new(),
        format: statements.first().map_or("csv", |s| s.format),
    };
    let mut taken: std::collections::HashSet<String> = std::collections::HashSet::new();
    for s in &statements {
        let keys = dedupe_keys(s);
        let known = services.store.fin_known(&keys).await?;
        let mut new = 0;
        for (t, key) in s.transactions.iter().zip(&keys) {
            // Kept before, or met earlier in this file (a statement twice).
            if known.contains(key) || !taken.insert(key.clone()) {
                continue;
            }
            new += 1;
            let cat = categoriser.category(&t.payee, &t.description);
            out.rows.push(NewTx {
                account: s.account.clone(),
                key: key.clone(),
                day: t.date,
                amount_minor: t.amount_minor,
                currency: t.currency.clone(),
                payee: t.payee.clone(),
                description: t.description.clone(),
                bank_id: t.bank_id.clone(),
                category_source: cat.as_ref().map(|c| c.1.to_owned()),
                category: cat.map(|c| c.0),
            });
        }
        out.statements.push(StatementPreview {
            account: s.account.clone(),
            format: s.format,
            currency: s.currency.clone(),
            rows: s.transactions.len(),
            new,
            known: s.transactions.len() - new,
            problems: s.problems.clone(),
            balance_mismatch: mismatch(s),
        });
    }
    Ok(out)
}

fn mismatch(s: &Statement) -> Option<String> {
    s.balance_mismatch().map(|(computed, bank)| {
        format!(
            "the bank's closing balance is {} but the opening balance and the entries make {}",
            money::format(bank, &s.currency),
            money::format(computed, &s.currency)
        )
    })
}

/// Keeps what a preview found new, as one batch; then tells the owner of
/// budgets this import pushed over (once per category and month).
pub async fn import(services: &Services, p: &Preview) -> Result<(i64, usize), AppError> {
    let (batch, added) = services
        .store
        .fin_import(&p.file, p.format, &p.rows)
        .await?;
    if let Err(e) = budget_alerts(services).await {
        tracing::warn!(error = %e, "finance: budget alerts not sent");
    }
    Ok((batch, added))
}

/// Undoes an import.
pub async fn undo(services: &Services, batch: i64) -> Result<usize, AppError> {
    services.store.fin_undo(batch).await?.ok_or_else(|| {
        AppError::Invalid(format!(
            "there is no import #{batch} to undo (see `openzero finance imports`)"
        ))
    })
}

/// The owner sets a category; uncategorised transactions like it follow
/// (learned). Returns how many others followed.
pub async fn categorize(services: &Services, id: i64, category: &str) -> Result<usize, AppError> {
    let category = category.trim();
    if !services
        .store
        .fin_categorize(id, Some(category), "owner")
        .await?
    {
        return Err(AppError::Invalid(format!("there is no transaction #{id}")));
    }
    let categoriser = Categoriser::load(services).await?;
    let open = services
        .store
        .fin_list(&TxQuery {
            uncategorized: true,
            ..TxQuery::default()
        })
        .await?;
    let mut followed = 0;
    for t in open {
        let learned = categoriser.category(&t.payee, &t.description);
        if let Some((c, "learned")) = learned.filter(|(c, _)| c == category) {
            services
                .store
                .fin_categorize(t.id, Some(&c), "learned")
                .await?;
            followed += 1;
        }
    }
    Ok(followed)
}

/// The first and last day of the month holding `day`.
pub fn month_of(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = day.with_day(1).unwrap_or(day);
    let last = first
        .checked_add_months(Months::new(1))
        .and_then(|d| d.pred_opt())
        .unwrap_or(first);
    (first, last)
}

/// A month as the owner types it: `2026-11`, `november` (this year, or
/// last year's when later than now), `last month`, `this month`.
pub fn parse_month(text: &str, today: NaiveDate) -> Result<NaiveDate, AppError> {
    let t = text.trim().to_lowercase();
    let first = today.with_day(1).unwrap_or(today);
    match t.as_str() {
        "" | "this month" | "this" => return Ok(first),
        "last month" | "last" => {
            return first
                .checked_sub_months(Months::new(1))
                .ok_or_else(|| AppError::Invalid("no such month".into()));
        }
        _ => {}
    }
    if let Ok(d) = NaiveDate::parse_from_str(&format!("{t}-01"), "%Y-%m-%d") {
        return Ok(d);
    }
    const NAMES: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    if let Some(i) = NAMES.iter().position(|n| t.starts_with(n)) {
        let m = u32::try_from(i + 1).unwrap_or(1);
        let mut d = NaiveDate::from_ymd_opt(today.year(), m, 1).unwrap_or(first);
        if d > first {
            d = NaiveDate::from_ymd_opt(today.year() - 1, m, 1).unwrap_or(d);
        }
        return Ok(d);
    }
    Err(AppError::Invalid(format!(
        "{text:?} is not a month: use 2026-11, november or \"last month\""
    )))
}

/// Spending of one category in one currency.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Spent {
    pub category: String,
    pub currency: String,
    /// Money out, positive minor units.
    pub spent_minor: i64,
    pub budget_minor: Option<i64>,
    /// The month before, for the change.
    pub previous_minor: i64,
}

/// A month's money.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub month: String,
    pub spent: Vec<Spent>,
    /// Money in, per currency.
    pub income: BTreeMap<String, i64>,
    /// Recurring payments first seen this month.
    pub new_subscriptions: Vec<Recurring>,
}

fn out_by_category(rows: &[TxRow]) -> BTreeMap<(String, String), i64> {
    let mut m = BTreeMap::new();
    for t in rows.iter().filter(|t| t.amount_minor < 0) {
        let cat = t.category.clone().unwrap_or_else(|| "Uncategorised".into());
        *m.entry((cat, t.currency.clone())).or_default() += -t.amount_minor;
    }
    m
}

/// The month holding `day`: spent per category beside its budget and the
/// month before, income, new subscriptions.
pub async fn report(services: &Services, day: NaiveDate) -> Result<Report, AppError> {
    let (first, last) = month_of(day);
    let (pfirst, plast) = month_of(first.pred_opt().unwrap_or(first));
    let rows = services
        .store
        .fin_list(&TxQuery {
            from: Some(first),
            to: Some(last),
            ..TxQuery::default()
        })
        .await?;
    let prev = services
        .store
        .fin_list(&TxQuery {
            from: Some(pfirst),
            to: Some(plast),
            ..TxQuery::default()
        })
        .await?;
    let budgets: BTreeMap<(String, String), i64> = services
        .store
        .fin_budgets()
        .await?
        .into_iter()
        .map(|(c, cur, a)| ((c, cur), a))
        .collect();
    let now = out_by_category(&rows);
    let before = out_by_category(&prev);
    let mut keys: BTreeSet<(String, String)> = now.keys().cloned().collect();
    keys.extend(budgets.keys().cloned());
    let mut spent: Vec<Spent> = keys
        .into_iter()
        .map(|k| Spent {
            spent_minor: now.get(&k).copied().unwrap_or(0),
            budget_minor: budgets.get(&k).copied(),
            previous_minor: before.get(&k).copied().unwrap_or(0),
            category: k.0,
            currency: k.1,
        })
        .collect();
    spent.sort_by_key(|s| std::cmp::Reverse(s.spent_minor));
    let mut income = BTreeMap::new();
    for t in rows.iter().filter(|t| t.amount_minor > 0) {
        *income.entry(t.currency.clone()).or_default() += t.amount_minor;
    }
    let history = services
        .store
        .fin_list(&TxQuery {
            to: Some(last),
            from: first.checked_sub_months(Months::new(14)),
            ..TxQuery::default()
        })
        .await?;
    let txs: Vec<(NaiveDate, i64, String, String)> = history
        .iter()
        .map(|t| (t.day, t.amount_minor, t.currency.clone(), t.payee.clone()))
        .collect();
    let new_subscriptions = categorize::recurring(&txs)
        .into_iter()
        .filter(|r| {
            // First seen as recurring this month: its third payment is in it.
            let nth: Vec<NaiveDate> = txs
                .iter()
                .filter(|t| t.3 == r.payee || t.3.eq_ignore_ascii_case(&r.payee))
                .map(|t| t.0)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            nth.get(2).is_some_and(|d| *d >= first && *d <= last)
        })
        .collect();
    Ok(Report {
        month: first.format("%B %Y").to_string(),
        spent,
        income,
        new_subscriptions,
    })
}

/// Every recurring payment found in the last 14 months, by when it is
/// next expected.
pub async fn recurring(
    services: &Services,
    today: NaiveDate,
) -> Result<Vec<(Recurring, NaiveDate)>, AppError> {
    let rows = services
        .store
        .fin_list(&TxQuery {
            from: today.checked_sub_months(Months::new(14)),
            ..TxQuery::default()
        })
        .await?;
    let txs: Vec<(NaiveDate, i64, String, String)> = rows
        .iter()
        .map(|t| (t.day, t.amount_minor, t.currency.clone(), t.payee.clone()))
        .collect();
    let mut out: Vec<(Recurring, NaiveDate)> = categorize::recurring(&txs)
        .into_iter()
        .map(|r| {
            let next = categorize::next_due(&r);
            (r, next)
        })
        .collect();
    out.sort_by_key(|(_, next)| *next);
    Ok(out)
}

/// The report as lines (the monthly review's *Money*, `finance report`).
pub fn report_lines(r: &Report) -> Vec<String> {
    let mut out = Vec::new();
    for s in r
        .spent
        .iter()
        .filter(|s| s.spent_minor > 0 || s.budget_minor.is_some())
    {
        let mut line = format!(
            "{}: {}",
            s.category,
            money::format(s.spent_minor, &s.currency)
        );
        if let Some(b) = s.budget_minor {
            line.push_str(&format!(" of {}", money::format(b, &s.currency)));
            if s.spent_minor > b {
                line.push_str(&format!(
                    " — over by {}",
                    money::format(s.spent_minor - b, &s.currency)
                ));
            }
        }
        if s.previous_minor > 0 {
            let change = (s.spent_minor - s.previous_minor) * 100 / s.previous_minor;
            if change.abs() >= 25 {
                line.push_str(&format!(" ({change:+}% on the month before)"));
            }
        }
        out.push(line);
    }
    for (cur, amount) in &r.income {
        out.push(format!("In: {}", money::format(*amount, cur)));
    }
    for s in &r.new_subscriptions {
        out.push(format!(
            "New {} payment: {} {}",
            s.every,
            s.payee,
            money::format(-s.amount_minor, &s.currency)
        ));
    }
    out
}

/// The monthly review's *Money*: the month that just ended.
pub async fn monthly_lines(services: &Services, today: NaiveDate) -> Result<Vec<String>, AppError> {
    let last_month = today
        .with_day(1)
        .and_then(|d| d.checked_sub_months(Months::new(1)))
        .unwrap_or(today);
    let r = report(services, last_month).await?;
    Ok(report_lines(&r))
}

/// Tells the owner once per category and month when this month's
/// spending is over its budget.
pub async fn budget_alerts(services: &Services) -> Result<usize, AppError> {
    let today = crate::clock::now()
        .with_timezone(&services.tz())
        .date_naive();
    let r = report(services, today).await?;
    let mut sent = 0;
    for s in &r.spent {
        let Some(b) = s.budget_minor else { continue };
        if s.spent_minor <= b {
            continue;
        }
        let key = format!(
            "budget:{}:{}:{}",
            s.category,
            s.currency,
            today.format("%Y-%m")
        );
        let text = format!(
            "Budget exceeded: {} has {} spent of {} this month ({} over).",
            s.category,
            money::format(s.spent_minor, &s.currency),
            money::format(b, &s.currency),
            money::format(s.spent_minor - b, &s.currency)
        );
        services.notify_once(&key, &text).await?;
        sent += 1;
    }
    Ok(sent)
}

/// `/spent [CATEGORY] [MONTH]`.
pub async fn chat_spent(services: &Services, args: &str) -> Result<String, AppError> {
    let today = crate::clock::now()
        .with_timezone(&services.tz())
        .date_naive();
    let words: Vec<&str> = args.split_whitespace().collect();
    // The month is the last word or two if they read as one.
    // The month is the last two words or the last word, if they read as one;
    // the words before it name the category.
    let (category, month) = [2usize, 1]
        .into_iter()
        .filter(|n| words.len() >= *n)
        .find_map(|n| {
            let split = words.len() - n;
            let m = parse_month(&words[split..].join(" "), today).ok()?;
            Some((words[..split].join(" "), m))
        })
        .unwrap_or_else(|| (words.join(" "), today));
    let category = Some(category).filter(|c| !c.is_empty());
    let r = report(services, month).await?;
    let lines: Vec<String> = match &category {
        Some(c) => r
            .spent
            .iter()
            .filter(|s| s.category.eq_ignore_ascii_case(c))
            .map(|s| {
                let mut l = format!(
                    "{}: {}",
                    s.category,
                    money::format(s.spent_minor, &s.currency)
                );
                if let Some(b) = s.budget_minor {
                    l.push_str(&format!(" of {}", money::format(b, &s.currency)));
                }
                l
            })
            .collect(),
        None => report_lines(&r),
    };
    if lines.is_empty() {
        return Ok(format!(
            "Nothing spent{} in {}.",
            category.map(|c| format!(" on {c}")).unwrap_or_default(),
            r.month
        ));
    }
    Ok(format!("{}:\n{}", r.month, lines.join("\n")))
}

/// The monthly review's *Money*: last month against the budgets.
pub async fn briefing_part(
    services: &std::sync::Arc<Services>,
    kind: openzero_core::briefing::Kind,
    now: chrono::DateTime<chrono_tz::Tz>,
) -> Result<crate::briefings::Part, AppError> {
    use openzero_core::briefing::{Kind, Place};
    if kind != Kind::Monthly {
        return Ok(crate::briefings::Part::default());
    }
    let lines = monthly_lines(services, now.date_naive()).await?;
    Ok(crate::briefings::Part::section(
        "Money",
        lines,
        Place::Tail,
        10,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_as_typed() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default();
        let d = |y, m| NaiveDate::from_ymd_opt(y, m, 1).unwrap_or_default();
        assert_eq!(parse_month("2026-03", today).ok(), Some(d(2026, 3)));
        assert_eq!(parse_month("last month", today).ok(), Some(d(2026, 10)));
        assert_eq!(parse_month("december", today).ok(), Some(d(2025, 12)));
        assert_eq!(parse_month("Nov", today).ok(), Some(d(2026, 11)));
        assert!(parse_month("soon", today).is_err());
        assert_eq!(
            month_of(d(2026, 2)).1,
            NaiveDate::from_ymd_opt(2026, 2, 28).unwrap_or_default()
        );
    }
}
