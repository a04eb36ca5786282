//! Integration tests of `assay-stats`, compiled into one test binary.

mod calibration;
mod cases;
mod conformal;
mod metrics;
mod properties;
mod simulation;
mod table;
