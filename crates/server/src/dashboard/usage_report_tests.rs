//! Unit tests of the usage report: CSV quoting and lines, totals and charts from rows.

use store::repo::{OptOutDay, UsageRow};

use super::*;

fn row(day: i64, line: &str, direction: &str, messages: i64) -> UsageRow {
    UsageRow {
        day,
        channel_id: domain::ChannelId::new(),
        provider: "twilio".into(),
        line: line.into(),
        direction: direction.into(),
        messages,
        sms_segments: messages * 2,
        left: if direction == "outbound" { messages } else { 0 },
        delivered: if direction == "outbound" {
            messages - 1
        } else {
            0
        },
        failed: if direction == "outbound" { 1 } else { 0 },
        ai_replies: 0,
    }
}

#[test]
fn csv_fields_are_quoted_only_when_they_must_be() {
    assert_eq!(csv_field("+15550000001"), "+15550000001");
    assert_eq!(csv_field("a,b"), "\"a,b\"");
    assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    assert_eq!(csv_field("cr\r"), "\"cr\r\"");
}

#[test]
fn the_csv_has_one_line_per_row_with_every_count() {
    let day = 20_000; // 2024-10-04
    let usage = Usage {
        rows: vec![
            row(day, "+1555", "outbound", 4),
            row(day, "a,\"b\"", "inbound", 2),
        ],
        opt_outs: vec![],
    };
    let text = csv(&usage);
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines.len(), 4, "header, two rows, the last line end");
    assert_eq!(lines[0], CSV_HEADER);
    let id = usage.rows[0].channel_id.to_string();
    assert_eq!(
        lines[1],
        format!("2024-10-04,{id},twilio,+1555,outbound,4,8,4,3,1,0")
    );
    assert!(
        lines[2].contains(",\"a,\"\"b\"\"\",inbound,2,4,0,0,0,0"),
        "{}",
        lines[2]
    );
    assert_eq!(lines[3], "");
}

#[test]
fn totals_and_charts_add_up_the_rows() {
    let range = UsageRange {
        first_day: 100,
        last_day: 102,
    };
    let usage = Usage {
        rows: vec![
            row(100, "+1555", "outbound", 4),
            row(102, "+1555", "outbound", 2),
            row(102, "+1555", "inbound", 5),
        ],
        opt_outs: vec![OptOutDay {
            day: 101,
            opt_outs: 2,
        }],
    };
    let report = Report::new(&usage, range);
    assert_eq!(
        (report.messages, report.inbound, report.outbound),
        (11, 5, 6)
    );
    assert_eq!((report.left, report.delivered, report.failed), (6, 4, 2));
    assert_eq!(report.delivery_rate, "66.7%");
    assert_eq!((report.opt_outs, report.sms_segments), (2, 22));
    assert_eq!(report.charts.len(), 5);
    let messages = report.charts[0].svg.to_string();
    assert!(messages.contains("<title>Messages per day</title>"));
    assert!(
        messages.contains(">11 Apr</text>"),
        "day 100 is 1970-04-11: {messages}"
    );
    let delivery = report.charts[1].svg.to_string();
    assert!(delivery.contains("<title>11 Apr: 75%</title>"), "3 of 4");
    assert!(delivery.contains("<title>13 Apr: 50%</title>"), "1 of 2");
    assert!(!delivery.contains("12 Apr: "), "nothing left that day");
    assert!(report.charts[2]
        .svg
        .to_string()
        .contains("<title>12 Apr: 2</title>"));
    assert_eq!(rate(0, 0), "–");
    assert_eq!(rate(1, 3), "33.3%");
}
