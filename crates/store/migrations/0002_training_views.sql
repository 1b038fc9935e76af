-- What exports need to rebuild each view of an episode from the raw events.
ALTER TABLE episodes ADD COLUMN messages TEXT;
ALTER TABLE steps ADD COLUMN tool_output TEXT;
