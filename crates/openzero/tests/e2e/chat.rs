//! `openzero chat` end to end: Z answers offline from the embedded model
//! with the owner's projects and memories in the prompt, keeps the
//! conversation, and explains a missing model or provider.

use crate::common;

use common::Oz;
use predicates::prelude::*;

/// The models scripts/test prepared; required in CI.
fn models() -> Option<(String, String)> {
    match (
        std::env::var("OPENZERO_TEST_CHAT_MODEL"),
        std::env::var("OPENZERO_TEST_MINILM_DIR"),
    ) {
        (Ok(chat), Ok(minilm)) => Some((chat, minilm)),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "OPENZERO_TEST_CHAT_MODEL and OPENZERO_TEST_MINILM_DIR must be set in CI"
            );
            eprintln!("skipped: model paths not set (scripts/test sets them)");
            None
        }
    }
}

fn with_models(oz: &Oz, chat: &str, minilm: &str, args: &[&str]) -> assert_cmd::assert::Assert {
    oz.cmd()
        .env("OPENZERO__LLM__MODEL", chat)
        .env("OPENZERO__MEMORY__MODEL_DIR", minilm)
        .env("OPENZERO__LLM__MAX_TOKENS", "40")
        .timeout(std::time::Duration::from_secs(300))
        .args(args)
        .assert()
}

#[test]
fn chat_answers_offline_with_the_project_tree_in_context() {
    let Some((chat, minilm)) = models() else {
        return;
    };
    let oz = Oz::new();
    oz.ok(&["init"])
        .stdout(predicate::str::contains("persona.md"));
    assert!(oz.data.join("persona.md").is_file(), "persona is editable");
    oz.ok(&["project", "add", "Career", "--priority", "1"]);
    oz.ok(&["project", "add", "Marathon training", "--progress", "40"]);
    let out = with_models(&oz, &chat, &minilm, &["chat", "what are my projects?"])
        .success()
        .get_output()
        .stdout
        .clone();
    let answer = String::from_utf8(out).unwrap();
    assert!(
        answer.contains("Marathon training") && answer.contains("Career"),
        "the projects came from the prompt: {answer}"
    );
    // No network was needed: the environment was cleared and nothing but
    // the two model files was given. The conversation was kept.
    let db = oz.data.join("openzero.db");
    let conn = rusqlite_free_read(&db);
    assert!(conn.contains("what are my projects?"), "owner's turn kept");
}

#[test]
fn chat_reads_the_message_from_stdin() {
    let Some((chat, minilm)) = models() else {
        return;
    };
    let oz = Oz::new();
    oz.ok(&["init"]);
    oz.cmd()
        .env("OPENZERO__LLM__MODEL", &chat)
        .env("OPENZERO__MEMORY__MODEL_DIR", &minilm)
        .env("OPENZERO__LLM__MAX_TOKENS", "8")
        .timeout(std::time::Duration::from_secs(300))
        .args(["chat", "-"])
        .write_stdin("What is the capital of France?")
        .assert()
        .success()
        .stdout(predicate::str::contains("Paris"));
}

#[test]
fn missing_chat_model_says_how_to_get_it() {
    let oz = Oz::new();
    oz.ok(&["init"]);
    oz.fails(&["chat", "hello"])
        .stderr(predicate::str::contains("fetch-models"))
        .stderr(predicate::str::contains("SmolLM2-135M-Instruct.Q4_1.gguf"));
}

