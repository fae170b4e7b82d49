//! Planka end to end, through the binary and the fake Planka
//! (`openzero_planka::fake`): `planka status|sync` from the CLI with what
//! waits while Planka is down, then `serve` following both ways within
//! seconds — a task added from the CLI appears in Planka, an edit made in
//! Planka's UI arrives through its webhook — with the echo of OpenZero's
//! own changes dropped (no loop: an idle pair sends no request).

use std::time::{Duration, Instant};

use crate::common;

use common::Oz;
use openzero_planka::fake::{EMAIL, FakePlanka, PASSWORD};
use serde_json::Value;

const TOKEN: &str = "a-long-random-webhook-token";

fn env(fake: &FakePlanka) -> Vec<(&'static str, String)> {
    vec![
        ("USER_TIMEZONE", "Europe/Paris".into()),
        ("PLANKA_BASE_URL", fake.url().to_owned()),
        ("PLANKA_ADMIN_EMAIL", EMAIL.into()),
        ("PLANKA_ADMIN_PASSWORD", PASSWORD.into()),
        ("PLANKA_WEBHOOK_TOKEN", TOKEN.into()),
    ]
}

fn run(oz: &Oz, env: &[(&str, String)], args: &[&str]) -> String {
    let out = oz
        .cmd()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .args(args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

fn status(oz: &Oz, env: &[(&str, String)]) -> Value {
    serde_json::from_str(&run(oz, env, &["planka", "status", "--json"])).unwrap()
}

fn wait_for(what: &str, log: impl Fn() -> String, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what} did not happen: {}",
            log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_sync_then_serve_follows_both_ways_without_an_echo_loop() {
    let fake = FakePlanka::start().await;
    let oz = Oz::new();
    let env = env(&fake);
    run(&oz, &env, &["init"]);

    // Not configured: said plainly.
    let plain = run(&oz, &[], &["planka", "status"]);
    assert!(plain.contains("not configured"), "{plain}");

    run(
        &oz,
        &env,
        &[
            "task",
            "add",
            "Renew passport",
            "--board",
            "Family",
            "--due",
            "2026-12-03",
        ],
    );
    let s = status(&oz, &env);
    assert_eq!(s["configured"], true);
    assert_eq!(s["waiting"], 1, "{s}");
    assert!(s["last_sync"].is_null());

    // Planka down: a readable error, nothing lost, still waiting.
    fake.go_down();
    let out = oz
        .cmd()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .args(["planka", "sync"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unreachable"), "{err}");
    assert!(!err.contains(PASSWORD), "no secret in errors");
    let s = status(&oz, &env);
    assert_eq!(s["waiting"], 1);
    assert_eq!(s["last_sync"]["ok"], false);
    fake.come_back();

    let out = run(&oz, &env, &["planka", "sync"]);
    assert!(out.contains("1 new"), "{out}");
    let card = fake
        .cards()
        .into_iter()
        .find(|c| c.name == "Renew passport")
        .expect("the task is in Planka");
    assert_eq!(fake.board_of(&card.id).as_deref(), Some("Family"));
    let s = status(&oz, &env);
    assert_eq!(
        (s["waiting"].as_u64(), s["linked_cards"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(s["last_sync"]["ok"], true);
    let doctor = oz
        .cmd()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .arg("doctor")
        .output()
        .unwrap();
    let doctor = String::from_utf8_lossy(&doctor.stdout).into_owned();
    let line = doctor
        .lines()
        .find(|l| l.contains("planka"))
        .unwrap_or_default();
    assert!(
        line.contains("logged in at") && line.contains("worked"),
        "{doctor}"
    );
    let again: Value =
        serde_json::from_str(&run(&oz, &env, &["planka", "sync", "--json"])).unwrap();
    assert_eq!(again["created_there"], 0);
    assert_eq!(again["updated_there"], 0);

    // Serve: follows local changes and Planka's webhooks.
    let served = common::serve(&oz, &[], env.clone());
    fake.set_webhook(&format!("{}/webhooks/planka", served.url), TOKEN);
    run(
        &oz,
        &env,
        &["task", "add", "Call the plumber", "--board", "Family"],
    );
    wait_for(
        "the CLI's task reaching Planka",
        || served.log(),
        || fake.cards().iter().any(|c| c.name == "Call the plumber"),
    );
    fake.edit_card_as_user(&card.id, |c| c.name = "Renew passport (both)".into());
    wait_for(
        "Planka's edit arriving here",
        || served.log(),
        || run(&oz, &env, &["task", "list", "--json"]).contains("Renew passport (both)"),
    );
    // Settled: the echoes of our own writes start nothing.
    std::thread::sleep(Duration::from_secs(3));
    let before = fake.request_count();
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        fake.request_count(),
        before,
        "no echo loop: {:?}",
        &fake.requests()[usize::try_from(before).unwrap()..]
    );
    assert!(fake.webhooks_sent() >= 2);

    // The webhook route: the token is checked, bad JSON refused.
    let http = reqwest::Client::new();
    let url = format!("{}/webhooks/planka", served.url);
    let r = http
        .post(&url)
        .bearer_auth("wrong")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(&url)
        .bearer_auth(TOKEN)
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let s = status(&oz, &env);
    assert_eq!(s["webhook_events_waiting"], 0, "{s}");
    let log = served.stop();
    assert!(
        !log.contains(PASSWORD) && !log.contains(TOKEN),
        "no secret in the log"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_syncing_at_once_make_no_duplicate() {
    let fake = FakePlanka::start().await;
    let oz = Oz::new();
    let env = env(&fake);
    run(&oz, &env, &["init"]);
    for i in 0..6 {
        run(
            &oz,
            &env,
            &["task", "add", &format!("Errand {i}"), "--board", "Family"],
        );
    }
    // `serve`'s sync and one typed in a shell, at the same moment.
    let start = |oz: &Oz| {
        std::process::Command::new(env!("CARGO_BIN_EXE_openzero"))
            .env_clear()
            .env("HOME", &oz.home)
            .env("OPENZERO_DATA_DIR", &oz.data)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .args(["planka", "sync"])
            .current_dir(&oz.work)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (start(&oz), start(&oz));
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let errands = fake
        .cards()
        .into_iter()
        .filter(|c| c.name.starts_with("Errand"))
        .count();
    assert_eq!(errands, 6, "{:?}", fake.cards());
    let again: Value =
        serde_json::from_str(&run(&oz, &env, &["planka", "sync", "--json"])).unwrap();
    assert_eq!(again["created_here"], 0);
    assert_eq!(again["created_there"], 0);
}
