//! Z's persona (`persona.md`) and what the owner tells Z about themselves
//! (`about-me.md`): edit, preview what Z will be given, save.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use openzero_app::agent::{ABOUT_ME_FILE, PERSONA_FILE, owner_file, persona, write_owner_file};
use openzero_core::agent::{Budget, Context, DEFAULT_PERSONA, context_block, system_prompt};
use serde::Deserialize;

use crate::auth::{Change, Layout, Owner, done};
use crate::{PageError, Web};

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/persona", get(page).post(save))
        .route("/persona/preview", post(preview))
}

#[derive(askama::Template)]
#[template(path = "persona.html")]
struct Page {
    layout: Layout,
    persona: String,
    about_me: String,
    preview: Option<String>,
    default_persona: &'static str,
}

fn shown(owner: &Owner, persona: String, about_me: String, preview: Option<String>) -> Response {
    owner.page(&Page {
        layout: owner.layout("/persona"),
        persona,
        about_me,
        preview,
        default_persona: DEFAULT_PERSONA,
    })
}

async fn page(State(web): State<Web>, owner: Owner) -> Response {
    let dir = &web.services.loaded.data_dir;
    let about = owner_file(&dir.join(ABOUT_ME_FILE)).unwrap_or_default();
    shown(&owner, persona(dir), about, None)
}

#[derive(Debug, Deserialize)]
struct Texts {
    #[serde(default)]
    persona: String,
    #[serde(default)]
    about_me: String,
}

const MAX: usize = 20_000;

fn check(t: &Texts) -> Result<(), PageError> {
    if t.persona.len() > MAX || t.about_me.len() > MAX {
        return Err(PageError(
            axum::http::StatusCode::BAD_REQUEST,
            format!("Keep each text under {MAX} characters: Z reads it with every message."),
        ));
    }
    Ok(())
}

/// What Z is given: the system message, then the about-me section of the
/// context, exactly as a message would carry them now.
async fn preview(State(web): State<Web>, c: Change<Texts>) -> Result<Response, PageError> {
    check(&c.form)?;
    let now = openzero_app::clock::now().with_timezone(&web.services.tz());
    let persona = if c.form.persona.trim().is_empty() {
        DEFAULT_PERSONA
    } else {
        &c.form.persona
    };
    let ctx = Context {
        about_me: Some(c.form.about_me.clone()).filter(|a| !a.trim().is_empty()),
        ..Default::default()
    };
    let text = format!(
        "{}\n\n{}",
        system_prompt(persona, now),
        context_block(&ctx, now, Budget::default())
    );
    Ok(shown(
        &c.owner,
        c.form.persona.clone(),
        c.form.about_me.clone(),
        Some(text.trim().to_owned()),
    ))
}

async fn save(State(web): State<Web>, c: Change<Texts>) -> Result<Response, PageError> {
    check(&c.form)?;
    let dir = &web.services.loaded.data_dir;
    // The built-in persona is not written out as if the owner had chosen it.
    let persona = if c.form.persona.trim() == DEFAULT_PERSONA.trim() {
        ""
    } else {
        c.form.persona.as_str()
    };
    write_owner_file(&dir.join(PERSONA_FILE), persona)?;
    write_owner_file(&dir.join(ABOUT_ME_FILE), &c.form.about_me)?;
    c.owner
        .audit(
            &web,
            "persona.save",
            &format!(
                "persona {} chars, about-me {} chars",
                c.form.persona.chars().count(),
                c.form.about_me.chars().count()
            ),
        )
        .await;
    Ok(done("/persona", "Saved: Z uses it from the next message."))
}
