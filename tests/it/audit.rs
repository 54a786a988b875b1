//! Tests of `audit`, filled in by its issue.
