-- A log of which memories changed (added, re-embedded, moved in time,
-- forgotten), so a process holding vectors in memory can catch up with
-- writes made by another process. Only ids are logged, never text.
CREATE TABLE memory_changes (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    memory_id INTEGER NOT NULL
);
-- Highest seq removed by pruning; readers behind it must rebuild.
CREATE TABLE memory_changes_pruned (upto INTEGER NOT NULL);
INSERT INTO memory_changes_pruned (upto) VALUES (0);

CREATE TRIGGER memory_changes_insert AFTER INSERT ON memories BEGIN
    INSERT INTO memory_changes (memory_id) VALUES (new.id);
END;
CREATE TRIGGER memory_changes_update AFTER UPDATE OF model, embedding, created_at, source ON memories BEGIN
    INSERT INTO memory_changes (memory_id) VALUES (new.id);
END;
CREATE TRIGGER memory_changes_delete AFTER DELETE ON memories BEGIN
    INSERT INTO memory_changes (memory_id) VALUES (old.id);
END;
