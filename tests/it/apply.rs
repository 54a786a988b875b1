//! Tests of `apply`, filled in by its issue.
