//! `openzero finance …`: bank statements imported locally, categories,
//! budgets and the month's report.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use openzero_app::finance;
use openzero_config::Loaded;
use openzero_finance::money::{self, Decimal};
use openzero_finance::{CsvProfile, DateOrder};
use openzero_store::finance::TxQuery;

// Parsed once per process: the size of a variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum FinanceCommand {
    /// Import statements (CSV, OFX/QFX, CAMT.053): shows what each adds, then adds it
    #[command(after_help = "\
Examples:
  openzero finance import ~/Downloads/2026-11.csv
  openzero finance import giro.csv --profile sparkasse
  openzero finance import camt053_2026.xml statement.ofx --dry-run

Re-importing the same file adds nothing; an overlapping statement adds only
what is new, and two genuine same-day, same-amount payments both stay (the
bank's transaction id, else date, amount, currency, payee and text with a
count of identical rows in the file). Where a statement carries opening and
closing balances they are checked against the entries. Each file is one
import, undone with `finance undo N`.")]
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// A saved CSV profile (`finance profile set`)
        #[arg(long)]
        profile: Option<String>,
        /// Show what would be added; add nothing
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// The imports, with what each added
    #[command(after_help = "Examples:\n  openzero finance imports")]
    Imports {
        #[arg(long)]
        json: bool,
    },
    /// Remove everything one import added
    #[command(after_help = "Examples:\n  openzero finance undo 3")]
    Undo { import: i64 },
    /// Transactions, newest first
    #[command(after_help = "\
Examples:
  openzero finance list --month 2026-11
  openzero finance list --category Groceries --json
  openzero finance list --uncategorized

--json prints one object per transaction: id, date, amount_minor (integer
cents; negative is money out), currency, payee, description, category,
category_source (rule, owner or learned), account.")]
    List {
        #[arg(long)]
        month: Option<String>,
        #[arg(long)]
        category: Option<String>,
        #[arg(long)]
        uncategorized: bool,
        #[arg(long, default_value_t = 200)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Payments that come back (subscriptions, rent, …), with when each is next due
    #[command(
        after_help = "Examples:\n  openzero finance recurring\n  openzero finance recurring --json\n\nThe same payee paid about every week, month or year, three times or\nmore, amounts within 10 %."
    )]
    Recurring {
        #[arg(long)]
        json: bool,
    },
    /// Set a transaction's category (uncategorised ones like it follow)
    #[command(after_help = "Examples:\n  openzero finance categorize 42 Groceries")]
    Categorize { id: i64, category: String },
    /// Category rules: text in the payee or description → a category
    #[command(
        subcommand,
        after_help = "Examples:\n  openzero finance rules add rewe Groceries\n  openzero finance rules list"
    )]
    Rules(RulesCommand),
    /// Monthly budgets per category
    #[command(
        subcommand,
        after_help = "Examples:\n  openzero finance budget set Groceries 450\n  openzero finance budget show"
    )]
    Budget(BudgetCommand),
    /// A month: spent per category beside its budget, income, new subscriptions
    #[command(
        after_help = "Examples:\n  openzero finance report\n  openzero finance report --month \"last month\" --json"
    )]
    Report {
        #[arg(long)]
        month: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Saved CSV column profiles
    #[command(
        subcommand,
        after_help = "Examples:\n  openzero finance profile set mybank --date Datum --amount Betrag --decimal comma\n  openzero finance profile list"
    )]
    Profile(ProfileCommand),
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// The rules, tried in order
    #[command(after_help = "Examples:\n  openzero finance rules list")]
    List,
    /// Add a rule (case-insensitive text)
    #[command(
        after_help = "Examples:\n  openzero finance rules add rewe Groceries\n  openzero finance rules add \"netflix\" Subscriptions"
    )]
    Add { pattern: String, category: String },
    /// Remove a rule (categories already given stay)
    #[command(after_help = "Examples:\n  openzero finance rules remove 2")]
    Remove { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum BudgetCommand {
    /// Set a category's monthly budget
    #[command(
        after_help = "Examples:\n  openzero finance budget set Groceries 450\n  openzero finance budget set \"Eating out\" 120,50 --currency EUR"
    )]
    Set {
        category: String,
        amount: String,
        #[arg(long, default_value = "EUR")]
        currency: String,
    },
    /// Budgets beside this month's spending
    #[command(
        after_help = "Examples:\n  openzero finance budget show\n  openzero finance budget show --month 2026-11"
    )]
    Show {
        #[arg(long)]
        month: Option<String>,
    },
    /// Remove a category's budget
    #[command(after_help = "Examples:\n  openzero finance budget remove Groceries")]
    Remove {
        category: String,
        #[arg(long, default_value = "EUR")]
        currency: String,
    },
}

#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Save which CSV column holds what (header names), for `import --profile NAME`
    #[command(after_help = "\
