//! Tests of `client`, filled in by its issue.
