//! tagrec: a declarative reconciler of Amazon Bedrock projects and their cost-allocation tags.
//! The pipeline is Loader (`manifest`) -> `policy` -> Planner (`plan`) -> Applier (`apply`) ->
//! printers (`render`); `ops` wires it to the API (`api`, or the `sandbox` emulator) for each use
//! case, and `commands` puts each on the command line. ARCHITECTURE.md has the map and the rules
//! of who may use whom.

pub mod api;
pub mod apply;
pub mod cli;
pub mod commands;
pub mod diagnostics;
pub mod files;
pub mod manifest;
pub mod ops;
pub mod plan;
pub mod policy;
pub mod render;
pub mod rules;
pub mod sandbox;
pub mod shell;
pub mod source;
