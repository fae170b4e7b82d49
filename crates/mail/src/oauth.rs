//! The OAuth 2.0 token endpoint (RFC 6749 §6): an access token from a
//! refresh token, for Gmail's API and for IMAP's XOAUTH2.
//!
//! **Invariant:** tokens and client secrets never appear in errors or logs.

use std::time::Duration;

use base64::Engine;
use serde::Deserialize;

/// Why no access token was had.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The grant was revoked or expired (`invalid_grant`): the owner must
    /// connect again.
    #[error("the authorization was revoked or expired ({0})")]
    Revoked(String),
    #[error("the token endpoint refused: {0}")]
    Refused(String),
    #[error("cannot reach the token endpoint ({0})")]
    Network(String),
    #[error("the token endpoint answered something unexpected: {0}")]
    Protocol(String),
}

/// A token endpoint's success answer.
#[derive(Debug, Deserialize)]
pub struct TokenAnswer {
    pub access_token: String,
    pub expires_in: Option<i64>,
    pub refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct TokenError {
    error: String,
    error_description: Option<String>,
}

/// POSTs `form` to `token_url` and reads the answer.
pub async fn token_request(
    token_url: &str,
    form: &[(&str, &str)],
    timeout: Duration,
) -> Result<TokenAnswer, OAuthError> {
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| OAuthError::Network(e.to_string()))?;
    let resp = http
        .post(token_url)
        .form(form)
        .send()
        .await
        .map_err(|e| OAuthError::Network(e.without_url().to_string()))?;
    let status = resp.status();
    let body = resp
        .text()
        .await
        .map_err(|e| OAuthError::Network(e.to_string()))?;
    if status.is_success() {
        return serde_json::from_str(&body).map_err(|e| OAuthError::Protocol(e.to_string()));
    }
    match serde_json::from_str::<TokenError>(&body).ok() {
        Some(e) if e.error == "invalid_grant" => {
            Err(OAuthError::Revoked(e.error_description.unwrap_or(e.error)))
        }
        Some(e) => Err(OAuthError::Refused(format!(
            "{}: {}",
            e.error,
            e.error_description.unwrap_or_default()
        ))),
        None if status.is_server_error() => Err(OAuthError::Network(format!("HTTP {status}"))),
        None => Err(OAuthError::Refused(format!("HTTP {status}"))),
    }
}

/// A fresh access token (and its lifetime in seconds) from a refresh token.
pub async fn refresh(
    token_url: &str,
    client_id: &str,
    client_secret: &str,
    refresh_token: &str,
    timeout: Duration,
) -> Result<(String, i64), OAuthError> {
    let t = token_request(
        token_url,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
            ("client_secret", client_secret),
        ],
        timeout,
    )
    .await?;
    Ok((t.access_token, t.expires_in.unwrap_or(3600)))
}

/// One authorization in progress: the address to open, the PKCE verifier
/// and the `state` the redirect must carry back.
#[derive(Debug, Clone)]
pub struct Authorization {
    pub url: String,
    pub state: String,
    pub verifier: String,
    pub redirect_uri: String,
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    if getrandom::fill(&mut buf).is_err() {
        // No system randomness: fall back to the clock (still unguessable
        // enough for a loopback state, never for a key).
        let t = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
        buf = <sha2::Sha256 as sha2::Digest>::digest(t.to_le_bytes()).to_vec();
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// The address the owner opens to grant `scope` (authorization-code flow
/// for an installed app with PKCE, RFC 7636; offline access asked for so
/// a refresh token comes back).
pub fn authorization(
    auth_url: &str,
    client_id: &str,
    scope: &str,
    redirect_uri: &str,
) -> Result<Authorization, OAuthError> {
    let verifier = random_token(48);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
    let state = random_token(16);
    let mut url = url::Url::parse(auth_url)
        .map_err(|e| OAuthError::Refused(format!("the authorization URL {auth_url:?}: {e}")))?;
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("scope", scope)
        .append_pair("access_type", "offline")
        .append_pair("prompt", "consent")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", &state);
    Ok(Authorization {
        url: url.into(),
        state,
        verifier,
        redirect_uri: redirect_uri.to_owned(),
    })
}

/// Exchanges the code the provider handed back for a refresh token.
pub async fn exchange_code(
    token_url: &str,
    client_id: &str,
    client_secret: &str,
    auth: &Authorization,
    code: &str,
    timeout: Duration,
) -> Result<String, OAuthError> {
    let t = token_request(
        token_url,
        &[
            ("grant_type", "authorization_code"),
            ("code", code.trim()),
            ("redirect_uri", &auth.redirect_uri),
            ("client_id", client_id),
            ("client_secret", client_secret),
            ("code_verifier", &auth.verifier),
        ],
        timeout,
    )
    .await?;
    t.refresh_token.ok_or_else(|| {
        OAuthError::Protocol(
            "no refresh token came back (revoke OpenZero's earlier grant at the provider and connect again)".into(),
        )
    })
}
