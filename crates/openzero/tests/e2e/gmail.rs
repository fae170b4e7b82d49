//! Gmail end to end against the fake of Google's OAuth endpoint and the
//! Gmail API (`gmail_fake`, built from the documented payloads): connect
//! through the loopback redirect, sync by history id, refresh once on 401,
//! back off on 429, resync when history is gone without pushing twice, a
//! revoked grant reported, and never a request that could change mail.

use crate::common::{self, Oz};
use crate::gmail_fake::GmailFake;
use crate::telegram::{OWNER, TOKEN, sent_to, start_fake};

use std::io::BufRead;
use std::time::{Duration, Instant};

fn message(id: &str, from: &str, subject: &str, body: &str) -> Vec<u8> {
    let date = chrono::Utc::now().to_rfc2822();
    format!(
        "From: {from}\r\nTo: owner@example.com\r\nSubject: {subject}\r\nDate: {date}\r\n\
         Message-ID: <{id}@test.example>\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

fn env(fake: &GmailFake) -> Vec<(String, String)> {
    vec![
        (
            "GOOGLE_CLIENT_ID".into(),
            "client-1.apps.googleusercontent.com".into(),
        ),
        (
            "GOOGLE_CLIENT_SECRET".into(),
            "client-secret-never-logged".into(),
        ),
        (
            "OPENZERO__GOOGLE__AUTH_URL".into(),
            format!("{}/o/oauth2/v2/auth", fake.url),
        ),
        (
            "OPENZERO__GOOGLE__TOKEN_URL".into(),
            format!("{}/token", fake.url),
        ),
        ("OPENZERO__MAIL__GMAIL_API_BASE".into(), fake.url.clone()),
        ("TZ".into(), "UTC".into()),
    ]
}

/// `openzero mail connect gmail`, with the browser played by this test: it
/// reads the printed address and follows Google's redirect to the loopback.
async fn connect(oz: &Oz, fake: &GmailFake) -> String {
    fake.set_auth_code("code-from-google", "refresh-1");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_openzero"))
        .args(["mail", "connect", "gmail"])
        .env_clear()
        .env("HOME", &oz.home)
        .env("OPENZERO_DATA_DIR", &oz.data)
        .envs(env(fake))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let auth_url = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the address to open");
        if let Some(u) = line.split_whitespace().find(|w| w.starts_with(&fake.url)) {
            break url::Url::parse(u).unwrap();
        }
    };
    let q: std::collections::HashMap<String, String> =
        auth_url.query_pairs().into_owned().collect();
    assert_eq!(
        q["scope"], "https://www.googleapis.com/auth/gmail.readonly",
        "read-only scope only"
    );
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["access_type"], "offline");
    let redirect = q["redirect_uri"].clone();
    assert!(redirect.starts_with("http://127.0.0.1:"), "{redirect}");
    // A stray request first (a favicon): ignored.
    let client = reqwest::Client::new();
    let _ = client.get(format!("{redirect}favicon.ico")).send().await;
    // A redirect from another attempt would carry another state; this one
    // carries ours.
    let page = client
        .get(&redirect)
        .query(&[("code", "code-from-google"), ("state", q["state"].as_str())])
        .send()
        .await
        .unwrap();
    assert!(page.status().is_success());
    assert!(page.text().await.unwrap().contains("read-only access"));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "connect did not finish"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let rest: Vec<String> = rx.try_iter().collect();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{rest:?} {err}");
    let out = rest.join("\n");
    assert!(out.contains("Connected owner@example.com"), "{out}");
    // The code was exchanged with the PKCE verifier.
    let exchange = fake
        .token_requests()
        .into_iter()
        .find(|r| r.get("grant_type").map(String::as_str) == Some("authorization_code"))
        .unwrap();
    assert!(exchange.get("code_verifier").is_some_and(|v| v.len() >= 43));
    out
}

