//! `sim --report FILE.html`: one self-contained HTML file of a run: fuel,
//! memory and entity count per tick as charts (plotters, inline SVG), the
//! ticks where mods were disabled and why, a console excerpt, and the
//! world's positions at the end. No script, no network: it opens anywhere.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use plotters::prelude::*;

/// Most points a line keeps: longer runs are cut into this many buckets,
/// each drawn as its largest value.
const MAX_POINTS: usize = 1500;
/// Console lines the report shows (the last ones).
const CONSOLE_LINES: usize = 40;
/// Entities drawn in the world picture.
const MAX_DOTS: usize = 20_000;
const CHART: (u32, u32) = (900, 320);

/// What the report shows, collected while the run goes.
#[derive(Default)]
pub struct RunReport {
    /// Per mod: the fuel of each tick (0 when it did not run).
    fuel: BTreeMap<String, Vec<(u64, u64)>>,
    /// Per mod: its linear memory's peak at the end of each tick.
    memory: BTreeMap<String, Vec<(u64, u64)>>,
    entities: Vec<(u64, u64)>,
    /// Tick, mod, reason.
    disabled: Vec<(u64, String, String)>,
}

impl RunReport {
    /// Adds one tick: `fuel` and `disabled` from its record, each mod's
    /// memory peak, the world's entity count.
    pub fn tick(
        &mut self,
        tick: u64,
        record: &moonbox::TickRecord,
        memory: impl Iterator<Item = (String, u64)>,
        entities: u32,
    ) {
        for (name, peak) in memory {
            let fuel = record.fuel.get(&name).copied().unwrap_or(0);
            self.fuel
                .entry(name.clone())
                .or_default()
                .push((tick, fuel));
            self.memory.entry(name).or_default().push((tick, peak));
        }
        self.entities.push((tick, u64::from(entities)));
        for (name, reason) in &record.disabled {
            self.disabled.push((tick, name.clone(), reason.clone()));
        }
    }

    /// Writes the report to `path`: `title`, the summary rows (mod,
    /// status, fuel, reason), the console, and the positions at the end.
    pub fn write(
        &self,
        path: &Path,
        title: &str,
        summary: &[[String; 4]],
        console: &[String],
        positions: &[(f64, f64)],
    ) -> Result<()> {
        let mut html = String::new();
        let _ = write!(
            html,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>{t}</title><style>{STYLE}</style></head><body>\n<h1>{t}</h1>\n",
            t = escape(title)
        );
        html.push_str(
            "<table><tr><th>mod</th><th>status</th><th>fuel used</th><th>reason</th></tr>\n",
        );
        for row in summary {
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                escape(&row[0]),
                escape(&row[1]),
                escape(&row[2]),
                escape(&row[3])
            );
        }
        html.push_str("</table>\n");
        section(&mut html, "Fuel per tick", &lines(&self.fuel, "fuel")?);
        section(
            &mut html,
            "Memory per tick (linear memory, peak)",
            &lines(&self.memory, "bytes")?,
        );
        let mut entities = BTreeMap::new();
        entities.insert("entities".to_owned(), self.entities.clone());
        section(&mut html, "Entities", &lines(&entities, "entities")?);

        html.push_str("<h2>Mods disabled</h2>\n");
        if self.disabled.is_empty() {
            html.push_str("<p>None.</p>\n");
        } else {
            html.push_str("<table><tr><th>tick</th><th>mod</th><th>reason</th></tr>\n");
            for (tick, name, reason) in &self.disabled {
                let _ = writeln!(
                    html,
                    "<tr><td class=\"n\">{tick}</td><td>{}</td><td>{}</td></tr>",
                    escape(name),
                    escape(reason)
                );
            }
            html.push_str("</table>\n");
        }

        let _ = writeln!(
            html,
            "<h2>Console (last {} lines)</h2>\n<pre>",
            console.len().min(CONSOLE_LINES)
        );
        let skip = console.len().saturating_sub(CONSOLE_LINES);
        for line in &console[skip..] {
            let _ = writeln!(html, "{}", escape(line));
        }
        html.push_str("</pre>\n");

