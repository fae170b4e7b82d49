-- Calendars the owner follows, read-only. A source is what the owner added
-- (an ICS file or URL, a CalDAV account, a Google account); it holds one
-- or more calendars; each calendar keeps its resources' iCalendar text as
-- the server sent it (expanded at read time, in the owner's zone) and the
-- state that makes the next sync incremental (ETag, Last-Modified, ctag,
-- sync-token).
CREATE TABLE calendar_sources (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    url          TEXT NOT NULL,
    username     TEXT,
    created_at   TEXT NOT NULL,
    synced_at    TEXT,
    last_error   TEXT
);
CREATE TABLE calendars (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id     INTEGER NOT NULL REFERENCES calendar_sources (id) ON DELETE CASCADE,
    href          TEXT NOT NULL,
    name          TEXT NOT NULL,
    color         TEXT,
    etag          TEXT,
    last_modified TEXT,
    ctag          TEXT,
    sync_token    TEXT,
    -- Minutes before an event to remind the owner (NULL: no reminders).
    remind_minutes INTEGER,
    -- When a feed's times were flagged as looking shifted (once).
    flagged_at    TEXT,
    UNIQUE (source_id, href)
);
CREATE TABLE calendar_objects (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    calendar_id  INTEGER NOT NULL REFERENCES calendars (id) ON DELETE CASCADE,
    href         TEXT NOT NULL,
    etag         TEXT,
    ics          TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (calendar_id, href)
);
-- What a span of days looked like at a briefing, to say what changed since.
CREATE TABLE calendar_snapshots (
    day          TEXT PRIMARY KEY,
    taken_at     TEXT NOT NULL,
    occurrences  TEXT NOT NULL
);
