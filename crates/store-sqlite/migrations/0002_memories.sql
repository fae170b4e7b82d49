-- Semantic memory. Times are integer microseconds since the Unix epoch (UTC)
-- so that range filters compare numbers, not text.
CREATE TABLE memories (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    text         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    source       TEXT    NOT NULL,
    external_id  TEXT,
    metadata     TEXT,
    content_hash TEXT    NOT NULL,
    model        TEXT,
    embedding    BLOB,
    inserted_at  INTEGER NOT NULL,
    UNIQUE (source, content_hash)
);
CREATE INDEX memories_created_at ON memories (created_at);
CREATE INDEX memories_model ON memories (model);

-- Full-text index over the text, kept in step by triggers. secure-delete
-- makes a forgotten memory's words leave the index itself, not just its rows.
CREATE VIRTUAL TABLE memories_fts USING fts5(
    text, content = 'memories', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO memories_fts (memories_fts, rank) VALUES ('secure-delete', 1);

CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER memories_fts_update AFTER UPDATE OF text ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO memories_fts (rowid, text) VALUES (new.id, new.text);
END;
