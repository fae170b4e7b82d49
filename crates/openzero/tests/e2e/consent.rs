//! Consent before disclosure, end to end through the binary: a request to a
//! cloud model never leaves without the owner's `y`; what leaves is exactly
//! what was shown, identifiers redacted; every disclosure is logged with the
//! SHA-256 of the bytes the provider actually received.
//!
//! The cloud is a fake speaking OpenAI's chat-completions stream on
//! loopback, recording every request byte for byte. The `openai` provider
//! counts as cloud whatever its address.

use crate::common;

use std::sync::{Arc, Mutex};

use common::Oz;
use predicates::prelude::*;

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    authorization: Option<String>,
    pub(crate) body: Vec<u8>,
}

/// An OpenAI-shaped cloud on loopback. Answers with `reply` streamed in
/// pieces that split a placeholder, or with HTTP `fail` when given.
pub(crate) async fn fake_cloud(
    reply: &'static [&'static str],
    fail: Option<u16>,
) -> (String, Arc<Mutex<Vec<Seen>>>) {
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::post;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(Seen {
                    authorization: headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned),
                    body: body.to_vec(),
                });
                if let Some(code) = fail {
                    let err = serde_json::json!({"error": {"message": "The server had an error", "type": "server_error"}});
                    return (StatusCode::from_u16(code).unwrap(), err.to_string()).into_response();
                }
                let mut out = String::new();
                for piece in reply {
                    let v = serde_json::json!({"id": "chatcmpl-1", "object": "chat.completion.chunk",
                        "created": 1, "model": "gpt-test",
                        "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": null}]});
                    out.push_str(&format!("data: {v}\n\n"));
                }
                let end = serde_json::json!({"id": "chatcmpl-1", "object": "chat.completion.chunk",
                    "created": 1, "model": "gpt-test",
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
                out.push_str(&format!("data: {end}\n\ndata: [DONE]\n\n"));
                ([("content-type", "text/event-stream")], out).into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), seen)
}

pub(crate) const REPLY: &[&str] = &["Write to [em", "ail 1] before ", "Friday."];

/// The owner's world: a memory with identifiers and a project.
fn owner() -> Arc<Oz> {
    let oz = Oz::new();
    oz.ok(&["init"]);
    oz.ok(&[
        "memory",
        "add",
        "My landlord Anna: anna.landlord@example.org, +49 30 1234567, Hauptstraße 5",
    ]);
    oz.ok(&["project", "add", "Move flat", "--progress", "40"]);
    Arc::new(oz)
}

