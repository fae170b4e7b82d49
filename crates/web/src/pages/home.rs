//! Home: how Z is, what runs next, the last briefing, what waits for the owner.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use openzero_core::consent::ThoughtState;

use crate::auth::{Layout, Owner};
use crate::{PageError, Web};

pub fn routes() -> Router<Web> {
    Router::new().route("/", get(home))
}

pub(crate) struct Health {
    name: String,
    status: String,
    detail: String,
}

pub(crate) struct NextJob {
    name: String,
    next: String,
    paused: bool,
}

#[derive(askama::Template)]
#[template(path = "home.html")]
struct Home {
    layout: Layout,
    overall: String,
    health: Vec<Health>,
    jobs: Vec<NextJob>,
    briefing: Option<(String, String, String)>,
    pending: usize,
    projects: usize,
    memories: i64,
}

async fn home(State(web): State<Web>, owner: Owner) -> Result<Response, PageError> {
    let s = &web.services;
    let components = s.health().await;
    let overall = openzero_core::health::overall(components.values());
    let health = components
        .iter()
        .map(|(name, c)| Health {
            name: name.clone(),
            status: super::word(&c.status),
            detail: c.detail.clone(),
        })
        .collect();
    let jobs = openzero_app::jobs::list(&s.loaded, &*s.store)
        .await?
        .into_iter()
        .map(|j| NextJob {
            name: j.name,
            next: j.next.unwrap_or_else(|| "not scheduled".into()),
            paused: j.paused,
        })
        .collect();
    let tz = s.tz();
    let briefing = s
        .store
        .last_briefing(None)
        .await?
        .map(|(kind, at, text)| (kind, super::local(tz, at), text));
    let now = openzero_app::clock::now();
    let pending = s
        .store
        .list_thoughts(50)
        .await?
        .iter()
        .filter(|t| t.state.at(t.expires_at, now) == ThoughtState::Pending)
        .count();
    let projects = s.store.list_projects().await?.len();
    let memories = s.memory().await.stats().await.map(|m| m.total).unwrap_or(0);
    Ok(owner.page(&Home {
        layout: owner.layout("/"),
        overall: super::word(&overall),
        health,
        jobs,
        briefing,
        pending,
        projects,
        memories,
    }))
}
