//! Self-tests of the fake against the documented wire format.

use serde_json::{Value, json};

use super::{Call, FIRST_HISTORY_ID, GRANTED_SCOPE, GmailFake, base64url, base64url_decode};

async fn token(client: &reqwest::Client, fake: &GmailFake, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = client
        .post(format!("{}/token", fake.url))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn get(client: &reqwest::Client, url: String, access: &str) -> reqwest::Response {
    client.get(url).bearer_auth(access).send().await.unwrap()
}

#[tokio::test]
async fn oauth_exchange_refresh_and_revoke() {
    let fake = GmailFake::start().await;
    let client = reqwest::Client::new();
    fake.set_auth_code("4/0Ab-code", "1//0g-refresh");
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", "4/0Ab-code"),
        ("client_id", "cid.apps.googleusercontent.com"),
        ("client_secret", "s3cret"),
        ("redirect_uri", "http://127.0.0.1:8765/callback?x=1&y=a b"),
    ];
    let (status, body) = token(&client, &fake, &exchange).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["refresh_token"], "1//0g-refresh");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["scope"], GRANTED_SCOPE);
    let first = body["access_token"].as_str().unwrap().to_owned();
    assert!(first.starts_with("ya29."));
    // The form was decoded exactly.
    let sent = fake.token_requests();
    assert_eq!(
        sent[0]["redirect_uri"],
        "http://127.0.0.1:8765/callback?x=1&y=a b"
    );
    assert_eq!(sent[0]["grant_type"], "authorization_code");
    // A code works once.
    let (status, body) = token(&client, &fake, &exchange).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", "1//0g-refresh"),
        ("client_id", "cid.apps.googleusercontent.com"),
        ("client_secret", "s3cret"),
    ];
    let (status, body) = token(&client, &fake, &refresh).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.get("refresh_token").is_none(),
        "a refresh grant returns no new refresh token"
    );
    let second = body["access_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    let profile = format!("{}/gmail/v1/users/me/profile", fake.url);
    let resp = get(&client, profile.clone(), &second).await;
    assert_eq!(resp.status(), 200);
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["emailAddress"], "owner@example.com");
    assert_eq!(p["historyId"], FIRST_HISTORY_ID.to_string());

    let (status, body) = token(
        &client,
        &fake,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "1//other"),
            ("client_id", "c"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = token(
        &client,
        &fake,
        &[("grant_type", "password"), ("client_id", "c")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );

    fake.revoke();
    let (status, body) = token(&client, &fake, &refresh).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(
        body["error_description"],
        "Token has been expired or revoked."
    );
    let resp = get(&client, profile.clone(), &second).await;
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().contains_key("www-authenticate"));
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(e["error"]["errors"][0]["reason"], "authError");
    // No header at all.
    let resp = client.get(profile).send().await.unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn list_get_raw_and_history() {
    let fake = GmailFake::start().await;
    let client = reqwest::Client::new();
    let access = fake.mint_access_token();
    let base = format!("{}/gmail/v1/users/me", fake.url);
    let start = fake.history_id();
    // Lengths 0, 1, 2 mod 3, bytes that map to '-' and '_', non-UTF-8.
    let mut raws: Vec<Vec<u8>> = Vec::new();
    for i in 0..5u8 {
        let mut raw = format!(
            "From: a{i}@example.org\r\nTo: owner@example.com\r\nSubject: n{i}\r\n\
             Message-ID: <m{i}@example.org>\r\nDate: Mon, 2 Mar 2026 09:0{i}:00 +0100 (CET)\r\n\r\nBody {i} "
        )
        .into_bytes();
        raw.extend_from_slice(&[0xfb, 0xff, 0xbf, 0xfe][..usize::from(i % 4)]);
        raw.extend(std::iter::repeat_n(b'x', usize::from(i)));
        raws.push(raw);
    }
    let mut ids = Vec::new();
    for raw in &raws[..3] {
        ids.push(fake.add_message(raw, &[]));
    }
    let mid = fake.history_id();
    for raw in &raws[3..] {
        ids.push(fake.add_message(raw, &["INBOX"]));
    }
    assert!(
        ids.iter()
            .all(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()))
    );

    // messages.list: newest first, two per page.
    let mut seen = Vec::new();
    let mut page_token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut url = format!("{base}/messages?maxResults=2&labelIds=INBOX");
        if let Some(t) = &page_token {
            url.push_str(&format!("&pageToken={t}"));
        }
        let v: Value = get(&client, url, &access).await.json().await.unwrap();
        assert_eq!(v["resultSizeEstimate"], 5);
        for m in v["messages"].as_array().unwrap() {
            seen.push(m["id"].as_str().unwrap().to_owned());
            assert_eq!(m.as_object().unwrap().len(), 2, "only id and threadId");
        }
        pages += 1;
        match v["nextPageToken"].as_str() {
            Some(t) => page_token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);
    // labelIds must all match.
    let v: Value = get(
        &client,
        format!("{base}/messages?labelIds=INBOX&labelIds=UNREAD"),
        &access,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["resultSizeEstimate"], 3);

    // messages.get?format=raw round-trips the exact bytes, padded.
    for (id, raw) in ids.iter().zip(&raws) {
        let v: Value = get(&client, format!("{base}/messages/{id}?format=raw"), &access)
            .await
            .json()
            .await
            .unwrap();
        let enc = v["raw"].as_str().unwrap();
        assert!(!enc.contains(['+', '/']));
        assert_eq!(enc.len() % 4, 0, "padded");
        assert_eq!(enc.ends_with('='), raw.len() % 3 != 0);
        assert_eq!(base64url_decode(enc).unwrap(), *raw);
        assert_eq!(v["sizeEstimate"], raw.len());
        assert!(v["historyId"].is_string() && v["internalDate"].is_string());
    }
    let v: Value = get(
        &client,
        format!("{base}/messages/{}?format=raw", ids[0]),
        &access,
    )
    .await
    .json()
    .await
    .unwrap();
    // Mon, 2 Mar 2026 09:00:00 +0100
    assert_eq!(v["internalDate"], "1772438400000");
    assert_eq!(v["labelIds"], json!(["INBOX", "UNREAD"]));
    assert!(v["snippet"].as_str().unwrap().starts_with("Body 0"));
    let resp = get(
        &client,
        format!("{base}/messages/00000000deadbeef?format=raw"),
        &access,
    )
    .await;
    assert_eq!(resp.status(), 404);

    // history.list after add_message: ascending, paginated.
    let url = format!("{base}/history?startHistoryId={mid}&historyTypes=messageAdded&maxResults=1");
    let v: Value = get(&client, url.clone(), &access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["historyId"], fake.history_id().to_string());
    let h = v["history"].as_array().unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["messagesAdded"][0]["message"]["id"], ids[3].as_str());
    assert_eq!(
        h[0]["messagesAdded"][0]["message"]["labelIds"],
        json!(["INBOX"])
    );
    let t = v["nextPageToken"].as_str().unwrap();
    let v: Value = get(&client, format!("{url}&pageToken={t}"), &access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["history"][0]["messages"][0]["id"], ids[4].as_str());
    assert!(v.get("nextPageToken").is_none());
    let all: Value = get(
        &client,
        format!("{base}/history?startHistoryId={start}"),
        &access,
    )
    .await
    .json()
    .await
    .unwrap();
    let ids_in_order: Vec<&str> = all["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["messagesAdded"][0]["message"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids_in_order,
        ids.iter().map(String::as_str).collect::<Vec<_>>()
    );
    // Caught up: no `history` key at all.
    let now = fake.history_id();
    let v: Value = get(
        &client,
        format!("{base}/history?startHistoryId={now}"),
        &access,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v, json!({"historyId": now.to_string()}));

    // A forgotten startHistoryId is 404 NOT_FOUND; a missing one is 400.
    fake.forget_history_before(mid);
    let resp = get(
        &client,
        format!("{base}/history?startHistoryId={start}"),
        &access,
    )
    .await;
    assert_eq!(resp.status(), 404);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["error"]["code"], 404);
    assert_eq!(e["error"]["message"], "Requested entity was not found.");
    assert_eq!(e["error"]["status"], "NOT_FOUND");
    assert_eq!(e["error"]["errors"][0]["reason"], "notFound");
    let resp = get(&client, format!("{base}/history"), &access).await;
    assert_eq!(resp.status(), 400);

    let p: Value = get(&client, format!("{base}/profile"), &access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(p["messagesTotal"], 5);
}

