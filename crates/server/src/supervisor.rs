//! Watching `serve`'s workers (the scheduler, the Telegram channel): a
//! worker that stops or panics before shutdown is logged with its error,
//! shown as down in `/health`, and started again after a backoff that
//! doubles up to a minute.
//!
//! **Invariant:** a worker is only ever restarted, never left dead while
//! the service runs; at shutdown no worker is restarted.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openzero_core::health::{Component, ComponentStatus};
use tokio::sync::watch;

/// How long to wait before the first restart; doubled each time, to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What `/health` shows of each supervised worker.
#[derive(Debug, Default, Clone)]
pub struct Workers(Arc<Mutex<BTreeMap<String, Component>>>);

impl Workers {
    fn set(&self, name: &str, c: Component) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(name.to_owned(), c);
        }
    }

    /// The workers' components, by name.
    pub fn components(&self) -> BTreeMap<String, Component> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The health check of worker `name`, to register with the services.
    pub fn check(&self, name: &str) -> Arc<WorkerCheck> {
        Arc::new(WorkerCheck {
            name: name.to_owned(),
            workers: self.clone(),
        })
    }
}

/// A supervised worker's health: ok while running, down while restarting.
#[derive(Debug)]
pub struct WorkerCheck {
    name: String,
    workers: Workers,
}

#[async_trait::async_trait]
impl openzero_core::health::HealthCheck for WorkerCheck {
    fn name(&self) -> &str {
        &self.name
    }

    async fn check(&self) -> Component {
        self.workers
            .components()
            .remove(&self.name)
            .unwrap_or_else(|| Component::new(ComponentStatus::Ok, "starting", false))
    }
}

/// Runs `start()` as worker `name` until `stop` is set, starting it again
/// whenever it ends (returns, fails or panics) before that.
pub async fn supervise<F, Fut>(
    name: &str,
    workers: Workers,
    mut stop: watch::Receiver<bool>,
    first_backoff: Duration,
    start: F,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let mut backoff = first_backoff;
    let mut restarts = 0u32;
    loop {
        workers.set(
            name,
            Component::new(
                ComponentStatus::Ok,
                if restarts == 0 {
                    "running".to_owned()
                } else {
                    format!("running (restarted {restarts}×)")
                },
                false,
            ),
        );
        let ended = tokio::spawn(start()).await;
        if *stop.borrow() {
            return;
        }
        let why = match ended {
            Ok(Ok(())) => "stopped by itself".to_owned(),
            Ok(Err(e)) => e,
            Err(e) if e.is_panic() => "panicked".to_owned(),
            Err(e) => e.to_string(),
        };
        restarts += 1;
        tracing::error!(worker = name, error = %why, restart_in_secs = backoff.as_secs_f32(), "a worker stopped; restarting it");
        workers.set(
            name,
            Component::new(
                ComponentStatus::Down,
                format!("stopped ({why}); restarting in {} s", backoff.as_secs()),
                false,
            ),
        );
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn a_failing_worker_is_shown_down_and_restarted_until_it_runs() {
        let workers = Workers::default();
        let (stop_tx, stop) = watch::channel(false);
        let starts = Arc::new(AtomicU32::new(0));
        let counter = starts.clone();
        let task = tokio::spawn(supervise(
            "scheduler",
            workers.clone(),
            stop,
            Duration::from_millis(100),
            move || {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                async move {
                    match n {
                        0 => Err("the database went away".to_owned()),
                        1 => panic!("a bug"),
                        // Third start: runs until the end.
                        _ => std::future::pending().await,
                    }
                }
            },
        ));
        // Polled, not timed: a panic's backtrace can take a while to print.
        async fn until(what: &str, mut ok: impl FnMut() -> bool) {
            let start = std::time::Instant::now();
            while !ok() {
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "timed out: {what}"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        // After the first failure it is down, with the reason.
        until("down after the first failure", || {
            workers.components().get("scheduler").is_some_and(|c| {
                c.status == ComponentStatus::Down && c.detail.contains("the database went away")
            })
        })
        .await;
        // After the panic and a longer backoff, it runs again.
        until("the third start", || starts.load(Ordering::SeqCst) == 3).await;
        until("running again", || {
            workers.components().get("scheduler").is_some_and(|c| {
                c.status == ComponentStatus::Ok && c.detail.contains("restarted 2×")
            })
        })
        .await;
        // Shutdown: no restart, the supervisor returns.
        stop_tx.send(true).unwrap();
        task.abort();
        let _ = task.await;
    }
}
