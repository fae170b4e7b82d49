//! The real server on port 0: health, and a clean stop on the shutdown signal.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use openzero_config::{Inputs, Override, load};
use tokio::sync::oneshot;

/// The embedded defaults in `dir`, and their store opened.
async fn defaults_in(
    dir: &std::path::Path,
) -> (
    openzero_config::Loaded,
    std::sync::Arc<dyn openzero_store::Store>,
) {
    let loaded = load(&Inputs {
        data_dir: Some(dir.to_owned()),
        ..Default::default()
    })
    .unwrap();
    let store = openzero_app::open_store(&loaded).await.unwrap();
    (loaded, store)
}

/// A data directory whose model directory holds the model's files (health
/// checks that they are there; the embedder tests check their contents).
fn settings_with_model(dir: &std::path::Path, with_model: bool) -> openzero_config::Loaded {
    let model = dir.join("model");
    if with_model {
        std::fs::create_dir_all(&model).unwrap();
        for f in openzero_embed::MODEL_FILES {
            std::fs::write(model.join(f), b"").unwrap();
        }
        let models = dir.join("models");
        std::fs::create_dir_all(&models).unwrap();
        std::fs::write(models.join(openzero_llm::embedded::DEFAULT_FILE), b"").unwrap();
    }
    load(&Inputs {
        data_dir: Some(dir.to_owned()),
        overrides: vec![Override {
            path: "memory.model_dir".into(),
            value: toml::Value::String(model.to_string_lossy().into_owned()),
            origin: "test".into(),
        }],
        ..Default::default()
    })
    .unwrap()
}

type Server = tokio::task::JoinHandle<Result<(), openzero_server::ServerError>>;

/// Runs the real service on a free port; send on the channel to stop it.
async fn start(
    loaded: openzero_config::Loaded,
) -> (std::net::SocketAddr, oneshot::Sender<()>, Server) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(openzero_server::run(loaded, listener, async {
        let _ = rx.await;
    }));
    (addr, tx, server)
}

#[tokio::test]
async fn health_reports_storage_ok_and_server_stops_on_signal() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = settings_with_model(dir.path(), true);
    let (addr, tx, server) = start(loaded).await;

    let resp = reqwest::get(format!("http://{addr}/health")).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["components"]["storage"]["status"], "ok", "{body}");
    assert_eq!(body["components"]["memory"]["status"], "ok", "{body}");
    assert_eq!(body["components"]["llm"]["status"], "ok", "{body}");
    // The supervised scheduler reports itself.
    assert_eq!(body["components"]["scheduler"]["status"], "ok", "{body}");
    assert_eq!(
        body["components"]["telegram"]["status"], "disabled",
        "{body}"
    );
    assert!(
        body["components"]["memory"]["detail"]
            .as_str()
            .unwrap()
            .contains("0 memories, 0 waiting"),
        "{body}"
    );
    let detail = body["components"]["storage"]["detail"].as_str().unwrap();
    assert!(detail.starts_with("sqlite at "), "{detail}");
    assert!(
        dir.path().join("openzero.db").exists(),
        "created on first run"
    );

    let missing = reqwest::get(format!("http://{addr}/nope")).await.unwrap();
    assert_eq!(missing.status(), 404);

    tx.send(()).unwrap();
    let result = tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("server stops within 10 s")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
    assert!(reqwest::get(format!("http://{addr}/health")).await.is_err());
}

