//! Signing in to the dashboard, for every way in: the password (argon2id,
//! set with `openzero dashboard set-password`), a one-time link from
//! Telegram's `/login`, and the session a browser then holds.
//!
//! **Invariants:** only hashes are stored (argon2id for the password,
//! SHA-256 for session and link tokens: a copy of the database does not let
//! anyone in); failed logins are counted across processes in the store, and
//! the door locks by [`openzero_core::login`]'s rule; the owner hears of a
//! lockout once per lock.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chrono::{DateTime, Duration, Utc};
use openzero_config::Loaded;
use openzero_core::login;
use openzero_store::DashboardStore;
use openzero_store::dashboard::{ActiveSession, NewWebSession, WebSession};
use sha2::{Digest, Sha256};

use crate::{AppError, Services, clock};

/// How long a browser stays signed in.
pub fn session_life() -> Duration {
    Duration::days(30)
}

/// How long a `/login` link works (once).
pub fn link_life() -> Duration {
    Duration::minutes(10)
}

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 10;

/// Name of the session cookie.
pub const COOKIE: &str = "oz_session";

/// How a password login went.
pub enum Login {
    /// Signed in: the cookie's token (shown once, never stored) and the session.
    In {
        token: String,
        session: WebSession,
    },
    Wrong,
    /// Too many failures: closed until then.
    Locked(DateTime<Utc>),
    /// No password was ever set.
    NoPassword,
}

/// The session token never appears in `Debug` output.
impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Login::In { session, .. } => f
                .debug_struct("In")
                .field("token", &"********")
                .field("session", session)
                .finish(),
            Login::Wrong => f.write_str("Wrong"),
            Login::Locked(until) => f.debug_tuple("Locked").field(until).finish(),
            Login::NoPassword => f.write_str("NoPassword"),
        }
    }
}

/// 32 random bytes, hex.
pub fn new_token() -> Result<String, AppError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| AppError::Invalid(format!("no randomness: {e}")))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// What is stored for a token.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// The argon2id PHC string of a password, after checking it is long enough.
pub fn hash_password(password: &str) -> Result<String, AppError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(AppError::Invalid(format!(
            "the password is too short: use at least {MIN_PASSWORD} characters"
        )));
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::Invalid(format!("could not hash the password: {e}")))
}

fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Sets (or replaces) the password; every browser signed in is signed out.
pub async fn set_password(store: &dyn DashboardStore, password: &str) -> Result<(), AppError> {
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AppError::Invalid(format!("hashing stopped: {e}")))??;
    store.web_password_set(&hash, clock::now()).await?;
    Ok(())
}

/// When login opens again, if it is locked now.
pub async fn locked(store: &dyn DashboardStore) -> Result<Option<DateTime<Utc>>, AppError> {
    let now = clock::now();
    let failures = store.web_login_failures(now - login::look_back()).await?;
    Ok(login::locked_until(&failures, now))
}

/// Signs in with the password.
pub async fn login_password(
    services: &Services,
    password: &str,
    user_agent: &str,
) -> Result<Login, AppError> {
    let store = &*services.store;
    if let Some(until) = locked(store).await? {
        return Ok(Login::Locked(until));
    }
    let Some(phc) = store.web_password().await? else {
        return Ok(Login::NoPassword);
    };
    let typed = password.to_owned();
    let ok = tokio::task::spawn_blocking(move || verify(&typed, &phc))
        .await
        .unwrap_or(false);
    if ok {
        let (token, session) = open_session(store, "password", user_agent).await?;
        return Ok(Login::In { token, session });
    }
    let now = clock::now();
    store.web_login_failed(now).await?;
    store.web_audit_add(None, "login.failed", "", now).await?;
    if let Some(until) = locked(store).await? {
        let local = until.with_timezone(&services.tz()).format("%H:%M");
        tracing::warn!(%until, "dashboard login locked after repeated failures");
        let text = format!(
            "Someone typed a wrong dashboard password {} times in 15 minutes: \
             sign-in is locked until {local}. If that was not you, change it with \
             `openzero dashboard set-password`.",
            login::MAX_FAILURES
        );
        // Once per lock, whatever the number of processes.
        if let Err(e) = services
            .notify_once(&format!("dashboard-lock:{until}"), &text)
            .await
        {
            tracing::warn!(error = %e, "lockout alert not sent");
        }
        return Ok(Login::Locked(until));
    }
    Ok(Login::Wrong)
}

