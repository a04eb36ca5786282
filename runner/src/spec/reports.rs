//! Report tables and published reference numbers.
//!
//! The table types live in `assay-report`, which builds and renders them; the spec
//! reuses them so that `reports:` in YAML and the renderer can never disagree.

pub use assay_report::spec::{ReferenceBlock as Reference, TableSpec as ReportTable};
