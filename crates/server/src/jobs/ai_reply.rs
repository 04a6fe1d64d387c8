//! `ai_reply` (flow 3): the AI answers a contact's message.
//!
//! Enqueued by `sync_inbound` once the message is in GHL, under a unique key per message.
//! Everything that decides whether to answer is checked again when the job runs, because
//! the world moves between the two: the location's and the conversation's AI switches (a
//! handoff turns the latter off), the contact's consent, a newer message from the contact
//! (its own job answers the burst as a whole), quiet hours (the job waits them out without
//! spending attempts), at most one AI reply per contact per [`MIN_GAP`], and the location's
//! budget of replies a day (`SWITCHBOARD_AI_REPLIES_PER_DAY`). Only inbound
//! messages start a reply, so the AI never answers itself or a human.
//!
//! The model may call `request_human` (a handoff: the AI goes quiet, agents are told) in a
//! bounded loop of [`MAX_ROUNDS`]; a bad or unknown call goes back to the model as the
//! tool's error. The reply is stored like any send (consent, pacing and status reports
//! apply) with actor `ai` and the idempotency key `ai:{message}`, so a rerun never sends a
//! second one. Every decision lands on the contact's message timeline.

use std::collections::HashMap;
use std::time::Duration;

use ai::model::{ChatMessage, ChatReply};
use domain::{Actor, Direction, MessageId};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use store::queue::{Job, NewJob, Outcome};
use store::repo::{ApiSend, ApiSent, MessageFilter};
use store::{Paging, StoreError, TenantScope};

use super::{outcome_of, storage, JobContext};
use crate::agent::{self, memory, prompt, tools};
use crate::knowledge;

pub const AI_REPLY: &str = "ai_reply";
/// At most one AI reply per contact within this gap.
pub const MIN_GAP: Duration = Duration::from_secs(10);
/// Model calls per reply: the first answer and tool rounds after it.
pub const MAX_ROUNDS: usize = 4;

#[derive(Debug, Serialize, Deserialize)]
pub struct AiReply {
    pub message_id: MessageId,
}

/// The job for a contact's message; unique per message.
pub fn job(
    agency: &domain::AgencyId,
    conversation: &domain::ConversationId,
    message: &MessageId,
) -> (NewJob, String) {
    (
        NewJob::new(
            AI_REPLY,
            json!(AiReply {
                message_id: message.clone()
            }),
        )
        .for_agency(agency)
        .ordered_by(format!("ai:{conversation}")),
        format!("ai_reply:{message}"),
    )
}

async fn note(
    ctx: &JobContext,
    agency: &domain::AgencyId,
    message: &MessageId,
    kind: &'static str,
    detail: Value,
) -> Result<(), Outcome> {
    let (writer, agency, message) = (ctx.store.clone(), agency.clone(), message.clone());
    ctx.store
        .write(move |tx| {
            Box::pin(async move {
                writer
                    .append_message_event(tx, &agency, &message, kind, detail)
                    .await
            })
        })
        .await
        .map(|_| ())
        .map_err(storage)
}

/// Records why the AI stays silent, and completes.
async fn skip(
    ctx: &JobContext,
    agency: &domain::AgencyId,
    message: &MessageId,
    why: &str,
) -> Outcome {
    match note(ctx, agency, message, "ai.skipped", json!({"reason": why})).await {
        Ok(()) => Outcome::Completed,
        Err(outcome) => outcome,
    }
}

pub(super) async fn ai_reply(ctx: JobContext, _job: Job, p: AiReply) -> Outcome {
    match run(&ctx, &p).await {
        Ok(outcome) | Err(outcome) => outcome,
    }
}

/// Opens a handoff because the model asked for a person.
async fn request_human(
    ctx: &JobContext,
    scope: &TenantScope,
    agency: &domain::AgencyId,
    conversation: &domain::ConversationId,
    args: &Value,
) -> Result<Value, Outcome> {
    let reason = args
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or("the AI asked for a person")
        .chars()
        .take(200)
        .collect::<String>();
    let opened = ctx
        .store
        .open_handoff(
            scope,
            conversation,
            &format!("the AI asked for a person: {reason}"),
            "ai",
            &super::handoff_notice::notice_job(agency),
        )
        .await
        .map_err(storage)?;
    Ok(
        json!({"ok": true, "handoff_id": opened.id, "note": "A person will take over; tell the contact briefly."}),
    )
}

