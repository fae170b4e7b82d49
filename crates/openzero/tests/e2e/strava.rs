//! Strava end to end against a stateful fake of its API (the documented
//! JSON, rate-limit headers, 429s, the webhook's subscription check and
//! events): connect by OAuth, harvest within the limits and never twice,
//! refresh rotated tokens, and — with `serve` and a fake Telegram — a run
//! pushed by webhook becomes feedback whose numbers match the activity.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead;
use std::time::{Duration, Instant};

use chrono::{Duration as Days, Utc};
use openzero_strava::fake::{ATHLETE_ID, CLIENT_ID, CLIENT_SECRET, FakeActivity, FakeStrava};
use serde_json::{Value, json};

use crate::common::Oz;
use crate::telegram::{self, OWNER};

const VERIFY: &str = "a-long-random-verify-token";

fn env(fake: &FakeStrava) -> Vec<(String, String)> {
    [
        ("STRAVA_CLIENT_ID", CLIENT_ID.to_owned()),
        ("STRAVA_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("STRAVA_WEBHOOK_VERIFY_TOKEN", VERIFY.to_owned()),
        ("OPENZERO__STRAVA__API_BASE", fake.api_base()),
        ("OPENZERO__STRAVA__AUTH_URL", fake.auth_url()),
        ("OPENZERO__STRAVA__TOKEN_URL", fake.token_url()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn run(oz: &Oz, fake: &FakeStrava, args: &[&str]) -> (bool, String, String) {
    let out = oz.cmd().envs(env(fake)).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json_of(oz: &Oz, fake: &FakeStrava, args: &[&str]) -> Value {
    let (ok, out, err) = run(oz, fake, args);
    assert!(ok, "{args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

/// `strava connect`: reads the address printed, "clicks Authorize" at the
/// fake, and follows Strava's redirect back to the loopback listener.
async fn connect(oz: &Oz, fake: &FakeStrava, since: &str) -> String {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_openzero"))
        .args(["strava", "connect", "--since", since])
        .env_clear()
        .env("HOME", &oz.home)
        .env("OPENZERO_DATA_DIR", &oz.data)
        .env("TZ", "UTC")
        .envs(env(fake))
        .current_dir(&oz.work)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let address = loop {
        let line = lines.next().expect("connect printed no address").unwrap();
        if let Some(a) = line
            .split_whitespace()
            .find(|w| w.starts_with(&fake.auth_url()))
        {
            break a.to_owned();
        }
    };
    let url = url::Url::parse(&address).unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["scope"], "read,activity:read_all");
    assert_eq!(q["client_id"], CLIENT_ID);
    let back = fake.authorize(&q["redirect_uri"], &q["state"]);
    let page = reqwest::get(&back).await.unwrap().text().await.unwrap();
    assert!(page.contains("You can close this tab"), "{page}");
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    assert!(status.success(), "connect failed: {rest:?}");
    rest.join("\n")
}

fn runs_of(list: &Value) -> Vec<&Value> {
    list.as_array()
        .unwrap()
        .iter()
        .filter(|a| a["source"] == "strava")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_harvest_within_the_rate_limits_and_never_fetch_twice() {
    let fake = FakeStrava::start().await.unwrap();
    let now = Utc::now();
    let mut ids = Vec::new();
    for day in 1..=12i64 {
        let hr = (day != 4).then_some(145 + day as u16);
        let mut a = FakeActivity::run(
            &format!("Easy run {day}"),
            now - Days::days(day) - Days::hours(3),
            6.0 + day as f64 * 0.25,
            330.0,
            hr,
        );
        a.private = day == 7;
        ids.push(fake.add_activity(a));
    }
    let oz = Oz::new();
    oz.ok(&["init"]);
    let since = (now - Days::days(60)).format("%Y-%m-%d").to_string();
    let said = connect(&oz, &fake, &since).await;
    assert!(said.contains("Connected to Strava"), "{said}");
    let token_file = oz.data.join("strava-token.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "tokens are owner-only");
    }
    let tokens = std::fs::read_to_string(&token_file).unwrap();
    let status = json_of(&oz, &fake, &["strava", "status", "--json"]);
    assert_eq!(status["connected"], true);
    assert_eq!(status["athlete_id"], ATHLETE_ID);
    assert!(!format!("{status}").contains("access_token"));

    // Room for the list and two activities (two requests each) above the
    // margin the harvest leaves to the webhook: it stops, says until when.
    fake.set_limits(15, 2000);
    let (ok, out, err) = run(&oz, &fake, &["strava", "harvest"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("paused for Strava's rate limit until"),
        "{out}"
    );
    let kept = json_of(&oz, &fake, &["training", "list", "--json"]);
    assert_eq!(runs_of(&kept).len(), 2, "the oldest two first");
    assert!(
        runs_of(&kept)
            .iter()
            .all(|a| a["name"] == "Easy run 12" || a["name"] == "Easy run 11")
    );
    // Until the window ends nothing is asked of Strava.
    let asked = fake.requests().len();
    let (ok, out, _) = run(&oz, &fake, &["strava", "harvest"]);
    assert!(
        ok && out.contains("waiting for Strava's rate limit"),
        "{out}"
    );
    assert_eq!(fake.requests().len(), asked);

    // A new window (started again from the same date: what is here is
    // not fetched again).
    fake.reset_short_window();
    fake.set_limits(200, 2000);
    let (ok, out, err) = run(&oz, &fake, &["strava", "harvest", "--since", &since]);
    assert!(ok, "{err}");
    assert!(
        out.contains("caught up: 10 activities fetched, 2 already here"),
        "{out}"
    );
    for id in &ids {
        assert_eq!(
            fake.count(&format!("GET /api/v3/activities/{id}/streams")),
            1,
            "activity {id} fetched once"
        );
    }
    let kept = json_of(&oz, &fake, &["training", "list", "--json", "--limit", "50"]);
    let runs = runs_of(&kept);
    assert_eq!(runs.len(), 12);
    let private = runs.iter().find(|a| a["name"] == "Easy run 7").unwrap();
    assert_eq!(private["sport"], "run");
    let no_hr = runs.iter().find(|a| a["name"] == "Easy run 4").unwrap();
    assert_eq!(no_hr["avg_hr"], Value::Null);
    assert_eq!(no_hr["trimp"], Value::Null);
    let with_hr = runs.iter().find(|a| a["name"] == "Easy run 5").unwrap();
    // Strava's temp stream (18 °C here) makes the efficiency fair to heat:
    // 3 °C above 15, 1.2 % on top of the flat one.
    let shown = json_of(
        &oz,
        &fake,
        &["training", "show", &with_hr["id"].to_string(), "--json"],
    );
    assert_eq!(shown["temperature_c"], 18.0, "{shown}");
    let (flat, fair) = (
        shown["efficiency_flat"].as_f64().unwrap(),
        shown["efficiency_fair"].as_f64().unwrap(),
    );
    assert!((fair / flat - 1.012).abs() < 1e-6, "{shown}");
    assert!(
        (with_hr["avg_hr"].as_f64().unwrap() - 150.0).abs() < 2.0,
        "{with_hr}"
    );
    assert!(
        (with_hr["distance_m"].as_f64().unwrap() - 7250.0).abs() < 30.0,
        "{with_hr}"
    );

    // A 429 stops the harvest and keeps the place.
    let extra = fake.add_activity(FakeActivity::run(
        "Late run",
        now - Days::hours(30),
        5.0,
        320.0,
        Some(150),
    ));
    fake.fail_next(1, 429);
    let (ok, out, _) = run(&oz, &fake, &["strava", "harvest"]);
    assert!(
        ok && out.contains("paused for Strava's rate limit"),
        "{out}"
    );
    let s = json_of(&oz, &fake, &["strava", "status", "--json"]);
    assert!(s["harvest"]["resume_at"].is_string(), "{s}");
    assert_eq!(fake.count(&format!("GET /api/v3/activities/{extra}")), 0);

    // Expired access: renewed, and Strava's rotated refresh token kept
    // (the fake refuses a used one, so the second renewal proves it).
    for round in 1..=2 {
        let mut t: Value =
            serde_json::from_str(&std::fs::read_to_string(&token_file).unwrap()).unwrap();
        t["token"]["expires_at"] = json!(0);
        std::fs::write(&token_file, t.to_string()).unwrap();
        let (ok, out, err) = run(&oz, &fake, &["strava", "harvest", "--since", &since]);
        assert!(ok, "round {round}: {out} {err}");
        assert_eq!(fake.refresh_tokens_used(), round);
    }
    assert_ne!(std::fs::read_to_string(&token_file).unwrap(), tokens);
    assert_eq!(
        fake.count(&format!("GET /api/v3/activities/{extra}/streams")),
        1
    );

    // doctor asks Strava who is connected.
    let (_, doc, _) = run(&oz, &fake, &["doctor"]);
    let line = doc
        .lines()
        .find(|l| l.contains("strava"))
        .unwrap_or_default()
        .to_owned();
    assert!(
        line.contains("Alex Runner (athlete 134815, read-only"),
        "{doc}"
    );

    // The tokens never reach the logs or the output.
    let t: Value = serde_json::from_str(&std::fs::read_to_string(&token_file).unwrap()).unwrap();
    let access = t["token"]["access_token"].as_str().unwrap().to_owned();
    let (_, out, err) = run(&oz, &fake, &["strava", "status"]);
    assert!(!out.contains(&access) && !err.contains(&access));
    assert!(!out.contains(CLIENT_SECRET) && !err.contains(CLIENT_SECRET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_pushed_by_webhook_becomes_feedback_with_its_numbers() {
    let fake = FakeStrava::start().await.unwrap();
    let now = Utc::now();
    for day in [3i64, 6, 9] {
        fake.add_activity(FakeActivity::run(
            &format!("Steady {day}"),
            now - Days::days(day),
            8.0,
            310.0,
            Some(150),
        ));
    }
    let oz = Oz::new();
    oz.ok(&["init"]);
    let since = (now - Days::days(30)).format("%Y-%m-%d").to_string();
    connect(&oz, &fake, &since).await;
    let (ok, out, err) = run(&oz, &fake, &["strava", "harvest"]);
    assert!(
        ok && out.contains("caught up: 3 activities fetched"),
        "{out} {err}"
    );
    let goal_day = (now + Days::days(70)).format("%Y-%m-%d").to_string();
    oz.cmd()
        .envs(env(&fake))
        .args(["training", "goal", "Half marathon", &goal_day, "1:45:00"])
        .assert()
        .success();

    // Z's local model: it changes a figure of the first run's feedback
    // (so the plain one must go out) and keeps every figure of the second's.
    let (model, asked) = crate::common::ollama(|req| {
        let plain = req["messages"][1]["content"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let text = if plain.contains("Tempo Tuesday") {
            format!(
                "Great work!\n{}",
                plain.replacen("/km", "/km (4:30 at best)", 1)
            )
        } else {
            format!("Strong one.\n{plain}")
        };
        json!({"role": "assistant", "content": text})
    })
    .await;
    let (api, tg) = telegram::start_fake().await;
    let mut env_pairs = env(&fake);
    env_pairs.extend([
        ("LLM_PROVIDER".to_owned(), "ollama".to_owned()),
        ("OLLAMA_BASE_URL".to_owned(), model),
        ("OPENZERO__LLM__MODEL".to_owned(), "llama3.2".to_owned()),
    ]);
    let extra: Vec<(&str, &str)> = env_pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let served = telegram::serve(&oz, &api, &extra);
    let client = reqwest::Client::new();
    let hook = format!("{}/webhooks/strava", served.url);

    // The subscription check: the challenge only for our token.
    let wrong = client
        .get(format!(
            "{hook}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=abc"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    let (ok, out, err) = run(&oz, &fake, &["strava", "subscribe", &hook]);
    assert!(ok, "{out} {err}");
    assert_eq!(fake.subscription().map(|s| s.1), Some(hook.clone()));

    // A new run, pushed: answered at once, feedback soon after.
    let id = fake.add_activity(FakeActivity::run(
        "Tempo Tuesday",
        now - Days::minutes(50),
        10.0,
        290.0,
        Some(162),
    ));
    let t0 = Instant::now();
    assert_eq!(
        fake.push_event("create", "activity", id, json!({}))
            .await
            .unwrap(),
        200
    );
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "answered in {:?}",
        t0.elapsed()
    );
    telegram::wait_for("the run's feedback", || {
        telegram::sent_to(&tg, OWNER)
            .iter()
            .any(|t| t.contains("Tempo Tuesday"))
    });
    let feedback = telegram::sent_to(&tg, OWNER)
        .into_iter()
        .find(|t| t.contains("Tempo Tuesday"))
        .unwrap();
    let list = json_of(&oz, &fake, &["training", "list", "--json"]);
    let run_row = runs_of(&list)
        .into_iter()
        .find(|a| a["name"] == "Tempo Tuesday")
        .cloned()
        .unwrap();
    let km = run_row["distance_m"].as_f64().unwrap() / 1000.0;
    let moving = run_row["moving_s"].as_f64().unwrap();
    let pace = moving / km;
    let pace = format!(
        "{}:{:02} /km",
        (pace.round() as i64) / 60,
        (pace.round() as i64) % 60
    );
    assert!(feedback.contains(&format!("{km:.2} km")), "{feedback}");
    assert!(feedback.contains(&pace), "{pace} in {feedback}");
    assert!(
        feedback.contains(&format!("{:.0} bpm", run_row["avg_hr"].as_f64().unwrap())),
        "{feedback}"
    );
    assert!(feedback.contains("similar runs"), "{feedback}");
    assert!(
        feedback.contains("Half marathon") && feedback.contains("weeks left"),
        "{feedback}"
    );
    assert!(feedback.contains("Form: fitness"), "{feedback}");
    assert!(
        !feedback.contains("Great work") && feedback.starts_with("🏃 Tempo Tuesday"),
        "a phrasing that made up a figure was sent: {feedback}"
    );
    assert!(
        asked
            .lock()
            .unwrap()
            .iter()
            .any(|r| format!("{r}").contains("running coach")),
        "the local model was asked to phrase it"
    );

    // A phrasing that keeps every figure is what goes out.
    let long = fake.add_activity(FakeActivity::run(
        "Long Sunday",
        now - Days::minutes(20),
        16.0,
        330.0,
        Some(148),
    ));
    assert_eq!(
        fake.push_event("create", "activity", long, json!({}))
            .await
            .unwrap(),
        200
    );
    telegram::wait_for("the second run's feedback", || {
        telegram::sent_to(&tg, OWNER)
            .iter()
            .any(|t| t.contains("Long Sunday"))
    });
    let phrased = telegram::sent_to(&tg, OWNER)
        .into_iter()
        .find(|t| t.contains("Long Sunday"))
        .unwrap();
    assert!(
        phrased.starts_with("Strong one.\n🏃 Long Sunday"),
        "{phrased}"
    );
    assert!(phrased.contains("16.00 km"), "{phrased}");

    // The same event again (Strava retries): nothing fetched or sent twice.
    assert_eq!(
        fake.push_event("create", "activity", id, json!({}))
            .await
            .unwrap(),
        200
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        fake.count(&format!("GET /api/v3/activities/{id}/streams")),
        1
    );
    let told = telegram::sent_to(&tg, OWNER)
        .iter()
        .filter(|t| t.contains("Tempo Tuesday"))
        .count();
    assert_eq!(told, 1);

    // Renamed on Strava: renamed here.
    fake.update_activity(id, Some("Tempo Tuesday (windy)"), None, None);
    fake.push_event(
        "update",
        "activity",
        id,
        json!({"title": "Tempo Tuesday (windy)"}),
    )
    .await
    .unwrap();
    let renamed = || {
        let l = json_of(&oz, &fake, &["training", "list", "--json"]);
        runs_of(&l)
            .iter()
            .any(|a| a["name"] == "Tempo Tuesday (windy)")
    };
    telegram::wait_for("the rename", renamed);

    // Events are unsigned: a forged deletion or deauthorization changes nothing.
    let forged = |aspect: &str, object: &str, updates: Value| {
        json!({"aspect_type": aspect, "event_time": Utc::now().timestamp(), "object_id": if object == "athlete" { ATHLETE_ID } else { id },
               "object_type": object, "owner_id": ATHLETE_ID, "subscription_id": 1, "updates": updates})
    };
    for e in [
        forged("delete", "activity", json!({})),
        forged("update", "athlete", json!({"authorized": "false"})),
    ] {
        assert_eq!(
            client.post(&hook).json(&e).send().await.unwrap().status(),
            200
        );
    }
    assert_eq!(
        client
            .post(&hook)
            .body("not json")
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let l = json_of(&oz, &fake, &["training", "list", "--json"]);
    assert!(
        runs_of(&l)
            .iter()
            .any(|a| a["name"] == "Tempo Tuesday (windy)"),
        "a forged deletion was believed"
    );
    assert!(
        oz.data.join("strava-token.json").exists(),
        "a forged deauthorization was believed"
    );

    // Deleted on Strava: forgotten here.
    fake.delete_activity(id);
    fake.push_event("delete", "activity", id, json!({}))
        .await
        .unwrap();
    telegram::wait_for("the deletion", || {
        let l = json_of(&oz, &fake, &["training", "list", "--json"]);
        !runs_of(&l)
            .iter()
            .any(|a| a["name"] == "Tempo Tuesday (windy)")
    });

    // The coach on Telegram.
    telegram::push(
        &tg,
        vec![
            telegram::message(1, OWNER, "/runs"),
            telegram::message(2, OWNER, "/form"),
            telegram::message(3, OWNER, "/race"),
        ],
    );
    telegram::wait_for("/race's answer", || {
        telegram::sent_to(&tg, OWNER)
            .iter()
            .any(|t| t.contains("Race-day form"))
    });
    let sent = telegram::sent_to(&tg, OWNER);
    assert!(
        sent.iter()
            .any(|t| t.contains("Your last activities") && t.contains("Steady 3")),
        "{sent:?}"
    );
    assert!(
        sent.iter().any(|t| t.starts_with("Form: fitness")),
        "{sent:?}"
    );

    // Revoked on Strava's side: the tokens go, the owner is told.
    fake.push_event(
        "update",
        "athlete",
        ATHLETE_ID,
        json!({"authorized": "false"}),
    )
    .await
    .unwrap();
    telegram::wait_for("the revocation", || {
        !oz.data.join("strava-token.json").exists()
    });
    telegram::wait_for("the owner told", || {
        telegram::sent_to(&tg, OWNER)
            .iter()
            .any(|t| t.contains("Strava access was revoked"))
    });
    let health: Value = client
        .get(format!("{}/health", served.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        health["components"]["strava-follower"].is_object(),
        "{health}"
    );
    served.stop();
}
