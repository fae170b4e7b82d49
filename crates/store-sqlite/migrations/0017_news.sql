-- News feeds the owner follows and the items they brought. A feed keeps
-- what makes the next fetch conditional (ETag, Last-Modified) and its
-- health (failures in a row, the last error, when to try again). An item
-- is kept once per feed (its guid); the same story across feeds is found
-- when listing (openzero_news::story). `read_at` and `starred_at` are what
-- the owner opened and marked: they lift stories like them.
CREATE TABLE news_feeds (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    url           TEXT NOT NULL UNIQUE,
    title         TEXT NOT NULL DEFAULT '',
    tag           TEXT,
    etag          TEXT,
    last_modified TEXT,
    created_at    TEXT NOT NULL,
    fetched_at    TEXT,
    next_at       TEXT,
    failures      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT
);
CREATE TABLE news_items (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    feed_id      INTEGER NOT NULL REFERENCES news_feeds (id) ON DELETE CASCADE,
    guid         TEXT NOT NULL,
    title        TEXT NOT NULL,
    link         TEXT,
    summary      TEXT NOT NULL DEFAULT '',
    published_at TEXT,
    seen_at      TEXT NOT NULL,
    read_at      TEXT,
    starred_at   TEXT,
    UNIQUE (feed_id, guid)
);
CREATE INDEX news_items_seen ON news_items (seen_at);
