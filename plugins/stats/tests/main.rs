//! Integration tests of `assay-stats`, compiled into one test binary.

mod cases;
mod properties;
mod simulation;
mod table;
