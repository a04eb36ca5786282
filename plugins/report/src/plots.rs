//! Plots written beside the tables, each as PNG and SVG: training curves, reliability
//! diagrams and risk-coverage curves.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::FontStyle;
use tracing::{debug, warn};

use crate::error::{ReportError, Result};
use crate::results::MetricPoint;
use crate::runs::Runs;
use crate::spec::PlotsSpec;

/// DejaVu Sans (Bitstream Vera licence, see `fonts/DejaVuSans.LICENSE`), embedded because
/// plotters' `ab_glyph` text backend reads no system fonts.
const FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";
/// Pixel size of every PNG and SVG.
pub const PLOT_SIZE: (u32, u32) = (900, 560);
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn register_font() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        if plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_err() {
            warn!("the embedded font failed to load; plot text will be missing");
        }
    });
}

/// Creates the parent folder and returns the PNG and SVG paths of `stem`.
fn plot_paths(stem: &Path) -> Result<(PathBuf, PathBuf)> {
    register_font();
    if let Some(parent) = stem.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| ReportError::io(parent, e))?;
    }
    Ok((stem.with_extension("png"), stem.with_extension("svg")))
}

fn plot_error(path: &Path, error: impl std::fmt::Display) -> ReportError {
    ReportError::Plot { path: path.to_owned(), message: error.to_string() }
}

/// Runs the drawing body once on a PNG and once on an SVG backend, binding the drawing
/// area to `$root`. plotters backends are distinct types, so the body is expanded twice.
macro_rules! draw_both {
    ($stem:expr, |$root:ident| $body:block) => {{
        let (png, svg) = plot_paths($stem)?;
        {
            let $root = BitMapBackend::new(&png, PLOT_SIZE).into_drawing_area();
            $root.fill(&WHITE).map_err(|e| plot_error(&png, e))?;
            let draw = || -> std::result::Result<(), DrawingAreaErrorKind<_>> { $body };
            draw().map_err(|e| plot_error(&png, e))?;
            $root.present().map_err(|e| plot_error(&png, e))?;
        }
        {
            let $root = SVGBackend::new(&svg, PLOT_SIZE).into_drawing_area();
            $root.fill(&WHITE).map_err(|e| plot_error(&svg, e))?;
            let draw = || -> std::result::Result<(), DrawingAreaErrorKind<_>> { $body };
            draw().map_err(|e| plot_error(&svg, e))?;
            $root.present().map_err(|e| plot_error(&svg, e))?;
        }
        Ok(vec![png, svg])
    }};
}

/// One bin of a reliability diagram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReliabilityBin {
    /// Lower edge of the confidence bin.
    pub low: f64,
    /// Upper edge of the confidence bin.
    pub high: f64,
    /// Samples in the bin.
    pub count: usize,
    /// Mean confidence of the bin's samples; `None` for an empty bin.
    pub confidence: Option<f64>,
    /// Fraction of the bin's samples that are correct; `None` for an empty bin.
    pub accuracy: Option<f64>,
}

/// Splits samples into `bins` equal-width confidence bins.
///
/// Sample `i` with confidence `c` in [0, 1] goes to bin `min(floor(c * bins), bins - 1)`,
/// with a small epsilon so that 0.3 lands in bin 3 of 10 despite float rounding; 1.0 is in
/// the last bin. `correct` is 1 for a correct answer and 0 otherwise.
pub fn reliability_bins(confidence: &[f64], correct: &[f64], bins: usize) -> Vec<ReliabilityBin> {
    let bins = bins.max(1);
    let mut sums = vec![(0usize, 0.0f64, 0.0f64); bins];
    for (&c, &a) in confidence.iter().zip(correct) {
        let index = ((c * bins as f64 + 1e-9).floor().max(0.0) as usize).min(bins - 1);
        sums[index].0 += 1;
        sums[index].1 += c;
        sums[index].2 += a;
    }
    sums.iter()
        .enumerate()
        .map(|(i, &(count, c, a))| ReliabilityBin {
            low: i as f64 / bins as f64,
            high: (i + 1) as f64 / bins as f64,
            count,
            confidence: (count > 0).then(|| c / count as f64),
            accuracy: (count > 0).then(|| a / count as f64),
        })
        .collect()
}

