-- An agency's Stripe billing, as Stripe's webhooks last told it (flow 6 of DESIGN.md).
-- stripe_customer_id: linked by checkout.session.completed, whose client_reference_id is
-- our agency id. status: Stripe's subscription status (trialing, active, past_due,
-- canceled, unpaid, incomplete, incomplete_expired, paused). price_ids: JSON array of the
-- subscription's prices (the plan). payment_failed_at: the last invoice.payment_failed,
-- cleared by invoice.paid; the grace period runs from it. subscription_event_at: created
-- (Unix seconds) of the newest subscription event applied: Stripe doesn't promise order,
-- and an older event never overwrites a newer one.
CREATE TABLE agency_billing (
    agency_id             TEXT PRIMARY KEY REFERENCES agencies(id),
    stripe_customer_id    TEXT NOT NULL UNIQUE,
    subscription_id       TEXT,
    status                TEXT,
    price_ids             TEXT NOT NULL DEFAULT '[]',
    current_period_end    BIGINT,
    cancel_at_period_end  INTEGER NOT NULL DEFAULT 0 CHECK (cancel_at_period_end IN (0, 1)),
    payment_failed_at     BIGINT,
    subscription_event_at BIGINT,
    updated_at            BIGINT NOT NULL
);

-- Behind the tenant wall like every tenant-owned table (0011_tenant_wall.sql).
ALTER TABLE agency_billing ENABLE ROW LEVEL SECURITY;
ALTER TABLE agency_billing FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON agency_billing
    USING (switchboard_tenant() IS NULL OR agency_id = switchboard_tenant());
