//! The rolling summary of a long conversation (flow 3's "older ones summarised").
//!
//! The model reads the last [`prompt::HISTORY`] messages verbatim. Messages older than
//! that are folded into the conversation's stored summary once, as they leave the window
//! (at most [`FOLD_AT_ONCE`] per reply, oldest first), so the prompt stays small however
//! long the conversation runs. If the model can't summarise now, the reply goes on with
//! the summary as it was: memory is worth less than an answer.

use ai::model::ModelEndpoint;
use domain::ConversationId;
use store::queue::Outcome;
use store::repo::{ConversationSummary, Message};
use store::TenantScope;

use super::prompt;
use crate::jobs::{storage, JobContext};

/// Messages folded into the summary per reply at most.
pub const FOLD_AT_ONCE: u32 = 40;

/// The conversation's summary, brought up to the oldest message of `recent` (newest
/// first, as the prompt reads them). Token usage of the summarising call is added.
pub async fn summary(
    ctx: &JobContext,
    scope: &TenantScope,
    endpoint: &ModelEndpoint,
    conversation: &ConversationId,
    recent: &[Message],
    usage: &mut (u64, u64),
) -> Result<ConversationSummary, Outcome> {
    let store = &ctx.store;
    let stored = store
        .conversation_summary(scope, conversation)
        .await
        .map_err(storage)?;
    // Fewer messages than the window: nothing has left it yet.
    let Some(oldest) = recent
        .last()
        .filter(|_| recent.len() >= prompt::HISTORY as usize)
    else {
        return Ok(stored);
    };
    let older = store
        .messages_to_summarise(scope, conversation, stored.through_ms, oldest, FOLD_AT_ONCE)
        .await
        .map_err(storage)?;
    let (Some(oldest_folded), Some(newest)) = (older.first(), older.last()) else {
        return Ok(stored);
    };
    let request = prompt::summary_request(stored.text.as_deref(), &older);
    let answer = match super::complete(&ctx.connectors.outbound, endpoint, &request, &[]).await {
        Ok(answer) => answer,
        Err(failure) => {
            tracing::warn!(%conversation, failure = failure.detail(), "the conversation could not be summarised now");
            return Ok(stored);
        }
    };
    usage.0 += answer.usage.prompt_tokens;
    usage.1 += answer.usage.completion_tokens;
    let Some(text) = answer
        .content
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
    else {
        return Ok(stored);
    };
    store
        .set_conversation_summary(
            scope,
            conversation,
            &text,
            oldest_folded.created_at_ms,
            newest.created_at_ms,
        )
        .await
        .map_err(storage)?;
    Ok(ConversationSummary {
        text: Some(text),
        through_ms: Some(newest.created_at_ms),
    })
}