/// Computes the risk-coverage curve. Keeping only the `k` most confident samples gives
/// coverage `k / n` and risk `1 - mean(correct)` (the error rate among them), for
/// `k = 1..=n`. Samples with equal confidence are kept or dropped together, so a tie
/// gives one point. Returns `(coverage, risk)` pairs in increasing coverage.
pub fn risk_coverage(confidence: &[f64], correct: &[f64]) -> Vec<(f64, f64)> {
    let mut order: Vec<usize> = (0..confidence.len().min(correct.len())).collect();
    order.sort_by(|&i, &j| confidence[j].total_cmp(&confidence[i]));
    let n = order.len() as f64;
    let mut errors = 0.0;
    let mut curve = Vec::with_capacity(order.len());
    for (k, &i) in order.iter().enumerate() {
        errors += 1.0 - correct[i];
        let tie_continues = order.get(k + 1).is_some_and(|&next| confidence[next] == confidence[i]);
        if !tie_continues {
            curve.push(((k + 1) as f64 / n, errors / (k + 1) as f64));
        }
    }
    curve
}

/// Draws a reliability diagram (bars of per-bin accuracy against the diagonal) to
/// `<stem>.png` and `<stem>.svg`.
///
/// # Errors
/// Fails when a file cannot be written.
pub fn plot_reliability_diagram(confidence: &[f64], correct: &[f64], bins: usize, title: &str, stem: &Path) -> Result<Vec<PathBuf>> {
    let bins = reliability_bins(confidence, correct, bins);
    draw_both!(stem, |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FAMILY, 22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
        chart.configure_mesh().x_desc("confidence").y_desc("accuracy").label_style((FAMILY, 15)).draw()?;
        chart
            .draw_series(bins.iter().filter_map(|bin| {
                let accuracy = bin.accuracy?;
                Some(Rectangle::new([(bin.low, 0.0), (bin.high, accuracy)], PALETTE[0].mix(0.7).filled()))
            }))?
            .label("accuracy per bin")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], PALETTE[0].mix(0.7).filled()));
        chart
            .draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.stroke_width(2)))?
            .label("perfect calibration")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 15, y)], BLACK.stroke_width(2)));
        chart
            .draw_series(bins.iter().filter_map(|bin| Some(Circle::new((bin.confidence?, bin.accuracy?), 4, PALETTE[3].filled()))))?
            .label("mean confidence vs accuracy")
            .legend(|(x, y)| Circle::new((x + 7, y), 4, PALETTE[3].filled()));
        chart.configure_series_labels().position(SeriesLabelPosition::UpperLeft).background_style(WHITE.mix(0.85)).border_style(BLACK).label_font((FAMILY, 15)).draw()?;
        Ok(())
    })
}

/// Draws a risk-coverage curve to `<stem>.png` and `<stem>.svg`.
///
/// # Errors
/// Fails when a file cannot be written.
pub fn plot_risk_coverage(confidence: &[f64], correct: &[f64], title: &str, stem: &Path) -> Result<Vec<PathBuf>> {
    let curve = risk_coverage(confidence, correct);
    let max_risk = curve.iter().map(|&(_, r)| r).fold(0.0f64, f64::max).max(0.05) * 1.1;
    draw_both!(stem, |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FAMILY, 22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d(0f64..1f64, 0f64..max_risk)?;
        chart.configure_mesh().x_desc("coverage").y_desc("risk (error rate)").label_style((FAMILY, 15)).draw()?;
        chart.draw_series(LineSeries::new(curve.iter().copied(), PALETTE[0].stroke_width(2)))?;
        Ok(())
    })
}

