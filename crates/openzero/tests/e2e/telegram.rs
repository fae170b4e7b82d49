//! Telegram end to end: `openzero serve` against a fake Bot API server
//! built from the Bot API's documented payloads (getUpdates, sendMessage,
//! sendChatAction, answerCallbackQuery, setMyCommands, error shapes).
//! Owner and stranger, each command, /think grant, cancel and double tap,
//! a 429, a 6,000-character answer, malformed and unknown updates, and a
//! restart in the middle of a conversation.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use common::{Oz, Served};
use serde_json::{Value, json};

pub(crate) const TOKEN: &str = "123456:TEST-token-never-logged";
pub(crate) const OWNER: i64 = 4242;
const STRANGER: i64 = 666;

#[derive(Default)]
pub(crate) struct Api {
    updates: Vec<Value>,
    /// Every call: (method, params).
    pub(crate) calls: Vec<(String, Value)>,
    /// sendMessage calls to answer with 429 before accepting.
    throttle: usize,
    /// Refuse every message sent with parse_mode HTML, as Telegram does
    /// with markup it cannot parse.
    reject_html: bool,
    next_message_id: i64,
}

pub(crate) type Fake = Arc<Mutex<Api>>;

async fn bot_api(
    State(api): State<Fake>,
    Path((bot, method)): Path<(String, String)>,
    body: String,
) -> impl IntoResponse {
    if bot != format!("bot{TOKEN}") {
        return (
            StatusCode::UNAUTHORIZED,
            json!({"ok": false, "error_code": 401, "description": "Unauthorized"}).to_string(),
        );
    }
    // Bot API method names are case-insensitive (teloxide sends "SendMessage").
    let method = method.to_ascii_lowercase();
    // JSON for most methods; setWebhook comes as multipart (it may carry a
    // certificate): kept raw.
    let params: Value = serde_json::from_str(&body).unwrap_or_else(|_| json!({ "raw": body }));
    if method == "getupdates" {
        let offset = params["offset"].as_i64().unwrap_or(0);
        let deadline = Instant::now() + Duration::from_millis(300);
        loop {
            let found: Vec<Value> = {
                let mut a = api.lock().unwrap();
                a.calls.push((method.clone(), params.clone()));
                a.updates
                    .iter()
                    .filter(|u| u["update_id"].as_i64().unwrap_or(0) >= offset)
                    .cloned()
                    .collect()
            };
            if !found.is_empty() || Instant::now() > deadline {
                return (
                    StatusCode::OK,
                    json!({"ok": true, "result": found}).to_string(),
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let mut a = api.lock().unwrap();
    a.calls.push((method.clone(), params.clone()));
    match method.as_str() {
        "sendmessage" => {
            if a.throttle > 0 {
                a.throttle -= 1;
                // Refused: recorded apart from the messages delivered.
                if let Some(last) = a.calls.last_mut() {
                    last.0 = "sendmessage refused: 429".into();
                }
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1",
                           "parameters": {"retry_after": 1}})
                    .to_string(),
                );
            }
            if a.reject_html && params["parse_mode"] == "HTML" {
                if let Some(last) = a.calls.last_mut() {
                    last.0 = "sendmessage refused: markup".into();
                }
                return (
                    StatusCode::BAD_REQUEST,
                    json!({"ok": false, "error_code": 400,
                           "description": "Bad Request: can't parse entities: Unsupported start tag \"b\" at byte offset 0"})
                    .to_string(),
                );
            }
            a.next_message_id += 1;
            let chat = params["chat_id"].as_i64().unwrap_or(0);
            (
                StatusCode::OK,
                json!({"ok": true, "result": {
                    "message_id": a.next_message_id, "date": 1_795_500_000,
                    "chat": {"id": chat, "type": "private", "first_name": "Owner"},
                    "from": {"id": 1, "is_bot": true, "first_name": "Z", "username": "z_bot"},
                    "text": params["text"]}})
                .to_string(),
            )
        }
        "editmessagetext" => {
            let chat = params["chat_id"].as_i64().unwrap_or(0);
            (
                StatusCode::OK,
                json!({"ok": true, "result": {
                    "message_id": params["message_id"], "date": 1_795_500_000, "edit_date": 1_795_500_001,
                    "chat": {"id": chat, "type": "private", "first_name": "Owner"},
                    "from": {"id": 1, "is_bot": true, "first_name": "Z", "username": "z_bot"},
                    "text": params["text"]}})
                .to_string(),
            )
        }
        "sendchataction" | "setmycommands" | "answercallbackquery" | "setwebhook" => (
            StatusCode::OK,
            json!({"ok": true, "result": true}).to_string(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            json!({"ok": false, "error_code": 404, "description": "Not Found"}).to_string(),
        ),
    }
}

pub(crate) async fn start_fake() -> (String, Fake) {
    let api: Fake = Arc::default();
    let app = axum::Router::new()
        .route("/{bot}/{method}", axum::routing::post(bot_api))
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), api)
}

