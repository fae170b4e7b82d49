//! IMAP with OAuth 2.0 (XOAUTH2) against the real Dovecot: an access token
//! is fetched from the refresh token before each login, and Dovecot checks
//! it with the provider's introspection endpoint (both served here).

use super::{dovecot, message, stdout};
use crate::common::Oz;

use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Provider {
    user: String,
    /// Access tokens issued (and so valid).
    issued: Vec<String>,
    revoked: bool,
    /// Form bodies seen at /token.
    token_requests: Vec<String>,
}

fn form(body: &str, key: &str) -> Option<String> {
    body.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.replace("%2F", "/").replace('+', " "))
    })
}

/// The OAuth provider: `/token` (refresh grant, RFC 6749 §6) and
/// `/introspect` (RFC 7662), on the port Dovecot is configured to ask.
async fn provider(port: u16, user: &str) -> Arc<Mutex<Provider>> {
    use axum::routing::post;
    let state = Arc::new(Mutex::new(Provider {
        user: user.to_owned(),
        ..Default::default()
    }));
    let (s1, s2) = (state.clone(), state.clone());
    let app = axum::Router::new()
        .route(
            "/token",
            post(move |body: String| {
                let s = s1.clone();
                async move {
                    let mut p = s.lock().unwrap();
                    p.token_requests.push(body.clone());
                    let grant = form(&body, "grant_type").unwrap_or_default();
                    let good = !p.revoked
                        && match grant.as_str() {
                            "refresh_token" => {
                                form(&body, "refresh_token").as_deref()
                                    == Some("imap-refresh-token")
                            }
                            "authorization_code" => {
                                form(&body, "code").as_deref() == Some("the-code")
                                    && form(&body, "code_verifier").is_some_and(|v| v.len() >= 43)
                            }
                            _ => false,
                        };
                    if !good {
                        return (
                            axum::http::StatusCode::BAD_REQUEST,
                            serde_json::json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}).to_string(),
                        );
                    }
                    let token = format!("access-{}", p.issued.len() + 1);
                    p.issued.push(token.clone());
                    let mut answer = serde_json::json!({"access_token": token, "token_type": "Bearer", "expires_in": 3599});
                    if grant == "authorization_code" {
                        answer["refresh_token"] = "imap-refresh-token".into();
                    }
                    (axum::http::StatusCode::OK, answer.to_string())
                }
            }),
        )
        .route(
            "/introspect",
            post(move |body: String| {
                let s = s2.clone();
                async move {
                    let p = s.lock().unwrap();
                    let token = form(&body, "token").unwrap_or_default();
                    let v = if p.issued.contains(&token) {
                        serde_json::json!({"active": true, "username": p.user})
                    } else {
                        serde_json::json!({"active": false})
                    };
                    ([("content-type", "application/json")], v.to_string())
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xoauth2_logs_in_with_a_fresh_token_and_a_revoked_grant_is_clear() {
    let Some(d) = dovecot() else { return };
    let port: u16 = std::env::var("OPENZERO_TEST_IMAP_OAUTH_PORT")
        .unwrap()
        .parse()
        .unwrap();
    let user = d.user();
    let p = provider(port, &user).await;
    d.deliver(
        &user,
        "1.eml",
        &message("x1", "Anna <anna@family.example>", "Lunch", "Sunday."),
    );
    let oz = Oz::new();
    oz.ok(&["init"]);
    let mut env = d.env(&user, true);
    env.retain(|(k, _)| k != "EMAIL_IMAP_PASSWORD");
    env.extend([
        ("EMAIL_IMAP_AUTH".to_owned(), "xoauth2".to_owned()),
        (
            "OPENZERO__MAIL__IMAP_OAUTH_AUTH_URL".to_owned(),
            format!("http://127.0.0.1:{port}/authorize"),
        ),
        (
            "OPENZERO__MAIL__IMAP_OAUTH_TOKEN_URL".to_owned(),
            format!("http://127.0.0.1:{port}/token"),
        ),
        (
            "OPENZERO__MAIL__IMAP_OAUTH_CLIENT_ID".to_owned(),
            "imap-client".to_owned(),
        ),
        (
            "OPENZERO__MAIL__IMAP_OAUTH_SCOPE".to_owned(),
            "imap-scope offline_access".to_owned(),
        ),
    ]);
    // No refresh token yet: a clear error.
    let out = oz
        .cmd()
        .envs(env.clone())
        .args(["mail", "sync"])
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("openzero mail connect imap"), "{err}");
    // `mail connect imap`, with the browser played here.
    connect(&oz, &env).await;
    let out = stdout(
        &oz.cmd()
            .envs(env.clone())
            .args(["mail", "sync"])
            .assert()
            .success(),
    );
    assert!(out.contains("1 new message"), "{out}");
    assert_eq!(
        p.lock().unwrap().issued.len(),
        2,
        "one token for the grant, one per login"
    );
    // A refresh token in the settings is used as well.
    env.push((
        "EMAIL_IMAP_OAUTH_REFRESH_TOKEN".to_owned(),
        "imap-refresh-token".to_owned(),
    ));
    // The doctor logs in the same way.
    let doc = stdout(&oz.cmd().envs(env.clone()).args(["doctor"]).assert());
    assert!(doc.contains("INBOX: 1 messages"), "{doc}");

    p.lock().unwrap().revoked = true;
    let out = oz.cmd().envs(env).args(["mail", "sync"]).assert().failure();
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("revoked or expired"), "{err}");
    assert!(
        !err.contains("imap-refresh-token") && !err.contains("access-"),
        "{err}"
    );
}

/// Runs `openzero mail connect imap`, follows the printed address as a
/// browser would after the owner allowed access: to the loopback redirect.
async fn connect(oz: &Oz, env: &[(String, String)]) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_openzero"))
        .args(["mail", "connect", "imap"])
        .env_clear()
        .env("HOME", &oz.home)
        .env("OPENZERO_DATA_DIR", &oz.data)
        .envs(env.iter().cloned())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("the address to open").unwrap();
        if let Some(u) = line.split_whitespace().find(|w| w.contains("/authorize?")) {
            break url::Url::parse(u).unwrap();
        }
    };
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["scope"], "imap-scope offline_access");
    let page = reqwest::Client::new()
        .get(&q["redirect_uri"])
        .query(&[("code", "the-code"), ("state", q["state"].as_str())])
        .send()
        .await
        .unwrap();
    assert!(page.status().is_success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(child.wait().unwrap().success(), "{rest:?}");
    assert!(rest.join("\n").contains("Connected IMAP"), "{rest:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(oz.data.join("imap-oauth-token.json")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
}
