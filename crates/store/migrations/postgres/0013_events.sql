-- The real-time event log (crates/store/src/events.rs, crates/server/src/live/): one row per
-- change a dashboard shows live (a message stored, a status moved), written in the
-- transaction of the change it reports, read by every process's hub and replayed to a
-- socket that reconnects with the last id it saw.
--
-- Rows carry ids, kinds and states only, never message bodies or personal data, so contact
-- erasure and retention need not chase them; housekeeping deletes them after a day.
-- No foreign keys: the log is short-lived and written on the hot path, and a row must not
-- stand in the way of deleting what it names.
CREATE TABLE events (
    id               BIGSERIAL PRIMARY KEY,
    agency_id        TEXT NOT NULL,
    location_id      TEXT NOT NULL,
    conversation_id  TEXT,
    message_id       TEXT,
    kind             TEXT NOT NULL,
    data             TEXT NOT NULL DEFAULT '{}',
    created_at       BIGINT NOT NULL
);

-- A socket's replay: "after this id, within my agency".
CREATE INDEX events_by_agency ON events(agency_id, id);
-- Housekeeping's prune.
CREATE INDEX events_by_created_at ON events(created_at);

-- Behind the tenant wall like every tenant table (see 0011_tenant_wall.sql).
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
ALTER TABLE events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON events
    USING (switchboard_tenant() IS NULL OR agency_id = switchboard_tenant());