#[tokio::test]
async fn health_is_down_when_storage_breaks_under_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let (loaded, store) = defaults_in(dir.path()).await;
    let app = openzero_server::router(
        openzero_server::AppState {
            services: openzero_server::services_over(loaded, store.clone()),
            stop: tokio::sync::watch::channel(false).1,
        },
        Vec::new(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum_serve(listener, app).await });
    // Closing the pool is what a lost database looks like to the handler.
    store.close().await;
    let body: serde_json::Value = reqwest::get(format!("http://{addr}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "down", "{body}");
    assert_eq!(body["components"]["storage"]["status"], "down", "{body}");
}

async fn axum_serve(listener: tokio::net::TcpListener, app: axum::Router) {
    let _ = axum::serve(listener, app).await;
}

#[tokio::test]
async fn health_is_degraded_without_the_embedding_model() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = settings_with_model(dir.path(), false);
    let (addr, tx, server) = start(loaded).await;
    let body: serde_json::Value = reqwest::get(format!("http://{addr}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["components"]["storage"]["status"], "ok", "{body}");
    assert_eq!(body["components"]["memory"]["status"], "down", "{body}");
    let detail = body["components"]["memory"]["detail"].as_str().unwrap();
    assert!(detail.contains("scripts/fetch-models"), "{detail}");
    assert!(detail.contains("search is by words only"), "{detail}");
    let llm = body["components"]["llm"]["detail"].as_str().unwrap();
    assert_eq!(body["components"]["llm"]["status"], "down", "{body}");
    assert!(llm.contains("fetch-models"), "{llm}");
    tx.send(()).unwrap();
    server.await.unwrap().unwrap();
}

/// A capability's endpoint is mounted from its contribution alone: the
/// server answers it with the capability's status and JSON, decodes the
/// query, passes the headers, and refuses other methods.
#[tokio::test]
async fn contributed_endpoints_and_workers_are_served_without_the_server_knowing_them() {
    use openzero_app::serve_parts::{HookReply, Method, Parts};
    let dir = tempfile::tempdir().unwrap();
    let (loaded, store) = defaults_in(dir.path()).await;
    let services = openzero_server::services_over(loaded, store.clone());

    // What serve runs on the embedded defaults: the always-on loops and the
    // webhooks (which answer 404 until configured), no Telegram.
    let defaults = openzero_server::parts(&services);
    let names: Vec<&str> = defaults.workers.iter().map(|w| w.name.as_str()).collect();
    assert!(names.contains(&"calendar-reminders"), "{names:?}");
    assert!(names.contains(&"backup-watch"), "{names:?}");
    assert!(!names.contains(&"telegram"), "{names:?}");
    let paths: Vec<&str> = defaults.endpoints.iter().map(|e| e.path.as_str()).collect();
    assert!(paths.contains(&"/webhooks/strava"), "{paths:?}");
    assert!(paths.contains(&"/webhooks/planka"), "{paths:?}");

    let mut parts = Parts::default();
    parts.endpoint("/webhooks/ping", &[Method::Get], |req| async move {
        HookReply {
            status: 202,
            json: Some(serde_json::json!({
                "echo": req.query("say"),
                "who": req.header("X-Who"),
            })),
        }
    });
    // A second endpoint on a taken path (here the dashboard's sign-in and
    // the ping above) is left out; the first keeps answering.
    parts.endpoint("/login", &[Method::Post], |_| async {
        HookReply::status(418)
    });
    parts.endpoint("/webhooks/ping", &[Method::Post], |_| async {
        HookReply::status(418)
    });
    let mut endpoints = parts.endpoints;
    endpoints.extend(defaults.endpoints);
    let app = openzero_server::router(
        openzero_server::AppState {
            services,
            stop: tokio::sync::watch::channel(false).1,
        },
        endpoints,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum_serve(listener, app).await });
    let client = reqwest::Client::new();
    let r = client
        .get(format!("http://{addr}/webhooks/ping?say=hello%20there&x=1"))
        .header("x-who", "planka")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"echo": "hello there", "who": "planka"})
    );
    let r = client
        .post(format!("http://{addr}/webhooks/ping"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let r = client
        .get(format!("http://{addr}/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the dashboard's sign-in still serves");
    // Strava's check is the capability's: not configured, no such hook.
    let r = client
        .get(format!(
            "http://{addr}/webhooks/strava?hub.mode=subscribe&hub.verify_token=x&hub.challenge=y"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // The health page sees the endpoints' neighbours unchanged.
    let r = client
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    store.close().await;
}
