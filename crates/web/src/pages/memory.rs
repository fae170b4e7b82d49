//! Memory: search, add, look at one (where it came from), forget (after a
//! confirmation), export.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use openzero_app::memory::AddMemory;
use openzero_core::memory::Filters;
use serde::Deserialize;

use crate::auth::{Change, Layout, Nothing, Owner, done};
use crate::{PageError, Web};

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/memory", get(page).post(add))
        .route("/memory/export", get(export))
        .route(
            "/memory/import",
            axum::routing::post(import).layer(axum::extract::DefaultBodyLimit::max(IMPORT_MAX)),
        )
        .route("/memory/import/{id}", get(import_state))
        .route("/memory/{id}", get(one))
        .route("/memory/{id}/forget", get(confirm).post(forget))
}

pub(crate) struct Shown {
    id: i64,
    text: String,
    when: String,
    source: String,
    score: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "memory.html")]
struct Page {
    layout: Layout,
    q: String,
    total: i64,
    shown: Vec<Shown>,
    warning: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Search {
    #[serde(default)]
    q: String,
}

async fn page(
    State(web): State<Web>,
    owner: Owner,
    Query(s): Query<Search>,
) -> Result<Response, PageError> {
    let tz = web.services.tz();
    let memory = web.services.memory().await;
    let total = memory.stats().await.map(|m| m.total).unwrap_or(0);
    let q = s.q.trim().to_owned();
    let (shown, warning) = if q.is_empty() {
        let now = openzero_app::clock::now();
        let newest = web
            .services
            .store
            .memories_between(
                chrono::DateTime::UNIX_EPOCH,
                now + chrono::Duration::days(1),
                30,
            )
            .await?;
        let shown = newest
            .into_iter()
            .map(|m| Shown {
                id: m.id,
                text: m.text,
                when: super::local(tz, m.created_at),
                source: m.source.to_string(),
                score: None,
            })
            .collect();
        (shown, None)
    } else {
        let found = memory.search(&q, 20, &Filters::default()).await?;
        let shown = found
            .hits
            .into_iter()
            .map(|h| Shown {
                id: h.id,
                text: h.text,
                when: super::local(tz, h.created_at),
                source: h.source.to_string(),
                score: Some(format!("{:.2}", h.score)),
            })
            .collect();
        (shown, found.warning)
    };
    Ok(owner.page(&Page {
        layout: owner.layout("/memory"),
        q,
        total,
        shown,
        warning,
    }))
}

#[derive(Debug, Deserialize)]
struct AddForm {
    text: String,
}

async fn add(State(web): State<Web>, c: Change<AddForm>) -> Result<Response, PageError> {
    let added = web
        .services
        .memory()
        .await
        .add(AddMemory {
            text: c.form.text.clone(),
            source: Some("dashboard".into()),
            ..Default::default()
        })
        .await?;
    c.owner
        .audit(&web, "memory.add", &format!("#{}", added.memory.id))
        .await;
    let msg = match (added.new, added.warning) {
        (false, _) => "I already knew that.".to_owned(),
        (true, Some(w)) => format!("Remembered ({w})."),
        (true, None) => "Remembered.".to_owned(),
    };
    Ok(done("/memory", &msg))
}

async fn find(web: &Web, id: i64) -> Result<openzero_core::memory::Memory, PageError> {
    web.services
        .store
        .get_memories(&[id])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| {
            PageError(
                StatusCode::NOT_FOUND,
                format!("Memory #{id} does not exist (it may have been forgotten)."),
            )
        })
}

#[derive(askama::Template)]
#[template(path = "memory_one.html")]
struct One {
    layout: Layout,
    id: i64,
    text: String,
    when: String,
    source: String,
    external_id: String,
    metadata: String,
    embedded: String,
    confirm: bool,
    /// (when, what for), newest first.
    uses: Vec<(String, String)>,
    /// Disclosures that carried it: (number, when, to whom).
    disclosed: Vec<(i64, String, String)>,
}

async fn show(web: &Web, owner: &Owner, id: i64, confirm: bool) -> Result<Response, PageError> {
    let m = find(web, id).await?;
    let tz = web.services.tz();
    let uses = web
        .services
        .store
        .memory_uses(id, 50)
        .await?
        .into_iter()
        .map(|(at, by)| (super::local(tz, at), by))
        .collect();
    // Disclosure items name memories as `memory #ID (date)`.
    let label = format!("memory #{id} (");
    let disclosed = web
        .services
        .store
        .list_disclosures(500)
        .await?
        .into_iter()
        .filter(|d| d.items.iter().any(|i| i.starts_with(&label)))
        .map(|d| {
            (
                d.id,
                super::local(tz, d.at),
                format!("{} ({})", d.provider, d.model),
            )
        })
        .collect();
    Ok(owner.page(&One {
        layout: owner.layout("/memory"),
        id: m.id,
        text: m.text,
        when: super::local(web.services.tz(), m.created_at),
        source: m.source.to_string(),
        external_id: m.external_id.unwrap_or_default(),
        metadata: m.metadata.unwrap_or_default(),
        embedded: m
            .model
            .unwrap_or_else(|| "not yet (waiting for the embedding model)".into()),
        confirm,
        uses,
        disclosed,
    }))
}

