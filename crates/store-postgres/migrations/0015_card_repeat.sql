-- A repeating task's rule ("every monday", "monthly on the 1st"): when it
-- reaches a done list, the next one is added (core::repeat says when).
ALTER TABLE cards ADD COLUMN repeat TEXT;
