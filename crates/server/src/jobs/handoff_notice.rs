//! Email notices of a new handoff (flow 4): the agents who may take it hear by email, as
//! well as live in the dashboard.
//!
//! - `handoff_notice` is enqueued with the handoff, in its transaction
//!   ([`store::Store::open_handoff`]). It picks the recipients — the active users of the
//!   handoff's location and the agency's admins, not the user who asked — and enqueues one
//!   `handoff_email` each, under a unique key per (handoff, user), so a rerun adds nobody
//!   twice.
//! - `handoff_email` sends one email. A retry repeats only that one; SMTP takes no
//!   idempotency key, so a worker dying between the server's acceptance and the job's
//!   completion can send that one email twice, never the others.
//!
//! Without a mail server configured there is nothing to send: the notice completes and
//! says so in the log (the dashboard's live count still shows the handoff).

use serde::{Deserialize, Serialize};
use serde_json::json;
use store::queue::{Job, NewJob, Outcome};
use store::repo::Handoff;
use store::{StoreError, TenantScope};

use super::{storage, JobContext};
use crate::mail::{Mail, MailError};

pub const HANDOFF_NOTICE: &str = "handoff_notice";
pub const HANDOFF_EMAIL: &str = "handoff_email";

#[derive(Debug, Serialize, Deserialize)]
pub struct HandoffNotice {
    pub agency_id: domain::AgencyId,
    pub handoff_id: domain::HandoffId,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct HandoffEmail {
    pub agency_id: domain::AgencyId,
    pub handoff_id: domain::HandoffId,
    pub user_id: domain::UserId,
}

/// The `handoff_notice` job for a handoff just opened.
pub fn notice_job(agency: &domain::AgencyId) -> impl Fn(&Handoff) -> NewJob + Sync + '_ {
    move |handoff| {
        NewJob::new(
            HANDOFF_NOTICE,
            json!(HandoffNotice {
                agency_id: agency.clone(),
                handoff_id: handoff.id.clone(),
            }),
        )
        .for_agency(agency)
    }
}

async fn scope_of(ctx: &JobContext, agency: &domain::AgencyId) -> Result<TenantScope, Outcome> {
    match ctx.store.agency(agency).await {
        Ok(agency) => Ok(TenantScope::for_agency(&agency)),
        Err(StoreError::NotFound) => Err(Outcome::Completed),
        Err(e) => Err(storage(e)),
    }
}

/// Fans the notice out into one `handoff_email` per recipient.
pub(super) async fn handoff_notice(ctx: JobContext, _job: Job, p: HandoffNotice) -> Outcome {
    if !ctx.mailer.is_configured() {
        tracing::info!(handoff = %p.handoff_id, "no mail server: the handoff's email notice is skipped");
        return Outcome::Completed;
    }
    let scope = match scope_of(&ctx, &p.agency_id).await {
        Ok(scope) => scope,
        Err(outcome) => return outcome,
    };
    let store = &ctx.store;
    let handoff = match store.handoff(&scope, &p.handoff_id).await {
        Ok(h) => h,
        // Purged with its location since: nobody to tell.
        Err(StoreError::NotFound) => return Outcome::Completed,
        Err(e) => return storage(e),
    };
    let users = match store.users_of_scope(&scope).await {
        Ok(users) => users,
        Err(e) => return storage(e),
    };
    let asked_by = handoff.requested_by.strip_prefix("user:");
    let recipients = users.into_iter().filter(|u| {
        let may_take = match &u.location_id {
            Some(location) => *location == handoff.location_id,
            None => u.role == "agency_admin",
        };
        u.status == "active" && may_take && Some(u.id.as_str()) != asked_by
    });
    let enqueued = async {
        let mut tx = store.begin().await?;
        for user in recipients {
            let job = NewJob::new(
                HANDOFF_EMAIL,
                json!(HandoffEmail {
                    agency_id: p.agency_id.clone(),
                    handoff_id: handoff.id.clone(),
                    user_id: user.id.clone(),
                }),
            )
            .for_agency(&p.agency_id);
            let key = format!("handoff_email:{}:{}", handoff.id, user.id);
            store.queue().enqueue_unique(&mut tx, job, &key).await?;
        }
        tx.commit().await
    };
    match enqueued.await {
        Ok(()) => Outcome::Completed,
        Err(e) => storage(e),
    }
}

/// Sends one agent the notice.
pub(super) async fn handoff_email(ctx: JobContext, _job: Job, p: HandoffEmail) -> Outcome {
    let scope = match scope_of(&ctx, &p.agency_id).await {
        Ok(scope) => scope,
        Err(outcome) => return outcome,
    };
    let store = &ctx.store;
    let (handoff, user) = match (
        store.handoff(&scope, &p.handoff_id).await,
        store.user_of_scope(&scope, &p.user_id).await,
    ) {
        (Ok(h), Ok(u)) => (h, u),
        (Err(StoreError::NotFound), _) | (_, Err(StoreError::NotFound)) => {
            return Outcome::Completed
        }
        (Err(e), _) | (_, Err(e)) => return storage(e),
    };
    if handoff.state != "pending" || user.status != "active" {
        // Taken or resolved before the email went, or the user left: no news to send.
        return Outcome::Completed;
    }
    let brand = store.brand(&p.agency_id).await.ok();
    let who = match (
        handoff.contact_name.trim(),
        handoff.contact_handle.as_deref(),
    ) {
        ("", Some(handle)) => handle.to_string(),
        ("", None) => "A contact".to_string(),
        (name, _) => name.to_string(),
    };
    let link = format!(
        "{}/inbox/{}",
        ctx.config.public_url.trim_end_matches('/'),
        handoff.conversation_id
    );
    let mail = Mail {
        to: user.email.clone(),
        subject: format!("{who} needs a person"),
        text: format!(
            "{who} was handed to a person: {}.\n\n\
             Take the conversation from the handoff queue, or open it here:\n{link}\n",
            handoff.reason
        ),
        brand,
    };
    match ctx.mailer.send(&mail).await {
        Ok(()) => Outcome::Completed,
        Err(MailError::NotConfigured) => Outcome::Completed,
        Err(e @ MailError::Send(_)) => Outcome::Retry {
            error: e.to_string(),
            after: None,
        },
        Err(e) => Outcome::Permanent {
            error: e.to_string(),
        },
    }
}
