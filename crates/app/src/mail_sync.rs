//! Reading the owner's IMAP mailbox: one sync (for `openzero mail sync`),
//! and the watcher `serve` supervises (IDLE where offered, polling
//! otherwise), with a health check that does not lie.
//!
//! **Invariants:** a folder's watermark (UIDVALIDITY, highest UID read)
//! moves only in the transaction that keeps the messages below it, so a
//! crash mid-sync re-reads and never skips; a mailbox's first sync (and a
//! resync after UIDVALIDITY changed) pushes nothing old: only mail dated in
//! the last [`FIRST_SYNC_LIVE_HOURS`] counts as arriving now; the owner is
//! told once when mail stops working, and once when it works again.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use openzero_core::health::{Component, ComponentStatus, HealthCheck};
use openzero_mail::imap::{ImapAuth, ImapConfig, ImapError, Mailbox, Security, Woken};
use openzero_store::mail::Watermark;

use crate::mail::{MailService, Mode, Raw};
use crate::{AppError, Services};

/// On a mailbox's first sync, mail dated within this many hours is
/// treated as arriving now (pushed if urgent); older mail is backfilled.
pub const FIRST_SYNC_LIVE_HOURS: i64 = 24;

/// How long one IDLE lasts before it is renewed (with a sync, cheap when
/// nothing changed: one EXAMINE per folder). RFC 2177 asks for less than
/// 29 minutes; NATs often forget idle connections sooner.
const IDLE_RENEW: Duration = Duration::from_secs(5 * 60);

/// Messages fetched and kept per transaction.
const BATCH: usize = 50;

/// One IMAP mailbox to read.
#[derive(Debug, Clone)]
pub struct Account {
    /// Its name in `/health`: `mail` for the `mail.imap_*` one, `mail:NAME`
    /// for each `[[mail.accounts]]`.
    pub health_name: String,
    pub config: ImapConfig,
    pub folders: Vec<String>,
}

/// Every configured IMAP mailbox (`Err`: configured but unusable, with
/// its health name and why).
pub fn imap_accounts(loaded: &openzero_config::Loaded) -> Vec<Result<Account, (String, String)>> {
    let m = &loaded.settings.mail;
    let mut out = Vec::new();
    if let Some(first) = imap_config(loaded) {
        out.push(
            first
                .map(|config| Account {
                    health_name: "mail".into(),
                    config,
                    folders: m.folders(),
                })
                .map_err(|e| ("mail".to_owned(), e)),
        );
    }
    for a in &m.accounts {
        let health_name = format!("mail:{}", a.name);
        if a.host.trim().is_empty() || a.user.trim().is_empty() {
            out.push(Err((
                health_name,
                format!("[[mail.accounts]] {:?} needs host and user", a.name),
            )));
            continue;
        }
        let auth = match (&a.oauth_refresh_token, &a.password) {
            (Some(refresh), _) => match oauth2(
                a.oauth_token_url.as_deref(),
                a.oauth_client_id.as_deref(),
                a.oauth_client_secret.as_ref(),
                refresh.expose(),
            ) {
                Some(auth) => auth,
                None => {
                    out.push(Err((
                        health_name,
                        format!(
                            "[[mail.accounts]] {:?}: oauth_refresh_token needs oauth_token_url and oauth_client_id",
                            a.name
                        ),
                    )));
                    continue;
                }
            },
            (None, Some(p)) => ImapAuth::Password(p.expose().to_owned()),
            (None, None) => {
                out.push(Err((
                    health_name,
                    format!(
                        "[[mail.accounts]] {:?} needs a password (or oauth_refresh_token)",
                        a.name
                    ),
                )));
                continue;
            }
        };
        out.push(Ok(Account {
            health_name,
            config: ImapConfig {
                host: a.host.trim().to_owned(),
                port: a.port,
                security: security(a.security),
                user: a.user.clone(),
                auth,
                ca_file: a.ca_file.clone(),
                timeout: IMAP_TIMEOUT,
            },
            folders: a.folders(),
        }));
    }
    out
}

/// The longest one IMAP exchange may take.
const IMAP_TIMEOUT: Duration = Duration::from_secs(30);

/// XOAUTH2 with `refresh`, when the token endpoint and client are known.
fn oauth2(
    token_url: Option<&str>,
    client_id: Option<&str>,
    client_secret: Option<&openzero_config::Secret>,
    refresh: &str,
) -> Option<ImapAuth> {
    Some(ImapAuth::OAuth2 {
        token_url: token_url?.to_owned(),
        client_id: client_id?.to_owned(),
        client_secret: client_secret
            .map(|s| s.expose().to_owned())
            .unwrap_or_default(),
        refresh_token: refresh.to_owned(),
    })
}

