//! Google Calendar end to end: `openzero calendar connect google` with a
//! refresh token, the account's calendars synced from a fake speaking the
//! Calendar API's documented JSON (the calendar crate's fake, shared), the
//! agenda at local times, an incremental sync, and a full resync when
//! Google answers 410.

use crate::common;

use common::Oz;
use serde_json::{Value, json};

#[path = "../../../calendar/tests/calendar/google_fake.rs"]
#[allow(dead_code, unreachable_pub)]
mod fake;

/// Google's token endpoint: any refresh grant gets the fake's token.
async fn token_server() -> String {
    let app = axum::Router::new().route(
        "/token",
        axum::routing::post(|| async {
            axum::Json(json!({
                "access_token": fake::TOKEN, "expires_in": 3599,
                "scope": "https://www.googleapis.com/auth/calendar.readonly",
                "token_type": "Bearer"
            }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/token")
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

fn day(oz: &Oz, env: &[(&str, String)], d: &str) -> Vec<String> {
    run(oz, env, &["calendar", "agenda", "--from", d, "--json"])
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            format!(
                "{} {} [{}]",
                v["start"].as_str().unwrap(),
                v["summary"].as_str().unwrap(),
                v["calendar"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_google_account_syncs_by_token_and_resyncs_on_410() {
    let g = fake::Fake::start().await;
    let token_url = token_server().await;
    let oz = Oz::new();
    let env = [
        ("USER_TIMEZONE", "Europe/Berlin".to_string()),
        (
            "GOOGLE_CLIENT_ID",
            "1234-abc.apps.googleusercontent.com".to_string(),
        ),
        ("GOOGLE_CLIENT_SECRET", "GOCSPX-test".to_string()),
        ("OPENZERO__GOOGLE__TOKEN_URL", token_url),
        ("OPENZERO__GOOGLE__CALENDAR_API_BASE", g.base.clone()),
    ];
    run(&oz, &env, &["init"]);
    let token_file = oz.work.join("refresh.txt");
    std::fs::write(&token_file, "1//refresh-token-kept-secret\n").unwrap();
    let out = run(
        &oz,
        &env,
        &[
            "calendar",
            "connect",
            "google",
            "--refresh-token-file",
            token_file.to_str().unwrap(),
        ],
    );
    assert!(out.contains("Connected \"Google\""), "{out}");

    // Across the change to summer time, the moved and the cancelled instance.
    let monday = |d| {
        day(&oz, &env, d)
            .into_iter()
            .filter(|l| l.contains("Standup"))
            .collect::<Vec<_>>()
    };
    assert_eq!(monday("2026-03-23").len(), 1);
    assert!(
        monday("2026-03-23")[0].starts_with("2026-03-23T09:00:00+01:00 Standup"),
        "{:?}",
        monday("2026-03-23")
    );
    assert!(
        monday("2026-03-30").is_empty(),
        "cancelled: {:?}",
        monday("2026-03-30")
    );
    assert!(
        monday("2026-04-06")[0].starts_with("2026-04-06T11:00:00+02:00 Standup (moved)"),
        "{:?}",
        monday("2026-04-06")
    );
    // The working location is not an event; the holiday calendar is there.
    let easter = day(&oz, &env, "2026-04-06");
    assert!(
        easter.iter().any(|l| l.contains("Ostermontag")),
        "{easter:?}"
    );

    // A change in Google: the next sync reads only it.
    g.put_event(
        fake::PRIMARY,
        fake::event(
            "dentist1",
            "Dentist",
            json!({"dateTime": "2026-03-31T08:00:00+02:00", "timeZone": "Europe/Berlin"}),
            json!({"dateTime": "2026-03-31T08:45:00+02:00", "timeZone": "Europe/Berlin"}),
        ),
    );
    g.clear_requests();
    let out = run(&oz, &env, &["calendar", "sync"]);
    assert!(out.contains("Google: 1 calendar changed"), "{out}");
    assert!(
        day(&oz, &env, "2026-03-31")
            .iter()
            .any(|l| l.starts_with("2026-03-31T08:00:00+02:00 Dentist"))
    );
    let reqs = g.requests();
    assert!(
        reqs.iter().all(|r| r.method == "GET"),
        "{:?}",
        reqs.iter().map(|r| &r.method).collect::<Vec<_>>()
    );
    assert!(
        reqs.iter()
            .filter(|r| r.path.contains("/events"))
            .all(|r| r.param("syncToken").is_some()),
        "an incremental sync sends its token"
    );

    // Google forgets the tokens (410): a full resync, nothing lost or doubled.
    g.expire_sync_tokens();
    g.delete_event(fake::PRIMARY, "dentist1");
    let out = run(&oz, &env, &["calendar", "sync"]);
    assert!(!out.contains("failed"), "{out}");
    let tuesday = day(&oz, &env, "2026-03-31");
    assert!(
        !tuesday.iter().any(|l| l.contains("Dentist")),
        "{tuesday:?}"
    );
    assert_eq!(monday("2026-03-23").len(), 1, "doubled after the resync");

    // The refresh token is kept owner-only, never in the listing.
    let list = run(&oz, &env, &["calendar", "list", "--json"]);
    assert!(!list.contains("refresh-token-kept-secret"), "{list}");
    let secrets = std::fs::read_to_string(oz.data.join("calendar-secrets.json")).unwrap();
    assert!(secrets.contains("refresh-token-kept-secret"));
}
