//! The JSON Schema tag policy: loaded from YAML or JSON, compiled once, applied to the document
//! `{"name", "tags"}` of a project (tagrec's own tags and `aws:` keys left out).

use serde::{Deserialize, Serialize};

/// One way a project breaks the policy. `instance_path` is the JSON pointer into the document
/// (`/tags/Owner`), which the manifest checker turns into a place in the YAML.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub rule: String,
    pub message: String,
    #[serde(skip)]
    pub instance_path: String,
}
