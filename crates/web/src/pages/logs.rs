//! Live logs: the last lines of this process, then new ones as they are
//! written (server-sent events), filtered by level; the page can pause.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::Query;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::Stream;
use openzero_app::logs::{self, LogLine};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use crate::Web;
use crate::auth::{Layout, Owner};

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/logs", get(page))
        .route("/logs/stream", get(stream))
}

#[derive(Debug, Deserialize)]
struct Filter {
    #[serde(default)]
    level: String,
    #[serde(default)]
    after: u64,
}

impl Filter {
    fn max(&self) -> u8 {
        if self.level.is_empty() {
            2
        } else {
            logs::severity(&self.level)
        }
    }
}

pub(crate) struct Shown {
    seq: u64,
    at: String,
    level: &'static str,
    target: String,
    text: String,
}

#[derive(askama::Template)]
#[template(path = "logs.html")]
struct Page {
    layout: Layout,
    level: &'static str,
    levels: Vec<(&'static str, bool)>,
    lines: Vec<Shown>,
    last: u64,
}

const LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

async fn page(owner: Owner, Query(f): Query<Filter>) -> Response {
    let max = f.max();
    let (kept, _) = logs::hub().subscribe(0);
    let last = kept.last().map_or(0, |l| l.seq);
    let lines = kept
        .into_iter()
        .filter(|l| l.severity() <= max)
        .map(|l| Shown {
            seq: l.seq,
            at: l.at.format("%H:%M:%S%.3f").to_string(),
            level: l.level,
            target: l.target,
            text: l.text,
        })
        .collect();
    let level = LEVELS[usize::from(max.min(4))];
    owner.page(&Page {
        layout: owner.layout("/logs"),
        level,
        levels: LEVELS.iter().map(|l| (*l, *l == level)).collect(),
        lines,
        last,
    })
}

fn event(l: &LogLine) -> Event {
    Event::default()
        .id(l.seq.to_string())
        .json_data(l)
        .unwrap_or_else(|_| Event::default().data(""))
}

async fn stream(
    axum::extract::State(web): axum::extract::State<Web>,
    _owner: Owner,
    Query(f): Query<Filter>,
) -> impl IntoResponse {
    let max = f.max();
    let (backlog, rx) = logs::hub().subscribe(f.after);
    let backlog = futures_util::stream::iter(
        backlog
            .into_iter()
            .filter(move |l| l.severity() <= max)
            .map(|l| Ok::<_, Infallible>(event(&l))),
    );
    let live = futures_util::stream::unfold(rx, move |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(l) if l.severity() <= max => return Some((Ok(event(&l)), rx)),
                Ok(_) => continue,
                Err(RecvError::Lagged(n)) => {
                    let note = Event::default()
                        .event("skipped")
                        .data(format!("{n} lines came too fast to show"));
                    return Some((Ok(note), rx));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    // Ends when the server stops (a graceful shutdown waits for open answers).
    let until = Box::pin(async move { web.stopping().await });
    let s: std::pin::Pin<Box<dyn Stream<Item = Result<Event, Infallible>> + Send>> = Box::pin(
        futures_util::StreamExt::take_until(futures_util::StreamExt::chain(backlog, live), until),
    );
    Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
