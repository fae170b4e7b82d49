//! `openzero doctor`: checks the configuration and every configured
//! component, and says what to do about each problem.

use serde::Serialize;

use openzero_config::Loaded;

use openzero_core::health::ComponentStatus;

use crate::{ensure_data_dir, open_store};

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Warn,
    Fail,
    /// Not configured or not part of this version: not a problem.
    Skip,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Warn => "warn",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "-",
        }
    }
}

/// One row of the doctor's table.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub outcome: Outcome,
    pub detail: String,
}

pub(crate) fn check(name: &'static str, outcome: Outcome, detail: impl Into<String>) -> Check {
    Check {
        name,
        outcome,
        detail: detail.into(),
    }
}

/// Runs every check. Never fails itself: a broken part is a `Fail` row.
pub async fn run(loaded: &Loaded, now: chrono::DateTime<chrono::Utc>) -> Vec<Check> {
    let s = &loaded.settings;
    let mut out = Vec::new();

    let source = if loaded.config_file_found {
        format!("{}", loaded.config_file.display())
    } else {
        format!(
            "built-in defaults ({} not found; `openzero init` writes one)",
            loaded.config_file.display()
        )
    };
    out.push(match loaded.warnings.as_slice() {
        [] => check("config", Outcome::Ok, source),
        [w] => check("config", Outcome::Warn, format!("{source}; {w}")),
        [w, rest @ ..] => check(
            "config",
            Outcome::Warn,
            format!("{source}; {w} (and {} more warnings)", rest.len()),
        ),
    });

    out.push(match ensure_data_dir(&loaded.data_dir) {
        Ok(()) => check(
            "data dir",
            Outcome::Ok,
            format!("{} (writable)", loaded.data_dir.display()),
        ),
        Err(e) => check("data dir", Outcome::Fail, e.to_string()),
    });

    let tz = s.general.timezone.0;
    let local = now.with_timezone(&tz);
    out.push(check(
        "timezone",
        Outcome::Ok,
        format!(
            "{} (local time {})",
            tz.name(),
            local.format("%Y-%m-%d %H:%M %Z")
        ),
    ));

    let model_dir = crate::memory::model_dir(loaded);
    match open_store(loaded).await {
        Ok(store) => {
            let c = crate::health::storage(&*store).await;
            out.push(match (c.status, store.schema_version().await) {
                (ComponentStatus::Ok, Ok(version)) => check(
                    "storage",
                    Outcome::Ok,
                    format!("{} (schema v{version})", c.detail),
                ),
                (ComponentStatus::Ok, Err(e)) => check("storage", Outcome::Fail, e.to_string()),
                _ => check("storage", Outcome::Fail, c.detail),
            });
            let m = crate::health::memory(&*store, &model_dir).await;
            out.push(match m.status {
                ComponentStatus::Ok => check("memory", Outcome::Ok, m.detail),
                _ => check("memory", Outcome::Warn, m.detail),
            });
            out.push(embedding_engine(loaded));
            out.push(calendars(&*store).await);
            out.push(planka(loaded, &*store).await);
            out.push(dashboard(loaded, &*store).await);
            let b = crate::backup::jobs::status(loaded, &*store).await;
            out.push(match b.status {
                ComponentStatus::Ok => check("backup", Outcome::Ok, b.detail),
                ComponentStatus::Disabled => check("backup", Outcome::Skip, b.detail),
                _ => check("backup", Outcome::Warn, b.detail),
            });
            store.close().await;
        }
        Err(e) => {
            out.push(check("storage", Outcome::Fail, e.to_string()));
            out.push(check("memory", Outcome::Skip, "needs storage"));
        }
    }

    let bind = s.server.bind.0;
    out.push(if bind.ip().is_loopback() {
        check("http", Outcome::Ok, format!("will listen on {bind} (this machine only)"))
    } else {
        check(
            "http",
            Outcome::Warn,
            format!("will listen on {bind}, reachable from the network: put it behind a TLS proxy and keep the dashboard login on"),
        )
    });

    out.push(
        match (
            &s.telegram.bot_token,
            s.telegram.allowed_user_ids.is_empty(),
        ) {
            (None, _) => check(
                "telegram",
                Outcome::Skip,
                "not configured (set TELEGRAM_BOT_TOKEN)",
            ),
            (Some(_), true) => check(
                "telegram",
                Outcome::Warn,
                "a bot token is set but no TELEGRAM_ALLOWED_USER_ID: the bot would answer nobody",
            ),
            (Some(_), false) => check(
                "telegram",
                Outcome::Ok,
                format!(
                    "configured: `serve` polls {} for owner id(s) {:?} (token not probed)",
                    s.telegram.api_base_url, s.telegram.allowed_user_ids
                ),
            ),
        },
    );

    out.extend(mail_imap(loaded).await);
    out.push(mail_gmail(loaded).await);
    out.push(strava(loaded).await);

    out.push({
        let target = crate::agent::chat_target(loaded);
        let c = crate::health::llm(&target);
        match (c.status, target) {
            (ComponentStatus::Ok, _) => check("llm", Outcome::Ok, c.detail),
            // A missing model file is fixable by fetching it; a provider this
            // version cannot use is a configuration error.
            (_, crate::agent::ChatTarget::File(_)) => check("llm", Outcome::Warn, c.detail),
            _ => check("llm", Outcome::Fail, c.detail),
        }
    });
    out
}

