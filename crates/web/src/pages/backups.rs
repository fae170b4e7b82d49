//! Backups: how they are doing, the files kept, the last drill; back up or
//! drill now (through the jobs, so the run is recorded like the nightly one).

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use crate::auth::{Layout, Owner};
use crate::{PageError, Web};

pub fn routes() -> Router<Web> {
    Router::new().route("/backups", get(page))
}

pub(crate) struct File {
    when: String,
    size: String,
    name: String,
}

pub(crate) struct Drill {
    when: String,
    outcome: String,
    error: String,
}

#[derive(askama::Template)]
#[template(path = "backups.html")]
struct Page {
    layout: Layout,
    configured: bool,
    status: String,
    detail: String,
    dir: String,
    files: Vec<File>,
    drills: Vec<Drill>,
}

async fn page(State(web): State<Web>, owner: Owner) -> Result<Response, PageError> {
    use openzero_app::backup;
    let loaded = &web.services.loaded;
    let tz = web.services.tz();
    let status = backup::jobs::status(loaded, &*web.services.store).await;
    let dir = backup::dir(loaded);
    let files = backup::list(&dir)?
        .into_iter()
        .map(|b| File {
            when: super::local(tz, b.created_at),
            size: backup::size(b.bytes),
            name: b
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        })
        .collect();
    let drills = web
        .services
        .store
        .job_runs(backup::jobs::DRILL_JOB, 5)
        .await?
        .into_iter()
        .map(|r| Drill {
            when: super::local(tz, r.scheduled_for),
            outcome: r.outcome,
            error: r.error.unwrap_or_default(),
        })
        .collect();
    Ok(owner.page(&Page {
        layout: owner.layout("/backups"),
        configured: backup::configured(loaded),
        status: format!("{:?}", status.status).to_lowercase(),
        detail: status.detail,
        dir: dir.display().to_string(),
        files,
        drills,
    }))
}
