//! Handoffs: a conversation handed from the AI to a human (flow 4 of DESIGN.md).
//!
//! `pending` (nobody has it yet) → `assigned` (an agent took it) → `resolved`. Opening one
//! turns the AI off for the conversation in the same transaction, so the AI can't answer
//! between the request and an agent's arrival; resolving may turn it back on. A
//! conversation has at most one open handoff (a partial unique index), so a second request
//! while one is open returns the open one.

use domain::{ConversationId, HandoffId, LocationId, UserId};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::NewEvent;
use crate::error::StoreError;
use crate::page::{after_condition, Paged, Paging};
use crate::queue::NewJob;
use crate::store::Store;
use crate::tenant::TenantScope;

/// The states of a handoff.
pub const HANDOFF_STATES: [&str; 3] = ["pending", "assigned", "resolved"];

/// A handoff with what its queue row shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handoff {
    pub id: HandoffId,
    pub location_id: LocationId,
    pub conversation_id: ConversationId,
    pub state: String,
    pub reason: String,
    /// Who asked: `contact` (a keyword), `ai` (its tool), or `user:…`.
    pub requested_by: String,
    pub assigned_user_id: Option<UserId>,
    pub assigned_email: Option<String>,
    pub contact_name: String,
    pub contact_handle: Option<String>,
    pub created_at_ms: i64,
    pub resolved_at_ms: Option<i64>,
}

const COLUMNS: &str = "h.id, h.location_id, h.conversation_id, h.state, h.reason, \
    h.requested_by, h.assigned_user_id, u.email AS assigned_email, \
    ct.name AS contact_name, COALESCE(ct.phone, ct.email) AS contact_handle, \
    h.created_at, h.resolved_at";

const JOINS: &str = "FROM handoffs h JOIN conversations c ON c.id = h.conversation_id \
    JOIN contacts ct ON ct.id = c.contact_id LEFT JOIN users u ON u.id = h.assigned_user_id";

impl Handoff {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.try_get::<String, _>("id")?.parse()?,
            location_id: row.try_get::<String, _>("location_id")?.parse()?,
            conversation_id: row.try_get::<String, _>("conversation_id")?.parse()?,
            state: row.try_get("state")?,
            reason: row.try_get("reason")?,
            requested_by: row.try_get("requested_by")?,
            assigned_user_id: row
                .try_get::<Option<String>, _>("assigned_user_id")?
                .map(|id| id.parse())
                .transpose()?,
            assigned_email: row.try_get("assigned_email")?,
            contact_name: row.try_get("contact_name")?,
            contact_handle: row.try_get("contact_handle")?,
            created_at_ms: row.try_get("created_at")?,
            resolved_at_ms: row.try_get("resolved_at")?,
        })
    }
}

/// The `handoff.changed` event of a handoff now in `state`.
fn changed(
    agency: &domain::AgencyId,
    location: &LocationId,
    conversation: &ConversationId,
    id: &str,
    state: &str,
) -> NewEvent {
    NewEvent {
        agency_id: agency.clone(),
        location_id: location.clone(),
        conversation_id: Some(conversation.clone()),
        message_id: None,
        kind: domain::EventKind::HandoffChanged,
        data: serde_json::json!({"handoff_id": id, "state": state}),
    }
}