/// Runs `openzero ARGS` against the fake with `stdin` (None: no input).
async fn run(oz: &Arc<Oz>, base: &str, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let oz = oz.clone();
    let base = base.to_owned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let stdin = stdin.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let mut c = oz.cmd();
        c.env("DEEP_THINK_PROVIDER", "openai")
            .env("DEEP_THINK_MODEL", "gpt-test")
            .env("OPENAI_BASE_URL", &base)
            .env("OPENAI_API_KEY", "sk-test-secret")
            .args(&args);
        if let Some(s) = stdin {
            c.write_stdin(s);
        }
        c.output().unwrap()
    })
    .await
    .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const QUESTION: &str = "When should I write to my landlord Anna about the move?";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_leaves_without_approval() {
    let (base, seen) = fake_cloud(REPLY, None).await;
    let oz = owner();

    // The owner says no.
    let out = run(&oz, &base, &["think", QUESTION], Some("n\n")).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("openai (gpt-test)"), "{err}");
    assert!(err.contains("memory #1"), "the memory is listed: {err}");
    assert!(
        err.contains("[email 1]") && !err.contains("anna.landlord@example.org"),
        "{err}"
    );
    assert!(err.contains("Cancelled: nothing was sent"), "{err}");

    // No answer at all (no terminal): the thought waits.
    let out = run(&oz, &base, &["think", QUESTION], None).await;
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains("Not sent. Thought #2 waits"),
        "{}",
        text(&out.stderr)
    );

    // Chat with a cloud provider asks too.
    let out = {
        let oz2 = oz.clone();
        let base2 = base.clone();
        tokio::task::spawn_blocking(move || {
            oz2.cmd()
                .env("LLM_PROVIDER", "openai")
                .env("OPENAI_BASE_URL", &base2)
                .env("OPENAI_API_KEY", "sk-test-secret")
                .args(["chat", "what are my projects?"])
                .write_stdin("no\n")
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("Move flat"),
        "{}",
        text(&out.stderr)
    );

    assert!(
        seen.lock().unwrap().is_empty(),
        "the cloud received a request"
    );
    let list = run(&oz, &base, &["thoughts", "list", "--json"], None).await;
    let states: Vec<String> = text(&list.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["state"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(states, ["cancelled", "pending", "cancelled"]);
    let log = run(&oz, &base, &["disclosures"], None).await;
    assert!(text(&log.stdout).contains("Nothing was ever sent"));
    // The key never shows.
    for o in [&out, &list, &log] {
        assert!(
            !text(&o.stdout).contains("sk-test-secret")
                && !text(&o.stderr).contains("sk-test-secret")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_leaves_is_what_was_shown_and_it_is_logged() {
    let (base, seen) = fake_cloud(REPLY, None).await;
    let oz = owner();
    let out = run(&oz, &base, &["think", QUESTION], Some("y\n")).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The answer comes back with the identifier put back, locally.
    assert_eq!(
        text(&out.stdout).trim(),
        "Write to anna.landlord@example.org before Friday."
    );

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "exactly one request");
    let body = text(&seen[0].body);
    for secret in ["anna.landlord@example.org", "1234567", "Hauptstraße 5"] {
        assert!(!body.contains(secret), "{secret} left the machine: {body}");
    }
    assert!(
        body.contains("[email 1]") && body.contains("[phone 1]") && body.contains("[address 1]")
    );
    assert!(
        body.contains("Move flat"),
        "the relevant project went along"
    );
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some("Bearer sk-test-secret")
    );

    // The log holds the hash of exactly the bytes the cloud received.
    let log = run(&oz, &base, &["disclosures", "--json"], None).await;
    let lines: Vec<serde_json::Value> = text(&log.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    let d = &lines[0];
    assert_eq!(
        d["sha256"].as_str().unwrap(),
        openzero_core::consent::sha256_hex(&seen[0].body)
    );
    assert_eq!(d["bytes"].as_u64().unwrap(), seen[0].body.len() as u64);
    assert_eq!(d["provider"], "openai");
    assert_eq!(d["model"], "gpt-test");
    assert_eq!(d["approved_by"], "owner (terminal)");
    assert_eq!(d["outcome"], "answered");
    let items: Vec<&str> = d["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap())
        .collect();
    assert!(
        items.contains(&"your question") && items.iter().any(|i| i.starts_with("memory #1")),
        "{items:?}"
    );
    let human = run(&oz, &base, &["disclosures"], None).await;
    assert!(text(&human.stdout).contains(d["sha256"].as_str().unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_thought_is_granted_once() {
    let (base, seen) = fake_cloud(REPLY, None).await;
    let oz = owner();
    let out = run(&oz, &base, &["think", QUESTION], None).await;
    assert!(text(&out.stderr).contains("Thought #1 waits"));
    let show = run(&oz, &base, &["thoughts", "show", "1"], None).await;
    assert!(
        text(&show.stderr).contains("State: pending"),
        "{}",
        text(&show.stderr)
    );

    let first = run(&oz, &base, &["thoughts", "grant", "1"], None).await;
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(text(&first.stdout).contains("anna.landlord@example.org"));
    let again = run(&oz, &base, &["thoughts", "grant", "1"], None).await;
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("already answered"),
        "{}",
        text(&again.stderr)
    );
    let cancel = run(&oz, &base, &["thoughts", "cancel", "1"], None).await;
    assert_eq!(cancel.status.code(), Some(1));
    assert_eq!(seen.lock().unwrap().len(), 1, "a double grant sent twice");
    let missing = run(&oz, &base, &["thoughts", "grant", "99"], None).await;
    assert!(text(&missing.stderr).contains("does not exist"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_cloud_is_logged_and_reported() {
    let (base, seen) = fake_cloud(REPLY, Some(400)).await;
    let oz = owner();
    let out = run(&oz, &base, &["think", QUESTION], Some("y\n")).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("HTTP 400"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
    // The bytes did leave, so the disclosure is on record, with the failure.
    let log = run(&oz, &base, &["disclosures", "--json"], None).await;
    let d: serde_json::Value =
        serde_json::from_str(text(&log.stdout).lines().next().unwrap()).unwrap();
    assert!(d["outcome"].as_str().unwrap().starts_with("failed"), "{d}");
    let list = run(&oz, &base, &["thoughts", "list", "--json"], None).await;
    assert!(
        text(&list.stdout).contains("\"state\":\"failed\""),
        "{}",
        text(&list.stdout)
    );
}

#[test]
fn a_cloud_provider_without_a_key_is_named() {
    let oz = Oz::new();
    oz.ok(&["init"]);
    oz.cmd()
        .env("DEEP_THINK_PROVIDER", "groq")
        .args(["think", "anything"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("GROQ_API_KEY"));
}

/// A Gemini-shaped cloud on loopback (`streamGenerateContent?alt=sse`).
async fn fake_gemini() -> (String, Arc<Mutex<Vec<Seen>>>) {
    use axum::http::HeaderMap;
    use axum::routing::post;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = seen.clone();
    let app = axum::Router::new().route(
        "/v1beta/models/{call}",
        post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(Seen {
                    authorization: headers
                        .get("x-goog-api-key")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned),
                    body: body.to_vec(),
                });
                let ev = serde_json::json!({"candidates": [{"content": {"parts": [{"text": "Ask [email 1] today."}], "role": "model"},
                    "finishReason": "STOP", "index": 0}],
                    "usageMetadata": {"promptTokenCount": 40, "candidatesTokenCount": 5, "totalTokenCount": 45}});
                ([("content-type", "text/event-stream")], format!("data: {ev}\r\n\r\n"))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_is_cloud_and_asks_first() {
    let (base, seen) = fake_gemini().await;
    let oz = owner();
    let go = |answer: &'static str| {
        let oz = oz.clone();
        let base = base.clone();
        tokio::task::spawn_blocking(move || {
            oz.cmd()
                .env("DEEP_THINK_PROVIDER", "gemini")
                .env("OPENZERO__LLM__GEMINI_BASE_URL", &base)
                .env("GEMINI_API_KEY", "AIza-test-secret")
                .args(["think", QUESTION])
                .write_stdin(answer)
                .output()
                .unwrap()
        })
    };
    let no = go("n\n").await.unwrap();
    assert!(
        text(&no.stderr).contains("gemini (gemini-2.0-flash)"),
        "{}",
        text(&no.stderr)
    );
    assert!(seen.lock().unwrap().is_empty());
    let yes = go("y\n").await.unwrap();
    assert!(yes.status.success(), "{}", text(&yes.stderr));
    assert_eq!(
        text(&yes.stdout).trim(),
        "Ask anna.landlord@example.org today."
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].authorization.as_deref(), Some("AIza-test-secret"));
    assert!(!text(&seen[0].body).contains("anna.landlord@example.org"));
    let log = run(&oz, &base, &["disclosures", "--json"], None).await;
    let d: serde_json::Value =
        serde_json::from_str(text(&log.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(d["provider"], "gemini");
    assert_eq!(
        d["sha256"].as_str().unwrap(),
        openzero_core::consent::sha256_hex(&seen[0].body)
    );
}
