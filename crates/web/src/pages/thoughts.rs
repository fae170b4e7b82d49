//! Thoughts held for consent (the exact redacted items, Send / Cancel) and
//! the log of every disclosure.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use openzero_app::think::Decided;
use openzero_core::consent::{Decision, ThoughtState};

use crate::auth::{Change, Layout, Nothing, Owner, done};
use crate::{PageError, Web};

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/thoughts", get(list))
        .route("/thoughts/{id}/send", post(send))
        .route("/thoughts/{id}/cancel", post(cancel))
}

pub(crate) struct ItemView {
    label: String,
    text: String,
}

pub(crate) struct ThoughtView {
    id: i64,
    state: String,
    to: String,
    question: String,
    items: Vec<ItemView>,
    redacted: Vec<String>,
    chars: usize,
    expires: String,
    answer: String,
    error: String,
}

pub(crate) struct DisclosureView {
    id: i64,
    at: String,
    to: String,
    bytes: i64,
    items: String,
    approved_by: String,
    outcome: String,
}

#[derive(askama::Template)]
#[template(path = "thoughts.html")]
struct List {
    layout: Layout,
    pending: Vec<ThoughtView>,
    decided: Vec<ThoughtView>,
    disclosures: Vec<DisclosureView>,
}

async fn list(State(web): State<Web>, owner: Owner) -> Result<Response, PageError> {
    let tz = web.services.tz();
    let now = openzero_app::clock::now();
    let (mut pending, mut decided) = (Vec::new(), Vec::new());
    for t in web.services.store.list_thoughts(30).await? {
        let state = t.state.at(t.expires_at, now);
        let view = ThoughtView {
            id: t.id,
            state: super::word(&state),
            to: format!("{} ({})", t.provider, t.model),
            question: t.question.clone(),
            items: t
                .disclosure
                .items
                .iter()
                .map(|i| ItemView {
                    label: i.label.clone(),
                    text: i.text.clone(),
                })
                .collect(),
            redacted: t
                .disclosure
                .redactor
                .redactions
                .iter()
                .map(|r| r.placeholder.clone())
                .collect(),
            chars: t.disclosure.chars(),
            expires: super::local(tz, t.expires_at),
            answer: t.answer.clone().unwrap_or_default(),
            error: t.error.clone().unwrap_or_default(),
        };
        if state == ThoughtState::Pending {
            pending.push(view);
        } else {
            decided.push(view);
        }
    }
    let disclosures = web
        .services
        .store
        .list_disclosures(50)
        .await?
        .into_iter()
        .map(|d| DisclosureView {
            id: d.id,
            at: super::local(tz, d.at),
            to: format!("{} ({})", d.provider, d.model),
            bytes: d.bytes,
            items: d.items.join(", "),
            approved_by: d.approved_by,
            outcome: d.outcome.unwrap_or_else(|| "no answer recorded".into()),
        })
        .collect();
    Ok(owner.page(&List {
        layout: owner.layout("/thoughts"),
        pending,
        decided,
        disclosures,
    }))
}

async fn decide(web: Web, id: i64, c: Change<Nothing>, d: Decision) -> Result<Response, PageError> {
    let action = match d {
        Decision::Grant => "thought.send",
        Decision::Cancel => "thought.cancel",
    };
    c.owner.audit(&web, action, &format!("#{id}")).await;
    let msg =
        match openzero_app::think::decide(&web.services, id, d, "owner (dashboard)", None).await? {
            Decided::Cancelled => format!("Cancelled thought #{id}: nothing was sent."),
            Decided::Sent(_) => format!("Sent thought #{id}; the answer is below."),
            Decided::Refused(why) => format!("Thought #{id} was not changed: {why}."),
            Decided::NotFound => format!("There is no thought #{id}."),
        };
    Ok(done("/thoughts", &msg))
}

async fn send(
    State(web): State<Web>,
    Path(id): Path<i64>,
    c: Change<Nothing>,
) -> Result<Response, PageError> {
    decide(web, id, c, Decision::Grant).await
}

async fn cancel(
    State(web): State<Web>,
    Path(id): Path<i64>,
    c: Change<Nothing>,
) -> Result<Response, PageError> {
    decide(web, id, c, Decision::Cancel).await
}
