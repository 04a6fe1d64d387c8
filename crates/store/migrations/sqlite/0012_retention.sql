-- Retention (keep in step with ../postgres/0012_retention.sql): the daily
-- `retention` job (crates/server/src/jobs/retention.rs).

-- When a message's content (text, attachments, error, timeline quotes, stored media) was
-- removed at the end of SWITCHBOARD_MESSAGE_RETENTION_DAYS. The row stays for usage; the
-- mark makes the work resumable: a run picks up only messages not yet marked.
ALTER TABLE messages ADD COLUMN purged_at INTEGER;
-- The next batch to expire: the oldest messages not yet purged.
CREATE INDEX messages_to_expire ON messages(created_at, id) WHERE purged_at IS NULL;

-- When an uninstalled location's (or agency's) data was deleted after its purge date. The
-- row stays as a tombstone (ids, GHL id, history in the audit log), so a later re-install
-- finds it and provisions it again, clean; re-install clears the mark.
ALTER TABLE locations ADD COLUMN purged_at INTEGER;
ALTER TABLE agencies ADD COLUMN purged_at INTEGER;

-- Scheduled jobs made idempotent: at most one job per key (`retention:DAY`), whatever
-- the number of processes asking for it. NULLs are distinct, so ordinary jobs never
-- collide; done jobs are pruned after 7 days, so keys are per day, not forever.
ALTER TABLE jobs ADD COLUMN unique_key TEXT;
CREATE UNIQUE INDEX jobs_by_unique_key ON jobs(unique_key);