fn sync(oz: &Oz, fake: &GmailFake) -> String {
    let out = oz
        .cmd()
        .envs(env(fake))
        .args(["mail", "sync"])
        .assert()
        .success();
    String::from_utf8_lossy(&out.get_output().stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gmail_connects_syncs_by_history_and_recovers_from_401_429_and_lost_history() {
    let fake = GmailFake::start().await;
    for i in 0..3 {
        fake.add_message(
            &message(
                &format!("g{i}"),
                "Anna <anna@family.example>",
                &format!("Note {i}"),
                "Hello.",
            ),
            &[],
        );
    }
    // Not in the inbox: never read.
    fake.add_message(
        &message("sent", "owner@example.com", "Sent one", "x"),
        &["SENT"],
    );
    let oz = Oz::new();
    oz.ok(&["init"]);
    connect(&oz, &fake).await;
    let token = oz.data.join("gmail-token.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode, 0o600,
            "the refresh token is readable by the owner only"
        );
    }

    let out = sync(&oz, &fake);
    assert!(
        out.contains("gmail:owner@example.com: 3 new messages"),
        "{out}"
    );
    assert!(sync(&oz, &fake).contains(": 0 new messages"));

    // New mail, with an access token that expired and a 429 on the way.
    fake.add_message(&message("g3", "Bo <bo@x.example>", "Bike", "Fixed."), &[]);
    fake.expire_access_tokens();
    fake.throttle_next(1);
    let out = sync(&oz, &fake);
    assert!(out.contains(": 1 new message"), "{out}");

    // Gmail forgot the history we stood at: a full resync, no duplicates.
    fake.add_message(&message("g4", "Cy <cy@x.example>", "Cake", "Sunday."), &[]);
    fake.forget_history_before(fake.history_id() + 1);
    let out = sync(&oz, &fake);
    assert!(out.contains(": 1 new message"), "only the new one: {out}");
    let list = oz
        .cmd()
        .envs(env(&fake))
        .args(["mail", "list", "--json"])
        .assert()
        .success();
    let list: Vec<serde_json::Value> = serde_json::from_slice(&list.get_output().stdout).unwrap();
    assert_eq!(list.len(), 5, "{list:?}");
    assert!(list.iter().all(|m| m["subject"] != "Sent one"));

    // Read-only: every API request was a GET; the secret never printed.
    for (method, path, _) in fake.calls() {
        if path.starts_with("/gmail/v1") {
            assert_eq!(method, "GET", "{method} {path}");
        }
    }

    // Revoked at Google: a clear error, nothing lost.
    fake.revoke();
    let out = oz
        .cmd()
        .envs(env(&fake))
        .args(["mail", "sync"])
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("openzero mail connect gmail"), "{err}");
    assert!(
        !err.contains("refresh-1") && !err.contains("client-secret"),
        "{err}"
    );
    let list = oz
        .cmd()
        .envs(env(&fake))
        .args(["mail", "list", "--json"])
        .assert()
        .success();
    let list: Vec<serde_json::Value> = serde_json::from_slice(&list.get_output().stdout).unwrap();
    assert_eq!(list.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urgent_gmail_reaches_telegram_once_and_a_revoked_grant_is_told_once() {
    let fake = GmailFake::start().await;
    let (api_url, api) = start_fake().await;
    let oz = Oz::new();
    oz.ok(&["init"]);
    oz.ok(&["mail", "rules", "add", "bank.example", "--action", "urgent"]);
    connect(&oz, &fake).await;
    let owner = OWNER.to_string();
    let mut e = env(&fake);
    e.extend([
        ("TELEGRAM_BOT_TOKEN".to_owned(), TOKEN.to_owned()),
        ("TELEGRAM_ALLOWED_USER_ID".to_owned(), owner),
        ("OPENZERO__TELEGRAM__API_BASE_URL".to_owned(), api_url),
        ("EMAIL_POLL_SECS".to_owned(), "10".to_owned()),
    ]);
    let served = common::serve(&oz, &[], e.clone());
    let health = format!("{}/health", served.url);
    let client = reqwest::Client::new();
    let wait_health = |want: &'static str| {
        let (client, health) = (client.clone(), health.clone());
        async move {
            let start = Instant::now();
            loop {
                let h: serde_json::Value = client
                    .get(&health)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                if h["components"]["gmail"]["status"] == want {
                    return h;
                }
                assert!(start.elapsed() < Duration::from_secs(40), "{h}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    wait_health("ok").await;
    fake.add_message(
        &message(
            "fraud",
            "Alerts <alerts@bank.example>",
            "Card payment declined",
            "412.00 EUR declined.",
        ),
        &[],
    );
    let pushed = || {
        sent_to(&api, OWNER)
            .into_iter()
            .filter(|t| t.contains("Card payment declined"))
            .count()
    };
    let start = Instant::now();
    while pushed() == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{}",
            served.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    fake.revoke();
    let h = wait_health("down").await;
    assert!(
        h["components"]["gmail"]["detail"]
            .as_str()
            .unwrap()
            .contains("connect gmail")
    );
    tokio::time::sleep(Duration::from_secs(6)).await; // a retry or two
    let log = served.stop();
    assert_eq!(pushed(), 1, "pushed once");
    let told = sent_to(&api, OWNER)
        .into_iter()
        .filter(|t| t.contains("Gmail is not working"))
        .count();
    assert_eq!(told, 1, "told once");
    assert!(!log.contains("refresh-1") && !log.contains("client-secret-never-logged"));
}

/// A local model: a faithful summary for the lunch mail, an invented one
/// (a name and a sum that are not in it) for the invoice.
async fn summarising_model() -> (String, common::Seen) {
    common::ollama(|req| {
        let user = req["messages"].to_string();
        let answer = if user.contains("invoice") {
            "Peter must pay 999 EUR by Friday."
        } else {
            "Anna invites you to lunch on Sunday at 13:00."
        };
        serde_json::json!({"role": "assistant", "content": answer})
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_mail_is_summarised_by_the_local_model_unless_it_invents() {
    let fake = GmailFake::start().await;
    let (model, prompts) = summarising_model().await;
    fake.add_message(
        &message(
            "lunch",
            "Anna <anna@family.example>",
            "Lunch",
            "Hi!\n\nCome to lunch on Sunday at 13:00, Anna is cooking.",
        ),
        &[],
    );
    fake.add_message(
        &message(
            "inv",
            "Billing <billing@shop.example>",
            "Your invoice",
            "Your invoice of 42.00 EUR is attached.\n\nThanks.",
        ),
        &[],
    );
    let oz = Oz::new();
    oz.ok(&["init"]);
    connect(&oz, &fake).await;
    let mut e = env(&fake);
    e.extend([
        ("LLM_PROVIDER".to_owned(), "ollama".to_owned()),
        ("OLLAMA_BASE_URL".to_owned(), model),
        ("OPENZERO__LLM__MODEL".to_owned(), "m".to_owned()),
    ]);
    oz.cmd()
        .envs(e.clone())
        .args(["mail", "sync"])
        .assert()
        .success();
    let list = oz
        .cmd()
        .envs(e)
        .args(["mail", "list", "--json"])
        .assert()
        .success();
    let list: Vec<serde_json::Value> = serde_json::from_slice(&list.get_output().stdout).unwrap();
    let summary = |s: &str| {
        list.iter()
            .find(|m| m["subject"] == s)
            .unwrap_or_else(|| panic!("{list:?}"))["summary"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        summary("Lunch"),
        "Anna invites you to lunch on Sunday at 13:00."
    );
    assert_eq!(
        summary("Your invoice"),
        "Your invoice of 42.00 EUR is attached.",
        "the invented summary was refused for the mail's own words"
    );
    // The model saw the mail quoted as untrusted data.
    let prompts: Vec<String> = prompts
        .lock()
        .unwrap()
        .iter()
        .map(|r| r["messages"].to_string())
        .collect();
    assert_eq!(prompts.len(), 2, "{prompts:?}");
    assert!(
        prompts
            .iter()
            .all(|p| p.contains("<<<EMAIL (untrusted") && p.contains("| "))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_in_the_middle_of_a_sync_loses_nothing_and_repeats_nothing_unmarked() {
    let fake = GmailFake::start().await;
    let (api_url, api) = start_fake().await;
    let oz = Oz::new();
    oz.ok(&["init"]);
    oz.ok(&["mail", "rules", "add", "bank.example", "--action", "urgent"]);
    connect(&oz, &fake).await;
    let owner = OWNER.to_string();
    let mut e = env(&fake);
    e.extend([
        ("TELEGRAM_BOT_TOKEN".to_owned(), TOKEN.to_owned()),
        ("TELEGRAM_ALLOWED_USER_ID".to_owned(), owner),
        ("OPENZERO__TELEGRAM__API_BASE_URL".to_owned(), api_url),
    ]);
    // Recent urgent mail: all of it is pushed on the first sync.
    const N: usize = 40;
    for i in 0..N {
        fake.add_message(
            &message(
                &format!("alert{i}"),
                "Alerts <alerts@bank.example>",
                &format!("Alert {i:02}"),
                "Declined.",
            ),
            &[],
        );
    }
    // Slow Gmail down so the first sync is still running when it dies.
    fake.throttle_next(6);
    let served = common::serve(&oz, &[], e.clone());
    // (subject, marked as a possible repeat) of every alert sent.
    let pushed = |api: &crate::telegram::Fake| -> Vec<(String, bool)> {
        sent_to(api, OWNER)
            .into_iter()
            .filter_map(|t| {
                let again = t.starts_with('↻');
                let body = if again {
                    t.split_once('\n')?.1.to_owned()
                } else {
                    t
                };
                let subject = body.lines().nth(1)?.to_owned();
                subject.starts_with("Alert ").then_some((subject, again))
            })
            .collect()
    };
    let distinct = |api: &crate::telegram::Fake| {
        pushed(api)
            .into_iter()
            .map(|(s, _)| s)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    let start = Instant::now();
    while fake
        .calls()
        .iter()
        .filter(|c| c.1.contains("format=raw"))
        .count()
        < 5
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{}",
            served.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(served); // kill -9
    let before = pushed(&api).len();
    let served = common::serve(&oz, &[], e);
    let start = Instant::now();
    while distinct(&api) < N {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{} of {N} pushed ({before} before the crash)\n{}",
            distinct(&api),
            served.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    served.stop();
    // Every alert arrived; none twice unmarked. The one message Telegram
    // may have had when the process died is sent again, marked as such.
    let all = pushed(&api);
    assert_eq!(distinct(&api), N, "every alert pushed");
    let mut plain: Vec<&String> = all.iter().filter(|(_, a)| !a).map(|(s, _)| s).collect();
    plain.sort();
    let n = plain.len();
    plain.dedup();
    assert_eq!(plain.len(), n, "an alert pushed twice: {all:?}");
    assert!(all.iter().filter(|(_, a)| *a).count() <= 1, "{all:?}");
    let list = oz
        .cmd()
        .args(["mail", "list", "--urgent", "--json", "-n", "100"])
        .assert()
        .success();
    let list: Vec<serde_json::Value> = serde_json::from_slice(&list.get_output().stdout).unwrap();
    assert_eq!(list.len(), N);
}

/// A proxy in front of the real llama.cpp server that counts the chat
/// requests it passes on (to know the model was asked).
async fn counting_proxy(
    upstream: String,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use axum::routing::post;
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |body: String| {
            let (upstream, seen) = (upstream.clone(), seen.clone());
            async move {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let resp = reqwest::Client::new()
                    .post(format!(
                        "{}/chat/completions",
                        upstream.trim_end_matches('/')
                    ))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let ct = resp
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("application/json")
                    .to_owned();
                let bytes = resp.bytes().await.unwrap();
                ([("content-type", ct)], bytes.to_vec())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_llama_cpp_model_summarises_new_mail_and_invents_nothing() {
    let Ok(llama) = std::env::var("OPENZERO_TEST_LLAMACPP_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "OPENZERO_TEST_LLAMACPP_URL is not set: the llama.cpp tests must run in CI"
        );
        eprintln!("skipped: no llama.cpp server (scripts/test starts one)");
        return;
    };
    let (proxy, asked) = counting_proxy(llama).await;
    let fake = GmailFake::start().await;
    let body = "Hello,\n\nThe school trip to the science museum is on Friday 12 December. \
                The bus leaves at 8:15 from the main gate.\n\nMrs Patel";
    fake.add_message(
        &message(
            "trip",
            "Mrs Patel <patel@school.example>",
            "School trip",
            body,
        ),
        &[],
    );
    let oz = Oz::new();
    oz.ok(&["init"]);
    connect(&oz, &fake).await;
    let mut e = env(&fake);
    e.extend([
        ("LLM_PROVIDER".to_owned(), "llamacpp".to_owned()),
        ("OPENAI_BASE_URL".to_owned(), proxy),
    ]);
    oz.cmd()
        .envs(e.clone())
        .args(["mail", "sync"])
        .assert()
        .success();
    assert_eq!(
        asked.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the model was asked once"
    );
    let list = oz
        .cmd()
        .envs(e)
        .args(["mail", "list", "--json"])
        .assert()
        .success();
    let list: Vec<serde_json::Value> = serde_json::from_slice(&list.get_output().stdout).unwrap();
    let summary = list[0]["summary"].as_str().unwrap().to_owned();
    assert!(!summary.trim().is_empty());
    assert!(summary.chars().count() <= 200, "{summary}");
    // Whatever the small model wrote, what was kept invents no number.
    for n in summary
        .split(|c: char| !c.is_ascii_digit())
        .filter(|d| !d.is_empty())
    {
        assert!(body.contains(n), "invented {n}: {summary}");
    }
}
