//! Tests of `plan`, filled in by its issue.
