-- Activities for the running coach: from files (external id: the SHA-256
-- of the file's bytes) and later Strava (its activity id), each kept once.
-- The figures the coach reads are columns; the samples and laps are JSON.
CREATE TABLE activities (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    source      TEXT NOT NULL,
    external_id TEXT NOT NULL,
    sport       TEXT NOT NULL DEFAULT '',
    name        TEXT,
    start_at    TEXT NOT NULL,
    elapsed_s   REAL NOT NULL,
    moving_s    REAL NOT NULL,
    distance_m  REAL NOT NULL,
    avg_hr      REAL,
    trimp       REAL,
    efficiency  REAL,
    samples     TEXT NOT NULL,
    laps        TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    UNIQUE (source, external_id)
);
CREATE INDEX activities_start ON activities (start_at);
