//! `assay calibrate`: calibrate a score file from the command line, with no spec.

use std::collections::BTreeMap;
use std::path::PathBuf;

use assay_stats::calibration::{calibrate as run_calibration, CalibrationReport, ThresholdSummary};
use clap::Args;

use super::{EXIT_FAILED, EXIT_INVALID, EXIT_OK};
use crate::stages::calibrate::{read_score_table, CalibrateParams, CalibrationMethod};

/// Arguments of `assay calibrate`.
#[derive(Args, Debug, Clone)]
pub struct CalibrateArgs {
    /// Score file (`.csv` or `.parquet`) with columns `score`, `harm` (or `label`) and
    /// optional `category`, `trajectory`, `weight`.
    #[arg(long, value_name = "FILE")]
    pub scores: PathBuf,
    /// Target risk in harm units, above 0 and below `--bound`.
    #[arg(long, default_value_t = 0.1)]
    pub alpha: f64,
    /// Upper bound of the harm loss; 1 for binary harm.
    #[arg(long, default_value_t = 1.0)]
    pub bound: f64,
    /// Calibration method.
    #[arg(long, value_enum, default_value_t = MethodArg::Crc)]
    pub method: MethodArg,
    /// Learn-then-Test failure probability, in (0, 1).
    #[arg(long, default_value_t = 0.1)]
    pub delta: f64,
    /// Target frequency of a category for `weighted-crc`, as `CATEGORY=FREQUENCY`
    /// (repeatable), e.g. `--target app=0.7 --target os=0.3`.
    #[arg(long = "target", value_name = "CATEGORY=FREQUENCY")]
    pub targets: Vec<String>,
    /// Random calibration/test splits of the validity check; 0 skips it.
    #[arg(long, default_value_t = 200)]
    pub splits: usize,
    /// Seed of the splits and bootstrap resamples.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write the whole report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// Calibration method on the command line.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodArg {
    /// Conformal risk control.
    Crc,
    /// Conformal risk control weighted for a category shift (needs `--target`).
    WeightedCrc,
    /// Learn-then-Test for the harm rate among executed items.
    LearnThenTest,
    /// Confidence calibration metrics (ECE, Brier, AUROC, accuracy).
    Confidence,
}

impl From<MethodArg> for CalibrationMethod {
    fn from(method: MethodArg) -> Self {
        match method {
            MethodArg::Crc => CalibrationMethod::Crc,
            MethodArg::WeightedCrc => CalibrationMethod::WeightedCrc,
            MethodArg::LearnThenTest => CalibrationMethod::LearnThenTest,
            MethodArg::Confidence => CalibrationMethod::Confidence,
        }
    }
}

/// Parses `CATEGORY=FREQUENCY` pairs.
fn parse_targets(targets: &[String]) -> Result<Option<BTreeMap<String, f64>>, String> {
    if targets.is_empty() {
        return Ok(None);
    }
    let mut frequencies = BTreeMap::new();
    for target in targets {
        let (category, frequency) = target
            .split_once('=')
            .ok_or_else(|| format!("invalid `--target {target}`: expected CATEGORY=FREQUENCY, e.g. app=0.7"))?;
        let frequency: f64 = frequency
            .parse()
            .map_err(|_| format!("invalid frequency `{frequency}` in `--target {target}`: expected a number"))?;
        frequencies.insert(category.to_string(), frequency);
    }
    Ok(Some(frequencies))
}

/// Runs `assay calibrate` and returns the exit code: 0 on success, 2 for invalid
/// input (flags or score file), 1 when calibration or writing the JSON fails.
pub fn calibrate(args: &CalibrateArgs) -> i32 {
    // Check the flags.
    let target_frequencies = match parse_targets(&args.targets) {
        Ok(frequencies) => frequencies,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_INVALID;
        }
    };
    if args.method == MethodArg::WeightedCrc && target_frequencies.is_none() {
        eprintln!("error: `--method weighted-crc` needs target frequencies: pass e.g. `--target app=0.7 --target os=0.3`");
        return EXIT_INVALID;
    }
    if !(args.alpha > 0.0 && args.alpha < args.bound) {
        eprintln!("error: invalid `--alpha {}`: expected a value above 0 and below `--bound` ({})", args.alpha, args.bound);
        return EXIT_INVALID;
    }

    // Read the score file.
    let table = match read_score_table(&args.scores, args.bound) {
        Ok(table) => table,
        Err(error) => {
            eprintln!("error: {error:#}");
            return EXIT_INVALID;
        }
    };

    // Calibrate.
    let params = CalibrateParams {
        method: args.method.into(),
        scores_dataset: None,
        scores_from: None,
        alpha: args.alpha,
        bound: args.bound,
        delta: args.delta,
        candidates: None,
        target_frequencies,
        calibration_fraction: 0.5,
        n_splits: args.splits,
        bootstrap_resamples: 1000,
        bin_count: assay_stats::ece::DEFAULT_BIN_COUNT,
    };
    let report = match run_calibration(&table, &params.settings(args.seed)) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("error: calibration of `{}` failed: {error}", args.scores.display());
            return EXIT_FAILED;
        }
    };
    print!("{}", render_report(&report));

    if let Some(path) = &args.json {
        let written = serde_json::to_string_pretty(&report)
            .map_err(|error| error.to_string())
            .and_then(|json| std::fs::write(path, json).map_err(|error| error.to_string()));
        if let Err(error) = written {
            eprintln!("error: failed to write `{}`: {error}", path.display());
            return EXIT_FAILED;
        }
    }
    EXIT_OK
}

