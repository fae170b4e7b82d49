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
}

async fn show(web: &Web, owner: &Owner, id: i64, confirm: bool) -> Result<Response, PageError> {
    let m = find(web, id).await?;
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