fn security(s: openzero_config::ImapSecurity) -> Security {
    match s {
        openzero_config::ImapSecurity::Tls => Security::Tls,
        openzero_config::ImapSecurity::Starttls => Security::Starttls,
    }
}

/// Where `openzero mail connect imap` keeps the refresh token.
pub const IMAP_TOKEN_FILE: &str = "imap-oauth-token.json";

#[derive(serde::Serialize, serde::Deserialize)]
struct ImapToken {
    refresh_token: String,
}

/// The refresh token `openzero mail connect imap` stored, if any.
fn imap_oauth_token(loaded: &openzero_config::Loaded) -> Result<Option<String>, String> {
    let path = loaded.data_dir.join(IMAP_TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str::<ImapToken>(&text)
            .map(|t| Some(t.refresh_token))
            .map_err(|e| {
                format!(
                    "{} is damaged ({e}); run `openzero mail connect imap` again",
                    path.display()
                )
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Grants OpenZero IMAP access by OAuth 2.0 in a browser and keeps the
/// refresh token (mode 0600) for `EMAIL_IMAP_AUTH=xoauth2`.
pub async fn connect_imap(
    loaded: &openzero_config::Loaded,
    say: &(dyn Fn(&str) + Sync),
    pasted: impl std::future::Future<Output = Option<String>>,
) -> Result<(), AppError> {
    let m = &loaded.settings.mail;
    let (Some(auth_url), Some(token_url), Some(client_id)) = (
        m.imap_oauth_auth_url.clone(),
        m.imap_oauth_token_url.clone(),
        m.imap_oauth_client_id.clone(),
    ) else {
        return Err(AppError::Invalid(
            "set mail.imap_oauth_auth_url, mail.imap_oauth_token_url and mail.imap_oauth_client_id first (your OAuth client at the mail provider)".into(),
        ));
    };
    let scope = match &m.imap_oauth_scope {
        Some(s) => s.clone(),
        None if token_url.contains("login.microsoftonline.com") => {
            "https://outlook.office.com/IMAP.AccessAsUser.All offline_access".into()
        }
        None if token_url.contains("googleapis.com") => "https://mail.google.com/".into(),
        None => {
            return Err(AppError::Invalid(
                "set mail.imap_oauth_scope: the scope your provider wants for IMAP".into(),
            ));
        }
    };
    let endpoints = crate::oauth_flow::Endpoints {
        auth_url,
        token_url,
        client_id,
        client_secret: m
            .imap_oauth_client_secret
            .as_ref()
            .map(|s| s.expose().to_owned())
            .unwrap_or_default(),
        scope,
        what: "access to your mailbox over IMAP (OpenZero only reads)",
    };
    let refresh = crate::oauth_flow::grant(&endpoints, say, pasted).await?;
    let text = serde_json::to_string(&ImapToken {
        refresh_token: refresh,
    })
    .map_err(|e| AppError::Invalid(e.to_string()))?;
    crate::oauth_flow::save_private(loaded, &loaded.data_dir.join(IMAP_TOKEN_FILE), &text)
}

/// The `mail.imap_*` mailbox, when one is configured (`Err`: configured
/// but incomplete, saying what is missing).
pub fn imap_config(loaded: &openzero_config::Loaded) -> Option<Result<ImapConfig, String>> {
    let m = &loaded.settings.mail;
    let host = m.imap_host.as_deref().filter(|h| !h.trim().is_empty())?;
    let Some(user) = m.imap_user.clone().filter(|u| !u.is_empty()) else {
        return Some(Err(
            "mail.imap_host is set but EMAIL_IMAP_USER is not".into()
        ));
    };
    let auth = match m.imap_auth {
        openzero_config::ImapAuthKind::Password => match m.imap_password.as_ref() {
            Some(p) => ImapAuth::Password(p.expose().to_owned()),
            None => {
                return Some(Err(
                    "mail.imap_host is set but EMAIL_IMAP_PASSWORD is not".into()
                ));
            }
        },
        openzero_config::ImapAuthKind::Xoauth2 => {
            let refresh = match &m.imap_oauth_refresh_token {
                Some(r) => Some(r.expose().to_owned()),
                None => match imap_oauth_token(loaded) {
                    Ok(t) => t,
                    Err(e) => return Some(Err(e)),
                },
            };
            let Some(refresh) = refresh else {
                return Some(Err("mail.imap_auth is xoauth2 but there is no refresh token: run `openzero mail connect imap` or set EMAIL_IMAP_OAUTH_REFRESH_TOKEN".into()));
            };
            match oauth2(
                m.imap_oauth_token_url.as_deref(),
                m.imap_oauth_client_id.as_deref(),
                m.imap_oauth_client_secret.as_ref(),
                &refresh,
            ) {
                Some(auth) => auth,
                None => {
                    return Some(Err("mail.imap_auth is xoauth2 but mail.imap_oauth_token_url or mail.imap_oauth_client_id is not set".into()));
                }
            }
        }
    };
    Some(Ok(ImapConfig {
        host: host.trim().to_owned(),
        port: m.imap_port,
        security: security(m.imap_security),
        user,
        auth,
        ca_file: m.imap_ca_file.clone(),
        timeout: IMAP_TIMEOUT,
    }))
}

/// The account name mail from this configuration is kept under.
pub fn account_name(cfg: &ImapConfig) -> String {
    format!("{}@{}", cfg.user, cfg.host)
}

/// What one sync of one folder did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderReport {
    pub folder: String,
    pub new: usize,
    pub urgent: usize,
    /// UIDVALIDITY changed: the folder was read again from the start.
    pub resynced: bool,
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub account: String,
    pub folders: Vec<FolderReport>,
}

impl std::fmt::Display for SyncReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let new: usize = self.folders.iter().map(|r| r.new).sum();
        let urgent: usize = self.folders.iter().map(|r| r.urgent).sum();
        write!(
            f,
            "{}: {new} new message{}{}",
            self.account,
            if new == 1 { "" } else { "s" },
            if urgent > 0 {
                format!(", {urgent} urgent (pushed)")
            } else {
                String::new()
            }
        )?;
        for r in &self.folders {
            if r.resynced {
                write!(
                    f,
                    "; {} was renumbered by the server (UIDVALIDITY changed) and read again",
                    r.folder
                )?;
            }
        }
        Ok(())
    }
}

fn imap_err(e: ImapError) -> AppError {
    AppError::Invalid(e.to_string())
}

/// Connects to every configured mailbox, reads its folders once, logs
/// out. A mailbox that fails does not stop the others: its error is in
/// the second list (`Err` only when there is no mailbox at all).
pub async fn sync_once(
    services: &Arc<Services>,
) -> Result<(Vec<SyncReport>, Vec<String>), AppError> {
    let accounts = imap_accounts(&services.loaded);
    if accounts.is_empty() {
        return Err(AppError::Invalid(
            "no mailbox configured: set EMAIL_IMAP_HOST, EMAIL_IMAP_USER and EMAIL_IMAP_PASSWORD (or mail.imap_* in openzero.toml)".into(),
        ));
    }
    let mail = MailService::new(services.clone());
    mail.deliver_pending().await?;
    let mut reports = Vec::new();
    let mut failed = Vec::new();
    for a in accounts {
        let a = match a {
            Ok(a) => a,
            Err((name, e)) => {
                failed.push(format!("{name}: {e}"));
                continue;
            }
        };
        let result = async {
            let mut mb = Mailbox::connect(&a.config).await.map_err(imap_err)?;
            let r = sync_folders(services, &mail, &a, &mut mb).await;
            mb.logout().await;
            r
        }
        .await;
        match result {
            Ok(r) => reports.push(r),
            Err(e) if a.health_name == "mail" => failed.push(e.to_string()),
            Err(e) => failed.push(format!("{}: {e}", a.health_name)),
        }
    }
    Ok((reports, failed))
}

async fn sync_folders(
    services: &Services,
    mail: &MailService,
    a: &Account,
    mb: &mut Mailbox,
) -> Result<SyncReport, AppError> {
    let account = account_name(&a.config);
    let mut report = SyncReport {
        account: account.clone(),
        folders: Vec::new(),
    };
    for folder in &a.folders {
        report
            .folders
            .push(sync_folder(services, mail, &account, folder, mb).await?);
    }
    Ok(report)
}

/// Reads one folder from its watermark on.
pub async fn sync_folder(
    services: &Services,
    mail: &MailService,
    account: &str,
    folder: &str,
    mb: &mut Mailbox,
) -> Result<FolderReport, AppError> {
    let state = mb.examine(folder).await.map_err(imap_err)?;
    let mark = services.store.mail_watermark(account, folder).await?;
    let mut report = FolderReport {
        folder: folder.to_owned(),
        ..Default::default()
    };
    let first_sync_mode = Mode::Backfill {
        live_since: Some(Utc::now() - chrono::Duration::hours(FIRST_SYNC_LIVE_HOURS)),
    };
    let (after, mode) = match mark {
        None => (0, first_sync_mode),
        Some(m) if m.uidvalidity != i64::from(state.uidvalidity) => {
            // The server renumbered the folder: read it all again. Mail
            // already kept is recognised by its key and not pushed again.
            tracing::warn!(
                account,
                folder,
                old = m.uidvalidity,
                new = state.uidvalidity,
                "UIDVALIDITY changed: resyncing the folder"
            );
            report.resynced = true;
            (0, first_sync_mode)
        }
        Some(m) => {
            let last = u32::try_from(m.uid).unwrap_or(0);
            if state.uidnext != 0 && state.uidnext <= last.saturating_add(1) {
                return Ok(report); // nothing new: no SEARCH, no FETCH
            }
            (last, Mode::Live)
        }
    };
    let uids = mb.uids_after(after).await.map_err(imap_err)?;
    if uids.is_empty() && report.resynced {
        // An emptied folder: remember the new UIDVALIDITY.
        let w = Watermark {
            uidvalidity: i64::from(state.uidvalidity),
            uid: 0,
        };
        services
            .store
            .mail_ingest(&[], Some((account, folder, w)))
            .await?;
    }
    for chunk in uids.chunks(BATCH) {
        let fetched = mb.fetch(chunk).await.map_err(imap_err)?;
        let raws: Vec<Raw> = fetched
            .into_iter()
            .map(|(uid, bytes)| Raw {
                account: account.to_owned(),
                folder: folder.to_owned(),
                uid: Some(i64::from(uid)),
                bytes,
            })
            .collect();
        // The mark covers the whole chunk asked for: a message deleted
        // between SEARCH and FETCH is not waited for.
        let top = chunk.iter().copied().max().unwrap_or(after);
        let w = Watermark {
            uidvalidity: i64::from(state.uidvalidity),
            uid: i64::from(top),
        };
        let outcomes = mail.ingest(&raws, Some((account, folder, w)), mode).await?;
        for o in &outcomes {
            if o.id.is_some() {
                report.new += 1;
                if o.action == openzero_core::mail::Action::Urgent && mode == Mode::Live {
                    report.urgent += 1;
                }
            }
        }
    }
    tracing::info!(account, folder, new = report.new, "mail synced");
    Ok(report)
}

/// A mail source's health, as its watcher last saw it.
#[derive(Debug)]
pub struct MailHealth {
    name: String,
    state: Mutex<HealthState>,
}

#[derive(Debug, Default, Clone)]
struct HealthState {
    last_ok: Option<DateTime<Utc>>,
    error: Option<String>,
    /// The owner was told it is down (and not yet that it is back).
    told: bool,
    idle: bool,
}

impl MailHealth {
    /// The health of the source shown as `name` ("mail", "gmail").
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            state: Mutex::default(),
        }
    }

    fn get(&self) -> HealthState {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn update(&self, f: impl FnOnce(&mut HealthState)) {
        if let Ok(mut s) = self.state.lock() {
            f(&mut s);
        }
    }

    /// A sync worked: healthy, and the owner is told once if they had
    /// been told it was down.
    pub async fn ok(&self, services: &Services, idle: bool) {
        let was_told = self.get().told;
        self.update(|s| {
            s.last_ok = Some(Utc::now());
            s.error = None;
            s.told = false;
            s.idle = idle;
        });
        if was_told
            && let Err(e) = services
                .notify(&format!("📬 {} works again.", self.label()))
                .await
        {
            tracing::warn!(error = %e, "could not tell the owner that mail is back");
        }
    }

    /// A sync failed: down, and the owner is told once.
    pub async fn failed(&self, services: &Services, why: &str) {
        tracing::warn!(source = %self.name, error = %why, "mail: not working");
        let tell = !self.get().told;
        self.update(|s| {
            s.error = Some(why.to_owned());
            s.told = true;
        });
        if tell
            && let Err(e) = services
                .notify(&format!(
                    "📭 {} is not working: {why}\nI keep trying; nothing that arrives meanwhile is lost.",
                    self.label()
                ))
                .await
        {
            tracing::warn!(error = %e, "could not tell the owner that mail is down");
        }
    }

    fn label(&self) -> String {
        match self.name.split_once(':') {
            Some((_, account)) => format!("Mail ({account})"),
            None if self.name == "gmail" => "Gmail".into(),
            None => "Mail".into(),
        }
    }
}

