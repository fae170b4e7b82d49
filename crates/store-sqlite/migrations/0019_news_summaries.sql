-- When an item's summary was written by the local model from the
-- article's page (NULL: the extractive first sentence from the feed).
ALTER TABLE news_items ADD COLUMN summarized_at TEXT;
