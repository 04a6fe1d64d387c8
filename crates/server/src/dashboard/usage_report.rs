//! What the usage page and its CSV show of [`store::repo::Usage`]: totals, per-channel
//! rows, the charts' series, and the CSV text. Pure arithmetic over the store's rows, so
//! every number on the page and in the file is a sum of the same records billing reads.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use store::repo::{Usage, UsageRange, UsageRow, DAY_MS};

use super::charts::{BarChart, Series, Svg, Unit};
use super::views::provider_label;

/// A day number as `2026-11-01` (UTC).
pub fn iso_day(day: i64) -> String {
    chrono::DateTime::from_timestamp_millis(day.saturating_mul(DAY_MS))
        .map_or_else(String::new, |d| d.format("%Y-%m-%d").to_string())
}

/// A day number as a chart labels it: `01 Nov`.
fn short_day(day: i64) -> String {
    chrono::DateTime::from_timestamp_millis(day.saturating_mul(DAY_MS))
        .map_or_else(String::new, |d| d.format("%d %b").to_string())
}

/// One channel and direction over the whole range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelTotal {
    pub channel: String,
    pub direction: String,
    pub messages: i64,
    pub sms_segments: i64,
    pub delivered: i64,
    pub failed: i64,
    pub ai_replies: i64,
}

/// A chart ready for the page.
#[derive(Debug, Clone)]
pub struct ChartView {
    pub id: &'static str,
    pub title: String,
    pub svg: Svg,
}

/// Everything the page shows for a range.
#[derive(Debug, Clone)]
pub struct Report {
    pub messages: i64,
    pub inbound: i64,
    pub outbound: i64,
    /// Outbound messages that left us (sent, delivered, read or failed).
    pub left: i64,
    pub delivered: i64,
    pub failed: i64,
    /// `delivered / left` as a percentage with one decimal, or `–` when nothing left.
    pub delivery_rate: String,
    pub opt_outs: i64,
    pub ai_replies: i64,
    pub sms_segments: i64,
    pub channels: Vec<ChannelTotal>,
    pub charts: Vec<ChartView>,
}

