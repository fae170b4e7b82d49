//! The Ollama provider against a local fake speaking Ollama's documented
//! `/api/chat` stream (newline-delimited JSON, a final `"done": true` line
//! with `done_reason` and counts, `{"error": ...}` bodies): streaming, 429
//! with Retry-After, 500, a hang, malformed JSON, an empty answer, an error
//! in the middle of the stream, a stream cut short.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use openzero_core::agent::{ChatMessage, Role};
use openzero_llm::ollama::Ollama;
use openzero_llm::{ChatModel, ChatRequest, Finish, Locality};

#[derive(Clone)]
enum Reply {
    /// Pieces, then the final line with this done_reason.
    Stream(Vec<&'static str>, &'static str),
    Status(u16, Option<&'static str>),
    Hang,
    Raw(&'static str),
}

type Seen = Arc<Mutex<Vec<serde_json::Value>>>;

fn line(content: &str) -> String {
    let v = serde_json::json!({"model": "llama3.2", "created_at": "2026-11-24T07:00:00.000000Z",
        "message": {"role": "assistant", "content": content}, "done": false});
    format!("{v}\n")
}

async fn start(replies: Vec<Reply>) -> (String, Seen) {
    let replies = Arc::new(Mutex::new(replies));
    let seen: Seen = Arc::default();
    let kept = seen.clone();
    let app = axum::Router::new().route(
        "/api/chat",
        post(move |body: String| {
            let replies = replies.clone();
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(serde_json::from_str(&body).unwrap());
                let reply = {
                    let mut r = replies.lock().unwrap();
                    if r.len() > 1 { r.remove(0) } else { r[0].clone() }
                };
                match reply {
                    Reply::Stream(pieces, reason) => {
                        let mut out: String = pieces.iter().map(|p| line(p)).collect();
                        let end = serde_json::json!({"model": "llama3.2",
                            "created_at": "2026-11-24T07:00:01.000000Z",
                            "message": {"role": "assistant", "content": ""},
                            "done": true, "done_reason": reason, "total_duration": 4_935_886_791_u64,
                            "prompt_eval_count": 26, "eval_count": pieces.len()});
                        out.push_str(&format!("{end}\n"));
                        ([("content-type", "application/x-ndjson")], out).into_response()
                    }
                    Reply::Status(code, retry_after) => {
                        let mut resp: Response = (
                            StatusCode::from_u16(code).unwrap(),
                            r#"{"error":"model \"llama3.2\" not found, try pulling it first"}"#,
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
                    Reply::Raw(text) => ([("content-type", "application/x-ndjson")], text).into_response(),
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
        ],
        max_tokens: 64,
        temperature: 0.0,
        tools: Vec::new(),
    }
}

fn provider(base: &str) -> Ollama {
    Ollama::new(base, "llama3.2", Duration::from_secs(2)).unwrap()
}

#[tokio::test]
async fn streams_the_answer_and_sends_the_documented_request() {
    let (base, seen) = start(vec![Reply::Stream(
        vec!["The", " sky", " is blue."],
        "stop",
    )])
    .await;
    let p = provider(&base);
    assert_eq!(p.info().locality, Locality::Local);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let r = p.chat(request(), Some(tx)).await.unwrap();
    assert_eq!(r.text, "The sky is blue.");
    assert_eq!((r.prompt_tokens, r.completion_tokens), (26, 3));
    assert_eq!(r.finish, Finish::Stop);
    let mut pieces = Vec::new();
    while let Ok(p) = rx.try_recv() {
        pieces.push(p);
    }
    assert_eq!(pieces, ["The", " sky", " is blue."]);
    let body = &seen.lock().unwrap()[0];
    assert_eq!(body["model"], "llama3.2");
    assert_eq!(body["stream"], true);
    assert_eq!(body["options"]["num_predict"], 64);
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][1]["content"], "hello");
}

#[tokio::test]
async fn the_length_limit_is_reported() {
    let (base, _) = start(vec![Reply::Stream(vec!["a"], "length")]).await;
    let r = provider(&base).chat(request(), None).await.unwrap();
    assert_eq!(r.finish, Finish::Length);
}

#[tokio::test]
async fn rate_limits_are_retried_after_the_servers_delay() {
    let (base, seen) = start(vec![
        Reply::Status(429, Some("1")),
        Reply::Stream(vec!["ok"], "stop"),
    ])
    .await;
    let started = Instant::now();
    let r = provider(&base).chat(request(), None).await.unwrap();
    assert_eq!(r.text, "ok");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn server_errors_give_up_after_the_retries_and_say_why() {
    let (base, seen) = start(vec![Reply::Status(500, None)]).await;
    let err = provider(&base)
        .with_retries(1)
        .chat(request(), None)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("HTTP 500") && msg.contains("after 2 attempts"),
        "{msg}"
    );
    assert!(
        msg.contains("try pulling it first"),
        "the server's own message: {msg}"
    );
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_missing_model_is_not_retried() {
    let (base, seen) = start(vec![Reply::Status(404, None)]).await;
    let err = provider(&base).chat(request(), None).await.unwrap_err();
    assert!(
        err.to_string().contains("not found, try pulling it first"),
        "{err}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
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
async fn malformed_lines_are_an_error_not_a_panic() {
    let (base, _) = start(vec![Reply::Raw("{\"message\": {\"content\": oops\n")]).await;
    let err = provider(&base).chat(request(), None).await.unwrap_err();
    assert!(err.to_string().contains("malformed line"), "{err}");
}

#[tokio::test]
async fn an_error_mid_stream_is_reported() {
    let raw = "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":\"Hal\"},\"done\":false}\n{\"error\":\"an error was encountered while running the model: out of memory\"}\n";
    let (base, _) = start(vec![Reply::Raw(raw)]).await;
    let err = provider(&base).chat(request(), None).await.unwrap_err();
    assert!(err.to_string().contains("out of memory"), "{err}");
}

#[tokio::test]
async fn a_stream_cut_short_is_an_error() {
    let raw = "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":\"Hal\"},\"done\":false}\n";
    let (base, _) = start(vec![Reply::Raw(raw)]).await;
    let err = provider(&base).chat(request(), None).await.unwrap_err();
    assert!(err.to_string().contains("without finishing"), "{err}");
}

#[tokio::test]
async fn an_empty_answer_is_empty_text() {
    let (base, _) = start(vec![Reply::Stream(vec![], "stop")]).await;
    let r = provider(&base).chat(request(), None).await.unwrap();
    assert_eq!(r.text, "");
}

#[tokio::test]
async fn a_dead_server_is_named() {
    let err = provider("http://127.0.0.1:1")
        .chat(request(), None)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("ollama at http://127.0.0.1:1") && msg.contains("cannot connect"),
        "{msg}"
    );
}

#[tokio::test]
async fn tool_calls_arrive_whole_and_tools_go_out_in_the_documented_shape() {
    use openzero_core::tools::{Tier, ToolCall, ToolResult, ToolSpec};
    let raw = concat!(
        "{\"model\":\"llama3.2\",\"created_at\":\"2026-11-24T07:00:00Z\",\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"project_update\",\"arguments\":{\"project\":\"Career\",\"progress\":60}}}]},\"done\":false}\n",
        "{\"model\":\"llama3.2\",\"created_at\":\"2026-11-24T07:00:01Z\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\"}\n"
    );
    let (base, seen) = start(vec![Reply::Raw(raw)]).await;
    let call = ToolCall {
        id: "call_0".into(),
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
        name: "project_update".into(),
        description: "Change a project".into(),
        parameters: serde_json::json!({"type": "object", "properties": {"project": {"type": "string"}}}),
        tier: Tier::Write,
    }];
    let p = provider(&base);
    assert!(p.supports_tools());
    let r = p.chat(req, None).await.unwrap();
    assert_eq!(r.tool_calls.len(), 1);
    assert_eq!(r.tool_calls[0].name, "project_update");
    assert_eq!(
        r.tool_calls[0].arguments,
        serde_json::json!({"project": "Career", "progress": 60})
    );
    let body = &seen.lock().unwrap()[0];
    assert_eq!(body["tools"][0]["function"]["name"], "project_update");
    let msgs = body["messages"].as_array().unwrap();
    assert_eq!(
        msgs[msgs.len() - 2]["tool_calls"][0]["function"]["arguments"],
        serde_json::json!({})
    );
    assert_eq!(msgs[msgs.len() - 1]["role"], "tool");
    assert_eq!(msgs[msgs.len() - 1]["tool_name"], "project_tree");
}
