-- Row-level security: a second wall between tenants, behind the tenant scope every query
-- already filters on (crates/store/src/tenant.rs).
--
-- A transaction working for one agency sets `switchboard.agency_id` (with set_config(…, true),
-- so it ends with the transaction; see Db::tenant_reader). In such a transaction every
-- tenant-owned table shows, and accepts, only that agency's rows, whatever the query says.
-- Without the setting (webhooks, workers, operator commands: work for the whole
-- installation) every row is visible, as before.
--
-- FORCE applies the policies to the tables' owner too, so they hold for an application
-- that connects as the owner. Superusers bypass row-level security altogether: run
-- Switchboard as an ordinary role (docs/ARCHITECTURE.md, "Tenant isolation").

CREATE FUNCTION switchboard_tenant() RETURNS TEXT LANGUAGE sql STABLE AS
$$ SELECT NULLIF(current_setting('switchboard.agency_id', true), '') $$;

ALTER TABLE locations ENABLE ROW LEVEL SECURITY;
ALTER TABLE locations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON locations
    USING (switchboard_tenant() IS NULL OR agency_id = switchboard_tenant());

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON users
    USING (switchboard_tenant() IS NULL OR agency_id = switchboard_tenant());

ALTER TABLE channels ENABLE ROW LEVEL SECURITY;
ALTER TABLE channels FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON channels
    USING (switchboard_tenant() IS NULL OR agency_id = switchboard_tenant());

ALTER TABLE contacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE contacts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON contacts
    USING (switchboard_tenant() IS NULL OR agency_id = switchboard_tenant());

ALTER TABLE conversations ENABLE ROW LEVEL SECURITY;
ALTER TABLE conversations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON conversations
    USING (switchboard_tenant() IS NULL OR agency_id = switchboard_tenant());

ALTER TABLE messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE messages FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON messages
    USING (switchboard_tenant() IS NULL OR agency_id = switchboard_tenant());

ALTER TABLE message_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE message_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON message_events
    USING (switchboard_tenant() IS NULL OR agency_id = switchboard_tenant());

ALTER TABLE webhook_receipts ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_receipts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON webhook_receipts
    USING (switchboard_tenant() IS NULL OR agency_id = switchboard_tenant());

ALTER TABLE consent_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE consent_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON consent_events
    USING (switchboard_tenant() IS NULL OR agency_id = switchboard_tenant());

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON audit_log
    USING (switchboard_tenant() IS NULL OR agency_id = switchboard_tenant());

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON api_keys
    USING (switchboard_tenant() IS NULL OR agency_id = switchboard_tenant());

ALTER TABLE installations ENABLE ROW LEVEL SECURITY;
ALTER TABLE installations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON installations
    USING (switchboard_tenant() IS NULL OR agency_id = switchboard_tenant());

ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON jobs
    USING (switchboard_tenant() IS NULL OR agency_id = switchboard_tenant());

ALTER TABLE agencies ENABLE ROW LEVEL SECURITY;
ALTER TABLE agencies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON agencies
    USING (switchboard_tenant() IS NULL OR id = switchboard_tenant());
