-- The samples and laps (hundreds of KB of JSON per run) move to the end of
-- the row: SQLite keeps them on overflow pages, and a column stored after
-- them (imported_at) made every list of activities walk each row's whole
-- chain — 0.4 s for five years of daily runs, where the figures alone take
-- milliseconds. Same columns, same ids, the id counter kept.
CREATE TABLE activities_new (
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
    imported_at TEXT NOT NULL,
    samples     TEXT NOT NULL,
    laps        TEXT NOT NULL,
    UNIQUE (source, external_id)
);
INSERT INTO activities_new (id, source, external_id, sport, name, start_at, elapsed_s,
    moving_s, distance_m, avg_hr, trimp, efficiency, imported_at, samples, laps)
SELECT id, source, external_id, sport, name, start_at, elapsed_s, moving_s, distance_m,
    avg_hr, trimp, efficiency, imported_at, samples, laps
FROM activities;
INSERT INTO sqlite_sequence (name, seq)
SELECT 'activities_new', seq FROM sqlite_sequence
WHERE name = 'activities'
  AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'activities_new');
UPDATE sqlite_sequence
SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'activities'), 0))
WHERE name = 'activities_new';
DROP TABLE activities;
ALTER TABLE activities_new RENAME TO activities;
CREATE INDEX activities_start ON activities (start_at);
