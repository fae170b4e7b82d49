-- Scheduled jobs: whether each is paused (survives restarts) and since when
-- it is known (a new job never runs its past).
CREATE TABLE job_state (
    job    TEXT PRIMARY KEY,
    paused INTEGER NOT NULL DEFAULT 0,
    since  TEXT NOT NULL
);

-- Every run, by scheduled slot: the unique key makes claiming a slot
-- atomic, so a slot runs once even across a restart or two processes.
CREATE TABLE job_runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    job           TEXT NOT NULL,
    scheduled_for TEXT NOT NULL,
    started_at    TEXT,
    ended_at      TEXT,
    outcome       TEXT NOT NULL CHECK (outcome IN ('running', 'ok', 'failed', 'missed')),
    error         TEXT,
    UNIQUE (job, scheduled_for)
);

-- Briefings and reviews as delivered, to read later.
CREATE TABLE briefings (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    text       TEXT NOT NULL
);
