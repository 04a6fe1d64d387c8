//! Charts drawn on the server as SVG: bars per day, stacked by series, with axes, tick
//! labels, a legend and a `<title>`, and no script at all.
//!
//! The markup is written here rather than in a template because it is mostly arithmetic;
//! every piece of text in it (titles, series names, day labels) goes through [`escape`], so
//! the finished [`Svg`] may be put in a page as it is (it implements askama's `HtmlSafe`,
//! and only this module can make one). Colours come from the stylesheet (`.chart .series-N`
//! uses the brand's `--primary` and `--accent` first), so a brand change recolours charts.
//! The `viewBox` is fixed by the number of series alone (the legend's rows), so the page
//! never shifts while it loads or when numbers change.

use std::fmt::{self, Write as _};

/// Width of every chart's `viewBox`.
const WIDTH: f64 = 720.0;
/// The plot area: left margin (tick labels), right, top and bottom (day labels below).
const LEFT: f64 = 52.0;
const RIGHT: f64 = 708.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 196.0;
/// The legend starts below the day labels; one row per [`LEGEND_COLUMNS`] series.
const LEGEND_TOP: f64 = 232.0;
const LEGEND_ROW: f64 = 20.0;
const LEGEND_COLUMNS: usize = 3;
/// Day labels along the bottom, at most.
const MAX_DAY_LABELS: usize = 8;
/// Colours the stylesheet defines (`.series-0` … `.series-7`); more series reuse them.
const PALETTE: usize = 8;

/// Escapes text for SVG or HTML (element content and quoted attributes alike).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One stack layer: a name for the legend and a value per day (`None`: nothing to show
/// that day, as opposed to zero).
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

/// What the vertical axis shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Counts: whole-number ticks from zero to a round number above the tallest bar.
    Count,
    /// Percentages: 0 to 100 %.
    Percent,
}

/// A bar chart of days.
#[derive(Debug, Clone)]
pub struct BarChart {
    /// The chart's name (its `<title>`).
    pub title: String,
    /// One sentence with the chart's numbers, for screen readers (`aria-label`).
    pub summary: String,
    /// The label of each day, in order.
    pub days: Vec<String>,
    pub series: Vec<Series>,
    pub unit: Unit,
    /// What an empty chart says ("No messages in this range").
    pub empty: String,
}

/// Finished SVG markup, safe to put in a page as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Svg(String);

impl fmt::Display for Svg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every piece of text in an [`Svg`] was escaped when it was drawn.
impl askama::filters::HtmlSafe for Svg {}

/// A vertical axis: ticks at multiples of `step` from 0 up to `top`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub step: f64,
    pub top: f64,
}

impl Scale {
    /// Four or so round steps (1, 2 or 5 × 10ⁿ, never below 1) covering `max`; an empty
    /// chart still gets an axis from 0 to 1.
    pub fn counts(max: f64) -> Self {
        let raw = (max / 4.0).max(1.0);
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .into_iter()
            .map(|m| m * magnitude)
            .find(|s| *s >= raw)
            .unwrap_or(10.0 * magnitude);
        let top = (max / step).ceil().max(1.0) * step;
        Self { step, top }
    }

    pub fn percent() -> Self {
        Self {
            step: 25.0,
            top: 100.0,
        }
    }

    /// The ticks from 0 to the top, both included.
    pub fn ticks(&self) -> Vec<f64> {
        let n = (self.top / self.step).round() as usize;
        (0..=n).map(|i| i as f64 * self.step).collect()
    }

    /// The y coordinate of `value`.
    pub fn y(&self, value: f64) -> f64 {
        BOTTOM - (value / self.top).clamp(0.0, 1.0) * (BOTTOM - TOP)
    }
}

/// A number as a tick or tooltip shows it: whole numbers without decimals.
fn number(value: f64, unit: Unit) -> String {
    let text = if (value - value.round()).abs() < 1e-9 {
        format!("{}", value.round() as i64)
    } else {
        format!("{value:.1}")
    };
    match unit {
        Unit::Count => text,
        Unit::Percent => format!("{text}%"),
    }
}

impl BarChart {
    /// The day's stacked total (`None` when no series has a value that day).
    fn day_total(&self, day: usize) -> Option<f64> {
        self.series
            .iter()
            .filter_map(|s| s.values.get(day).copied().flatten())
            .fold(None, |sum, v| Some(sum.unwrap_or(0.0) + v))
    }

    /// Whether there is anything to draw.
    pub fn is_empty(&self) -> bool {
        (0..self.days.len()).all(|d| self.day_total(d).is_none_or(|t| t <= 0.0))
    }

