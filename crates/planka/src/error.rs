//! What can go wrong talking to Planka, and how an answer becomes one.
//!
//! **Invariant:** no variant ever carries the password or the access token:
//! a server message is scrubbed of both before it is kept (Sails' validation
//! messages quote the values they reject).

use std::fmt::Write as _;

/// Characters of a server's message kept in an error.
const MAX_MESSAGE: usize = 300;

/// What went wrong talking to Planka.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlankaError {
    /// HTTP 401: a wrong email/username or password at login, or an access
    /// token Planka no longer accepts (expired, revoked, password changed).
    #[error(
        "Planka refused the credentials (wrong email/username or password, or an expired token)"
    )]
    Unauthorized,
    /// HTTP 404: what was asked for does not exist (or is not visible to
    /// this user — Planka answers 404 for both).
    #[error("not found in Planka: {0}")]
    NotFound(String),
    /// No usable answer: connection refused, DNS, TLS, timeout, a connection
    /// cut mid-answer, or 502/503/504 from a proxy in front of a stopped
    /// Planka. Planka is down; try again later.
    #[error("Planka is unreachable: {0}")]
    Unreachable(String),
    /// Any other non-2xx answer, with Planka's `code` (e.g.
    /// `E_MISSING_OR_INVALID_PARAMS`, `E_UNPROCESSABLE_ENTITY`, `E_CONFLICT`)
    /// and message when the body had them.
    #[error("Planka answered HTTP {status}{}: {message}", code_note(.code))]
    Http {
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// A 2xx answer that cannot be read as what the endpoint returns.
    #[error("Planka's answer could not be read: {0}")]
    Malformed(String),
    /// A base address that is not http(s) with a host.
    #[error("not a usable Planka address: {0}")]
    BadUrl(String),
}

fn code_note(code: &Option<String>) -> String {
    match code {
        Some(c) => format!(" {c}"),
        None => String::new(),
    }
}

impl PlankaError {
    /// Planka is down or cannot be reached (worth retrying later).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, PlankaError::Unreachable(_))
    }
}

/// Planka's error body: `{"code": "E_…", "message": "…"}` (validation
/// errors add `problems`).
#[derive(serde::Deserialize, Default)]
struct ErrorBody {
    code: Option<String>,
    message: Option<String>,
}

/// Turns a non-2xx answer into an error. `what` names the request
/// (`PATCH /api/cards/1`); `secrets` are scrubbed from any message kept.
pub(crate) fn classify(status: u16, body: &[u8], what: &str, secrets: &[&str]) -> PlankaError {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let message = parsed
        .message
        .map(|m| scrub(&m, secrets))
        .unwrap_or_default();
    match status {
        401 => PlankaError::Unauthorized,
        404 => PlankaError::NotFound(if message.is_empty() {
            what.to_owned()
        } else {
            format!("{what}: {message}")
        }),
        502..=504 => PlankaError::Unreachable(format!(
            "{what} answered HTTP {status} (Planka is down or restarting behind its proxy)"
        )),
        _ => PlankaError::Http {
            status,
            code: parsed.code.map(|c| scrub(&c, secrets)),
            message: if message.is_empty() {
                format!("{what} failed")
            } else {
                message
            },
        },
    }
}

/// `text` with every non-empty secret replaced, cut to [`MAX_MESSAGE`]
/// characters.
pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        if !s.is_empty() {
            out = out.replace(s, "[hidden]");
        }
    }
    if out.chars().count() > MAX_MESSAGE {
        out = out.chars().take(MAX_MESSAGE).collect::<String>() + "…";
    }
    out
}

/// The error source chain in one line (reqwest's own message is terse).
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        let _ = write!(s, ": {inner}");
        cur = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        let body = br#"{"code":"E_NOT_FOUND","message":"Card not found"}"#;
        assert_eq!(
            classify(404, body, "GET /api/cards/1", &[]),
            PlankaError::NotFound("GET /api/cards/1: Card not found".into())
        );
        assert_eq!(
            classify(401, b"{}", "GET /api/projects", &[]),
            PlankaError::Unauthorized
        );
        assert!(classify(503, b"<html>", "GET /api/projects", &[]).is_unreachable());
        let e = classify(
            422,
            br#"{"code":"E_UNPROCESSABLE_ENTITY","message":"Position must be present"}"#,
            "PATCH /api/cards/1",
            &[],
        );
        assert_eq!(
            e.to_string(),
            "Planka answered HTTP 422 E_UNPROCESSABLE_ENTITY: Position must be present"
        );
        let e = classify(500, b"not json", "POST /api/projects", &[]);
        assert_eq!(
            e,
            PlankaError::Http {
                status: 500,
                code: None,
                message: "POST /api/projects failed".into()
            }
        );
    }

    #[test]
    fn secrets_are_scrubbed_and_messages_cut() {
        let body = br#"{"code":"E_MISSING_OR_INVALID_PARAMS","message":"Invalid \"password\": Value ('hunter2') was too long"}"#;
        let e = classify(400, body, "POST /api/access-tokens", &["hunter2"]);
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(!format!("{e:?}").contains("hunter2"));
        let long = "x".repeat(1000);
        assert!(scrub(&long, &[]).chars().count() <= MAX_MESSAGE + 1);
    }
}
