//! Finance end to end: a year of statements from two banks in different
//! formats (a German CSV in Windows-1252 with comma decimals, and CAMT.053
//! from the public fixtures), re-imported and overlapping without a
//! duplicate while genuine twins stay, undone as a batch, categorised by
//! rules and by what the owner taught, three budgets, the month's report,
//! the monthly review's *Money*, and the alert (once) when a budget is
//! exceeded — queued for Telegram.

use std::path::PathBuf;

use crate::common;

use common::Oz;
use serde_json::Value;

fn fixtures() -> Option<PathBuf> {
    common::fixtures("finance")
}

const ENV: [(&str, &str); 3] = [
    ("USER_TIMEZONE", "Europe/Berlin"),
    (
        "TELEGRAM_BOT_TOKEN",
        "123456:ABCdefGhIJKlmnoPQRstuVWXyz012345678",
    ),
    ("TELEGRAM_ALLOWED_USER_ID", "4242"),
];

fn run(oz: &Oz, args: &[&str]) -> String {
    let out = oz
        .cmd()
        .envs(ENV)
        .args(args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

fn lines(s: &str) -> Vec<Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A Sparkasse-style export: preamble, `;`, comma decimals, Windows-1252.
fn giro(rows: &[(&str, &str, &str, &str)]) -> Vec<u8> {
    let mut text = String::from(
        "\"Umsätze Girokonto\";\"DE12 3456 7890\"\n\n\"Buchungstag\";\"Auftraggeber/Empfänger\";\"Verwendungszweck\";\"Betrag\"\n",
    );
    for (day, who, what, amount) in rows {
        text.push_str(&format!("\"{day}\";\"{who}\";\"{what}\";\"{amount}\"\n"));
    }
    encoding_rs_like_cp1252(&text)
}

/// Windows-1252 for the few characters used here.
fn encoding_rs_like_cp1252(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            'ä' => 0xE4,
            'ö' => 0xF6,
            'ü' => 0xFC,
            'Ü' => 0xDC,
            'ß' => 0xDF,
            '€' => 0x80,
            c => u8::try_from(c as u32).unwrap_or(b'?'),
        })
        .collect()
}