/// Each IMAP mailbox: logs in and examines each folder (read-only).
async fn mail_imap(loaded: &Loaded) -> Vec<Check> {
    let accounts = crate::mail_sync::imap_accounts(loaded);
    if accounts.is_empty() {
        return vec![check(
            "mail",
            Outcome::Skip,
            "not configured (set EMAIL_IMAP_HOST, EMAIL_IMAP_USER, EMAIL_IMAP_PASSWORD)",
        )];
    }
    let mut out = Vec::new();
    for a in accounts {
        let a = match a {
            Ok(a) => a,
            Err((name, e)) => {
                out.push(check("mail", Outcome::Fail, format!("{name}: {e}")));
                continue;
            }
        };
        out.push(examine_all(&a).await);
    }
    out
}

async fn examine_all(a: &crate::mail_sync::Account) -> Check {
    let who = crate::mail_sync::account_name(&a.config);
    let mut mb = match openzero_mail::imap::Mailbox::connect(&a.config).await {
        Ok(m) => m,
        Err(e) => return check("mail", Outcome::Fail, e.to_string()),
    };
    let mut parts = Vec::new();
    for folder in &a.folders {
        match mb.examine(folder).await {
            Ok(f) => parts.push(format!("{folder}: {} messages", f.exists)),
            Err(e) => {
                mb.logout().await;
                return check("mail", Outcome::Fail, format!("{who}: {e}"));
            }
        }
    }
    let idle = if mb.offers_idle() {
        "IDLE: new mail in seconds"
    } else {
        "no IDLE: polled every mail.poll_secs"
    };
    mb.logout().await;
    check(
        "mail",
        Outcome::Ok,
        format!("{who} (read-only; {}; {idle})", parts.join(", ")),
    )
}

/// Gmail: asks for the profile with the stored grant.
async fn mail_gmail(loaded: &Loaded) -> Check {
    match crate::mail_gmail::gmail_client(loaded) {
        None => check(
            "gmail",
            Outcome::Skip,
            "not connected (`openzero mail connect gmail`)",
        ),
        Some(Err(e)) => check("gmail", Outcome::Fail, e),
        Some(Ok((g, _))) => match g.profile().await {
            Ok((email, _)) => check(
                "gmail",
                Outcome::Ok,
                format!("{email} (read-only: gmail.readonly)"),
            ),
            Err(e) => check("gmail", Outcome::Fail, e.to_string()),
        },
    }
}

/// Strava: renews the access if it must and asks who the athlete is.
async fn strava(loaded: &Loaded) -> Check {
    let client = match crate::strava::client(loaded) {
        None => {
            return check(
                "strava",
                Outcome::Skip,
                "not configured (STRAVA_CLIENT_ID, STRAVA_CLIENT_SECRET; files work without it)",
            );
        }
        Some(Err(e)) => return check("strava", Outcome::Fail, e.to_string()),
        Some(Ok(c)) => c,
    };
    match crate::strava::tokens(loaded) {
        Ok(None) => {
            return check(
                "strava",
                Outcome::Skip,
                "configured, not connected (`openzero strava connect`)",
            );
        }
        Err(e) => return check("strava", Outcome::Fail, e.to_string()),
        Ok(Some(_)) => {}
    }
    let token = match crate::strava::access(loaded, &client).await {
        Ok(t) => t,
        Err(e) => return check("strava", Outcome::Fail, e.to_string()),
    };
    match client.athlete(&token).await {
        Ok(a) => {
            let name = [a.value.firstname, a.value.lastname]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            let room = a
                .limits
                .map(|l| format!("; {} requests left in this window", l.room()))
                .unwrap_or_default();
            check(
                "strava",
                Outcome::Ok,
                format!(
                    "{} (athlete {}, read-only: activity:read_all){room}",
                    if name.is_empty() { "connected" } else { &name },
                    a.value.id
                ),
            )
        }
        Err(e) => check("strava", Outcome::Fail, e.to_string()),
    }
}