/// Draws one panel per metric name found in `points` (in the order of `names`), with one
/// line per stage, to `<stem>.png` and `<stem>.svg`. Returns no paths when none of the
/// names occurs.
///
/// # Errors
/// Fails when a file cannot be written.
pub fn plot_training_curves(points: &[MetricPoint], names: &[String], title: &str, stem: &Path) -> Result<Vec<PathBuf>> {
    // Series: name -> stage -> (step, value), sorted by step.
    let mut series: BTreeMap<&str, BTreeMap<&str, Vec<(f64, f64)>>> = BTreeMap::new();
    for point in points.iter().filter(|p| p.value.is_finite()) {
        series.entry(&point.name).or_default().entry(&point.stage).or_default().push((point.step as f64, point.value));
    }
    let panels: Vec<(&String, &BTreeMap<&str, Vec<(f64, f64)>>)> =
        names.iter().filter_map(|name| Some((name, series.get(name.as_str())?))).collect();
    if panels.is_empty() {
        return Ok(Vec::new());
    }
    draw_both!(stem, |root| {
        let root = root.titled(title, (FAMILY, 22))?;
        let areas = root.split_evenly((1, panels.len()));
        for ((name, stages), area) in panels.iter().zip(areas) {
            let all = stages.values().flatten();
            let (x_max, y_min, y_max) = all.fold((1.0f64, f64::INFINITY, f64::NEG_INFINITY), |(x, lo, hi), &(s, v)| (x.max(s), lo.min(v), hi.max(v)));
            let pad = ((y_max - y_min) * 0.05).max(1e-6);
            let mut chart = ChartBuilder::on(&area)
                .caption(name.as_str(), (FAMILY, 18))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(55)
                .build_cartesian_2d(0f64..x_max, (y_min - pad)..(y_max + pad))?;
            chart
                .configure_mesh()
                .x_desc("step")
                .x_labels(5)
                .x_label_formatter(&|step| format!("{step:.0}"))
                .label_style((FAMILY, 13))
                .draw()?;
            for (i, (stage, values)) in stages.iter().enumerate() {
                let mut values = values.clone();
                values.sort_by(|a, b| a.0.total_cmp(&b.0));
                let color = PALETTE[i % PALETTE.len()];
                chart
                    .draw_series(LineSeries::new(values, color.stroke_width(2)))?
                    .label(*stage)
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 15, y)], color.stroke_width(2)));
            }
            chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).label_font((FAMILY, 13)).draw()?;
        }
        Ok(())
    })
}

/// Writes every plot the runs support to `out_dir`: training curves per run with
/// `metrics.parquet`, and a reliability diagram and risk-coverage curve per
/// (run, stage, dataset) whose predictions have `confidence` and `correct` columns.
/// Returns the written paths.
///
/// # Errors
/// Fails when a file cannot be written.
pub fn render_plots(runs: &Runs, spec: &PlotsSpec, out_dir: &Path) -> Result<Vec<PathBuf>> {
    spec.validate().map_err(ReportError::Invalid)?;
    if !spec.enabled {
        return Ok(Vec::new());
    }
    std::fs::create_dir_all(out_dir).map_err(|e| ReportError::io(out_dir, e))?;
    let mut written = Vec::new();

    // Draw the training curves of each run.
    for run in &runs.metrics {
        let stem = out_dir.join(format!("training_{}", run.run));
        written.extend(plot_training_curves(&run.points, &spec.training_curves, &format!("training of {}", run.run), &stem)?);
    }

    // Draw calibration plots of each evaluated dataset.
    for predictions in &runs.predictions {
        let frame = &predictions.frame;
        let (Ok(confidence), Ok(correct), Ok(datasets)) = (
            frame.column("confidence").and_then(|c| c.f64()),
            frame.column("correct").and_then(|c| c.f64()),
            frame.column("dataset").and_then(|c| c.str()),
        ) else {
            continue;
        };
        let mut by_dataset: BTreeMap<&str, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
        for ((dataset, c), a) in datasets.iter().zip(confidence.iter()).zip(correct.iter()) {
            if let (Some(dataset), Some(c), Some(a)) = (dataset, c, a) {
                let entry = by_dataset.entry(dataset).or_default();
                entry.0.push(c);
                entry.1.push(a);
            }
        }
        for (dataset, (confidence, correct)) in by_dataset {
            let id = format!("{}_{}_{}", predictions.run, predictions.stage, dataset);
            let title = format!("{} on {dataset} ({})", predictions.stage, predictions.run);
            written.extend(plot_reliability_diagram(&confidence, &correct, spec.reliability_bins, &format!("reliability: {title}"), &out_dir.join(format!("reliability_{id}")))?);
            written.extend(plot_risk_coverage(&confidence, &correct, &format!("risk-coverage: {title}"), &out_dir.join(format!("risk_coverage_{id}")))?);
        }
    }
    debug!(plots = written.len(), out = %out_dir.display(), "wrote plots");
    Ok(written)
}
