//! What the capabilities contribute to `openzero serve`: workers — loops
//! the supervisor keeps running (mail watchers, the Strava follower, the
//! Planka sync, calendar reminders…) — and webhook endpoints the HTTP
//! server mounts (Planka's, Strava's, Telegram's). Each capability adds
//! its own in a `serve_parts` function of its module, registered with one
//! line in [`contribute`]; channels register theirs beside it in the
//! composition root. The server knows none of them by name.
//!
//! **Invariants:** a worker runs until its stop signal turns true; if it
//! returns or fails before, the supervisor restarts it (and `/health`
//! shows it down meanwhile). An endpoint answers from the request alone —
//! status and an optional JSON body — and stores what it accepts before
//! answering 2xx, so the sender's retry is the only redelivery needed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::Services;

/// Turns true when `serve` stops.
pub type Stop = tokio::sync::watch::Receiver<bool>;

/// A worker's run: until stop, or an error saying why it ended.
pub type Run = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A loop `serve` keeps running.
pub struct Worker {
    /// Its name in logs and `/health` (`gmail-poller`).
    pub name: String,
    /// Starts one run; called again after each unexpected end.
    pub start: Arc<dyn Fn(Stop) -> Run + Send + Sync>,
}

/// An HTTP method an endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// A request to an endpoint, read whole.
#[derive(Debug, Clone)]
pub struct HookRequest {
    pub method: Method,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// The query's pairs, decoded.
    pub query: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HookRequest {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first query parameter called `name`.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An endpoint's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct HookReply {
    pub status: u16,
    /// A JSON body, if any.
    pub json: Option<serde_json::Value>,
}

impl HookReply {
    pub fn status(status: u16) -> Self {
        HookReply { status, json: None }
    }
}

/// An endpoint's handler.
pub type Handle =
    Arc<dyn Fn(HookRequest) -> Pin<Box<dyn Future<Output = HookReply> + Send>> + Send + Sync>;

/// A webhook endpoint: a path and the methods it answers there.
pub struct Endpoint {
    /// Starts with `/`; one endpoint per path.
    pub path: String,
    pub methods: Vec<Method>,
    pub handle: Handle,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("name", &self.name).finish()
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("path", &self.path)
            .field("methods", &self.methods)
            .finish()
    }
}

/// Everything contributed.
#[derive(Debug, Default)]
pub struct Parts {
    pub workers: Vec<Worker>,
    pub endpoints: Vec<Endpoint>,
}

impl Parts {
    /// Adds worker `name`; `start(stop)` makes one run.
    pub fn worker<F, Fut>(&mut self, name: impl Into<String>, start: F)
    where
        F: Fn(Stop) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.workers.push(Worker {
            name: name.into(),
            start: Arc::new(move |stop| Box::pin(start(stop))),
        });
    }

    /// Adds the endpoint at `path` answering `methods`.
    pub fn endpoint<F, Fut>(&mut self, path: impl Into<String>, methods: &[Method], handle: F)
    where
        F: Fn(HookRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HookReply> + Send + 'static,
    {
        self.endpoints.push(Endpoint {
            path: path.into(),
            methods: methods.to_vec(),
            handle: Arc::new(move |req| Box::pin(handle(req))),
        });
    }
}

/// Every capability's workers and endpoints for these settings (and
/// their health checks, registered with `services`): one line each.
pub fn contribute(services: &Arc<Services>, parts: &mut Parts) {
    crate::mail_sync::serve_parts(services, parts);
    crate::mail_gmail::serve_parts(services, parts);
    crate::strava::serve_parts(services, parts);
    crate::calendar::serve_parts(services, parts);
    crate::planka_sync::serve_parts(services, parts);
    crate::backup::jobs::serve_parts(services, parts);
}

/// A fixed health component for a capability that is off or broken.
pub fn fixed(
    services: &Services,
    name: &str,
    status: openzero_core::health::ComponentStatus,
    detail: impl Into<String>,
) {
    services.add_check(Arc::new(openzero_core::health::Fixed {
        name: name.to_owned(),
        component: openzero_core::health::Component::new(status, detail.into(), false),
    }));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn requests_read_headers_in_any_case_and_the_first_query_value() {
        let r = HookRequest {
            method: Method::Get,
            headers: vec![("authorization".into(), "Bearer x".into())],
            query: vec![
                ("hub.mode".into(), "subscribe".into()),
                ("hub.mode".into(), "other".into()),
            ],
            body: Vec::new(),
        };
        assert_eq!(r.header("Authorization"), Some("Bearer x"));
        assert_eq!(r.query("hub.mode"), Some("subscribe"));
        assert_eq!(r.query("hub.challenge"), None);
    }
}
