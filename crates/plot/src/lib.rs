//! Line charts as standalone SVG.
//!
//! The curves apprentice draws (intervention rate by round, metrics by LoRA scale, steps by
//! exposure) are a handful of points each. A plotting framework would pull in font and raster
//! stacks for that; an SVG file of a few kilobytes opens in every browser and diffs as text.

use std::fmt::Write as _;

/// One named curve; points are drawn in the order given.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.into(),
            points,
        }
    }
}

/// A chart with shared axes. Non-finite points are skipped, so a metric that is undefined for
/// one round (no proposals, say) leaves a gap instead of breaking the file.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Force the y range (e.g. 0..1 for rates); `None` fits the data.
    pub y_range: Option<(f64, f64)>,
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 400.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 160.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 52.0;
const TICKS: usize = 5;
const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
];

impl LineChart {
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        LineChart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: Vec::new(),
            y_range: None,
        }
    }

    pub fn with_series(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    pub fn with_y_range(mut self, lo: f64, hi: f64) -> Self {
        self.y_range = Some((lo, hi));
        self
    }

    /// The chart as a complete SVG document.
    pub fn to_svg(&self) -> String {
        let x_range = padded(self.finite_points().map(|p| p.0));
        let y_range = self
            .y_range
            .unwrap_or_else(|| padded(self.finite_points().map(|p| p.1)));
        let frame = Frame { x_range, y_range };
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>"#,
            LEFT + frame.plot_width() / 2.0,
            escape(&self.title)
        );
        frame.axes(&mut svg, &self.x_label, &self.y_label);
        for (i, series) in self.series.iter().enumerate() {
            frame.series(&mut svg, series, COLORS[i % COLORS.len()], i);
        }
        svg.push_str("</svg>\n");
        svg
    }

    fn finite_points(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .filter(|(x, y)| x.is_finite() && y.is_finite())
    }
}

/// The data range widened a little, and never empty, so a single point still has a scale.
fn padded(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 0.5, hi + 0.5);
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

struct Frame {
    x_range: (f64, f64),
    y_range: (f64, f64),
}

impl Frame {
    fn plot_width(&self) -> f64 {
        WIDTH - LEFT - RIGHT
    }

    fn plot_height(&self) -> f64 {
        HEIGHT - TOP - BOTTOM
    }

    fn px(&self, x: f64) -> f64 {
        let (lo, hi) = self.x_range;
        LEFT + (x - lo) / (hi - lo) * self.plot_width()
    }

    fn py(&self, y: f64) -> f64 {
        let (lo, hi) = self.y_range;
        TOP + self.plot_height() - (y - lo) / (hi - lo) * self.plot_height()
    }

    fn axes(&self, svg: &mut String, x_label: &str, y_label: &str) {
        let (x0, y0) = (LEFT, TOP + self.plot_height());
        let _ = writeln!(
            svg,
            r##"<rect x="{LEFT}" y="{TOP}" width="{}" height="{}" fill="none" stroke="#333"/>"##,
            self.plot_width(),
            self.plot_height()
        );
        for i in 0..=TICKS {
            let t = i as f64 / TICKS as f64;
            let x = self.x_range.0 + t * (self.x_range.1 - self.x_range.0);
            let y = self.y_range.0 + t * (self.y_range.1 - self.y_range.0);
            let (px, py) = (self.px(x), self.py(y));
            let _ = writeln!(
                svg,
                r##"<line x1="{px:.1}" y1="{y0}" x2="{px:.1}" y2="{:.1}" stroke="#333"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                y0 + 4.0,
                y0 + 18.0,
                tick_label(x)
            );
            let _ = writeln!(
                svg,
                r##"<line x1="{:.1}" y1="{py:.1}" x2="{x0}" y2="{py:.1}" stroke="#333"/><line x1="{x0}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                x0 - 4.0,
                x0 + self.plot_width(),
                x0 - 7.0,
                py + 4.0,
                tick_label(y)
            );
        }
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            LEFT + self.plot_width() / 2.0,
            HEIGHT - 12.0,
            escape(x_label)
        );
        let _ = writeln!(
            svg,
            r#"<text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">{}</text>"#,
            TOP + self.plot_height() / 2.0,
            TOP + self.plot_height() / 2.0,
            escape(y_label)
        );
    }

    fn series(&self, svg: &mut String, series: &Series, color: &str, index: usize) {
        let mut path = String::new();
        let mut pen_down = false;
        for &(x, y) in &series.points {
            if !(x.is_finite() && y.is_finite()) {
                pen_down = false;
                continue;
            }
            let cmd = if pen_down { 'L' } else { 'M' };
            let _ = write!(path, "{cmd}{:.1},{:.1} ", self.px(x), self.py(y));
            pen_down = true;
            let _ = writeln!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"/>"#,
                self.px(x),
                self.py(y)
            );
        }
        let _ = writeln!(
            svg,
            r#"<path d="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
            path.trim_end()
        );
        let ly = TOP + 12.0 + index as f64 * 18.0;
        let lx = LEFT + self.plot_width() + 12.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="2"/><text x="{}" y="{}">{}</text>"#,
            lx + 18.0,
            lx + 24.0,
            ly + 4.0,
            escape(&series.name)
        );
    }
}

/// Short tick labels: integers as integers, the rest with up to three significant decimals.
fn tick_label(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').to_string()
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> LineChart {
        LineChart::new("Intervention rate by round", "round", "rate")
            .with_y_range(0.0, 1.0)
            .with_series(Series::new(
                "train",
                vec![(1.0, 0.8), (2.0, 0.5), (3.0, 0.25)],
            ))
            .with_series(Series::new(
                "held-out <shadow>",
                vec![(1.0, 0.9), (2.0, f64::NAN), (3.0, 0.6)],
            ))
    }

    #[test]
    fn draws_one_path_and_legend_entry_per_series() {
        let svg = chart().to_svg();
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<path").count(), 2);
        assert!(svg.contains(">train</text>"));
        assert!(
            svg.contains("held-out &lt;shadow&gt;"),
            "labels are escaped"
        );
    }

    #[test]
    fn maps_forced_range_onto_the_plot_area() {
        let svg = chart().to_svg();
        // y = 0.5 at x = 2 on the first series: halfway down a 308 px tall plot starting at 40.
        let frame = Frame {
            x_range: padded([1.0, 3.0].into_iter()),
            y_range: (0.0, 1.0),
        };
        assert_eq!(frame.py(0.5), TOP + (HEIGHT - TOP - BOTTOM) / 2.0);
        assert!(svg.contains(&format!("L{:.1},{:.1}", frame.px(2.0), frame.py(0.5))));
    }

    #[test]
    fn a_gap_restarts_the_line_instead_of_joining_across_it() {
        let svg = chart().to_svg();
        let held_out = svg
            .lines()
            .filter(|l| l.starts_with("<path"))
            .nth(1)
            .unwrap_or_default();
        assert_eq!(held_out.matches('M').count(), 2, "{held_out}");
        assert_eq!(held_out.matches('L').count(), 0, "{held_out}");
    }

    #[test]
    fn empty_and_flat_data_still_give_a_valid_scale() {
        assert_eq!(padded(std::iter::empty()), (0.0, 1.0));
        assert_eq!(padded([2.0, 2.0].into_iter()), (1.5, 2.5));
        let svg = LineChart::new("t", "x", "y").to_svg();
        assert!(svg.contains("</svg>"));
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(tick_label(3.0), "3");
        assert_eq!(tick_label(0.25), "0.25");
        assert_eq!(tick_label(12.345), "12.3");
    }
}
