//! Building tables from tidy results: filter, place each result in a cell, aggregate the
//! runs of each cell, bold the best values and add reference columns.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use tracing::warn;

use crate::error::{ReportError, Result};
use crate::results::WHOLE_DATASET;
use crate::results_index::{Record, ResultsIndex};
use crate::runs::Runs;
use crate::spec::{validate_tables, Aggregate, Axis, BoldBest, Dimension, Direction, ReferenceBlock, ReferenceColumns, TableSpec};
use crate::stats;
use crate::table::{Cell, CellKind, Estimate, Spread, Table, TableRow};

/// Builds every declared table, in order.
///
/// # Errors
/// Fails on an invalid or duplicate table spec, a results frame without the tidy columns,
/// or a cell that contains two values for one run.
pub fn build_tables(tables: &[TableSpec], reference: &ReferenceBlock, runs: &Runs) -> Result<Vec<Table>> {
    validate_tables(tables).map_err(ReportError::Invalid)?;
    let index = ResultsIndex::new(&runs.results)?;
    tables.iter().map(|table| build_indexed(table, reference, runs, &index)).collect()
}

/// The keys along one axis, in display order.
struct AxisKeys {
    keys: Vec<String>,
    index: HashMap<String, usize>,
    // A fixed list of values rejects keys outside it instead of appending them.
    fixed: bool,
}

impl AxisKeys {
    fn new(axis: &Axis, spec: &TableSpec) -> Self {
        let preset: Vec<String> = if !axis.values.is_empty() {
            axis.values.clone()
        } else if axis.by == Dimension::Metric {
            spec.metrics.iter().map(|m| m.name.clone()).collect()
        } else {
            Vec::new()
        };
        let index = preset.iter().enumerate().map(|(i, k)| (k.clone(), i)).collect();
        Self { fixed: !preset.is_empty(), keys: preset, index }
    }

    fn position(&mut self, key: &str) -> Option<usize> {
        if let Some(&i) = self.index.get(key) {
            return Some(i);
        }
        if self.fixed {
            return None;
        }
        self.keys.push(key.to_owned());
        self.index.insert(key.to_owned(), self.keys.len() - 1);
        Some(self.keys.len() - 1)
    }
}

/// Builds one table from the runs' results and the `reference:` block.
///
/// # Errors
/// Fails on an invalid spec, a results frame without the tidy columns, or a cell that
/// contains two values for one run (add a `filter` or an axis to split them).
pub fn build_table(spec: &TableSpec, reference: &ReferenceBlock, runs: &Runs) -> Result<Table> {
    spec.validate().map_err(ReportError::Invalid)?;
    build_indexed(spec, reference, runs, &ResultsIndex::new(&runs.results)?)
}

/// Lists the metric names and axis values of `spec` that no result of `runs` carries:
/// most often a typo, which would otherwise only show as a column or row of dashes.
///
/// # Errors
/// The results frame lacks the tidy columns.
pub fn unknown_names(spec: &TableSpec, runs: &Runs) -> Result<Vec<String>> {
    Ok(unknown_in_index(spec, &ResultsIndex::new(&runs.results)?))
}

fn unknown_in_index(spec: &TableSpec, index: &ResultsIndex) -> Vec<String> {
    let mut problems = Vec::new();
    let known = |dimension: Dimension| -> HashSet<&str> { index.names(dimension).iter().copied().collect() };
    let metrics = known(Dimension::Metric);
    for metric in &spec.metrics {
        if !metrics.contains(metric.name.as_str()) {
            let mut names: Vec<&str> = metrics.iter().copied().collect();
            names.sort_unstable();
            problems.push(format!("metric `{}` is in no results; the results have {names:?}", metric.name));
        }
    }
    for axis in [&spec.rows, &spec.columns] {
        let values = known(axis.by);
        for value in axis.values.iter().filter(|value| !values.contains(value.as_str())) {
            let dimension = format!("{:?}", axis.by).to_lowercase();
            problems.push(format!("{dimension} `{value}` is in no results"));
        }
    }
    problems
}

