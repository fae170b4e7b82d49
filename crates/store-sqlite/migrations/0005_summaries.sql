-- The running summary of each channel's older turns: turns up to `upto`
-- (a conversations.id) are folded into `text`, so a long conversation is
-- summarised, never silently cut. The newest row per channel is current.
CREATE TABLE conversation_summaries (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    channel    TEXT NOT NULL,
    upto       INTEGER NOT NULL,
    text       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX conversation_summaries_channel ON conversation_summaries (channel, id);
