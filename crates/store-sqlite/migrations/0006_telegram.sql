-- Telegram updates, stored as received before they are handled: the
-- polling offset is derived from the highest stored update_id, so an update
-- is acknowledged to Telegram only once it is durably here, and one stored
-- but not handled (a crash) is handled at the next start. The raw JSON is
-- kept until handled.
CREATE TABLE telegram_updates (
    update_id   INTEGER PRIMARY KEY,
    payload     TEXT NOT NULL,
    received_at TEXT NOT NULL,
    handled_at  TEXT
);

-- Messages to the owner, written in the same transaction that marks the
-- update that caused them handled, then sent (and retried) by one worker:
-- nothing is sent twice for one update and nothing is silently dropped.
CREATE TABLE telegram_outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id     INTEGER NOT NULL,
    text        TEXT NOT NULL,
    buttons     TEXT,
    created_at  TEXT NOT NULL,
    sent_at     TEXT,
    message_id  INTEGER,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT
);
CREATE INDEX telegram_outbox_unsent ON telegram_outbox (sent_at, id);
