//! Tests of `sandbox`, filled in by its issue.