/// The tool calls an earlier run of this job made and recorded (`ai.tool`), by tool and
/// arguments, with their results: a rerun reuses them instead of calling again.
async fn earlier_tool_results(
    ctx: &JobContext,
    scope: &TenantScope,
    message: &MessageId,
) -> Result<HashMap<(String, Value), Value>, Outcome> {
    let timeline = found(ctx.store.message_timeline(scope, message).await)?;
    Ok(timeline
        .into_iter()
        .filter(|e| e.kind == "ai.tool" && e.detail["result"]["ok"] == json!(true))
        .filter_map(|e| {
            let tool = e.detail["tool"].as_str()?.to_string();
            Some((
                (tool, e.detail["arguments"].clone()),
                e.detail["result"].clone(),
            ))
        })
        .collect())
}

fn found<T>(result: Result<T, StoreError>) -> Result<T, Outcome> {
    result.map_err(|e| match e {
        // Erased or purged since: nobody to answer.
        StoreError::NotFound => Outcome::Completed,
        e => storage(e),
    })
}

async fn run(ctx: &JobContext, p: &AiReply) -> Result<Outcome, Outcome> {
    let store = &ctx.store;
    let agency = found(store.agency_of_message(&p.message_id).await)?;
    let scope = TenantScope::for_agency(&agency);
    let agency = agency.id;
    let message = found(store.message(&scope, &p.message_id).await)?;
    let conversation = found(store.conversation(&scope, &message.conversation_id).await)?;
    let location = found(store.location(&scope, &conversation.location_id).await)?;
    let contact = found(store.contact(&scope, &conversation.contact_id).await)?;
    let id = &message.id;
    if message.direction != Direction::Inbound {
        return Ok(skip(ctx, &agency, id, "only a contact's message is answered").await);
    }
    if !location.ai_enabled {
        return Ok(skip(ctx, &agency, id, "the AI is off for this location").await);
    }
    if !conversation.ai_enabled {
        return Ok(skip(
            ctx,
            &agency,
            id,
            "the AI is off for this conversation (or a person has it)",
        )
        .await);
    }
    if contact.opted_out {
        return Ok(skip(ctx, &agency, id, "the contact opted out").await);
    }
    let (endpoint, settings) =
        found(agent::endpoint_for(store, &ctx.config, &scope, &location.id).await)?;
    let Some(endpoint) = endpoint else {
        return Ok(skip(ctx, &agency, id, "no model key is set for this location").await);
    };
    let recent = found(
        store
            .messages_page(
                &scope,
                &conversation.id,
                &MessageFilter::default(),
                &Paging::first(prompt::HISTORY),
            )
            .await,
    )?
    .items;
    let newest_inbound = recent.iter().find(|m| m.direction == Direction::Inbound);
    if newest_inbound
        .is_some_and(|m| m.id != message.id && m.created_at_ms >= message.created_at_ms)
    {
        return Ok(skip(
            ctx,
            &agency,
            id,
            "a newer message from the contact is answered instead",
        )
        .await);
    }
    let now = store.now_ms();
    let zone = location.zone();
    if let Some(wait) = location.quiet_hours.and_then(|q| q.wait_from(now, &zone)) {
        return Ok(Outcome::RateLimited {
            error: "quiet hours at the location: the reply waits for them to end".into(),
            after: wait,
        });
    }
    let last_ai = recent
        .iter()
        .filter(|m| m.direction == Direction::Outbound && m.actor == Actor::Ai)
        .map(|m| m.created_at_ms)
        .max();
    if let Some(at) = last_ai {
        let since = Duration::from_millis(u64::try_from(now - at).unwrap_or(0));
        if since < MIN_GAP {
            return Ok(Outcome::RateLimited {
                error: "the AI answered this contact moments ago".into(),
                after: MIN_GAP - since,
            });
        }
    }

    let budget = settings
        .replies_per_day
        .unwrap_or(ctx.config.ai_replies_per_day);
    if budget > 0 {
        let since = now - 24 * 3_600_000;
        let spent = store
            .ai_replies_since(&scope, &location.id, since)
            .await
            .map_err(storage)?;
        if spent >= i64::from(budget) {
            return Ok(skip(
                ctx,
                &agency,
                id,
                &format!("the location's AI budget ({budget} replies a day) is spent"),
            )
            .await);
        }
    }

    let assessed = ai::assess(&message.body);
    let mut usage = (0u64, 0u64);
    let summary = memory::summary(
        ctx,
        &scope,
        &endpoint,
        &conversation.id,
        &recent,
        &mut usage,
    )
    .await?;
    let found_passages = knowledge::search::search(
        store,
        &ctx.connectors.outbound,
        &scope,
        &location.id,
        Some(&endpoint),
        &message.body,
        knowledge::search::TOP_K,
    )
    .await
    .map_err(storage)?;
    // The contact as GHL has it: tags and fields agents set there. Best effort: a reply
    // without them beats no reply.
    let on_file = match &contact.ghl_contact_id {
        Some(ghl_id) => ctx
            .connectors
            .ghl
            .call(
                store,
                &location,
                "get_contact",
                |api| api.get_contact(ghl_id),
                ghl::api::parse_contact,
            )
            .await
            .ok(),
        None => None,
    };
    let local_time = zone
        .clock_at(now)
        .map_or_else(|| "unknown".to_string(), |t| t.to_string());
    let mut messages = vec![ChatMessage::System {
        content: prompt::system(&prompt::Context {
            location: &location,
            strategy: &settings.strategy,
            local_time: &local_time,
            contact: &contact,
            on_file: on_file.as_ref(),
            passages: &found_passages.passages,
            summary: summary.text.as_deref(),
            can_book: settings.calendar_id.is_some(),
        }),
    }];
    messages.extend(prompt::history(&recent));
    let tools = tools::specs(&settings);
    let runner = tools::Tools {
        store,
        ghl: &ctx.connectors.ghl,
        location: &location,
        contact: &contact,
        settings: &settings,
        now_ms: now,
    };
    let done_before = earlier_tool_results(ctx, &scope, id).await?;
    let mut calls = Vec::new();
    let mut handed_off = false;
    let mut answer: Option<ChatReply> = None;
    for _ in 0..MAX_ROUNDS {
        let reply = agent::complete(&ctx.connectors.outbound, &endpoint, &messages, &tools)
            .await
            .map_err(outcome_of)?;
        usage.0 += reply.usage.prompt_tokens;
        usage.1 += reply.usage.completion_tokens;
        if reply.tool_calls.is_empty() {
            answer = Some(reply);
            break;
        }
        messages.push(reply.as_message());
        for call in &reply.tool_calls {
            let args = call.arguments().map(Value::Object);
            let result = match (call.name.as_str(), &args) {
                (tools::REQUEST_HUMAN, Ok(args)) => {
                    handed_off = true;
                    request_human(ctx, &scope, &agency, &conversation.id, args).await?
                }
                (_, Err(why)) => json!({"ok": false, "error": why}),
                (name, Ok(args)) => match done_before.get(&(name.to_string(), args.clone())) {
                    // A rerun of this job: the call was made and recorded, it is not made
                    // twice (a booking stays one booking).
                    Some(result) => result.clone(),
                    None => runner.run(name, args).await.unwrap_or_else(
                        || json!({"ok": false, "error": format!("there is no tool named {name}")}),
                    ),
                },
            };
            let record =
                json!({"tool": call.name, "arguments": args.as_ref().ok(), "result": result});
            note(ctx, &agency, id, "ai.tool", record.clone()).await?;
            calls.push(record);
            messages.push(ChatMessage::Tool {
                tool_call_id: call.id.clone(),
                content: result.to_string(),
            });
        }
    }
    let passages: Vec<Value> = found_passages
        .passages
        .iter()
        .map(|p| {
            json!({
                "id": p.id, "source_id": p.source_id, "title": p.title, "page_url": p.page_url,
                "text": p.text, "score": p.score, "lexical_rank": p.lexical_rank,
                "vector_rank": p.vector_rank, "injection_suspected": p.injection_suspected,
            })
        })
        .collect();
    let detail = json!({
        "model": endpoint.chat_model,
        "retrieval": found_passages.mode,
        "retrieval_problem": found_passages.vector_problem,
        "passages": passages,
        "summary_through": summary.through_ms,
        "prompt_tokens": usage.0,
        "completion_tokens": usage.1,
        "tool_calls": calls,
        "injection_suspected": assessed.suspicious,
        "injection_reasons": assessed.reasons,
        "handed_off": handed_off,
    });
    let text = answer
        .as_ref()
        .and_then(|a| a.content.as_deref())
        .map(prompt::reply_text)
        .unwrap_or_default();
    if text.is_empty() {
        note(ctx, &agency, id, "ai.no_reply", detail).await?;
        return Ok(Outcome::Completed);
    }
    let key = format!("ai:{}", message.id);
    let sent = store
        .send_from_api(
            &scope,
            &conversation,
            &ApiSend {
                message_id: None,
                body: &text,
                attachments: &[],
                actor: Actor::Ai,
                caller: "ai",
                idempotency_key: Some(&key),
            },
            &crate::webhooks::deliver_job,
        )
        .await
        .map_err(storage)?;
    let reply = match sent {
        ApiSent::Created(m) | ApiSent::Repeated(m) => m.id,
    };
    let mut detail = detail;
    detail["reply_message_id"] = json!(reply);
    note(ctx, &agency, id, "ai.replied", detail).await?;
    Ok(Outcome::Completed)
}
