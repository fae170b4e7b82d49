//! The fake of Strava's API, spoken to over HTTP as a client would.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use axum::Json;
use axum::extract::Query;
use axum::routing::get;
use chrono::{Duration, Utc};
use openzero_strava::fake::{ATHLETE_ID, CLIENT_ID, CLIENT_SECRET, FakeActivity, FakeStrava};
use serde_json::{Value, json};

/// A callback server answering the handshake with `echo(challenge)`.
async fn callback(echo: fn(&str) -> String) -> String {
    let app = axum::Router::new().route(
        "/webhook",
        get(move |Query(q): Query<HashMap<String, String>>| async move {
            assert_eq!(q.get("hub.mode").map(String::as_str), Some("subscribe"));
            assert_eq!(q.get("hub.verify_token").map(String::as_str), Some("tok"));
            let challenge = q.get("hub.challenge").cloned().unwrap_or_default();
            Json(json!({ "hub.challenge": echo(&challenge) }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/webhook")
}

async fn subscribe(fake: &FakeStrava, callback_url: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/push_subscriptions", fake.api_base()))
        .form(&[
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("callback_url", callback_url),
            ("verify_token", "tok"),
        ])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Authorizes and exchanges the code: (access token, refresh token).
async fn tokens(fake: &FakeStrava) -> (String, String) {
    let redirect = fake.authorize("http://localhost/cb", "s1");
    let url = url::Url::parse(&redirect).unwrap();
    let q: HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "s1");
    assert_eq!(q["scope"], "read,activity:read_all");
    let body: Value = reqwest::Client::new()
        .post(fake.token_url())
        .form(&[
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("code", &q["code"]),
            ("grant_type", "authorization_code"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["athlete"]["id"], ATHLETE_ID);
    assert_eq!(body["expires_in"], 21600);
    (
        body["access_token"].as_str().unwrap().to_string(),
        body["refresh_token"].as_str().unwrap().to_string(),
    )
}

async fn api_get(fake: &FakeStrava, path: &str, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}{path}", fake.api_base()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_subscription_needs_the_challenge_echoed() {
    let fake = FakeStrava::start().await.unwrap();
    let wrong = callback(|_| "something else".to_string()).await;
    let (status, body) = subscribe(&fake, &wrong).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["resource"], "PushSubscription");
    assert_eq!(body["errors"][0]["code"], "not verifiable");
    assert_eq!(fake.subscription(), None);

    let right = callback(|c| c.to_string()).await;
    let (status, body) = subscribe(&fake, &right).await;
    assert_eq!(status, 201);
    let id = body["id"].as_i64().unwrap();
    assert_eq!(fake.subscription(), Some((id, right.clone())));
    let (status, body) = subscribe(&fake, &right).await;
    assert_eq!(
        (status, &body["errors"][0]["code"]),
        (400, &json!("already exists"))
    );
}

#[tokio::test]
async fn usage_counts_up_and_past_the_limit_is_429() {
    let fake = FakeStrava::start().await.unwrap();
    let (access, _) = tokens(&fake).await;
    fake.set_limits(3, 100);
    for n in 1..=3 {
        let r = api_get(&fake, "/athlete", &access).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-ratelimit-limit"], "3,100");
        assert_eq!(
            r.headers()["x-ratelimit-usage"],
            format!("{n},{n}").as_str()
        );
        assert_eq!(r.headers()["x-readratelimit-limit"], "100,1000");
    }
    let r = api_get(&fake, "/athlete", &access).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["x-ratelimit-usage"], "4,4");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["message"], "Rate Limit Exceeded");
    assert_eq!(fake.usage(), (4, 4));
    fake.reset_short_window();
    assert_eq!(api_get(&fake, "/athlete", &access).await.status(), 200);
    assert_eq!(fake.usage(), (1, 5));
    assert_eq!(fake.count("GET /api/v3/athlete"), 5);
}

#[tokio::test]
async fn a_refresh_rotates_the_refresh_token() {
    let fake = FakeStrava::start().await.unwrap();
    let (access, first) = tokens(&fake).await;
    let refresh = |token: String| {
        let url = fake.token_url();
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .form(&[
                    ("client_id", CLIENT_ID),
                    ("client_secret", CLIENT_SECRET),
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &token),
                ])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    fake.expire_access_tokens();
    assert_eq!(api_get(&fake, "/athlete", &access).await.status(), 401);
    let (status, body) = refresh(first.clone()).await;
    assert_eq!(status, 200);
    let second = body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    let new_access = body["access_token"].as_str().unwrap();
    assert_ne!(new_access, access);
    assert_eq!(api_get(&fake, "/athlete", new_access).await.status(), 200);

    let (status, body) = refresh(first).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["errors"][0],
        json!({"resource": "RefreshToken", "field": "refresh_token", "code": "invalid"})
    );
    assert_eq!(refresh(second).await.0, 200);
    assert_eq!(fake.refresh_tokens_used(), 2);
}

#[tokio::test]
async fn streams_are_keyed_by_type_and_only_those_recorded() {
    let fake = FakeStrava::start().await.unwrap();
    let (access, _) = tokens(&fake).await;
    let start = Utc::now() - Duration::days(1);
    let id = fake.add_activity(FakeActivity::run("No strap", start, 2.0, 330.0, None));
    let path = format!(
        "/activities/{id}/streams?keys=time,latlng,heartrate,moving,bogus&key_by_type=true"
    );
    let body: Value = api_get(&fake, &path, &access).await.json().await.unwrap();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
    for k in ["time", "distance", "latlng", "moving"] {
        assert_eq!(body[k]["original_size"], 661, "{k}");
        assert_eq!(body[k]["data"].as_array().unwrap().len(), 661, "{k}");
    }
    assert!(body["latlng"]["data"][0].as_array().unwrap().len() == 2);
    assert_eq!(body["moving"]["data"][0], true);

    let detail: Value = api_get(&fake, &format!("/activities/{id}"), &access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["has_heartrate"], false);
    assert!(detail.get("average_heartrate").is_none());
    assert_eq!(detail["distance"], 2000.0);
    assert_eq!(detail["laps"].as_array().unwrap().len(), 2);

    let with_hr = fake.add_activity(FakeActivity::run("Strap", start, 1.0, 330.0, Some(140)));
    let path = format!("/activities/{with_hr}/streams?keys=heartrate");
    let list: Value = api_get(&fake, &path, &access).await.json().await.unwrap();
    let types: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["time", "distance", "heartrate"]);
}
