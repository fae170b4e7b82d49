-- SQLite moves the activities' samples and laps to the end of the row in
-- this version (they sat before imported_at, on overflow pages). PostgreSQL
-- keeps large values out of line (TOAST), so nothing changes here; the
-- migration keeps both backends at the same schema version.
SELECT 1;
