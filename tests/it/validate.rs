//! Tests of `validate`, filled in by its issue.
