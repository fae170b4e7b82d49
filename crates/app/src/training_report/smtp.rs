//! Sending the report over SMTP (lettre): STARTTLS required, TLS, or none
//! only to this machine; errors that say which mistake it was.

use super::*;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain connection upgraded with STARTTLS, which is required: a server
    /// that does not offer it gets nothing.
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only to a server on this machine.
    None,
}

impl Security {
    fn parse(s: &str) -> Result<Self, SendError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "starttls" => Ok(Self::StartTls),
            "tls" | "ssl" => Ok(Self::Tls),
            "none" | "plain" => Ok(Self::None),
            other => Err(SendError::Settings(format!(
                "SMTP_SECURITY must be starttls, tls or none, not \"{other}\""
            ))),
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Self::StartTls => 587,
            Self::Tls => 465,
            Self::None => 25,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::StartTls => "STARTTLS",
            Self::Tls => "TLS",
            Self::None => "no encryption",
        }
    }
}

/// Why a report was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// A setting is missing or unusable.
    #[error("{0}")]
    Settings(String),
    #[error("the server refused the login: {0}")]
    Login(String),
    #[error("cannot connect to {target}: {detail}")]
    Connect { target: String, detail: String },
    #[error("TLS with {target} failed: {detail}")]
    Tls { target: String, detail: String },
    #[error(
        "{target} does not offer STARTTLS, and the report is not sent in clear (SMTP_SECURITY=tls if it speaks TLS from the first byte, usually on port 465)"
    )]
    NoStartTls { target: String },
    #[error("{target} refused the report: {detail}")]
    Rejected { target: String, detail: String },
    #[error("sending through {target} failed: {detail}")]
    Other { target: String, detail: String },
}

/// Where a report went.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    pub to: Vec<String>,
    /// `host:port`.
    pub server: String,
    pub security: &'static str,
}

impl std::fmt::Display for Sent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} via {} ({})",
            self.to.join(", "),
            self.server,
            self.security
        )
    }
}

pub(super) fn set(v: Option<&String>) -> Option<&str> {
    v.map(|s| s.trim()).filter(|s| !s.is_empty())
}

/// Why reports cannot be sent with these settings, if they cannot.
pub fn not_configured(smtp: &SmtpSettings) -> Option<&'static str> {
    if set(smtp.host.as_ref()).is_none() {
        Some("SMTP_HOST is not set")
    } else if set(smtp.report_to.as_ref()).is_none() {
        Some("REPORT_EMAIL_TO is not set")
    } else {
        None
    }
}

/// A host name or address on this machine.
pub(super) fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

pub(super) fn mailbox(key: &str, value: &str) -> Result<Mailbox, SendError> {
    value
        .trim()
        .parse()
        .map_err(|e| SendError::Settings(format!("{key} \"{value}\" is not an address: {e}")))
}

/// TLS settings: the webpki roots, and those in `smtp.ca_file`.
pub(super) async fn tls(host: &str, smtp: &SmtpSettings) -> Result<TlsParameters, SendError> {
    let mut b =
        TlsParameters::builder(host.to_owned()).certificate_store(CertificateStore::Default);
    if let Some(file) = &smtp.ca_file {
        let bad = |d: String| SendError::Settings(format!("smtp.ca_file {}: {d}", file.display()));
        let pem = tokio::fs::read(file)
            .await
            .map_err(|e| bad(e.to_string()))?;
        if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
            return Err(bad("no certificate in it (PEM expected)".into()));
        }
        b = b.add_root_certificate(Certificate::from_pem(&pem).map_err(|e| bad(e.to_string()))?);
    }
    b.build_rustls()
        .map_err(|e| SendError::Settings(format!("TLS settings: {e}")))
}

