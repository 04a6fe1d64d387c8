//! GHL's outbound messages (flow 1), accepted in groups.
//!
//! Every provider webhook GHL sends is a message to store `pending` with its timeline and
//! its `deliver` job, committed before GHL gets its 200. Done one webhook per transaction,
//! that is about ten statements, each a round trip to the database (on SQLite, to the one
//! writer connection's thread), which bounds ingest at about a thousand webhooks a second.
//! [`Store::accept_outbound`] takes a group of webhooks and does the same work for all of
//! them in one transaction with a handful of multi-row statements: a read of the locations
//! and their lines, receipts, a read of the contacts and of their conversations, the messages, the conversations' `last_message_at`,
//! the timeline entries and the jobs. Only what is new (a contact GHL never sent us, a first
//! conversation on a line) costs statements of its own.

use std::collections::{HashMap, HashSet};

use domain::{ContactId, LocationId, MessageEventId, MessageId, MessageStatus, WebhookReceiptId};
use sqlx::Row;

use super::messages::created_detail;
use super::{Channel, Contact, Conversation, Location, NewEvent, NewMessage};
use crate::error::StoreError;
use crate::multirow::{self, values_list, values_rows};
use crate::queue::NewJob;
use crate::store::Store;
use crate::tx::Tx;

/// One message GHL asks us to send (a verified, parsed provider webhook).
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    /// GHL's id of the location (the webhook's `locationId`).
    pub ghl_location_id: String,
    /// GHL's `webhookId`, when it sent one: a receipt is recorded under `receipt_source`.
    pub webhook_id: Option<String>,
    pub ghl_contact_id: String,
    /// The contact's number, E.164.
    pub phone: String,
    /// The message; its `ghl_message_id` dedupes redeliveries per location.
    pub message: NewMessage,
    /// The `webhook.received` timeline entry's detail.
    pub received: serde_json::Value,
}

/// A message accepted for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedOutbound {
    pub message_id: MessageId,
    pub conversation: Conversation,
    pub agency_id: domain::AgencyId,
}

/// What became of one [`OutboundRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundOutcome {
    Accepted(AcceptedOutbound),
    /// A redelivery (same `webhookId`, or same GHL message id): nothing stored.
    Duplicate,
    /// No location has this GHL id: nothing stored.
    UnknownLocation,
    /// The location has no active channel to send on: nothing stored (not even a receipt),
    /// so the caller can record the failure its own way.
    NoChannel(Location),
    /// The location's install was removed (`UNINSTALL`): nothing stored, nothing sent.
    Uninstalled(Location),
}

/// The `message.created` event of a message accepted from GHL (stored `pending`).
fn created_event(
    agency: &domain::AgencyId,
    message: &MessageId,
    conversation: &Conversation,
    new: &NewMessage,
) -> NewEvent {
    NewEvent {
        agency_id: agency.clone(),
        location_id: conversation.location_id.clone(),
        conversation_id: Some(conversation.id.clone()),
        message_id: Some(message.clone()),
        kind: domain::EventKind::MessageCreated,
        data: serde_json::json!({
            "direction": new.direction, "actor": new.actor,
            "status": MessageStatus::Pending, "channel_id": conversation.channel_id,
        }),
    }
}

/// A request whose location and lines are known.
struct Placed<'a> {
    /// Its position among the requests.
    index: usize,
    request: &'a OutboundRequest,
    location: &'a Location,
    /// The location's active channels, oldest first (the line for a contact who never
    /// talked).
    channels: &'a [Channel],
}

/// The contacts of one location known by GHL id.
type KnownContacts = HashMap<(LocationId, String), Contact>;