fn user(id: i64) -> Value {
    json!({"id": id, "is_bot": false, "first_name": "Someone", "language_code": "en"})
}

pub(crate) fn message(update_id: i64, from: i64, text: &str) -> Value {
    json!({"update_id": update_id, "message": {
        "message_id": update_id * 10, "date": 1_795_500_000,
        "chat": {"id": from, "type": "private", "first_name": "Someone"},
        "from": user(from), "text": text}})
}

pub(crate) fn button(update_id: i64, from: i64, data: &str) -> Value {
    json!({"update_id": update_id, "callback_query": {
        "id": format!("cb{update_id}"), "from": user(from), "chat_instance": "42",
        "data": data,
        "message": {"message_id": 99, "date": 1_795_500_000,
            "chat": {"id": from, "type": "private", "first_name": "Someone"},
            "from": {"id": 1, "is_bot": true, "first_name": "Z"}, "text": "Send it?"}}})
}

pub(crate) fn push(api: &Fake, updates: Vec<Value>) {
    api.lock().unwrap().updates.extend(updates);
}

/// Texts sent to `chat` so far.
pub(crate) fn sent_to(api: &Fake, chat: i64) -> Vec<String> {
    api.lock()
        .unwrap()
        .calls
        .iter()
        .filter(|(m, p)| m == "sendmessage" && p["chat_id"].as_i64() == Some(chat))
        .map(|(_, p)| p["text"].as_str().unwrap_or("").to_owned())
        .collect()
}

static LOG: Mutex<Option<std::path::PathBuf>> = Mutex::new(None);

