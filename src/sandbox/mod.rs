//! The emulator of the Bedrock Projects API: one store with every rule of `api.md`, served over
//! HTTP by `tagrec sandbox serve` (with credentials and faults) or run in-process for a manifest's
//! `target.sandbox`, both on the same atomically written state file. Beside the projects it
//! answers the STS calls of the credential chain and the Cost Explorer calls of `billing` and
//! `costs` (cost allocation tags, backfills, spend from a costs file).

pub mod billing;
pub mod cost_explorer;
pub mod costs;
pub mod day;
pub mod embedded;
pub mod embedded_server;
pub mod faults;
pub mod server;
pub mod sigv4;
pub mod state;
pub mod store;
pub mod sts;

pub use embedded::{EmbeddedApi, reset};
pub use embedded_server::{EmbeddedServer, EmbeddedServerOptions};
