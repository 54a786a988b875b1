//! `tagrec audit`: every live active project (not `default`) against the policy, managed by the
//! manifest or not; needs only list permission.

use std::collections::BTreeSet;

use anyhow::bail;

use crate::api::connect::connect;
use crate::cli::{AuditArgs, AuditFormat, GlobalArgs};
use crate::render;
use crate::render::audit::{Audit, AuditedProject};
use crate::shell::{Exit, Shell};

use super::plan::load_manifest;

pub async fn run(shell: &Shell, global: &GlobalArgs, args: AuditArgs) -> anyhow::Result<Exit> {
    let Some((manifest, policy)) = load_manifest(shell, &global.manifest) else {
        return Ok(Exit::Failure);
    };
    let Some(policy) = policy else {
        bail!(
            "{} has no `policy:`: audit checks the live projects against a tag policy; add `policy: policies/required-tags.yaml` (see the README)",
            manifest.file.display()
        );
    };
    let connection = connect(global, &manifest, shell)?;
    let live = super::plan::list_live(shell, &connection).await?;

    let pinned: BTreeSet<&str> = manifest
        .projects
        .iter()
        .filter_map(|p| p.id.as_deref())
        .collect();
    let names: BTreeSet<&str> = manifest
        .projects
        .iter()
        .filter(|p| p.id.is_none())
        .map(|p| p.name.as_str())
        .collect();
    let mut projects: Vec<AuditedProject> = live
        .iter()
        .filter(|p| p.is_active() && !p.is_default())
        .map(|p| AuditedProject {
            name: p.name.clone(),
            id: p.id.clone(),
            managed: pinned.contains(p.id.as_str()) || names.contains(p.name.as_str()),
            tags: p.tags.clone(),
            violations: policy.check_project(&p.name, &p.tags, manifest.owner.as_deref()),
        })
        .collect();
    projects.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let audit = Audit::new(projects);

    shell.print(&match args.format {
        AuditFormat::Text => render::audit::text(&audit),
        AuditFormat::Json => render::audit::json(&audit),
        AuditFormat::Csv => render::audit::csv(&audit),
        AuditFormat::Markdown => render::audit::markdown(&audit),
    });
    Ok(if audit.compliant == audit.projects.len() {
        Exit::Success
    } else {
        Exit::Changes
    })
}