#[async_trait::async_trait]
impl HealthCheck for MailHealth {
    fn name(&self) -> &str {
        &self.name
    }

    async fn check(&self) -> Component {
        let s = self.get();
        match (&s.error, s.last_ok) {
            (Some(e), _) => Component::new(ComponentStatus::Down, e.clone(), false),
            (None, Some(t)) => Component::new(
                ComponentStatus::Ok,
                format!(
                    "last read {} ({})",
                    t.format("%Y-%m-%d %H:%M:%S UTC"),
                    if s.idle { "IDLE" } else { "polling" }
                ),
                false,
            ),
            (None, None) => Component::new(ComponentStatus::Ok, "connecting", false),
        }
    }
}

/// Reads the mailbox until `stop`: a sync, then IDLE on the first folder
/// (or a sleep of `mail.poll_secs` when the server has no IDLE), then a
/// sync again. Failures are reported in `health` and to the owner once;
/// the watcher retries with a growing pause (at most the poll interval)
/// and never gives up.
pub async fn watch(
    services: Arc<Services>,
    account: Account,
    health: Arc<MailHealth>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), String> {
    let mail = MailService::new(services.clone());
    let poll = Duration::from_secs(services.loaded.settings.mail.poll_secs.max(10));
    let use_idle = services.loaded.settings.mail.idle;
    let mut backoff = Duration::from_secs(5);
    // Whatever a crash left owed (a push, a memory) goes out first.
    if let Err(e) = mail.deliver_pending().await {
        tracing::warn!(error = %e, "pending mail not delivered yet");
    }
    while !*stop.borrow() {
        match session(
            &services, &mail, &account, &health, use_idle, poll, &mut stop,
        )
        .await
        {
            Ok(()) => return Ok(()), // stopped
            Err(e) => {
                health.failed(&services, &e.to_string()).await;
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => return Ok(()),
                }
                backoff = (backoff * 2).min(poll.max(Duration::from_secs(5)));
            }
        }
    }
    Ok(())
}

