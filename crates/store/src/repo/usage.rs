//! Usage: what a tenant's lines carried, per UTC day, read from the message records
//! themselves (and opt-outs from the consent log), so the dashboard's charts, its CSV export
//! and billing (which meters the same numbers) always reconcile exactly.
//!
//! A day is a UTC day: `created_at / 86400000`, integer division on both backends (times
//! are Unix milliseconds). A [`UsageRange`] names its first and last day, both included:
//! a message at 00:00:00.000 UTC of the first day counts, one at 00:00:00.000 of the day
//! after the last does not.

use domain::ChannelId;
use sqlx::Row;

use super::scope_filter;
use crate::error::StoreError;
use crate::store::Store;
use crate::tenant::TenantScope;

/// Milliseconds in a UTC day.
pub const DAY_MS: i64 = 86_400_000;

/// Days, as whole days since the Unix epoch (UTC), first and last both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageRange {
    pub first_day: i64,
    pub last_day: i64,
}

impl UsageRange {
    /// `[start, end)` in Unix milliseconds.
    pub fn bounds_ms(&self) -> (i64, i64) {
        (
            self.first_day.saturating_mul(DAY_MS),
            self.last_day.saturating_add(1).saturating_mul(DAY_MS),
        )
    }

    /// How many days the range spans (0 when it is reversed).
    pub fn days(&self) -> i64 {
        (self.last_day - self.first_day + 1).max(0)
    }
}

/// One day × channel × direction of usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    /// Days since the Unix epoch (UTC).
    pub day: i64,
    pub channel_id: ChannelId,
    pub provider: String,
    pub line: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// Messages stored, whatever their status.
    pub messages: i64,
    /// Their SMS segments (`messages.sms_segments`).
    pub sms_segments: i64,
    /// Outbound messages that left us: sent, delivered, read or failed (not pending).
    /// The delivery rate is `delivered / left`.
    pub left: i64,
    /// Outbound messages delivered or read.
    pub delivered: i64,
    /// Outbound messages that failed.
    pub failed: i64,
    /// Outbound messages written by the AI (actor `ai`).
    pub ai_replies: i64,
}

/// Opt-outs (consent events of kind `opt_out`) on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptOutDay {
    pub day: i64,
    pub opt_outs: i64,
}

/// A scope's usage over a range: rows by day, channel and direction (ordered by day,
/// provider, line, direction) and opt-outs by day (days without any are absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub rows: Vec<UsageRow>,
    pub opt_outs: Vec<OptOutDay>,
}

const USAGE_SQL: &str = "SELECT m.created_at / 86400000 AS day, m.channel_id, ch.provider, \
    ch.line, m.direction, COUNT(*) AS messages, \
    COALESCE(SUM(m.sms_segments), 0) AS sms_segments, \
    SUM(CASE WHEN m.direction = 'outbound' \
        AND m.status IN ('sent', 'delivered', 'read', 'failed') THEN 1 ELSE 0 END) AS left_us, \
    SUM(CASE WHEN m.direction = 'outbound' \
        AND m.status IN ('delivered', 'read') THEN 1 ELSE 0 END) AS delivered, \
    SUM(CASE WHEN m.direction = 'outbound' AND m.status = 'failed' THEN 1 ELSE 0 END) AS failed, \
    SUM(CASE WHEN m.direction = 'outbound' AND m.actor = 'ai' THEN 1 ELSE 0 END) AS ai_replies \
    FROM messages m JOIN channels ch ON ch.id = m.channel_id \
    WHERE m.created_at >= $3 AND m.created_at < $4 AND";

impl Store {
    /// The scope's usage over `range`: one grouped query over the messages, one over the
    /// consent log, both on the scope's reader (behind the row-level security wall for a
    /// walled scope).
    pub async fn usage(&self, scope: &TenantScope, range: UsageRange) -> Result<Usage, StoreError> {
        let (agency, location) = scope.binds();
        let (start, end) = range.bounds_ms();
        let mut reader = self.db().tenant_reader(scope).await?;
        let sql = format!(
            "{USAGE_SQL} m.agency_id = $1 AND ($2 IS NULL OR m.location_id = $2) \
             GROUP BY m.created_at / 86400000, m.channel_id, ch.provider, ch.line, m.direction \
             ORDER BY day, ch.provider, ch.line, m.channel_id, m.direction"
        );
        let rows = sqlx::query(&sql)
            .bind(agency)
            .bind(location)
            .bind(start)
            .bind(end)
            .fetch_all(&mut *reader)
            .await?;
        let rows = rows
            .iter()
            .map(|row| {
                Ok(UsageRow {
                    day: row.try_get("day")?,
                    channel_id: row.try_get::<String, _>("channel_id")?.parse()?,
                    provider: row.try_get("provider")?,
                    line: row.try_get("line")?,
                    direction: row.try_get("direction")?,
                    messages: row.try_get("messages")?,
                    sms_segments: row.try_get("sms_segments")?,
                    left: row.try_get("left_us")?,
                    delivered: row.try_get("delivered")?,
                    failed: row.try_get("failed")?,
                    ai_replies: row.try_get("ai_replies")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let opt_outs = sqlx::query(&format!(
            "SELECT at / 86400000 AS day, COUNT(*) AS opt_outs FROM consent_events \
             WHERE kind = 'opt_out' AND at >= $3 AND at < $4 AND {} \
             GROUP BY at / 86400000 ORDER BY day",
            scope_filter(1, 2)
        ))
        .bind(agency)
        .bind(location)
        .bind(start)
        .bind(end)
        .fetch_all(&mut *reader)
        .await?
        .iter()
        .map(|row| {
            Ok(OptOutDay {
                day: row.try_get("day")?,
                opt_outs: row.try_get("opt_outs")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        reader.finish().await?;
        Ok(Usage { rows, opt_outs })
    }

    /// How many AI replies a location of the scope has sent since `since_ms`: the AI's
    /// per-location budget counts them (the message records, so it agrees with usage).
    pub async fn ai_replies_since(
        &self,
        scope: &TenantScope,
        location: &domain::LocationId,
        since_ms: i64,
    ) -> Result<i64, StoreError> {
        let mut reader = self.db().tenant_reader(scope).await?;
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages WHERE agency_id = $1 AND location_id = $2 \
             AND created_at >= $3 AND direction = 'outbound' AND actor = 'ai'",
        )
        .bind(scope.agency_id().as_str())
        .bind(location.as_str())
        .bind(since_ms)
        .fetch_one(&mut *reader)
        .await?;
        reader.finish().await?;
        Ok(count)
    }
}
