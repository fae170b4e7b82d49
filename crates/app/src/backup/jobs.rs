//! The daily backup and the weekly restore drill as scheduled jobs, and the
//! `backup` health check (`/health`, `/status`, `doctor`).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use openzero_config::Loaded;
use openzero_core::health::{Component, ComponentStatus, HealthCheck};
use openzero_store::{JobStore, Store};

use crate::jobs::{Job, Task};
use crate::{AppError, Services, clock};

/// The job names, as `jobs list` shows them.
pub const BACKUP_JOB: &str = "backup";
pub const DRILL_JOB: &str = "restore-drill";

/// The backup jobs, with their schedules from the settings.
pub fn jobs(loaded: &Loaded) -> Result<Vec<Job>, AppError> {
    Ok(vec![
        Job::new(
            loaded,
            BACKUP_JOB,
            &loaded.settings.schedule.backup,
            Duration::from_secs(3600),
            Arc::new(BackupTask),
        )?,
        Job::new(
            loaded,
            DRILL_JOB,
            &loaded.settings.schedule.restore_drill,
            Duration::from_secs(3600),
            Arc::new(DrillTask),
        )?,
    ])
}

#[derive(Debug)]
struct BackupTask;

#[async_trait::async_trait]
impl Task for BackupTask {
    async fn run(&self, services: &Arc<Services>) -> Result<String, AppError> {
        if !super::configured(&services.loaded) {
            return Ok(
                "skipped: no backup key (set BACKUP_PASSPHRASE or backup.recipients)".into(),
            );
        }
        match super::create(
            &services.loaded,
            &services.store,
            None,
            Arc::new(AtomicU64::new(0)),
        )
        .await
        {
            Ok(c) => Ok(format!(
                "{} ({} rows, {}, checked, {} older removed)",
                c.path.display(),
                c.rows,
                super::size(c.bytes),
                c.removed.len()
            )),
            Err(e) => {
                let day = clock::now().format("%Y-%m-%d");
                let _ = services
                    .notify_once(
                        &format!("backup-failed:{day}"),
                        &format!("⚠️ Tonight's backup failed: {e}\nRun `openzero backup create` to retry; `openzero doctor` shows the state."),
                    )
                    .await;
                Err(e)
            }
        }
    }
}

#[derive(Debug)]
struct DrillTask;

#[async_trait::async_trait]
impl Task for DrillTask {
    async fn run(&self, services: &Arc<Services>) -> Result<String, AppError> {
        if !super::configured(&services.loaded) {
            return Ok("skipped: backups are not set up".into());
        }
        if !super::can_open(&services.loaded) {
            return Ok(
                "skipped: backups are encrypted to age keys whose secret is not on this machine; drill where it is (backup.identity_file)"
                    .into(),
            );
        }
        match super::restore::drill(&services.loaded).await {
            Ok(d) => Ok(format!(
                "restored {} ({} rows) in {:.1} s and read it back",
                d.file.display(),
                d.rows,
                d.seconds
            )),
            Err(e) => {
                let day = clock::now().format("%Y-%m-%d");
                let _ = services
                    .notify_once(
                        &format!("restore-drill-failed:{day}"),
                        &format!("⚠️ The weekly restore drill failed: {e}\nA backup is good only once restored: check `openzero backup verify` on the newest one."),
                    )
                    .await;
                Err(e)
            }
        }
    }
}

/// How backups are doing: the newest one's age, the last backup and drill
/// runs.
pub async fn status(loaded: &Loaded, store: &dyn JobStore) -> Component {
    if !super::configured(loaded) {
        return Component::new(
            ComponentStatus::Disabled,
            "not set up: set BACKUP_PASSPHRASE or backup.recipients",
            false,
        );
    }
    let newest = super::list(&super::dir(loaded))
        .ok()
        .and_then(|l| l.into_iter().next());
    let max_age = chrono::Duration::hours(i64::from(loaded.settings.backup.max_age_hours));
    // A failed run counts until a backup newer than it exists (one made by
    // hand with `backup create` clears it too).
    let since = newest.as_ref().map(|n| n.created_at);
    let last_failed = |runs: Result<Vec<openzero_store::JobRun>, _>| {
        runs.ok()
            .and_then(|r| r.into_iter().find(|r| r.outcome != "running"))
            .filter(|r| r.outcome == "failed")
            .filter(|r| since.is_none_or(|t| r.ended_at.unwrap_or(r.scheduled_for) > t))
            .map(|r| r.error.unwrap_or_else(|| "failed".into()))
    };
    if let Some(e) = last_failed(store.job_runs(BACKUP_JOB, 3).await) {
        return Component::new(
            ComponentStatus::Degraded,
            format!("the last backup failed: {e}"),
            false,
        );
    }
    let Some(n) = newest else {
        return Component::new(
            ComponentStatus::Degraded,
            "no backup yet: run `openzero backup create` (or wait for the nightly job)",
            false,
        );
    };
    let age = clock::now() - n.created_at;
    let when = n
        .created_at
        .with_timezone(&loaded.settings.general.timezone.0)
        .format("%Y-%m-%d %H:%M");
    if age > max_age {
        return Component::new(
            ComponentStatus::Degraded,
            format!(
                "overdue: the newest backup is from {when} ({} h ago)",
                age.num_hours()
            ),
            false,
        );
    }
    if let Some(e) = last_failed(store.job_runs(DRILL_JOB, 3).await) {
        return Component::new(
            ComponentStatus::Degraded,
            format!("the last restore drill failed: {e}"),
            false,
        );
    }
    Component::new(
        ComponentStatus::Ok,
        format!("newest {when}, {}", super::size(n.bytes)),
        false,
    )
}

/// The `backup` component of `/health`.
#[derive(Debug)]
pub struct BackupHealth {
    pub loaded: Loaded,
    pub store: Arc<dyn Store>,
}

#[async_trait::async_trait]
impl HealthCheck for BackupHealth {
    fn name(&self) -> &str {
        "backup"
    }

    async fn check(&self) -> Component {
        status(&self.loaded, self.store.as_ref()).await
    }
}

/// While `serve` runs: tells the owner once when the newest backup is older
/// than `backup.max_age_hours` (the nightly job did not run, or failed
/// without anyone reading the first alert). Checked a minute after start
/// and then every half hour.
pub async fn watch(services: Arc<Services>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut wait = Duration::from_secs(60);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        wait = Duration::from_secs(1800);
        let loaded = &services.loaded;
        if !super::configured(loaded) {
            continue;
        }
        let c = status(loaded, services.store.as_ref()).await;
        if c.status == ComponentStatus::Degraded && c.detail.starts_with("overdue") {
            let newest = super::list(&super::dir(loaded))
                .ok()
                .and_then(|l| l.into_iter().next())
                .map(|b| b.path.display().to_string())
                .unwrap_or_default();
            let _ = services
                .notify_once(
                    &format!("backup-overdue:{newest}"),
                    &format!("⚠️ Backups are {}. Run `openzero backup create`, and check `openzero jobs history backup`.", c.detail),
                )
                .await;
        }
    }
}

/// `serve`'s part: the overdue-backup alert.
pub fn serve_parts(services: &Arc<Services>, parts: &mut crate::serve_parts::Parts) {
    let services = services.clone();
    parts.worker("backup-watch", move |stop| {
        let services = services.clone();
        async move {
            watch(services, stop).await;
            Ok(())
        }
    });
}
