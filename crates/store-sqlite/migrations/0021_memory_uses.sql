-- Where each memory was used: a line each time it went into a prompt
-- (a chat message, a /think question). Forgetting the memory removes them.
CREATE TABLE memory_uses (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    memory_id BIGINT NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
    at        TEXT NOT NULL,
    used_by   TEXT NOT NULL
);
CREATE INDEX memory_uses_memory ON memory_uses (memory_id, id);