/// Sends `report` as configured in `smtp` (`SMTP_*`, `REPORT_EMAIL_TO`).
pub async fn send(smtp: &SmtpSettings, report: &Report) -> Result<Sent, SendError> {
    let host = set(smtp.host.as_ref())
        .ok_or_else(|| SendError::Settings("SMTP_HOST is not set".into()))?;
    let to_list = set(smtp.report_to.as_ref())
        .ok_or_else(|| SendError::Settings("REPORT_EMAIL_TO is not set".into()))?;
    let security = Security::parse(&smtp.security)?;
    let port = smtp.port.unwrap_or_else(|| security.default_port());
    let target = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    if security == Security::None && !is_loopback(host) {
        return Err(SendError::Settings(format!(
            "SMTP_SECURITY=none is refused for {host}: without TLS the login and the report would cross the network in clear; it is allowed only to a server on this machine (localhost, 127.0.0.1, ::1). Use starttls (port 587) or tls (port 465)"
        )));
    }
    let user = set(smtp.user.as_ref());
    let password = smtp
        .password
        .as_ref()
        .map(|p| p.expose())
        .filter(|p| !p.is_empty());
    let from = match (set(smtp.from.as_ref()), user) {
        (Some(from), _) => mailbox("SMTP_FROM", from)?,
        (None, Some(user)) => user.parse::<Mailbox>().map_err(|_| {
            SendError::Settings(format!(
                "SMTP_FROM is not set and SMTP_USER \"{user}\" is not an address to send from: set SMTP_FROM"
            ))
        })?,
        (None, None) => {
            return Err(SendError::Settings(
                "SMTP_FROM (or SMTP_USER) is not set".into(),
            ));
        }
    };
    let mut builder = Message::builder()
        .from(from)
        .subject(report.subject.clone())
        .message_id(None);
    let mut to = Vec::new();
    for address in to_list.split(',').filter(|a| !a.trim().is_empty()) {
        let m = mailbox("REPORT_EMAIL_TO", address)?;
        to.push(m.to_string());
        builder = builder.to(m);
    }
    let message = builder
        .multipart(MultiPart::alternative_plain_html(
            report.text.clone(),
            report.html.clone(),
        ))
        .map_err(|e| SendError::Settings(format!("cannot write the message: {e}")))?;

    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .timeout(Some(SMTP_TIMEOUT))
        .tls(match security {
            Security::StartTls => Tls::Required(tls(host, smtp).await?),
            Security::Tls => Tls::Wrapper(tls(host, smtp).await?),
            Security::None => Tls::None,
        });
    match (user, password) {
        (Some(u), Some(p)) => {
            transport = transport.credentials(Credentials::new(u.to_owned(), p.to_owned()));
        }
        (Some(_), None) => {
            tracing::warn!("SMTP_USER is set without SMTP_PASSWORD: sending without a login");
        }
        _ => {}
    }
    let transport = transport.build();
    transport
        .send(message)
        .await
        .map_err(|e| explain(&e, &target, security, user.is_some() && password.is_some()))?;
    tracing::info!(server = %target, to = %to.join(", "), "training report sent");
    Ok(Sent {
        to,
        server: target,
        security: security.name(),
    })
}

/// Every message in an error's chain.
pub(super) fn chain(e: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut out = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        out.push(s.to_string());
        source = s.source();
    }
    out
}

/// A lettre error as the owner can act on it.
pub(super) fn explain(
    e: &lettre::transport::smtp::Error,
    target: &str,
    security: Security,
    login: bool,
) -> SendError {
    use std::error::Error as _;
    let server_said = e
        .source()
        .map(ToString::to_string)
        .unwrap_or_default()
        .trim()
        .to_owned();
    if let Some(code) = e.status() {
        let code = code.to_string();
        let detail = format!("{code} {server_said}");
        return match code.as_str() {
            "534" | "535" | "538" if login => SendError::Login(detail),
            "530" if !login => SendError::Rejected {
                target: target.to_owned(),
                detail: format!("{detail} (it wants a login: set SMTP_USER and SMTP_PASSWORD)"),
            },
            _ => SendError::Rejected {
                target: target.to_owned(),
                detail,
            },
        };
    }
    let messages = chain(e);
    let all = messages.join(": ");
    let io = {
        let mut found = None;
        let mut source = e.source();
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                found = Some(io.kind());
                break;
            }
            source = s.source();
        }
        found
    };
    let lower = all.to_lowercase();
    if lower.contains("starttls is not supported") {
        return SendError::NoStartTls {
            target: target.to_owned(),
        };
    }
    if lower.contains("no compatible authentication mechanism") {
        return SendError::Login(
            "it offers no login method OpenZero can use (PLAIN or LOGIN)".into(),
        );
    }
    match io {
        Some(std::io::ErrorKind::ConnectionRefused) => {
            return SendError::Connect {
                target: target.to_owned(),
                detail: "connection refused (is the server running there, and is SMTP_PORT right?)"
                    .into(),
            };
        }
        Some(std::io::ErrorKind::TimedOut) => {
            return SendError::Connect {
                target: target.to_owned(),
                detail: format!("no answer within {} s", SMTP_TIMEOUT.as_secs()),
            };
        }
        _ => {}
    }
    let innermost = messages.last().cloned().unwrap_or_default();
    if security == Security::Tls && lower.contains("corrupt message") {
        return SendError::Tls {
            target: target.to_owned(),
            detail: format!(
                "it did not answer in TLS ({innermost}); on a STARTTLS port (587) set SMTP_SECURITY=starttls"
            ),
        };
    }
    if e.is_tls()
        || (security != Security::None
            && ["certificate", "tls", "handshake", "corrupt message"]
                .iter()
                .any(|w| lower.contains(w)))
    {
        return SendError::Tls {
            target: target.to_owned(),
            detail: format!(
                "{innermost}; check SMTP_SECURITY (starttls on 587, tls on 465), and smtp.ca_file for a server with its own certificate"
            ),
        };
    }
    SendError::Other {
        target: target.to_owned(),
        // lettre's own text already carries its sources.
        detail: e.to_string(),
    }
}
