//! The web dashboard of `openzero serve`: server-rendered pages (askama
//! templates compiled into the binary), embedded assets, owner-only.
//!
//! **Invariants:** every page but the sign-in pages and the public assets
//! goes through [`auth::Owner`] (a live session cookie); every
//! state-changing request carries the session's CSRF token and leaves a line
//! in the audit log; everything shown is escaped by the templates (no
//! `|safe` on data); every response carries a strict Content-Security-Policy
//! (no inline script or style). A capability adds its page with a
//! [`NavItem`] and a router merged in [`routes`].

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use openzero_app::Services;

mod assets;
pub use assets::FILES as ASSETS;
pub mod auth;
mod pages;

/// Shared state of the dashboard's handlers.
#[derive(Debug, Clone)]
pub struct Web {
    pub services: Arc<Services>,
    /// Memory imports running or finished in this process, by number.
    pub(crate) imports: Arc<std::sync::Mutex<pages::Imports>>,
    /// Turns true when the server stops: long answers (the live log) end
    /// then, so a shutdown does not wait on an open page.
    pub(crate) stop: tokio::sync::watch::Receiver<bool>,
}

impl Web {
    /// Resolves when the server stops (never, if nobody can stop it).
    pub(crate) async fn stopping(&self) {
        let mut stop = self.stop.clone();
        loop {
            if *stop.borrow_and_update() {
                return;
            }
            if stop.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// One entry of the navigation: a page a capability contributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
}

/// The pages, in the order the navigation shows them.
pub const NAV: &[NavItem] = &[
    NavItem {
        href: "/",
        label: "Home",
    },
    NavItem {
        href: "/chat",
        label: "Chat",
    },
    NavItem {
        href: "/projects",
        label: "Projects",
    },
    NavItem {
        href: "/boards",
        label: "Boards",
    },
    NavItem {
        href: "/mail",
        label: "Mail",
    },
    NavItem {
        href: "/calendar",
        label: "Calendar",
    },
    NavItem {
        href: "/training",
        label: "Training",
    },
    NavItem {
        href: "/memory",
        label: "Memory",
    },
    NavItem {
        href: "/jobs",
        label: "Jobs",
    },
    NavItem {
        href: "/backups",
        label: "Backups",
    },
    NavItem {
        href: "/logs",
        label: "Logs",
    },
    NavItem {
        href: "/thoughts",
        label: "Thoughts",
    },
    NavItem {
        href: "/persona",
        label: "Persona",
    },
    NavItem {
        href: "/sessions",
        label: "Sessions",
    },
    NavItem {
        href: "/audit",
        label: "Audit",
    },
    NavItem {
        href: "/settings",
        label: "Settings",
    },
];

/// The policy every response carries: nothing inline, nothing from elsewhere.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; manifest-src 'self'; worker-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The dashboard's routes, to merge into the server's router; `stop`
/// turns true when the server stops.
pub fn routes(services: Arc<Services>, stop: tokio::sync::watch::Receiver<bool>) -> Router {
    let state = Web {
        services,
        imports: Arc::default(),
        stop,
    };
    Router::new()
        .merge(assets::routes())
        .merge(auth::routes())
        .merge(pages::routes())
        .with_state(state)
        .layer(axum::middleware::map_response(secure_headers))
}

async fn secure_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: header::HeaderName, v: &'static str| {
        h.entry(k).or_insert(HeaderValue::from_static(v));
    };
    set(h, header::CONTENT_SECURITY_POLICY, CSP);
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    // Login links carry their token in the path: never sent onwards.
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::CACHE_CONTROL, "no-store");
    res
}

/// A page that could not be shown: a readable message, never a panic.
#[derive(Debug)]
pub struct PageError(pub axum::http::StatusCode, pub String);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let page = pages::ErrorPage {
            status: self.0.as_u16(),
            message: self.1,
        };
        (self.0, render(&page)).into_response()
    }
}

impl From<openzero_app::AppError> for PageError {
    fn from(e: openzero_app::AppError) -> Self {
        use openzero_app::AppError as E;
        let status = match &e {
            E::Project(_) | E::Invalid(_) | E::EmptyUpdate | E::Memory(_) => {
                axum::http::StatusCode::BAD_REQUEST
            }
            _ => axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        };
        PageError(status, e.to_string())
    }
}

impl From<openzero_store::StoreError> for PageError {
    fn from(e: openzero_store::StoreError) -> Self {
        PageError(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

/// Renders a template, or a plain readable error.
pub(crate) fn render(t: &impl askama::Template) -> Html<String> {
    match t.render() {
        Ok(s) => Html(s),
        Err(e) => {
            tracing::error!(error = %e, "page not rendered");
            Html("<!doctype html><title>Error</title><p>This page could not be shown; see the server log.</p>".to_owned())
        }
    }
}
