//! The planner: a pure function of (desired, live, options) that says what to create, update and
//! archive. It never touches the network; `model` is the plan as data, `diff` the per-project tag
//! diff, `stale` the check that a saved plan still fits the live state.

pub mod diff;
pub mod matching;
pub mod model;
pub mod planner;
pub mod stale;

pub use model::{
    Action, Change, FORMAT_VERSION, Plan, PlanTarget, Summary, TagChange, TagOp, Unmanaged,
};
pub use planner::{PlanError, PlanOptions, plan};

#[cfg(test)]
mod tests;
