//! The files every page uses, compiled into the binary (no front-end build,
//! nothing fetched from elsewhere), and the offline page of the installed app.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::Web;

/// (path, content type, bytes) of each embedded file.
pub const FILES: &[(&str, &str, &[u8])] = &[
    (
        "/assets/app.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/app.css"),
    ),
    (
        "/assets/app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/app.js"),
    ),
    (
        "/assets/icon.svg",
        "image/svg+xml",
        include_bytes!("../assets/icon.svg"),
    ),
    (
        "/assets/icon-192.png",
        "image/png",
        include_bytes!("../assets/icon-192.png"),
    ),
    (
        "/assets/icon-512.png",
        "image/png",
        include_bytes!("../assets/icon-512.png"),
    ),
    (
        "/manifest.webmanifest",
        "application/manifest+json",
        include_bytes!("../assets/manifest.webmanifest"),
    ),
    (
        "/sw.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/sw.js"),
    ),
];

const OFFLINE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Offline · Z</title>\
<link rel=\"stylesheet\" href=\"/assets/app.css\"></head><body><main><section class=\"card narrow\">\
<h1>Z is out of reach</h1><p>Your server did not answer. Check that it is on and that this device \
can reach it (Tailscale connected?), then reload.</p></section></main></body></html>";

pub fn routes() -> Router<Web> {
    let mut r = Router::new().route("/offline", get(|| async { axum::response::Html(OFFLINE) }));
    for &(path, mime, bytes) in FILES {
        r = r.route(
            path,
            get(move || async move {
                (
                    [
                        (header::CONTENT_TYPE, mime),
                        // Overrides the default no-store: the shell may be cached.
                        (header::CACHE_CONTROL, "public, max-age=3600"),
                    ],
                    bytes,
                )
                    .into_response()
            }),
        );
    }
    r
}
