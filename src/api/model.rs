//! The Projects API's objects as they travel on the wire. One type serves the client (decoding
//! both the AWS and the OpenAI shapes) and the sandbox (which produces the AWS shape).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::rules::{DEFAULT_PROJECT_ID, Tags};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProjectStatus {
    Active,
    Archived,
}

impl ProjectStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectStatus::Active => "active",
            ProjectStatus::Archived => "archived",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataRetention {
    pub mode: String,
}

/// A project as the API returns it. Unknown fields are ignored; `tags` is absent in the OpenAI
/// shape and `archived_at` is `null` there, absent in AWS's for active projects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveProject {
    pub id: String,
    #[serde(default = "project_object")]
    pub object: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(default)]
    pub created_at: i64,
    pub status: ProjectStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_at: Option<i64>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub tags: Tags,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_retention: Option<DataRetention>,
}

impl LiveProject {
    pub fn is_active(&self) -> bool {
        self.status == ProjectStatus::Active
    }

    pub fn is_default(&self) -> bool {
        self.id == DEFAULT_PROJECT_ID
    }
}

fn project_object() -> String {
    "organization.project".to_string()
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Tags, D::Error> {
    Ok(Option::<Tags>::deserialize(d)?.unwrap_or_default())
}

/// One page of `GET /organization/projects`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProjectList {
    #[serde(default = "list_object")]
    pub object: String,
    pub data: Vec<LiveProject>,
    #[serde(default)]
    pub first_id: Option<String>,
    #[serde(default)]
    pub last_id: Option<String>,
    #[serde(default)]
    pub has_more: bool,
}

fn list_object() -> String {
    "list".to_string()
}

/// Body of `POST /organization/projects`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateProject {
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: Tags,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_retention: Option<DataRetention>,
}

/// Body of `POST /organization/projects/{id}`. The API applies `add_tags`, then `remove_tag_keys`;
/// tagrec never puts one key in both, so the order does not matter to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModifyProject {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub add_tags: Tags,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_tag_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_retention: Option<DataRetention>,
}

impl ModifyProject {
    /// The tags after this request, as the API applies it: `add_tags`, then `remove_tag_keys`.
    pub fn apply_to(&self, tags: &Tags) -> Tags {
        let mut out = tags.clone();
        for (key, value) in &self.add_tags {
            out.insert(key.clone(), value.clone());
        }
        for key in &self.remove_tag_keys {
            out.remove(key);
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.add_tags.is_empty()
            && self.remove_tag_keys.is_empty()
            && self.data_retention.is_none()
    }
}

/// The OpenAI-style error body: `{"error": {"message", "type", "param", "code"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub param: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
}
