-- The real-time event log: see ../postgres/0013_events.sql for why it looks like this.
-- AUTOINCREMENT: an id is never reused, even after the newest row is pruned, so a socket's
-- last seen id always means the same event.
CREATE TABLE events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    agency_id        TEXT NOT NULL,
    location_id      TEXT NOT NULL,
    conversation_id  TEXT,
    message_id       TEXT,
    kind             TEXT NOT NULL,
    data             TEXT NOT NULL DEFAULT '{}',
    created_at       BIGINT NOT NULL
);

CREATE INDEX events_by_agency ON events(agency_id, id);
CREATE INDEX events_by_created_at ON events(created_at);
