//! Mail (read-only, as everywhere): recent mail or mail matching words,
//! urgent first in its own list, and one message with its summary.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use openzero_app::mail::{MailService, sender_name};
use openzero_core::mail::Action;
use openzero_store::mail::MailQuery;
use serde::Deserialize;

use crate::auth::{Layout, Owner};
use crate::{PageError, Web};

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/mail", get(list))
        .route("/mail/{id}", get(one))
}

pub(crate) struct Row {
    id: i64,
    when: String,
    from: String,
    subject: String,
    summary: String,
    urgent: bool,
}

#[derive(askama::Template)]
#[template(path = "mail.html")]
struct List {
    layout: Layout,
    q: String,
    rows: Vec<Row>,
}

#[derive(Debug, Deserialize)]
struct Search {
    #[serde(default)]
    q: String,
}

async fn list(
    State(web): State<Web>,
    owner: Owner,
    Query(s): Query<Search>,
) -> Result<Response, PageError> {
    let tz = web.services.tz();
    let mail = MailService::new(web.services.clone());
    let rows = mail
        .list(&MailQuery {
            words: s.q.split_whitespace().map(str::to_owned).collect(),
            limit: 50,
            ..Default::default()
        })
        .await?
        .into_iter()
        .map(|m| Row {
            id: m.id,
            when: super::local(tz, m.date.unwrap_or(m.received_at)),
            from: sender_name(&m.from).to_owned(),
            subject: m.subject.clone(),
            summary: m.summary.clone().unwrap_or_default(),
            urgent: m.action == Action::Urgent,
        })
        .collect();
    Ok(owner.page(&List {
        layout: owner.layout("/mail"),
        q: s.q.trim().to_owned(),
        rows,
    }))
}

#[derive(askama::Template)]
#[template(path = "mail_one.html")]
struct One {
    layout: Layout,
    when: String,
    from: String,
    to: String,
    subject: String,
    summary: String,
    body: String,
    attachments: String,
    problems: String,
}

async fn one(
    State(web): State<Web>,
    Path(id): Path<i64>,
    owner: Owner,
) -> Result<Response, PageError> {
    let m = MailService::new(web.services.clone())
        .get(id)
        .await?
        .ok_or_else(|| PageError(StatusCode::NOT_FOUND, format!("There is no mail #{id}.")))?;
    Ok(owner.page(&One {
        layout: owner.layout("/mail"),
        when: super::local(web.services.tz(), m.date.unwrap_or(m.received_at)),
        from: m.from,
        to: m.to,
        subject: m.subject,
        summary: m.summary.unwrap_or_default(),
        body: m.body,
        attachments: m.attachments,
        problems: m.problems,
    }))
}
