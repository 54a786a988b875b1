//! Printers: each turns one computed value (diagnostics, a plan, an audit) into one format.
//! They compute nothing of their own.

pub mod audit;
pub mod diagnostics;
pub mod manifest;
pub mod plan;
