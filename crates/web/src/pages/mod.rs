//! The pages, one module per page (a capability adds its own).

use axum::Router;

use crate::Web;

mod account;
mod backups;
mod boards;
mod calendar;
mod chat;
mod home;
mod jobs;
mod logs;
mod mail;
mod memory;
pub(crate) use memory::Imports;
mod persona;
mod projects;
mod thoughts;
mod training;

pub fn routes() -> Router<Web> {
    Router::new()
        .merge(home::routes())
        .merge(projects::routes())
        .merge(boards::routes())
        .merge(mail::routes())
        .merge(calendar::routes())
        .merge(chat::routes())
        .merge(memory::routes())
        .merge(persona::routes())
        .merge(jobs::routes())
        .merge(backups::routes())
        .merge(logs::routes())
        .merge(thoughts::routes())
        .merge(training::routes())
        .merge(account::routes())
}

#[derive(askama::Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage {
    pub status: u16,
    pub message: String,
}

/// A time in the owner's zone, as pages show it.
pub(crate) fn local(tz: chrono_tz::Tz, at: chrono::DateTime<chrono::Utc>) -> String {
    at.with_timezone(&tz)
        .format("%a %d %b %Y %H:%M")
        .to_string()
}

/// A serialised enum's name (`degraded`), as pages show it.
pub(crate) fn word<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}
