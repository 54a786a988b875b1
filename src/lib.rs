//! tagrec: a declarative reconciler of Amazon Bedrock projects and their cost-allocation tags.
//! The pipeline is Loader (`manifest`) -> `policy` -> Planner (`plan`) -> Applier (`apply`) ->
//! printers (`render`), with the API (`api`, `sandbox`) at the edge.

pub mod api;
pub mod apply;
pub mod cli;
pub mod commands;
pub mod diagnostics;
pub mod manifest;
pub mod plan;
pub mod policy;
pub mod render;
pub mod sandbox;
pub mod shell;
