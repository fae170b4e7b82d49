//! The project tree: add, edit, move (a new parent), complete.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use openzero_app::projects::{self, AddProject, UpdateProject};
use openzero_core::project::{Priority, Progress, Status};
use openzero_core::tree::ordered;
use serde::Deserialize;

use crate::auth::{Change, Layout, Owner, done};
use crate::{PageError, Web};

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/projects", get(list).post(add))
        .route("/projects/{id}", get(edit_page).post(edit))
        .route("/projects/{id}/done", post(complete))
}

pub(crate) struct Row {
    id: i64,
    name: String,
    depth: usize,
    status: String,
    priority: String,
    progress: u8,
    domain: String,
}

#[derive(askama::Template)]
#[template(path = "projects.html")]
struct List {
    layout: Layout,
    rows: Vec<Row>,
}

async fn list(State(web): State<Web>, owner: Owner) -> Result<Response, PageError> {
    let all = projects::list(&*web.services.store).await?;
    let rows = ordered(&all)
        .into_iter()
        .map(|(p, depth)| Row {
            id: p.id,
            name: p.name.clone(),
            depth,
            status: p.status.as_str().to_owned(),
            priority: i64::from(p.priority).to_string(),
            progress: p.progress.get(),
            domain: p.domain.as_str().to_owned(),
        })
        .collect();
    Ok(owner.page(&List {
        layout: owner.layout("/projects"),
        rows,
    }))
}

#[derive(Debug, Deserialize)]
struct AddForm {
    name: String,
    #[serde(default)]
    parent: String,
}

fn some(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

fn bad(e: impl std::fmt::Display) -> PageError {
    PageError(axum::http::StatusCode::BAD_REQUEST, e.to_string())
}

async fn add(State(web): State<Web>, c: Change<AddForm>) -> Result<Response, PageError> {
    let p = projects::add(
        &*web.services.store,
        AddProject {
            name: c.form.name.clone(),
            parent: some(&c.form.parent),
            ..Default::default()
        },
    )
    .await?;
    c.owner
        .audit(&web, "project.add", &format!("#{} {}", p.id, p.name))
        .await;
    Ok(done("/projects", &format!("Added {}.", p.name)))
}

async fn complete(
    State(web): State<Web>,
    Path(id): Path<i64>,
    c: Change<crate::auth::Nothing>,
) -> Result<Response, PageError> {
    let p = projects::update(
        &*web.services.store,
        &format!("#{id}"),
        UpdateProject {
            status: Some(Status::Completed),
            ..Default::default()
        },
    )
    .await?;
    c.owner
        .audit(&web, "project.complete", &format!("#{} {}", p.id, p.name))
        .await;
    Ok(done("/projects", &format!("Completed {}.", p.name)))
}

#[derive(askama::Template)]
#[template(path = "project_edit.html")]
struct Edit {
    layout: Layout,
    id: i64,
    name: String,
    progress: u8,
    description: String,
    /// (value, label, selected)
    statuses: Vec<(String, bool)>,
    priorities: Vec<(String, bool)>,
    parents: Vec<(String, String, bool)>,
}

async fn edit_page(
    State(web): State<Web>,
    Path(id): Path<i64>,
    owner: Owner,
) -> Result<Response, PageError> {
    let all = projects::list(&*web.services.store).await?;
    let p = projects::find(&*web.services.store, &format!("#{id}")).await?;
    let parents = ordered(&all)
        .into_iter()
        .filter(|(q, _)| q.id != p.id)
        .map(|(q, depth)| {
            (
                q.id.to_string(),
                format!("{}{}", "· ".repeat(depth), q.name),
                p.parent_id == Some(q.id),
            )
        })
        .collect();
    Ok(owner.page(&Edit {
        layout: owner.layout("/projects"),
        id: p.id,
        name: p.name.clone(),
        progress: p.progress.get(),
        description: p.description.clone().unwrap_or_default(),
        statuses: Status::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), *s == p.status))
            .collect(),
        priorities: (1..=5i64)
            .map(|n| (n.to_string(), n == i64::from(p.priority)))
            .collect(),
        parents,
    }))
}

#[derive(Debug, Deserialize)]
struct EditForm {
    name: String,
    #[serde(default)]
    parent: String,
    status: String,
    priority: String,
    progress: String,
    #[serde(default)]
    description: String,
}

async fn edit(
    State(web): State<Web>,
    Path(id): Path<i64>,
    c: Change<EditForm>,
) -> Result<Response, PageError> {
    let f = &c.form;
    let parent = some(&f.parent).map(|p| format!("#{}", p.trim_start_matches('#')));
    let current = projects::find(&*web.services.store, &format!("#{id}")).await?;
    let progress = f.progress.trim().parse::<Progress>().map_err(bad)?;
    let p = projects::update(
        &*web.services.store,
        &format!("#{id}"),
        UpdateProject {
            name: Some(f.name.clone()),
            parent: Some(parent),
            status: Some(f.status.parse::<Status>().map_err(bad)?),
            priority: Some(f.priority.parse::<Priority>().map_err(bad)?),
            // Unchanged progress stays with the tasks that decide it.
            progress: (progress != current.progress).then_some(progress),
            domain: None,
            description: Some(some(&f.description)),
        },
    )
    .await?;
    c.owner
        .audit(&web, "project.edit", &format!("#{} {}", p.id, p.name))
        .await;
    Ok(done("/projects", &format!("Saved {}.", p.name)))
}