        let picture = if positions.is_empty() {
            "<p>No entity has a <code>Position</code> with numbers <code>x</code> and <code>y</code>.</p>".to_owned()
        } else {
            world_picture(positions)?
        };
        section(&mut html, "The world at the end (Position)", &picture);
        html.push_str("</body></html>\n");
        std::fs::write(path, html)
            .with_context(|| format!("cannot write report {}", path.display()))
    }
}

fn section(html: &mut String, heading: &str, body: &str) {
    let _ = write!(
        html,
        "<h2>{}</h2>\n<figure>{body}</figure>\n",
        escape(heading)
    );
}

/// A line chart of `series` (one line per name) as SVG.
fn lines(series: &BTreeMap<String, Vec<(u64, u64)>>, unit: &str) -> Result<String> {
    let mut svg = String::new();
    let (first, last) = series
        .values()
        .flatten()
        .fold((u64::MAX, 0), |(lo, hi), &(t, _)| (lo.min(t), hi.max(t)));
    if first > last {
        return Ok("<p>No ticks ran.</p>".to_owned());
    }
    let top = series
        .values()
        .flatten()
        .map(|&(_, v)| v)
        .max()
        .unwrap_or(0)
        .max(1);
    {
        let root = SVGBackend::with_string(&mut svg, CHART).into_drawing_area();
        root.fill(&WHITE).map_err(chart)?;
        let mut chart_builder = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(90)
            .build_cartesian_2d(first..last.max(first + 1), 0..top + top / 20)
            .map_err(chart)?;
        chart_builder
            .configure_mesh()
            .x_desc("tick")
            .y_desc(unit)
            .draw()
            .map_err(chart)?;
        for (i, (name, points)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart_builder
                .draw_series(LineSeries::new(downsample(points), color.stroke_width(2)))
                .map_err(chart)?
                .label(legend_name(name))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
        if series.len() > 1 {
            chart_builder
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(chart)?;
        }
        root.present().map_err(chart)?;
    }
    Ok(svg)
}

/// The positions as dots.
fn world_picture(positions: &[(f64, f64)]) -> Result<String> {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in positions {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if x1 - x0 < 1.0 {
        x1 = x0 + 1.0;
    }
    if y1 - y0 < 1.0 {
        y1 = y0 + 1.0;
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (600, 600)).into_drawing_area();
        root.fill(&WHITE).map_err(chart)?;
        let mut chart_builder = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(chart)?;
        chart_builder
            .configure_mesh()
            .x_desc("x")
            .y_desc("y")
            .draw()
            .map_err(chart)?;
        chart_builder
            .draw_series(
                positions
                    .iter()
                    .take(MAX_DOTS)
                    .map(|&p| Circle::new(p, 2, BLUE.filled())),
            )
            .map_err(chart)?;
        root.present().map_err(chart)?;
    }
    Ok(svg)
}

/// At most [`MAX_POINTS`] points: the largest value of each bucket.
fn downsample(points: &[(u64, u64)]) -> Vec<(u64, u64)> {
    if points.len() <= MAX_POINTS {
        return points.to_vec();
    }
    points
        .chunks(points.len().div_ceil(MAX_POINTS))
        .filter_map(|bucket| {
            let (tick, _) = bucket.first()?;
            let top = bucket.iter().map(|&(_, v)| v).max()?;
            Some((*tick, top))
        })
        .collect()
}

/// A legend label: mod names are letters, digits, `-` and `_` already;
/// anything else is dropped so that no markup reaches the SVG.
fn legend_name(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

fn chart<E: std::fmt::Debug>(error: E) -> anyhow::Error {
    anyhow::anyhow!("cannot draw a chart: {error:?}")
}

/// `text` safe inside HTML elements and attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;max-width:960px;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}\
pre{background:#f6f6f6;padding:1em;overflow-x:auto;white-space:pre-wrap}figure{margin:0}";
