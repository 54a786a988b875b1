//! The use cases, one module each: what a command does, between its flags and its printer. Each
//! wires the layers below (manifest, policy, planner, applier, API) and returns data; none prints
//! or decides how its result looks. Commands call one function here and render what it returns.

pub mod apply;
pub mod audit;
pub mod billing;
pub mod connect;
pub mod costs;
pub mod estate;
pub mod import;
pub mod init;
pub mod plan;
pub mod sandbox;
pub mod validate;
