//! Boards and tasks as a user meets them: the five boards after `init`,
//! tasks added with due dates in plain words, moved and done, listed as
//! JSON, asked for in chat, and in the morning briefing.

use crate::common;

use common::Oz;
use serde_json::Value;

fn run(oz: &Oz, args: &[&str]) -> String {
    let out = oz
        .cmd()
        .env("USER_TIMEZONE", "Europe/Berlin")
        .args(args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

fn json_lines(s: &str) -> Vec<Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_new_user_sees_five_boards_and_moves_tasks_through_them() {
    let oz = Oz::new();
    run(&oz, &["init"]);
    let boards = json_lines(&run(&oz, &["board", "list", "--json"]));
    let names: Vec<&str> = boards.iter().map(|b| b["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Career", "Health", "Family", "Finance", "Creative"]);
    let lists: Vec<&str> = boards[0]["lists"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(lists, ["Inbox", "In Progress", "Blocked", "Done"]);

    run(&oz, &["project", "add", "Job hunt"]);
    let out = run(
        &oz,
        &[
            "task",
            "add",
            "Update CV",
            "--board",
            "career",
            "--due",
            "2026-12-03 14:00",
            "--project",
            "Job hunt",
            "--label",
            "jobs",
        ],
    );
    assert!(
        out.contains("#1 Update CV (Career/Inbox) · due Thu 3 Dec 14:00 · jobs"),
        "{out}"
    );
    // No board given: the words choose it.
    let out = run(
        &oz,
        &[
            "task",
            "add",
            "Pay the car insurance",
            "--due",
            "2026-12-10",
        ],
    );
    assert!(out.contains("(Finance/Inbox)"), "{out}");

    let tasks = json_lines(&run(&oz, &["task", "list", "--json"]));
    assert_eq!(tasks.len(), 2);
    let cv = &tasks[0];
    assert_eq!(cv["board"], "Career");
    assert_eq!(cv["list"], "Inbox");
    assert_eq!(cv["due"], "2026-12-03T14:00:00+01:00");
    assert_eq!(cv["project"], "Job hunt");
    assert_eq!(cv["labels"][0], "jobs");
    assert_eq!(tasks[1]["due"], "2026-12-10");

    run(&oz, &["task", "move", "1", "in progress"]);
    let out = run(&oz, &["task", "done", "1"]);
    assert!(out.contains("(Career/Done)"), "{out}");
    let open = json_lines(&run(&oz, &["task", "list", "--json"]));
    assert_eq!(open.len(), 1, "done tasks leave the list");
    let shown = run(&oz, &["task", "show", "1"]);
    assert!(shown.contains("moved from Inbox to In Progress"), "{shown}");
    assert!(shown.contains("moved from In Progress to Done"), "{shown}");

    // Unknown names say what there is.
    let err = oz
        .cmd()
        .args(["task", "move", "2", "Nowhere"])
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(err).unwrap();
    assert!(
        err.contains("no list \"Nowhere\"") && err.contains("Pending"),
        "{err}"
    );
    let err = oz
        .cmd()
        .args(["task", "add", "x", "--due", "someday maybe"])
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8(err).unwrap().contains("cannot read"));

    // Boards are edited afterwards.
    run(
        &oz,
        &[
            "board",
            "add",
            "Garden",
            "--lists",
            "Ideas, Planting, Harvested",
        ],
    );
    run(
        &oz,
        &[
            "board",
            "edit-list",
            "career",
            "Blocked",
            "--name",
            "Waiting",
        ],
    );
    let out = run(&oz, &["board", "list"]);
    assert!(
        out.contains("Garden     Ideas → Planting → Harvested ✓"),
        "{out}"
    );
    assert!(out.contains("Waiting"), "{out}");
    // Names are one per board whatever the case; archived lists take no task.
    for args in [
        &["board", "add", "career"][..],
        &["board", "add", "Trips", "--lists", "Todo, Done, todo"][..],
        &["board", "add-list", "career", "done"][..],
    ] {
        oz.cmd().args(args).assert().code(1);
    }
    run(
        &oz,
        &["board", "edit-list", "career", "Waiting", "--archive"],
    );
    let err = oz
        .cmd()
        .args(["task", "add", "x", "--board", "career", "--list", "waiting"])
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8(err).unwrap().contains("is archived"));
    run(
        &oz,
        &["board", "edit-list", "career", "Waiting", "--unarchive"],
    );
    run(
        &oz,
        &["task", "add", "x", "--board", "career", "--list", "waiting"],
    );
}

#[test]
fn due_and_overdue_tasks_are_in_the_morning_briefing() {
    let oz = Oz::new();
    run(&oz, &["init"]);
    run(&oz, &["task", "add", "Call the bank", "--due", "today"]);
    run(
        &oz,
        &["task", "add", "Send the forms", "--due", "yesterday"],
    );
    run(
        &oz,
        &["task", "add", "Plan the trip", "--due", "next month"],
    );
    let text = run(&oz, &["briefing", "daily", "--dry-run"]);
    assert!(text.contains("Tasks due"), "{text}");
    let overdue = text
        .find("Overdue: #2 Send the forms")
        .expect("overdue line");
    let today = text.find("Today: #1 Call the bank").expect("today line");
    assert!(overdue < today, "overdue first: {text}");
    assert!(!text.contains("Plan the trip"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asked_in_plain_words_z_puts_the_task_on_the_right_board_with_its_due_date() {
    let (base, _seen) = common::ollama(|req| {
        if common::tool_results(req) > 0 {
            serde_json::json!({"role": "assistant", "content": "Added to Finance, due next month."})
        } else {
            serde_json::json!({"role": "assistant", "content": "", "tool_calls": [
                {"function": {"name": "task_create", "arguments": {"title": "Renew my passport", "due": "in 30 days"}}}
            ]})
        }
    })
    .await;
    let oz = std::sync::Arc::new(Oz::new());
    run(&oz, &["init"]);
    crate::common::chat_with(
        &oz,
        &base,
        &[("USER_TIMEZONE", "Europe/Berlin")],
        "remind me to renew my passport in 30 days",
    )
    .await;
    let tasks = json_lines(&run(&oz, &["task", "list", "--json"]));
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0]["title"], "Renew my passport");
    assert_eq!(tasks[0]["board"], "Finance");
    let want = (chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Berlin)
        .date_naive()
        + chrono::Duration::days(30))
    .to_string();
    assert_eq!(tasks[0]["due"], want.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_and_tasks_answer_on_telegram() {
    use crate::telegram::{OWNER, TOKEN, message, push, sent_to, start_fake};
    let oz = Oz::new();
    run(&oz, &["init"]);
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
    let finance = &json_lines(&run(&oz, &["board", "list", "--json"]))[3];
    let pending = finance["lists"][1]["id"].as_i64().unwrap();
    push(
        &fake,
        vec![
            message(1, OWNER, "/task call the bank tomorrow at 10am"),
            message(2, OWNER, "/tasks"),
        ],
    );
    let wait = |n: usize| {
        let start = std::time::Instant::now();
        while sent_to(&fake, OWNER).len() < n {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(30),
                "{}",
                served.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    wait(2);
    // The answer to /task carries a button per other list of its board.
    let markup = fake
        .lock()
        .unwrap()
        .calls
        .iter()
        .find(|(m, p)| m == "sendmessage" && p["text"].as_str().unwrap_or("").contains("Added #1"))
        .map(|(_, p)| p["reply_markup"].to_string())
        .unwrap();
    let data = format!("taskmv:1:{pending}");
    assert!(
        markup.contains("→ Pending") && markup.contains(&data),
        "{markup}"
    );
    push(&fake, vec![crate::telegram::button(3, OWNER, &data)]);
    wait(3);
    served.stop();
    let moved = json_lines(&run(&oz, &["task", "list", "--json"]));
    assert_eq!(moved[0]["list"], "Pending", "the button moved it");
    let sent = sent_to(&fake, OWNER);
    assert!(
        sent[0].contains("#1 call the bank (Finance/Inbox) · due Tue 1 Dec 10:00"),
        "{sent:?}"
    );
    assert!(
        sent[1].contains("Open tasks") && sent[1].contains("call the bank"),
        "{sent:?}"
    );
}

#[test]
fn a_project_shows_progress_from_its_tasks_until_set_by_hand() {
    let oz = Oz::new();
    run(&oz, &["init"]);
    run(&oz, &["project", "add", "Move house"]);
    for t in [
        "Book the van",
        "Pack the books",
        "Change the address",
        "Clean the flat",
    ] {
        run(
            &oz,
            &[
                "task",
                "add",
                t,
                "--board",
                "family",
                "--project",
                "Move house",
            ],
        );
    }
    run(&oz, &["task", "done", "1"]);
    run(&oz, &["task", "done", "2"]);
    run(&oz, &["task", "done", "3"]);
    let list = run(&oz, &["project", "list"]);
    assert!(
        list.contains(" 75%") && list.contains("(from tasks: 3/4 done)"),
        "{list}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&run(&oz, &["project", "list", "--json"])).unwrap();
    assert_eq!(json[0]["progress"], 75);
    // Set by hand: the hand wins from then on.
    run(
        &oz,
        &["project", "update", "Move house", "--progress", "10"],
    );
    run(&oz, &["task", "done", "4"]);
    let list = run(&oz, &["project", "list"]);
    assert!(
        list.contains(" 10%") && !list.contains("from tasks"),
        "{list}"
    );
}

#[test]
fn a_repeating_task_done_is_followed_by_the_next_one() {
    let oz = Oz::new();
    run(&oz, &["init"]);
    let out = run(
        &oz,
        &[
            "task",
            "add",
            "Water the plants",
            "--board",
            "family",
            "--due",
            "today 18:00",
            "--every",
            "weekly",
        ],
    );
    assert!(out.contains("· weekly"), "{out}");
    run(&oz, &["task", "done", "1"]);
    // Done again (a second tap): still one next task.
    run(&oz, &["task", "done", "1"]);
    let open = json_lines(&run(&oz, &["task", "list", "--json"]));
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["title"], "Water the plants");
    assert_eq!(open[0]["list"], "Inbox");
    assert_eq!(open[0]["repeat"], "weekly");
    let berlin = chrono_tz::Europe::Berlin;
    let next = chrono::Utc::now().with_timezone(&berlin).date_naive() + chrono::Duration::days(7);
    let due = open[0]["due"].as_str().unwrap();
    assert!(due.starts_with(&format!("{next}T18:00:00")), "{due}");
    let err = oz
        .cmd()
        .args(["task", "add", "x", "--every", "sometimes"])
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8(err).unwrap().contains("repeat rule"));
}

#[test]
fn boards_reorder_tasks_archive_and_checklists_tick() {
    let oz = Oz::new();
    run(&oz, &["init"]);
    let out = run(&oz, &["board", "move", "Health", "1"]);
    assert!(out.contains("Health, Career, Family"), "{out}");
    let names: Vec<String> = json_lines(&run(&oz, &["board", "list", "--json"]))
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names[0], "Health");

    run(&oz, &["task", "add", "Renew passport", "--board", "Family"]);
    run(
        &oz,
        &[
            "task", "edit", "1", "--item", "Photos", "--item", "Form", "--check", "2",
        ],
    );
    let show = run(&oz, &["task", "show", "1"]);
    assert!(
        show.contains("[ ] Photos") && show.contains("[x] Form"),
        "{show}"
    );
    let shown: Value = serde_json::from_str(&run(&oz, &["task", "show", "1", "--json"])).unwrap();
    assert_eq!(shown["checklist"][1]["done"], true);
    let err = oz
        .cmd()
        .args(["task", "edit", "1", "--check", "5"])
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8_lossy(&err);
    assert!(
        err.contains("no checklist item 5 (the task has 2)"),
        "{err}"
    );

    let out = run(&oz, &["task", "archive", "1"]);
    assert!(out.starts_with("Archived"), "{out}");
    assert!(json_lines(&run(&oz, &["task", "list", "--json"])).is_empty());
    run(&oz, &["task", "archive", "1", "--undo"]);
    let back = json_lines(&run(&oz, &["task", "list", "--json"]));
    assert_eq!(back.len(), 1);
    assert_eq!(back[0]["title"], "Renew passport");
}
