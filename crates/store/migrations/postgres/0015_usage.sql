-- Usage (crates/store/src/repo/usage.rs): a tenant's messages over a range of days, read
-- from the message records (billing meters the same numbers). Opt-outs use
-- consent_events_by_agency (0010).
CREATE INDEX messages_by_agency_time ON messages(agency_id, created_at);