pub(crate) fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        if start.elapsed() > Duration::from_secs(30) {
            let log = LOG
                .lock()
                .unwrap()
                .as_ref()
                .map(|p| std::fs::read_to_string(p).unwrap_or_default())
                .unwrap_or_default();
            panic!("timed out waiting for {what}; the server's log:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn serve(oz: &Oz, api: &str, extra: &[(&str, &str)]) -> Served {
    let owner = OWNER.to_string();
    let mut env = vec![
        ("TELEGRAM_BOT_TOKEN", TOKEN),
        ("TELEGRAM_ALLOWED_USER_ID", owner.as_str()),
        ("OPENZERO__TELEGRAM__API_BASE_URL", api),
    ];
    env.extend_from_slice(extra);
    let served = common::serve(oz, &[], env);
    *LOG.lock().unwrap() = Some(served.log.clone());
    served
}

/// A local OpenAI-compatible model that answers `answer`.
async fn model_server(answer: String) -> String {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move || {
            let answer = answer.clone();
            async move {
                let v = json!({"choices": [{"index": 0, "delta": {"content": answer}, "finish_reason": "stop"}]});
                ([("content-type", "text/event-stream")], format!("data: {v}\n\ndata: [DONE]\n\n"))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_is_answered_strangers_get_nothing_and_nothing_is_lost() {
    let (api_url, api) = start_fake().await;
    let long = "A line of the long answer, forty chars.\n".repeat(150);
    let llm = model_server(long.clone()).await;
    let oz = Oz::new();
    oz.ok(&["init"]);
    oz.ok(&["project", "add", "Career", "--progress", "40"]);
    api.lock().unwrap().throttle = 1;
    push(
        &api,
        vec![
            message(1, STRANGER, "/tree"),
            message(2, OWNER, "/tree"),
            json!({"update_id": 3, "message": {"this is": "not a message"}}),
            json!({"update_id": 4, "some_future_update": {"x": 1}}),
            message(5, OWNER, "/add Dentist on Tuesday at 9:30"),
            message(6, STRANGER, "/add I was here"),
            button(7, STRANGER, "grant:1"),
            message(8, OWNER, "/memory dentist"),
            message(9, OWNER, "/project progress Career 60"),
            message(10, OWNER, "tell me everything"),
        ],
    );
    let env = [
        ("LLM_PROVIDER", "llamacpp"),
        ("OPENAI_BASE_URL", llm.as_str()),
    ];
    let served = serve(&oz, &api_url, &env);
    wait_for("the owner's replies", || sent_to(&api, OWNER).len() >= 6);

    let owner = sent_to(&api, OWNER);
    assert!(owner[0].contains("[ACTIVE] Career [40%]"), "{owner:?}");
    assert!(owner[1].starts_with("Remembered #1"), "{owner:?}");
    assert!(owner[2].contains("Dentist on Tuesday at 9:30"), "{owner:?}");
    assert!(
        owner[3].contains("Career") && owner[3].contains("60% done"),
        "{owner:?}"
    );
    // The 6,000-character answer came in two messages, cut at line ends.
    assert!(
        owner[4].chars().count() <= 4096 && owner[4].ends_with("forty chars."),
        "{}",
        owner[4].len()
    );
    assert_eq!(format!("{}\n{}", owner[4], owner[5]), long.trim_end());
    assert!(sent_to(&api, STRANGER).is_empty(), "a stranger got a reply");

    let health: Value = reqwest::get(format!("{}/health", served.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["components"]["telegram"]["status"], "ok", "{health}");
    let detail = health["components"]["telegram"]["detail"].as_str().unwrap();
    assert!(detail.contains("3 from strangers ignored"), "{detail}");

    // The other commands, each answered.
    let base = sent_to(&api, OWNER).len();
    push(
        &api,
        vec![
            message(20, OWNER, "/start"),
            message(21, OWNER, "/status"),
            message(22, OWNER, "/project add Garden"),
            message(23, OWNER, "/project done garden"),
            message(24, OWNER, "/weekly"),
            message(25, OWNER, "/monthly"),
            message(26, OWNER, "/frobnicate"),
            message(27, OWNER, "/memory"),
        ],
    );
    // /weekly and /monthly: the (fake) local model's phrasing leaves out
    // every project and domain, so the plain reviews go out instead.
    wait_for("the command replies", || {
        sent_to(&api, OWNER).len() >= base + 8
    });
    let r = &sent_to(&api, OWNER)[base..];
    assert!(r[0].contains("/think") && r[0].contains("/jobs"), "{r:?}");
    assert!(
        r[1].contains("storage: ok") && r[1].contains("telegram: ok"),
        "{r:?}"
    );
    assert!(r[2].starts_with("Added #2 Garden"), "{r:?}");
    assert!(
        r[3].starts_with("Done: #2 Garden: completed, 100% done"),
        "{r:?}"
    );
    assert!(
        r[4].starts_with("Weekly review,") && r[4].contains("Career"),
        "{r:?}"
    );
    assert!(
        r[5].starts_with("Monthly review,") && r[5].contains("general\n- 1 active"),
        "{r:?}"
    );
    assert!(r[6].starts_with("I don't know /frobnicate."), "{r:?}");
    assert!(r[7].starts_with("What should I look for?"), "{r:?}");
    // The help text's <words> went out escaped for HTML.
    let calls = api.lock().unwrap().calls.clone();
    assert!(calls.iter().any(|(m, p)| {
        m == "sendmessage"
            && p["text"]
                .as_str()
                .unwrap_or("")
                .contains("/memory &lt;words&gt;")
    }));

    // Restart in the middle of a conversation: nothing handled twice.
    let log = served.stop();
    assert!(
        !log.contains("TEST-token-never-logged"),
        "the token was logged"
    );
    let before = sent_to(&api, OWNER).len();
    push(&api, vec![message(30, OWNER, "/tree")]);
    let served = serve(&oz, &api_url, &env);
    wait_for("the reply after the restart", || {
        sent_to(&api, OWNER).len() > before
    });
    std::thread::sleep(Duration::from_millis(800));
    let after = sent_to(&api, OWNER);
    assert_eq!(
        after.len(),
        before + 1,
        "an update was handled twice: {:?}",
        &after[before..]
    );
    assert!(after[before].contains("[ACTIVE] Career [60%]"));
    // The stranger's /add had no effect.
    let mem = oz
        .ok(&["memory", "stats", "--json"])
        .get_output()
        .stdout
        .clone();
    let stats: Value = serde_json::from_slice(&mem).unwrap();
    assert_eq!(stats["total"], 1, "{stats}");
    // Commands were registered; the 429 was waited out, not dropped.
    let calls = api.lock().unwrap().calls.clone();
    assert!(calls.iter().any(|(m, _)| m == "sendmessage refused: 429"));
    assert!(calls.iter().any(
        |(m, p)| m == "setmycommands" && p["commands"].as_array().is_some_and(|c| c.len() >= 8)
    ));
    assert!(
        calls
            .iter()
            .any(|(m, p)| m == "sendchataction" && p["action"] == "typing")
    );
    served.stop();
}

/// A cloud model (OpenAI-shaped) that records what reached it.
async fn cloud() -> (String, Arc<Mutex<Vec<String>>>) {
    use axum::routing::post;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |body: String| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(body);
                let v = json!({"choices": [{"index": 0, "delta": {"content": "Write to [email 1] today."}, "finish_reason": "stop"}]});
                ([("content-type", "text/event-stream")], format!("data: {v}\n\ndata: [DONE]\n\n"))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn think_asks_with_buttons_and_sends_once() {
    let (api_url, api) = start_fake().await;
    let (cloud_url, leaked) = cloud().await;
    let oz = Oz::new();
    oz.ok(&["init"]);
    oz.ok(&["memory", "add", "My landlord is at landlord@example.com"]);
    let env = [
        ("DEEP_THINK_PROVIDER", "openai"),
        ("OPENAI_BASE_URL", cloud_url.as_str()),
        ("OPENAI_API_KEY", "sk-test"),
    ];
    push(
        &api,
        vec![message(1, OWNER, "/think should I write to my landlord?")],
    );
    let served = serve(&oz, &api_url, &env);
    wait_for("the disclosure", || !sent_to(&api, OWNER).is_empty());
    let calls = api.lock().unwrap().calls.clone();
    let (_, shown) = calls.iter().find(|(m, _)| m == "sendmessage").unwrap();
    let text = shown["text"].as_str().unwrap();
    assert!(
        text.contains("openai (gpt-4o-mini)") && text.contains("[email 1]"),
        "{text}"
    );
    assert!(!text.contains("landlord@example.com"), "{text}");
    let buttons = &shown["reply_markup"]["inline_keyboard"][0];
    assert_eq!(buttons[0]["callback_data"], "grant:1");
    assert_eq!(buttons[1]["callback_data"], "cancel:1");
    assert!(leaked.lock().unwrap().is_empty(), "sent before approval");

    // A stranger's tap does nothing; the owner's double tap sends once.
    push(
        &api,
        vec![
            button(2, STRANGER, "grant:1"),
            button(3, OWNER, "grant:1"),
            button(4, OWNER, "grant:1"),
        ],
    );
    wait_for("the answer", || sent_to(&api, OWNER).len() >= 2);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(leaked.lock().unwrap().len(), 1, "the double tap sent twice");
    let owner = sent_to(&api, OWNER);
    assert!(
        owner[1].starts_with("Write to landlord@example.com today."),
        "{owner:?}"
    );
    let answers: Vec<String> = api
        .lock()
        .unwrap()
        .calls
        .iter()
        .filter(|(m, _)| m == "answercallbackquery")
        .map(|(_, p)| p["text"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        answers.len(),
        2,
        "only the owner's taps are answered: {answers:?}"
    );
    assert_eq!(answers[0], "Sent.");
    assert!(
        answers[1].contains("already answered") || answers[1].contains("already granted"),
        "{answers:?}"
    );

    // Cancel, and a tap on something unknown.
    push(
        &api,
        vec![
            message(5, OWNER, "/think another question"),
            button(6, OWNER, "cancel:2"),
            button(7, OWNER, "grant:99"),
        ],
    );
    wait_for("the cancel", || {
        sent_to(&api, OWNER)
            .iter()
            .any(|t| t.contains("Cancelled: nothing was sent"))
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(leaked.lock().unwrap().len(), 1);
    let answers: Vec<String> = api
        .lock()
        .unwrap()
        .calls
        .iter()
        .filter(|(m, _)| m == "answercallbackquery")
        .map(|(_, p)| p["text"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        answers.iter().any(|a| a == "I don't know that request."),
        "{answers:?}"
    );
    let log = oz
        .ok(&["disclosures", "--json"])
        .get_output()
        .stdout
        .clone();
    let d: Value = serde_json::from_slice(
        String::from_utf8_lossy(&log)
            .lines()
            .next()
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(d["approved_by"], format!("owner (telegram {OWNER})"));
    served.stop();
}

fn edited(update_id: i64, from: i64, text: &str) -> Value {
    json!({"update_id": update_id, "edited_message": {
        "message_id": update_id * 10, "date": 1_795_500_000, "edit_date": 1_795_500_060,
        "chat": {"id": from, "type": "private", "first_name": "Someone"},
        "from": user(from), "text": text}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_an_expired_request_and_the_remaining_commands() {
    let (api_url, api) = start_fake().await;
    let (cloud_url, leaked) = cloud().await;
    let oz = Oz::new();
    oz.ok(&["init"]);
    oz.ok(&["project", "add", "Career"]);
    oz.ok(&["jobs", "pause", "daily-briefing"]);
    let env = [
        ("DEEP_THINK_PROVIDER", "openai"),
        ("OPENAI_BASE_URL", cloud_url.as_str()),
        ("OPENAI_API_KEY", "sk-test"),
    ];
    push(
        &api,
        vec![
            edited(1, STRANGER, "/add a stranger's edit"),
            edited(2, OWNER, "/add Parcel arrives on Friday"),
            message(3, OWNER, "/help"),
            message(4, OWNER, "/review"),
            message(5, OWNER, "/resume daily-briefing"),
            message(6, OWNER, "/think is the landlord right?"),
        ],
    );
    let served = serve(&oz, &api_url, &env);
    wait_for("the replies", || sent_to(&api, OWNER).len() >= 5);
    let r = sent_to(&api, OWNER);
    assert!(
        r[0].starts_with("Remembered"),
        "an owner's edit counts: {r:?}"
    );
    assert!(
        r[1].contains("/memory &lt;words&gt;") && r[1].contains("/run NAME"),
        "{r:?}"
    );
    assert!(
        r[2].starts_with("Weekly review,"),
        "/review is the weekly review: {r:?}"
    );
    // The command menu comes from the same table as /help.
    let calls = api.lock().unwrap().calls.clone();
    let menu: Vec<String> = calls
        .iter()
        .find(|(m, _)| m == "setmycommands")
        .map(|(_, p)| {
            p["commands"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["command"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap();
    for name in &menu {
        assert!(
            r[1].contains(&format!("/{name}")),
            "/{name} is in the menu, not in /help"
        );
    }
    assert!(
        menu.contains(&"think".to_owned()) && menu.contains(&"jobs".to_owned()),
        "{menu:?}"
    );
    assert_eq!(r[3], "Resumed daily-briefing.");
    assert!(r[4].starts_with("This would go to openai"), "{r:?}");
    assert!(sent_to(&api, STRANGER).is_empty());

    // The request waits longer than its approval window: a tap on Send is
    // refused and nothing leaves.
    let db = oz.data.join("openzero.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE thoughts SET expires_at = '2026-01-01T00:00:00+00:00'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    push(
        &api,
        vec![
            button(7, OWNER, "grant:1"),
            message(8, OWNER, "/run monthly-review"),
        ],
    );
    wait_for("the expiry answer and the review", || {
        let calls = api.lock().unwrap().calls.clone();
        calls.iter().any(|(m, _)| m == "answercallbackquery")
            && sent_to(&api, OWNER)
                .iter()
                .any(|t| t.starts_with("Monthly review,"))
    });
    let calls = api.lock().unwrap().calls.clone();
    let answer = calls
        .iter()
        .find(|(m, _)| m == "answercallbackquery")
        .map(|(_, p)| p["text"].as_str().unwrap_or("").to_owned())
        .unwrap();
    assert!(answer.contains("expired"), "{answer}");
    assert!(
        leaked.lock().unwrap().is_empty(),
        "an expired request was sent"
    );

    let log = served.stop();
    assert!(
        !log.contains("a stranger's edit"),
        "a stranger's words were logged"
    );
    let stats: Value =
        serde_json::from_slice(&oz.ok(&["memory", "stats", "--json"]).get_output().stdout).unwrap();
    assert_eq!(
        stats["total"], 1,
        "only the owner's edit was remembered: {stats}"
    );
    let runs = oz
        .ok(&["jobs", "history", "monthly-review", "--json"])
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8_lossy(&runs).contains("\"outcome\":\"ok\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_serve_runs_and_health_says_so() {
    let oz = Oz::new();
    oz.ok(&["init"]);
    let served = common::serve(&oz, &[], [("TZ", "UTC")]);
    let url = served.url.clone();
    let health: Value = reqwest::get(format!("{url}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        health["components"]["telegram"]["status"], "disabled",
        "{health}"
    );
    assert!(
        health["components"]["telegram"]["detail"]
            .as_str()
            .unwrap()
            .contains("TELEGRAM_BOT_TOKEN")
    );
    served.stop();
}

/// A local OpenAI-compatible model that streams `pieces` slowly.
pub(crate) async fn slow_model(pieces: &'static [&'static str], gap: Duration) -> String {
    use axum::body::{Body, Bytes};
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move || async move {
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::convert::Infallible>>(16);
            tokio::spawn(async move {
                for p in pieces {
                    let v = json!({"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": null}]});
                    let _ = tx.send(Ok(Bytes::from(format!("data: {v}\n\n")))).await;
                    tokio::time::sleep(gap).await;
                }
                let end = json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
                let _ = tx
                    .send(Ok(Bytes::from(format!("data: {end}\n\ndata: [DONE]\n\n"))))
                    .await;
            });
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            });
            ([("content-type", "text/event-stream")], Body::from_stream(stream))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_answer_is_shown_growing_then_edited_to_the_end() {
    let (api_url, api) = start_fake().await;
    let llm = slow_model(
        &["Let me ", "think. ", "First, ", "rest. ", "Then ", "run."],
        Duration::from_millis(700),
    )
    .await;
    let oz = Oz::new();
    oz.ok(&["init"]);
    push(
        &api,
        vec![message(1, OWNER, "how should I train this week?")],
    );
    let env = [
        ("LLM_PROVIDER", "llamacpp"),
        ("OPENAI_BASE_URL", llm.as_str()),
    ];
    let served = serve(&oz, &api_url, &env);
    let edited = || {
        api.lock()
            .unwrap()
            .calls
            .iter()
            .filter(|(m, _)| m == "editmessagetext")
            .map(|(_, p)| p["text"].as_str().unwrap_or("").to_owned())
            .collect::<Vec<_>>()
    };
    wait_for("the final edit", || {
        edited()
            .last()
            .is_some_and(|t| t == "Let me think. First, rest. Then run.")
    });
    std::thread::sleep(Duration::from_millis(800));
    let sent = sent_to(&api, OWNER);
    assert_eq!(
        sent.len(),
        1,
        "one message, edited, not a second one: {sent:?}"
    );
    assert!(
        sent[0].ends_with(" …") && sent[0].starts_with("Let me"),
        "{sent:?}"
    );
    served.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_mode_checks_the_secret_and_handles_each_update_once() {
    let (api_url, api) = start_fake().await;
    let oz = Oz::new();
    oz.ok(&["init"]);
    oz.ok(&["project", "add", "Career"]);
    let env = [
        ("OPENZERO__TELEGRAM__MODE", "webhook"),
        (
            "OPENZERO__TELEGRAM__WEBHOOK_URL",
            "https://z.example.org/tg-hook",
        ),
        ("OPENZERO__TELEGRAM__WEBHOOK_SECRET", "s3cret-s3cret"),
    ];
    let served = serve(&oz, &api_url, &env);
    wait_for("setWebhook", || {
        api.lock().unwrap().calls.iter().any(|(m, p)| {
            let raw = p.to_string();
            m == "setwebhook"
                && raw.contains("https://z.example.org/tg-hook")
                && raw.contains("s3cret-s3cret")
        })
    });
    let client = reqwest::Client::new();
    let post = |secret: Option<&str>, body: Value| {
        let mut r = client.post(format!("{}/tg-hook", served.url)).json(&body);
        if let Some(s) = secret {
            r = r.header("X-Telegram-Bot-Api-Secret-Token", s);
        }
        r.send()
    };
    assert_eq!(
        post(None, message(1, OWNER, "/tree"))
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        post(Some("wrong"), message(1, OWNER, "/tree"))
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        post(Some("s3cret-s3cret"), message(2, OWNER, "/tree"))
            .await
            .unwrap()
            .status(),
        200
    );
    // Telegram retrying the same update: still one answer.
    assert_eq!(
        post(Some("s3cret-s3cret"), message(2, OWNER, "/tree"))
            .await
            .unwrap()
            .status(),
        200
    );
    wait_for("the reply", || !sent_to(&api, OWNER).is_empty());
    std::thread::sleep(Duration::from_millis(600));
    let sent = sent_to(&api, OWNER);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].contains("[ACTIVE] Career"));
    assert!(
        !api.lock()
            .unwrap()
            .calls
            .iter()
            .any(|(m, _)| m == "getupdates"),
        "polled in webhook mode"
    );
    served.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_the_briefing_on_schedule_and_jobs_are_controlled_from_telegram() {
    let (api_url, api) = start_fake().await;
    let oz = Oz::new();
    oz.ok(&["init"]);
    oz.ok(&["project", "add", "Career", "--priority", "1"]);
    let env = [
        // Every two seconds (croner takes an optional seconds field).
        ("OPENZERO__SCHEDULE__DAILY_BRIEFING", "*/2 * * * * *"),
        ("OPENZERO__SCHEDULE__WEEKLY_REVIEW", ""),
        ("OPENZERO__SCHEDULE__MONTHLY_REVIEW", ""),
        // No usable model: the plain briefing is delivered.
        ("LLM_PROVIDER", "llamacpp"),
        ("OPENAI_BASE_URL", "http://127.0.0.1:1/v1"),
    ];
    let served = serve(&oz, &api_url, &env);
    wait_for("a scheduled briefing", || {
        sent_to(&api, OWNER)
            .iter()
            .any(|t| t.starts_with("Good morning."))
    });
    push(
        &api,
        vec![
            message(1, OWNER, "/pause daily-briefing"),
            message(2, OWNER, "/jobs"),
        ],
    );
    wait_for("the job list", || {
        sent_to(&api, OWNER)
            .iter()
            .any(|t| t.contains("daily-briefing (paused)"))
    });
    let listed = sent_to(&api, OWNER);
    let jobs = listed
        .iter()
        .find(|t| t.contains("daily-briefing (paused)"))
        .unwrap();
    assert!(jobs.contains("weekly-review – next never"), "{jobs}");
    // Paused: no briefing arrives any more.
    std::thread::sleep(Duration::from_millis(500));
    let before = sent_to(&api, OWNER)
        .iter()
        .filter(|t| t.starts_with("Good morning."))
        .count();
    std::thread::sleep(Duration::from_millis(4500));
    let after = sent_to(&api, OWNER)
        .iter()
        .filter(|t| t.starts_with("Good morning."))
        .count();
    assert_eq!(before, after, "a paused job ran");
    // /daily composes one on demand.
    push(&api, vec![message(3, OWNER, "/daily")]);
    wait_for("the /daily briefing", || {
        sent_to(&api, OWNER)
            .iter()
            .filter(|t| t.starts_with("Good morning."))
            .count()
            > after
    });
    served.stop();
    let runs = oz
        .ok(&["jobs", "list", "--json"])
        .get_output()
        .stdout
        .clone();
    let first: Value =
        serde_json::from_str(String::from_utf8_lossy(&runs).lines().next().unwrap()).unwrap();
    assert_eq!(first["paused"], true, "{first}");
    assert_eq!(first["last_outcome"], "ok", "{first}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markdown_goes_out_as_html_and_plain_when_telegram_refuses_it() {
    let (api_url, api) = start_fake().await;
    let llm = model_server("**Career** first, then `run` <5k>".to_owned()).await;
    let oz = Oz::new();
    oz.ok(&["init"]);
    let env = [
        ("LLM_PROVIDER", "llamacpp"),
        ("OPENAI_BASE_URL", llm.as_str()),
    ];
    push(&api, vec![message(1, OWNER, "what first?")]);
    let served = serve(&oz, &api_url, &env);
    wait_for("the answer", || !sent_to(&api, OWNER).is_empty());
    let calls = api.lock().unwrap().calls.clone();
    let (_, sent) = calls.iter().find(|(m, _)| m == "sendmessage").unwrap();
    assert_eq!(sent["parse_mode"], "HTML");
    assert_eq!(
        sent["text"],
        "<b>Career</b> first, then <code>run</code> &lt;5k&gt;"
    );

    api.lock().unwrap().reject_html = true;
    push(&api, vec![message(2, OWNER, "again?")]);
    wait_for("the plain answer", || sent_to(&api, OWNER).len() >= 2);
    let calls = api.lock().unwrap().calls.clone();
    assert!(
        calls
            .iter()
            .any(|(m, _)| m == "sendmessage refused: markup")
    );
    let (_, plain) = calls
        .iter()
        .rev()
        .find(|(m, _)| m == "sendmessage")
        .unwrap();
    assert!(
        plain.get("parse_mode").is_none_or(Value::is_null),
        "{plain}"
    );
    assert_eq!(plain["text"], "**Career** first, then `run` <5k>");
    served.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_briefing_arrives_whole_in_order_cut_at_line_breaks() {
    let (api_url, api) = start_fake().await;
    let oz = Oz::new();
    oz.ok(&["init"]);
    // 75 paused projects, each named with emoji: about 3,600 characters
    // but 4,500 UTF-16 units, which is what Telegram counts.
    for n in 0..75 {
        let name = format!("{} {n:02}", "🎯".repeat(15));
        oz.ok(&["project", "add", &name, "--status", "paused"]);
    }
    let owner = OWNER.to_string();
    let telegram = [
        ("TELEGRAM_BOT_TOKEN", TOKEN),
        ("TELEGRAM_ALLOWED_USER_ID", owner.as_str()),
        ("OPENZERO__TELEGRAM__API_BASE_URL", api_url.as_str()),
        ("LLM_PROVIDER", "llamacpp"),
        ("OPENAI_BASE_URL", "http://127.0.0.1:1/v1"),
    ];
    // Run now from the CLI: queued for Telegram, sent by `serve`.
    let mut run = oz.cmd();
    run.args(["jobs", "run", "daily-briefing"]);
    for (k, v) in telegram {
        run.env(k, v);
    }
    let briefing = String::from_utf8(run.assert().success().get_output().stdout.clone()).unwrap();
    let units = |s: &str| s.encode_utf16().count();
    assert!(briefing.chars().count() < 4096 && units(&briefing) > 4096);
    let served = serve(&oz, &api_url, &telegram[3..]);
    wait_for("the whole briefing", || {
        sent_to(&api, OWNER)
            .concat()
            .contains(&format!("{} 74", "🎯".repeat(15)))
    });
    served.stop();
    let parts = sent_to(&api, OWNER);
    assert!(parts.len() >= 2, "{parts:?}");
    assert!(
        parts[0].starts_with("Good morning."),
        "out of order: {parts:?}"
    );
    for p in &parts {
        assert!(units(p) <= 4096, "a piece of {} units", units(p));
        assert!(
            p.trim_end().ends_with("paused") || p.ends_with("paused)"),
            "cut mid-line: …{}",
            &p[p.len().saturating_sub(40)..]
        );
    }
    let lines = |s: &str| -> Vec<String> {
        s.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        lines(&parts.join("\n")),
        lines(&briefing),
        "something was lost or reordered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_agent_turn_does_not_hold_up_status_or_other_commands() {
    let (api_url, api) = start_fake().await;
    // About five seconds of answer.
    let llm = slow_model(
        &[
            "Plan: ", "rest ", "on ", "Monday, ", "run ", "on ", "Tuesday.",
        ],
        Duration::from_millis(800),
    )
    .await;
    let oz = Oz::new();
    oz.ok(&["init"]);
    push(
        &api,
        vec![
            message(1, OWNER, "plan my week"),
            message(2, OWNER, "/status"),
            message(3, OWNER, "/tree"),
        ],
    );
    let env = [
        ("LLM_PROVIDER", "llamacpp"),
        ("OPENAI_BASE_URL", llm.as_str()),
    ];
    let served = serve(&oz, &api_url, &env);
    let whole = "Plan: rest on Monday, run on Tuesday.";
    let answered = || {
        let calls = api.lock().unwrap().calls.clone();
        calls.iter().any(|(m, p)| {
            (m == "sendmessage" || m == "editmessagetext") && p["text"].as_str() == Some(whole)
        })
    };
    wait_for("/status and /tree", || {
        let sent = sent_to(&api, OWNER);
        sent.iter().any(|t| t.contains("storage: ok"))
            && sent.iter().any(|t| t.contains("No projects"))
    });
    assert!(!answered(), "the commands waited for the agent's answer");
    wait_for("the agent's answer", answered);
    served.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_model_is_loaded_on_first_use_and_released_when_idle() {
    let Ok(model) = std::env::var("OPENZERO_TEST_CHAT_MODEL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "OPENZERO_TEST_CHAT_MODEL must be set in CI"
        );
        return;
    };
    let (api_url, api) = start_fake().await;
    let oz = Oz::new();
    oz.ok(&["init"]);
    let env = [
        ("OPENZERO__LLM__MODEL", model.as_str()),
        ("OPENZERO__LLM__MAX_TOKENS", "8"),
        ("OPENZERO__LLM__UNLOAD_AFTER_SECS", "2"),
        // No embedding model: this is about the chat model alone.
        ("OPENZERO__MEMORY__MODEL_DIR", "/nonexistent"),
    ];
    let served = serve(&oz, &api_url, &env);
    std::thread::sleep(Duration::from_millis(500));
    let idle = served.rss_mb();
    push(&api, vec![message(1, OWNER, "hello")]);
    wait_for("an answer", || !sent_to(&api, OWNER).is_empty());
    let loaded = served.rss_mb();
    assert!(
        loaded > idle + 50.0,
        "the model was loaded at start ({idle:.0} MB idle) or not at all ({loaded:.0} MB)"
    );
    // Released after two idle seconds; the memory falls once the turn in
    // hand (if it is still running) lets go of the model.
    wait_for("the model to be released", || {
        served.log().contains("chat model released")
    });
    wait_for("the memory to fall", || served.rss_mb() < loaded - 50.0);
    // Loaded again for the next question.
    push(&api, vec![message(2, OWNER, "hello again")]);
    wait_for("a second answer", || sent_to(&api, OWNER).len() >= 2);
    served.stop();
}
