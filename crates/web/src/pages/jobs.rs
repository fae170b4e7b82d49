//! Jobs: schedule in local time, next run, history; run now, pause, resume.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};

use crate::auth::{Change, Layout, Nothing, Owner, done};
use crate::{PageError, Web};

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/jobs", get(list))
        .route("/jobs/{name}", get(history))
        .route("/jobs/{name}/run", post(run))
        .route("/jobs/{name}/pause", post(pause))
        .route("/jobs/{name}/resume", post(resume))
}

#[derive(askama::Template)]
#[template(path = "jobs.html")]
struct List {
    layout: Layout,
    tz: String,
    jobs: Vec<openzero_app::jobs::JobInfo>,
}

async fn list(State(web): State<Web>, owner: Owner) -> Result<Response, PageError> {
    let jobs = openzero_app::jobs::list(&web.services.loaded, &*web.services.store).await?;
    Ok(owner.page(&List {
        layout: owner.layout("/jobs"),
        tz: web.services.tz().name().to_owned(),
        jobs,
    }))
}

pub(crate) struct Run {
    slot: String,
    outcome: String,
    error: String,
}

#[derive(askama::Template)]
#[template(path = "job_history.html")]
struct History {
    layout: Layout,
    name: String,
    runs: Vec<Run>,
}

async fn history(
    State(web): State<Web>,
    Path(name): Path<String>,
    owner: Owner,
) -> Result<Response, PageError> {
    let job = openzero_app::jobs::find(&web.services.loaded, &name)?;
    let tz = web.services.tz();
    let runs = web
        .services
        .store
        .job_runs(job.name, 30)
        .await?
        .into_iter()
        .map(|r| Run {
            slot: super::local(tz, r.scheduled_for),
            outcome: r.outcome,
            error: r.error.unwrap_or_default(),
        })
        .collect();
    Ok(owner.page(&History {
        layout: owner.layout("/jobs"),
        name: job.name.to_owned(),
        runs,
    }))
}

async fn run(
    State(web): State<Web>,
    Path(name): Path<String>,
    c: Change<Nothing>,
) -> Result<Response, PageError> {
    let job = openzero_app::jobs::find(&web.services.loaded, &name)?;
    c.owner.audit(&web, "job.run", job.name).await;
    let services = web.services.clone();
    // A job can take minutes (a briefing asks the model): it runs on, and
    // its outcome shows in the history.
    tokio::spawn(async move {
        let runner = openzero_app::jobs::Runner::new(services);
        if let Err(e) = runner.run(&job, openzero_app::clock::now()).await {
            tracing::warn!(job = job.name, error = %e, "job run from the dashboard failed");
        }
    });
    Ok(done(
        &format!("/jobs/{name}"),
        &format!("Started {name}; its outcome shows here when it ends."),
    ))
}

async fn set(
    web: Web,
    name: String,
    c: Change<Nothing>,
    paused: bool,
) -> Result<Response, PageError> {
    let job =
        openzero_app::jobs::set_paused(&web.services.loaded, &*web.services.store, &name, paused)
            .await?;
    let action = if paused { "job.pause" } else { "job.resume" };
    c.owner.audit(&web, action, job).await;
    Ok(done(
        "/jobs",
        &format!("{} {job}.", if paused { "Paused" } else { "Resumed" }),
    ))
}

async fn pause(
    State(web): State<Web>,
    Path(name): Path<String>,
    c: Change<Nothing>,
) -> Result<Response, PageError> {
    set(web, name, c, true).await
}

async fn resume(
    State(web): State<Web>,
    Path(name): Path<String>,
    c: Change<Nothing>,
) -> Result<Response, PageError> {
    set(web, name, c, false).await
}
