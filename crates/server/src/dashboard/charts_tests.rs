//! Unit tests of the charts: scales, stacking, empty data, escaping, the legend.

use super::*;

fn chart(series: Vec<Series>, unit: Unit) -> BarChart {
    BarChart {
        title: "Messages per day".into(),
        summary: "3 messages".into(),
        days: vec!["01 Nov".into(), "02 Nov".into(), "03 Nov".into()],
        series,
        unit,
        empty: "No messages in this range".into(),
    }
}

fn counts(name: &str, values: &[f64]) -> Series {
    Series {
        name: name.into(),
        values: values.iter().copied().map(Some).collect(),
    }
}

#[test]
fn count_scales_have_round_steps_above_the_tallest_bar() {
    assert_eq!(
        Scale::counts(0.0),
        Scale {
            step: 1.0,
            top: 1.0
        }
    );
    assert_eq!(
        Scale::counts(3.0),
        Scale {
            step: 1.0,
            top: 3.0
        }
    );
    assert_eq!(
        Scale::counts(7.0),
        Scale {
            step: 2.0,
            top: 8.0
        }
    );
    assert_eq!(
        Scale::counts(10.0),
        Scale {
            step: 5.0,
            top: 10.0
        }
    );
    assert_eq!(
        Scale::counts(1234.0),
        Scale {
            step: 500.0,
            top: 1500.0
        }
    );
    assert_eq!(
        Scale::counts(40.0),
        Scale {
            step: 10.0,
            top: 40.0
        }
    );
    assert_eq!(Scale::counts(3.0).ticks(), vec![0.0, 1.0, 2.0, 3.0]);
    assert_eq!(Scale::percent().ticks(), vec![0.0, 25.0, 50.0, 75.0, 100.0]);
    let s = Scale::counts(10.0);
    assert_eq!(s.y(0.0), BOTTOM);
    assert_eq!(s.y(10.0), TOP);
    assert_eq!(s.y(5.0), (TOP + BOTTOM) / 2.0);
    assert_eq!(s.y(99.0), TOP, "clamped to the plot");
}

#[test]
fn bars_stack_per_day_and_the_axis_covers_the_tallest_stack() {
    let c = chart(
        vec![
            counts("in", &[1.0, 0.0, 2.0]),
            counts("out", &[2.0, 0.0, 5.0]),
        ],
        Unit::Count,
    );
    assert_eq!(
        c.scale(),
        Scale {
            step: 2.0,
            top: 8.0
        }
    );
    let svg = c.render().to_string();
    assert!(svg.starts_with("<svg class=\"chart\" viewBox=\"0 0 720 252\" role=\"img\""));
    assert!(svg.contains("<title>Messages per day</title>"));
    assert!(svg.contains("aria-label=\"Messages per day. 3 messages\""));
    assert_eq!(
        svg.matches("<rect class=\"series-0\"").count(),
        2 + 1,
        "bars + legend"
    );
    assert_eq!(svg.matches("<rect class=\"series-1\"").count(), 2 + 1);
    assert!(svg.contains("<title>03 Nov: 7</title>"));
    assert!(
        svg.contains("<title>02 Nov: 0</title>"),
        "a zero day is still a day"
    );
    assert!(!svg.contains("No messages"));
    assert!(svg.contains(">in</text>") && svg.contains(">out</text>"));
    assert!(svg.ends_with("</svg>"));
}

#[test]
fn an_empty_chart_says_so_and_keeps_its_frame() {
    let empty = chart(vec![counts("in", &[0.0, 0.0, 0.0])], Unit::Count);
    assert!(empty.is_empty());
    let svg = empty.render();
    assert!(svg
        .to_string()
        .contains(">No messages in this range</text>"));
    assert!(!svg.to_string().contains("<g><title>"), "no bars");
    assert!(svg.to_string().contains("class=\"axis\""));
    let nothing = chart(Vec::new(), Unit::Percent);
    assert!(nothing.is_empty());
    assert_eq!(nothing.height(), LEGEND_TOP + LEGEND_ROW);
    assert!(nothing.render().to_string().contains("100%"));
}

#[test]
fn percent_days_without_data_have_no_bar() {
    let c = chart(
        vec![Series {
            name: "Delivered".into(),
            values: vec![Some(50.0), None, Some(100.0)],
        }],
        Unit::Percent,
    );
    let svg = c.render();
    assert_eq!(svg.to_string().matches("<g><title>").count(), 2);
    assert!(svg.to_string().contains("<title>01 Nov: 50%</title>"));
    assert!(!svg.to_string().contains("02 Nov: "));
}

#[test]
fn every_label_is_escaped() {
    let nasty = "<script>alert('x')</script> & \"q\"";
    let mut c = chart(vec![counts(nasty, &[1.0, 2.0, 3.0])], Unit::Count);
    c.title = nasty.into();
    c.summary = nasty.into();
    c.days[0] = nasty.into();
    c.empty = nasty.into();
    let svg = c.render().to_string();
    assert!(!svg.contains("<script"), "{svg}");
    assert!(!svg.contains("'x'") && !svg.contains("\"q\""));
    assert!(svg.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"));
    assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
}

#[test]
fn the_legend_wraps_in_rows_and_sets_the_height() {
    let many: Vec<Series> = (0..10)
        .map(|i| counts(&format!("s{i}"), &[1.0; 3]))
        .collect();
    let c = chart(many, Unit::Count);
    assert_eq!(c.height(), LEGEND_TOP + 4.0 * LEGEND_ROW);
    let svg = c.render();
    assert!(svg.to_string().contains("class=\"series-1\""));
    assert!(
        svg.to_string()
            .contains("class=\"series-1\" x=\"52.0\" y=\"282.0\""),
        "s9 wraps to row 4, colour 9 % 8"
    );
}

#[test]
fn long_ranges_label_some_days_only() {
    let days: Vec<String> = (0..366).map(|d| format!("d{d}")).collect();
    let c = BarChart {
        days,
        series: vec![counts("x", &[1.0; 366])],
        ..chart(Vec::new(), Unit::Count)
    };
    let svg = c.render();
    let labels = svg.to_string().matches("text-anchor=\"middle\">d").count();
    assert!((1..=MAX_DAY_LABELS).contains(&labels), "{labels}");
}
