-- Ready jobs by pacing key: when a key's budget runs out, its waiting jobs are moved to
-- the hold's end in one statement (crates/store/src/queue/finish.rs), so claims stop
-- walking past them one by one.
CREATE INDEX jobs_paced ON jobs(pacing_key, run_at) WHERE state = 'ready' AND pacing_key IS NOT NULL;
