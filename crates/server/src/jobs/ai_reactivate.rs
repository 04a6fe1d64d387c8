//! `ai_reactivate` (flow 4's "AI back on if chosen", later): a handoff resolved without
//! turning the AI back on, at a location whose AI settings say "back on after N
//! minutes", turns it on when the time comes — unless another handoff was opened since.
//! Enqueued, delayed, in the transaction that resolves the handoff.

use std::time::Duration;

use domain::HandoffId;
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::queue::{Job, NewJob, Outcome};
use store::{StoreError, TenantScope};

use super::{storage, JobContext};

pub const AI_REACTIVATE: &str = "ai_reactivate";

#[derive(Debug, Serialize, Deserialize)]
pub struct AiReactivate {
    pub agency_id: domain::AgencyId,
    pub handoff_id: HandoffId,
}

/// The job turning the AI back on `after` the handoff is resolved.
pub fn job(agency: &domain::AgencyId, handoff: &HandoffId, after: Duration) -> NewJob {
    NewJob::new(
        AI_REACTIVATE,
        json!(AiReactivate {
            agency_id: agency.clone(),
            handoff_id: handoff.clone(),
        }),
    )
    .for_agency(agency)
    .delayed(after)
}

pub(super) async fn ai_reactivate(ctx: JobContext, _job: Job, p: AiReactivate) -> Outcome {
    let agency = match ctx.store.agency(&p.agency_id).await {
        Ok(agency) => agency,
        Err(StoreError::NotFound) => return Outcome::Completed,
        Err(e) => return storage(e),
    };
    let scope = TenantScope::for_agency(&agency);
    match ctx.store.reactivate_ai_after(&scope, &p.handoff_id).await {
        Ok(_) | Err(StoreError::NotFound) => Outcome::Completed,
        Err(e) => storage(e),
    }
}
