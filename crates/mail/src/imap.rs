//! A read-only IMAP mailbox over TLS (implicit or STARTTLS, rustls).
//!
//! **Invariant:** read-only by construction. [`Mailbox`] wraps the IMAP
//! session and offers only what reading needs: `EXAMINE` (never `SELECT`),
//! `UID SEARCH`, `UID FETCH … BODY.PEEK[]` (never a fetch that sets
//! `\Seen`), `IDLE` and `LOGOUT`. No code here issues a command that
//! changes a mailbox; a test greps this crate and Dovecot's protocol log.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// How the connection is protected (there is no unencrypted mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Tls,
    Starttls,
}

/// How to log in.
#[derive(Clone)]
pub enum ImapAuth {
    /// LOGIN with a password (an app password where the provider has them).
    Password(String),
    /// AUTHENTICATE XOAUTH2 with an access token got from `refresh_token`
    /// at `token_url` just before logging in.
    OAuth2 {
        token_url: String,
        client_id: String,
        client_secret: String,
        refresh_token: String,
    },
}

impl std::fmt::Debug for ImapAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImapAuth::Password(_) => f.write_str("Password([hidden])"),
            ImapAuth::OAuth2 {
                token_url,
                client_id,
                ..
            } => f
                .debug_struct("OAuth2")
                .field("token_url", token_url)
                .field("client_id", client_id)
                .finish_non_exhaustive(),
        }
    }
}

/// Where and how to log in.
#[derive(Clone)]
pub struct ImapConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub user: String,
    pub auth: ImapAuth,
    /// Extra certificate authorities (PEM) besides the web's roots.
    pub ca_file: Option<PathBuf>,
    /// The longest any one exchange may take.
    pub timeout: Duration,
}

impl std::fmt::Debug for ImapConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.user)
            .field("auth", &self.auth)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// Why the mailbox could not be read, phrased for the owner.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error(
        "cannot reach the IMAP server {target}: {detail}; check mail.imap_host and mail.imap_port"
    )]
    Connect { target: String, detail: String },
    #[error(
        "TLS with {target} failed: {detail}; check mail.imap_security (tls on 993, starttls on 143) or mail.imap_ca_file"
    )]
    Tls { target: String, detail: String },
    #[error(
        "the IMAP server {target} refused the login for {user}: {detail}; check EMAIL_IMAP_USER and EMAIL_IMAP_PASSWORD (an app password where the provider needs one)"
    )]
    Auth {
        target: String,
        user: String,
        detail: String,
    },
    #[error("the IMAP server has no folder {folder:?} ({detail}); check mail.imap_folders")]
    NoFolder { folder: String, detail: String },
    #[error("the IMAP server {target} did not answer within {secs} s")]
    Timeout { target: String, secs: u64 },
    #[error("IMAP error with {target}: {detail}")]
    Protocol { target: String, detail: String },
}

type Session = async_imap::Session<TlsStream<TcpStream>>;

/// A folder as `EXAMINE` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderState {
    pub uidvalidity: u32,
    /// The UID the next message will get (0: the server did not say).
    pub uidnext: u32,
    pub exists: u32,
}

/// A logged-in, read-only view of one account.
#[derive(Debug)]
pub struct Mailbox {
    session: Session,
    target: String,
    timeout: Duration,
    idle: bool,
}

/// What waiting with IDLE ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woken {
    /// The server told of a change (new mail, most likely).
    Changed,
    /// Nothing happened within the wait.
    Timeout,
}