/// A percentage with one decimal, or `–` for nothing over nothing.
pub fn rate(part: i64, whole: i64) -> String {
    if whole == 0 {
        "–".to_string()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

fn channel_name(row: &UsageRow) -> String {
    format!("{} {}", provider_label(&row.provider), row.line)
}

/// Values per day of the range from `(day, value)` pairs; days without any are `zero`.
fn per_day(
    range: UsageRange,
    pairs: impl Iterator<Item = (i64, f64)>,
    zero: Option<f64>,
) -> Vec<Option<f64>> {
    let mut values = vec![zero; usize::try_from(range.days()).unwrap_or(0)];
    for (day, value) in pairs {
        if let Some(slot) = usize::try_from(day - range.first_day)
            .ok()
            .and_then(|i| values.get_mut(i))
        {
            *slot = Some(slot.unwrap_or(0.0) + value);
        }
    }
    values
}

impl Report {
    pub fn new(usage: &Usage, range: UsageRange) -> Self {
        let rows = &usage.rows;
        let sum = |f: fn(&UsageRow) -> i64| rows.iter().map(f).sum::<i64>();
        let of = |direction: &str| {
            rows.iter()
                .filter(|r| r.direction == direction)
                .map(|r| r.messages)
                .sum::<i64>()
        };
        let left = sum(|r| r.left);
        let delivered = sum(|r| r.delivered);
        let mut channels: BTreeMap<(String, String, String), ChannelTotal> = BTreeMap::new();
        for r in rows {
            let key = (
                channel_name(r),
                r.channel_id.to_string(),
                r.direction.clone(),
            );
            let total = channels.entry(key).or_insert_with(|| ChannelTotal {
                channel: channel_name(r),
                direction: r.direction.clone(),
                ..ChannelTotal::default()
            });
            total.messages += r.messages;
            total.sms_segments += r.sms_segments;
            total.delivered += r.delivered;
            total.failed += r.failed;
            total.ai_replies += r.ai_replies;
        }
        let opt_outs = usage.opt_outs.iter().map(|o| o.opt_outs).sum();
        Self {
            messages: sum(|r| r.messages),
            inbound: of("inbound"),
            outbound: of("outbound"),
            left,
            delivered,
            failed: sum(|r| r.failed),
            delivery_rate: rate(delivered, left),
            opt_outs,
            ai_replies: sum(|r| r.ai_replies),
            sms_segments: sum(|r| r.sms_segments),
            charts: charts(usage, range, &channels),
            channels: channels.into_values().collect(),
        }
    }
}

fn charts(
    usage: &Usage,
    range: UsageRange,
    channels: &BTreeMap<(String, String, String), ChannelTotal>,
) -> Vec<ChartView> {
    let days: Vec<String> = (range.first_day..=range.last_day).map(short_day).collect();
    let zero = Some(0.0);
    let chart =
        |id, title: &str, summary: String, series: Vec<Series>, unit, empty: &str| ChartView {
            id,
            title: title.to_string(),
            svg: BarChart {
                title: title.to_string(),
                summary,
                days: days.clone(),
                series,
                unit,
                empty: empty.to_string(),
            }
            .render(),
        };
    let rows = &usage.rows;
    let messages: Vec<Series> = channels
        .keys()
        .map(|(name, id, direction)| Series {
            name: format!("{name} {direction}"),
            values: per_day(
                range,
                rows.iter()
                    .filter(|r| r.channel_id.as_str() == id && &r.direction == direction)
                    .map(|r| (r.day, r.messages as f64)),
                zero,
            ),
        })
        .collect();
    let total_messages: i64 = rows.iter().map(|r| r.messages).sum();
    let outbound = || rows.iter().filter(|r| r.direction == "outbound");
    let delivered = per_day(range, outbound().map(|r| (r.day, r.delivered as f64)), None);
    let left = per_day(range, outbound().map(|r| (r.day, r.left as f64)), None);
    let rates: Vec<Option<f64>> = delivered
        .iter()
        .zip(&left)
        .map(|(d, l)| match l {
            Some(l) if *l > 0.0 => Some(d.unwrap_or(0.0) * 100.0 / l),
            _ => None,
        })
        .collect();
    let (all_delivered, all_left) =
        outbound().fold((0, 0), |(d, l), r| (d + r.delivered, l + r.left));
    let opt_outs: i64 = usage.opt_outs.iter().map(|o| o.opt_outs).sum();
    let ai: i64 = rows.iter().map(|r| r.ai_replies).sum();
    let segments_of = |direction: &'static str| Series {
        name: format!("{direction} segments"),
        values: per_day(
            range,
            rows.iter()
                .filter(|r| r.direction == direction)
                .map(|r| (r.day, r.sms_segments as f64)),
            zero,
        ),
    };
    let segments: i64 = rows.iter().map(|r| r.sms_segments).sum();
    vec![
        chart(
            "messages",
            "Messages per day",
            format!("{total_messages} messages, by line and direction"),
            messages,
            Unit::Count,
            "No messages in this range",
        ),
        chart(
            "delivery",
            "Delivery rate per day",
            format!(
                "{} of {all_left} outbound messages that left were delivered or read",
                rate(all_delivered, all_left)
            ),
            vec![Series {
                name: "Delivered or read, of sent".into(),
                values: rates,
            }],
            Unit::Percent,
            "No outbound messages left in this range",
        ),
        chart(
            "opt-outs",
            "Opt-outs per day",
            format!("{opt_outs} opt-outs"),
            vec![Series {
                name: "Opt-outs".into(),
                values: per_day(
                    range,
                    usage.opt_outs.iter().map(|o| (o.day, o.opt_outs as f64)),
                    zero,
                ),
            }],
            Unit::Count,
            "No opt-outs in this range",
        ),
        chart(
            "ai-replies",
            "AI replies per day",
            format!("{ai} AI replies"),
            vec![Series {
                name: "AI replies".into(),
                values: per_day(
                    range,
                    outbound().map(|r| (r.day, r.ai_replies as f64)),
                    zero,
                ),
            }],
            Unit::Count,
            "No AI replies in this range",
        ),
        chart(
            "segments",
            "SMS segments per day",
            format!("{segments} SMS segments"),
            vec![segments_of("inbound"), segments_of("outbound")],
            Unit::Count,
            "No messages in this range",
        ),
    ]
}

/// One CSV field: quoted when it holds a comma, a quote or a line break (quotes doubled).
pub fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// The CSV header.
pub const CSV_HEADER: &str =
    "day,channel_id,provider,line,direction,messages,sms_segments,left,delivered,failed,ai_replies";

/// The usage rows as CSV: a header, then one line per day × channel × direction, in the
/// store's order (`\r\n` line ends, RFC 4180).
pub fn csv(usage: &Usage) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push_str("\r\n");
    for r in &usage.rows {
        let text = [
            iso_day(r.day),
            r.channel_id.to_string(),
            r.provider.clone(),
            r.line.clone(),
            r.direction.clone(),
        ];
        let fields: Vec<String> = text.iter().map(|t| csv_field(t)).collect();
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "{},{},{},{},{},{},{}\r\n",
            fields.join(","),
            r.messages,
            r.sms_segments,
            r.left,
            r.delivered,
            r.failed,
            r.ai_replies
        );
    }
    out
}

#[cfg(test)]
#[path = "usage_report_tests.rs"]
mod tests;
