//! The one list of configuration keys. It drives environment parsing, the
//! commented `openzero.toml` written by `openzero init`, `.env.example`, and
//! `openzero config show`. A test keeps it in step with [`crate::Settings`].

/// How a value given as an environment string is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    /// A string that is never shown; may also come from `KEY_FILE`.
    Secret,
    Int,
    Bool,
    /// Comma-separated whole numbers.
    IntList,
}

/// One configuration key.
#[derive(Debug, Clone, Copy)]
pub struct KeyDef {
    /// `section.key`, as in `openzero.toml`.
    pub path: &'static str,
    pub kind: Kind,
    /// Names used by the original deployment's `.env`, accepted as-is.
    pub legacy_env: &'static [&'static str],
    /// Default as TOML, or `None` when unset by default.
    pub default: Option<&'static str>,
    /// An example value (TOML) for the documentation.
    pub example: &'static str,
    pub doc: &'static str,
}

impl KeyDef {
    pub fn section(&self) -> &'static str {
        self.path
            .split_once('.')
            .map(|(s, _)| s)
            .unwrap_or(self.path)
    }

    pub fn key(&self) -> &'static str {
        self.path
            .split_once('.')
            .map(|(_, k)| k)
            .unwrap_or(self.path)
    }

    /// `OPENZERO__SECTION__KEY`.
    pub fn env_name(&self) -> String {
        format!(
            "OPENZERO__{}__{}",
            self.section().to_ascii_uppercase(),
            self.key().to_ascii_uppercase()
        )
    }
}

const fn k(
    path: &'static str,
    kind: Kind,
    legacy_env: &'static [&'static str],
    default: Option<&'static str>,
    example: &'static str,
    doc: &'static str,
) -> KeyDef {
    KeyDef {
        path,
        kind,
        legacy_env,
        default,
        example,
        doc,
    }
}

use Kind::*;

