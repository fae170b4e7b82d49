-- The placeholder table of 0001 was never written to; `thoughts` replaces it.
DROP TABLE pending_thoughts;

-- Consent before disclosure. A thought is a cloud request held until the
-- owner grants or cancels it; `disclosure` (JSON) is exactly what would be
-- sent plus the local map to restore redacted identifiers: it never leaves.
CREATE TABLE thoughts (
    id         BIGSERIAL PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    channel    TEXT NOT NULL,
    provider   TEXT NOT NULL,
    model      TEXT NOT NULL,
    question   TEXT NOT NULL,
    disclosure TEXT NOT NULL,
    state      TEXT NOT NULL DEFAULT 'pending'
               CHECK (state IN ('pending', 'granted', 'cancelled', 'expired', 'answered', 'failed')),
    decided_at TIMESTAMPTZ,
    decided_by TEXT,
    answer     TEXT,
    error      TEXT
);

-- Every disclosure, written before the bytes leave: what, to whom, how big,
-- the SHA-256 of the exact bytes, and who approved.
CREATE TABLE disclosures (
    id          BIGSERIAL PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    thought_id  BIGINT REFERENCES thoughts (id) ON DELETE SET NULL,
    provider    TEXT NOT NULL,
    model       TEXT NOT NULL,
    bytes       BIGINT NOT NULL,
    sha256      TEXT NOT NULL,
    items       TEXT NOT NULL,
    approved_by TEXT NOT NULL,
    outcome     TEXT
);