Examples:
  openzero finance profile set sparkasse --delimiter ';' --date Buchungstag --amount Betrag \\
      --payee \"Beguenstigter/Zahlungspflichtiger\" --description Verwendungszweck --decimal comma")]
    Set {
        name: String,
        #[arg(long)]
        delimiter: Option<char>,
        #[arg(long)]
        date: Option<String>,
        /// dmy, mdy or ymd
        #[arg(long)]
        date_order: Option<String>,
        #[arg(long)]
        amount: Option<String>,
        #[arg(long)]
        debit: Option<String>,
        #[arg(long)]
        credit: Option<String>,
        #[arg(long)]
        payee: Option<String>,
        #[arg(long)]
        description: Vec<String>,
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        currency: Option<String>,
        /// point or comma
        #[arg(long)]
        decimal: Option<String>,
        #[arg(long)]
        account: Option<String>,
    },
    /// The saved profiles
    #[command(after_help = "Examples:\n  openzero finance profile list")]
    List,
}

pub async fn run(loaded: Loaded, cmd: FinanceCommand) -> Result<ExitCode> {
    let services = openzero_server::services(loaded).await?;
    let result = command(&services, cmd).await;
    services.store.close().await;
    result
}

async fn command(services: &openzero_app::Services, cmd: FinanceCommand) -> Result<ExitCode> {
    let today = openzero_app::clock::now()
        .with_timezone(&services.tz())
        .date_naive();
    let store = &services.store;
    match cmd {
        FinanceCommand::Import {
            files,
            profile,
            dry_run,
            json,
        } => {
            let profile = match profile {
                Some(p) => Some(finance::profile(services, &p).await?),
                None => None,
            };
            let mut failed = false;
            for f in files {
                let p = match finance::preview(services, &f, profile.as_ref()).await {
                    Ok(p) => p,
                    Err(e) => {
                        failed = true;
                        eprintln!("{e}");
                        continue;
                    }
                };
                let added = if dry_run {
                    None
                } else {
                    Some(finance::import(services, &p).await?)
                };
                if json {
                    outln!(
                        "{}",
                        serde_json::json!({
                            "file": p.file,
                            "statements": p.statements,
                            "import": added.map(|a| a.0),
                            "added": added.map(|a| a.1),
                        })
                    );
                    continue;
                }
                for s in &p.statements {
                    outln!(
                        "{} ({}, {}): {} rows, {} new, {} already kept",
                        p.file,
                        s.format,
                        s.account,
                        s.rows,
                        s.new,
                        s.known
                    );
                    for problem in &s.problems {
                        outln!("  left out: {problem}");
                    }
                    if let Some(m) = &s.balance_mismatch {
                        outln!("  balance check failed: {m}");
                    }
                }
                for r in p.rows.iter().take(10) {
                    outln!(
                        "  + {} {:>14} {}{}",
                        r.day,
                        money::format(r.amount_minor, &r.currency),
                        r.payee,
                        r.category
                            .as_deref()
                            .map(|c| format!(" [{c}]"))
                            .unwrap_or_default()
                    );
                }
                if p.rows.len() > 10 {
                    outln!("  … and {} more", p.rows.len() - 10);
                }
                match added {
                    None => outln!("Dry run: nothing added."),
                    Some((batch, n)) => outln!(
                        "Added {n} as import #{batch} (undo with `openzero finance undo {batch}`)."
                    ),
                }
            }
            if failed {
                return Ok(ExitCode::FAILURE);
            }
        }
        FinanceCommand::Imports { json } => {
            for b in store.fin_batches().await? {
                if json {
                    outln!("{}", serde_json::to_string(&b)?);
                } else {
                    outln!(
                        "#{:<3} {} {} ({}): {} added{}",
                        b.id,
                        b.imported_at
                            .with_timezone(&services.tz())
                            .format("%Y-%m-%d %H:%M"),
                        b.file,
                        b.format,
                        b.added,
                        if b.undone_at.is_some() {
                            ", undone"
                        } else {
                            ""
                        }
                    );
                }
            }
        }
        FinanceCommand::Undo { import } => {
            let n = finance::undo(services, import).await?;
            outln!("Removed {n} transactions of import #{import}.");
        }
        FinanceCommand::List {
            month,
            category,
            uncategorized,
            limit,
            json,
        } => {
            let (from, to) = match month {
                Some(m) => {
                    let (a, b) = finance::month_of(finance::parse_month(&m, today)?);
                    (Some(a), Some(b))
                }
                None => (None, None),
            };
            let rows = store
                .fin_list(&TxQuery {
                    from,
                    to,
                    category,
                    uncategorized,
                    limit: Some(limit),
                })
                .await?;
            for t in &rows {
                if json {
                    outln!(
                        "{}",
                        serde_json::json!({
                            "id": t.id, "date": t.day, "amount_minor": t.amount_minor,
                            "currency": t.currency, "payee": t.payee, "description": t.description,
                            "category": t.category, "category_source": t.category_source,
                            "account": t.account,
                        })
                    );
                } else {
                    outln!(
                        "#{:<5} {} {:>14}  {}{}{}",
                        t.id,
                        t.day,
                        money::format(t.amount_minor, &t.currency),
                        t.payee,
                        if t.description.is_empty() || t.description == t.payee {
                            String::new()
                        } else {
                            format!(" — {}", t.description)
                        },
                        t.category
                            .as_deref()
                            .map(|c| format!(" [{c}]"))
                            .unwrap_or_default()
                    );
                }
            }
            if rows.is_empty() && !json {
                outln!("No transactions.");
            }
        }
        FinanceCommand::Recurring { json } => {
            let all = finance::recurring(services, today).await?;
            for (r, next) in &all {
                if json {
                    let mut v = serde_json::to_value(r)?;
                    v["next"] = serde_json::json!(next);
                    outln!("{v}");
                } else {
                    outln!(
                        "{} {} {:>12} — {} times since {}, next about {next}",
                        r.payee,
                        r.every,
                        money::format(-r.amount_minor, &r.currency),
                        r.times,
                        r.first
                    );
                }
            }
            if all.is_empty() && !json {
                outln!("No recurring payments found (three or more at a regular interval).");
            }
        }
        FinanceCommand::Categorize { id, category } => {
            let n = finance::categorize(services, id, &category).await?;
            outln!(
                "#{id} is {category}{}",
                if n > 0 {
                    format!("; {n} similar uncategorised transactions too")
                } else {
                    String::new()
                }
            );
        }
        FinanceCommand::Rules(r) => match r {
            RulesCommand::List => {
                for r in store.fin_rules().await? {
                    outln!("#{:<3} {:?} → {}", r.id, r.pattern, r.category);
                }
            }
            RulesCommand::Add { pattern, category } => {
                let r = store.fin_rule_add(pattern.trim(), category.trim()).await?;
                outln!(
                    "Rule #{}: {:?} → {} (new imports)",
                    r.id,
                    r.pattern,
                    r.category
                );
            }
            RulesCommand::Remove { id } => {
                if !store.fin_rule_remove(id).await? {
                    anyhow::bail!("there is no rule #{id}");
                }
                outln!("Removed rule #{id}.");
            }
        },
        FinanceCommand::Budget(b) => match b {
            BudgetCommand::Set {
                category,
                amount,
                currency,
            } => {
                let currency = currency.to_uppercase();
                let d = money::detect(&[amount.as_str()]);
                let minor = money::parse_amount(&amount, d, money::exponent(&currency))
                    .map_err(|e| {
                        anyhow::anyhow!("{e}: give the monthly amount, e.g. 450 or 120,50")
                    })?
                    .abs();
                store
                    .fin_budget_set(category.trim(), &currency, Some(minor))
                    .await?;
                outln!(
                    "Budget for {}: {} a month.",
                    category.trim(),
                    money::format(minor, &currency)
                );
            }
            BudgetCommand::Show { month } => {
                let m = finance::parse_month(month.as_deref().unwrap_or(""), today)?;
                let r = finance::report(services, m).await?;
                for s in r.spent.iter().filter(|s| s.budget_minor.is_some()) {
                    let b = s.budget_minor.unwrap_or_default();
                    outln!(
                        "{}: {} of {}{}",
                        s.category,
                        money::format(s.spent_minor, &s.currency),
                        money::format(b, &s.currency),
                        if s.spent_minor > b { " — over" } else { "" }
                    );
                }
            }
            BudgetCommand::Remove { category, currency } => {
                store
                    .fin_budget_set(category.trim(), &currency.to_uppercase(), None)
                    .await?;
                outln!("No budget for {} any more.", category.trim());
            }
        },
        FinanceCommand::Report { month, json } => {
            let m = finance::parse_month(month.as_deref().unwrap_or(""), today)?;
            let r = finance::report(services, m).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                outln!("{}", r.month);
                for l in finance::report_lines(&r) {
                    outln!("  {l}");
                }
            }
        }
        FinanceCommand::Profile(p) => match p {
            ProfileCommand::List => {
                for (name, p) in finance::profiles(services).await? {
                    outln!("{name}: {}", serde_json::to_string(&p)?);
                }
            }
            ProfileCommand::Set {
                name,
                delimiter,
                date,
                date_order,
                amount,
                debit,
                credit,
                payee,
                description,
                id,
                currency,
                decimal,
                account,
            } => {
                let date_order = match date_order.as_deref().map(str::to_lowercase).as_deref() {
                    None => None,
                    Some("dmy") => Some(DateOrder::Dmy),
                    Some("mdy") => Some(DateOrder::Mdy),
                    Some("ymd") => Some(DateOrder::Ymd),
                    Some(o) => anyhow::bail!("--date-order {o}: use dmy, mdy or ymd"),
                };
                let decimal = match decimal.as_deref().map(str::to_lowercase).as_deref() {
                    None => None,
                    Some("point" | ".") => Some(Decimal::Point),
                    Some("comma" | ",") => Some(Decimal::Comma),
                    Some(d) => anyhow::bail!("--decimal {d}: use point or comma"),
                };
                let p = CsvProfile {
                    delimiter,
                    date,
                    date_order,
                    amount,
                    debit,
                    credit,
                    payee,
                    description,
                    id,
                    currency_column: None,
                    currency: currency.map(|c| c.to_uppercase()),
                    decimal,
                    account,
                };
                finance::save_profile(services, &name, &p).await?;
                outln!(
                    "Saved CSV profile {name} (use it with `finance import FILE --profile {name}`)."
                );
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}
