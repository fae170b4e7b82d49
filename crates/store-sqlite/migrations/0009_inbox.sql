-- One durable inbox for every source of incoming events (Telegram now;
-- Strava, Gmail push, Planka and the dashboard later): an event is stored
-- before its sender is told it arrived, and handled once. `position` is the
-- source's own order where it has one (Telegram's update_id: the polling
-- offset is one past the highest stored); `id` is arrival order. The
-- payload is emptied once handled.
CREATE TABLE inbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    source      TEXT NOT NULL,
    external_id TEXT NOT NULL,
    position    INTEGER,
    payload     TEXT NOT NULL,
    received_at TEXT NOT NULL,
    handled_at  TEXT,
    UNIQUE (source, external_id)
);
CREATE INDEX inbox_unhandled ON inbox (source, handled_at, position, id);

INSERT INTO inbox (source, external_id, position, payload, received_at, handled_at)
SELECT 'telegram', CAST(update_id AS TEXT), update_id, payload, received_at, handled_at
FROM telegram_updates ORDER BY telegram_updates.update_id;

DROP TABLE telegram_updates;
