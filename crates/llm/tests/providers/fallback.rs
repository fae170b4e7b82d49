//! The fallback chain with real HTTP providers against local fakes: the
//! next model answers when the primary fails, the failed primary rests,
//! the chain returns to the primary once it recovers, an answer that broke
//! off mid-stream is not glued to another model's, and when all fail the
//! error names every model and why.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use openzero_core::agent::{ChatMessage, Role};
use openzero_llm::fallback::Fallback;
use openzero_llm::openai::OpenAiCompatible;
use openzero_llm::{ChatModel, ChatRequest, Locality};

/// An OpenAI-compatible fake answering `text`, or 503 while `down` is set,
/// or half an answer and a dropped stream when `breaks` is set.
struct Fake {
    url: String,
    hits: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
}

async fn fake(text: &'static str, breaks: bool) -> Fake {
    let hits = Arc::new(AtomicUsize::new(0));
    let down = Arc::new(AtomicBool::new(false));
    let (h, d) = (hits.clone(), down.clone());
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move || {
            let (h, d) = (h.clone(), d.clone());
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                if d.load(Ordering::SeqCst) {
                    return (StatusCode::SERVICE_UNAVAILABLE, r#"{"error":{"message":"overloaded"}}"#)
                        .into_response();
                }
                let chunk = |c: &str, f: Option<&str>| {
                    let v = serde_json::json!({"choices": [{"index": 0, "delta": {"content": c}, "finish_reason": f}]});
                    format!("data: {v}\n\n")
                };
                let body = if breaks {
                    chunk("Half an ans", None)
                } else {
                    format!("{}{}data: [DONE]\n\n", chunk(text, None), chunk("", Some("stop")))
                };
                ([("content-type", "text/event-stream")], body).into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Fake {
        url: format!("http://{addr}/v1"),
        hits,
        down,
    }
}

fn model(name: &str, url: &str) -> Arc<dyn ChatModel> {
    Arc::new(
        OpenAiCompatible::new(name, url, None, "m", Duration::from_secs(2))
            .unwrap()
            .with_retries(0),
    )
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::new(Role::User, "hello")],
        max_tokens: 16,
        temperature: 0.0,
        tools: Vec::new(),
    }
}

#[tokio::test]
async fn falls_back_rests_the_primary_and_returns_to_it() {
    let primary = fake("from the primary", false).await;
    let second = fake("from the fallback", false).await;
    let chain = Fallback::new(
        vec![model("primary", &primary.url), model("second", &second.url)],
        Duration::from_millis(600),
    )
    .unwrap();
    assert_eq!(chain.info().provider, "primary");
    assert_eq!(chain.info().locality, Locality::Local);

    assert_eq!(
        chain.chat(request(), None).await.unwrap().text,
        "from the primary"
    );

    primary.down.store(true, Ordering::SeqCst);
    assert_eq!(
        chain.chat(request(), None).await.unwrap().text,
        "from the fallback"
    );
    assert_eq!(primary.hits.load(Ordering::SeqCst), 2);

    // Resting: the primary is not asked again during its cooldown.
    primary.down.store(false, Ordering::SeqCst);
    assert_eq!(
        chain.chat(request(), None).await.unwrap().text,
        "from the fallback"
    );
    assert_eq!(
        primary.hits.load(Ordering::SeqCst),
        2,
        "asked while resting"
    );

    // After the cooldown the primary, recovered, answers again.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        chain.chat(request(), None).await.unwrap().text,
        "from the primary"
    );
    assert_eq!(second.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn when_all_fail_every_model_is_named() {
    let primary = fake("x", false).await;
    primary.down.store(true, Ordering::SeqCst);
    let chain = Fallback::new(
        vec![
            model("primary", &primary.url),
            model("second", "http://127.0.0.1:1/v1"),
        ],
        Duration::from_secs(60),
    )
    .unwrap();
    let msg = chain.chat(request(), None).await.unwrap_err().to_string();
    assert!(msg.contains("no model could answer"), "{msg}");
    assert!(
        msg.contains("primary (m)") && msg.contains("HTTP 503") && msg.contains("overloaded"),
        "{msg}"
    );
    assert!(
        msg.contains("second (m)") && msg.contains("cannot connect"),
        "{msg}"
    );
    // All resting: they are still tried rather than giving no answer.
    primary.down.store(false, Ordering::SeqCst);
    assert_eq!(chain.chat(request(), None).await.unwrap().text, "x");
}

#[tokio::test]
async fn an_answer_that_broke_off_is_not_continued_by_another_model() {
    let broken = fake("", true).await;
    let second = fake("a whole answer", false).await;
    let chain = Fallback::new(
        vec![model("primary", &broken.url), model("second", &second.url)],
        Duration::from_secs(60),
    )
    .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let err = chain.chat(request(), Some(tx)).await.unwrap_err();
    assert!(err.to_string().contains("broke off"), "{err}");
    assert_eq!(rx.recv().await.as_deref(), Some("Half an ans"));
    assert_eq!(second.hits.load(Ordering::SeqCst), 0);
    // The primary rests; the fallback answers the next message.
    assert_eq!(
        chain.chat(request(), None).await.unwrap().text,
        "a whole answer"
    );
}
