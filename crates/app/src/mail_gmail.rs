//! Gmail as a mail source: connecting (OAuth for an installed app, the
//! refresh token kept in the data directory with mode 0600), syncing by
//! history id, and the poller `serve` supervises.
//!
//! **Invariants:** the history id moves only in the transaction that keeps
//! the last messages it covers (a crash re-reads and never skips); a
//! history id Gmail no longer has triggers a full resync in which mail
//! already kept is recognised and not pushed again; a revoked grant turns
//! the `gmail` component down and tells the owner once.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openzero_config::Loaded;
use openzero_mail::gmail::{Gmail, GmailConfig, GmailError};
use openzero_store::mail::Watermark;

use crate::mail::{MailService, Mode, Raw};
use crate::mail_sync::{FIRST_SYNC_LIVE_HOURS, FolderReport, MailHealth, SyncReport};
use crate::{AppError, Services};

/// Where the refresh token is kept, in the data directory.
pub const TOKEN_FILE: &str = "gmail-token.json";

/// Messages read on a first (or full) sync, newest first.
pub const FULL_SYNC_MESSAGES: usize = 500;

const LABEL: &str = "INBOX";

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredToken {
    refresh_token: String,
    email: String,
}

impl std::fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredToken")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

fn token_path(loaded: &Loaded) -> PathBuf {
    loaded.data_dir.join(TOKEN_FILE)
}

/// The OAuth client and endpoints, when a Google client is configured.
pub fn gmail_config(loaded: &Loaded) -> Option<GmailConfig> {
    let g = &loaded.settings.google;
    let id = g.client_id.clone().filter(|c| !c.trim().is_empty())?;
    Some(GmailConfig {
        client_id: id,
        client_secret: g
            .client_secret
            .as_ref()
            .map(|s| s.expose().to_owned())
            .unwrap_or_default(),
        auth_url: g.auth_url.clone(),
        token_url: g.token_url.clone(),
        api_base: loaded.settings.mail.gmail_api_base.clone(),
        timeout: Duration::from_secs(30),
    })
}

/// The Gmail client when Gmail is connected (`None`: not connected;
/// `Err`: connected but unusable, saying why).
pub fn gmail_client(loaded: &Loaded) -> Option<Result<(Gmail, String), String>> {
    let path = token_path(loaded);
    if !path.exists() {
        return None;
    }
    let Some(cfg) = gmail_config(loaded) else {
        return Some(Err(format!(
            "{} exists but GOOGLE_CLIENT_ID is not set",
            path.display()
        )));
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => return Some(Err(format!("cannot read {}: {e}", path.display()))),
    };
    let t: StoredToken = match serde_json::from_str(&text) {
        Ok(t) => t,
        Err(e) => {
            return Some(Err(format!(
                "{} is damaged ({e}); run `openzero mail connect gmail` again",
                path.display()
            )));
        }
    };
    Some(
        Gmail::new(cfg, t.refresh_token)
            .map(|g| (g, t.email))
            .map_err(|e| e.to_string()),
    )
}

/// Connects Gmail: the owner grants read-only access in a browser (see
/// [`crate::oauth_flow::grant`]); the refresh token is kept in
/// `DATA_DIR/gmail-token.json`, mode 0600. Returns the account's address.
pub async fn connect(
    loaded: &Loaded,
    say: &(dyn Fn(&str) + Sync),
    pasted: impl std::future::Future<Output = Option<String>>,
) -> Result<String, AppError> {
    let Some(cfg) = gmail_config(loaded) else {
        return Err(AppError::Invalid(
            "set GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET first: a Google OAuth client of type \"Desktop app\" from your Google Cloud project (console.cloud.google.com → APIs & Services → Credentials), with the Gmail API enabled".into(),
        ));
    };
    let endpoints = crate::oauth_flow::Endpoints {
        auth_url: cfg.auth_url.clone(),
        token_url: cfg.token_url.clone(),
        client_id: cfg.client_id.clone(),
        client_secret: cfg.client_secret.clone(),
        scope: openzero_mail::gmail::SCOPE.to_owned(),
        what: "read-only access to Gmail",
    };
    let refresh = crate::oauth_flow::grant(&endpoints, say, pasted).await?;
    let gmail = Gmail::new(cfg, refresh.clone()).map_err(|e| AppError::Invalid(e.to_string()))?;
    let (email, _) = gmail
        .profile()
        .await
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let text = serde_json::to_string(&StoredToken {
        refresh_token: refresh,
        email: email.clone(),
    })
    .map_err(|e| AppError::Invalid(e.to_string()))?;
    crate::oauth_flow::save_private(loaded, &token_path(loaded), &text)?;
    Ok(email)
}

fn gmail_err(e: GmailError) -> AppError {
    AppError::Invalid(e.to_string())
}

