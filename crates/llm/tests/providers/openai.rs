//! The OpenAI-compatible provider against a local fake that speaks the
//! documented wire format (chat.completion.chunk events, `data: [DONE]`,
//! 429 with Retry-After, 500, a hang, malformed JSON, an empty answer). The
//! fake records every request it received.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use openzero_core::agent::{ChatMessage, Role};
use openzero_llm::openai::OpenAiCompatible;
use openzero_llm::{ChatModel, ChatRequest, Finish, LlmError, Locality};

/// What the fake answers, in order; the last repeats.
#[derive(Clone)]
enum Reply {
    Stream(Vec<&'static str>),
    Status(u16, Option<&'static str>),
    Hang,
    Raw(&'static str),
}

#[derive(Clone, Default)]
struct Fake {
    replies: Arc<Mutex<Vec<Reply>>>,
    seen: Arc<Mutex<Vec<(HeaderMap, serde_json::Value)>>>,
}

fn chunk(content: &str, finish: Option<&str>) -> String {
    let v = serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_764_000_000,
        "model": "fake-model",
        "choices": [{ "index": 0, "delta": { "content": content }, "finish_reason": finish }]
    });
    format!("data: {v}\n\n")
}

async fn start(replies: Vec<Reply>) -> (String, Fake) {
    let fake = Fake {
        replies: Arc::new(Mutex::new(replies)),
        ..Default::default()
    };
    let state = fake.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |headers: HeaderMap, body: String| {
            let state = state.clone();
            async move {
                let json: serde_json::Value = serde_json::from_str(&body).unwrap();
                state.seen.lock().unwrap().push((headers, json));
                let reply = {
                    let mut r = state.replies.lock().unwrap();
                    if r.len() > 1 {
                        r.remove(0)
                    } else {
                        r[0].clone()
                    }
                };
                match reply {
                    Reply::Stream(pieces) => {
                        let mut body: String = pieces.iter().map(|p| chunk(p, None)).collect();
                        body.push_str(&chunk("", Some("stop")));
                        body.push_str("data: [DONE]\n\n");
                        ([("content-type", "text/event-stream")], body).into_response()
                    }
                    Reply::Status(code, retry_after) => {
                        let mut resp: Response = (
                            StatusCode::from_u16(code).unwrap(),
                            r#"{"error":{"message":"slow down","type":"rate_limit"}}"#,
                        )
                            .into_response();
                        if let Some(s) = retry_after {
                            resp.headers_mut().insert("retry-after", s.parse().unwrap());
                        }
                        resp
                    }
                    Reply::Hang => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        "too late".into_response()
                    }
                    Reply::Raw(text) => {
                        ([("content-type", "text/event-stream")], text).into_response()
                    }
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), fake)
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![
            ChatMessage::new(Role::System, "You are Z."),
            ChatMessage::new(Role::User, "hello"),
        ],
        max_tokens: 64,
        temperature: 0.0,
        tools: Vec::new(),
    }
}

fn provider(base: &str) -> OpenAiCompatible {
    OpenAiCompatible::new(
        "llamacpp",
        base,
        Some("local-key".into()),
        "fake-model",
        Duration::from_secs(2),
    )
    .unwrap()
}

#[tokio::test]
async fn streams_the_answer_and_sends_the_documented_request() {
    let (base, fake) = start(vec![Reply::Stream(vec!["Hel", "lo ", "owner"])]).await;
    let p = provider(&base);
    assert_eq!(
        p.info().locality,
        Locality::Local,
        "a loopback server is local"
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let r = p.chat(request(), Some(tx)).await.unwrap();
    assert_eq!(r.text, "Hello owner");
    assert_eq!(r.finish, Finish::Stop);
    let mut pieces = Vec::new();
    while let Ok(p) = rx.try_recv() {
        pieces.push(p);
    }
    assert_eq!(pieces, ["Hel", "lo ", "owner"]);
    let seen = fake.seen.lock().unwrap();
    let (headers, body) = &seen[0];
    assert_eq!(headers["authorization"], "Bearer local-key");
    assert_eq!(body["model"], "fake-model");
    assert_eq!(body["stream"], true);
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][1]["content"], "hello");
}

