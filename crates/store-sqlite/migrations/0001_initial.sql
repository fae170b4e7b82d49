-- OpenZero initial schema (SQLite). Never edit a migration that has shipped: add a new one.
-- Timestamps are RFC 3339 text in UTC.

CREATE TABLE projects (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT    NOT NULL CHECK (length(trim(name)) > 0),
    parent_id        INTEGER REFERENCES projects(id) ON DELETE SET NULL,
    status           TEXT    NOT NULL DEFAULT 'active'
                     CHECK (status IN ('active', 'paused', 'completed', 'archived')),
    priority         INTEGER NOT NULL DEFAULT 3 CHECK (priority BETWEEN 1 AND 5),
    domain           TEXT    NOT NULL DEFAULT 'general'
                     CHECK (domain IN ('career', 'health', 'family', 'finance', 'creative', 'general')),
    progress         INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    description      TEXT,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    last_reviewed_at TEXT
);
CREATE INDEX projects_parent_id ON projects (parent_id);

CREATE TABLE preferences (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Sender/subject pattern -> action, edited by the owner from chat.
CREATE TABLE email_rules (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    field      TEXT    NOT NULL CHECK (field IN ('sender', 'subject')),
    pattern    TEXT    NOT NULL,
    action     TEXT    NOT NULL CHECK (action IN ('urgent', 'summarize', 'ignore')),
    position   INTEGER NOT NULL DEFAULT 0,
    created_at TEXT    NOT NULL
);

-- Conversation turns per channel (terminal, telegram, web).
CREATE TABLE conversations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    channel    TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool', 'summary')),
    content    TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX conversations_channel_created ON conversations (channel, created_at);

-- One-line summaries of non-urgent mail, kept for the morning briefing.
CREATE TABLE email_summaries (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account      TEXT    NOT NULL,
    message_id   TEXT    NOT NULL,
    sender       TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    received_at  TEXT    NOT NULL,
    summary      TEXT,
    urgent       INTEGER NOT NULL DEFAULT 0 CHECK (urgent IN (0, 1)),
    delivered_at TEXT,
    created_at   TEXT    NOT NULL,
    UNIQUE (account, message_id)
);

-- Deep-thinking requests waiting for the owner's consent.
CREATE TABLE pending_thoughts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    question   TEXT NOT NULL,
    context    TEXT NOT NULL,
    provider   TEXT NOT NULL,
    model      TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'pending'
               CHECK (status IN ('pending', 'granted', 'cancelled', 'expired', 'sent', 'failed')),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    decided_at TEXT
);
