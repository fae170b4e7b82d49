-- The owner's money, kept locally. An import is a batch (undone as one);
-- a transaction is kept once by its dedupe key (openzero_finance::
-- dedupe_keys: the bank's id, else the documented field key with a count
-- of identical rows in the file). Amounts are integer minor units of
-- their currency; dates are the booking day as YYYY-MM-DD. A category
-- says where it came from: a rule, the owner, or learned from the owner's
-- corrections. Budgets are per category and month, in minor units.
CREATE TABLE finance_batches (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    file        TEXT NOT NULL,
    format      TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    added       INTEGER NOT NULL DEFAULT 0,
    undone_at   TEXT
);
CREATE TABLE finance_transactions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id        INTEGER NOT NULL REFERENCES finance_batches (id),
    account         TEXT NOT NULL,
    dedupe_key      TEXT NOT NULL UNIQUE,
    day             TEXT NOT NULL,
    amount_minor    INTEGER NOT NULL,
    currency        TEXT NOT NULL,
    payee           TEXT NOT NULL,
    description     TEXT NOT NULL,
    bank_id         TEXT,
    category        TEXT,
    category_source TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX finance_transactions_day ON finance_transactions (day);
CREATE TABLE finance_rules (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    pattern  TEXT NOT NULL,
    category TEXT NOT NULL,
    position INTEGER NOT NULL
);
CREATE TABLE finance_budgets (
    category     TEXT NOT NULL,
    currency     TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    PRIMARY KEY (category, currency)
);
