//! A capability of the smallest kind, to show what adding one touches: a
//! job that pings the owner's own health every five minutes, a `/ping`
//! command, a health check and a webhook endpoint.

use std::sync::Arc;

use openzero_config::Loaded;
use openzero_core::health::{Component, ComponentStatus, HealthCheck};
use openzero_store::JobStore as _;

use crate::chat_commands::{Call, Reply};
use crate::jobs::{Job, Task};
use crate::serve_parts::{HookReply, Method, Parts};
use crate::{AppError, Services};

#[derive(Debug)]
struct Ping;

#[async_trait::async_trait]
impl Task for Ping {
    async fn run(&self, _services: &Arc<Services>) -> Result<String, AppError> {
        Ok("pong".to_owned())
    }
}

/// The `ping` job.
pub fn jobs(loaded: &Loaded) -> Result<Vec<Job>, AppError> {
    let timeout = std::time::Duration::from_secs(10);
    Ok(vec![Job::new(
        loaded,
        "ping",
        "*/5 * * * *",
        timeout,
        Arc::new(Ping),
    )?])
}

/// `/ping`: when the job last ran.
pub async fn chat(c: Call<'_>) -> Reply {
    match c.services.store.job_runs("ping", 1).await {
        Ok(runs) => match runs.first() {
            Some(r) => Reply::text(format!("pong (last ping {})", r.scheduled_for)),
            None => Reply::text("pong (no ping yet)"),
        },
        Err(e) => Reply::text(format!("I could not read the pings: {e}")),
    }
}

#[derive(Debug)]
struct PingHealth;

#[async_trait::async_trait]
impl HealthCheck for PingHealth {
    fn name(&self) -> &str {
        "ping"
    }

    async fn check(&self) -> Component {
        Component::new(ComponentStatus::Ok, "pong".to_owned(), false)
    }
}

/// `serve`'s part: the health check and `GET /webhooks/ping`.
pub fn serve_parts(services: &Arc<Services>, parts: &mut Parts) {
    services.add_check(Arc::new(PingHealth));
    parts.endpoint("/webhooks/ping", &[Method::Get], |_| async {
        HookReply {
            status: 200,
            json: Some(serde_json::json!({ "pong": true })),
        }
    });
}
