-- The agency a job works for, so an agency's admins can see and replay their own dead
-- jobs (and nobody else's). NULL for installation-wide jobs (provisioning a new install),
-- which only operators see.
ALTER TABLE jobs ADD COLUMN agency_id TEXT;
CREATE INDEX jobs_dead_by_agency ON jobs(agency_id, id) WHERE state = 'dead';
