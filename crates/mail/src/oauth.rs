//! The OAuth 2.0 token endpoint (RFC 6749 §6): an access token from a
//! refresh token, for Gmail's API and for IMAP's XOAUTH2.
//!
//! **Invariant:** tokens and client secrets never appear in errors or logs.

use std::time::Duration;

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
