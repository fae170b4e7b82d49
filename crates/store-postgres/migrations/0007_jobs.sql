-- Scheduled jobs: whether each is paused (survives restarts) and since when
-- it is known (a new job never runs its past).
CREATE TABLE job_state (
    job    TEXT PRIMARY KEY,
    paused BOOLEAN NOT NULL DEFAULT FALSE,
    since  TIMESTAMPTZ NOT NULL
);

-- Every run, by scheduled slot: the unique key makes claiming a slot
-- atomic, so a slot runs once even across a restart or two processes.
CREATE TABLE job_runs (
    id            BIGSERIAL PRIMARY KEY,
    job           TEXT NOT NULL,
    scheduled_for TIMESTAMPTZ NOT NULL,
    started_at    TIMESTAMPTZ,
    ended_at      TIMESTAMPTZ,
    outcome       TEXT NOT NULL CHECK (outcome IN ('running', 'ok', 'failed', 'missed')),
    error         TEXT,
    UNIQUE (job, scheduled_for)
);

-- Briefings and reviews as delivered, to read later.
CREATE TABLE briefings (
    id         BIGSERIAL PRIMARY KEY,
    kind       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    text       TEXT NOT NULL
);
