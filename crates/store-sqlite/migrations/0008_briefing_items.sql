-- What briefings carried (keys like `done:project:4`, `recall:memory:12`)
-- and when, so the next briefing does not repeat them.
CREATE TABLE briefing_items (
    item         TEXT PRIMARY KEY,
    delivered_at TEXT NOT NULL
);
