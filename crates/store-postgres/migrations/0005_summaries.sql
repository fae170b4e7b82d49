-- The running summary of each channel's older turns: turns up to `upto`
-- (a conversations.id) are folded into `text`, so a long conversation is
-- summarised, never silently cut. The newest row per channel is current.
CREATE TABLE conversation_summaries (
    id         BIGSERIAL PRIMARY KEY,
    channel    TEXT NOT NULL,
    upto       BIGINT NOT NULL,
    text       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX conversation_summaries_channel ON conversation_summaries (channel, id);
