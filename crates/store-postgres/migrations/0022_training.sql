-- Activities for the running coach: from files (external id: the SHA-256
-- of the file's bytes) and later Strava (its activity id), each kept once.
-- The figures the coach reads are columns; the samples and laps are JSON.
CREATE TABLE activities (
    id          BIGSERIAL PRIMARY KEY,
    source      TEXT NOT NULL,
    external_id TEXT NOT NULL,
    sport       TEXT NOT NULL DEFAULT '',
    name        TEXT,
    start_at    TIMESTAMPTZ NOT NULL,
    elapsed_s   DOUBLE PRECISION NOT NULL,
    moving_s    DOUBLE PRECISION NOT NULL,
    distance_m  DOUBLE PRECISION NOT NULL,
    avg_hr      DOUBLE PRECISION,
    trimp       DOUBLE PRECISION,
    efficiency  DOUBLE PRECISION,
    samples     TEXT NOT NULL,
    laps        TEXT NOT NULL,
    imported_at TIMESTAMPTZ NOT NULL,
    UNIQUE (source, external_id)
);
CREATE INDEX activities_start ON activities (start_at);