fn build_indexed(spec: &TableSpec, reference: &ReferenceBlock, runs: &Runs, index: &ResultsIndex) -> Result<Table> {
    for problem in unknown_in_index(spec, index) {
        warn!(table = %spec.name, "{problem}: check the spelling in the table spec");
    }

    // Decide per distinct name, not per row, which results enter the table.
    let metric_index: HashMap<&str, usize> = spec.metrics.iter().enumerate().map(|(i, m)| (m.name.as_str(), i)).collect();
    let metric_of_code: Vec<Option<usize>> = index.names(Dimension::Metric).iter().map(|name| metric_index.get(name).copied()).collect();
    let subset_on_axis = spec.rows.by == Dimension::Subset || spec.columns.by == Dimension::Subset;
    let subset_filter = match (spec.filter.subset.is_empty(), subset_on_axis) {
        (false, _) => spec.filter.subset.clone(),
        (true, true) => Vec::new(),
        (true, false) => vec![WHOLE_DATASET.to_owned()],
    };
    let filters = [
        (Dimension::Stage, &spec.filter.stage),
        (Dimension::Dataset, &spec.filter.dataset),
        (Dimension::Subset, &subset_filter),
        (Dimension::Run, &spec.filter.run),
    ];
    let filter_masks: Vec<(Dimension, Vec<bool>)> = filters
        .iter()
        .filter(|(_, list)| !list.is_empty())
        .map(|(dimension, list)| {
            let allowed: HashSet<&str> = list.iter().map(String::as_str).collect();
            (*dimension, index.names(*dimension).iter().map(|name| allowed.contains(name)).collect())
        })
        .collect();

    // Place every kept result in its cell; a cell stores the indices of its results.
    // Axis positions are cached per code and assigned on first use, so keys keep the
    // order in which they first appear.
    let mut row_keys = AxisKeys::new(&spec.rows, spec);
    let mut column_keys = AxisKeys::new(&spec.columns, spec);
    let mut row_of_code: Vec<Option<Option<usize>>> = vec![None; index.names(spec.rows.by).len()];
    let mut column_of_code: Vec<Option<Option<usize>>> = vec![None; index.names(spec.columns.by).len()];
    let mut cells: HashMap<(usize, usize), Vec<usize>> = HashMap::new();
    let mut records: Vec<(Record, Option<f64>)> = Vec::new();
    for i in 0..index.len() {
        if metric_of_code[index.code(Dimension::Metric, i)].is_none() || !filter_masks.iter().all(|(dimension, mask)| mask[index.code(*dimension, i)]) {
            continue;
        }
        let row_code = index.code(spec.rows.by, i);
        let row = *row_of_code[row_code].get_or_insert_with(|| row_keys.position(index.names(spec.rows.by)[row_code]));
        let column_code = index.code(spec.columns.by, i);
        let column =
            *column_of_code[column_code].get_or_insert_with(|| column_keys.position(index.names(spec.columns.by)[column_code]));
        let (Some(row), Some(column)) = (row, column) else { continue };
        cells.entry((row, column)).or_default().push(records.len());
        records.push((index.record(i), index.value(i)));
    }

    // Aggregate each cell over its runs.
    let metric_of = |row: usize, column: usize| -> usize {
        let key = match (spec.rows.by, spec.columns.by) {
            (Dimension::Metric, _) => &row_keys.keys[row],
            (_, Dimension::Metric) => &column_keys.keys[column],
            _ => return 0,
        };
        metric_index.get(key.as_str()).copied().unwrap_or(0)
    };
    let mut grid: Vec<Vec<Cell>> = Vec::with_capacity(row_keys.keys.len());
    let mut metrics_by_cell: Vec<Vec<usize>> = Vec::with_capacity(row_keys.keys.len());
    for row in 0..row_keys.keys.len() {
        let mut cells_of_row = Vec::with_capacity(column_keys.keys.len());
        let mut metrics_of_row = Vec::with_capacity(column_keys.keys.len());
        for column in 0..column_keys.keys.len() {
            let metric = &spec.metrics[metric_of(row, column)];
            let members: Vec<&(Record, Option<f64>)> =
                cells.get(&(row, column)).map(|ids| ids.iter().map(|&i| &records[i]).collect()).unwrap_or_default();
            let located = || format!("table `{}`, row `{}`, column `{}`", spec.name, row_keys.keys[row], column_keys.keys[column]);
            let estimate = aggregate_cell(spec, metric.sample_column(), &members, runs, &located)?;
            let scale = metric.format.scale();
            cells_of_row.push(Cell {
                kind: CellKind::Measured,
                estimate: estimate.map(|e| scale_estimate(e, scale)),
                decimals: metric.format.digits(),
                bold: false,
            });
            metrics_of_row.push(metric_of(row, column));
        }
        grid.push(cells_of_row);
        metrics_by_cell.push(metrics_of_row);
    }

    // Bold the best value of each column (or row) among cells of the same metric.
    let (lines, line_length) = match spec.bold_best {
        BoldBest::Column => (column_keys.keys.len(), row_keys.keys.len()),
        BoldBest::Row => (row_keys.keys.len(), column_keys.keys.len()),
        BoldBest::None => (0, 0),
    };
    for line in 0..lines {
        let at = |position: usize| if spec.bold_best == BoldBest::Row { (line, position) } else { (position, line) };
        let mut groups: BTreeMap<usize, Vec<(usize, usize)>> = BTreeMap::new();
        for position in 0..line_length {
            let (row, column) = at(position);
            groups.entry(metrics_by_cell[row][column]).or_default().push((row, column));
        }
        for (metric, members) in groups {
            mark_best(&mut grid, &members, spec.metrics[metric].direction);
        }
    }

    // Label rows and columns.
    let label = |axis: &Axis, key: &str| -> String {
        if let Some(label) = axis.labels.get(key) {
            return label.clone();
        }
        if axis.by == Dimension::Metric {
            if let Some(&i) = metric_index.get(key) {
                return spec.metrics[i].display_label();
            }
        }
        key.to_owned()
    };
    let row_labels: Vec<String> = row_keys.keys.iter().map(|k| label(&spec.rows, k)).collect();
    let column_labels: Vec<String> = column_keys.keys.iter().map(|k| label(&spec.columns, k)).collect();

    // Add the published value and the difference after each measured column.
    let published = reference.get(&spec.name).filter(|_| spec.reference != ReferenceColumns::None);
    let mut headers = Vec::new();
    let mut rows: Vec<TableRow> = row_labels.iter().map(|l| TableRow { label: l.clone(), cells: Vec::new() }).collect();
    for (column, column_label) in column_labels.iter().enumerate() {
        headers.push(column_label.clone());
        for (row, table_row) in rows.iter_mut().enumerate() {
            table_row.cells.push(grid[row][column].clone());
        }
        let Some(published) = published else { continue };
        headers.push(format!("{column_label} (paper)"));
        if spec.reference == ReferenceColumns::Difference {
            headers.push(format!("Δ {column_label}"));
        }
        for (row, table_row) in rows.iter_mut().enumerate() {
            let measured = &grid[row][column];
            let value = published
                .get(&row_keys.keys[row])
                .or_else(|| published.get(&row_labels[row]))
                .and_then(|r| r.get(&column_keys.keys[column]).or_else(|| r.get(column_label)))
                .copied();
            let plain = |value: Option<f64>, kind| Cell {
                kind,
                estimate: value.map(|value| Estimate { value, spread: Spread::None }),
                decimals: measured.decimals,
                bold: false,
            };
            table_row.cells.push(plain(value, CellKind::Published));
            if spec.reference == ReferenceColumns::Difference {
                let difference = value.zip(measured.estimate).map(|(paper, ours)| ours.value - paper);
                table_row.cells.push(plain(difference, CellKind::Difference));
            }
        }
    }

    Ok(Table {
        name: spec.name.clone(),
        title: spec.title.clone().unwrap_or_else(|| spec.name.clone()),
        corner: spec.rows.title.clone().unwrap_or_else(|| capitalize(spec.rows.by.column())),
        columns: headers,
        rows,
        tolerance: spec.tolerance,
    })
}