impl Mailbox {
    /// Connects, secures the connection and logs in.
    pub async fn connect(cfg: &ImapConfig) -> Result<Self, ImapError> {
        let target = format!("{}:{}", cfg.host, cfg.port);
        let t = cfg.timeout;
        let timed = |what: &'static str| {
            let target = target.clone();
            move |_| {
                tracing::debug!(what, "imap timeout");
                ImapError::Timeout {
                    target,
                    secs: t.as_secs(),
                }
            }
        };
        let tcp = tokio::time::timeout(t, TcpStream::connect((cfg.host.as_str(), cfg.port)))
            .await
            .map_err(timed("connect"))?
            .map_err(|e| ImapError::Connect {
                target: target.clone(),
                detail: e.to_string(),
            })?;
        let tcp = match cfg.security {
            Security::Tls => tcp,
            Security::Starttls => {
                let mut plain = async_imap::Client::new(tcp);
                let greeting = tokio::time::timeout(t, plain.read_response())
                    .await
                    .map_err(timed("greeting"))?;
                if !matches!(greeting, Ok(Some(_))) {
                    return Err(ImapError::Connect {
                        target,
                        detail: "no IMAP greeting".into(),
                    });
                }
                tokio::time::timeout(t, plain.run_command_and_check_ok("STARTTLS", None))
                    .await
                    .map_err(timed("starttls"))?
                    .map_err(|e| ImapError::Tls {
                        target: target.clone(),
                        detail: format!("STARTTLS refused: {e}"),
                    })?;
                plain.into_inner()
            }
        };
        let connector = TlsConnector::from(Arc::new(tls_config(cfg, &target)?));
        let name = ServerName::try_from(cfg.host.clone()).map_err(|e| ImapError::Tls {
            target: target.clone(),
            detail: e.to_string(),
        })?;
        let tls = tokio::time::timeout(t, connector.connect(name, tcp))
            .await
            .map_err(timed("tls"))?
            .map_err(|e| ImapError::Tls {
                target: target.clone(),
                detail: e.to_string(),
            })?;
        let mut client = async_imap::Client::new(tls);
        if cfg.security == Security::Tls {
            let greeting = tokio::time::timeout(t, client.read_response())
                .await
                .map_err(timed("greeting"))?;
            if !matches!(greeting, Ok(Some(_))) {
                return Err(ImapError::Connect {
                    target,
                    detail: "no IMAP greeting".into(),
                });
            }
        }
        let refused = |detail: String| ImapError::Auth {
            target: target.clone(),
            user: cfg.user.clone(),
            detail,
        };
        let mut session = match &cfg.auth {
            ImapAuth::Password(password) => {
                tokio::time::timeout(t, client.login(&cfg.user, password))
                    .await
                    .map_err(timed("login"))?
                    .map_err(|(e, _)| refused(e.to_string()))?
            }
            ImapAuth::OAuth2 {
                token_url,
                client_id,
                client_secret,
                refresh_token,
            } => {
                let (token, _) =
                    crate::oauth::refresh(token_url, client_id, client_secret, refresh_token, t)
                        .await
                        .map_err(|e| refused(format!("no OAuth2 access token: {e}")))?;
                let xoauth2 = XOAuth2 {
                    response: format!("user={}\x01auth=Bearer {token}\x01\x01", cfg.user),
                };
                tokio::time::timeout(t, client.authenticate("XOAUTH2", xoauth2))
                    .await
                    .map_err(timed("authenticate"))?
                    .map_err(|(e, _)| refused(e.to_string()))?
            }
        };
        let caps = tokio::time::timeout(t, session.capabilities())
            .await
            .map_err(timed("capability"))?
            .map_err(|e| protocol(&target, e))?;
        let idle = caps.has_str("IDLE");
        tracing::debug!(%target, idle, "imap logged in");
        Ok(Self {
            session,
            target,
            timeout: t,
            idle,
        })
    }

    /// Whether the server offers IDLE.
    pub fn offers_idle(&self) -> bool {
        self.idle
    }

    fn timed(&self) -> impl FnOnce(tokio::time::error::Elapsed) -> ImapError + use<> {
        let target = self.target.clone();
        let secs = self.timeout.as_secs();
        move |_| ImapError::Timeout { target, secs }
    }

    /// Opens `folder` read-only (`EXAMINE`).
    pub async fn examine(&mut self, folder: &str) -> Result<FolderState, ImapError> {
        let timed = self.timed();
        let mb = tokio::time::timeout(self.timeout, self.session.examine(folder))
            .await
            .map_err(timed)?
            .map_err(|e| match e {
                async_imap::error::Error::No(detail) => ImapError::NoFolder {
                    folder: folder.to_owned(),
                    detail,
                },
                e => protocol(&self.target, e),
            })?;
        Ok(FolderState {
            uidvalidity: mb.uid_validity.unwrap_or(0),
            uidnext: mb.uid_next.unwrap_or(0),
            exists: mb.exists,
        })
    }

    /// UIDs above `after` in the examined folder, ascending.
    pub async fn uids_after(&mut self, after: u32) -> Result<Vec<u32>, ImapError> {
        let timed = self.timed();
        let query = format!("UID {}:*", after.saturating_add(1));
        let found = tokio::time::timeout(self.timeout, self.session.uid_search(query))
            .await
            .map_err(timed)?
            .map_err(|e| protocol(&self.target, e))?;
        // "n:*" always names the last message, even below n.
        let mut uids: Vec<u32> = found.into_iter().filter(|u| *u > after).collect();
        uids.sort_unstable();
        Ok(uids)
    }

    /// The raw bytes of the messages with `uids`, without setting `\Seen`
    /// (`BODY.PEEK[]`). Ordered by UID; a message deleted meanwhile is
    /// simply absent.
    pub async fn fetch(&mut self, uids: &[u32]) -> Result<Vec<(u32, Vec<u8>)>, ImapError> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let set = uids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let target = self.target.clone();
        let timed = self.timed();
        let fetched = tokio::time::timeout(self.timeout * 4, async {
            let stream = self
                .session
                .uid_fetch(set, "(UID BODY.PEEK[])")
                .await
                .map_err(|e| protocol(&target, e))?;
            stream
                .try_collect::<Vec<_>>()
                .await
                .map_err(|e| protocol(&target, e))
        })
        .await
        .map_err(timed)??;
        let mut out: Vec<(u32, Vec<u8>)> = fetched
            .iter()
            .filter_map(|f| Some((f.uid?, f.body()?.to_vec())))
            .collect();
        out.sort_by_key(|(u, _)| *u);
        Ok(out)
    }

    /// Waits in IDLE for a change in the examined folder, at most `wait`
    /// (servers end IDLE after 30 minutes; 29 is the most worth asking).
    pub async fn idle(self, wait: Duration) -> Result<(Self, Woken), ImapError> {
        let Self {
            session,
            target,
            timeout,
            idle,
        } = self;
        let mut handle = session.idle();
        tokio::time::timeout(timeout, handle.init())
            .await
            .map_err(|_| ImapError::Timeout {
                target: target.clone(),
                secs: timeout.as_secs(),
            })?
            .map_err(|e| protocol(&target, e))?;
        let (fut, _stop) = handle.wait_with_timeout(wait);
        let woken = match fut.await.map_err(|e| protocol(&target, e))? {
            async_imap::extensions::idle::IdleResponse::NewData(_) => Woken::Changed,
            async_imap::extensions::idle::IdleResponse::Timeout => Woken::Timeout,
            async_imap::extensions::idle::IdleResponse::ManualInterrupt => Woken::Timeout,
        };
        let session = tokio::time::timeout(timeout, handle.done())
            .await
            .map_err(|_| ImapError::Timeout {
                target: target.clone(),
                secs: timeout.as_secs(),
            })?
            .map_err(|e| protocol(&target, e))?;
        Ok((
            Self {
                session,
                target,
                timeout,
                idle,
            },
            woken,
        ))
    }

    /// Logs out (best effort: the connection closes either way).
    pub async fn logout(mut self) {
        let _ = tokio::time::timeout(self.timeout, self.session.logout()).await;
    }
}

/// SASL XOAUTH2's one message (the token is never logged).
struct XOAuth2 {
    response: String,
}

impl async_imap::Authenticator for XOAuth2 {
    type Response = String;

    fn process(&mut self, _challenge: &[u8]) -> String {
        // A second challenge carries the server's error; answering it with
        // an empty line lets the server end the exchange with NO.
        std::mem::take(&mut self.response)
    }
}

fn protocol(target: &str, e: async_imap::error::Error) -> ImapError {
    ImapError::Protocol {
        target: target.to_owned(),
        detail: e.to_string(),
    }
}

fn tls_config(cfg: &ImapConfig, target: &str) -> Result<ClientConfig, ImapError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(file) = &cfg.ca_file {
        let bad = |detail: String| ImapError::Tls {
            target: target.to_owned(),
            detail: format!("mail.imap_ca_file {}: {detail}", file.display()),
        };
        let certs = CertificateDer::pem_file_iter(file)
            .map_err(|e| bad(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("no certificate in it".into()));
        }
        for c in certs {
            roots.add(c).map_err(|e| bad(e.to_string()))?;
        }
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ImapError::Tls {
            target: target.to_owned(),
            detail: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
