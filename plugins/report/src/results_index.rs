//! Results with their string columns interned once, so that building several tables
//! compares small integer codes instead of hashing strings on every row.

use std::collections::HashMap;

use polars::prelude::*;

use crate::error::{ReportError, Result};
use crate::spec::Dimension;

/// Dimensions in code-table order.
const DIMENSIONS: [Dimension; 5] = [Dimension::Run, Dimension::Stage, Dimension::Dataset, Dimension::Subset, Dimension::Metric];

/// The key columns of one result row, borrowed from the frame.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Record<'a> {
    pub run: &'a str,
    pub stage: &'a str,
    pub dataset: &'a str,
    pub subset: &'a str,
}

/// Interned results: for each dimension, the distinct names in order of first appearance
/// and one code per row. Rows with a null key are left out.
pub(crate) struct ResultsIndex<'a> {
    names: [Vec<&'a str>; 5],
    codes: [Vec<u32>; 5],
    values: Vec<Option<f64>>,
}

impl<'a> ResultsIndex<'a> {
    /// Interns the run, stage, dataset, subset and metric columns of a results frame.
    ///
    /// # Errors
    /// Fails when a tidy column is missing or has the wrong type.
    pub fn new(frame: &'a DataFrame) -> Result<Self> {
        let string_column = |dimension: Dimension| -> Result<&'a StringChunked> {
            let name = dimension.column();
            frame
                .column(name)
                .and_then(|c| c.str())
                .map_err(|_| ReportError::Invalid(format!("results frame has no string column `{name}`: build it with `results_frame`")))
        };
        let columns = DIMENSIONS.map(string_column);
        let value = frame
            .column("value")
            .and_then(|c| c.f64())
            .map_err(|_| ReportError::Invalid("results frame has no float column `value`: build it with `results_frame`".into()))?;

        let mut names: [Vec<&'a str>; 5] = Default::default();
        let mut codes: [Vec<u32>; 5] = Default::default();
        let mut lookups: [HashMap<&'a str, u32>; 5] = Default::default();
        let mut values = Vec::with_capacity(frame.height());
        let mut iterators = Vec::with_capacity(DIMENSIONS.len());
        for column in columns {
            iterators.push(column?.iter());
        }
        let mut row_names: [&'a str; 5] = [""; 5];
        'rows: for value in value.iter() {
            for (slot, iterator) in row_names.iter_mut().zip(iterators.iter_mut()) {
                match iterator.next().flatten() {
                    Some(name) => *slot = name,
                    // A null key cannot be placed in any cell, so the row is skipped.
                    None => continue 'rows,
                }
            }
            for (d, name) in row_names.iter().enumerate() {
                // Results are written stage by stage, so a key usually repeats the previous
                // row's, and comparing with it skips most hash lookups.
                let code = match codes[d].last() {
                    Some(&last) if names[d][last as usize] == *name => last,
                    _ => {
                        let next = names[d].len() as u32;
                        *lookups[d].entry(name).or_insert_with(|| {
                            names[d].push(name);
                            next
                        })
                    }
                };
                codes[d].push(code);
            }
            values.push(value);
        }
        Ok(Self { names, codes, values })
    }

    /// Number of indexed rows.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Distinct names of a dimension, indexed by code.
    pub fn names(&self, dimension: Dimension) -> &[&'a str] {
        &self.names[slot(dimension)]
    }

    /// Code of row `row` in a dimension.
    pub fn code(&self, dimension: Dimension, row: usize) -> usize {
        self.codes[slot(dimension)][row] as usize
    }

    /// Value of row `row`; `None` when undefined.
    pub fn value(&self, row: usize) -> Option<f64> {
        self.values[row]
    }

    /// Key columns of row `row`.
    pub fn record(&self, row: usize) -> Record<'a> {
        let name = |dimension| self.names(dimension)[self.code(dimension, row)];
        Record {
            run: name(Dimension::Run),
            stage: name(Dimension::Stage),
            dataset: name(Dimension::Dataset),
            subset: name(Dimension::Subset),
        }
    }
}

fn slot(dimension: Dimension) -> usize {
    match dimension {
        Dimension::Run => 0,
        Dimension::Stage => 1,
        Dimension::Dataset => 2,
        Dimension::Subset => 3,
        Dimension::Metric => 4,
    }
}