impl Store {
    /// Stores a group of GHL's outbound messages in one transaction, each with its
    /// `created` and `webhook.received` timeline entries and the job `job` makes for it;
    /// returns one outcome per request, in order. Locations are found by GHL id and their
    /// active channels read in the same transaction. The line is the one the contact last
    /// talked on, else the location's first channel. A request repeated within the group is
    /// a duplicate of its first occurrence.
    ///
    /// All or nothing: on error nothing is stored, and the caller may retry the requests
    /// one by one to isolate a bad one.
    pub async fn accept_outbound(
        &self,
        receipt_source: &str,
        requests: &[OutboundRequest],
        job: &(dyn Fn(&AcceptedOutbound) -> NewJob + Sync),
    ) -> Result<Vec<OutboundOutcome>, StoreError> {
        let mut tx = self.begin().await?;
        let (locations, lines) = self.locations_and_lines(&mut tx, requests).await?;
        let mut outcomes: Vec<Option<OutboundOutcome>> = Vec::with_capacity(requests.len());
        let mut placed = Vec::with_capacity(requests.len());
        for (index, request) in requests.iter().enumerate() {
            let Some(location) = locations.get(&request.ghl_location_id) else {
                outcomes.push(Some(OutboundOutcome::UnknownLocation));
                continue;
            };
            if location.status == super::UNINSTALLED {
                outcomes.push(Some(OutboundOutcome::Uninstalled(location.clone())));
                continue;
            }
            let channels = lines
                .get(&location.id)
                .map(Vec::as_slice)
                .unwrap_or_default();
            if channels.is_empty() {
                outcomes.push(Some(OutboundOutcome::NoChannel(location.clone())));
                continue;
            }
            outcomes.push(None);
            placed.push(Placed {
                index,
                request,
                location,
                channels,
            });
        }
        let new = self
            .record_receipts(&mut tx, receipt_source, &placed)
            .await?;
        let placed: Vec<Placed> = placed
            .into_iter()
            .zip(new)
            .filter_map(|(p, new)| new.then_some(p))
            .collect();
        let mut known = self.contacts_by_ghl_id(&mut tx, &placed).await?;
        let mut conversations = self.conversations_of(&mut tx, known.values()).await?;
        // Resolve each message's conversation, creating contacts and conversations on the
        // way (rarely: only a contact's first message, or first on a line).
        let mut resolved = Vec::with_capacity(placed.len());
        for p in &placed {
            let conversation = self
                .resolve_conversation(&mut tx, p, &mut known, &mut conversations)
                .await?;
            resolved.push((MessageId::new(), conversation));
        }
        let inserted = self
            .insert_outbound_messages(&mut tx, &placed, &resolved)
            .await?;
        let mut jobs = Vec::new();
        let mut touched = Vec::new();
        let mut events = Vec::new();
        let mut live = Vec::new();
        for (p, (message_id, conversation)) in placed.iter().zip(resolved) {
            if !inserted.contains(&message_id) {
                continue;
            }
            let agency = &p.location.agency_id;
            events.push((
                agency,
                message_id.clone(),
                "created",
                created_detail(&p.request.message),
            ));
            events.push((
                agency,
                message_id.clone(),
                "webhook.received",
                p.request.received.clone(),
            ));
            live.push(created_event(
                agency,
                &message_id,
                &conversation,
                &p.request.message,
            ));
            touched.push(conversation.id.to_string());
            let accepted = AcceptedOutbound {
                message_id,
                conversation,
                agency_id: agency.clone(),
            };
            jobs.push(job(&accepted));
            outcomes[p.index] = Some(OutboundOutcome::Accepted(accepted));
        }
        self.touch_conversations(&mut tx, &touched).await?;
        self.append_message_events(&mut tx, &events).await?;
        self.record_events(&mut tx, &live).await?;
        self.queue().enqueue_many(&mut tx, &jobs).await?;
        tx.commit().await?;
        // What is neither placed elsewhere nor stored was a duplicate.
        Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or(OutboundOutcome::Duplicate))
            .collect())
    }

    /// The requests' locations by GHL id, and their active channels, oldest first.
    async fn locations_and_lines(
        &self,
        tx: &mut Tx,
        requests: &[OutboundRequest],
    ) -> Result<(HashMap<String, Location>, HashMap<LocationId, Vec<Channel>>), StoreError> {
        let mut ghl_ids: Vec<&str> = requests
            .iter()
            .map(|r| r.ghl_location_id.as_str())
            .collect();
        ghl_ids.sort_unstable();
        ghl_ids.dedup();
        let mut locations = HashMap::new();
        for chunk in multirow::chunks(&ghl_ids, 1) {
            let sql = format!(
                "SELECT {} FROM locations WHERE ghl_location_id IN ({})",
                super::locations::COLUMNS,
                values_list(chunk.len(), 1)
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut **tx).await? {
                let location = Location::from_row(&row)?;
                locations.insert(location.ghl_location_id.clone(), location);
            }
        }
        let ids: Vec<&str> = locations.values().map(|l| l.id.as_str()).collect();
        let mut lines: HashMap<LocationId, Vec<Channel>> = HashMap::new();
        for chunk in multirow::chunks(&ids, 1) {
            // The same lines, in the same order, as `Store::channels` gives the location.
            let sql = format!(
                "SELECT {} FROM channels WHERE status = 'active' AND location_id IN ({}) ORDER BY id",
                super::channels::COLUMNS,
                values_list(chunk.len(), 1)
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut **tx).await? {
                let channel = Channel::from_row(&row)?;
                lines
                    .entry(channel.location_id.clone())
                    .or_default()
                    .push(channel);
            }
        }
        Ok((locations, lines))
    }

    /// Records the receipts of the messages that carry a `webhookId`; returns, per
    /// message, whether it is new (not seen before, nor earlier in this group).
    async fn record_receipts(
        &self,
        tx: &mut Tx,
        source: &str,
        placed: &[Placed<'_>],
    ) -> Result<Vec<bool>, StoreError> {
        let with_id: Vec<&Placed> = placed
            .iter()
            .filter(|p| p.request.webhook_id.is_some())
            .collect();
        let mut new_ids = HashSet::new();
        for chunk in multirow::chunks(&with_id, 3) {
            let sql = format!(
                "INSERT INTO webhook_receipts (id, source, external_id, agency_id, received_at) \
                 VALUES {} ON CONFLICT (source, external_id) DO NOTHING RETURNING external_id",
                values_rows(chunk.len(), &["", "$1", "", "", "$2"], 3)
            );
            let mut query = sqlx::query_scalar::<_, String>(&sql)
                .bind(source)
                .bind(self.now_ms());
            for p in chunk {
                query = query
                    .bind(WebhookReceiptId::new().to_string())
                    .bind(p.request.webhook_id.as_deref())
                    .bind(p.location.agency_id.as_str());
            }
            new_ids.extend(query.fetch_all(&mut **tx).await?);
        }
        Ok(placed
            .iter()
            .map(|p| match &p.request.webhook_id {
                // The first message with an id takes it; repeats find it gone.
                Some(id) => new_ids.remove(id),
                None => true,
            })
            .collect())
    }

    /// The contacts the messages name, by (location, GHL contact id).
    async fn contacts_by_ghl_id(
        &self,
        tx: &mut Tx,
        placed: &[Placed<'_>],
    ) -> Result<KnownContacts, StoreError> {
        let mut by_location: HashMap<&LocationId, Vec<&str>> = HashMap::new();
        for p in placed {
            by_location
                .entry(&p.location.id)
                .or_default()
                .push(&p.request.ghl_contact_id);
        }
        let mut known = KnownContacts::new();
        for (location, mut ids) in by_location {
            ids.sort_unstable();
            ids.dedup();
            for chunk in multirow::chunks(&ids, 1) {
                let list = values_list(chunk.len(), 2);
                let sql = format!(
                    "SELECT {} FROM contacts WHERE location_id = $1 AND ghl_contact_id IN ({list})",
                    super::contacts::CONTACT_COLUMNS
                );
                let mut query = sqlx::query(&sql).bind(location.as_str());
                for id in chunk {
                    query = query.bind(*id);
                }
                for row in query.fetch_all(&mut **tx).await? {
                    let contact = Contact::from_row(&row)?;
                    if let Some(ghl_id) = contact.ghl_contact_id.clone() {
                        known.insert((contact.location_id.clone(), ghl_id), contact);
                    }
                }
            }
        }
        Ok(known)
    }

    /// Every conversation of these contacts, most recent first per contact.
    async fn conversations_of(
        &self,
        tx: &mut Tx,
        contacts: impl Iterator<Item = &Contact>,
    ) -> Result<HashMap<ContactId, Vec<Conversation>>, StoreError> {
        let ids: Vec<&str> = contacts.map(|c| c.id.as_str()).collect();
        let mut rows = Vec::new();
        for chunk in multirow::chunks(&ids, 1) {
            let list = values_list(chunk.len(), 1);
            let sql = format!(
                "SELECT {}, COALESCE(last_message_at, created_at) AS recent \
                 FROM conversations WHERE contact_id IN ({list})",
                super::contacts::CONVERSATION_COLUMNS
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut **tx).await? {
                let recent: i64 = row.try_get("recent")?;
                rows.push((recent, Conversation::from_row(&row)?));
            }
        }
        // The order `last_channel_of_contact` uses: most recent, then newest id.
        rows.sort_by(|(a, x), (b, y)| b.cmp(a).then_with(|| y.id.as_str().cmp(x.id.as_str())));
        let mut by_contact: HashMap<ContactId, Vec<Conversation>> = HashMap::new();
        for (_, conversation) in rows {
            by_contact
                .entry(conversation.contact_id.clone())
                .or_default()
                .push(conversation);
        }
        Ok(by_contact)
    }

    /// The conversation a request's message goes into, creating the contact (mapped to
    /// GHL's id) and the conversation when new.
    async fn resolve_conversation(
        &self,
        tx: &mut Tx,
        placed: &Placed<'_>,
        known: &mut KnownContacts,
        conversations: &mut HashMap<ContactId, Vec<Conversation>>,
    ) -> Result<Conversation, StoreError> {
        let Placed {
            request,
            location,
            channels,
            ..
        } = placed;
        let first = channels.first().ok_or(StoreError::NotFound)?;
        let key = (location.id.clone(), request.ghl_contact_id.clone());
        let contact = match known.get(&key) {
            Some(contact) => contact.clone(),
            None => {
                let contact = self.contact_for_handle(tx, first, &request.phone).await?;
                self.link_ghl_contact(tx, &contact.id, &request.ghl_contact_id)
                    .await?;
                known.insert(key, contact.clone());
                contact
            }
        };
        let of_contact = conversations.entry(contact.id.clone()).or_default();
        let channel = of_contact
            .first()
            .and_then(|last| channels.iter().find(|c| c.id == last.channel_id))
            .unwrap_or(first);
        if let Some(conversation) = of_contact.iter().find(|c| c.channel_id == channel.id) {
            return Ok(conversation.clone());
        }
        let conversation = self.conversation_for(tx, channel, &contact).await?;
        of_contact.insert(0, conversation.clone());
        Ok(conversation)
    }

    /// Inserts the resolved requests' messages, `pending`; returns the ids actually
    /// inserted (a GHL message id already stored, or repeated in the group, is not).
    async fn insert_outbound_messages(
        &self,
        tx: &mut Tx,
        placed: &[Placed<'_>],
        resolved: &[(MessageId, Conversation)],
    ) -> Result<HashSet<MessageId>, StoreError> {
        let rows: Vec<(&Placed, &MessageId, &Conversation)> = placed
            .iter()
            .zip(resolved)
            .map(|(p, (id, c))| (p, id, c))
            .collect();
        let mut inserted = HashSet::new();
        for chunk in multirow::chunks(&rows, 13) {
            let sql = format!(
                "INSERT INTO messages (id, agency_id, location_id, conversation_id, channel_id, \
                 direction, actor, body, attachments, status, provider_message_id, \
                 ghl_message_id, sms_segments, created_at, updated_at) VALUES {} \
                 ON CONFLICT DO NOTHING RETURNING id",
                values_rows(
                    chunk.len(),
                    &["", "", "", "", "", "", "", "", "", "", "", "", "", "$1", "$1"],
                    2
                )
            );
            let mut query = sqlx::query_scalar::<_, String>(&sql).bind(self.now_ms());
            for (p, id, conversation) in chunk {
                let new = &p.request.message;
                query = query
                    .bind(id.as_str())
                    .bind(p.location.agency_id.as_str())
                    .bind(conversation.location_id.as_str())
                    .bind(conversation.id.as_str())
                    .bind(conversation.channel_id.as_str())
                    .bind(new.direction.as_str())
                    .bind(new.actor.as_str())
                    .bind(new.body.as_str())
                    .bind(serde_json::to_string(&new.attachments)?)
                    .bind(MessageStatus::Pending.as_str())
                    .bind(new.provider_message_id.as_deref())
                    .bind(new.ghl_message_id.as_deref())
                    .bind(super::messages::sms_segments_of(&new.body));
            }
            for id in query.fetch_all(&mut **tx).await? {
                inserted.insert(id.parse()?);
            }
        }
        Ok(inserted)
    }

    /// Sets `last_message_at` on conversations that just got a message.
    async fn touch_conversations(&self, tx: &mut Tx, ids: &[String]) -> Result<(), StoreError> {
        let mut ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        ids.sort_unstable();
        ids.dedup();
        for chunk in multirow::chunks(&ids, 1) {
            let list = values_list(chunk.len(), 2);
            let sql = format!(
                "UPDATE conversations SET last_message_at = $1, updated_at = $1 WHERE id IN ({list})"
            );
            let mut query = sqlx::query(&sql).bind(self.now_ms());
            for id in chunk {
                query = query.bind(*id);
            }
            query.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Adds timeline entries (agency, message, kind, detail) with multi-row statements.
    async fn append_message_events(
        &self,
        tx: &mut Tx,
        events: &[(&domain::AgencyId, MessageId, &str, serde_json::Value)],
    ) -> Result<(), StoreError> {
        for chunk in multirow::chunks(events, 5) {
            let sql = format!(
                "INSERT INTO message_events (id, agency_id, message_id, kind, detail, at) VALUES {}",
                values_rows(chunk.len(), &["", "", "", "", "", "$1"], 2)
            );
            let mut query = sqlx::query(&sql).bind(self.now_ms());
            for (agency, message, kind, detail) in chunk {
                query = query
                    .bind(MessageEventId::new().to_string())
                    .bind(agency.as_str())
                    .bind(message.as_str())
                    .bind(*kind)
                    .bind(detail.to_string());
            }
            query.execute(&mut **tx).await?;
        }
        Ok(())
    }
}
