//! Sessions (list, sign out), the audit log, and the effective settings
//! (secrets masked).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};

use crate::auth::{Change, Layout, Nothing, Owner, done};
use crate::{PageError, Web};

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/sessions", get(sessions))
        .route("/sessions/{id}/revoke", post(revoke))
        .route("/audit", get(audit))
        .route("/settings", get(settings).post(change))
}

pub(crate) struct SessionView {
    id: i64,
    via: String,
    user_agent: String,
    created: String,
    seen: String,
    current: bool,
}

#[derive(askama::Template)]
#[template(path = "sessions.html")]
struct Sessions {
    layout: Layout,
    sessions: Vec<SessionView>,
}

async fn sessions(State(web): State<Web>, owner: Owner) -> Result<Response, PageError> {
    let tz = web.services.tz();
    let sessions = web
        .services
        .store
        .web_sessions(openzero_app::clock::now())
        .await?
        .into_iter()
        .map(|s| SessionView {
            id: s.id,
            via: s.via,
            user_agent: s.user_agent,
            created: super::local(tz, s.created_at),
            seen: super::local(tz, s.last_seen_at),
            current: s.id == owner.session_id,
        })
        .collect();
    Ok(owner.page(&Sessions {
        layout: owner.layout("/sessions"),
        sessions,
    }))
}

async fn revoke(
    State(web): State<Web>,
    Path(id): Path<i64>,
    c: Change<Nothing>,
) -> Result<Response, PageError> {
    if !web
        .services
        .store
        .web_session_revoke(id, openzero_app::clock::now())
        .await?
    {
        return Err(PageError(
            StatusCode::NOT_FOUND,
            format!("Session #{id} is not signed in."),
        ));
    }
    c.owner
        .audit(&web, "session.revoke", &format!("#{id}"))
        .await;
    let to = if id == c.owner.session_id {
        "/login"
    } else {
        "/sessions"
    };
    Ok(done(to, &format!("Signed session #{id} out.")))
}

pub(crate) struct AuditView {
    at: String,
    session: String,
    action: String,
    detail: String,
}

#[derive(askama::Template)]
#[template(path = "audit.html")]
struct Audit {
    layout: Layout,
    rows: Vec<AuditView>,
}

async fn audit(State(web): State<Web>, owner: Owner) -> Result<Response, PageError> {
    let tz = web.services.tz();
    let rows = web
        .services
        .store
        .web_audit(200)
        .await?
        .into_iter()
        .map(|a| AuditView {
            at: super::local(tz, a.at),
            session: a.session_id.map(|s| format!("#{s}")).unwrap_or_default(),
            action: a.action,
            detail: a.detail,
        })
        .collect();
    Ok(owner.page(&Audit {
        layout: owner.layout("/audit"),
        rows,
    }))
}

pub(crate) struct Setting {
    editable: bool,
    /// The value as typed in the file (a string's contents, unquoted).
    raw: String,
    key: String,
    value: String,
    origin: String,
    about: String,
}

#[derive(askama::Template)]
#[template(path = "settings.html")]
struct Settings {
    layout: Layout,
    data_dir: String,
    config_file: String,
    settings: Vec<Setting>,
}

async fn settings(State(web): State<Web>, owner: Owner) -> Result<Response, PageError> {
    let loaded = &web.services.loaded;
    // Secrets serialise as ******** (openzero_config::Secret).
    let value = toml::Value::try_from(&loaded.settings)
        .map_err(|e| PageError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let settings = openzero_config::KEYS
        .iter()
        .map(|def| {
            let v = value.get(def.section()).and_then(|s| s.get(def.key()));
            Setting {
                editable: openzero_app::settings_edit::EDITABLE.contains(&def.path),
                raw: v
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .unwrap_or_default(),
                key: def.path.to_owned(),
                value: v.map_or_else(|| "(not set)".to_owned(), ToString::to_string),
                origin: loaded
                    .origins
                    .get(def.path)
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                about: def.doc.to_owned(),
            }
        })
        .collect();
    Ok(owner.page(&Settings {
        layout: owner.layout("/settings"),
        data_dir: loaded.data_dir.display().to_string(),
        config_file: loaded.config_file.display().to_string(),
        settings,
    }))
}

#[derive(Debug, serde::Deserialize)]
struct ChangeForm {
    key: String,
    value: String,
}

async fn change(State(web): State<Web>, c: Change<ChangeForm>) -> Result<Response, PageError> {
    let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    let edited =
        openzero_app::settings_edit::set(&web.services.loaded, env, &c.form.key, &c.form.value)?;
    c.owner
        .audit(
            &web,
            "settings.change",
            &format!("{} = {}", c.form.key, c.form.value.trim()),
        )
        .await;
    let mut msg = format!(
        "Saved {} = \"{}\" in openzero.toml; restart `openzero serve` to apply it.",
        c.form.key,
        c.form.value.trim()
    );
    if let Some(by) = edited.shadowed_by {
        msg.push_str(&format!(" Note: {by} sets it too, and wins."));
    }
    Ok(done("/settings", &msg))
}
