//! The plan as data: what `tagrec plan` prints in every format and what `--out` saves. The JSON
//! shape is the contract of `product.md`; a saved plan is read back into these same types.

use serde::{Deserialize, Serialize};

use crate::api::{CreateProject, LiveProject, ModifyProject, ProjectStatus, Tags};
use crate::manifest::TagSource;
use crate::policy::Violation;

/// The saved-plan format; `apply` refuses a plan file with a newer one.
pub const FORMAT_VERSION: &str = "1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Archive,
    Create,
    Update,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Archive => "archive",
            Action::Create => "create",
            Action::Update => "update",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TagOp {
    Add,
    Change,
    Rename,
    Remove,
    RenameProject,
}

/// One line of a change: a tag added, changed, renamed (key case) or removed, or the project's
/// name changed. Fields absent from an op are left out of the JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagChange {
    pub op: TagOp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<TagSource>,
}

/// The live state a change was computed from; `apply PLANFILE` compares it with the live state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    pub name: String,
    pub status: ProjectStatus,
    pub tags: Tags,
}

impl From<&LiveProject> for Observed {
    fn from(p: &LiveProject) -> Self {
        Observed {
            name: p.name.clone(),
            status: p.status,
            tags: p.tags.clone(),
        }
    }
}

/// The API request a change will send: a create body or a modify body (none for an archive).
/// Written as the body itself; read back by the change's `action` (a modify that only renames,
/// `{"name": …}`, has the shape of a create too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Request {
    Create(CreateProject),
    Modify(ModifyProject),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SavedChange")]
pub struct Change {
    pub action: Action,
    pub name: String,
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Request>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tag_changes: Vec<TagChange>,
    pub observed: Option<Observed>,
}

/// A change as a plan file holds it, before its request is read by its action.
#[derive(Deserialize)]
struct SavedChange {
    action: Action,
    name: String,
    id: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    request: Option<serde_json::Value>,
    #[serde(default)]
    tag_changes: Vec<TagChange>,
    observed: Option<Observed>,
}

impl TryFrom<SavedChange> for Change {
    type Error = String;

    fn try_from(saved: SavedChange) -> Result<Change, String> {
        let request = match (saved.action, saved.request) {
            (_, None) => None,
            (Action::Create, Some(body)) => Some(Request::Create(
                serde_json::from_value(body)
                    .map_err(|e| format!("the create of \"{}\": {e}", saved.name))?,
            )),
            (Action::Update, Some(body)) => Some(Request::Modify(
                serde_json::from_value(body)
                    .map_err(|e| format!("the update of \"{}\": {e}", saved.name))?,
            )),
            (Action::Archive, Some(_)) => {
                return Err(format!(
                    "the archive of \"{}\" carries a request",
                    saved.name
                ));
            }
        };
        Ok(Change {
            action: saved.action,
            name: saved.name,
            id: saved.id,
            reason: saved.reason,
            request,
            tag_changes: saved.tag_changes,
            observed: saved.observed,
        })
    }
}

impl Change {
    pub fn create_request(&self) -> Option<&CreateProject> {
        match &self.request {
            Some(Request::Create(c)) => Some(c),
            _ => None,
        }
    }

    pub fn modify_request(&self) -> Option<&ModifyProject> {
        match &self.request {
            Some(Request::Modify(m)) => Some(m),
            _ => None,
        }
    }
}

/// A live active project that the manifest does not declare: one it owns (its `ManagedBy` is the
/// manifest's `owner`, kept because it is protected or `prune` is off), or one it never managed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmanaged {
    pub name: String,
    pub id: String,
    pub protected: bool,
    /// Carries this manifest's `ManagedBy`: tagrec made it or adopted it. Plans saved before the
    /// field existed read as not owned.
    #[serde(default)]
    pub owned: bool,
    pub tags: Tags,
    pub violations: Vec<Violation>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub archive: usize,
    pub unchanged: usize,
    pub unmanaged: usize,
    pub protected: usize,
}

/// Where a plan was computed against; recorded in plan files so that apply can refuse another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanTarget {
    /// The base URL, or `sandbox:<state file>` for the embedded emulator.
    pub endpoint: String,
    /// `null` when none was needed (an explicit endpoint with a bearer key).
    pub region: Option<String>,
}

/// The whole plan, exactly the JSON object of `plan --format json` and `--out`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: String,
    pub tagrec_version: String,
    pub manifest: String,
    pub target: PlanTarget,
    pub summary: Summary,
    pub changes: Vec<Change>,
    pub unmanaged: Vec<Unmanaged>,
    pub warnings: Vec<String>,
    /// Keys the plan neither compared nor touched (`ignore_tags`); the stale check of a saved plan
    /// leaves them out too, since the manifest may have changed since.
    #[serde(default)]
    pub ignore_tags: Vec<String>,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// Reads a saved plan (the JSON of `plan --out`). The version is checked before the shape,
    /// so that a newer plan says so rather than failing on a field this tagrec does not know.
    pub fn from_json(text: &str) -> Result<Plan, PlanFileError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|_| PlanFileError::NotJson)?;
        match value.get("format_version").and_then(|v| v.as_str()) {
            Some(FORMAT_VERSION) => {}
            Some(other) => return Err(PlanFileError::Newer(other.to_string())),
            None => return Err(PlanFileError::NoVersion),
        }
        serde_json::from_value(value).map_err(|_| PlanFileError::Damaged)
    }
}

/// Why a saved plan cannot be read; the caller adds the file's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanFileError {
    #[error("is not a tagrec plan (damaged JSON); make a new one with `tagrec plan --out`")]
    NotJson,
    #[error(
        "has plan format {0}, but this tagrec ({version}) reads format {FORMAT_VERSION}: apply it with the tagrec that made it, or make a new plan",
        version = env!("CARGO_PKG_VERSION")
    )]
    Newer(String),
    #[error("is not a tagrec plan (no format_version); make one with `tagrec plan --out`")]
    NoVersion,
    #[error(
        "is damaged (its fields are not a tagrec plan); make a new one with `tagrec plan --out`"
    )]
    Damaged,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_update_that_only_renames_reads_back_as_a_modify() {
        let change = Change {
            action: Action::Update,
            name: "New".into(),
            id: Some("proj_a".into()),
            reason: None,
            request: Some(Request::Modify(ModifyProject {
                name: Some("New".into()),
                ..ModifyProject::default()
            })),
            tag_changes: Vec::new(),
            observed: None,
        };
        let text = serde_json::to_string(&change).unwrap();
        assert!(text.contains(r#""request":{"name":"New"}"#), "{text}");
        let back: Change = serde_json::from_str(&text).unwrap();
        assert_eq!(back, change);
        assert!(back.modify_request().is_some());
        let create: Change = serde_json::from_str(
            r#"{"action":"create","name":"N","id":null,"request":{"name":"N","tags":{"A":"1"}},"observed":null}"#,
        )
        .unwrap();
        assert_eq!(create.create_request().map(|c| c.tags.len()), Some(1));
    }
}
