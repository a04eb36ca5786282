//! Tests of the spec language as a whole; each module's own tests sit beside it.
