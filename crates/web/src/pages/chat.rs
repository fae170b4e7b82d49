//! Chat with Z: the same use case as Telegram and `openzero chat`
//! (`app::agent::Chat`, channel `dashboard`); the answer streams into the
//! page as the model writes it. With a cloud model the message is held as a
//! thought and shown on Thoughts for Send / Cancel, exactly as elsewhere.
//! A `/command` is answered from the same table and handlers as on
//! Telegram (`app::chat_commands`); its answer is shown, not kept in the
//! conversation.

use std::convert::Infallible;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use openzero_app::agent::Chat;
use openzero_app::consent::needs_consent;
use openzero_core::agent::Role;
use serde::Deserialize;

use crate::auth::{Change, Layout, Owner, done};
use crate::{PageError, Web};

/// The conversation's channel name.
pub const CHANNEL: &str = "dashboard";

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/chat", get(page).post(send))
        .route("/chat/stream", post(stream))
}

pub(crate) struct Said {
    who: &'static str,
    text: String,
    at: String,
}

#[derive(askama::Template)]
#[template(path = "chat.html")]
struct Page {
    layout: Layout,
    turns: Vec<Said>,
}

async fn page(State(web): State<Web>, owner: Owner) -> Result<Response, PageError> {
    let turns = turns(&web).await?;
    Ok(owner.page(&Page {
        layout: owner.layout("/chat"),
        turns,
    }))
}

/// The conversation's last turns, oldest first.
async fn turns(web: &Web) -> Result<Vec<Said>, PageError> {
    let tz = web.services.tz();
    let turns = web
        .services
        .store
        .recent_turns(CHANNEL, 40)
        .await?
        .into_iter()
        .filter_map(|t| {
            let who = match t.role {
                Role::User => "you",
                Role::Assistant => "Z",
                _ => return None,
            };
            (!t.content.trim().is_empty()).then(|| Said {
                who,
                text: t.content,
                at: super::local(tz, t.at),
            })
        })
        .collect();
    Ok(turns)
}

#[derive(Debug, Deserialize)]
struct Message {
    text: String,
}

/// What a message became.
enum Outcome {
    /// Held for consent: the thought's number.
    Held(i64),
    Answered(String),
    /// A command's answer (not part of the conversation).
    Command(String),
}

/// A `/command`'s outcome, `None` for text for Z.
async fn command(web: &Web, text: &str) -> Option<Outcome> {
    use openzero_core::commands::{self, Parsed};
    let s = &web.services;
    Some(match commands::parse(text) {
        Parsed::Text(_) => return None,
        Parsed::Unknown(name) => {
            Outcome::Command(format!("I don't know /{name}.\n\n{}", commands::help()))
        }
        Parsed::Command {
            name: "think", arg, ..
        } if !arg.is_empty() => {
            use openzero_app::think::{Asked, ask};
            match ask(s, CHANNEL, arg, None).await {
                Ok(Asked::Answered(text)) => Outcome::Answered(text),
                Ok(Asked::Held(t)) => Outcome::Held(t.id),
                Err(e) => Outcome::Command(format!("I could not prepare that: {e}")),
            }
        }
        Parsed::Command { name, typed, arg } => {
            match openzero_app::chat_commands::answer(s, name, arg, CHANNEL, "owner (dashboard)")
                .await
            {
                Some(r) if r.text.trim().is_empty() => Outcome::Command("Done.".into()),
                Some(r) => Outcome::Command(r.text),
                None => Outcome::Command(match commands::find(name) {
                    Some(c) if !c.asks.is_empty() && arg.is_empty() => c.asks.to_owned(),
                    _ => format!("/{typed} is not available here."),
                }),
            }
        }
    })
}

async fn turn(
    web: &Web,
    text: &str,
    deltas: Option<tokio::sync::mpsc::UnboundedSender<String>>,
) -> Result<Outcome, PageError> {
    if let Some(done) = command(web, text).await {
        return Ok(done);
    }
    let s = &web.services;
    let model = s
        .chat_model()
        .await
        .map_err(|e| PageError(axum::http::StatusCode::SERVICE_UNAVAILABLE, e))?;
    let chat = Chat::new(
        &s.loaded,
        &*s.store,
        s.memory().await,
        model.clone(),
        CHANNEL,
    );
    if needs_consent(&model.info()) {
        let ctx = chat.context(text).await?;
        let t =
            openzero_app::consent::hold(&s.loaded, &*s.store, &model.info(), CHANNEL, text, ctx)
                .await?;
        return Ok(Outcome::Held(t.id));
    }
    let answer = chat.send(text, deltas).await?;
    Ok(Outcome::Answered(answer.text))
}

fn empty(text: &str) -> Result<(), PageError> {
    if text.trim().is_empty() {
        return Err(PageError(
            axum::http::StatusCode::BAD_REQUEST,
            "Write something first.".into(),
        ));
    }
    Ok(())
}

/// Without script: the page waits for the whole answer.
async fn send(State(web): State<Web>, c: Change<Message>) -> Result<Response, PageError> {
    empty(&c.form.text)?;
    c.owner.audit(&web, "chat", "").await;
    Ok(match turn(&web, &c.form.text, None).await? {
        Outcome::Held(id) => done(
            "/thoughts",
            &format!("That would go to a cloud model: thought #{id} waits for your Send below."),
        ),
        Outcome::Answered(_) => done("/chat", "Z answered."),
        Outcome::Command(answer) => {
            // Shown under the conversation, once (a command's answer is
            // not part of it).
            let mut turns = turns(&web).await?;
            let at = super::local(web.services.tz(), openzero_app::clock::now());
            turns.push(Said {
                who: "you",
                text: c.form.text.clone(),
                at: at.clone(),
            });
            turns.push(Said {
                who: "Z",
                text: answer,
                at,
            });
            c.owner.page(&Page {
                layout: c.owner.layout("/chat"),
                turns,
            })
        }
    })
}

fn sse(event: &str, data: &str) -> Bytes {
    let mut out = format!("event: {event}\n");
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}

/// With script: server-sent events in the answer to a POST — `delta`
/// pieces as the model writes, then `done` with the whole answer (or
/// `held` with a thought's number, or `error`).
async fn stream(State(web): State<Web>, c: Change<Message>) -> Result<Response, PageError> {
    empty(&c.form.text)?;
    c.owner.audit(&web, "chat", "").await;
    let (out_tx, out_rx) = tokio::sync::mpsc::unbounded_channel::<Result<Bytes, Infallible>>();
    let (delta_tx, mut delta_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let pieces = out_tx.clone();
    let forward = tokio::spawn(async move {
        while let Some(d) = delta_rx.recv().await {
            if pieces.send(Ok(sse("delta", &d))).is_err() {
                break;
            }
        }
    });
    let text = c.form.text.clone();
    tokio::spawn(async move {
        let result = turn(&web, &text, Some(delta_tx)).await;
        // Every piece is out before the end.
        let _ = forward.await;
        let last = match result {
            Ok(Outcome::Answered(a) | Outcome::Command(a)) => sse("done", &a),
            Ok(Outcome::Held(id)) => sse("held", &id.to_string()),
            Err(PageError(_, e)) => sse("error", &e),
        };
        let _ = out_tx.send(Ok(last));
    });
    let body = futures_util::stream::unfold(out_rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(body),
    )
        .into_response())
}
