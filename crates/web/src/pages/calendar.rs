//! Calendar (read-only): the agenda of the coming days, as the briefing
//! and `/week` phrase it.

use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use openzero_store::CalendarStore;
use serde::Deserialize;

use crate::auth::{Layout, Owner};
use crate::{PageError, Web};

pub fn routes() -> Router<Web> {
    Router::new().route("/calendar", get(page))
}

#[derive(askama::Template)]
#[template(path = "calendar.html")]
struct Page {
    layout: Layout,
    days: i64,
    lines: Vec<String>,
    problems: Vec<String>,
    no_sources: bool,
}

#[derive(Debug, Deserialize)]
struct Span {
    #[serde(default)]
    days: Option<i64>,
}

async fn page(
    State(web): State<Web>,
    owner: Owner,
    Query(span): Query<Span>,
) -> Result<Response, PageError> {
    let days = span.days.unwrap_or(7).clamp(1, 60);
    let tz = web.services.tz();
    let store: &dyn CalendarStore = &*web.services.store;
    let no_sources = store.cal_sources().await?.is_empty();
    let today = openzero_app::clock::now().with_timezone(&tz).date_naive();
    let a =
        openzero_app::calendar::agenda_days(store, tz, today, today + chrono::Duration::days(days))
            .await?;
    let lines = openzero_core::calendar::week_lines(&a.occurrences, tz, today, days as u32);
    Ok(owner.page(&Page {
        layout: owner.layout("/calendar"),
        days,
        lines,
        problems: a.problems,
        no_sources,
    }))
}