    /// The height of the `viewBox`: the plot, the day labels and the legend's rows.
    pub fn height(&self) -> f64 {
        let rows = self.series.len().div_ceil(LEGEND_COLUMNS).max(1);
        LEGEND_TOP + rows as f64 * LEGEND_ROW
    }

    pub fn scale(&self) -> Scale {
        match self.unit {
            Unit::Percent => Scale::percent(),
            Unit::Count => Scale::counts(
                (0..self.days.len())
                    .filter_map(|d| self.day_total(d))
                    .fold(0.0, f64::max),
            ),
        }
    }

    /// The chart as SVG.
    pub fn render(&self) -> Svg {
        let mut svg = String::new();
        // Writing to a String cannot fail.
        let _ = self.draw(&mut svg);
        Svg(svg)
    }

    fn draw(&self, svg: &mut String) -> fmt::Result {
        let height = self.height();
        let label = format!("{}. {}", self.title, self.summary);
        write!(
            svg,
            "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"{}\" \
             preserveAspectRatio=\"xMidYMid meet\"><title>{}</title><desc>{}</desc>",
            escape(&label),
            escape(&self.title),
            escape(&self.summary)
        )?;
        let scale = self.scale();
        for tick in scale.ticks() {
            let y = scale.y(tick);
            write!(
                svg,
                "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{RIGHT}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
                 <text class=\"tick\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                LEFT - 6.0,
                y + 4.0,
                escape(&number(tick, self.unit))
            )?;
        }
        write!(
            svg,
            "<line class=\"axis\" x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{BOTTOM}\"/>\
             <line class=\"axis\" x1=\"{LEFT}\" x2=\"{RIGHT}\" y1=\"{BOTTOM}\" y2=\"{BOTTOM}\"/>"
        )?;
        let n = self.days.len().max(1);
        let slot = (RIGHT - LEFT) / n as f64;
        let bar = (slot * 0.7).min(40.0);
        if self.is_empty() {
            write!(
                svg,
                "<text class=\"empty\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                (LEFT + RIGHT) / 2.0,
                (TOP + BOTTOM) / 2.0,
                escape(&self.empty)
            )?;
        } else {
            self.draw_bars(svg, &scale, slot, bar)?;
        }
        self.draw_days(svg, slot)?;
        self.draw_legend(svg)?;
        svg.push_str("</svg>");
        Ok(())
    }

    fn draw_bars(&self, svg: &mut String, scale: &Scale, slot: f64, bar: f64) -> fmt::Result {
        for (d, day) in self.days.iter().enumerate() {
            let Some(total) = self.day_total(d) else {
                continue;
            };
            let x = LEFT + slot * d as f64 + (slot - bar) / 2.0;
            write!(
                svg,
                "<g><title>{}: {}</title>",
                escape(day),
                escape(&number(total, self.unit))
            )?;
            let mut base = 0.0;
            for (i, series) in self.series.iter().enumerate() {
                let Some(value) = series.values.get(d).copied().flatten() else {
                    continue;
                };
                if value <= 0.0 {
                    continue;
                }
                let (y0, y1) = (scale.y(base), scale.y(base + value));
                write!(
                    svg,
                    "<rect class=\"series-{}\" x=\"{x:.1}\" y=\"{y1:.1}\" width=\"{bar:.1}\" \
                     height=\"{:.1}\"/>",
                    i % PALETTE,
                    (y0 - y1).max(0.5)
                )?;
                base += value;
            }
            svg.push_str("</g>");
        }
        Ok(())
    }

    fn draw_days(&self, svg: &mut String, slot: f64) -> fmt::Result {
        let every = self.days.len().div_ceil(MAX_DAY_LABELS).max(1);
        for (d, day) in self.days.iter().enumerate().step_by(every) {
            write!(
                svg,
                "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                LEFT + slot * (d as f64 + 0.5),
                BOTTOM + 18.0,
                escape(day)
            )?;
        }
        Ok(())
    }

    fn draw_legend(&self, svg: &mut String) -> fmt::Result {
        let column = (RIGHT - LEFT) / LEGEND_COLUMNS as f64;
        for (i, series) in self.series.iter().enumerate() {
            let x = LEFT + column * (i % LEGEND_COLUMNS) as f64;
            let y = LEGEND_TOP + LEGEND_ROW * (i / LEGEND_COLUMNS) as f64;
            write!(
                svg,
                "<rect class=\"series-{}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\"/>\
                 <text class=\"legend\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                i % PALETTE,
                y - 10.0,
                x + 18.0,
                y,
                escape(&series.name)
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "charts_tests.rs"]
mod tests;
