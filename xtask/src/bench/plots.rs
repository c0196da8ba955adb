//! The report's SVG charts, drawn with `plotters`: how many times better Rust is than CPython
//! per workload (with the goals), and per workload Rust, CPython and the ceiling.

use super::measuring::Stats;
use super::report::{Report, Row, fmt_goal, fmt_num};
use super::workloads::Goal;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const RUST: RGBColor = RGBColor(0xb7, 0x41, 0x0e);
const CPYTHON: RGBColor = RGBColor(0x37, 0x76, 0xab);
const CEILING: RGBColor = RGBColor(0x88, 0x88, 0x88);
const MET: RGBColor = RGBColor(0x2a, 0x9d, 0x8f);
const MISSED: RGBColor = RGBColor(0xe7, 0x6f, 0x51);
const UNKNOWN: RGBColor = RGBColor(0x99, 0x99, 0x99);

fn colour(met: Option<bool>) -> RGBColor {
    match met {
        Some(true) => MET,
        Some(false) => MISSED,
        None => UNKNOWN,
    }
}

/// A bar from `from` to `to` around row `y`, its corners ordered as the SVG backend wants them.
fn bar(from: f64, to: f64, y: f64, colour: RGBColor) -> Rectangle<(f64, f64)> {
    Rectangle::new(
        [(from.min(to), y + 0.35), (from.max(to), y - 0.35)],
        colour.filled(),
    )
}

fn label(text: String, at: (f64, f64)) -> Text<'static, (f64, f64), String> {
    Text::new(
        text,
        at,
        ("sans-serif", 12)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center)),
    )
}

/// An axis label: no trailing zeros on round numbers (`10`, not `10.0`).
fn axis_num(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.fract() == 0.0 && v.abs() < 1e4 {
        format!("{v:.0}")
    } else {
        fmt_num(v)
    }
}

/// The name of row `y` (rows are drawn bottom-up, so the first row is the top one).
fn row_name(names: &[String], y: f64) -> String {
    let i = names.len() as f64 - 1.0 - y;
    if (i - i.round()).abs() < 1e-6 && i >= 0.0 {
        names.get(i.round() as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

/// Horizontal bars, log scale: how many times better Rust is, per workload, with the goals
/// against CPython marked.
pub fn better_svg(report: &Report) -> anyhow::Result<String> {
    let rows: Vec<(&Row, Option<f64>, Option<bool>)> = report
        .rows
        .iter()
        .map(|r| (r, r.better(), r.verdict().met))
        .collect();
    let goal_of = |r: &Row| {
        r.workload.goals.iter().find_map(|g| match g {
            Goal::TimesBetter(x) => Some(*x),
            _ => None,
        })
    };
    let largest = rows
        .iter()
        .flat_map(|(r, b, _)| [*b, goal_of(r)])
        .flatten()
        .fold(10.0f64, f64::max);
    let smallest = rows.iter().filter_map(|(_, b, _)| *b).fold(1.0f64, f64::min);
    let names: Vec<String> = rows.iter().map(|(r, ..)| r.workload.name.to_owned()).collect();
    let n = rows.len().max(1);
    let mut svg = String::new();
    {
        let height = 110 + 26 * n as u32;
        let root = SVGBackend::with_string(&mut svg, (900, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "How many times better Rust is than CPython (log scale); | = the goal against CPython",
                ("sans-serif", 15),
            )
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(210)
            // Room on the right for the largest bar's label.
            .build_cartesian_2d(
                (smallest / 1.5..largest * 6.0).log_scale(),
                -0.5..(n as f64 - 0.5),
            )?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&|y| row_name(&names, *y))
            .x_label_formatter(&|x| format!("{}x", axis_num(*x)))
            .x_desc("green: every goal met, red: a goal missed (some goals are against the OS ceiling)")
            .draw()?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(1.0, -0.5), (1.0, n as f64 - 0.5)],
            BLACK.stroke_width(1),
        )))?;
        for (i, (r, better, met)) in rows.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            let goal = goal_of(r);
            if let Some(b) = better {
                chart.draw_series(std::iter::once(bar(1.0, *b, y, colour(*met))))?;
                let verdict = match met {
                    None => String::new(),
                    Some(met) => format!(" goals {}", if *met { "met" } else { "missed" }),
                };
                let at = b.max(1.0).max(goal.unwrap_or(0.0)) * 1.1;
                chart.draw_series(std::iter::once(label(format!("{b:.1}x{verdict}"), (at, y))))?;
            }
            if let Some(g) = goal {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(g, y - 0.45), (g, y + 0.45)],
                    BLACK.stroke_width(2),
                )))?;
            }
        }
        root.present()?;
    }
    Ok(svg)
}

/// Rust, CPython and the ceiling as bars (medians) with min-max whiskers.
pub fn row_svg(row: &Row) -> anyhow::Result<String> {
    let w = &row.workload;
    let mut bars: Vec<(String, Option<Stats>, RGBColor)> = vec![("Rust".into(), row.rust.stats(), RUST)];
    if let Some(p) = &row.python {
        bars.push(("CPython".into(), p.stats(), CPYTHON));
    }
    if let (Some(raw), Some(c)) = (&row.raw, w.ceiling) {
        bars.push((format!("ceiling: {}", c.from), raw.stats(), CEILING));
    }
    let max = bars
        .iter()
        .filter_map(|(_, s, _)| s.map(|s| s.max))
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let names: Vec<String> = bars.iter().map(|(name, ..)| name.clone()).collect();
    let n = bars.len();
    let direction = if w.higher_is_better() {
        "higher is better"
    } else {
        "lower is better"
    };
    let mut svg = String::new();
    {
        let height = 130 + 40 * n as u32;
        let root = SVGBackend::with_string(&mut svg, (760, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let (title, rest) = root.split_vertically(48);
        title.draw(&Text::new(
            format!("{} ({}, {direction})", w.name, w.unit),
            (10, 6),
            ("sans-serif", 15).into_font(),
        ))?;
        title.draw(&Text::new(
            format!("{}; goal {}", w.what, fmt_goal(&row.verdict())),
            (10, 28),
            ("sans-serif", 12).into_font().color(&RGBColor(0x55, 0x55, 0x55)),
        ))?;
        let mut chart = ChartBuilder::on(&rest)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(200)
            // Room on the right for the labels.
            .build_cartesian_2d(0.0..max * 1.3, -0.5..(n as f64 - 0.5))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&|y| row_name(&names, *y))
            .x_label_formatter(&|x| axis_num(*x))
            .x_desc(format!("{} (bars: medians; whiskers: min-max)", w.unit))
            .draw()?;
        for (i, (_, stats, fill)) in bars.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            let Some(Stats { median, min, max }) = *stats else {
                chart.draw_series(std::iter::once(label("failed".into(), (0.0, y))))?;
                continue;
            };
            chart.draw_series(std::iter::once(bar(0.0, median, y, *fill)))?;
            if max > min {
                chart.draw_series([
                    PathElement::new(vec![(min, y), (max, y)], BLACK.stroke_width(1)),
                    PathElement::new(vec![(min, y - 0.15), (min, y + 0.15)], BLACK.stroke_width(1)),
                    PathElement::new(vec![(max, y - 0.15), (max, y + 0.15)], BLACK.stroke_width(1)),
                ])?;
            }
            chart.draw_series(std::iter::once(label(fmt_num(median), (max * 1.02, y))))?;
        }
        root.present()?;
    }
    Ok(svg)
}
