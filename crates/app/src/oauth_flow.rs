//! Granting OpenZero access at an OAuth 2.0 provider from a terminal:
//! the owner opens an address, allows access, and the provider's redirect
//! is caught by a listener on 127.0.0.1 — or, on a server without a
//! browser, the owner pastes the address the browser ended on. For Gmail's
//! API and for IMAP's XOAUTH2.
//!
//! **Invariants:** the listener binds loopback only and takes one
//! redirect; a redirect or pasted address carrying another `state` is
//! refused; refresh tokens are written owner-only (0600), atomically.

use std::path::Path;
use std::time::Duration;

use openzero_config::Loaded;
use openzero_mail::oauth::{authorization, exchange_code};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::AppError;

/// A provider's endpoints and what is asked of it.
#[derive(Clone)]
pub struct Endpoints {
    pub auth_url: String,
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub scope: String,
    /// What the owner grants, in words ("read-only access to Gmail").
    pub what: &'static str,
}

impl std::fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoints")
            .field("auth_url", &self.auth_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Runs the grant and returns the refresh token.
pub async fn grant(
    ep: &Endpoints,
    say: &(dyn Fn(&str) + Sync),
    pasted: impl std::future::Future<Output = Option<String>>,
) -> Result<String, AppError> {
    let mut auth = None;
    let code = catch_code(
        |redirect| {
            let a = authorization(&ep.auth_url, &ep.client_id, &ep.scope, redirect)
                .map_err(|e| AppError::Invalid(e.to_string()))?;
            let (url, state) = (a.url.clone(), a.state.clone());
            auth = Some(a);
            Ok((url, state))
        },
        ep.what,
        say,
        pasted,
    )
    .await?;
    let auth = auth.ok_or_else(|| AppError::Invalid("no authorization was made".into()))?;
    exchange_code(
        &ep.token_url,
        &ep.client_id,
        &ep.client_secret,
        &auth,
        &code,
        Duration::from_secs(30),
    )
    .await
    .map_err(|e| AppError::Invalid(e.to_string()))
}

/// The owner's part of an authorization-code grant: `address(redirect_uri)`
/// gives the address to open and its `state`; returns the code the
/// provider sent back to the loopback listener or the owner pasted.
pub async fn catch_code(
    address: impl FnOnce(&str) -> Result<(String, String), AppError>,
    what: &str,
    say: &(dyn Fn(&str) + Sync),
    pasted: impl std::future::Future<Output = Option<String>>,
) -> Result<String, AppError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| AppError::Invalid(format!("cannot listen on 127.0.0.1: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| AppError::Invalid(e.to_string()))?
        .port();
    let (url, state) = address(&format!("http://127.0.0.1:{port}/"))?;
    say(&format!(
        "Open this address in a browser and allow {what}:\n\n  {url}\n\nWaiting for the provider to send you back here. On a server without a browser, paste the address your browser ends on (or its code=…) and press Enter:"
    ));
    tokio::select! {
        c = redirected(&listener, what, &state) => c,
        p = pasted => match p {
            Some(p) => code_of(&p, &state),
            None => Err(AppError::Invalid("no code given: nothing was connected".into())),
        },
    }
}

/// Writes `text` to `path` readable by the owner only (0600), atomically.
pub fn save_private(loaded: &Loaded, path: &Path, text: &str) -> Result<(), AppError> {
    crate::ensure_data_dir(&loaded.data_dir)?;
    crate::wiring::replace_private_file(path, &path.with_extension("tmp"), text)
        .map_err(|e| AppError::Invalid(format!("cannot write {}: {e}", path.display())))
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
            return Err(AppError::Invalid(format!("the provider said: {e}")));
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

/// Waits for the provider's redirect on the loopback listener and answers it.
async fn redirected(
    listener: &tokio::net::TcpListener,
    what: &str,
    state: &str,
) -> Result<String, AppError> {
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
            // Another attempt's redirect (or a forged one): not ours.
            (Some(_), _) if q.get("state").is_some_and(|s| s != state) => (
                "400 Bad Request",
                "This address belongs to another attempt; nothing was connected.".to_owned(),
                None,
            ),
            (Some(code), _) => (
                "200 OK",
                format!("OpenZero has {what} now. You can close this tab."),
                Some(Ok(code.clone())),
            ),
            (None, Some(e)) => (
                "200 OK",
                "Access was not granted. Nothing was connected; you can close this tab.".to_owned(),
                Some(Err(AppError::Invalid(format!("the provider said: {e}")))),
            ),
            // A favicon request or a stray visit: keep waiting.
            _ => ("404 Not Found", "Not here.".to_owned(), None),
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
