-- When a message was handed to Telegram without the answer recorded yet.
-- Set before each send; a row still carrying it when read again was in
-- flight when the process died (Telegram may or may not have it): it is
-- sent again, marked as a possible repeat.
ALTER TABLE telegram_outbox ADD COLUMN sending_at TIMESTAMPTZ;
