//! Integration tests of assay-report, compiled into one test binary.

mod aggregation;
mod check_compare;
mod fixture;
mod plots;
mod tables;
