//! The Bedrock Projects API: the `ProjectsApi` trait that everything above it uses, its wire
//! model, the HTTP client with its credentials and retries. The emulator (the `sandbox` module)
//! implements the same trait in-process. This layer names nothing above it: which target and
//! which credentials a command uses is decided in `ops::connect`.

pub mod auth;
pub mod chain;
pub mod client;
pub mod cost_explorer;
pub mod model;
pub mod retry;
pub mod tls;

use std::time::Duration;

use async_trait::async_trait;

pub use model::{CreateProject, LiveProject, ModifyProject, ProjectStatus, Tags};

/// An error and its causes on one line, by their `Display` only (never `Debug`: the SDK's can hold
/// a raw HTTP answer, and an STS answer holds secrets); a cause that its wrapper already says is
/// not said again. A library's top message alone ("error sending request") does not say what went
/// wrong.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// What a failed call means for the caller, which decides whether a retry is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Certainty {
    /// The server refused or was never reached: nothing was done.
    NotDone,
    /// The request may have been carried out (timeout, reset after sending, 5xx, answer lost).
    Ambiguous,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The server answered with an error status.
    #[error("{status} {kind}: {message}")]
    Api {
        status: u16,
        /// The error body's `type` (`invalid_request_error`, `not_found_error`, ...), or
        /// `http_error` when the body was not the API's JSON.
        kind: String,
        message: String,
        code: Option<String>,
        retry_after: Option<Duration>,
    },
    /// The request never reached the server (connection refused, reset): nothing was done.
    #[error("could not connect to {endpoint}: {message}")]
    Connect { endpoint: String, message: String },
    /// The endpoint's host name does not resolve: nothing was done, and trying again will not
    /// help (a mistyped region or endpoint).
    #[error(
        "the host {host} does not resolve ({message}): check the region (--region, \
         target.region, AWS_REGION) or the endpoint"
    )]
    UnknownHost { host: String, message: String },
    /// The server's certificate is not trusted: nothing was done, and trying again will not help.
    #[error("the certificate of {host} is not trusted ({message}): {help}", help = tls::UNTRUSTED_HELP)]
    Untrusted { host: String, message: String },
    /// The request was sent but its answer was lost (timeout, connection reset).
    #[error("no answer from the server: {0}")]
    NoAnswer(String),
    /// The server answered 2xx with a body that is not what the API returns.
    #[error("unexpected answer from the server: {0}")]
    Decode(String),
    /// The server's pagination is broken (a cursor that does not advance).
    #[error("{0}")]
    Protocol(String),
    /// Anything local (the sandbox state file, its lock).
    #[error("{0}")]
    Local(String),
}

impl ApiError {
    pub fn certainty(&self) -> Certainty {
        match self {
            ApiError::Api { status, .. } if *status >= 500 => Certainty::Ambiguous,
            ApiError::Api { .. }
            | ApiError::Connect { .. }
            | ApiError::UnknownHost { .. }
            | ApiError::Untrusted { .. }
            | ApiError::Local(_) => Certainty::NotDone,
            ApiError::NoAnswer(_) | ApiError::Decode(_) | ApiError::Protocol(_) => {
                Certainty::Ambiguous
            }
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The operations tagrec uses. `list` returns every project in the account, archived ones and
/// `default` included, reading all pages.
#[async_trait]
pub trait ProjectsApi: Send + Sync {
    async fn list(&self) -> Result<Vec<LiveProject>, ApiError>;
    async fn retrieve(&self, id: &str) -> Result<LiveProject, ApiError>;
    /// Never retried by the implementation: a create whose answer is lost may have happened.
    async fn create(&self, request: &CreateProject) -> Result<LiveProject, ApiError>;
    async fn modify(&self, id: &str, request: &ModifyProject) -> Result<LiveProject, ApiError>;
    async fn archive(&self, id: &str) -> Result<LiveProject, ApiError>;
}
