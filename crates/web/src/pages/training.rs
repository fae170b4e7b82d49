//! Training: the activities with their load, and the load week by week.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use chrono::Datelike;

use crate::auth::{Layout, Owner};
use crate::{PageError, Web};

pub fn routes() -> Router<Web> {
    Router::new().route("/training", get(page))
}

#[derive(askama::Template)]
#[template(path = "training.html")]
struct Page {
    layout: Layout,
    lines: Vec<(String, String)>,
    /// (week starting, runs, km, TRIMP), newest first.
    weeks: Vec<(String, usize, String, String)>,
    /// Inline SVG drawn by us from numbers only (no outside text).
    form_chart: String,
    volume_chart: String,
    /// Fitness, fatigue and form today, and the race countdown.
    form: String,
    race: Option<String>,
}

async fn page(State(web): State<Web>, owner: Owner) -> Result<Response, PageError> {
    let tz = web.services.tz();
    let all = web.services.store.activities(200).await?;
    let lines = all
        .iter()
        .map(|a| {
            (
                openzero_app::training::line(a, tz),
                a.name.clone().unwrap_or_default(),
            )
        })
        .collect();
    let mut by_week: BTreeMap<chrono::NaiveDate, (usize, f64, f64)> = BTreeMap::new();
    for a in &all {
        let day = a.start_at.with_timezone(&tz).date_naive();
        let monday = day - chrono::Duration::days(i64::from(day.weekday().num_days_from_monday()));
        let w = by_week.entry(monday).or_default();
        w.0 += 1;
        w.1 += a.distance_m / 1000.0;
        w.2 += a.trimp.unwrap_or(0.0);
    }
    let weeks = by_week
        .into_iter()
        .rev()
        .take(12)
        .map(|(d, (n, km, load))| {
            (
                d.format("%a %-d %b %Y").to_string(),
                n,
                format!("{km:.1}"),
                format!("{load:.0}"),
            )
        })
        .collect();
    let (form_chart, volume_chart) = openzero_app::training_report::charts(&web.services).await?;
    let form = openzero_app::training_feedback::chat_form(&web.services)
        .await?
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let race = match openzero_app::training_coach::goal(&web.services).await? {
        Some(_) => Some(openzero_app::training_feedback::chat_race(&web.services).await?),
        None => None,
    };
    Ok(owner.page(&Page {
        layout: owner.layout("/training"),
        lines,
        weeks,
        form_chart,
        volume_chart,
        form,
        race,
    }))
}