#[tokio::test]
async fn rate_limits_are_retried_after_the_servers_delay() {
    let (base, fake) = start(vec![
        Reply::Status(429, Some("1")),
        Reply::Stream(vec!["ok"]),
    ])
    .await;
    let started = Instant::now();
    let r = provider(&base).chat(request(), None).await.unwrap();
    assert_eq!(r.text, "ok");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert_eq!(fake.seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn server_errors_give_up_after_the_retries_and_say_why() {
    let (base, fake) = start(vec![Reply::Status(500, None)]).await;
    let err = provider(&base)
        .with_retries(2)
        .chat(request(), None)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("HTTP 500") && msg.contains("after 3 attempts"),
        "{msg}"
    );
    assert!(msg.contains("slow down"), "the server's own message: {msg}");
    assert_eq!(fake.seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_hanging_server_is_a_timeout_not_a_hang() {
    let (base, _fake) = start(vec![Reply::Hang]).await;
    let started = Instant::now();
    let err = provider(&base).chat(request(), None).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(err.to_string().contains("no answer within 2 s"), "{err}");
}

#[tokio::test]
async fn malformed_chunks_are_an_error_not_a_panic() {
    let (base, _fake) = start(vec![Reply::Raw("data: {\"choices\": [oops\n\n")]).await;
    let err = provider(&base).chat(request(), None).await.unwrap_err();
    assert!(matches!(err, LlmError::Inference(_)), "{err:?}");
    assert!(err.to_string().contains("malformed chunk"), "{err}");
}

#[tokio::test]
async fn an_empty_answer_is_empty_text() {
    let (base, _fake) = start(vec![Reply::Stream(vec![])]).await;
    let r = provider(&base).chat(request(), None).await.unwrap();
    assert_eq!(r.text, "");
}

#[tokio::test]
async fn a_dead_server_is_named() {
    let p = provider("http://127.0.0.1:1/v1");
    let err = p.chat(request(), None).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("127.0.0.1:1") && msg.contains("cannot connect"),
        "{msg}"
    );
}

fn with_tools() -> ChatRequest {
    use openzero_core::tools::{Tier, ToolCall, ToolResult, ToolSpec};
    let call = ToolCall {
        id: "call_prev".into(),
        name: "project_tree".into(),
        arguments: serde_json::json!({}),
    };
    let mut req = request();
    req.messages
        .push(ChatMessage::tool_request("", vec![call.clone()]));
    req.messages.push(ChatMessage::tool_result(&ToolResult::ok(
        &call,
        "[ACTIVE] Career",
    )));
    req.tools = vec![ToolSpec {
        name: "memory_search".into(),
        description: "Search memories".into(),
        parameters: serde_json::json!({"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}),
        tier: Tier::Read,
    }];
    req
}

#[tokio::test]
async fn tool_calls_stream_in_pieces_and_tools_go_out_in_the_documented_shape() {
    // A tool call streamed as OpenAI does: id and name first, then the
    // arguments in fragments, finish_reason "tool_calls".
    let raw = concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":\"call_abc\",\"type\":\"function\",\"function\":{\"name\":\"memory_search\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"query\\\": \\\"den\"}}]},\"finish_reason\":null}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"tist\\\"}\"}}]},\"finish_reason\":null}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
        "data: [DONE]\n\n"
    );
    let (base, fake) = start(vec![Reply::Raw(raw)]).await;
    let p = provider(&base);
    assert!(p.supports_tools());
    let r = p.chat(with_tools(), None).await.unwrap();
    assert_eq!(r.tool_calls.len(), 1);
    assert_eq!(r.tool_calls[0].id, "call_abc");
    assert_eq!(r.tool_calls[0].name, "memory_search");
    assert_eq!(
        r.tool_calls[0].arguments,
        serde_json::json!({"query": "dentist"})
    );
    let seen = fake.seen.lock().unwrap();
    let body = &seen[0].1;
    assert_eq!(body["tools"][0]["type"], "function");
    assert_eq!(body["tools"][0]["function"]["name"], "memory_search");
    assert_eq!(
        body["tools"][0]["function"]["parameters"]["required"][0],
        "query"
    );
    let msgs = body["messages"].as_array().unwrap();
    let asked = &msgs[msgs.len() - 2];
    assert_eq!(asked["tool_calls"][0]["id"], "call_prev");
    assert_eq!(asked["tool_calls"][0]["function"]["arguments"], "{}");
    let answered = &msgs[msgs.len() - 1];
    assert_eq!(answered["role"], "tool");
    assert_eq!(answered["tool_call_id"], "call_prev");
    assert_eq!(answered["content"], "[ACTIVE] Career");
}

#[tokio::test]
async fn malformed_tool_arguments_come_back_as_text_not_a_crash() {
    let raw = concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c1\",\"function\":{\"name\":\"memory_search\",\"arguments\":\"{query: dentist\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n",
        "data: [DONE]\n\n"
    );
    let (base, _fake) = start(vec![Reply::Raw(raw)]).await;
    let r = provider(&base).chat(with_tools(), None).await.unwrap();
    assert_eq!(
        r.tool_calls[0].arguments,
        serde_json::Value::String("{query: dentist".into())
    );
}
