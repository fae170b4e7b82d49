-- Mail read from the owner's mailboxes (IMAP, Gmail, imported archives).
-- `key` is the message's stable identity within its account (Message-ID or
-- a content hash): a message seen again is not kept twice. A message that
-- owes the owner something (urgent notification, memory) has
-- `delivered_at` NULL until that is done.
CREATE TABLE mail_messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account      TEXT NOT NULL,
    folder       TEXT NOT NULL,
    uid          INTEGER,
    key          TEXT NOT NULL,
    from_addr    TEXT NOT NULL,
    to_addr      TEXT NOT NULL,
    subject      TEXT NOT NULL,
    sent_at      TEXT,
    received_at  TEXT NOT NULL,
    body         TEXT NOT NULL,
    attachments  TEXT NOT NULL,
    problems     TEXT NOT NULL,
    action       TEXT NOT NULL,
    rule_id      INTEGER,
    rule         TEXT,
    summary      TEXT,
    -- Sender, subject, summary and body in lower case, for search.
    search       TEXT NOT NULL,
    delivered_at TEXT,
    UNIQUE (account, key)
);
CREATE INDEX mail_messages_pending ON mail_messages (delivered_at, id);
CREATE INDEX mail_messages_date ON mail_messages (sent_at);

-- Where each mailbox folder was read up to (IMAP UIDVALIDITY and UID).
CREATE TABLE mail_watermarks (
    account     TEXT NOT NULL,
    folder      TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uid         INTEGER NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (account, folder)
);

-- The owner's rules, tried in `position` order; the first match decides.
CREATE TABLE mail_rules (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    position   INTEGER NOT NULL,
    sender     TEXT NOT NULL,
    subject    TEXT,
    kind       TEXT NOT NULL,
    action     TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Keys of notifications already queued, so one re-sent after a crash is
-- queued once (any channel's outbox checks here in the same transaction).
CREATE TABLE outbox_keys (
    key        TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);

-- The placeholders of 0001 were never written to; mail_rules and
-- mail_messages (its summary column) replace them.
DROP TABLE email_rules;
DROP TABLE email_summaries;