#[tokio::test]
async fn throttle_expiry_and_no_writes() {
    let fake = GmailFake::start().await;
    let client = reqwest::Client::new();
    fake.set_refresh_token("1//rt");
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", "1//rt"),
        ("client_id", "c"),
    ];
    let (_, body) = token(&client, &fake, &refresh).await;
    let access = body["access_token"].as_str().unwrap().to_owned();
    let id = fake.add_message(b"Subject: hi\r\n\r\nhello\r\n", &[]);
    let list = format!("{}/gmail/v1/users/me/messages", fake.url);

    fake.throttle_next(2);
    for _ in 0..2 {
        let resp = get(&client, list.clone(), &access).await;
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "1");
        let e: Value = resp.json().await.unwrap();
        assert_eq!(e["error"]["status"], "RESOURCE_EXHAUSTED");
        assert_eq!(e["error"]["errors"][0]["reason"], "rateLimitExceeded");
    }
    assert_eq!(get(&client, list.clone(), &access).await.status(), 200);

    fake.expire_access_tokens();
    assert_eq!(get(&client, list.clone(), &access).await.status(), 401);
    let (status, body) = token(&client, &fake, &refresh).await;
    assert_eq!(status, 200);
    let fresh = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(get(&client, list.clone(), &fresh).await.status(), 200);

    // Writes are refused (the grant is read-only) and recorded.
    let modify = format!("{list}/{id}/modify");
    let resp = client
        .post(&modify)
        .bearer_auth(&fresh)
        .body(r#"{"removeLabelIds":["UNREAD"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["error"]["errors"][0]["reason"], "insufficientPermissions");
    assert_eq!(e["error"]["status"], "PERMISSION_DENIED");
    assert_eq!(
        e["error"]["details"][0]["reason"],
        "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    );
    let resp = client
        .delete(format!("{list}/{id}"))
        .bearer_auth(&fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let writes: Vec<Call> = fake
        .calls()
        .into_iter()
        .filter(|(m, p, _)| m != "GET" && p.starts_with("/gmail/"))
        .collect();
    assert_eq!(writes.len(), 2);
    assert_eq!(
        writes[0].1,
        format!("/gmail/v1/users/me/messages/{id}/modify")
    );
    assert_eq!(
        writes[0].2.as_deref(),
        Some(format!("Bearer {fresh}").as_str())
    );
}

#[test]
fn base64url_matches_rfc4648_vectors() {
    for (plain, padded) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64url(plain.as_bytes(), true), padded);
        assert_eq!(
            base64url(plain.as_bytes(), false),
            padded.trim_end_matches('=')
        );
        assert_eq!(base64url_decode(padded).unwrap(), plain.as_bytes());
    }
    assert_eq!(base64url(&[0xfb, 0xff], true), "-_8=");
    assert_eq!(base64url_decode("-_8").unwrap(), [0xfb, 0xff]);
    assert!(base64url_decode("+/8=").is_none());
}
