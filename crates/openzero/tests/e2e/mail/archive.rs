//! Archives, the briefing and the chat commands.

use super::{fixtures, message, stdout};
use crate::common::{self, Oz};
use crate::telegram::{OWNER, TOKEN, sent_to, start_fake};

use std::path::Path;
use std::time::{Duration, Instant};

#[test]
fn importing_the_public_corpus_reports_every_file_and_adds_nothing_twice() {
    let Some(f) = fixtures() else { return };
    let oz = Oz::new();
    oz.ok(&["init"]);
    let out = oz.ok(&["mail", "import", f.to_str().unwrap(), "--json"]);
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let files = walkdir_count(&f);
    // One report line per file (an mbox could give more; the corpus has none).
    assert_eq!(lines.len(), files, "every file reported");
    let imported = lines.iter().filter(|l| l["status"] == "imported").count();
    let skipped = lines.iter().filter(|l| l["status"] == "skipped").count();
    assert!(imported >= 100, "{imported} imported");
    // Licence files and header-less fragments are not mail.
    assert!((5..=20).contains(&skipped), "{skipped} skipped");
    assert!(
        lines
            .iter()
            .any(|l| l["status"] == "imported" && !l["problems"].as_array().unwrap().is_empty()),
        "broken messages are kept and marked"
    );
    let out = oz.ok(&["mail", "import", f.to_str().unwrap()]);
    assert!(
        stdout(&out).contains("Imported 0 new messages"),
        "{}",
        stdout(&out)
    );
    // Imported summaries are in semantic memory, source email.
    let found = stdout(&oz.ok(&[
        "memory",
        "search",
        "simple multipart",
        "--source",
        "email",
        "--json",
    ]));
    assert!(found.contains("Email from"), "{found}");
    // Search finds imported mail; nothing imported was pushed or pending.
    let found = oz.ok(&["mail", "list", "--search", "simple multipart", "--json"]);
    let found: Vec<serde_json::Value> = serde_json::from_str(&stdout(&found)).unwrap();
    assert!(!found.is_empty());
}

fn walkdir_count(dir: &Path) -> usize {
    common::read_dir_bytes(dir).len()
}

#[test]
fn the_morning_briefing_tells_each_mail_once_urgent_first() {
    let oz = Oz::new();
    oz.ok(&["init"]);
    oz.ok(&["mail", "rules", "add", "bank.example", "--action", "urgent"]);
    oz.ok(&[
        "mail",
        "rules",
        "add",
        "news.example",
        "--action",
        "archive",
    ]);
    let dir = oz.work.join("inbox");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, (from, subject, body)) in [
        (
            "Anna <anna@family.example>",
            "Sunday lunch",
            "Lunch is at 13:00 at our place this Sunday.",
        ),
        (
            "Alerts <alerts@bank.example>",
            "Card payment declined",
            "A payment of 412.00 EUR was declined.",
        ),
        (
            "Digest <daily@news.example>",
            "Top stories",
            "Many things happened.",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        std::fs::write(
            dir.join(format!("{i}.eml")),
            message(&format!("b{i}"), from, subject, body),
        )
        .unwrap();
    }
    // An archived message with no Date and no sender: not news.
    std::fs::write(
        dir.join("old.eml"),
        "Subject: From the archive\n\nOld text.\n",
    )
    .unwrap();
    oz.ok(&["mail", "import", dir.to_str().unwrap()]);
    let first = stdout(&oz.ok(&["briefing", "daily"]));
    assert!(!first.contains("From the archive"), "{first}");
    let mail = first
        .split("\nMail\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no Mail section:\n{first}"));
    let urgent = mail
        .find("Urgent: Alerts: Card payment declined")
        .unwrap_or_else(|| panic!("{first}"));
    let lunch = mail
        .find("Anna: Sunday lunch — Lunch is at 13:00")
        .unwrap_or_else(|| panic!("{first}"));
    assert!(urgent < lunch, "urgent first:\n{first}");
    assert!(
        !first.contains("Top stories"),
        "archived mail shown:\n{first}"
    );
    let second = stdout(&oz.ok(&["briefing", "daily"]));
    assert!(!second.contains("Sunday lunch"), "told twice:\n{second}");
    // A dry run tells nothing and marks nothing.
    std::fs::write(
        dir.join("9.eml"),
        message("b9", "Bo <bo@x.example>", "Bike", "The bike is fixed."),
    )
    .unwrap();
    oz.ok(&["mail", "import", dir.to_str().unwrap()]);
    assert!(stdout(&oz.ok(&["briefing", "daily", "--dry-run"])).contains("Bo: Bike"));
    assert!(stdout(&oz.ok(&["briefing", "daily"])).contains("Bo: Bike"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_and_rules_answer_on_telegram_for_the_owner_only() {
    use crate::telegram::{message as update, push};
    let (api_url, api) = start_fake().await;
    let oz = Oz::new();
    oz.ok(&["init"]);
    oz.ok(&["mail", "rules", "add", "bank.example", "--action", "urgent"]);
    let dir = oz.work.join("inbox");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("a.eml"),
        message(
            "t1",
            "Anna <anna@family.example>",
            "Sunday lunch",
            "Lunch is at 13:00.",
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("b.eml"),
        message("t2", "Bo <bo@x.example>", "Bike", "The bike is fixed."),
    )
    .unwrap();
    oz.ok(&["mail", "import", dir.to_str().unwrap()]);
    push(
        &api,
        vec![
            update(1, 666, "/mail"),
            update(2, OWNER, "/mail lunch"),
            update(3, OWNER, "/rules"),
        ],
    );
    let owner = OWNER.to_string();
    let served = common::serve(
        &oz,
        &[],
        [
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("TELEGRAM_ALLOWED_USER_ID", owner.as_str()),
            ("OPENZERO__TELEGRAM__API_BASE_URL", api_url.as_str()),
        ],
    );
    let start = Instant::now();
    while sent_to(&api, OWNER).len() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{}",
            served.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    served.stop();
    let got = sent_to(&api, OWNER);
    assert!(got[0].contains("Anna: Sunday lunch"), "{got:?}");
    assert!(!got[0].contains("Bike"), "only what matches: {got:?}");
    assert!(
        got[1].contains("bank.example") && got[1].contains("urgent"),
        "{got:?}"
    );
    assert!(got[1].contains("Otherwise: summarize"), "{got:?}");
    assert!(sent_to(&api, 666).is_empty(), "a stranger read mail");
}