/// Every key, in the order they are documented.
pub const KEYS: &[KeyDef] = &[
    k(
        "general.timezone",
        Str,
        &["USER_TIMEZONE"],
        Some("\"UTC\""),
        "\"Europe/Berlin\"",
        "The owner's time zone (IANA name). Every schedule and every \"today\" uses it.",
    ),
    k(
        "general.log_level",
        Str,
        &[],
        Some("\"info\""),
        "\"debug\"",
        "Log verbosity: trace, debug, info, warn or error. RUST_LOG, when set, wins.",
    ),
    k(
        "general.log_format",
        Str,
        &[],
        Some("\"text\""),
        "\"json\"",
        "Log format: text (for people) or json (for log collectors).",
    ),
    k(
        "server.bind",
        Str,
        &[],
        Some("\"127.0.0.1:8000\""),
        "\"0.0.0.0:8000\"",
        "Address of the HTTP server (health, dashboard). Loopback only unless you change it.",
    ),
    k(
        "server.public_url",
        Str,
        &["OPENZERO_PUBLIC_URL"],
        None,
        "\"https://zbox.tailnet-name.ts.net\"",
        "Where you open the dashboard (Telegram /login links point there; https:// makes the session cookie Secure). Unset: http:// plus server.bind.",
    ),
    k(
        "database.url",
        Secret,
        &["DATABASE_URL"],
        None,
        "\"postgres://openzero:PASSWORD@127.0.0.1:5432/openzero\"",
        "Unset: the SQLite file openzero.db in the data directory. postgres://... selects PostgreSQL; sqlite:///path a SQLite file elsewhere.",
    ),
    k(
        "telegram.bot_token",
        Secret,
        &["TELEGRAM_BOT_TOKEN"],
        None,
        "\"123456:ABC-DEF...\"",
        "Bot token from @BotFather. Unset: no Telegram.",
    ),
    k(
        "telegram.allowed_user_ids",
        IntList,
        &["TELEGRAM_ALLOWED_USER_ID", "TELEGRAM_ALLOWED_USER_IDS"],
        Some("[]"),
        "[123456789]",
        "Telegram user ids of the owner; everyone else is ignored. In the environment: comma-separated.",
    ),
    k(
        "telegram.mode",
        Str,
        &[],
        Some("\"polling\""),
        "\"webhook\"",
        "polling (default, works behind NAT) or webhook.",
    ),
    k(
        "telegram.webhook_url",
        Str,
        &[],
        None,
        "\"https://z.example.org/telegram\"",
        "Public HTTPS URL Telegram posts updates to, in webhook mode.",
    ),
    k(
        "telegram.webhook_secret",
        Secret,
        &[],
        None,
        "\"a-long-random-string\"",
        "Secret token Telegram sends with each webhook call; others are rejected.",
    ),
    k(
        "telegram.api_base_url",
        Str,
        &[],
        Some("\"https://api.telegram.org\""),
        "\"http://127.0.0.1:8081\"",
        "Bot API server (a local Bot API server or a test fake).",
    ),
    k(
        "llm.provider",
        Str,
        &["LLM_PROVIDER"],
        Some("\"embedded\""),
        "\"ollama\"",
        "Chat model provider: embedded (in-process GGUF), ollama, openai, groq, openrouter, llamacpp or gemini.",
    ),
    k(
        "llm.model",
        Str,
        &[],
        None,
        "\"llama3.1:8b\"",
        "Model name for the provider; for embedded, a GGUF file (default: DATA_DIR/models/SmolLM2-135M-Instruct.Q4_1.gguf).",
    ),
    k(
        "llm.threads",
        Int,
        &[],
        Some("0"),
        "2",
        "Threads for the embedded model (0: every core).",
    ),
    k(
        "llm.max_tokens",
        Int,
        &[],
        Some("256"),
        "1024",
        "Longest answer, in tokens.",
    ),
    k(
        "llm.unload_after_secs",
        Int,
        &[],
        Some("600"),
        "3600",
        "Seconds without a question after which `serve` releases the chat model's memory (loaded again on the next question); 0 keeps it loaded.",
    ),
    k(
        "llm.fallbacks",
        Str,
        &[],
        None,
        "\"ollama:llama3.2, embedded\"",
        "Models tried in order when the chat model fails: provider or provider:model, comma-separated. Cloud providers are never used as a fallback (they need your approval per message).",
    ),
    k(
        "llm.local_hosts",
        Str,
        &[],
        None,
        "\"ollama, gpu-box.lan\"",
        "Host names of chat servers you declare to be yours (comma-separated): they get your context without asking. Without this, a name counts as local only if it resolves to loopback or private addresses.",
    ),
    k(
        "llm.fallback_cooldown_secs",
        Int,
        &[],
        Some("60"),
        "300",
        "Seconds a failed model rests before it is tried first again.",
    ),
    k(
        "llm.ollama_base_url",
        Str,
        &["OLLAMA_BASE_URL"],
        Some("\"http://127.0.0.1:11434\""),
        "\"http://192.168.1.10:11434\"",
        "Ollama server.",
    ),
    k(
        "llm.openai_base_url",
        Str,
        &["OPENAI_BASE_URL"],
        None,
        "\"http://127.0.0.1:8080/v1\"",
        "OpenAI-compatible endpoint (llama.cpp, vLLM, OpenRouter...).",
    ),
    k(
        "llm.openai_api_key",
        Secret,
        &["OPENAI_API_KEY"],
        None,
        "\"sk-...\"",
        "OpenAI API key (a cloud provider: used only with your consent).",
    ),
    k(
        "llm.groq_api_key",
        Secret,
        &["GROQ_API_KEY"],
        None,
        "\"gsk_...\"",
        "Groq API key (a cloud provider: used only with your consent).",
    ),
    k(
        "llm.gemini_api_key",
        Secret,
        &["GEMINI_API_KEY"],
        None,
        "\"AIza...\"",
        "Gemini API key (a cloud provider: used only with your consent).",
    ),
    k(
        "llm.deep_think_provider",
        Str,
        &["DEEP_THINK_PROVIDER"],
        None,
        "\"openai\"",
        "Provider for /think (deep thinking with consent).",
    ),
    k(
        "llm.gemini_base_url",
        Str,
        &[],
        Some("\"https://generativelanguage.googleapis.com\""),
        "\"https://generativelanguage.googleapis.com\"",
        "Gemini API server.",
    ),
    k(
        "llm.consent_hours",
        Int,
        &[],
        Some("24"),
        "2",
        "Hours a request to a cloud model waits for your approval before it expires (nothing is sent).",
    ),
    k(
        "llm.redact_identifiers",
        Bool,
        &[],
        Some("true"),
        "false",
        "Replace e-mail addresses, phone numbers, IBANs and street addresses before anything goes to a cloud model.",
    ),
    k(
        "llm.deep_think_model",
        Str,
        &["DEEP_THINK_MODEL"],
        None,
        "\"gpt-4o\"",
        "Model for /think.",
    ),
    k(
        "memory.model_dir",
        Str,
        &[],
        None,
        "\"/srv/models/all-MiniLM-L6-v2\"",
        "Embedding model directory (config.json, tokenizer.json, model.safetensors). Default: DATA_DIR/models/all-MiniLM-L6-v2, filled by scripts/fetch-models.",
    ),
    k(
        "memory.runtime",
        Str,
        &[],
        Some("\"auto\""),
        "\"candle\"",
        "Engine for embeddings: auto (ONNX Runtime when its library is there, else candle), onnxruntime, or candle. Same vectors; ONNX Runtime is about twice as fast.",
    ),
    k(
        "memory.onnxruntime",
        Str,
        &[],
        None,
        "\"/usr/lib/libonnxruntime.so.1.31.1\"",
        "ONNX Runtime's shared library (1.22 or newer). Default: onnxruntime/libonnxruntime.so beside the model directory, filled by scripts/fetch-models.",
    ),
    k(
        "schedule.daily_briefing",
        Str,
        &[],
        Some("\"30 7 * * MON-FRI\""),
        "\"0 7 * * *\"",
        "Morning briefing, cron in USER_TIMEZONE (\"\" disables).",
    ),
    k(
        "schedule.weekly_review",
        Str,
        &[],
        Some("\"0 10 * * SUN\""),
        "\"0 18 * * FRI\"",
        "Weekly review, cron in USER_TIMEZONE (\"\" disables).",
    ),
    k(
        "schedule.monthly_review",
        Str,
        &[],
        Some("\"0 9 1 * *\""),
        "\"\"",
        "Monthly review, cron in USER_TIMEZONE (\"\" disables).",
    ),
    k(
        "schedule.calendar_sync",
        Str,
        &[],
        Some("\"*/15 * * * *\""),
        "\"*/5 * * * *\"",
        "Calendar sync (ICS subscriptions with a conditional GET, CalDAV by sync-token), cron in USER_TIMEZONE (\"\" disables).",
    ),
    k(
        "schedule.planka_sync",
        Str,
        &[],
        Some("\"*/15 * * * *\""),
        "\"*/5 * * * *\"",
        "Full two-way reconcile of the boards with Planka (catches what its webhooks missed), cron in USER_TIMEZONE (\"\" disables). Local changes are sent within seconds while `serve` runs.",
    ),
    k(
        "schedule.news_fetch",
        Str,
        &[],
        Some("\"0 * * * *\""),
        "\"*/30 * * * *\"",
        "News feeds fetched (a conditional GET per feed; a failing feed waits 15 min doubling to a day, or as long as its Retry-After asks), cron in USER_TIMEZONE (\"\" disables).",
    ),
    k(
        "schedule.grace_hours",
        Int,
        &[],
        Some("3"),
        "6",
        "A briefing missed while the service was down still runs at start-up within this many hours; later it is recorded as missed.",
    ),
    k(
        "qdrant.host",
        Str,
        &["QDRANT_HOST"],
        None,
        "\"127.0.0.1\"",
        "Qdrant server for vector memory (optional; the embedded index is the default).",
    ),
    k(
        "qdrant.port",
        Int,
        &["QDRANT_PORT"],
        Some("6333"),
        "6333",
        "Qdrant REST port.",
    ),
    k(
        "qdrant.api_key",
        Secret,
        &["QDRANT_API_KEY"],
        None,
        "\"...\"",
        "Qdrant API key.",
    ),
    k(
        "planka.base_url",
        Str,
        &["PLANKA_BASE_URL"],
        None,
        "\"http://127.0.0.1:3000\"",
        "Planka server to sync the task board with (optional).",
    ),
    k(
        "planka.admin_email",
        Str,
        &["PLANKA_ADMIN_EMAIL"],
        None,
        "\"me@example.org\"",
        "Planka login.",
    ),
    k(
        "planka.admin_password",
        Secret,
        &["PLANKA_ADMIN_PASSWORD"],
        None,
        "\"...\"",
        "Planka password.",
    ),
    k(
        "planka.project",
        Str,
        &["PLANKA_PROJECT"],
        Some("\"OpenZero\""),
        "\"Life\"",
        "The Planka project the boards are synced with (made when missing).",
    ),
    k(
        "planka.webhook_token",
        Secret,
        &["PLANKA_WEBHOOK_TOKEN"],
        None,
        "\"a-long-random-string\"",
        "The accessToken of Planka's WEBHOOKS entry pointing at /webhooks/planka; unset: no webhook route (the periodic sync still runs).",
    ),
    k(
        "mail.imap_host",
        Str,
        &["EMAIL_IMAP_HOST"],
        None,
        "\"imap.fastmail.com\"",
        "IMAP server of the mailbox Z reads (read-only: EXAMINE and BODY.PEEK only). Unset: no mail is read.",
    ),
    k(
        "mail.imap_port",
        Int,
        &["EMAIL_IMAP_PORT"],
        Some("993"),
        "143",
        "IMAP port (993 for tls, 143 for starttls).",
    ),
    k(
        "mail.imap_security",
        Str,
        &["EMAIL_IMAP_SECURITY"],
        Some("\"tls\""),
        "\"starttls\"",
        "tls or starttls; there is no unencrypted mode.",
    ),
    k(
        "mail.imap_user",
        Str,
        &["EMAIL_IMAP_USER"],
        None,
        "\"me@example.org\"",
        "IMAP login.",
    ),
    k(
        "mail.imap_password",
        Secret,
        &["EMAIL_IMAP_PASSWORD"],
        None,
        "\"app-password\"",
        "IMAP password (an app password where the provider offers them).",
    ),
    k(
        "mail.imap_auth",
        Str,
        &["EMAIL_IMAP_AUTH"],
        Some("\"password\""),
        "\"xoauth2\"",
        "password, or xoauth2 (OAuth 2.0: the mail.imap_oauth_* keys; Outlook/Microsoft 365 and Gmail accept it).",
    ),
    k(
        "mail.imap_oauth_auth_url",
        Str,
        &[],
        None,
        "\"https://login.microsoftonline.com/common/oauth2/v2.0/authorize\"",
        "For xoauth2 with `openzero mail connect imap`: the provider's authorization endpoint.",
    ),
    k(
        "mail.imap_oauth_scope",
        Str,
        &[],
        None,
        "\"https://outlook.office.com/IMAP.AccessAsUser.All offline_access\"",
        "For `openzero mail connect imap`: the scope to ask for (known by default for Microsoft and Google token endpoints).",
    ),
    k(
        "mail.imap_oauth_token_url",
        Str,
        &[],
        None,
        "\"https://login.microsoftonline.com/common/oauth2/v2.0/token\"",
        "For xoauth2: the provider's token endpoint.",
    ),
    k(
        "mail.imap_oauth_client_id",
        Str,
        &[],
        None,
        "\"00000000-0000-0000-0000-000000000000\"",
        "For xoauth2: the OAuth client the refresh token was issued to.",
    ),
    k(
        "mail.imap_oauth_client_secret",
        Secret,
        &[],
        None,
        "\"...\"",
        "For xoauth2: that client's secret (empty for public clients).",
    ),
    k(
        "mail.imap_oauth_refresh_token",
        Secret,
        &["EMAIL_IMAP_OAUTH_REFRESH_TOKEN"],
        None,
        "\"...\"",
        "For xoauth2: a refresh token with the provider's IMAP scope; an access token is fetched before each login.",
    ),
    k(
        "mail.imap_folders",
        Str,
        &["EMAIL_IMAP_FOLDERS"],
        Some("\"INBOX\""),
        "\"INBOX, School\"",
        "Comma-separated folders to read.",
    ),
    k(
        "mail.imap_ca_file",
        Str,
        &[],
        None,
        "\"/etc/ssl/my-home-ca.pem\"",
        "Extra certificate authorities (PEM) to trust for the IMAP server, e.g. a home server's own CA.",
    ),
    k(
        "mail.poll_secs",
        Int,
        &["EMAIL_POLL_SECS"],
        Some("600"),
        "120",
        "Seconds between mail polls (IDLE pushes new mail sooner where the server offers it).",
    ),
    k(
        "mail.idle",
        Bool,
        &[],
        Some("true"),
        "false",
        "Wait for new mail with IMAP IDLE where the server offers it.",
    ),
    k(
        "mail.default_action",
        Str,
        &[],
        Some("\"summarize\""),
        "\"archive\"",
        "What happens to mail no rule matches: urgent, summarize or archive.",
    ),
    k(
        "mail.gmail_api_base",
        Str,
        &[],
        Some("\"https://gmail.googleapis.com\""),
        "\"https://gmail.googleapis.com\"",
        "The Gmail API (read with the gmail.readonly scope after `openzero mail connect gmail`).",
    ),
    k(
        "google.client_id",
        Str,
        &["GOOGLE_CLIENT_ID"],
        None,
        "\"1234-abc.apps.googleusercontent.com\"",
        "Your Google OAuth client (type Desktop app) for Gmail: create it in your Google Cloud project.",
    ),
    k(
        "google.client_secret",
        Secret,
        &["GOOGLE_CLIENT_SECRET"],
        None,
        "\"GOCSPX-...\"",
        "That client's secret.",
    ),
    k(
        "google.auth_url",
        Str,
        &[],
        Some("\"https://accounts.google.com/o/oauth2/v2/auth\""),
        "\"https://accounts.google.com/o/oauth2/v2/auth\"",
        "Google's authorization endpoint.",
    ),
    k(
        "google.token_url",
        Str,
        &[],
        Some("\"https://oauth2.googleapis.com/token\""),
        "\"https://oauth2.googleapis.com/token\"",
        "Google's token endpoint.",
    ),
    k(
        "google.calendar_api_base",
        Str,
        &[],
        Some("\"https://www.googleapis.com/\""),
        "\"https://www.googleapis.com/\"",
        "The Google Calendar API (read with calendar.readonly, GET requests only).",
    ),
];

/// Looks a key up by its `section.key` path.
pub fn find(path: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|k| k.path == path)
}
