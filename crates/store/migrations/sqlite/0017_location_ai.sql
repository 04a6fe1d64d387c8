-- A location's AI switch, quiet hours and handoff phrases, set in the dashboard's settings.
-- ai_enabled: whether the AI answers any of the location's contacts (each conversation
-- also has its own switch; both must be on). quiet_start/quiet_end: minutes after local
-- midnight (in the location's time_zone) between which nobody is messaged unprompted;
-- both NULL for none. The window may wrap past midnight (21:00–08:00).
ALTER TABLE locations ADD COLUMN ai_enabled INTEGER NOT NULL DEFAULT 1 CHECK (ai_enabled IN (0, 1));
ALTER TABLE locations ADD COLUMN quiet_start INTEGER CHECK (quiet_start BETWEEN 0 AND 1439);
ALTER TABLE locations ADD COLUMN quiet_end INTEGER CHECK (quiet_end BETWEEN 0 AND 1439);
-- handoff_phrases: what a contact writes to ask for a person (one per line); NULL for the
-- defaults (domain::handoff::DEFAULT_PHRASES), '' for none.
ALTER TABLE locations ADD COLUMN handoff_phrases TEXT;
