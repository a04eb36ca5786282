//! Tests of the training core, compiled into one binary.

mod suite;
