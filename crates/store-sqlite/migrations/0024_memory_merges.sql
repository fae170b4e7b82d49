-- Memory hygiene (`openzero memory consolidate`): near-duplicates merged
-- into one of them, or small memories summarised into a new one. The
-- originals are kept, hidden from search while `merged_into` names the
-- memory that stands for them, and come back exactly on undo.
ALTER TABLE memories ADD COLUMN merged_into INTEGER REFERENCES memories (id) ON DELETE SET NULL;
-- When consolidate last looked at the memory (integer microseconds, UTC).
ALTER TABLE memories ADD COLUMN reviewed_at INTEGER;
CREATE INDEX memories_merged_into ON memories (merged_into) WHERE merged_into IS NOT NULL;
CREATE INDEX memories_unreviewed ON memories (created_at) WHERE reviewed_at IS NULL AND merged_into IS NULL;

-- One applied proposal: `into_id` stands for its members (the kept
-- duplicate, or the summary written for them). Forgetting that memory
-- deletes the merge and brings its members back (ON DELETE SET NULL above).
CREATE TABLE memory_merges (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL,
    into_id    INTEGER NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
    method     TEXT    NOT NULL,
    created_at TEXT    NOT NULL
);
CREATE TABLE memory_merge_members (
    merge_id  INTEGER NOT NULL REFERENCES memory_merges (id) ON DELETE CASCADE,
    memory_id INTEGER NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
    PRIMARY KEY (merge_id, memory_id)
);
CREATE INDEX memory_merge_members_memory ON memory_merge_members (memory_id);

-- A hidden memory leaves the full-text index and returns to it when shown
-- again; the change log tells in-process vector indexes either way.
DROP TRIGGER memories_fts_delete;
CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories WHEN old.merged_into IS NULL BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
DROP TRIGGER memories_fts_update;
CREATE TRIGGER memories_fts_update AFTER UPDATE OF text ON memories WHEN new.merged_into IS NULL AND old.merged_into IS NULL BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO memories_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER memories_fts_hide AFTER UPDATE OF merged_into ON memories
    WHEN old.merged_into IS NULL AND new.merged_into IS NOT NULL BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER memories_fts_show AFTER UPDATE OF merged_into ON memories
    WHEN old.merged_into IS NOT NULL AND new.merged_into IS NULL BEGIN
    INSERT INTO memories_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER memory_changes_merge AFTER UPDATE OF merged_into ON memories BEGIN
    INSERT INTO memory_changes (memory_id) VALUES (new.id);
END;