fn describe_threshold(threshold: &ThresholdSummary) -> String {
    match (threshold.decision, threshold.tau, threshold.min_calibration_size) {
        ("threshold", Some(tau), _) => format!("execute iff score <= {tau}"),
        ("execute_all", _, _) => "execute all (tau = +inf)".to_string(),
        (_, _, Some(size)) => format!("abstain on all (tau = -inf); feasible from {size} calibration items"),
        _ => "abstain on all (tau = -inf)".to_string(),
    }
}

fn optional(value: Option<f64>) -> String {
    value.map_or_else(|| "undefined".to_string(), |value| format!("{value:.4}"))
}

/// Formats the report for the terminal.
fn render_report(report: &CalibrationReport) -> String {
    let mut out = format!("items: {}\n", report.item_count);
    if let Some(thresholds) = &report.thresholds {
        out.push_str(&format!("alpha: {}  bound: {}\n", report.alpha, report.bound));
        for (category, threshold) in thresholds {
            out.push_str(&format!("threshold [{category}]: {}\n", describe_threshold(threshold)));
        }
    }
    if let Some(evaluation) = &report.evaluation {
        let metrics = &evaluation.metrics;
        out.push_str(&format!(
            "held-out test split ({} calibration, {} test items):\n",
            evaluation.calibration_size, evaluation.test_size
        ));
        let interval = |interval: Option<assay_stats::conformal::Interval>| {
            interval.map_or_else(String::new, |interval| format!("  [{:.4}, {:.4}]", interval.lower, interval.upper))
        };
        let intervals = evaluation.intervals;
        out.push_str(&format!(
            "  executed harm rate      {:.4}{}\n",
            metrics.executed_harm_rate,
            interval(intervals.and_then(|i| i.executed_harm_rate))
        ));
        out.push_str(&format!(
            "  coverage                {:.4}{}\n",
            metrics.coverage,
            interval(intervals.and_then(|i| i.coverage))
        ));
        out.push_str(&format!(
            "  harm rate among executed {}{}\n",
            optional(metrics.conditional_harm_rate),
            interval(intervals.and_then(|i| i.conditional_harm_rate))
        ));
        out.push_str(&format!(
            "  over-intervention rate  {}{}\n",
            optional(metrics.over_intervention_rate),
            interval(intervals.and_then(|i| i.over_intervention_rate))
        ));
        out.push_str(&format!(
            "  intervention precision  {}  recall {}  F1 {}\n",
            optional(metrics.intervention_precision),
            optional(metrics.intervention_recall),
            optional(metrics.intervention_f1)
        ));
    }
    if let Some(validity) = &report.validity {
        out.push_str(&format!(
            "validity over {} random splits: mean executed harm {:.4} (standard error {:.4}) against alpha {}\n",
            validity.executed_harm_rates.len(),
            validity.mean_executed_harm_rate,
            validity.standard_error,
            validity.alpha
        ));
    }
    if let Some(confidence) = &report.confidence {
        out.push_str(&format!(
            "expected calibration error {:.4} (L2 {:.4}, max {:.4}, equal-mass {:.4})\n",
            confidence.expected_calibration_error,
            confidence.expected_calibration_error_l2,
            confidence.maximum_calibration_error,
            confidence.expected_calibration_error_equal_mass
        ));
        out.push_str(&format!(
            "brier score {:.4}  AUROC {}  accuracy {:.4}\n",
            confidence.brier_score,
            optional(confidence.auroc),
            confidence.accuracy
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_pairs() {
        let parsed = parse_targets(&["app=0.7".to_string(), "os=0.3".to_string()]).unwrap().unwrap();
        assert_eq!(parsed["app"], 0.7);
        assert_eq!(parsed["os"], 0.3);
        assert_eq!(parse_targets(&[]).unwrap(), None);
    }

    #[test]
    fn targets_reject_bad_pairs() {
        assert!(parse_targets(&["app".to_string()]).unwrap_err().contains("CATEGORY=FREQUENCY"));
        assert!(parse_targets(&["app=high".to_string()]).unwrap_err().contains("`high`"));
    }

    #[test]
    fn thresholds_described_for_people() {
        let at = ThresholdSummary { decision: "threshold", tau: Some(0.7), min_calibration_size: None };
        assert_eq!(describe_threshold(&at), "execute iff score <= 0.7");
        let abstain = ThresholdSummary { decision: "abstain_all", tau: None, min_calibration_size: Some(19) };
        assert_eq!(describe_threshold(&abstain), "abstain on all (tau = -inf); feasible from 19 calibration items");
    }
}
