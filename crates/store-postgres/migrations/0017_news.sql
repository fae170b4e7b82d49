-- News feeds the owner follows and the items they brought. A feed keeps
-- what makes the next fetch conditional (ETag, Last-Modified) and its
-- health (failures in a row, the last error, when to try again). An item
-- is kept once per feed (its guid); the same story across feeds is found
-- when listing (openzero_news::story). `read_at` and `starred_at` are what
-- the owner opened and marked: they lift stories like them.
CREATE TABLE news_feeds (
    id            BIGSERIAL PRIMARY KEY,
    url           TEXT NOT NULL UNIQUE,
    title         TEXT NOT NULL DEFAULT '',
    tag           TEXT,
    etag          TEXT,
    last_modified TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    fetched_at    TIMESTAMPTZ,
    next_at       TIMESTAMPTZ,
    failures      BIGINT NOT NULL DEFAULT 0,
    last_error    TEXT
);
CREATE TABLE news_items (
    id           BIGSERIAL PRIMARY KEY,
    feed_id      BIGINT NOT NULL REFERENCES news_feeds (id) ON DELETE CASCADE,
    guid         TEXT NOT NULL,
    title        TEXT NOT NULL,
    link         TEXT,
    summary      TEXT NOT NULL DEFAULT '',
    published_at TIMESTAMPTZ,
    seen_at      TIMESTAMPTZ NOT NULL,
    read_at      TIMESTAMPTZ,
    starred_at   TIMESTAMPTZ,
    UNIQUE (feed_id, guid)
);
CREATE INDEX news_items_seen ON news_items (seen_at);
