//! The load tool's latency plot: each swap's latency over its start time, one series per
//! stage, drawn with plotters' SVG backend.

use anyhow::{anyhow, Result};
use plotters::prelude::*;

/// Size of the picture in pixels.
const SIZE: (u32, u32) = (1000, 560);
/// Most points drawn per series: beyond this, evenly spaced samples stand for the rest, so
/// a 100,000-swap run still gives a plot a browser opens.
pub const MAX_POINTS_PER_SERIES: usize = 5_000;
/// Radius of a swap's dot in the first stage; each later stage's ring is a pixel wider.
const DOT_RADIUS: i32 = 2;
/// Head-room above the largest value, so the top point is not on the frame.
const HEADROOM: f64 = 1.05;

/// One stage's latencies: (swap start in s, latency in ms).
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// The plot as SVG text.
pub fn latency_svg(title: &str, series: &[Series]) -> Result<String> {
    let max = |pick: fn(&(f64, f64)) -> f64| {
        series
            .iter()
            .flat_map(|s| s.points.iter().map(pick))
            .filter(|v| v.is_finite())
            .fold(0.0_f64, f64::max)
            .max(f64::EPSILON)
            * HEADROOM
    };
    let (x_max, y_max) = (max(|p| p.0), max(|p| p.1));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let err = |e: DrawingAreaErrorKind<_>| anyhow!("cannot draw the latency plot: {e}");
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("swap start (s)")
            .y_desc("latency (ms)")
            .y_label_formatter(&|ms| format!("{ms:.0}"))
            .draw()
            .map_err(err)?;
        for (i, s) in series.iter().enumerate() {
            // Later stages as growing rings, so a stage that lands on another stays visible.
            let color = Palette99::pick(i).to_rgba();
            let (style, radius) = match i {
                0 => (color.filled(), DOT_RADIUS),
                _ => (color.stroke_width(1), DOT_RADIUS + i as i32),
            };
            chart
                .draw_series(
                    thinned(&s.points).map(move |&(x, y)| Circle::new((x, y), radius, style)),
                )
                .map_err(err)?
                .label(s.name.as_str())
                .legend(move |(x, y)| Circle::new((x + 8, y), radius + 1, style));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// At most [`MAX_POINTS_PER_SERIES`] of `points`, evenly spaced.
fn thinned(points: &[(f64, f64)]) -> impl Iterator<Item = &(f64, f64)> {
    let step = points.len().div_ceil(MAX_POINTS_PER_SERIES).max(1);
    points.iter().step_by(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, n: usize) -> Series {
        Series {
            name: name.into(),
            points: (0..n).map(|i| (i as f64 * 0.1, 100.0 + i as f64)).collect(),
        }
    }

    #[test]
    fn the_plot_is_svg_with_a_legend_entry_and_a_dot_per_swap() {
        let svg = latency_svg(
            "3 swaps",
            &[series("initiator finished", 3), series("both finished", 3)],
        )
        .expect("plot");
        assert!(svg.trim_start().starts_with("<svg"), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("initiator finished") && svg.contains("both finished"));
        assert!(svg.contains("latency (ms)") && svg.contains("swap start (s)"));
        // 3 dots per series plus one legend dot each.
        assert_eq!(svg.matches("<circle").count(), 2 * 3 + 2);
    }

    #[test]
    fn an_empty_or_degenerate_run_still_draws() {
        let svg = latency_svg("nothing", &[series("both finished", 0)]).expect("plot");
        assert!(svg.contains("</svg>"));
        let nan = Series {
            name: "odd".into(),
            points: vec![(f64::NAN, f64::INFINITY), (0.0, 0.0)],
        };
        assert!(latency_svg("odd", &[nan]).is_ok());
    }

    #[test]
    fn long_runs_are_thinned_to_the_bound() {
        let many = series("x", MAX_POINTS_PER_SERIES * 3 + 1);
        let drawn = thinned(&many.points).count();
        assert!(drawn <= MAX_POINTS_PER_SERIES, "{drawn}");
        assert!(drawn >= MAX_POINTS_PER_SERIES / 2, "{drawn}");
        assert_eq!(thinned(&many.points[..10]).count(), 10);
    }
}