async fn open_session(
    store: &dyn DashboardStore,
    via: &str,
    user_agent: &str,
) -> Result<(String, WebSession), AppError> {
    let (t, csrf) = (new_token()?, new_token()?);
    let now = clock::now();
    // Sign-ins are rare: a good moment to drop what can no longer sign in.
    if let Err(e) = store.web_prune(now - chrono::Duration::days(1)).await {
        tracing::warn!(error = %e, "old sessions not pruned");
    }
    let ua: String = user_agent.chars().take(200).collect();
    let session = store
        .web_session_add(&NewWebSession {
            token_hash: &token_hash(&t),
            csrf: &csrf,
            via,
            user_agent: &ua,
            now,
            expires_at: now + session_life(),
        })
        .await?;
    store
        .web_audit_add(Some(session.id), "login", via, now)
        .await?;
    Ok((t, session))
}

/// Where the owner opens the dashboard, without a trailing slash.
pub fn public_url(loaded: &Loaded) -> String {
    match &loaded.settings.server.public_url {
        Some(u) if !u.trim().is_empty() => u.trim().trim_end_matches('/').to_owned(),
        _ => {
            let bind = loaded.settings.server.bind.0;
            if bind.ip().is_unspecified() {
                format!("http://127.0.0.1:{}", bind.port())
            } else {
                format!("http://{bind}")
            }
        }
    }
}

/// A one-time login link (Telegram `/login`): works once, for 10 minutes.
pub async fn login_link(services: &Services) -> Result<String, AppError> {
    let t = new_token()?;
    let now = clock::now();
    services
        .store
        .web_link_add(&token_hash(&t), now, now + link_life())
        .await?;
    Ok(format!("{}/login/link/{t}", public_url(&services.loaded)))
}

/// Signs in with a link's token; `None` when it is unknown, used or expired.
pub async fn login_with_link(
    store: &dyn DashboardStore,
    token: &str,
    user_agent: &str,
) -> Result<Option<(String, WebSession)>, AppError> {
    if !store
        .web_link_take(&token_hash(token), clock::now())
        .await?
    {
        return Ok(None);
    }
    Ok(Some(
        open_session(store, "telegram link", user_agent).await?,
    ))
}

/// The session a cookie's token belongs to, if still signed in.
pub async fn session(
    store: &dyn DashboardStore,
    token: &str,
) -> Result<Option<ActiveSession>, AppError> {
    Ok(store
        .web_session_get(&token_hash(token), clock::now())
        .await?)
}

/// The chat reply to `/login`.
pub async fn chat_login(services: &Services) -> Result<String, AppError> {
    let link = login_link(services).await?;
    Ok(format!(
        "Open this to sign in to your dashboard (works once, for 10 minutes):\n{link}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterY", &h));
        assert!(!verify("anything", "not a phc string"));
        assert!(hash_password("short").is_err());
    }

    #[test]
    fn the_session_token_is_not_in_debug_output() {
        let now = chrono::Utc::now();
        let login = Login::In {
            token: "f00dfeed".repeat(8),
            session: WebSession {
                id: 1,
                via: "password".into(),
                user_agent: String::new(),
                created_at: now,
                last_seen_at: now,
                expires_at: now,
            },
        };
        let shown = format!("{login:?}");
        assert!(
            !shown.contains("f00dfeed") && shown.contains("********"),
            "{shown}"
        );
    }

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_ne!(token_hash(&a), a);
        assert_eq!(token_hash(&a), token_hash(&a));
    }
}
