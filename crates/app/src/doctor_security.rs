//! `openzero doctor --security`: what an attacker would look at first,
//! each with what to do.

use openzero_config::{KEYS, Kind, Loaded};

use crate::doctor::{Check, Outcome, check};

#[cfg(unix)]
fn mode(path: &std::path::Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn mode(_: &std::path::Path) -> Option<u32> {
    None
}

/// Runs the security checks. Never fails itself.
pub async fn run(loaded: &Loaded) -> Vec<Check> {
    let s = &loaded.settings;
    let mut out = Vec::new();

    let bind = s.server.bind.0;
    out.push(if bind.ip().is_loopback() {
        check("listen", Outcome::Ok, format!("{bind}: this machine only (reach it through Tailscale)"))
    } else {
        check(
            "listen",
            Outcome::Warn,
            format!("{bind} is reachable from the network: bind 127.0.0.1:{} and use `tailscale serve` (docs/deployment.md), or put a TLS proxy in front", bind.port()),
        )
    });

    let dir = &loaded.data_dir;
    out.push(match mode(dir) {
        Some(m) if m & 0o077 == 0 => check(
            "data dir",
            Outcome::Ok,
            format!("{} is {m:o} (owner only)", dir.display()),
        ),
        Some(m) => check(
            "data dir",
            Outcome::Warn,
            format!(
                "{} is {m:o}: others can read your data; run chmod 700 {}",
                dir.display(),
                dir.display()
            ),
        ),
        None => check(
            "data dir",
            Outcome::Skip,
            format!("{} not found (run `openzero init`)", dir.display()),
        ),
    });

    let file_origin = loaded.config_file.display().to_string();
    let secrets_in_file: Vec<&str> = KEYS
        .iter()
        .filter(|d| d.kind == Kind::Secret)
        .filter(|d| {
            loaded
                .origins
                .get(d.path)
                .is_some_and(|o| *o == file_origin)
        })
        .map(|d| d.path)
        .collect();
    out.push(match mode(&loaded.config_file) {
        Some(m) if m & 0o077 == 0 => check(
            "config file",
            Outcome::Ok,
            format!("{} is {m:o} (owner only)", loaded.config_file.display()),
        ),
        Some(m) => check(
            "config file",
            if secrets_in_file.is_empty() {
                Outcome::Warn
            } else {
                Outcome::Fail
            },
            format!(
                "{} is {m:o}{}: run chmod 600 {}",
                loaded.config_file.display(),
                if secrets_in_file.is_empty() {
                    String::new()
                } else {
                    format!(" and holds {}", secrets_in_file.join(", "))
                },
                loaded.config_file.display()
            ),
        ),
        None => check(
            "config file",
            Outcome::Skip,
            "none (defaults and the environment)",
        ),
    });

    // Secrets: from a file (the configuration or NAME_FILE) or the environment.
    let mut in_env = Vec::new();
    let mut in_files = 0;
    for d in KEYS.iter().filter(|d| d.kind == Kind::Secret) {
        match loaded.origins.get(d.path) {
            Some(o) if o.starts_with("environment ") && !o.ends_with("_FILE") => {
                in_env.push(o.trim_start_matches("environment ").to_owned());
            }
            Some(_) => in_files += 1,
            None => {}
        }
    }
    out.push(if in_env.is_empty() {
        check(
            "secrets",
            Outcome::Ok,
            if in_files == 0 {
                "none set".to_owned()
            } else {
                format!("{in_files} set, all read from files")
            },
        )
    } else {
        check(
            "secrets",
            Outcome::Warn,
            format!(
                "{} in the environment (other processes of this user and `systemctl show` can see it): put each in a file of its own, mode 600, and set {}",
                in_env.join(", "),
                in_env
                    .iter()
                    .map(|n| format!("{n}_FILE=/path/to/it"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    });

    let t = &s.telegram;
    out.push(match (&t.bot_token, t.allowed_user_ids.is_empty()) {
        (None, _) => check("telegram owner", Outcome::Skip, "no bot configured"),
        (Some(_), true) => check(
            "telegram owner",
            Outcome::Fail,
            "a bot token is set but no TELEGRAM_ALLOWED_USER_ID: set your own user id (the bot answers nobody else)",
        ),
        (Some(_), false) => check(
            "telegram owner",
            Outcome::Ok,
            format!("only user id(s) {:?} are answered", t.allowed_user_ids),
        ),
    });
    if t.mode == openzero_config::TelegramMode::Webhook && t.webhook_secret.is_none() {
        out.push(check(
            "telegram webhook",
            Outcome::Fail,
            "webhook mode without telegram.webhook_secret: anyone who finds the address can post updates; set a long random secret",
        ));
    }

    match crate::open_store(loaded).await {
        Ok(store) => {
            out.push(match store.web_password().await {
                Ok(Some(_)) => check("dashboard", Outcome::Ok, "a password is set (argon2id)"),
                Ok(None) => check(
                    "dashboard",
                    Outcome::Warn,
                    "no password: only /login links from Telegram sign in; set one with `openzero dashboard set-password`",
                ),
                Err(e) => check("dashboard", Outcome::Fail, e.to_string()),
            });
            out.push(backups(loaded, &*store).await);
            store.close().await;
        }
        Err(e) => out.push(check("dashboard", Outcome::Fail, e.to_string())),
    }
    out
}

/// Backups: encrypted (always, when set up), with which key, and recent.
async fn backups(loaded: &Loaded, store: &dyn openzero_store::JobStore) -> Check {
    use openzero_core::health::ComponentStatus;
    if !crate::backup::configured(loaded) {
        return check(
            "backups",
            Outcome::Warn,
            "no backups: set BACKUP_PASSPHRASE (or backup.passphrase_file), or age public keys in backup.recipients; the nightly job then writes encrypted backups",
        );
    }
    let key = if loaded
        .settings
        .backup
        .recipients
        .as_deref()
        .is_some_and(|r| !r.trim().is_empty())
    {
        "encrypted to age recipients (this server cannot read them)"
    } else {
        "encrypted with the passphrase (keep a copy of it off this machine)"
    };
    let s = crate::backup::jobs::status(loaded, store).await;
    match s.status {
        ComponentStatus::Ok => check("backups", Outcome::Ok, format!("{key}; {}", s.detail)),
        _ => check("backups", Outcome::Warn, format!("{key}; {}", s.detail)),
    }
}
