-- A rule Z proposed in chat waits here (proposed_at set) until the owner
-- confirms it (proposed_at cleared: the rule is active) or drops it.
ALTER TABLE mail_rules ADD COLUMN proposed_at TEXT;
