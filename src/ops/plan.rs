//! Planning against a live account: connect to the manifest's target, list every project, and
//! run the planner with the policy applied to the projects the manifest does not declare.

use std::collections::HashSet;
use std::path::Path;

use anyhow::Context as _;

use crate::api::LiveProject;
use crate::files::write_atomically;
use crate::plan::{FORMAT_VERSION, Plan, PlanError, PlanOptions, plan};
use crate::policy::Violation;
use crate::render;

use super::connect::{ConnectOptions, Connection, connect};
use super::validate::Loaded;

/// Everything `plan` and `apply` compute before they print or write.
pub struct Prepared {
    pub connection: Connection,
    pub live: Vec<LiveProject>,
    pub plan: Plan,
    pub errors: Vec<PlanError>,
}

impl Prepared {
    /// Ids that exist in the account now: a project found by name after a lost create answer
    /// is adopted only if it is new.
    pub fn known_ids(&self) -> HashSet<String> {
        self.live.iter().map(|p| p.id.clone()).collect()
    }
}

/// Connects, lists and plans the changes that bring the account to the manifest, limited to
/// `targets` when some are given.
pub async fn prepare(
    loaded: &Loaded,
    options: &ConnectOptions,
    targets: &[String],
) -> anyhow::Result<Prepared> {
    let manifest = &loaded.manifest;
    let connection = connect(options, manifest).await?;
    let live = list_live(&connection).await?;
    tracing::debug!(
        "{} projects in the account (archived and default included)",
        live.len()
    );
    let owner = manifest.owner.as_deref();
    let violations = |p: &LiveProject| -> Vec<Violation> {
        match &loaded.policy {
            Some(policy) => policy.check_project(&p.name, &p.tags, owner),
            None => Vec::new(),
        }
    };
    let planned = plan(
        &manifest.projects,
        &live,
        &PlanOptions {
            owner,
            prune: manifest.prune,
            ignore: &manifest.ignore_tags,
            targets,
            violations: &violations,
        },
    );
    let plan = Plan {
        format_version: FORMAT_VERSION.to_string(),
        tagrec_version: env!("CARGO_PKG_VERSION").to_string(),
        manifest: manifest.file.display().to_string(),
        target: connection.target.clone(),
        summary: planned.summary,
        changes: planned.changes,
        unmanaged: planned.unmanaged,
        warnings: planned.warnings,
        ignore_tags: manifest.ignore_tags.0.clone(),
    };
    Ok(Prepared {
        connection,
        live,
        plan,
        errors: planned.errors,
    })
}

/// Every project of the account (all pages, archived and `default` included).
pub async fn list_live(connection: &Connection) -> anyhow::Result<Vec<LiveProject>> {
    tracing::debug!("listing projects at {}", connection.target.endpoint);
    connection.api.list().await.with_context(|| {
        format!(
            "could not list the projects at {}",
            connection.target.endpoint
        )
    })
}

/// Saves a plan for `tagrec apply FILE`: the JSON form, written atomically.
pub fn save(plan: &Plan, path: &Path) -> anyhow::Result<()> {
    write_atomically(path, render::plan::json(plan).as_bytes())
        .with_context(|| format!("could not write the plan to {}", path.display()))
}
