//! Printers of diagnostics: text (rustc-style snippets), json, github, sarif. Filled in by the
//! foundation issue.
