-- The web dashboard: the owner's password (an argon2id PHC string, one
-- row), browser sessions (the SHA-256 of each cookie token, never the
-- token), one-time login links from Telegram (hashed the same way), failed
-- logins (for the lockout) and the audit log of changes made from a page.
CREATE TABLE web_auth (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    password_hash TEXT NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE TABLE web_sessions (
    id           BIGSERIAL PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    csrf         TEXT NOT NULL,
    via          TEXT NOT NULL,
    user_agent   TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ
);
CREATE TABLE web_login_links (
    token_hash TEXT PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE TABLE web_login_failures (
    id BIGSERIAL PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX web_login_failures_at ON web_login_failures (at);
CREATE TABLE web_audit (
    id         BIGSERIAL PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    session_id BIGINT,
    action     TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT ''
);