/// An Ollama-shaped fake on loopback (native `/api/chat`, NDJSON stream)
/// that keeps the request bodies.
async fn fake_ollama() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
) {
    use axum::routing::post;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = seen.clone();
    let app = axum::Router::new().route(
        "/api/chat",
        post(move |body: String| {
            let kept = kept.clone();
            async move {
                kept.lock()
                    .unwrap()
                    .push(serde_json::from_str(&body).unwrap());
                let piece = |c: &str, done: bool| {
                    let mut v = serde_json::json!({"model": "llama3.2",
                        "created_at": "2026-11-24T07:00:00Z",
                        "message": {"role": "assistant", "content": c}, "done": done});
                    if done {
                        v["done_reason"] = "stop".into();
                    }
                    format!("{v}\n")
                };
                let body = format!(
                    "{}{}{}",
                    piece("Marathon training ", false),
                    piece("is your only project.", false),
                    piece("", true)
                );
                ([("content-type", "application/x-ndjson")], body)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_through_ollama_native_api() {
    let (base, seen) = fake_ollama().await;
    let oz = Oz::new();
    oz.ok(&["init"]);
    oz.ok(&["project", "add", "Marathon training", "--progress", "40"]);
    let oz = std::sync::Arc::new(oz);
    let run = oz.clone();
    let out = tokio::task::spawn_blocking(move || {
        run.cmd()
            .env("LLM_PROVIDER", "ollama")
            .env("OLLAMA_BASE_URL", &base)
            .env("OPENZERO__LLM__MODEL", "llama3.2")
            .args(["chat", "what are my projects?"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    })
    .await
    .unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap().trim(),
        "Marathon training is your only project."
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "a local Ollama needs no approval");
    assert_eq!(seen[0]["model"], "llama3.2");
    let msgs = seen[0]["messages"].as_array().unwrap();
    let prompt = msgs.last().unwrap()["content"].as_str().unwrap();
    assert!(
        prompt.contains("Marathon training (active, 40% done)"),
        "{prompt}"
    );
}

#[test]
fn a_dead_model_server_is_a_clear_error_and_the_message_is_kept() {
    let oz = Oz::new();
    oz.ok(&["init"]);
    oz.cmd()
        .env("LLM_PROVIDER", "llamacpp")
        .env("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
        .args(["chat", "remember to call the plumber"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("I could not answer"))
        .stderr(predicate::str::contains("127.0.0.1:1"));
    let db = rusqlite_free_read(&oz.data.join("openzero.db"));
    assert!(
        db.contains("remember to call the plumber"),
        "the owner's words are kept"
    );
}

/// A llama.cpp-server-shaped fake on loopback: answers every chat request
/// with a fixed streamed reply and keeps the request bodies.
async fn fake_llamacpp() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
) {
    use axum::routing::post;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |body: String| {
            let kept = kept.clone();
            async move {
                kept.lock()
                    .unwrap()
                    .push(serde_json::from_str(&body).unwrap());
                let piece = |c: &str, f: Option<&str>| {
                    let v = serde_json::json!({"id": "x", "object": "chat.completion.chunk",
                        "created": 1, "model": "m",
                        "choices": [{"index": 0, "delta": {"content": c}, "finish_reason": f}]});
                    format!("data: {v}\n\n")
                };
                let body = format!(
                    "{}{}{}data: [DONE]\n\n",
                    piece("You have two ", None),
                    piece("projects.", None),
                    piece("", Some("stop"))
                );
                ([("content-type", "text/event-stream")], body)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_through_a_local_openai_compatible_server() {
    let (base, seen) = fake_llamacpp().await;
    let oz = Oz::new();
    oz.ok(&["init"]);
    oz.ok(&["project", "add", "Marathon training", "--progress", "40"]);
    let oz = std::sync::Arc::new(oz);
    let run = oz.clone();
    let url = base.clone();
    let out = tokio::task::spawn_blocking(move || {
        run.cmd()
            .env("LLM_PROVIDER", "llamacpp")
            .env("OPENAI_BASE_URL", &url)
            .args(["chat", "what are my projects?"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    })
    .await
    .unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap().trim(),
        "You have two projects."
    );
    let seen = seen.lock().unwrap();
    let last = seen[0]["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    let prompt = last["content"].as_str().unwrap();
    assert!(
        prompt.contains("Marathon training (active, 40% done)"),
        "{prompt}"
    );
    assert!(prompt.ends_with("what are my projects?"), "{prompt}");
    assert_eq!(seen[0]["stream"], true);
}

/// The database file's bytes as text (the WAL is checkpointed on close), to
/// check what was stored without linking a SQLite client into the test.
fn rusqlite_free_read(db: &std::path::Path) -> String {
    let mut all = std::fs::read(db).unwrap();
    let wal = db.with_extension("db-wal");
    if let Ok(w) = std::fs::read(wal) {
        all.extend(w);
    }
    String::from_utf8_lossy(&all).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_primary_falls_back_to_the_next_local_model() {
    let (ollama, seen) = fake_ollama().await;
    // Anything reaching this "cloud" is a leak.
    let leaks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = leaks.clone();
    let cloud = axum::Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            "no"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cloud_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, cloud).await.unwrap() });

    let oz = Oz::new();
    oz.ok(&["init"]);
    oz.ok(&["project", "add", "Marathon training"]);
    let oz = std::sync::Arc::new(oz);
    let run = oz.clone();
    let out = tokio::task::spawn_blocking(move || {
        run.cmd()
            .env("LLM_PROVIDER", "llamacpp")
            .env("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
            .env("OPENZERO__LLM__FALLBACKS", "gemini, ollama:llama3.2")
            .env("OPENZERO__LLM__GEMINI_BASE_URL", &cloud_url)
            .env("GEMINI_API_KEY", "AIza-never-used")
            .env("OLLAMA_BASE_URL", &ollama)
            .args(["chat", "what are my projects?"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "Marathon training is your only project.");
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "the Ollama fallback answered"
    );
    assert_eq!(
        leaks.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a cloud model was used as a fallback"
    );
}

#[test]
fn an_unknown_fallback_is_named() {
    let oz = Oz::new();
    oz.ok(&["init"]);
    oz.cmd()
        .env("OPENZERO__LLM__FALLBACKS", "embedded, olama")
        .args(["chat", "hi"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("unknown provider 'olama'"));
}

/// An OpenAI-compatible fake on loopback that writes a recognisable
/// summary when asked for one and a long answer otherwise; keeps bodies.
async fn fake_summarising_server() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
) {
    use axum::routing::post;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |body: String| {
            let kept = kept.clone();
            async move {
                let req: serde_json::Value = serde_json::from_str(&body).unwrap();
                let summary = req["messages"][0]["content"]
                    .as_str()
                    .unwrap_or("")
                    .contains("running summary");
                kept.lock().unwrap().push(req);
                let text = if summary {
                    "SUMMARY: the owner is training for the Berlin marathon.".to_owned()
                } else {
                    format!("Noted. {}", "Keep going with the plan. ".repeat(12))
                };
                let v = serde_json::json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": "stop"}]});
                (
                    [("content-type", "text/event-stream")],
                    format!("data: {v}\n\ndata: [DONE]\n\n"),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_turns_are_summarised_not_dropped() {
    let (base, seen) = fake_summarising_server().await;
    let oz = std::sync::Arc::new(Oz::new());
    oz.ok(&["init"]);
    for i in 0..6 {
        let run = oz.clone();
        let url = base.clone();
        tokio::task::spawn_blocking(move || {
            run.cmd()
                .env("LLM_PROVIDER", "llamacpp")
                .env("OPENAI_BASE_URL", &url)
                .args([
                    "chat",
                    &format!(
                        "Day {i} of my Berlin marathon plan: {}",
                        "ran easy miles. ".repeat(10)
                    ),
                ])
                .assert()
                .success();
        })
        .await
        .unwrap();
    }
    let seen = seen.lock().unwrap().clone();
    let asked_for_summary = seen
        .iter()
        .filter(|r| {
            r["messages"][0]["content"]
                .as_str()
                .unwrap_or("")
                .contains("running summary")
        })
        .count();
    assert!(asked_for_summary >= 1, "no summary was ever made");
    // The last chat request carries the summary, and the first day's words
    // are no longer sent verbatim.
    let last_chat = seen
        .iter()
        .rev()
        .find(|r| {
            !r["messages"][0]["content"]
                .as_str()
                .unwrap_or("")
                .contains("running summary")
        })
        .unwrap();
    let prompt = last_chat["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        prompt.contains(
            "Earlier in our conversation:\nSUMMARY: the owner is training for the Berlin marathon."
        ),
        "{prompt}"
    );
    let all_text = serde_json::to_string(&last_chat["messages"]).unwrap();
    assert!(
        !all_text.contains("Day 0 of my"),
        "the oldest turn is folded, not repeated"
    );
    // The summary request carried the folded turns themselves.
    let first_summary = seen
        .iter()
        .find(|r| {
            r["messages"][0]["content"]
                .as_str()
                .unwrap_or("")
                .contains("running summary")
        })
        .unwrap();
    assert!(
        first_summary["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("Owner: Day 0 of my Berlin marathon plan")
    );
}
