//! The Gemini provider against a local fake speaking the documented
//! `streamGenerateContent?alt=sse` format (each event a whole
//! GenerateContentResponse, no `[DONE]`, `finishReason` and
//! `usageMetadata` last; `x-goog-api-key`; errors as
//! `{"error": {"code", "message", "status", "details"}}` with
//! `google.rpc.RetryInfo`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use openzero_core::agent::{ChatMessage, Role};
use openzero_llm::gemini::Gemini;
use openzero_llm::{ChatModel, ChatRequest, Finish, Locality};

#[derive(Clone)]
enum Reply {
    /// Text pieces, then the finish reason.
    Stream(Vec<&'static str>, &'static str),
    /// 429 RESOURCE_EXHAUSTED with a RetryInfo delay.
    Quota(&'static str),
    Status(u16),
    Hang,
    Raw(&'static str),
}

type Seen = Arc<Mutex<Vec<(String, HeaderMap, serde_json::Value)>>>;

fn event(text: &str, finish: Option<&str>, usage: bool) -> String {
    let mut cand =
        serde_json::json!({"content": {"parts": [{"text": text}], "role": "model"}, "index": 0});
    if let Some(f) = finish {
        cand["finishReason"] = f.into();
    }
    let mut v = serde_json::json!({"candidates": [cand], "modelVersion": "gemini-2.0-flash"});
    if usage {
        v["usageMetadata"] = serde_json::json!({"promptTokenCount": 9, "candidatesTokenCount": 4, "totalTokenCount": 13});
    }
    format!("data: {v}\r\n\r\n")
}

async fn start(replies: Vec<Reply>) -> (String, Seen) {
    let replies = Arc::new(Mutex::new(replies));
    let seen: Seen = Arc::default();
    let kept = seen.clone();
    let app = axum::Router::new().route(
        "/v1beta/models/{call}",
        post(move |Path(call): Path<String>, headers: HeaderMap, body: String| {
            let replies = replies.clone();
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push((call, headers, serde_json::from_str(&body).unwrap()));
                let reply = {
                    let mut r = replies.lock().unwrap();
                    if r.len() > 1 { r.remove(0) } else { r[0].clone() }
                };
                match reply {
                    Reply::Stream(pieces, finish) => {
                        let mut out = String::new();
                        for (i, p) in pieces.iter().enumerate() {
                            let last = i + 1 == pieces.len();
                            out.push_str(&event(p, last.then_some(finish), last));
                        }
                        if pieces.is_empty() {
                            out.push_str(&event("", Some(finish), true));
                        }
                        ([("content-type", "text/event-stream")], out).into_response()
                    }
                    Reply::Quota(delay) => {
                        let err = serde_json::json!({"error": {"code": 429,
                            "message": "Resource has been exhausted (e.g. check quota).",
                            "status": "RESOURCE_EXHAUSTED",
                            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}]}});
                        (StatusCode::TOO_MANY_REQUESTS, err.to_string()).into_response()
                    }
                    Reply::Status(code) => {
                        let err = serde_json::json!({"error": {"code": code,
                            "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT"}});
                        (StatusCode::from_u16(code).unwrap(), err.to_string()).into_response()
                    }
                    Reply::Hang => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        "too late".into_response()
                    }
                    Reply::Raw(text) => ([("content-type", "text/event-stream")], text).into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![
            ChatMessage::new(Role::System, "You are Z."),
            ChatMessage::new(Role::User, "hello"),
            ChatMessage::new(Role::Assistant, "Hi."),
            ChatMessage::new(Role::User, "what now?"),
        ],
        max_tokens: 64,
        temperature: 0.2,
        tools: Vec::new(),
    }
}

fn provider(base: &str) -> Gemini {
    Gemini::new(
        base,
        "AIza-test-key",
        "gemini-2.0-flash",
        Duration::from_secs(2),
    )
    .unwrap()
}

#[tokio::test]
async fn streams_the_answer_and_sends_the_documented_request() {
    let (base, seen) = start(vec![Reply::Stream(vec!["Take ", "a walk", "."], "STOP")]).await;
    let p = provider(&base);
    assert_eq!(
        p.info().locality,
        Locality::Cloud,
        "Gemini is cloud, even on loopback"
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let r = p.chat(request(), Some(tx)).await.unwrap();
    assert_eq!(r.text, "Take a walk.");
    assert_eq!((r.prompt_tokens, r.completion_tokens), (9, 4));
    assert_eq!(r.finish, Finish::Stop);
    let mut pieces = Vec::new();
    while let Ok(p) = rx.try_recv() {
        pieces.push(p);
    }
    assert_eq!(pieces, ["Take ", "a walk", "."]);
    let (call, headers, body) = &seen.lock().unwrap()[0];
    assert_eq!(call, "gemini-2.0-flash:streamGenerateContent");
    assert_eq!(headers["x-goog-api-key"], "AIza-test-key");
    assert_eq!(body["systemInstruction"]["parts"][0]["text"], "You are Z.");
    let roles: Vec<&str> = body["contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "model", "user"]);
    assert_eq!(body["contents"][2]["parts"][0]["text"], "what now?");
    assert_eq!(body["generationConfig"]["maxOutputTokens"], 64);
    assert!(
        !format!("{p:?}").contains("AIza-test-key"),
        "key hidden from Debug"
    );
}

#[tokio::test]
async fn max_tokens_is_a_length_finish() {
    let (base, _) = start(vec![Reply::Stream(vec!["a"], "MAX_TOKENS")]).await;
    assert_eq!(
        provider(&base).chat(request(), None).await.unwrap().finish,
        Finish::Length
    );
}

#[tokio::test]
async fn quota_errors_wait_the_retry_delay_gemini_asks_for() {
    let (base, seen) = start(vec![
        Reply::Quota("1.2s"),
        Reply::Stream(vec!["ok"], "STOP"),
    ])
    .await;
    let started = Instant::now();
    let r = provider(&base).chat(request(), None).await.unwrap();
    assert_eq!(r.text, "ok");
    assert!(
        started.elapsed() >= Duration::from_millis(1200),
        "retryDelay honoured"
    );
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn server_errors_give_up_after_the_retries() {
    let (base, seen) = start(vec![Reply::Status(503)]).await;
    let err = provider(&base)
        .with_retries(1)
        .chat(request(), None)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("HTTP 503") && err.to_string().contains("after 2 attempts"),
        "{err}"
    );
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_bad_key_is_reported_with_googles_message() {
    let (base, seen) = start(vec![Reply::Status(400)]).await;
    let err = provider(&base).chat(request(), None).await.unwrap_err();
    assert!(err.to_string().contains("API key not valid"), "{err}");
    assert!(!err.to_string().contains("AIza-test-key"), "{err}");
    assert_eq!(seen.lock().unwrap().len(), 1, "a 400 is not retried");
}

#[tokio::test]
async fn a_hanging_server_is_a_timeout_not_a_hang() {
    let (base, _) = start(vec![Reply::Hang]).await;
    let started = Instant::now();
    let err = provider(&base).chat(request(), None).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(err.to_string().contains("no answer within 2 s"), "{err}");
}

#[tokio::test]
async fn malformed_events_are_an_error_not_a_panic() {
    let (base, _) = start(vec![Reply::Raw("data: {\"candidates\": [oops\r\n\r\n")]).await;
    let err = provider(&base).chat(request(), None).await.unwrap_err();
    assert!(err.to_string().contains("malformed event"), "{err}");
}

#[tokio::test]
async fn a_blocked_prompt_or_answer_is_reported() {
    let (base, _) = start(vec![Reply::Raw(
        "data: {\"promptFeedback\": {\"blockReason\": \"SAFETY\"}}\r\n\r\n",
    )])
    .await;
    let err = provider(&base).chat(request(), None).await.unwrap_err();
    assert!(
        err.to_string().contains("refused the request (SAFETY)"),
        "{err}"
    );
    let (base, _) = start(vec![Reply::Stream(vec!["partial"], "SAFETY")]).await;
    let err = provider(&base).chat(request(), None).await.unwrap_err();
    assert!(
        err.to_string().contains("stopped the answer (SAFETY)"),
        "{err}"
    );
}

#[tokio::test]
async fn a_stream_cut_short_is_an_error() {
    let raw = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hal\"}], \"role\": \"model\"}}]}\r\n\r\n";
    let (base, _) = start(vec![Reply::Raw(raw)]).await;
    let err = provider(&base).chat(request(), None).await.unwrap_err();
    assert!(err.to_string().contains("without finishing"), "{err}");
}

#[tokio::test]
async fn an_empty_answer_is_empty_text() {
    let (base, _) = start(vec![Reply::Stream(vec![], "STOP")]).await;
    assert_eq!(
        provider(&base).chat(request(), None).await.unwrap().text,
        ""
    );
}

#[tokio::test]
async fn function_calls_and_responses_use_geminis_shapes() {
    use openzero_core::tools::{Tier, ToolCall, ToolResult, ToolSpec};
    let raw = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\": {\"name\": \"memory_search\", \"args\": {\"query\": \"dentist\"}}}], \"role\": \"model\"}, \"finishReason\": \"STOP\", \"index\": 0}]}\r\n\r\n";
    let (base, seen) = start(vec![Reply::Raw(raw)]).await;
    let calls = vec![
        ToolCall {
            id: "a".into(),
            name: "project_tree".into(),
            arguments: serde_json::json!({}),
        },
        ToolCall {
            id: "b".into(),
            name: "memory_search".into(),
            arguments: serde_json::json!({"query": "x"}),
        },
    ];
    let mut req = request();
    req.messages
        .push(ChatMessage::tool_request("Let me look.", calls.clone()));
    for c in &calls {
        req.messages.push(ChatMessage::tool_result(&ToolResult::ok(
            c,
            format!("result of {}", c.name),
        )));
    }
    let spec = |name: &str, params: serde_json::Value| ToolSpec {
        name: name.into(),
        description: "d".into(),
        parameters: params,
        tier: Tier::Read,
    };
    req.tools = vec![
        spec(
            "project_tree",
            serde_json::json!({"type": "object", "properties": {}}),
        ),
        spec(
            "memory_search",
            serde_json::json!({"type": "object", "properties": {"query": {"type": "string"}}}),
        ),
    ];
    let r = provider(&base).chat(req, None).await.unwrap();
    assert_eq!(r.tool_calls.len(), 1);
    assert_eq!(r.tool_calls[0].name, "memory_search");
    assert_eq!(
        r.tool_calls[0].arguments,
        serde_json::json!({"query": "dentist"})
    );
    let (_, _, body) = &seen.lock().unwrap()[0];
    let decl = &body["tools"][0]["functionDeclarations"];
    assert_eq!(decl[0]["name"], "project_tree");
    assert!(
        decl[0].get("parameters").is_none(),
        "no empty object schema"
    );
    assert_eq!(
        decl[1]["parameters"]["properties"]["query"]["type"],
        "string"
    );
    let contents = body["contents"].as_array().unwrap();
    let n = contents.len();
    assert_eq!(contents[n - 2]["role"], "model");
    assert_eq!(contents[n - 2]["parts"][0]["text"], "Let me look.");
    assert_eq!(
        contents[n - 2]["parts"][1]["functionCall"]["name"],
        "project_tree"
    );
    // Both results in one turn.
    assert_eq!(contents[n - 1]["role"], "user");
    let parts = contents[n - 1]["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[1]["functionResponse"]["name"], "memory_search");
    assert_eq!(
        parts[1]["functionResponse"]["response"]["content"],
        "result of memory_search"
    );
}
