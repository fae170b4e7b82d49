//! Scheduled jobs and briefings from the command line: jobs listed with
//! their next run in the owner's time zone, paused across restarts, run now
//! and recorded; briefings composed from the projects, delivered plain when
//! the model fails, stored and shown again.

use crate::common;

use common::Oz;
use predicates::prelude::*;

fn berlin(oz: &Oz, args: &[&str]) -> assert_cmd::assert::Assert {
    oz.cmd()
        .env("USER_TIMEZONE", "Europe/Berlin")
        .args(args)
        .assert()
}

#[test]
fn jobs_are_listed_paused_across_restarts_and_resumed() {
    let oz = Oz::new();
    oz.ok(&["init"]);
    let out = berlin(&oz, &["jobs", "list", "--json"])
        .success()
        .get_output()
        .stdout
        .clone();
    let jobs: Vec<serde_json::Value> = String::from_utf8_lossy(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = jobs.iter().map(|j| j["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "daily-briefing",
            "weekly-review",
            "monthly-review",
            "calendar-sync",
            "news-fetch",
            "backup",
            "restore-drill",
            "strava-harvest",
            "training-report",
            "memory-consolidate"
        ]
    );
    // The backup runs at 03:00 in the owner's zone.
    assert_eq!(jobs[5]["schedule"], "0 3 * * *");
    assert!(
        jobs[5]["next"].as_str().unwrap().contains("03:00"),
        "{:?}",
        jobs[5]
    );
    assert_eq!(jobs[0]["schedule"], "30 7 * * MON-FRI");
    let next = jobs[0]["next"].as_str().unwrap();
    assert!(
        next.contains("07:30") && (next.ends_with("CET") || next.ends_with("CEST")),
        "{next}"
    );
    assert!(
        jobs[1]["next"].as_str().unwrap().starts_with("Sun")
            && jobs[1]["next"].as_str().unwrap().contains("10:00")
    );
    assert_eq!(jobs[0]["paused"], false);

    berlin(&oz, &["jobs", "pause", "daily-briefing"])
        .success()
        .stdout(predicate::str::contains("Paused daily-briefing"));
    // Each command is a new process: the pause is in the database.
    berlin(&oz, &["jobs", "list"])
        .success()
        .stdout(predicate::str::is_match(r"daily-briefing\s+30 7 \* \* MON-FRI\s+paused").unwrap());
    berlin(&oz, &["jobs", "resume", "daily-briefing"]).success();
    berlin(&oz, &["jobs", "list"])
        .success()
        .stdout(predicate::str::is_match(r"daily-briefing\s+30 7 \* \* MON-FRI\s+active").unwrap());
    oz.fails(&["jobs", "pause", "coffee"])
        .stderr(predicate::str::contains("there is no job 'coffee'"))
        .stderr(predicate::str::contains(
            "daily-briefing, weekly-review, monthly-review",
        ));
}

#[test]
fn a_bad_schedule_is_named() {
    let oz = Oz::new();
    oz.ok(&["init"]);
    oz.cmd()
        .env("OPENZERO__SCHEDULE__WEEKLY_REVIEW", "sundays at ten")
        .args(["jobs", "list"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("schedule of weekly-review"))
        .stderr(predicate::str::contains("30 7 * * MON-FRI"));
}

#[test]
fn briefings_are_composed_delivered_plain_when_the_model_fails_and_kept() {
    let oz = Oz::new();
    oz.ok(&["init"]);
    oz.ok(&[
        "project",
        "add",
        "Career",
        "--priority",
        "1",
        "--progress",
        "40",
    ]);
    oz.ok(&["project", "add", "Novel", "--status", "paused"]);
    oz.ok(&["project", "add", "Kindergarten", "--status", "done"]);
    berlin(&oz, &["briefing", "daily", "--dry-run"])
        .success()
        .stdout(predicate::str::contains("Good morning."))
        .stdout(predicate::str::contains(
            "Needs your attention\n- Novel (paused, 0% done) – paused",
        ))
        .stdout(predicate::str::contains(
            "Done since yesterday\n- Kindergarten",
        ))
        .stdout(predicate::str::contains(
            "Top priorities\n- Career (active, 40% done)",
        ));
    berlin(&oz, &["briefing", "last"])
        .success()
        .stdout(predicate::str::contains("No briefing yet"));

    // The model is down: the plain weekly review still goes out and is kept.
    let dead = [
        ("LLM_PROVIDER", "llamacpp"),
        ("OPENAI_BASE_URL", "http://127.0.0.1:1/v1"),
    ];
    let out = oz
        .cmd()
        .envs(dead)
        .args(["briefing", "weekly"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("Weekly review,"), "{text}");
    assert!(text.contains("One question"), "{text}");
    // The weekly review marked the active project reviewed, not the paused one.
    let list = oz
        .ok(&["project", "list", "--json"])
        .get_output()
        .stdout
        .clone();
    let projects: serde_json::Value = serde_json::from_slice(&list).unwrap();
    let reviewed = |name: &str| {
        projects
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| !p["last_reviewed_at"].is_null())
            .unwrap()
    };
    assert!(reviewed("Career") && !reviewed("Novel"), "{projects}");
    berlin(&oz, &["briefing", "last"])
        .success()
        .stdout(predicate::str::contains("Weekly review,"))
        .stderr(predicate::str::contains("(weekly,"));

    // Run a job now: recorded like a scheduled run.
    oz.cmd()
        .envs(dead)
        .args(["jobs", "run", "monthly-review"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Monthly review,"))
        .stdout(predicate::str::contains(
            "general\n- 1 active (on average 40% done), 1 completed this month",
        ));
    let out = oz
        .ok(&["jobs", "list", "--json"])
        .get_output()
        .stdout
        .clone();
    let monthly: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out).lines().nth(2).unwrap()).unwrap();
    assert_eq!(monthly["last_outcome"], "ok", "{monthly}");
}

#[test]
fn a_daily_briefing_recalls_this_day_and_does_not_repeat_itself() {
    use chrono::{Datelike, TimeZone};
    let oz = Oz::new();
    oz.ok(&["init"]);
    oz.ok(&["project", "add", "Kindergarten", "--status", "done"]);
    // Noted a year ago today (Berlin), at nine in the evening.
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Berlin)
        .date_naive();
    let Some(year_ago) = today.with_year(today.year() - 1) else {
        return; // 29 February
    };
    let at = chrono_tz::Europe::Berlin
        .from_local_datetime(&year_ago.and_hms_opt(21, 0, 0).unwrap())
        .unwrap()
        .to_rfc3339();
    oz.ok(&[
        "memory",
        "add",
        "Anna's first swimming badge",
        "--at",
        &at,
        "--source",
        "chat",
    ]);
    oz.ok(&["memory", "add", "Something from this morning"]);

    let daily = |dry: bool| {
        let mut args = vec!["briefing", "daily"];
        if dry {
            args.push("--dry-run");
        }
        let out = berlin(&oz, &args).success().get_output().stdout.clone();
        String::from_utf8(out).unwrap()
    };
    // A dry run shows everything and records nothing.
    let first = daily(true);
    assert!(
        first.contains(&format!(
            "On this day\n- ({year_ago}) Anna's first swimming badge"
        )),
        "{first}"
    );
    assert!(!first.contains("this morning"), "{first}");
    assert!(
        first.contains("Done since yesterday\n- Kindergarten"),
        "{first}"
    );
    assert_eq!(daily(true), first);
    // Delivered: the next briefing does not tell the same things again.
    let delivered = daily(false);
    assert!(
        delivered.contains("Anna's first swimming badge"),
        "{delivered}"
    );
    let next = daily(false);
    assert!(!next.contains("Anna's first swimming badge"), "{next}");
    assert!(!next.contains("Kindergarten"), "{next}");
    assert!(next.starts_with("Good morning."), "{next}");
}

/// A local OpenAI-compatible model server that always answers `answer`.
async fn local_model(answer: &'static str) -> String {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move || async move {
            let v = serde_json::json!({"choices": [{"index": 0,
                "delta": {"content": answer}, "finish_reason": "stop"}]});
            (
                [("content-type", "text/event-stream")],
                format!("data: {v}\n\ndata: [DONE]\n\n"),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phrasing_that_keeps_the_facts_is_delivered_one_that_changes_them_is_not() {
    let faithful = local_model("Morning! Career comes first today, 40% done.").await;
    let unfaithful = local_model("Morning! Career is 35% done, Business 90%.").await;
    let oz = Oz::new();
    oz.ok(&["init"]);
    oz.ok(&["project", "add", "Career", "--progress", "40"]);
    let brief = |url: &str| {
        let out = oz
            .cmd()
            .env("LLM_PROVIDER", "llamacpp")
            .env("OPENAI_BASE_URL", url)
            .args(["briefing", "daily"])
            .assert()
            .success()
            .get_output()
            .clone();
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (text, _) = brief(&faithful);
    assert_eq!(text.trim(), "Morning! Career comes first today, 40% done.");
    let (text, log) = brief(&unfaithful);
    assert!(
        text.starts_with("Good morning.") && text.contains("Career (active, 40% done)"),
        "{text}"
    );
    assert!(log.contains("made up the number 35"), "{log}");
}
