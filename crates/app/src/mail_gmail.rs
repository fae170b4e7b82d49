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
use openzero_mail::gmail::{Gmail, GmailConfig, GmailError, authorization, exchange_code};
use openzero_store::mail::Watermark;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

fn save_token(loaded: &Loaded, t: &StoredToken) -> Result<(), AppError> {
    crate::ensure_data_dir(&loaded.data_dir)?;
    let path = token_path(loaded);
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string(t).map_err(|e| AppError::Invalid(e.to_string()))?;
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|e| AppError::Invalid(format!("cannot write {}: {e}", path.display())))
}

/// Connects Gmail: prints the URL to open, then takes the code either from
/// Google's redirect to a loopback listener on this machine or pasted by
/// the owner (the code, or the whole address the browser ended on, for a
/// server without a browser). Returns the account's address.
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| AppError::Invalid(format!("cannot listen on 127.0.0.1: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| AppError::Invalid(e.to_string()))?
        .port();
    let auth = authorization(&cfg, &format!("http://127.0.0.1:{port}/"))
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    say(&format!(
        "Open this address in a browser and allow read-only access to Gmail:\n\n  {}\n\nWaiting for Google to send you back here. On a server without a browser, paste the address your browser ends on (or its code=…) and press Enter:",
        auth.url
    ));
    let code = tokio::select! {
        c = redirected(&listener) => c?,
        p = pasted => match p {
            Some(p) => code_of(&p, &auth.state)?,
            None => return Err(AppError::Invalid("no code given: nothing was connected".into())),
        },
    };
    let refresh = exchange_code(&cfg, &auth, &code)
        .await
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let gmail = Gmail::new(cfg, refresh.clone()).map_err(|e| AppError::Invalid(e.to_string()))?;
    let (email, _) = gmail
        .profile()
        .await
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    save_token(
        loaded,
        &StoredToken {
            refresh_token: refresh,
            email: email.clone(),
        },
    )?;
    Ok(email)
}

/// The code from a pasted address (`…?code=X&state=Y`: the state must be
/// ours) or a bare code.
fn code_of(pasted: &str, state: &str) -> Result<String, AppError> {
    let p = pasted.trim();
    if p.contains("code=") {
        let full = if p.starts_with("http") {
            p.to_owned()
        } else {
            format!("http://x/?{}", p.trim_start_matches(['?', '/']))
        };
        let url = url::Url::parse(&full)
            .map_err(|e| AppError::Invalid(format!("cannot read that address: {e}")))?;
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        if let Some(s) = q.get("state")
            && s != state
        {
            return Err(AppError::Invalid(
                "that address belongs to another attempt (its state differs); nothing was connected".into(),
            ));
        }
        if let Some(e) = q.get("error") {
            return Err(AppError::Invalid(format!("Google said: {e}")));
        }
        return q
            .get("code")
            .cloned()
            .ok_or_else(|| AppError::Invalid("no code in that address".into()));
    }
    if p.is_empty() {
        return Err(AppError::Invalid("no code given".into()));
    }
    Ok(p.to_owned())
}

/// Waits for Google's redirect on the loopback listener and answers it.
async fn redirected(listener: &tokio::net::TcpListener) -> Result<String, AppError> {
    loop {
        let (mut sock, _) = listener
            .accept()
            .await
            .map_err(|e| AppError::Invalid(e.to_string()))?;
        let mut buf = vec![0u8; 8192];
        let mut n = 0;
        while n < buf.len() {
            match sock.read(&mut buf[n..]).await {
                Ok(0) | Err(_) => break,
                Ok(k) => n += k,
            }
            if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        let head = String::from_utf8_lossy(&buf[..n]).into_owned();
        let target = head
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("/")
            .to_owned();
        let url = url::Url::parse(&format!("http://127.0.0.1{target}"));
        let q: std::collections::HashMap<String, String> = url
            .map(|u| u.query_pairs().into_owned().collect())
            .unwrap_or_default();
        let (status, text, result) = match (q.get("code"), q.get("error")) {
            (Some(code), _) => (
                "200 OK",
                "OpenZero has read-only access to Gmail now. You can close this tab.",
                Some(Ok(code.clone())),
            ),
            (None, Some(e)) => (
                "200 OK",
                "Google did not grant access. Nothing was connected; you can close this tab.",
                Some(Err(AppError::Invalid(format!("Google said: {e}")))),
            ),
            // A favicon request or a stray visit: keep waiting.
            _ => ("404 Not Found", "Not here.", None),
        };
        let reply = format!(
            "HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
            text.len()
        );
        let _ = sock.write_all(reply.as_bytes()).await;
        if let Some(r) = result {
            return r;
        }
    }
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
    let backfill = Mode::Backfill {
        live_since: Some(openzero_store::now() - chrono::Duration::hours(FIRST_SYNC_LIVE_HOURS)),
    };
    let full = |report: &mut FolderReport| {
        let (gmail, mail, account) = (&gmail, &mail, &account);
        let mut r = std::mem::take(report);
        async move {
            let mut ids = gmail
                .recent_ids(LABEL, FULL_SYNC_MESSAGES)
                .await
                .map_err(gmail_err)?;
            ids.reverse();
            let mark = Watermark {
                uidvalidity: 0,
                uid: i64::try_from(current).unwrap_or(i64::MAX),
            };
            keep(gmail, mail, account, &ids, mark, backfill, &mut r).await?;
            Ok::<_, AppError>(r)
        }
    };
    match services.store.mail_watermark(&account, LABEL).await? {
        None => report = full(&mut report).await?,
        Some(w) => {
            let start = u64::try_from(w.uid).unwrap_or(0);
            match gmail.added_since(start, LABEL).await {
                Ok((ids, last)) => {
                    let mark = Watermark {
                        uidvalidity: 0,
                        uid: i64::try_from(last).unwrap_or(i64::MAX),
                    };
                    if !ids.is_empty() || last != start {
                        keep(gmail, &mail, &account, &ids, mark, Mode::Live, &mut report).await?;
                    }
                }
                Err(GmailError::HistoryGone(h)) => {
                    tracing::warn!(
                        account,
                        history_id = h,
                        "Gmail's history is gone: full resync"
                    );
                    report = full(&mut report).await?;
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