async fn one(
    State(web): State<Web>,
    Path(id): Path<i64>,
    owner: Owner,
) -> Result<Response, PageError> {
    show(&web, &owner, id, false).await
}

async fn confirm(
    State(web): State<Web>,
    Path(id): Path<i64>,
    owner: Owner,
) -> Result<Response, PageError> {
    show(&web, &owner, id, true).await
}

async fn forget(
    State(web): State<Web>,
    Path(id): Path<i64>,
    c: Change<Nothing>,
) -> Result<Response, PageError> {
    find(&web, id).await?;
    web.services.memory().await.forget(id).await?;
    c.owner
        .audit(&web, "memory.forget", &format!("#{id}"))
        .await;
    Ok(done("/memory", &format!("Forgot memory #{id}.")))
}

async fn export(State(web): State<Web>, owner: Owner) -> Result<Response, PageError> {
    let mut out = Vec::new();
    let n = web.services.memory().await.export(&mut out).await?;
    owner
        .audit(&web, "memory.export", &format!("{n} memories"))
        .await;
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"openzero-memories.jsonl\"",
            ),
        ],
        out,
    )
        .into_response())
}

/// The largest JSONL file taken from a page (the CLI takes any size).
const IMPORT_MAX: usize = 64 * 1024 * 1024;

/// How an import from the page is going.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ImportState {
    /// Bytes read of `total`.
    pub read: usize,
    pub total: usize,
    pub done: bool,
    /// The outcome in words, when done.
    pub message: String,
}

/// Imports by number.
pub type Imports = std::collections::BTreeMap<u64, ImportState>;

fn set(web: &Web, id: u64, f: impl FnOnce(&mut ImportState)) {
    if let Ok(mut all) = web.imports.lock()
        && let Some(s) = all.get_mut(&id)
    {
        f(s);
    }
}

/// Takes a JSONL file (the body, as the page's script sends it) and imports
/// it in the background; the page follows `/memory/import/{id}`.
async fn import(
    State(web): State<Web>,
    owner: Owner,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let token = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    owner.check(token)?;
    let id = {
        let mut all = web.imports.lock().map_err(|_| {
            PageError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "import state lost".into(),
            )
        })?;
        let id = all.keys().next_back().map_or(1, |k| k + 1);
        all.insert(
            id,
            ImportState {
                total: body.len(),
                ..Default::default()
            },
        );
        id
    };
    owner
        .audit(&web, "memory.import", &format!("{} bytes", body.len()))
        .await;
    let task = web.clone();
    tokio::spawn(async move {
        let web = task;
        let progress = |n: usize| set(&web, id, |s| s.read = n);
        let memory = web.services.memory().await;
        let result = memory
            .import(std::io::Cursor::new(body.to_vec()), &progress)
            .await;
        let message = match result {
            Ok(r) => {
                let mut m = format!(
                    "Imported {} new memories ({} already known)",
                    r.added, r.already_present
                );
                if r.not_embedded > 0 {
                    m.push_str(&format!(
                        "; {} wait for the embedding model (`openzero memory reindex`)",
                        r.not_embedded
                    ));
                }
                if !r.rejected.is_empty() {
                    let lines: Vec<String> = r
                        .rejected
                        .iter()
                        .take(5)
                        .map(|(n, why)| format!("line {n}: {why}"))
                        .collect();
                    m.push_str(&format!(
                        "; {} lines skipped ({}{})",
                        r.rejected.len(),
                        lines.join("; "),
                        if r.rejected.len() > 5 { "; …" } else { "" }
                    ));
                }
                m + "."
            }
            Err(e) => format!(
                "The import stopped: {e}. What was stored before stays; importing the file again adds only what is missing."
            ),
        };
        tracing::info!(id, %message, "memory import from the dashboard");
        set(&web, id, |s| {
            s.done = true;
            s.read = s.total;
            s.message = message;
        });
    });
    Ok(axum::Json(serde_json::json!({ "id": id })).into_response())
}

async fn import_state(
    State(web): State<Web>,
    Path(id): Path<u64>,
    _owner: Owner,
) -> Result<Response, PageError> {
    let state = web
        .imports
        .lock()
        .ok()
        .and_then(|all| all.get(&id).cloned())
        .ok_or_else(|| PageError(StatusCode::NOT_FOUND, format!("There is no import #{id}.")))?;
    Ok(axum::Json(state).into_response())
}