/// One connection's life: sync, wait, sync … until an error or `stop`.
async fn session(
    services: &Arc<Services>,
    mail: &MailService,
    account: &Account,
    health: &MailHealth,
    use_idle: bool,
    poll: Duration,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Result<(), AppError> {
    let mut mb = Mailbox::connect(&account.config).await.map_err(imap_err)?;
    let idle = use_idle && mb.offers_idle();
    loop {
        sync_folders(services, mail, account, &mut mb).await?;
        health.ok(services, idle).await;
        if idle {
            let first = account
                .folders
                .first()
                .cloned()
                .unwrap_or_else(|| "INBOX".into());
            mb.examine(&first).await.map_err(imap_err)?;
            // IDLE until a change, the poll interval (other folders and
            // a safety net), or shutdown (then the connection is dropped).
            // At most IDLE_RENEW: a connection that died without a word
            // (a NAT dropping it) shows at the next renewal, not after
            // the whole poll interval.
            let wait = poll.min(IDLE_RENEW);
            tokio::select! {
                r = mb.idle(wait) => {
                    let (back, woken) = r.map_err(imap_err)?;
                    mb = back;
                    if woken == Woken::Changed {
                        tracing::debug!("mail: IDLE woke on a change");
                    }
                }
                _ = stop.changed() => return Ok(()),
            }
        } else {
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {
                    mb.logout().await;
                    return Ok(());
                }
            }
        }
        if *stop.borrow() {
            mb.logout().await;
            return Ok(());
        }
    }
}

/// `serve`'s part: one watcher per configured IMAP mailbox with its
/// health check (`mail` disabled when there is none, down when an
/// account's settings cannot be used).
pub fn serve_parts(services: &Arc<Services>, parts: &mut crate::serve_parts::Parts) {
    let accounts = imap_accounts(&services.loaded);
    if accounts.is_empty() {
        crate::serve_parts::fixed(
            services,
            "mail",
            ComponentStatus::Disabled,
            "not configured (set EMAIL_IMAP_HOST, EMAIL_IMAP_USER and EMAIL_IMAP_PASSWORD)",
        );
    }
    for a in accounts {
        let account = match a {
            Ok(a) => a,
            Err((name, e)) => {
                crate::serve_parts::fixed(services, &name, ComponentStatus::Down, e);
                continue;
            }
        };
        let health = Arc::new(MailHealth::new(&account.health_name));
        services.add_check(health.clone());
        let services = services.clone();
        parts.worker(format!("{}-watcher", account.health_name), move |stop| {
            watch(services.clone(), account.clone(), health.clone(), stop)
        });
    }
}
