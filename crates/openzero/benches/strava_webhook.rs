//! Strava webhook → feedback on Telegram, end to end against the fakes:
//! `openzero serve` (the release binary) subscribed at a stateful fake of
//! Strava's API, a fake Telegram Bot API; each round adds an hour-long run
//! recorded at 1 Hz, pushes Strava's `create` event and times until the
//! feedback message is sent. Beside it, the baseline: fetching that
//! activity and its streams straight from the fake (what any client must
//! do at least). Goal (issue 17): feedback within 60 s.
//!
//!   cargo bench -p openzero --bench strava_webhook
//!   cargo bench -p openzero --bench strava_webhook -- --rounds 10

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use chrono::Utc;
use openzero_strava::fake::{CLIENT_ID, CLIENT_SECRET, FakeActivity, FakeStrava};
use serde_json::{Value, json};

const TOKEN: &str = "123456:BENCH-token";
const OWNER: i64 = 4242;

type Sent = Arc<Mutex<Vec<(Instant, String)>>>;

async fn bot_api(
    State(sent): State<Sent>,
    Path((_bot, method)): Path<(String, String)>,
    body: String,
) -> String {
    let params: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    match method.to_ascii_lowercase().as_str() {
        "getupdates" => {
            tokio::time::sleep(Duration::from_millis(300)).await;
            json!({"ok": true, "result": []}).to_string()
        }
        "sendmessage" => {
            let text = params["text"].as_str().unwrap_or_default().to_owned();
            let mut s = sent.lock().unwrap();
            s.push((Instant::now(), text.clone()));
            json!({"ok": true, "result": {"message_id": s.len(), "date": 1_795_500_000,
                "chat": {"id": OWNER, "type": "private", "first_name": "Owner"},
                "from": {"id": 1, "is_bot": true, "first_name": "Z", "username": "z_bot"},
                "text": text}})
            .to_string()
        }
        "getme" => json!({"ok": true, "result": {"id": 1, "is_bot": true, "first_name": "Z", "username": "z_bot"}}).to_string(),
        _ => json!({"ok": true, "result": true}).to_string(),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(5);
    if args.iter().any(|a| a == "--list") {
        return; // cargo's harness probing
    }

    let fake = FakeStrava::start().await.unwrap();
    let sent: Sent = Arc::default();
    let app = axum::Router::new()
        .route("/{bot}/{method}", axum::routing::post(bot_api))
        .with_state(sent.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tg = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // A grant, as `openzero strava connect` keeps it.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let http = reqwest::Client::new();
    let back = fake.authorize("http://127.0.0.1:9/", "s");
    let code = url::Url::parse(&back)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let token: Value = http
        .post(fake.token_url())
        .form(&[
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("code", &code),
            ("grant_type", "authorization_code"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let athlete = token["athlete"]["id"].as_i64().unwrap();
    std::fs::write(
        data.join("strava-token.json"),
        json!({"token": token, "athlete_id": athlete, "athlete_name": "", "connected_at": Utc::now()}).to_string(),
    )
    .unwrap();

    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_openzero"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env_clear()
        .env("HOME", dir.path())
        .env("OPENZERO_DATA_DIR", &data)
        .env("TELEGRAM_BOT_TOKEN", TOKEN)
        .env("TELEGRAM_ALLOWED_USER_ID", OWNER.to_string())
        .env("OPENZERO__TELEGRAM__API_BASE_URL", &tg)
        .env("STRAVA_CLIENT_ID", CLIENT_ID)
        .env("STRAVA_CLIENT_SECRET", CLIENT_SECRET)
        .env("STRAVA_WEBHOOK_VERIFY_TOKEN", "bench-verify")
        .env("OPENZERO__STRAVA__API_BASE", fake.api_base())
        .env("OPENZERO__STRAVA__TOKEN_URL", fake.token_url())
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("serve.log")).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(serve.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("serve printed its address")
        .to_owned();
    let created = http
        .post(format!("{}/push_subscriptions", fake.api_base()))
        .form(&[
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("callback_url", &format!("{base}/webhooks/strava")),
            ("verify_token", "bench-verify"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "the subscription check failed");

    let (mut acks, mut feedbacks, mut fetches) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let name = format!("Bench run {round}");
        let start = Utc::now() - chrono::Duration::minutes(90);
        let id = fake.add_activity(FakeActivity::run(&name, start, 12.0, 300.0, Some(150)));
        let t0 = Instant::now();
        let status = fake
            .push_event("create", "activity", id, json!({}))
            .await
            .unwrap();
        assert_eq!(status, 200);
        acks.push(t0.elapsed());
        let until = t0 + Duration::from_secs(120);
        let arrived = loop {
            let hit = sent
                .lock()
                .unwrap()
                .iter()
                .find(|(_, t)| t.contains(&name))
                .map(|(at, _)| *at);
            if let Some(at) = hit {
                break at;
            }
            assert!(
                Instant::now() < until,
                "no feedback within 120 s: {}",
                std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        feedbacks.push(arrived - t0);

        // The baseline: the same activity and its streams, fetched directly.
        let access = token["access_token"].as_str().unwrap();
        let t1 = Instant::now();
        for path in [
            format!("/activities/{id}"),
            format!(
                "/activities/{id}/streams?keys=time,distance,latlng,altitude,heartrate,cadence,velocity_smooth,moving,temp&key_by_type=true"
            ),
        ] {
            let r = http
                .get(format!("{}{path}", fake.api_base()))
                .bearer_auth(access)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
            r.bytes().await.unwrap();
        }
        fetches.push(t1.elapsed());
    }
    let _ = serve.kill();
    let _ = serve.wait();

    let goal = Duration::from_secs(60);
    let fb_max = *feedbacks.iter().max().unwrap();
    println!("| measure | median | max | goal | met? |");
    println!("|---|---:|---:|---|---|");
    println!(
        "| webhook answered (event stored) | {} | {} | ≤ 2 s (Strava's limit) | {} |",
        ms(median(acks.clone())),
        ms(*acks.iter().max().unwrap()),
        if acks.iter().all(|a| *a <= Duration::from_secs(2)) {
            "yes"
        } else {
            "no"
        }
    );
    println!(
        "| Strava webhook → feedback on Telegram (fetch, keep, compose, send) | {} | {} | ≤ 60 s | {} |",
        ms(median(feedbacks.clone())),
        ms(fb_max),
        if fb_max <= goal { "yes" } else { "**no**" }
    );
    println!(
        "| baseline: the activity and its streams fetched directly | {} | {} | — | — |",
        ms(median(fetches.clone())),
        ms(*fetches.iter().max().unwrap())
    );
    println!();
    println!(
        "- {rounds} rounds; each an hour-long run at 1 Hz (3,600 samples in every stream) pushed as Strava's `create` event to `openzero serve` (release build) at {base}; Telegram and Strava are local fakes speaking their wire formats"
    );
}