/// Marks the best of `members` (row, column) bold; ties on the printed value are all bold
/// and fewer than two values mark nothing.
fn mark_best(grid: &mut [Vec<Cell>], members: &[(usize, usize)], direction: Direction) {
    // Compare printed values so that two cells that print the same are both bold.
    let printed: Vec<((usize, usize), f64)> = members
        .iter()
        .filter_map(|&(row, column)| {
            let cell = &grid[row][column];
            let text = crate::table::format_number(cell.estimate?.value, cell.decimals);
            Some(((row, column), text.parse::<f64>().ok()?))
        })
        .collect();
    if printed.len() < 2 {
        return;
    }
    let values = printed.iter().map(|&(_, v)| v);
    let best = match direction {
        Direction::Higher => values.fold(f64::NEG_INFINITY, f64::max),
        Direction::Lower => values.fold(f64::INFINITY, f64::min),
    };
    for ((row, column), value) in printed {
        grid[row][column].bold = value == best;
    }
}

fn aggregate_cell(
    spec: &TableSpec,
    sample_column: &str,
    members: &[&(Record, Option<f64>)],
    runs: &Runs,
    located: &dyn Fn() -> String,
) -> Result<Option<Estimate>> {
    // One run is one seed, so each run may contribute one result to a cell.
    let mut by_run: BTreeMap<&str, Vec<&Record>> = BTreeMap::new();
    for (record, _) in members {
        by_run.entry(record.run).or_default().push(record);
    }
    if let Some((run, records)) = by_run.iter().find(|(_, records)| records.len() > 1) {
        let sources: BTreeSet<String> =
            records.iter().map(|r| format!("{}/{}/{}", r.stage, r.dataset, r.subset)).collect();
        return Err(ReportError::Invalid(format!(
            "{}: run `{run}` has {} values (stage/dataset/subset {}): add a `filter` or put the dimension that differs on an axis",
            located(),
            records.len(),
            sources.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }

    match spec.aggregate {
        Aggregate::Mean | Aggregate::MeanStd => {
            let values: Vec<f64> = members.iter().filter_map(|(_, v)| *v).collect();
            if values.len() < members.len() && !values.is_empty() {
                warn!(cell = %located(), undefined = members.len() - values.len(), "metric undefined in some runs; averaging the others");
            }
            let Some(mean) = stats::mean(&values) else { return Ok(None) };
            let spread = match (spec.aggregate, stats::sample_std(&values)) {
                (Aggregate::MeanStd, Some(std)) => Spread::Std(std),
                _ => Spread::None,
            };
            Ok(Some(Estimate { value: mean, spread }))
        }
        Aggregate::Bootstrap { resamples, confidence, seed } => {
            let samples = per_sample_values(members, sample_column, runs)?;
            if samples.is_empty() && !members.is_empty() {
                warn!(cell = %located(), column = sample_column, "no per-sample predictions for a bootstrap cell; printing a dash");
            }
            Ok(stats::bootstrap_mean(&samples, resamples, confidence, seed).map(|interval| Estimate {
                value: interval.estimate,
                spread: Spread::Interval { low: interval.low, high: interval.high },
            }))
        }
    }
}

/// Pools the per-sample values of `column` over the (run, stage, dataset, subset) of a
/// cell's results, in run order.
fn per_sample_values(members: &[&(Record, Option<f64>)], column: &str, runs: &Runs) -> Result<Vec<f64>> {
    let mut pooled = Vec::new();
    for (record, _) in members {
        for predictions in runs.predictions.iter().filter(|p| p.run == record.run && p.stage == record.stage) {
            let frame = &predictions.frame;
            let Ok(values) = frame.column(column).and_then(|c| c.f64()) else { continue };
            let datasets = frame.column("dataset").and_then(|c| c.str()).map_err(|e| ReportError::polars("predictions", e))?;
            // Subsets are matched only when the predictions carry a `subset` column.
            let subsets = frame.column("subset").and_then(|c| c.str()).ok();
            for (i, (dataset, value)) in datasets.iter().zip(values.iter()).enumerate() {
                let subset_matches = match subsets {
                    _ if record.subset == WHOLE_DATASET => true,
                    Some(subsets) => subsets.get(i) == Some(record.subset),
                    None => false,
                };
                if dataset == Some(record.dataset) && subset_matches {
                    pooled.extend(value);
                }
            }
        }
    }
    Ok(pooled)
}

fn scale_estimate(estimate: Estimate, scale: f64) -> Estimate {
    let spread = match estimate.spread {
        Spread::None => Spread::None,
        Spread::Std(std) => Spread::Std(std * scale),
        Spread::Interval { low, high } => Spread::Interval { low: low * scale, high: high * scale },
    };
    Estimate { value: estimate.value * scale, spread }
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}
