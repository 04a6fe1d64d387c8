//! An agency's Stripe billing, as Stripe's webhooks last told it (flow 6).
//!
//! Checkout links a Stripe customer to an agency (its `client_reference_id` is our agency
//! id); subscription events then find the agency by that customer. Stripe doesn't
//! promise the order of events, so each subscription change carries its event's
//! `created` and never overwrites a newer one. Every change runs in the caller's
//! transaction, the one that records the event's id, so an event is applied once.

use domain::AgencyId;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::StoreError;
use crate::store::Store;
use crate::tenant::TenantScope;
use crate::tx::Tx;

/// An agency's billing state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgencyBilling {
    pub agency_id: AgencyId,
    pub stripe_customer_id: String,
    pub subscription_id: Option<String>,
    /// Stripe's subscription status (`active`, `past_due`, `canceled`, …).
    pub status: Option<String>,
    /// The subscription's prices: the plan.
    pub price_ids: Vec<String>,
    /// Unix seconds.
    pub current_period_end: Option<i64>,
    pub cancel_at_period_end: bool,
    /// When the last payment failed (Unix ms), until an invoice is paid.
    pub payment_failed_at_ms: Option<i64>,
}

/// A subscription as an event showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionState<'a> {
    pub customer: &'a str,
    pub subscription_id: &'a str,
    pub status: &'a str,
    pub price_ids: &'a [String],
    pub current_period_end: Option<i64>,
    pub cancel_at_period_end: bool,
    /// The event's `created`, Unix seconds.
    pub event_created: i64,
}

const COLUMNS: &str = "agency_id, stripe_customer_id, subscription_id, status, price_ids, \
    current_period_end, cancel_at_period_end, payment_failed_at";

impl AgencyBilling {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(Self {
            agency_id: row.try_get::<String, _>("agency_id")?.parse()?,
            stripe_customer_id: row.try_get("stripe_customer_id")?,
            subscription_id: row.try_get("subscription_id")?,
            status: row.try_get("status")?,
            price_ids: serde_json::from_str(&row.try_get::<String, _>("price_ids")?)?,
            current_period_end: row.try_get("current_period_end")?,
            cancel_at_period_end: row.try_get::<i64, _>("cancel_at_period_end")? != 0,
            payment_failed_at_ms: row.try_get("payment_failed_at")?,
        })
    }
}

impl Store {
    /// Links a Stripe customer to an agency (checkout completed). False when the agency
    /// doesn't exist (a checkout of another installation, or a forged reference): nothing
    /// is written. A customer already linked to another agency stays with it.
    pub async fn link_stripe_customer(
        &self,
        tx: &mut Tx,
        agency: &str,
        customer: &str,
        subscription: Option<&str>,
    ) -> Result<bool, StoreError> {
        let owner: Option<String> = sqlx::query_scalar(
            "SELECT agency_id FROM agency_billing WHERE stripe_customer_id = $1",
        )
        .bind(customer)
        .fetch_optional(&mut **tx)
        .await?;
        if owner.is_some_and(|owner| owner != agency) {
            // The customer is another agency's already: the link stays as it was.
            return Ok(false);
        }
        let done = sqlx::query(
            "INSERT INTO agency_billing (agency_id, stripe_customer_id, subscription_id, updated_at) \
             SELECT id, $2, $3, $4 FROM agencies WHERE id = $1 \
             ON CONFLICT (agency_id) DO UPDATE SET stripe_customer_id = excluded.stripe_customer_id, \
             subscription_id = COALESCE(excluded.subscription_id, agency_billing.subscription_id), \
             updated_at = excluded.updated_at",
        )
        .bind(agency)
        .bind(customer)
        .bind(subscription)
        .bind(self.now_ms())
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Applies a subscription's state unless a newer event was applied already. Returns
    /// the agency it changed, `None` for an unknown customer or a stale event.
    pub async fn apply_subscription(
        &self,
        tx: &mut Tx,
        state: &SubscriptionState<'_>,
    ) -> Result<Option<AgencyId>, StoreError> {
        let row = sqlx::query(
            "UPDATE agency_billing SET subscription_id = $1, status = $2, price_ids = $3, \
             current_period_end = $4, cancel_at_period_end = $5, subscription_event_at = $6, \
             updated_at = $7 WHERE stripe_customer_id = $8 \
             AND (subscription_event_at IS NULL OR subscription_event_at <= $6) RETURNING agency_id",
        )
        .bind(state.subscription_id)
        .bind(state.status)
        .bind(serde_json::to_string(state.price_ids)?)
        .bind(state.current_period_end)
        .bind(i64::from(state.cancel_at_period_end))
        .bind(state.event_created)
        .bind(self.now_ms())
        .bind(state.customer)
        .fetch_optional(&mut **tx)
        .await?;
        row.map(|r| Ok(r.try_get::<String, _>("agency_id")?.parse()?))
            .transpose()
    }

    /// Records an invoice's outcome for the customer: a failed payment starts the grace
    /// period (the first failure's time is kept), a paid invoice ends it. Returns the
    /// agency, `None` for an unknown customer.
    pub async fn record_invoice(
        &self,
        tx: &mut Tx,
        customer: &str,
        paid: bool,
    ) -> Result<Option<AgencyId>, StoreError> {
        let sql = if paid {
            "UPDATE agency_billing SET payment_failed_at = NULL, updated_at = $1 \
             WHERE stripe_customer_id = $2 RETURNING agency_id"
        } else {
            "UPDATE agency_billing SET payment_failed_at = COALESCE(payment_failed_at, $1), \
             updated_at = $1 WHERE stripe_customer_id = $2 RETURNING agency_id"
        };
        let row = sqlx::query(sql)
            .bind(self.now_ms())
            .bind(customer)
            .fetch_optional(&mut **tx)
            .await?;
        row.map(|r| Ok(r.try_get::<String, _>("agency_id")?.parse()?))
            .transpose()
    }

    /// Every agency linked to a Stripe customer, with that customer: whose usage is
    /// reported to Stripe. For the metering job, which then scopes to each.
    pub async fn billed_agencies(&self) -> Result<Vec<(super::Agency, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.id, a.name, a.ghl_company_id, a.status, a.created_at, b.stripe_customer_id \
             FROM agencies a JOIN agency_billing b ON b.agency_id = a.id ORDER BY a.id",
        )
        .fetch_all(self.db().reader())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    super::Agency::from_row(row)?,
                    row.try_get("stripe_customer_id")?,
                ))
            })
            .collect()
    }

    /// The scope's agency's billing, if it was ever linked to Stripe.
    pub async fn agency_billing(
        &self,
        scope: &TenantScope,
    ) -> Result<Option<AgencyBilling>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM agency_billing WHERE agency_id = $1"
        ))
        .bind(scope.agency_id().as_str())
        .fetch_optional(&mut *self.db().tenant_reader(scope).await?)
        .await?;
        row.as_ref().map(AgencyBilling::from_row).transpose()
    }
}