impl Store {
    /// Opens a handoff for the conversation (or returns the open one) and turns its AI
    /// off, in one transaction. A new handoff also enqueues `notice(handoff)` there (the
    /// agents' email notice: an outbox, so it is sent whenever the handoff exists, and a
    /// request while one is open notifies nobody again). `NotFound` outside the scope.
    pub async fn open_handoff(
        &self,
        scope: &TenantScope,
        conversation: &ConversationId,
        reason: &str,
        requested_by: &str,
        notice: &(dyn Fn(&Handoff) -> NewJob + Sync),
    ) -> Result<Handoff, StoreError> {
        let found = self.conversation(scope, conversation).await?;
        let mut tx = self.begin_for(scope).await?;
        let now = self.now_ms();
        let opened = sqlx::query(
            "INSERT INTO handoffs (id, agency_id, location_id, conversation_id, state, reason, \
             requested_by, created_at) \
             SELECT $1, agency_id, location_id, id, 'pending', $2, $3, $4 FROM conversations \
             WHERE id = $5 AND NOT EXISTS (SELECT 1 FROM handoffs WHERE conversation_id = $5 \
             AND state <> 'resolved') \
             ON CONFLICT DO NOTHING",
        )
        .bind(HandoffId::new().as_str())
        .bind(reason)
        .bind(requested_by)
        .bind(now)
        .bind(found.id.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        sqlx::query("UPDATE conversations SET ai_enabled = 0, updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(found.id.as_str())
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} {JOINS} WHERE h.conversation_id = $1 AND h.state <> 'resolved'"
        ))
        .bind(found.id.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let handoff = Handoff::from_row(&row)?;
        if opened {
            self.queue().enqueue(&mut tx, notice(&handoff)).await?;
        }
        let event = changed(
            scope.agency_id(),
            &found.location_id,
            &found.id,
            handoff.id.as_str(),
            &handoff.state,
        );
        self.record_events(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(handoff)
    }

    /// One handoff; `NotFound` outside the scope.
    pub async fn handoff(
        &self,
        scope: &TenantScope,
        id: &HandoffId,
    ) -> Result<Handoff, StoreError> {
        let (agency, only) = scope.binds();
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} {JOINS} WHERE h.id = $1 AND h.agency_id = $2 \
             AND ($3 IS NULL OR h.location_id = $3)"
        ))
        .bind(id.as_str())
        .bind(agency)
        .bind(only)
        .fetch_optional(&mut *self.db().tenant_reader(scope).await?)
        .await?
        .ok_or(StoreError::NotFound)?;
        Handoff::from_row(&row)
    }

    /// The scope's handoffs in one state, newest first.
    pub async fn handoffs_page(
        &self,
        scope: &TenantScope,
        state: &str,
        paging: &Paging,
    ) -> Result<Paged<Handoff>, StoreError> {
        let (agency, only) = scope.binds();
        let (at, after_id) = paging.after_binds();
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} {JOINS} WHERE h.agency_id = $1 AND ($2 IS NULL OR h.location_id = $2) \
             AND h.state = $3 AND {} ORDER BY h.created_at DESC, h.id DESC LIMIT $6",
            after_condition("h.created_at", "h.id", "$4", "$5")
        ))
        .bind(agency)
        .bind(only)
        .bind(state)
        .bind(at)
        .bind(after_id)
        .bind(paging.fetch())
        .fetch_all(&mut *self.db().tenant_reader(scope).await?)
        .await?;
        let handoffs = rows
            .iter()
            .map(Handoff::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Paged::from_rows(handoffs, paging, |h| {
            (h.created_at_ms, h.id.to_string())
        }))
    }

    /// How many handoffs of the scope wait for someone (`pending`).
    pub async fn pending_handoffs(&self, scope: &TenantScope) -> Result<i64, StoreError> {
        let (agency, only) = scope.binds();
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM handoffs WHERE agency_id = $1 \
             AND ($2 IS NULL OR location_id = $2) AND state = 'pending'",
        )
        .bind(agency)
        .bind(only)
        .fetch_one(&mut *self.db().tenant_reader(scope).await?)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// An agent takes an open handoff (also assigning them the conversation). Taking one
    /// that is resolved is `Conflict`.
    pub async fn assign_handoff(
        &self,
        scope: &TenantScope,
        id: &HandoffId,
        user: &UserId,
    ) -> Result<Handoff, StoreError> {
        let handoff = self.handoff(scope, id).await?;
        self.user_in_scope(scope, user).await?;
        let mut tx = self.begin_for(scope).await?;
        let now = self.now_ms();
        let done = sqlx::query(
            "UPDATE handoffs SET state = 'assigned', assigned_user_id = $1, assigned_at = $2 \
             WHERE id = $3 AND state <> 'resolved'",
        )
        .bind(user.as_str())
        .bind(now)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "the handoff is already resolved".into(),
            ));
        }
        sqlx::query(
            "UPDATE conversations SET assigned_user_id = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(user.as_str())
        .bind(now)
        .bind(handoff.conversation_id.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.handoff(scope, id).await
    }

    /// Resolves an open handoff; with `resume_ai` the AI answers the contact again.
    /// Without it, `later(handoff)` (the location's delayed reactivation, if it has one)
    /// is enqueued in the same transaction. Resolving one already resolved changes
    /// nothing and answers it as it is.
    pub async fn resolve_handoff(
        &self,
        scope: &TenantScope,
        id: &HandoffId,
        resume_ai: bool,
        later: Option<NewJob>,
    ) -> Result<Handoff, StoreError> {
        let handoff = self.handoff(scope, id).await?;
        let mut tx = self.begin_for(scope).await?;
        let now = self.now_ms();
        let done = sqlx::query(
            "UPDATE handoffs SET state = 'resolved', resolved_at = $1, ai_resumed = $2 \
             WHERE id = $3 AND state <> 'resolved'",
        )
        .bind(now)
        .bind(i64::from(resume_ai))
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 && resume_ai {
            sqlx::query("UPDATE conversations SET ai_enabled = 1, updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(handoff.conversation_id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        if let (1, false, Some(job)) = (done.rows_affected(), resume_ai, later) {
            self.queue().enqueue(&mut tx, job).await?;
        }
        if done.rows_affected() == 1 {
            let event = changed(
                scope.agency_id(),
                &handoff.location_id,
                &handoff.conversation_id,
                id.as_str(),
                "resolved",
            );
            self.record_events(&mut tx, &[event]).await?;
        }
        tx.commit().await?;
        self.handoff(scope, id).await
    }

    /// The delayed reactivation after a handoff resolved without the AI: turns the
    /// conversation's AI back on, unless another handoff was opened since (open or
    /// resolved: people are still on it). Returns whether it did.
    pub async fn reactivate_ai_after(
        &self,
        scope: &TenantScope,
        id: &HandoffId,
    ) -> Result<bool, StoreError> {
        let handoff = self.handoff(scope, id).await?;
        let mut tx = self.begin_for(scope).await?;
        let done = sqlx::query(
            "UPDATE conversations SET ai_enabled = 1, updated_at = $1 WHERE id = $2 \
             AND ai_enabled = 0 AND NOT EXISTS (SELECT 1 FROM handoffs WHERE conversation_id = $2 \
             AND id <> $3 AND (state <> 'resolved' OR created_at > $4))",
        )
        .bind(self.now_ms())
        .bind(handoff.conversation_id.as_str())
        .bind(id.as_str())
        .bind(handoff.created_at_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}
