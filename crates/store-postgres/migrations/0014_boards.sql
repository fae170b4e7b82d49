-- Boards by life domain, their lists in order, and the cards on them.
-- The five boards of the seed come with the schema (a new user sees them
-- after `init`); the owner edits them afterwards. A list marked `done`
-- counts its cards as done (for project progress and the weekly review).
CREATE TABLE boards (
    id        BIGSERIAL PRIMARY KEY,
    name      TEXT NOT NULL UNIQUE,
    domain    TEXT,
    position  BIGINT NOT NULL,
    archived  BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE board_lists (
    id        BIGSERIAL PRIMARY KEY,
    board_id  BIGINT NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    name      TEXT NOT NULL,
    position  BIGINT NOT NULL,
    done      BOOLEAN NOT NULL DEFAULT FALSE,
    archived  BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (board_id, name)
);
CREATE TABLE cards (
    id          BIGSERIAL PRIMARY KEY,
    board_id    BIGINT NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    list_id     BIGINT NOT NULL REFERENCES board_lists (id) ON DELETE CASCADE,
    title       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- One of: a whole day (YYYY-MM-DD) or an instant.
    due_date    TEXT,
    due_at      TIMESTAMPTZ,
    -- JSON arrays: ["label", …] and [{"text", "done"}, …].
    labels      TEXT NOT NULL DEFAULT '[]',
    checklist   TEXT NOT NULL DEFAULT '[]',
    project_id  BIGINT REFERENCES projects (id) ON DELETE SET NULL,
    position    BIGINT NOT NULL,
    archived    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    -- When it last reached a done list (none: not done).
    done_at     TIMESTAMPTZ
);
CREATE INDEX cards_list ON cards (list_id, position);
CREATE INDEX cards_due ON cards (due_date, due_at);
CREATE TABLE card_history (
    id       BIGSERIAL PRIMARY KEY,
    card_id  BIGINT NOT NULL REFERENCES cards (id) ON DELETE CASCADE,
    at       TIMESTAMPTZ NOT NULL,
    what     TEXT NOT NULL
);
CREATE INDEX card_history_card ON card_history (card_id, id);

INSERT INTO boards (name, domain, position) VALUES
    ('Career', 'career', 1), ('Health', 'health', 2), ('Family', 'family', 3),
    ('Finance', 'finance', 4), ('Creative', 'creative', 5);
INSERT INTO board_lists (board_id, name, position, done)
    SELECT id, 'Inbox', 1, FALSE FROM boards WHERE name IN ('Career', 'Health', 'Family', 'Finance');
INSERT INTO board_lists (board_id, name, position, done) SELECT id, 'In Progress', 2, FALSE FROM boards WHERE name = 'Career';
INSERT INTO board_lists (board_id, name, position, done) SELECT id, 'Blocked', 3, FALSE FROM boards WHERE name = 'Career';
INSERT INTO board_lists (board_id, name, position, done) SELECT id, 'Done', 4, TRUE FROM boards WHERE name = 'Career';
INSERT INTO board_lists (board_id, name, position, done) SELECT id, 'Habits', 2, FALSE FROM boards WHERE name = 'Health';
INSERT INTO board_lists (board_id, name, position, done) SELECT id, 'Completed', 3, TRUE FROM boards WHERE name = 'Health';
INSERT INTO board_lists (board_id, name, position, done) SELECT id, 'This Week', 2, FALSE FROM boards WHERE name = 'Family';
INSERT INTO board_lists (board_id, name, position, done) SELECT id, 'Done', 3, TRUE FROM boards WHERE name = 'Family';
INSERT INTO board_lists (board_id, name, position, done) SELECT id, 'Pending', 2, FALSE FROM boards WHERE name = 'Finance';
INSERT INTO board_lists (board_id, name, position, done) SELECT id, 'Resolved', 3, TRUE FROM boards WHERE name = 'Finance';
INSERT INTO board_lists (board_id, name, position, done) SELECT id, 'Ideas', 1, FALSE FROM boards WHERE name = 'Creative';
INSERT INTO board_lists (board_id, name, position, done) SELECT id, 'Active', 2, FALSE FROM boards WHERE name = 'Creative';
INSERT INTO board_lists (board_id, name, position, done) SELECT id, 'Shipped', 3, TRUE FROM boards WHERE name = 'Creative';
