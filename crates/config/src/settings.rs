//! The typed settings. Every field has a default; values are validated once,
//! here, so the rest of the program never re-checks them.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The effective configuration.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Settings {
    pub general: General,
    pub server: Server,
    pub database: Database,
    pub telegram: Telegram,
    pub llm: Llm,
    pub memory: MemorySettings,
    pub schedule: ScheduleSettings,
    pub qdrant: Qdrant,
    pub planka: Planka,
    pub mail: MailSettings,
    pub google: Google,
    pub training: TrainingSettings,
    pub backup: BackupSettings,
    pub strava: StravaSettings,
    pub smtp: SmtpSettings,
}

/// Strava: the API application, the webhook's token, the harvest.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct StravaSettings {
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    /// Echoed by Strava when it checks the subscription; none: no route.
    pub webhook_verify_token: Option<Secret>,
    /// How far back the harvest goes (`YYYY-MM-DD`).
    pub harvest_since: Option<String>,
    /// A Telegram message after each new run from Strava.
    pub feedback: bool,
    pub api_base: String,
    pub auth_url: String,
    pub token_url: String,
}

impl Default for StravaSettings {
    fn default() -> Self {
        Self {
            client_id: None,
            client_secret: None,
            webhook_verify_token: None,
            harvest_since: None,
            feedback: true,
            api_base: "https://www.strava.com/api/v3".into(),
            auth_url: "https://www.strava.com/oauth/authorize".into(),
            token_url: "https://www.strava.com/oauth/token".into(),
        }
    }
}

/// The SMTP server reports are sent through.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct SmtpSettings {
    pub host: Option<String>,
    pub port: Option<u16>,
    /// `starttls`, `tls` or `none`.
    pub security: String,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub from: Option<String>,
    pub report_to: Option<String>,
    /// Extra trusted roots (PEM), for a relay with its own certificate.
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: None,
            port: None,
            security: "starttls".into(),
            user: None,
            password: None,
            from: None,
            report_to: None,
            ca_file: None,
        }
    }
}

/// Encrypted backups: where, with which key, how many kept.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct BackupSettings {
    /// Where backups are written (default `DATA_DIR/backups`).
    pub dir: Option<std::path::PathBuf>,
    /// A second directory each backup is copied to (a mounted disk or share).
    pub second_dir: Option<std::path::PathBuf>,
    /// The passphrase backups are encrypted with.
    pub passphrase: Option<Secret>,
    /// age X25519 recipients (`age1…`, separated by commas or spaces): the
    /// server writes backups only their secret keys open.
    pub recipients: Option<String>,
    /// An age identity file (secret keys) to verify and restore
    /// recipient-encrypted backups.
    pub identity_file: Option<std::path::PathBuf>,
    /// Daily copies kept.
    pub keep_daily: u32,
    /// Weekly copies kept: the newest of each of the last N weeks.
    pub keep_weekly: u32,
    /// Monthly copies kept: the newest of each of the last N months.
    pub keep_monthly: u32,
    /// A backup older than this many hours is overdue.
    pub max_age_hours: u32,
}

impl Default for BackupSettings {
    fn default() -> Self {
        Self {
            dir: None,
            second_dir: None,
            passphrase: None,
            recipients: None,
            identity_file: None,
            keep_daily: 30,
            keep_weekly: 0,
            keep_monthly: 0,
            max_age_hours: 36,
        }
    }
}

/// The owner's heart-rate frame, for training load.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct TrainingSettings {
    /// Resting heart rate, beats per minute.
    pub hr_rest: u32,
    /// Maximum heart rate, beats per minute.
    pub hr_max: u32,
}