#[test]
fn two_banks_a_year_budgets_and_the_monthly_review() {
    let Some(fx) = fixtures() else { return };
    let oz = Oz::new();
    run(&oz, &["init"]);
    let nov = oz.work.join("giro-2026-11.csv");
    std::fs::write(
        &nov,
        giro(&[
            ("03.11.2026", "REWE Markt Köln", "Lebensmittel", "-82,40"),
            ("05.11.2026", "Café Rosa", "Kartenzahlung", "-4,50"),
            ("05.11.2026", "Café Rosa", "Kartenzahlung", "-4,50"),
            (
                "10.11.2026",
                "Stadtwerke Köln",
                "Strom Abschlag November",
                "-95,00",
            ),
            ("25.11.2026", "ACME GmbH", "Gehalt November", "3.250,00"),
            ("27.11.2026", "REWE Markt Köln", "Lebensmittel", "-1.312,77"),
        ]),
    )
    .unwrap();
    run(&oz, &["finance", "rules", "add", "rewe", "Groceries"]);
    // A preview adds nothing.
    let dry = run(
        &oz,
        &["finance", "import", nov.to_str().unwrap(), "--dry-run"],
    );
    assert!(dry.contains("6 rows, 6 new"), "{dry}");
    assert!(dry.contains("Dry run: nothing added."), "{dry}");
    assert!(lines(&run(&oz, &["finance", "list", "--json"])).is_empty());

    let out = run(&oz, &["finance", "import", nov.to_str().unwrap()]);
    assert!(out.contains("Added 6 as import #1"), "{out}");
    let txs = lines(&run(
        &oz,
        &["finance", "list", "--json", "--month", "2026-11"],
    ));
    assert_eq!(txs.len(), 6);
    for t in &txs {
        for k in [
            "date",
            "amount_minor",
            "currency",
            "payee",
            "description",
            "category",
        ] {
            assert!(t.get(k).is_some(), "{k} in {t}");
        }
    }
    let coffees: Vec<&Value> = txs.iter().filter(|t| t["payee"] == "Café Rosa").collect();
    assert_eq!(
        coffees.len(),
        2,
        "two genuine coffees the same day stay two"
    );
    assert_eq!(coffees[0]["amount_minor"], -450);
    let big = txs.iter().find(|t| t["amount_minor"] == -131_277).unwrap();
    assert_eq!(big["category"], "Groceries");
    assert_eq!(big["category_source"], "rule");

    // The same file again adds nothing; an overlapping December export
    // (from 25 November) adds only what is new.
    let again = run(&oz, &["finance", "import", nov.to_str().unwrap()]);
    assert!(again.contains("0 new, 6 already kept"), "{again}");
    let dec = oz.work.join("giro-2026-12.csv");
    std::fs::write(
        &dec,
        giro(&[
            ("25.11.2026", "ACME GmbH", "Gehalt November", "3.250,00"),
            ("27.11.2026", "REWE Markt Köln", "Lebensmittel", "-1.312,77"),
            (
                "01.12.2026",
                "Stadtwerke Köln",
                "Strom Abschlag Dezember",
                "-95,00",
            ),
        ]),
    )
    .unwrap();
    let out = run(&oz, &["finance", "import", dec.to_str().unwrap()]);
    assert!(out.contains("3 rows, 1 new, 2 already kept"), "{out}");
    // A second bank, another format: CAMT.053 with two statements.
    let camt = fx.join("camt/camt053.v2.multi.statement.xml");
    let out = run(&oz, &["finance", "import", camt.to_str().unwrap()]);
    assert!(out.contains("camt.053"), "{out}");
    let imports = run(&oz, &["finance", "imports"]);
    assert_eq!(imports.lines().count(), 4, "{imports}");
    // Undo the CAMT import: only what it added goes.
    let before = lines(&run(&oz, &["finance", "list", "--json"])).len();
    run(&oz, &["finance", "undo", "4"]);
    assert_eq!(
        lines(&run(&oz, &["finance", "list", "--json"])).len(),
        before - 2
    );
    let err = oz
        .cmd()
        .envs(ENV)
        .args(["finance", "undo", "4"])
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8_lossy(&err).contains("no import #4"));

    // The owner teaches one: the like one in December follows.
    let strom = lines(&run(
        &oz,
        &["finance", "list", "--json", "--month", "2026-11"],
    ))
    .into_iter()
    .find(|t| t["payee"] == "Stadtwerke Köln")
    .unwrap();
    let out = run(
        &oz,
        &[
            "finance",
            "categorize",
            &strom["id"].to_string(),
            "Utilities",
        ],
    );
    assert!(out.contains("1 similar"), "{out}");
    let december = lines(&run(
        &oz,
        &["finance", "list", "--json", "--month", "2026-12"],
    ));
    assert_eq!(december[0]["category"], "Utilities");
    assert_eq!(december[0]["category_source"], "learned");

    // Payments that come back: a monthly one in its third month is found.
    let subs = oz.work.join("subs.csv");
    std::fs::write(
        &subs,
        giro(&[
            ("03.08.2026", "Netflix.com", "Abo", "-12,99"),
            ("03.09.2026", "Netflix.com", "Abo", "-12,99"),
            ("03.10.2026", "Netflix.com", "Abo", "-12,99"),
        ]),
    )
    .unwrap();
    run(&oz, &["finance", "import", subs.to_str().unwrap()]);
    let rec = lines(&run(&oz, &["finance", "recurring", "--json"]));
    let netflix = rec.iter().find(|r| r["payee"] == "Netflix.com").unwrap();
    assert_eq!(netflix["every"], "monthly");
    assert_eq!(netflix["next"], "2026-11-03");
    let oct: Value = serde_json::from_str(&run(
        &oz,
        &["finance", "report", "--month", "2026-10", "--json"],
    ))
    .unwrap();
    assert_eq!(oct["new_subscriptions"][0]["payee"], "Netflix.com", "{oct}");

    // Three budgets; November's report; the review on 1 December.
    run(&oz, &["finance", "budget", "set", "Groceries", "450"]);
    run(&oz, &["finance", "budget", "set", "Utilities", "100"]);
    run(&oz, &["finance", "budget", "set", "Eating out", "60,00"]);
    let r: Value = serde_json::from_str(&run(
        &oz,
        &["finance", "report", "--month", "2026-11", "--json"],
    ))
    .unwrap();
    let groceries = r["spent"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["category"] == "Groceries")
        .unwrap();
    assert_eq!(groceries["spent_minor"], 139_517);
    assert_eq!(groceries["budget_minor"], 45_000);
    assert_eq!(r["income"]["EUR"], 325_000);
    // Last month and this month, whenever the test runs: the review on
    // the 1st reports last month; this month's spending over its budget is
    // told once, on Telegram.
    let today = chrono::Utc::now().date_naive();
    let this_month = today.format("%d.%m.%Y").to_string();
    let last = chrono::Datelike::with_day(&today, 1)
        .and_then(|d| d.checked_sub_months(chrono::Months::new(1)))
        .unwrap()
        .format("15.%m.%Y")
        .to_string();
    run(&oz, &["finance", "rules", "add", "café", "Eating out"]);
    let recent = oz.work.join("recent.csv");
    std::fs::write(
        &recent,
        giro(&[
            (&last, "REWE Markt Köln", "Großeinkauf", "-500,00"),
            (&this_month, "Café Rosa", "Geburtstag", "-70,00"),
        ]),
    )
    .unwrap();
    run(&oz, &["finance", "import", recent.to_str().unwrap()]);
    let review = run(&oz, &["briefing", "monthly", "--dry-run"]);
    assert!(review.contains("Money"), "{review}");
    assert!(
        review.contains("Groceries: 500.00 EUR of 450.00 EUR — over by 50.00 EUR"),
        "{review}"
    );
    // Importing again does not tell twice.
    let again = oz.work.join("recent-again.csv");
    std::fs::write(
        &again,
        giro(&[(&this_month, "Café Rosa", "Nachtisch", "-5,00")]),
    )
    .unwrap();
    run(&oz, &["finance", "import", again.to_str().unwrap()]);
    let db = oz.data.join("openzero.db");
    let texts: Vec<String> = tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        sqlx::query_scalar("SELECT text FROM telegram_outbox ORDER BY id")
            .fetch_all(&mut c)
            .await
            .unwrap()
    });
    // (Fixed November rows may alert Groceries too when the test runs in
    // November 2026; Eating out is this month's whenever it runs.)
    let alerts: Vec<&String> = texts
        .iter()
        .filter(|t| t.contains("Budget exceeded: Eating out"))
        .collect();
    assert_eq!(alerts.len(), 1, "{texts:?}");
    // Told when the first import went over (70 of 60), not again at 75.
    assert!(
        alerts[0].contains("Eating out has 70.00 EUR spent of 60.00 EUR"),
        "{alerts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spent_and_news_answer_on_telegram() {
    use crate::telegram::{OWNER, TOKEN, message, push, sent_to, start_fake};
    let oz = Oz::new();
    run(&oz, &["init"]);
    run(&oz, &["finance", "rules", "add", "rewe", "Groceries"]);
    let nov = oz.work.join("nov.csv");
    std::fs::write(
        &nov,
        giro(&[
            ("03.11.2026", "REWE Markt Köln", "Lebensmittel", "-82,40"),
            ("05.11.2026", "Café Rosa", "Kartenzahlung", "-4,50"),
        ]),
    )
    .unwrap();
    run(&oz, &["finance", "import", nov.to_str().unwrap()]);
    run(&oz, &["finance", "budget", "set", "Groceries", "450"]);
    let (api, fake) = start_fake().await;
    let owner = OWNER.to_string();
    let served = common::serve(
        &oz,
        &["--clock", "2026-11-30T08:00:00+01:00"],
        [
            ("USER_TIMEZONE", "Europe/Berlin"),
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("TELEGRAM_ALLOWED_USER_ID", owner.as_str()),
            ("OPENZERO__TELEGRAM__API_BASE_URL", api.as_str()),
        ],
    );
    push(
        &fake,
        vec![
            message(1, OWNER, "/spent groceries"),
            message(2, OWNER, "/spent october"),
            message(3, OWNER, "/news"),
            message(4, OWNER, "/spent eating out last month"),
        ],
    );
    let start = std::time::Instant::now();
    while sent_to(&fake, OWNER).len() < 4 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "{}",
            served.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    served.stop();
    let sent = sent_to(&fake, OWNER);
    assert!(
        sent[0].contains("November 2026") && sent[0].contains("Groceries: 82.40 EUR of 450.00 EUR"),
        "{sent:?}"
    );
    assert!(
        sent[1].contains("October 2026") && !sent[1].contains("82.40"),
        "{sent:?}"
    );
    assert!(sent[2].contains("You follow no feeds yet"), "{sent:?}");
    // Two words of month after two words of category.
    assert_eq!(
        sent[3], "Nothing spent on eating out in October 2026.",
        "{sent:?}"
    );
}
