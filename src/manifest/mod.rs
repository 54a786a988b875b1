//! The desired state: `projects.yaml` loaded with a source place for every node, defaults merged,
//! and each effective tag knowing where it came from.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::diagnostics::Place;
use crate::rules::is_aws_key;

#[derive(Debug, Clone)]
pub struct Manifest {
    /// The manifest as named on the command line.
    pub file: PathBuf,
    pub version: u32,
    pub target: Target,
    /// Resolved against the manifest's folder.
    pub policy: Option<PathBuf>,
    pub owner: Option<String>,
    pub prune: bool,
    pub ignore_tags: TagPatterns,
    pub billing: Billing,
    pub defaults: BTreeMap<String, String>,
    pub projects: Vec<DesiredProject>,
}

/// `billing:`: the payer (management) account's credentials for Cost Explorer, never the
/// target's own (a member account cannot see cost allocation tags).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Billing {
    pub profile: Option<String>,
    pub role_arn: Option<String>,
}

impl Manifest {
    /// A manifest that declares nothing, for commands that only need a target (a first
    /// `import`, before any manifest exists).
    pub fn empty(file: PathBuf, target: Target) -> Self {
        Manifest {
            file,
            version: 1,
            target,
            policy: None,
            owner: None,
            prune: false,
            ignore_tags: TagPatterns::default(),
            billing: Billing::default(),
            defaults: BTreeMap::new(),
            projects: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Target {
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub sandbox: Option<SandboxTarget>,
    /// The AWS profile whose credentials sign requests (SigV4).
    pub profile: Option<String>,
    /// A role assumed with the credentials found, and the external id its trust policy asks for.
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
}

/// `target.sandbox`: the emulator in-process; paths resolved against the manifest's folder.
#[derive(Debug, Clone, Default)]
pub struct SandboxTarget {
    pub state: PathBuf,
    pub seed: Option<PathBuf>,
    /// Spend rows for its Cost Explorer (`billing`, `costs`).
    pub costs: Option<PathBuf>,
    /// Cost allocation tag keys active from the start.
    pub active_cost_tags: Vec<String>,
    /// Its Cost Explorer answers as a member account's does: access denied.
    pub linked_account: bool,
}

#[derive(Debug, Clone)]
pub struct DesiredProject {
    pub name: String,
    pub id: Option<String>,
    /// `protect:` as written: `Some(true)` sets `tagrec:protect: "true"`, `Some(false)` removes
    /// the live tag, `None` leaves the live tag (whatever its value) as it is, since protection
    /// lives on the project and must not be lost with a line of the manifest.
    pub protect: Option<bool>,
    /// Effective tags: defaults, overridden by the project's own, plus tagrec's own tags.
    pub tags: BTreeMap<String, DesiredTag>,
    /// The project's `name:` value, for messages about the project as a whole.
    pub place: Option<Place>,
}

impl DesiredProject {
    pub fn tag_values(&self) -> BTreeMap<String, String> {
        self.tags
            .iter()
            .map(|(k, t)| (k.clone(), t.value.clone()))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredTag {
    pub value: String,
    pub source: TagSource,
}

/// Where an effective tag came from; shown in plans (`(from defaults)`) and in JSON (`source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TagSource {
    Project,
    Defaults,
    Owner,
    Protect,
}

/// `ignore_tags`: exact keys, or prefixes written with a trailing `*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagPatterns(pub Vec<String>);

impl TagPatterns {
    pub fn matches(&self, key: &str) -> bool {
        self.0.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => key.starts_with(prefix),
            None => key == p,
        })
    }
}

/// Whether tagrec compares and writes a key at all: never `aws:` keys, never ignored ones.
pub fn is_managed_key(key: &str, ignore: &TagPatterns) -> bool {
    !is_aws_key(key) && !ignore.matches(key)
}
pub mod load;
pub mod schema;