/// Fetches `ids` and keeps them, oldest first, 50 per transaction; the
/// watermark `mark` goes with the last batch only.
async fn keep(
    gmail: &Gmail,
    mail: &MailService,
    account: &str,
    ids: &[String],
    mark: Watermark,
    mode: Mode,
    report: &mut FolderReport,
) -> Result<(), AppError> {
    let chunks: Vec<&[String]> = ids.chunks(50).collect();
    if chunks.is_empty() {
        mail.ingest(&[], Some((account, LABEL, mark)), mode).await?;
        return Ok(());
    }
    for (i, chunk) in chunks.iter().enumerate() {
        let mut raws = Vec::with_capacity(chunk.len());
        for id in *chunk {
            if let Some(m) = gmail.raw(id).await.map_err(gmail_err)? {
                raws.push(Raw {
                    account: account.to_owned(),
                    folder: LABEL.to_owned(),
                    uid: None,
                    bytes: m.bytes,
                });
            }
        }
        let last = i + 1 == chunks.len();
        let outcomes = mail
            .ingest(&raws, last.then_some((account, LABEL, mark)), mode)
            .await?;
        for o in outcomes.iter().filter(|o| o.id.is_some()) {
            report.new += 1;
            if o.action == openzero_core::mail::Action::Urgent && mode == Mode::Live {
                report.urgent += 1;
            }
        }
    }
    Ok(())
}

/// Reads what arrived in the Gmail inbox since the stored history id (or,
/// the first time and when Gmail's history no longer reaches back, the
/// newest [`FULL_SYNC_MESSAGES`]).
pub async fn sync(services: &Arc<Services>, gmail: &Gmail) -> Result<SyncReport, AppError> {
    let mail = MailService::new(services.clone());
    let (email, current) = gmail.profile().await.map_err(gmail_err)?;
    let account = format!("gmail:{email}");
    let mut report = FolderReport {
        folder: LABEL.to_owned(),
        ..Default::default()
    };
    let history_id = |h: u64| Watermark {
        uidvalidity: 0,
        uid: i64::try_from(h).unwrap_or(i64::MAX),
    };
    // The first time, and when Gmail's history no longer reaches back: the
    // newest messages, marked with the history id read before listing them.
    let full = async |report: &mut FolderReport| {
        let mut ids = gmail
            .recent_ids(LABEL, FULL_SYNC_MESSAGES)
            .await
            .map_err(gmail_err)?;
        ids.reverse();
        let backfill = Mode::Backfill {
            live_since: Some(
                openzero_store::now() - chrono::Duration::hours(FIRST_SYNC_LIVE_HOURS),
            ),
        };
        keep(
            gmail,
            &mail,
            &account,
            &ids,
            history_id(current),
            backfill,
            report,
        )
        .await
    };
    match services.store.mail_watermark(&account, LABEL).await? {
        None => full(&mut report).await?,
        Some(w) => {
            let start = u64::try_from(w.uid).unwrap_or(0);
            match gmail.added_since(start, LABEL).await {
                Ok((ids, last)) if !ids.is_empty() || last != start => {
                    keep(
                        gmail,
                        &mail,
                        &account,
                        &ids,
                        history_id(last),
                        Mode::Live,
                        &mut report,
                    )
                    .await?;
                }
                Ok(_) => {}
                Err(GmailError::HistoryGone(h)) => {
                    tracing::warn!(
                        account,
                        history_id = h,
                        "Gmail's history is gone: full resync"
                    );
                    full(&mut report).await?;
                    report.resynced = true;
                }
                Err(e) => return Err(gmail_err(e)),
            }
        }
    }
    tracing::info!(account, new = report.new, "gmail synced");
    Ok(SyncReport {
        account,
        folders: vec![report],
    })
}

/// Polls Gmail every `mail.poll_secs` until `stop`; failures are reported
/// in `health` and to the owner once, and retried.
pub async fn watch(
    services: Arc<Services>,
    gmail: Arc<Gmail>,
    health: Arc<MailHealth>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), String> {
    let poll = Duration::from_secs(services.loaded.settings.mail.poll_secs.max(10));
    let mail = MailService::new(services.clone());
    if let Err(e) = mail.deliver_pending().await {
        tracing::warn!(error = %e, "pending mail not delivered yet");
    }
    let mut backoff = Duration::from_secs(5);
    while !*stop.borrow() {
        let wait = match sync(&services, &gmail).await {
            Ok(_) => {
                health.ok(&services, false).await;
                backoff = Duration::from_secs(5);
                poll
            }
            Err(e) => {
                health.failed(&services, &e.to_string()).await;
                let w = backoff;
                backoff = (backoff * 2).min(poll);
                w
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => break,
        }
    }
    Ok(())
}

/// `serve`'s part: the Gmail poller and the `gmail` health check when
/// Gmail is connected (`openzero mail connect gmail`); `gmail` down when
/// its grant cannot be used.
pub fn serve_parts(services: &Arc<Services>, parts: &mut crate::serve_parts::Parts) {
    let gmail = match gmail_client(&services.loaded) {
        None => return,
        Some(Ok((g, _))) => Arc::new(g),
        Some(Err(e)) => {
            use openzero_core::health::ComponentStatus;
            crate::serve_parts::fixed(services, "gmail", ComponentStatus::Down, e);
            return;
        }
    };
    let health = Arc::new(MailHealth::new("gmail"));
    services.add_check(health.clone());
    let services = services.clone();
    parts.worker("gmail-poller", move |stop| {
        watch(services.clone(), gmail.clone(), health.clone(), stop)
    });
}