/// True when any check failed.
pub fn failed(checks: &[Check]) -> bool {
    checks.iter().any(|c| c.outcome == Outcome::Fail)
}

/// Which engine will embed, without loading it.
fn embedding_engine(loaded: &Loaded) -> Check {
    use openzero_config::EmbedRuntime;
    match (
        crate::memory::embed_runtime(loaded),
        loaded.settings.memory.runtime,
    ) {
        (openzero_embed::Runtime::Onnx { library, .. }, _) if library.is_file() => check(
            "embedding",
            Outcome::Ok,
            format!("ONNX Runtime ({})", library.display()),
        ),
        (openzero_embed::Runtime::Onnx { library, .. }, _) => check(
            "embedding",
            Outcome::Fail,
            format!(
                "memory.runtime = \"onnxruntime\" but {} does not exist: run ./scripts/fetch-models or set memory.onnxruntime",
                library.display()
            ),
        ),
        (openzero_embed::Runtime::Candle, EmbedRuntime::Candle) => {
            check("embedding", Outcome::Ok, "candle (memory.runtime)")
        }
        (openzero_embed::Runtime::Candle, _) => check(
            "embedding",
            Outcome::Warn,
            "candle: ONNX Runtime's library was not found beside the models; ./scripts/fetch-models puts it there (about twice as fast)",
        ),
    }
}

/// The calendar sources and how their last sync went (nothing is fetched).
async fn calendars(store: &dyn openzero_store::CalendarStore) -> Check {
    let sources = match store.cal_sources().await {
        Ok(s) => s,
        Err(e) => return check("calendar", Outcome::Fail, e.to_string()),
    };
    if sources.is_empty() {
        return check(
            "calendar",
            Outcome::Skip,
            "no calendars (openzero calendar import FILE.ics, add-url URL or add-caldav URL --user NAME)",
        );
    }
    let failed: Vec<String> = sources
        .iter()
        .filter_map(|s| s.last_error.as_ref().map(|e| format!("{}: {e}", s.name)))
        .collect();
    let names: Vec<String> = sources
        .iter()
        .map(|s| format!("{} ({})", s.name, s.kind.as_str()))
        .collect();
    if failed.is_empty() {
        check(
            "calendar",
            Outcome::Ok,
            format!("{}; last syncs worked", names.join(", ")),
        )
    } else {
        check(
            "calendar",
            Outcome::Warn,
            format!("last sync failed for {}", failed.join("; ")),
        )
    }
}

/// Planka: configured, reachable with the login, and the last sync.
async fn dashboard(loaded: &Loaded, store: &dyn openzero_store::DashboardStore) -> Check {
    let url = crate::dashboard::public_url(loaded);
    match store.web_password().await {
        Ok(Some(_)) => check(
            "dashboard",
            Outcome::Ok,
            format!("{url} (password set; /login on Telegram gives a one-time link)"),
        ),
        Ok(None) => check(
            "dashboard",
            Outcome::Warn,
            format!(
                "{url}: no password yet: run `openzero dashboard set-password` (or use `openzero dashboard link`)"
            ),
        ),
        Err(e) => check("dashboard", Outcome::Fail, e.to_string()),
    }
}

async fn planka(loaded: &Loaded, store: &dyn openzero_store::Store) -> Check {
    let login = match crate::planka_sync::login_of(loaded) {
        Ok(Some(l)) => l,
        Ok(None) => {
            return check(
                "planka",
                Outcome::Skip,
                "not configured (optional: PLANKA_BASE_URL, PLANKA_ADMIN_EMAIL, PLANKA_ADMIN_PASSWORD)",
            );
        }
        Err(e) => return check("planka", Outcome::Fail, e.to_string()),
    };
    if let Err(e) = crate::planka_sync::connect(&login).await {
        return check("planka", Outcome::Fail, e.to_string());
    }
    let status = crate::planka_sync::follow::status(store, loaded).await;
    let last = match status.as_ref().ok().and_then(|s| s.last_sync.clone()) {
        None => "never synced (`openzero planka sync`)".to_owned(),
        Some(l) if l.ok => format!("last sync {} worked", l.at.format("%Y-%m-%d %H:%M UTC")),
        Some(l) => {
            return check(
                "planka",
                Outcome::Warn,
                format!(
                    "logged in at {}, but the last sync failed: {}",
                    login.base_url, l.message
                ),
            );
        }
    };
    let waiting = status.map(|s| s.waiting).unwrap_or_default();
    check(
        "planka",
        Outcome::Ok,
        format!(
            "logged in at {} as {}; {last}; {waiting} local changes waiting",
            login.base_url, login.user
        ),
    )
}
