-- Row-level security exists on PostgreSQL only (see ../postgres/0011_tenant_wall.sql).
-- SQLite is one file opened by one process: the tenant scope on every query is its wall.
-- This file keeps both backends' migration lists in step.
SELECT 1;