impl Default for TrainingSettings {
    fn default() -> Self {
        Self {
            hr_rest: 60,
            hr_max: 190,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct General {
    /// The owner's time zone: every schedule and every "today" uses it.
    pub timezone: TimeZone,
    pub log_level: LogLevel,
    pub log_format: LogFormat,
}

impl Default for General {
    fn default() -> Self {
        Self {
            timezone: TimeZone(chrono_tz::Tz::UTC),
            log_level: LogLevel::Info,
            log_format: LogFormat::Text,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Server {
    pub bind: Bind,
    /// Where the owner opens the dashboard (for `/login` links and the
    /// `Secure` cookie); unset: `http://` + `bind`.
    pub public_url: Option<String>,
}

impl Default for Server {
    fn default() -> Self {
        Self {
            bind: Bind(SocketAddr::from(([127, 0, 0, 1], 8000))),
            public_url: None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Database {
    /// `None`: the SQLite file `openzero.db` in the data directory.
    pub url: Option<DatabaseUrl>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Telegram {
    pub bot_token: Option<Secret>,
    pub allowed_user_ids: Vec<i64>,
    pub mode: TelegramMode,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<Secret>,
    pub api_base_url: String,
}

impl Default for Telegram {
    fn default() -> Self {
        Self {
            bot_token: None,
            allowed_user_ids: Vec::new(),
            mode: TelegramMode::Polling,
            webhook_url: None,
            webhook_secret: None,
            api_base_url: "https://api.telegram.org".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TelegramMode {
    Polling,
    Webhook,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Llm {
    pub provider: LlmProvider,
    pub model: Option<String>,
    /// Threads for the embedded model; 0 uses every core.
    pub threads: usize,
    /// Longest answer, in tokens.
    pub max_tokens: usize,
    /// Seconds without use after which `serve` releases the chat model (0: never).
    pub unload_after_secs: u64,
    /// Models tried when the chat model fails ("ollama:llama3.2, embedded").
    pub fallbacks: Option<String>,
    /// Seconds a failed model rests.
    pub fallback_cooldown_secs: u64,
    /// Chat-server host names the owner declares local ("ollama, gpu-box.lan").
    pub local_hosts: Option<String>,
    pub ollama_base_url: String,
    pub openai_base_url: Option<String>,
    pub openai_api_key: Option<Secret>,
    pub groq_api_key: Option<Secret>,
    pub gemini_api_key: Option<Secret>,
    pub gemini_base_url: String,
    /// Hours a pending thought waits for the owner before it expires.
    pub consent_hours: u32,
    /// Redact identifiers before a disclosure.
    pub redact_identifiers: bool,
    pub deep_think_provider: Option<LlmProvider>,
    pub deep_think_model: Option<String>,
}

impl Default for Llm {
    fn default() -> Self {
        Self {
            provider: LlmProvider::Embedded,
            model: None,
            threads: 0,
            max_tokens: 256,
            unload_after_secs: 600,
            fallbacks: None,
            fallback_cooldown_secs: 60,
            local_hosts: None,
            ollama_base_url: "http://127.0.0.1:11434".into(),
            openai_base_url: None,
            openai_api_key: None,
            groq_api_key: None,
            gemini_api_key: None,
            gemini_base_url: "https://generativelanguage.googleapis.com".into(),
            consent_hours: 24,
            redact_identifiers: true,
            deep_think_provider: None,
            deep_think_model: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LlmProvider {
    Embedded,
    Ollama,
    Openai,
    Groq,
    Openrouter,
    Llamacpp,
    Gemini,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct MemorySettings {
    /// Directory of the embedding model; `None`: `DATA_DIR/models/all-MiniLM-L6-v2`.
    pub model_dir: Option<std::path::PathBuf>,
    /// Which engine embeds: auto (ONNX Runtime when its library is there,
    /// else candle), onnxruntime, or candle.
    pub runtime: EmbedRuntime,
    /// ONNX Runtime's shared library; `None`: `onnxruntime/libonnxruntime.so`
    /// beside the model directory.
    pub onnxruntime: Option<std::path::PathBuf>,
    /// Number format of the ONNX Runtime embedder (candle is always f32).
    pub precision: EmbedPrecision,
}

/// int8 weights (the default) or f32 (exact) for the ONNX Runtime embedder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbedPrecision {
    F32,
    /// The default: 1.6–2× faster than f32 in batches, the same ranking
    /// (bench recall moves by under 1%).
    #[default]
    Int8,
}

/// The engine that runs the embedding model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbedRuntime {
    #[default]
    Auto,
    Onnxruntime,
    Candle,
}

/// When the scheduled jobs run (cron, in the owner's time zone).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct ScheduleSettings {
    pub daily_briefing: String,
    pub weekly_review: String,
    pub monthly_review: String,
    /// How often the calendars are synced.
    pub calendar_sync: String,
    /// How often the boards are reconciled with Planka in full.
    pub planka_sync: String,
    /// How often the news feeds are fetched (each feed conditionally).
    pub news_fetch: String,
    /// The encrypted backup (needs a passphrase or recipients).
    pub backup: String,
    /// The weekly restore drill: the latest backup restored into a
    /// temporary store and read back.
    pub restore_drill: String,
    /// Back-filling Strava history within its rate limits.
    pub strava_harvest: String,
    /// The weekly training report by email.
    pub training_report: String,
    /// Looking for near-duplicate and small memories to merge (proposals
    /// only: the owner is told, nothing is merged).
    pub memory_consolidate: String,
    /// Hours a missed briefing may still run after start-up.
    pub grace_hours: u32,
}

impl Default for ScheduleSettings {
    fn default() -> Self {
        Self {
            daily_briefing: "30 7 * * MON-FRI".into(),
            weekly_review: "0 10 * * SUN".into(),
            monthly_review: "0 9 1 * *".into(),
            calendar_sync: "*/15 * * * *".into(),
            planka_sync: "*/15 * * * *".into(),
            news_fetch: "0 * * * *".into(),
            backup: "0 3 * * *".into(),
            restore_drill: "30 4 * * SUN".into(),
            strava_harvest: "40 * * * *".into(),
            training_report: "0 18 * * SUN".into(),
            memory_consolidate: "0 9 * * SUN".into(),
            grace_hours: 3,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Qdrant {
    pub host: Option<String>,
    pub port: u16,
    pub api_key: Option<Secret>,
}

impl Default for Qdrant {
    fn default() -> Self {
        Self {
            host: None,
            port: 6333,
            api_key: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Planka {
    pub base_url: Option<String>,
    pub admin_email: Option<String>,
    pub admin_password: Option<Secret>,
    /// The Planka project holding the boards.
    pub project: String,
    /// The access token Planka's webhooks send; none: no webhook route.
    pub webhook_token: Option<Secret>,
}

impl Default for Planka {
    fn default() -> Self {
        Self {
            base_url: None,
            admin_email: None,
            admin_password: None,
            project: "OpenZero".into(),
            webhook_token: None,
        }
    }
}

/// The owner's mailbox, read-only.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct MailSettings {
    /// IMAP server; none: no mailbox is read.
    pub imap_host: Option<String>,
    pub imap_port: u16,
    pub imap_security: ImapSecurity,
    pub imap_user: Option<String>,
    pub imap_password: Option<Secret>,
    /// `password` (LOGIN) or `xoauth2` (an OAuth 2.0 refresh token).
    pub imap_auth: ImapAuthKind,
    pub imap_oauth_auth_url: Option<String>,
    pub imap_oauth_token_url: Option<String>,
    /// Default: the provider's IMAP scope, known for Microsoft and Google.
    pub imap_oauth_scope: Option<String>,
    pub imap_oauth_client_id: Option<String>,
    pub imap_oauth_client_secret: Option<Secret>,
    pub imap_oauth_refresh_token: Option<Secret>,
    /// Comma-separated folders to read.
    pub imap_folders: String,
    /// A PEM file of extra certificate authorities to trust (a home server
    /// with its own CA); the system's web roots are trusted always.
    pub imap_ca_file: Option<std::path::PathBuf>,
    /// Seconds between polls when the server offers no IDLE (and as a
    /// safety net when it does).
    pub poll_secs: u64,
    /// Wait for new mail with IDLE where the server offers it.
    pub idle: bool,
    /// What happens to mail no rule matches: urgent, summarize or archive.
    pub default_action: String,
    /// The Gmail API (tests point it at a fake).
    pub gmail_api_base: String,
    /// More IMAP mailboxes, as `[[mail.accounts]]` tables in
    /// `openzero.toml` (the `imap_*` keys above are the first one).
    pub accounts: Vec<ImapAccount>,
}

/// One more IMAP mailbox (`[[mail.accounts]]` in `openzero.toml`).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ImapAccount {
    /// A short name, shown in `/health` as `mail:NAME`.
    pub name: String,
    pub host: String,
    #[serde(default = "default_imap_port")]
    pub port: u16,
    #[serde(default)]
    pub security: ImapSecurity,
    pub user: String,
    /// Needed unless the OAuth 2.0 fields below are given (then XOAUTH2).
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub oauth_token_url: Option<String>,
    #[serde(default)]
    pub oauth_client_id: Option<String>,
    #[serde(default)]
    pub oauth_client_secret: Option<Secret>,
    #[serde(default)]
    pub oauth_refresh_token: Option<Secret>,
    #[serde(default = "default_folders")]
    pub folders: String,
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
}

fn default_imap_port() -> u16 {
    993
}

fn default_folders() -> String {
    "INBOX".into()
}

impl ImapAccount {
    /// The folders to read, trimmed, empty entries dropped.
    pub fn folders(&self) -> Vec<String> {
        split_folders(&self.folders)
    }
}

fn split_folders(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            imap_host: None,
            imap_port: 993,
            imap_security: ImapSecurity::Tls,
            imap_user: None,
            imap_password: None,
            imap_auth: ImapAuthKind::Password,
            imap_oauth_auth_url: None,
            imap_oauth_token_url: None,
            imap_oauth_scope: None,
            imap_oauth_client_id: None,
            imap_oauth_client_secret: None,
            imap_oauth_refresh_token: None,
            imap_folders: "INBOX".into(),
            imap_ca_file: None,
            poll_secs: 600,
            idle: true,
            default_action: "summarize".into(),
            gmail_api_base: "https://gmail.googleapis.com".into(),
            accounts: Vec::new(),
        }
    }
}

impl MailSettings {
    /// The folders to read, trimmed, empty entries dropped.
    pub fn folders(&self) -> Vec<String> {
        split_folders(&self.imap_folders)
    }
}

/// The owner's own Google OAuth client (a "Desktop app" client in their
/// Google Cloud project), for Gmail now and Google Calendar later.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Google {
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub auth_url: String,
    pub token_url: String,
    /// The Google Calendar API (tests point it at a fake).
    pub calendar_api_base: String,
}

impl Default for Google {
    fn default() -> Self {
        Self {
            client_id: None,
            client_secret: None,
            auth_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            token_url: "https://oauth2.googleapis.com/token".into(),
            calendar_api_base: "https://www.googleapis.com/".into(),
        }
    }
}

/// How OpenZero logs in to IMAP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImapAuthKind {
    #[default]
    Password,
    Xoauth2,
}

/// How the IMAP connection is protected. There is no plain-text mode: a
/// password never crosses a network unencrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImapSecurity {
    /// TLS from the first byte (port 993).
    #[default]
    Tls,
    /// Plain connection upgraded with STARTTLS before login (port 143).
    Starttls,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// A secret (token, password, API key). `Debug`, `Display` and `Serialize`
/// never show it; only [`Secret::expose`] does.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

/// What a set secret looks like wherever it is shown.
pub const MASK: &str = "********";

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({MASK})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(MASK)
    }
}

/// An IANA time zone such as `Europe/Berlin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(pub chrono_tz::Tz);

impl FromStr for TimeZone {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.trim().parse::<chrono_tz::Tz>().map(TimeZone).map_err(|_| {
            format!("unknown time zone '{s}': expected an IANA name such as Europe/Berlin, America/New_York or UTC")
        })
    }
}

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for TimeZone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name())
    }
}

/// The address the HTTP server listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bind(pub SocketAddr);

impl FromStr for Bind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.trim().parse::<SocketAddr>().map(Bind).map_err(|_| {
            format!("'{s}' is not an address to listen on: expected IP:PORT such as 127.0.0.1:8000")
        })
    }
}

impl<'de> Deserialize<'de> for Bind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Bind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// A database URL: `postgres://…` for PostgreSQL or `sqlite://PATH` for a
/// SQLite file elsewhere than the data directory. Shown with the password
/// masked everywhere except [`DatabaseUrl::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

/// Which backend a database URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

impl DatabaseUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn kind(&self) -> DbKind {
        if self.0.starts_with("sqlite:") {
            DbKind::Sqlite
        } else {
            DbKind::Postgres
        }
    }

    /// For `sqlite://PATH` (or `sqlite:PATH`), the path.
    pub fn sqlite_path(&self) -> Option<&str> {
        let rest = self.0.strip_prefix("sqlite:")?;
        Some(rest.strip_prefix("//").unwrap_or(rest))
    }

    /// The URL with any password replaced by the mask.
    pub fn masked(&self) -> String {
        match url::Url::parse(&self.0) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some(MASK));
                u.to_string()
            }
            _ => self.0.clone(),
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            url::Url::parse(s).map_err(|e| {
                format!("not a valid PostgreSQL URL ({e}): expected postgres://USER:PASSWORD@HOST:PORT/DATABASE")
            })?;
            Ok(Self(s.to_owned()))
        } else if let Some(path) = s.strip_prefix("sqlite:") {
            if path.trim_start_matches('/').is_empty() {
                return Err(
                    "sqlite URL names no file: expected sqlite:///path/to/openzero.db".into(),
                );
            }
            Ok(Self(s.to_owned()))
        } else {
            Err("unsupported database URL: expected postgres://USER:PASSWORD@HOST:PORT/DATABASE or sqlite:///path/to/file.db (leave unset for the SQLite file in the data directory)".into())
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.masked())
    }
}

impl<'de> Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.masked())
    }
}
